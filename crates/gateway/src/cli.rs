//! The `crm` command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::Application;
use crate::auth::JwtKeys;
use crate::settings::{JwtSettings, Settings};

#[derive(Parser, Debug)]
#[command(name = "crm", version, about = "A headless CRM: REST + GraphQL over SQLite or PostgreSQL")]
pub struct Cli {
    /// `postgres://…` for PostgreSQL, otherwise an SQLite file path.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = "crm.sqlite3")]
    pub database_url: String,

    /// `json` for JSON logs (every line, the start-up banner too), `text` otherwise.
    #[arg(long, global = true, env = "CRM_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Command,
}

/// How tokens are verified (and, for `crm token`, signed).
#[derive(Args, Debug, Default)]
pub struct JwtArgs {
    /// HS256 shared secret (at least 32 characters).
    #[arg(long, env = "CRM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// RS256/ES256 public key: PEM text or a path to a PEM file.
    #[arg(long, env = "CRM_JWT_PUBLIC_KEY", hide_env_values = true)]
    pub jwt_public_key: Option<String>,
    /// Private key matching the public key (only `crm token` needs it).
    #[arg(long, env = "CRM_JWT_PRIVATE_KEY", hide_env_values = true)]
    pub jwt_private_key: Option<String>,
    /// RS256 or ES256 (detected from the public key when unset).
    #[arg(long, env = "CRM_JWT_ALGORITHM")]
    pub jwt_algorithm: Option<String>,
    /// Required `iss` claim.
    #[arg(long, env = "CRM_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim.
    #[arg(long, env = "CRM_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// `production` refuses to start without configured keys.
    #[arg(long, env = "CRM_ENV", default_value = "development")]
    pub env: String,
}

/// The optional HTTP geocoder.
#[derive(Args, Debug, Default)]
pub struct GeocoderArgs {
    /// A Nominatim-compatible search API (`https://nominatim.example.org`) that bulk geocoding
    /// asks for the addresses the offline gazetteer cannot place (empty: none).
    #[arg(long, env = "CRM_GEOCODER_URL", default_value = "")]
    pub geocoder_url: String,
    /// Requests per second to it, per instance (Nominatim's public service allows 1).
    #[arg(long, env = "CRM_GEOCODER_RATE", default_value_t = 1.0)]
    pub geocoder_rate: f64,
    /// How requests name this service (Nominatim's usage policy asks for one).
    #[arg(long, env = "CRM_GEOCODER_USER_AGENT", default_value = "headless-crm-geocoding")]
    pub geocoder_user_agent: String,
}

impl GeocoderArgs {
    /// The settings, checked; None without a URL.
    pub fn settings(&self) -> Result<Option<crate::settings::GeocoderSettings>, String> {
        if self.geocoder_url.trim().is_empty() {
            return Ok(None);
        }
        let s = crate::settings::GeocoderSettings {
            url: self.geocoder_url.trim().to_string(),
            rate: self.geocoder_rate,
            user_agent: self.geocoder_user_agent.clone(),
        };
        s.build()?;
        Ok(Some(s))
    }
}

/// What only a serving instance needs.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[arg(long, env = "CRM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    #[command(flatten)]
    pub geocoder: GeocoderArgs,
    /// An OSRM-compatible table service (`http://osrm.internal:5000`) route plans take road
    /// distances and driving times from (empty: straight line × a detour factor).
    #[arg(long, env = "CRM_ROUTING_URL", default_value = "")]
    pub routing_url: String,
    /// Its profile.
    #[arg(long, env = "CRM_ROUTING_PROFILE", default_value = "driving")]
    pub routing_profile: String,
    /// Do not apply pending migrations on start.
    #[arg(long)]
    pub no_migrate: bool,
    /// Database connections in the pool [default: SQLite two per core (4 to 16),
    /// PostgreSQL 16].
    #[arg(long, env = "CRM_DB_POOL_SIZE")]
    pub pool_size: Option<u32>,
    /// How long Idempotency-Key answers are kept (at least 24h).
    #[arg(long, env = "CRM_IDEMPOTENCY_TTL", default_value = "24h")]
    pub idempotency_ttl: String,
    /// How long events stay in the change feed.
    #[arg(long, env = "CRM_EVENT_RETENTION", default_value = "30d")]
    pub event_retention: String,
    /// How long the audit log keeps its entries (at least 30d).
    #[arg(long, env = "CRM_AUDIT_RETENTION", default_value = "730d")]
    pub audit_retention: String,
    /// Give a token subject without a user record one, from the token's name, email and role.
    #[arg(long, env = "CRM_PROVISION_USERS", default_value_t = false)]
    pub provision_users: bool,
    /// How often expired idempotency keys and events past retention are purged (`0s` turns
    /// the clean-up off on this instance; the first pass runs a minute after start).
    #[arg(long, env = "CRM_MAINTENANCE_INTERVAL", default_value = "1h")]
    pub maintenance_interval: String,
    /// How often due activity reminders are turned into `activity.reminder_due` events (`0s`
    /// turns the worker off on this instance).
    #[arg(long, env = "CRM_REMINDER_INTERVAL", default_value = "30s")]
    pub reminder_interval: String,
    /// How often queued background jobs (bulk geocoding, …) are looked for (`0s`: this
    /// instance runs none).
    #[arg(long, env = "CRM_JOB_INTERVAL", default_value = "1s")]
    pub job_interval: String,
    /// How often custom fields changed through other instances are looked for, to type them in
    /// GraphQL (`0s`: only changes made through this instance).
    #[arg(long, env = "CRM_SCHEMA_REFRESH", default_value = "1s")]
    pub schema_refresh: String,
    /// How often the webhook sender looks for events and due deliveries (`0s`: no sender on
    /// this instance; run it on some).
    #[arg(long, env = "CRM_WEBHOOK_INTERVAL", default_value = "250ms")]
    pub webhook_interval: String,
    /// Inner addresses webhooks may call all the same, comma-separated (`10.0.0.0/8,127.0.0.1`).
    /// None by default: loopback, private, link-local and metadata addresses are refused.
    #[arg(long, env = "CRM_WEBHOOK_ALLOW", default_value = "")]
    pub webhook_allow: String,
    /// How long one webhook call may take.
    #[arg(long, env = "CRM_WEBHOOK_TIMEOUT", default_value = "10s")]
    pub webhook_timeout: String,
    /// A webhook whose deliveries fail this long without a success is turned off.
    #[arg(long, env = "CRM_WEBHOOK_DISABLE_AFTER", default_value = "5d")]
    pub webhook_disable_after: String,
    /// How often the automation engine matches new events to rules and executes the runs due
    /// (`0s`: no engine on this instance; run it on some).
    #[arg(long, env = "CRM_AUTOMATION_INTERVAL", default_value = "250ms")]
    pub automation_interval: String,
    /// The longest chain of automation rules triggering each other (a person's change is 0).
    #[arg(long, env = "CRM_AUTOMATION_MAX_DEPTH", default_value_t = 5)]
    pub automation_max_depth: i64,
    /// An automation rule whose runs failed this many times in a row is turned off.
    #[arg(long, env = "CRM_AUTOMATION_DISABLE_AFTER", default_value_t = 5)]
    pub automation_disable_after: i64,
    /// The SMTP server campaign email goes through: `smtp://host:25` (plain),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS), `smtps://user:password@host:465`.
    /// Unset: the server sends no email, and email campaigns with a template cannot launch.
    #[arg(long, env = "CRM_SMTP_URL", default_value = "", hide_env_values = true)]
    pub smtp_url: String,
    /// The sender of campaign email when its template names none, e.g. `Acme <news@acme.example>`
    /// (required with CRM_SMTP_URL).
    #[arg(long, env = "CRM_SMTP_FROM", default_value = "")]
    pub smtp_from: String,
    /// Campaign messages per second on this instance (`0`: as fast as the SMTP server takes them).
    #[arg(long, env = "CRM_SMTP_RATE", default_value_t = 20.0)]
    pub smtp_rate: f64,
    /// SMTP connections this instance keeps open at once (1 to 64). Each hands over about 25
    /// messages a second at most: lettre writes the end of a message on its own, so every
    /// message waits out the server's delayed ACK (about 40 ms) once.
    #[arg(long, env = "CRM_SMTP_CONNECTIONS", default_value_t = 8)]
    pub smtp_connections: u32,
    /// How long one SMTP exchange may take.
    #[arg(long, env = "CRM_SMTP_TIMEOUT", default_value = "30s")]
    pub smtp_timeout: String,
    /// How often the mail worker looks for campaign messages due (`0s`: no worker on this
    /// instance; run it on some).
    #[arg(long, env = "CRM_MAIL_INTERVAL", default_value = "1s")]
    pub mail_interval: String,
    /// The address recipients reach this server at, for the links in campaign email (tracking,
    /// unsubscribe, response form), e.g. `https://crm.example.com` [default: http://CRM_BIND;
    /// required in production with CRM_SMTP_URL].
    #[arg(long, env = "CRM_PUBLIC_URL", default_value = "")]
    pub public_url: String,
    /// Browser origins allowed to call the API (CORS), comma-separated, e.g.
    /// `https://app.example.com`; `*` for any. None by default.
    #[arg(long, env = "CRM_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    /// Let those origins send credentials (cookies). Off by default: the API takes bearer tokens.
    #[arg(long, env = "CRM_CORS_CREDENTIALS", default_value_t = false)]
    pub cors_credentials: bool,
    /// Requests per minute one caller (a token's subject, or an API key without a limit of its
    /// own) may make, per instance (`0`: no limit).
    #[arg(long, env = "CRM_RATE_LIMIT", default_value_t = 1200)]
    pub rate_limit: u32,
    /// Requests per minute one client address may make to the public endpoints (campaign links,
    /// web-form lead capture), per instance (`0`: no limit).
    #[arg(long, env = "CRM_PUBLIC_RATE_LIMIT", default_value_t = 60)]
    pub public_rate_limit: u32,
    /// Proxies in front of this server whose `X-Forwarded-For` names the client, comma-separated
    /// (`10.0.0.0/8`). None by default: the client is the peer address.
    #[arg(long, env = "CRM_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// On PostgreSQL, a request's database statement running longer is cancelled and the
    /// request answers `503 STATEMENT_TIMEOUT` (`0s`: no limit). Background jobs run without it.
    #[arg(long, env = "CRM_STATEMENT_TIMEOUT", default_value = "30s")]
    pub statement_timeout: String,
    /// On SIGTERM, how long `/readyz` answers 503 before the server stops accepting connections
    /// (so load balancers take the instance out first). SIGINT stops without it.
    #[arg(long, env = "CRM_DRAIN_DELAY", default_value = "5s")]
    pub drain_delay: String,
    /// How long requests in flight may take to finish once the server stopped accepting.
    #[arg(long, env = "CRM_SHUTDOWN_TIMEOUT", default_value = "30s")]
    pub shutdown_timeout: String,
    /// An OpenID Connect provider's key set (JWKS URL): its tokens (those naming a `kid`) are
    /// accepted besides the server's own. Needs CRM_OIDC_ISSUER.
    #[arg(long, env = "CRM_OIDC_JWKS_URL", default_value = "")]
    pub oidc_jwks_url: String,
    /// The `iss` of the provider's tokens.
    #[arg(long, env = "CRM_OIDC_ISSUER", default_value = "")]
    pub oidc_issuer: String,
    /// The `aud` the provider's tokens must carry (unset: not checked).
    #[arg(long, env = "CRM_OIDC_AUDIENCE", default_value = "")]
    pub oidc_audience: String,
    /// Where the roles are in the provider's claims, a dotted path (`realm_access.roles`, `groups`).
    #[arg(long, env = "CRM_OIDC_ROLES_CLAIM", default_value = "roles")]
    pub oidc_roles_claim: String,
    /// The provider's role or group names that mean ours: `crm-admins=admin,sellers=sales`
    /// (values named like our roles count as those roles anyway).
    #[arg(long, env = "CRM_OIDC_ROLE_MAP", default_value = "")]
    pub oidc_role_map: String,
    /// Where the team is in the provider's claims, a dotted path (`groups`, `department`): set,
    /// the provider manages teams and each user's team follows its tokens. Unset: teams are
    /// managed here.
    #[arg(long, env = "CRM_OIDC_TEAM_CLAIM", default_value = "")]
    pub oidc_team_claim: String,
    /// The provider's group names that mean our teams: `sellers-north=north,sellers-south=south`
    /// (unset: the claim's first value is the team).
    #[arg(long, env = "CRM_OIDC_TEAM_MAP", default_value = "")]
    pub oidc_team_map: String,
    /// How long the provider's keys are kept before they are fetched again.
    #[arg(long, env = "CRM_OIDC_REFRESH", default_value = "10m")]
    pub oidc_refresh: String,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Serve the API.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        jwt: JwtArgs,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Print a signed JWT for scripts and local use.
    Token {
        #[arg(long)]
        sub: String,
        /// admin, sales, marketing, support or readonly (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Extra scopes such as contacts:read (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 1h, 30m, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        #[command(flatten)]
        jwt: JwtArgs,
    },
    /// Load a realistic, deterministic data set into an empty database (Korean, English,
    /// German and Japanese names; KR, US, GB, DE, JP).
    Seed {
        /// The demo set: 300 accounts with 3000 contacts, 8 users, 12 products, 6000
        /// interactions, 150 cases, 300 purchases, a pipeline with 200 opportunities, 300 leads
        /// and 5 campaigns (see the README).
        #[arg(long)]
        demo: bool,
        /// Number of accounts.
        #[arg(long, conflicts_with = "demo")]
        accounts: Option<usize>,
        /// Number of contacts, spread over the accounts.
        #[arg(long, conflicts_with = "demo")]
        contacts: Option<usize>,
        /// Interactions over the contacts (the demo has two per contact). Staff, products, a
        /// case for one contact in twenty and a purchase for one in ten come with them.
        #[arg(long, conflicts_with = "demo")]
        interactions: Option<usize>,
        /// Define the demo's custom fields and give every account and contact values (the
        /// demo does).
        #[arg(long, conflicts_with = "demo")]
        custom_fields: bool,
    },
    /// Measure the database ceiling: the queries of a bench scenario through the same driver,
    /// without HTTP, in a tight loop (used by `make bench`).
    #[command(hide = true)]
    BenchDb {
        /// get, list, include, search, custom or create.
        #[arg(long)]
        scenario: String,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Write a purchase history at the scale of the analytics targets over the seeded contacts
    /// (used by `make bench`).
    #[command(hide = true)]
    BenchAnalyticsData {
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
        #[arg(long, default_value_t = 500)]
        products: usize,
        #[arg(long, default_value_t = 1_000_000)]
        lines: usize,
    },
    /// The offline gazetteer addresses are geocoded in.
    #[command(subcommand)]
    Geo(GeoCommand),
    /// The analyses of the customer base.
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
    /// Import a CSV or NDJSON file of one resource here and now, with a progress bar (the
    /// API's `POST /imports` runs the same as a job, and this run shows there too). Rows that
    /// cannot be taken are listed at the end and in the import's error report.
    Import {
        /// The file.
        file: std::path::PathBuf,
        /// accounts, contacts, leads, products, purchases or interactions.
        #[arg(long)]
        resource: String,
        /// create, or upsert.
        #[arg(long, default_value = "create")]
        mode: String,
        /// What an upsert matches on: external_id (default), or email, domain or sku.
        #[arg(long)]
        match_on: Option<String>,
        /// The system the file's ids come from (erp).
        #[arg(long)]
        source: Option<String>,
        /// A saved mapping's name, or `@mapping.json` (an object: column → field).
        #[arg(long)]
        mapping: Option<String>,
        /// csv or ndjson (default: by the file's extension, .ndjson or .jsonl for NDJSON).
        #[arg(long)]
        format: Option<String>,
        /// Validate every row and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Contacts and accounts: list the created records that are likely duplicates in the
        /// error report (imported all the same).
        #[arg(long)]
        report_duplicates: bool,
    },
    /// Print the OpenAPI document.
    ExportOpenapi,
    /// Print the GraphQL schema (SDL).
    ExportSdl,
}

#[derive(Subcommand, Debug)]
pub enum GeoCommand {
    /// Load a GeoNames file (unzipped): a cities file (`cities15000.txt`, `allCountries.txt`
    /// of https://download.geonames.org/export/dump/) or a postal-code file (`allCountries.txt`
    /// of https://download.geonames.org/export/zip/). Each country in the file replaces that
    /// country's places of the same kind.
    Import {
        /// The file.
        file: std::path::PathBuf,
    },
    /// Locate every account, contact and lead whose address has no coordinates yet, here and
    /// now with a progress bar (the API's `POST /geo/geocode` runs the same as a job).
    Geocode {
        /// Only these: accounts, contacts, leads (repeatable; default all).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Also look up again the records geocoded before (after a larger gazetteer).
        #[arg(long)]
        refresh: bool,
        #[command(flatten)]
        geocoder: GeocoderArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum AnalyticsCommand {
    /// Analyse the whole base here and now, with a progress bar (the API's
    /// `POST /analytics/refresh` runs the same as a job): RFM, value, the model fits, drift.
    Refresh {
        /// Analyse the base as it was at this moment (RFC 3339), to backtest the predictions.
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// A job's progress callback that moves a CLI progress display (a phase named `label`).
fn job_progress<'a>(
    progress: &'a mut crate::progress::Progress,
    label: &'static str,
) -> impl FnMut(i64, i64, i64) -> bool + 'a {
    let mut seen = 0;
    move |total, done, _| {
        if done == 0 {
            progress.phase(label, total.unsigned_abs());
        }
        progress.inc((done - seen).unsigned_abs());
        seen = done;
        true
    }
}

impl JwtArgs {
    fn settings(&self) -> JwtSettings {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        JwtSettings {
            secret: some(&self.jwt_secret),
            public_key: some(&self.jwt_public_key),
            private_key: some(&self.jwt_private_key),
            algorithm: some(&self.jwt_algorithm),
            issuer: some(&self.jwt_issuer),
            audience: some(&self.jwt_audience),
        }
    }
}

impl ServeArgs {
    /// The serving settings these options and the token options give, on `database_url`.
    pub fn settings(&self, database_url: &str, jwt: &JwtArgs) -> Result<Settings, String> {
        let duration = |name: &str, v: &str| humantime::parse_duration(v).map_err(|e| format!("{name} {v}: {e}"));
        let idempotency_ttl = duration("CRM_IDEMPOTENCY_TTL", &self.idempotency_ttl)?;
        if idempotency_ttl < Duration::from_secs(24 * 3600) {
            return Err("CRM_IDEMPOTENCY_TTL must be at least 24h".into());
        }
        let audit_retention = duration("CRM_AUDIT_RETENTION", &self.audit_retention)?;
        if audit_retention < Duration::from_secs(crm_events::audit::MIN_RETENTION_DAYS as u64 * 24 * 3600) {
            return Err(format!("CRM_AUDIT_RETENTION must be at least {}d", crm_events::audit::MIN_RETENTION_DAYS));
        }
        Ok(Settings {
            idempotency_ttl,
            event_retention: duration("CRM_EVENT_RETENTION", &self.event_retention)?,
            audit_retention,
            provision_users: self.provision_users,
            maintenance_interval: duration("CRM_MAINTENANCE_INTERVAL", &self.maintenance_interval)?,
            reminder_interval: duration("CRM_REMINDER_INTERVAL", &self.reminder_interval)?,
            job_interval: duration("CRM_JOB_INTERVAL", &self.job_interval)?,
            schema_refresh: duration("CRM_SCHEMA_REFRESH", &self.schema_refresh)?,
            webhook_interval: duration("CRM_WEBHOOK_INTERVAL", &self.webhook_interval)?,
            webhook_allow: crm_webhooks::Guard::parse_allow(&self.webhook_allow)?,
            webhook_timeout: duration("CRM_WEBHOOK_TIMEOUT", &self.webhook_timeout)?,
            geocoder: self.geocoder.settings()?,
            routing: match self.routing_url.trim() {
                "" => None,
                url => {
                    crm_geo::road::RoadRouter::new(url, &self.routing_profile, Duration::from_secs(10))?;
                    Some((url.to_string(), self.routing_profile.clone()))
                }
            },
            webhook_disable_after: duration("CRM_WEBHOOK_DISABLE_AFTER", &self.webhook_disable_after)?,
            automation_interval: duration("CRM_AUTOMATION_INTERVAL", &self.automation_interval)?,
            automation: crm_automation::engine::Settings {
                max_depth: self.automation_max_depth.clamp(1, 50),
                disable_after_failures: self.automation_disable_after.max(1),
            },
            mail: self.mail(jwt.env.eq_ignore_ascii_case("production"))?,
            mail_interval: duration("CRM_MAIL_INTERVAL", &self.mail_interval)?,
            database_url: database_url.to_string(),
            jwt: jwt.settings(),
            production: jwt.env.eq_ignore_ascii_case("production"),
            cors: crate::settings::CorsSettings::parse(&self.cors_origins, self.cors_credentials)?,
            bind: self.bind.clone(),
            migrate: !self.no_migrate,
            pool_size: self.pool_size.map(|n| n.max(1)),
            rate_limit: self.rate_limit,
            public_rate_limit: self.public_rate_limit,
            trusted_proxies: crm_webhooks::guard::parse_networks("CRM_TRUSTED_PROXIES", &self.trusted_proxies)?,
            statement_timeout: Some(duration("CRM_STATEMENT_TIMEOUT", &self.statement_timeout)?)
                .filter(|d| !d.is_zero()),
            oidc: self.oidc(&duration)?,
            drain_delay: duration("CRM_DRAIN_DELAY", &self.drain_delay)?,
            shutdown_timeout: duration("CRM_SHUTDOWN_TIMEOUT", &self.shutdown_timeout)?,
            ..Settings::default()
        })
    }
}

impl ServeArgs {
    /// The identity provider's settings, when `CRM_OIDC_JWKS_URL` is set.
    fn oidc(
        &self,
        duration: &dyn Fn(&str, &str) -> Result<Duration, String>,
    ) -> Result<Option<crate::oidc::OidcSettings>, String> {
        let url = self.oidc_jwks_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        url::Url::parse(url).map_err(|e| format!("CRM_OIDC_JWKS_URL {url}: {e}"))?;
        let issuer = self.oidc_issuer.trim();
        if issuer.is_empty() {
            return Err("CRM_OIDC_JWKS_URL needs CRM_OIDC_ISSUER (the iss of the provider's tokens)".into());
        }
        Ok(Some(crate::oidc::OidcSettings {
            jwks_url: url.to_string(),
            issuer: issuer.to_string(),
            audience: Some(self.oidc_audience.trim().to_string()).filter(|a| !a.is_empty()),
            roles_claim: self.oidc_roles_claim.trim().to_string(),
            role_map: crate::oidc::OidcSettings::parse_role_map(&self.oidc_role_map)?,
            team_claim: self.oidc_team_claim.trim().to_string(),
            team_map: crate::oidc::OidcSettings::parse_team_map(&self.oidc_team_map)?,
            refresh: duration("CRM_OIDC_REFRESH", &self.oidc_refresh)?,
            min_refetch: Duration::from_secs(30),
        }))
    }

    /// The mail settings, when `CRM_SMTP_URL` is set (checked whole now: a bad sender or URL
    /// stops the start, not the first campaign).
    fn mail(&self, production: bool) -> Result<Option<crate::mail::MailSettings>, String> {
        let url = self.smtp_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        if self.smtp_from.trim().is_empty() {
            return Err("CRM_SMTP_URL needs CRM_SMTP_FROM, the sender (`Acme <news@acme.example>`)".into());
        }
        let from = self
            .smtp_from
            .trim()
            .parse()
            .map_err(|e| format!("CRM_SMTP_FROM {}: {e} (write `Name <address>` or an address)", self.smtp_from))?;
        if !self.smtp_rate.is_finite() || self.smtp_rate < 0.0 {
            return Err(format!("CRM_SMTP_RATE {}: messages per second, 0 or more", self.smtp_rate));
        }
        if !(1..=64).contains(&self.smtp_connections) {
            return Err(format!("CRM_SMTP_CONNECTIONS {}: 1 to 64 connections", self.smtp_connections));
        }
        let public_url = match self.public_url.trim().trim_end_matches('/') {
            "" if production => {
                return Err(
                    "CRM_SMTP_URL needs CRM_PUBLIC_URL in production: the address recipients' links lead to".into()
                );
            }
            "" => format!("http://{}", self.bind),
            u if u.starts_with("https://") || u.starts_with("http://") => u.to_string(),
            u => return Err(format!("CRM_PUBLIC_URL {u}: an http(s) URL, e.g. https://crm.example.com")),
        };
        let settings = crate::mail::MailSettings {
            smtp_url: url.to_string(),
            from,
            rate: self.smtp_rate,
            connections: self.smtp_connections,
            public_url,
            timeout: humantime::parse_duration(&self.smtp_timeout)
                .map_err(|e| format!("CRM_SMTP_TIMEOUT {}: {e}", self.smtp_timeout))?,
            retry_scale: 1.0,
        };
        crate::mail::check_url(url)?;
        Ok(Some(settings))
    }
}

pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// The command line as `crm` runs it, from these arguments (the first is the program name).
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    let json = cli.log_format.eq_ignore_ascii_case("json");
    // A seed logs only what goes wrong: its progress is shown apart (`crate::progress`).
    let level = if matches!(cli.command, Command::Seed { .. }) { "warn" } else { "info" };
    crate::telemetry::init(json, level);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                tracing::error!(error = %e, "the command failed");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let database_url = cli.database_url;
    let json = cli.log_format.eq_ignore_ascii_case("json");
    match cli.command {
        Command::Serve { serve: args, jwt } => serve(args.settings(&database_url, &jwt)?, json),
        Command::Migrate => {
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            let n = crate::app::migrate(&db)?;
            println!("applied {n} migration(s) to the {} database", db.backend().name());
            Ok(())
        }
        Command::Token { sub, roles, scopes, ttl, jwt } => {
            let ttl: Duration = humantime::parse_duration(&ttl).map_err(|e| format!("--ttl {ttl}: {e}"))?;
            for r in &roles {
                if crm_core::Role::parse(r).is_none() {
                    return Err(format!("unknown role `{r}` (admin, sales, marketing, support, readonly)"));
                }
            }
            for s in &scopes {
                if crm_core::Scope::parse(s).is_none() {
                    return Err(format!("unknown scope `{s}`"));
                }
            }
            let mut settings = Settings {
                database_url,
                jwt: jwt.settings(),
                production: jwt.env.eq_ignore_ascii_case("production"),
                ..Settings::default()
            };
            if let Some(note) = settings.ensure_jwt_keys()? {
                eprintln!("{note}");
            }
            let keys = JwtKeys::from_settings(&settings.jwt)?;
            println!("{}", keys.issue(&sub, &roles, &scopes, ttl)?);
            Ok(())
        }
        Command::Seed { demo, accounts, contacts, interactions, custom_fields } => {
            let (na, nc) = match (demo, accounts, contacts) {
                (true, _, _) => {
                    (crate::seed::DEMO_ACCOUNTS, crate::seed::DEMO_ACCOUNTS * crate::seed::DEMO_CONTACTS_PER_ACCOUNT)
                }
                (false, Some(a), c) => (a, c.unwrap_or(0)),
                (false, None, Some(_)) => {
                    return Err("contacts are seeded into accounts: give --accounts as well".into());
                }
                (false, None, None) => {
                    return Err("say what to seed: `crm seed --demo` or `--accounts N --contacts M`".into());
                }
            };
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            crate::app::migrate(&db)?;
            let started = std::time::Instant::now();
            let mut progress = crate::progress::Progress::for_stderr(json);
            let (a, c) = crate::seed::seed(&db, na, nc, demo || custom_fields, &mut progress)?;
            let ni = if demo { nc * 2 } else { interactions.unwrap_or(0) };
            let more = if demo || interactions.is_some() {
                let s = crate::seed_operational::seed(&db, ni, &mut progress)?;
                // The analyses of what was seeded, so that the analytics answer at once.
                crm_analytics::refresh::run(&db, &Default::default(), &mut job_progress(&mut progress, "analytics"))
                    .map_err(|e| e.to_string())?;
                progress.finish();
                let rules = if demo { crate::seed::demo_rules(&db)? } else { 0 };
                format!(
                    ", {} users, {} products, {} interactions, {} cases, {} purchases, {} opportunities, {} leads, \
                     {} campaigns and {rules} automation rules",
                    s.users, s.products, s.interactions, s.cases, s.purchases, s.opportunities, s.leads, s.campaigns
                )
            } else {
                String::new()
            };
            println!(
                "seeded {a} accounts and {c} contacts{more} into the {} database in {:.1} s",
                db.backend().name(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::BenchDb { scenario, seconds, threads } => {
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            let rate = crate::benchdb::bench_db(&db, &scenario, Duration::from_secs(seconds), threads.max(1))?;
            println!("ops_per_sec={rate:.1}");
            Ok(())
        }
        Command::BenchAnalyticsData { customers, products, lines } => {
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            crate::app::migrate(&db)?;
            let mut progress = crate::progress::Progress::for_stderr(json);
            let w = crate::benchdata::analytics(&db, customers, products, lines, &mut progress)?;
            println!("customers={} products={} purchases={} lines={}", w.customers, w.products, w.purchases, w.lines);
            Ok(())
        }
        Command::Geo(GeoCommand::Import { file }) => {
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            crate::app::migrate(&db)?;
            let f = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            let mut progress = crate::progress::Progress::for_stderr(json);
            progress.phase("gazetteer", size);
            let mut seen = 0;
            // Under the writer lock (on SQLite writes take turns), in one transaction.
            let report = db
                .transaction_sync(|c| {
                    crm_geo::gazetteer::import(c, std::io::BufReader::new(f), &mut |bytes| {
                        progress.inc(bytes.saturating_sub(seen));
                        seen = bytes;
                    })
                })
                .map_err(|e| format!("{}: {e}", file.display()))?;
            progress.finish();
            println!(
                "loaded {} places ({} names and codes) of {} into the gazetteer; {} lines skipped",
                report.places,
                report.keys,
                report.countries.join(", "),
                report.skipped
            );
            Ok(())
        }
        Command::Geo(GeoCommand::Geocode { resources, refresh, geocoder }) => {
            use crm_geo::geocoding::{GeocodeInput, LocatedResource};
            let resources = resources
                .iter()
                .map(|r| {
                    LocatedResource::parse(r).ok_or_else(|| format!("--resource {r}: accounts, contacts or leads"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let input = GeocodeInput { resources, refresh };
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            crate::app::migrate(&db)?;
            let mut progress = crate::progress::Progress::for_stderr(json);
            let actor = input.actor("cli");
            let remote = geocoder.settings()?.map(|g| g.build()).transpose()?;
            if remote.is_some() {
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            }
            let outcome = crm_geo::geocoding::run(
                &db,
                &actor,
                &input,
                remote.as_ref(),
                &mut job_progress(&mut progress, "geocoding"),
            )
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
            progress.finish();
            println!(
                "geocoded {} records; {} addresses matched no place; {} left as they were; {} the HTTP geocoder \
                 could not answer for",
                outcome.geocoded, outcome.unresolved, outcome.unchanged, outcome.failed
            );
            if let Some(e) = outcome.last_error {
                eprintln!("last geocoder error: {e}");
            }
            Ok(())
        }
        Command::Analytics(AnalyticsCommand::Refresh { as_of }) => {
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            crate::app::migrate(&db)?;
            let mut progress = crate::progress::Progress::for_stderr(json);
            let input = crm_analytics::RefreshInput { as_of };
            let outcome = crm_analytics::refresh::run(&db, &input, &mut job_progress(&mut progress, "analysing"))
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            progress.finish();
            println!(
                "analysed {} customers as of {}; {} drifting; predictions {}; {:.1} s",
                outcome.customers,
                outcome.as_of.to_rfc3339(),
                outcome.drifting,
                if outcome.predicted { "fitted" } else { "not fitted (too few repeat buyers)" },
                outcome.seconds
            );
            let t = &outcome.timings;
            println!(
                "timings: load {:.2} s, model fits {:.2} s, associations {:.2} s, analyse and write {:.2} s, alerts {:.2} s",
                t.load, t.fit, t.associations, t.analyse_and_write, t.alerts
            );
            Ok(())
        }
        Command::Import { file, resource, mode, match_on, source, mapping, format, dry_run, report_duplicates } => {
            use crm_records::imports::{ImportFormat, ImportMode, ImportRequest};
            let mode = ImportMode::parse(&mode).ok_or("--mode: create or upsert")?;
            let ext = file.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
            let format = match format.as_deref() {
                Some(f) => ImportFormat::parse(f).ok_or("--format: csv or ndjson")?,
                None if ext == "ndjson" || ext == "jsonl" => ImportFormat::Ndjson,
                None => ImportFormat::Csv,
            };
            let (mapping, mapping_name) = match mapping {
                Some(m) if m.starts_with('@') => {
                    let text = std::fs::read_to_string(&m[1..]).map_err(|e| format!("{}: {e}", &m[1..]))?;
                    (Some(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", &m[1..]))?), None)
                }
                Some(name) => (None, Some(name)),
                None => (None, None),
            };
            let request = ImportRequest {
                resource,
                format: Some(format),
                mode,
                match_on,
                source,
                mapping,
                mapping_name,
                dry_run,
                report_duplicates,
            };
            let db = crate::app::open_database(&database_url, Default::default()).map_err(|e| e.to_string())?;
            crate::app::migrate(&db)?;
            let mut progress = crate::progress::Progress::for_stderr(json);
            let actor = crm_core::Actor::new("cli", ["admin"], []);
            let mut started = false;
            let mut seen = 0;
            let (import, counts) = crate::imports::run_local(&db, &actor, request, &file, &mut |total, done, _| {
                if !started {
                    started = true;
                    progress.phase(if dry_run { "checking" } else { "importing" }, total.unsigned_abs());
                }
                progress.inc((done - seen).unsigned_abs());
                seen = done;
            })?;
            progress.finish();
            let c = counts.unwrap_or_default();
            println!(
                "{}{} rows read: {} created, {} updated, {} unchanged, {} failed, {} likely duplicates ({} rows/s); import {}",
                if dry_run { "dry run, nothing written: " } else { "" },
                c.read,
                c.created,
                c.updated,
                c.unchanged,
                c.failed,
                c.possible_duplicates,
                import.rows_per_second.unwrap_or_default(),
                import.id
            );
            if c.failed > 0 || c.possible_duplicates > 0 {
                let (errors, _) = db
                    .run_sync(|conn| crm_records::imports::error_page(conn, &actor, import.id, None, 20))
                    .map_err(|e| e.to_string())?;
                for e in errors {
                    eprintln!(
                        "row {} (line {}){}: {} {}",
                        e.row,
                        e.line,
                        e.column.map(|c| format!(" column {c}")).unwrap_or_default(),
                        e.code,
                        e.message
                    );
                }
                if c.failed > 20 {
                    eprintln!("… the whole report: GET /api/v1/imports/{}/errors?format=csv", import.id);
                }
            }
            Ok(())
        }
        Command::ExportOpenapi => {
            print!("{}", crate::openapi::document_json());
            Ok(())
        }
        Command::ExportSdl => {
            print!("{}", crate::graphql::schema_builder().finish().sdl());
            Ok(())
        }
    }
}

fn serve(settings: Settings, json: bool) -> Result<(), String> {
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let bind = settings.bind.clone();
        let backend = settings.backend().name();
        let started = std::time::Instant::now();
        let app = Application::build(settings).await?;
        for n in &app.notes {
            tracing::warn!("{n}");
        }
        let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
        let base = format!("http://{host}:{}", app.port());
        tracing::info!(database = backend, ready_ms = started.elapsed().as_millis() as u64, "listening on {base}");
        if json {
            // The banner as one JSON line like every other (log collectors parse each line).
            tracing::info!(
                database = backend,
                rest_docs = format!("{base}/docs/"),
                graphql = format!("{base}/graphql"),
                "CRM API on {base}"
            );
        } else {
            eprintln!(
                "\nCRM API on {base} ({backend})\n  REST docs:  {base}/docs/\n  GraphQL:    {base}/graphql\n  \
                 Get a token: TOKEN=$(cargo run -q --bin crm -- token --sub local-admin --role admin)\n  \
                 Then:        curl -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/contacts\n"
            );
        }
        app.run_until_signalled().await.map_err(|e| e.to_string())
    })
}
