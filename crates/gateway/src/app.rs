//! `Application::build`: the one way the service starts, in production and in tests.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use crm_db::{Db, pool::PoolOptions};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::JwtKeys;
use crate::graphql::{self, custom::Schemas};
use crate::openapi;
use crate::problem::{self, ApiError};
use crate::settings::Settings;

/// Shared by every request: built once at start.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: JwtKeys,
    /// The GraphQL schema, rebuilt when custom fields change.
    pub schemas: std::sync::Arc<Schemas>,
    /// The served OpenAPI document and the custom-field generation it was built for.
    pub openapi: std::sync::Arc<std::sync::Mutex<Option<(i64, web::Bytes)>>>,
    /// How webhooks are sent (a ping is sent from a request).
    pub webhook_sender: crate::webhooks::SenderSettings,
    /// The SMTP pool, when the server sends email (`CRM_SMTP_URL`).
    pub mailer: Option<crate::mail::Mailer>,
    pub limits: Limits,
    /// See `Settings::provision_users`.
    pub provision_users: bool,
    /// The rate-limit buckets of this instance.
    pub rate_limits: std::sync::Arc<crate::limits::RateLimits>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: std::sync::Arc<Vec<ipnet::IpNet>>,
    /// When this instance last noted each API key's use.
    pub key_uses: KeyUses,
    /// What `/metrics` reports.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Set when the instance stops.
    pub draining: Draining,
    /// The identity provider whose tokens are accepted, if one is configured.
    pub oidc: Option<std::sync::Arc<crate::oidc::Oidc>>,
}

/// Set once the instance is told to stop: `/readyz` answers `503 DRAINING`, the job runner takes
/// no new job and hands back the one it runs after its current chunk.
#[derive(Clone, Default)]
pub struct Draining(std::sync::Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>);

impl Draining {
    pub fn set(&self) {
        self.0.0.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.1.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.0.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once the instance drains.
    pub async fn wait(&self) {
        let notified = self.0.1.notified();
        if !self.is_set() {
            notified.await;
        }
    }
}

/// When this instance last noted each API key's use, and each kind of its refusal (`used`,
/// `revoked`, …: written at most once a minute each).
pub type KeyUses = std::sync::Arc<
    std::sync::Mutex<std::collections::HashMap<(crm_core::ids::ApiKeyId, &'static str), std::time::Instant>>,
>;

/// Request limits and retention, from settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub idempotency_ttl: chrono::Duration,
    pub event_retention: chrono::Duration,
    pub audit_retention: chrono::Duration,
}

fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(30))
}

/// Clean-up every `every` (hourly by default), first a minute after start: expired
/// idempotency keys, events and audit entries past retention. Safe to run on every instance at once (plain
/// deletes).
fn spawn_maintenance(db: Db, limits: Limits, every: std::time::Duration) {
    if every.is_zero() {
        return;
    }
    actix_web::rt::spawn(async move {
        let first = tokio::time::Instant::now() + std::time::Duration::from_secs(60).min(every);
        let mut tick = tokio::time::interval_at(first, every);
        loop {
            tick.tick().await;
            let (retention, audit_retention) = (limits.event_retention, limits.audit_retention);
            let done = db
                .write(move |c| -> Result<(usize, usize, usize), crm_db::DbError> {
                    let keys = crm_db::idempotency::purge_expired(c)?;
                    let cutoff = crm_db::now() - retention;
                    // Events a webhook has yet to match stay; ended deliveries go with the events.
                    let keep =
                        match (crm_webhooks::dispatch::oldest_needed(c)?, crm_automation::engine::oldest_needed(c)?) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    let events = crm_events::purge_before_keeping(c, cutoff, keep)?;
                    crm_webhooks::dispatch::purge_before(c, cutoff)?;
                    crm_automation::engine::purge_before(c, cutoff)?;
                    // Upload pieces of refused or cut-off imports, and files of ended jobs.
                    crm_records::jobs::files::purge_orphans(
                        c,
                        crm_db::now() - chrono::Duration::hours(1),
                        &[
                            (crm_records::exports::KIND, chrono::Duration::hours(crm_records::exports::KEEP_HOURS)),
                            (
                                crm_privacy::requests::KIND,
                                chrono::Duration::days(crm_privacy::requests::KEEP_BUNDLE_DAYS),
                            ),
                        ],
                    )?;
                    let audit = crm_events::audit::purge(c, audit_retention)?;
                    Ok((keys, events, audit))
                })
                .await;
            match done {
                Ok((keys, events, audit)) if keys + events + audit > 0 => {
                    tracing::info!(keys, events, audit, "purged expired idempotency keys, old events and audit entries")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "maintenance failed"),
            }
        }
    });
}

/// Forgets full rate-limit buckets and old key-use notes once a minute.
fn spawn_rate_limit_shrink(limits: std::sync::Arc<crate::limits::RateLimits>, key_uses: KeyUses) {
    actix_web::rt::spawn(async move {
        let every = std::time::Duration::from_secs(crate::limits::WINDOW_SECS);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            limits.shrink();
            key_uses.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, at| at.elapsed() < every);
        }
    });
}

/// Turns activity reminders that fell due into `activity.reminder_due` events. Every instance
/// may run it: a reminder is taken by one conditional update, so it fires once.
fn spawn_reminders(db: Db, every: std::time::Duration) {
    if every.is_zero() {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match fire_reminders(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminders = n, "activity reminders fired"),
                Err(e) => tracing::warn!(error = %e, "reminder worker failed"),
            }
        }
    });
}

/// Rebuilds the GraphQL schema when custom fields were changed through another instance (one
/// small aggregate every `every`, a second by default), and keeps their indexes: at start, when
/// the definitions change, and every few minutes (another instance's build may have failed).
fn spawn_schema_refresh(db: Db, schemas: std::sync::Arc<Schemas>, every: std::time::Duration) {
    if every.is_zero() {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut indexed, mut since) = (None, std::time::Instant::now());
        loop {
            tick.tick().await;
            schemas.poll(&db).await;
            let generation = schemas.generation();
            if indexed == Some(generation) && since.elapsed() < std::time::Duration::from_secs(300) {
                continue;
            }
            match db.write(crm_records::custom::ensure_indexes).await {
                Ok(changes) => {
                    (indexed, since) = (Some(generation), std::time::Instant::now());
                    if !changes.created.is_empty() || !changes.dropped.is_empty() {
                        tracing::info!(created = ?changes.created, dropped = ?changes.dropped, "custom-field indexes");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not keep the custom-field indexes"),
            }
        }
    });
}

/// One pass of the reminder worker (also what tests call).
pub async fn fire_reminders(db: &Db) -> Result<usize, crm_records::RecordError> {
    let actor = crm_core::Actor::new("reminders", ["admin"], []);
    db.transaction(move |c| crm_sales::activities::fire_due_reminders(c, &actor, 500).map(|v| v.len())).await
}

/// The domains' reactions to each other's writes, and each domain's side of merges, for every
/// database handle of the application.
pub fn domain_hooks() -> crm_records::hooks::Hooks {
    crm_sales::hooks()
        .and(crm_campaigns::hooks())
        .and(crm_contacts::hooks())
        .and(crm_cases::hooks())
        .and(crm_interactions::hooks())
        .and(crm_products::hooks())
        .and(crm_analytics::hooks())
        .and(crm_quality::hooks())
}

/// The one way the application opens its database: a pool whose units of work carry the
/// domain hooks. The server and every CLI command open it through here.
pub fn open_database(url: &str, opts: PoolOptions) -> Result<Db, crm_db::DbError> {
    Ok(Db::connect(url, opts)?
        .with_context(domain_hooks())
        .with_context(crm_webhooks::Catalogs(crate::registry::catalog_of))
        .with_context(crm_automation::Targets(crate::registry::target_of)))
}

/// Applies pending migrations, then gives an empty gazetteer the demo one (so that addresses
/// in major cities are located from the first start); returns the migrations applied.
pub fn migrate(db: &Db) -> Result<usize, String> {
    let n = db.migrate().map_err(|e| e.to_string())?;
    // Not fatal: two instances starting on an empty database race for it, and the one that
    // loses finds it loaded.
    match db.transaction_sync(crm_geo::gazetteer::load_demo_if_empty) {
        Ok(Some(r)) => {
            tracing::info!(places = r.places, "loaded the demo gazetteer (crm geo import loads GeoNames files)")
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "the demo gazetteer was not loaded"),
    }
    Ok(n)
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    pub state: AppState,
    /// A note for the operator from start-up (e.g. a generated development secret).
    pub notes: Vec<String>,
    /// The mail worker, stopped with the server (its SMTP pool must close on a live runtime).
    mail_worker: Option<actix_web::rt::task::JoinHandle<()>>,
    /// The job runner, awaited at shutdown (it hands its job back after the current chunk).
    job_runner: Option<actix_web::rt::task::JoinHandle<()>>,
    /// How long readiness is off before the listener closes on SIGTERM.
    drain_delay: std::time::Duration,
}

impl Application {
    /// Opens the database, migrates (unless disabled), loads keys and binds the listener.
    pub async fn build(mut settings: Settings) -> Result<Application, String> {
        // The one TLS crypto provider of the process (webhook calls over https); installing it
        // again is a no-op.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut notes = Vec::new();
        if let Some(note) = settings.ensure_jwt_keys()? {
            notes.push(note);
        }
        let keys = JwtKeys::from_settings(&settings.jwt)?;
        let (url, pool_size, migrate) = (settings.database_url.clone(), settings.pool_size, settings.migrate);
        let statement_timeout = settings.statement_timeout;
        let db = tokio::task::spawn_blocking(move || -> Result<Db, String> {
            let max_size = pool_size.unwrap_or_else(PoolOptions::default_size);
            let db = open_database(&url, PoolOptions { max_size, statement_timeout, ..Default::default() })
                .map_err(|e| format!("cannot open the database: {e}"))?;
            if migrate {
                let n = self::migrate(&db)?;
                if n > 0 {
                    tracing::info!(migrations = n, "applied migrations");
                }
            }
            Ok(db)
        })
        .await
        .map_err(|e| e.to_string())??;
        // Custom-field writes made through this handle, so GraphQL rebuilds its types at once;
        // the webhook guard, so that saving a URL checks it as sending to it will.
        let changes = crm_records::custom::LocalChanges::default();
        let guard = crm_webhooks::Guard { allow: settings.webhook_allow.clone(), https_only: settings.production };
        let mut db = db.with_context(changes.clone()).with_context(guard.clone());
        // Road distances for route plans, when a provider is configured.
        if let Some((url, profile)) = &settings.routing {
            db = db.with_context(crm_geo::road::RoadRouter::new(url, profile, std::time::Duration::from_secs(10))?);
        }
        // Email campaigns with a template launch only where email can be sent.
        let mailer = match settings.mail.clone() {
            Some(m) => {
                db = db.with_context(crm_campaigns::sending::MailerReady);
                Some(crate::mail::Mailer::new(m)?)
            }
            None => None,
        };
        let webhook_sender = crate::webhooks::SenderSettings {
            guard,
            timeout: settings.webhook_timeout,
            disable_after: settings.webhook_disable_after,
            retry_scale: settings.webhook_retry_scale,
        };
        let schemas = {
            let db = db.clone();
            std::sync::Arc::new(
                tokio::task::spawn_blocking(move || Schemas::load(&db, &changes))
                    .await
                    .map_err(|e| e.to_string())??,
            )
        };
        // The route tables read from the OpenAPI document (query parameters, allowed methods)
        // are built now, not by the first request that needs them.
        tokio::task::spawn_blocking(|| {
            openapi::query_params("GET", "/");
            openapi::allowed_methods("/");
        })
        .await
        .map_err(|e| e.to_string())?;
        let limits = Limits {
            max_body_bytes: settings.max_body_bytes,
            idempotency_ttl: chrono_duration(settings.idempotency_ttl),
            event_retention: chrono_duration(settings.event_retention),
            audit_retention: chrono_duration(settings.audit_retention),
        };
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new(&db));
        let state = AppState {
            db,
            keys,
            schemas,
            openapi: Default::default(),
            webhook_sender,
            mailer,
            limits,
            provision_users: settings.provision_users,
            rate_limits: std::sync::Arc::new(crate::limits::RateLimits::new(
                settings.rate_limit,
                settings.public_rate_limit,
            )),
            trusted_proxies: std::sync::Arc::new(settings.trusted_proxies.clone()),
            key_uses: Default::default(),
            metrics,
            draining: Draining::default(),
            oidc: settings.oidc.clone().map(|o| std::sync::Arc::new(crate::oidc::Oidc::new(o))),
        };
        spawn_rate_limit_shrink(state.rate_limits.clone(), state.key_uses.clone());
        // Long work runs without the statement timeout.
        spawn_maintenance(state.db.unbounded(), limits, settings.maintenance_interval);
        spawn_reminders(state.db.clone(), settings.reminder_interval);
        let geocoder = settings.geocoder.as_ref().map(|g| g.build()).transpose()?.map(std::sync::Arc::new);
        let job_runner =
            crate::jobs::spawn(state.db.unbounded(), settings.job_interval, geocoder, state.draining.clone());
        spawn_schema_refresh(state.db.clone(), state.schemas.clone(), settings.schema_refresh);
        crate::webhooks::spawn(state.db.clone(), state.webhook_sender.clone(), settings.webhook_interval);
        crate::automation::spawn(state.db.clone(), settings.automation, settings.automation_interval);
        let mail_worker =
            state.mailer.as_ref().and_then(|m| crate::mail::spawn(state.db.clone(), m.clone(), settings.mail_interval));
        let listener = TcpListener::bind(&settings.bind).map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let max_body = settings.max_body_bytes;
        let app_state = state.clone();
        let cors = settings.cors.clone();
        let mut server = HttpServer::new(move || build_app(app_state.clone(), max_body, cors.clone()));
        if let Some(w) = settings.workers {
            server = server.workers(w.max(1));
        }
        // Signals are ours (`run_until_signalled`): readiness goes off before the listener closes.
        let server = server
            .disable_signals()
            .shutdown_timeout(settings.shutdown_timeout.as_secs())
            .listen(listener)
            .map_err(|e| e.to_string())?
            .run();
        Ok(Application { port, server, state, notes, mail_worker, job_runner, drain_delay: settings.drain_delay })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What stops this instance gracefully (`Stopper::stop`), for a signal or a test.
    pub fn stopper(&self) -> Stopper {
        Stopper { handle: self.server.handle(), draining: self.state.draining.clone(), delay: self.drain_delay }
    }

    /// Serves until SIGTERM or SIGINT (`crm serve`), then stops gracefully (`Stopper::stop`;
    /// without the drain delay for SIGINT).
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let stopper = self.stopper();
        actix_web::rt::spawn(async move {
            match wait_for_stop().await {
                Ok(true) => stopper.stop().await,
                Ok(false) => Stopper { delay: std::time::Duration::ZERO, ..stopper }.stop().await,
                Err(e) => tracing::error!(error = %e, "cannot listen for stop signals"),
            }
        });
        self.run_until_stopped().await
    }

    /// Serves until stopped, then waits for the job runner to hand its job back and closes the
    /// mail worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let done = self.server.await;
        if let Some(runner) = self.job_runner {
            self.state.draining.set();
            let _ = runner.await;
        }
        if let Some(worker) = self.mail_worker {
            worker.abort();
            let _ = worker.await;
        }
        tracing::info!("stopped");
        done
    }
}

/// Stops an instance gracefully: `/readyz` answers `503 DRAINING` at once and the job runner
/// hands its job back after the current chunk; after the drain delay the listener closes and
/// the requests in flight finish (for at most `CRM_SHUTDOWN_TIMEOUT`).
#[derive(Clone)]
pub struct Stopper {
    handle: actix_web::dev::ServerHandle,
    draining: Draining,
    delay: std::time::Duration,
}

impl Stopper {
    pub async fn stop(self) {
        self.draining.set();
        tracing::info!(
            delay_ms = self.delay.as_millis() as u64,
            "stopping: not ready any more; finishing the requests in flight and the current job chunk"
        );
        tokio::time::sleep(self.delay).await;
        self.handle.stop(true).await;
    }
}

/// Waits for SIGTERM (true) or SIGINT (false).
async fn wait_for_stop() -> std::io::Result<bool> {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => false,
    })
}

/// `GET /openapi.json`: this build's document with the live custom fields typed. Built on first
/// use (a server never asked for it never holds it) and again when the definitions change
/// (their generation is one aggregate over a small table), then shared by every worker.
async fn openapi_json(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let generation = state
        .db
        .run(|c| crm_records::custom::generation(c).map_err(crm_db::DbError::from))
        .await
        .map_err(ApiError::from)?;
    let cached = state.openapi.lock().ok().and_then(|c| c.clone()).filter(|(g, _)| *g == generation);
    let doc = match cached {
        Some((_, d)) => d,
        None => {
            let fields = state
                .db
                .run(|c| crm_records::custom::live_fields(c, None).map_err(crm_db::DbError::from))
                .await
                .map_err(ApiError::from)?;
            let built = web::block(move || openapi::served_bytes(&fields))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            if let Ok(mut c) = state.openapi.lock() {
                *c = Some((generation, built.clone()));
            }
            built
        }
    };
    Ok(HttpResponse::Ok().content_type("application/json").body(doc))
}

/// A request no route took: `405` with `Allow` when the path exists with other methods, else `404`.
async fn unrouted(req: actix_web::HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    let path = req.path().to_string();
    match web::block(move || openapi::allowed_methods(&path)).await.ok().flatten() {
        Some(methods) => problem::method_not_allowed(req.method(), &methods).error_response(),
        None => ApiError::not_found("no such endpoint").error_response(),
    }
}

fn build_app(
    state: AppState,
    max_body: usize,
    cors: crate::settings::CorsSettings,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let json = web::JsonConfig::default()
        .limit(max_body)
        .content_type(|m| m.subtype() == mime_json() || m.suffix().is_some_and(|s| s == mime_json()))
        .error_handler(problem::json_error);
    openapi::mount_plain(
        App::new()
            .app_data(web::Data::new(state))
            .app_data(json)
            .app_data(web::QueryConfig::default().error_handler(problem::query_error))
            .app_data(web::PathConfig::default().error_handler(problem::path_error)),
    )
    .service(
        web::resource("/graphql").route(web::post().to(graphql::graphql_post)).route(web::get().to(graphql::graphiql)),
    )
    .service(web::resource("/graphql/assets/{file}").route(web::get().to(graphql::graphiql_asset)))
    .service(web::resource("/openapi.json").route(web::get().to(openapi_json)))
    .configure(crate::tracking::configure)
    .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::new(["/openapi.json"])))
    .service(web::resource("/docs").route(
        web::get().to(|| async { HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish() }),
    ))
    .default_service(web::to(unrouted))
    .wrap(actix_web::middleware::from_fn(crate::idempotency::idempotency))
    // Credentials and rate limits, before the idempotency store (which keys on the caller).
    .wrap(actix_web::middleware::from_fn(crate::auth::middleware))
    // gzip, brotli or zstd when the client asks (`Accept-Encoding`); 100 contacts are 69 KB.
    .wrap(actix_web::middleware::Compress::default())
    .wrap(crate::headers::cors(&cors))
    .wrap(actix_web::middleware::from_fn(crate::headers::security_headers))
    .wrap(actix_web::middleware::from_fn(crate::telemetry::requests))
}

fn mime_json() -> &'static str {
    "json"
}
