//! `GET /metrics`: the instance's figures in the OpenMetrics text format Prometheus scrapes
//! (`prometheus-client`, the Prometheus project's Rust client). Needs `metrics:read` (an API key
//! with only that scope is the scraper's credential).
//!
//! - `http_requests_total{method, route, status}` and `http_request_duration_seconds{method,
//!   route}`: every answer, by route template (`/api/v1/contacts/{id}`), not by path;
//! - `rate_limited_total{policy}`: requests refused with `429`;
//! - `db_statement_duration_seconds`, `db_pool_wait_seconds`: every statement, every checkout;
//! - `db_pool_connections{state}`: open connections, busy and idle, at scrape time;
//! - `backlog{queue}`: background jobs queued and running, webhook deliveries pending,
//!   campaign messages queued, counted at scrape time (partial indexes make each count cheap).

use actix_web::{HttpResponse, get, web};
use crm_core::Scope;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answered {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Policy {
    policy: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Queue {
    queue: &'static str,
}

fn latency() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The instance's metrics (shared by every worker).
pub struct Metrics {
    registry: Registry,
    answered: Family<Answered, Counter>,
    durations: Family<Route, Histogram, fn() -> Histogram>,
    rate_limited: Family<Policy, Counter>,
    connections: Family<State, Gauge>,
    backlog: Family<Queue, Gauge>,
}

impl Metrics {
    pub fn new(db: &crm_db::Db) -> Metrics {
        let mut registry = Registry::default();
        let answered = Family::<Answered, Counter>::default();
        registry.register("http_requests", "Answers, by method, route template and status", answered.clone());
        let durations =
            Family::<Route, Histogram, fn() -> Histogram>::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from the request to its answer, by method and route template",
            durations.clone(),
        );
        let rate_limited = Family::<Policy, Counter>::default();
        registry.register("rate_limited", "Requests refused with 429, by rate-limit policy", rate_limited.clone());
        let m = db.metrics();
        registry.register(
            "db_statement_duration_seconds",
            "Database statements, from sending to the last row read",
            m.statement_seconds.clone(),
        );
        registry.register(
            "db_pool_wait_seconds",
            "Waits for a database connection from the pool",
            m.pool_wait_seconds.clone(),
        );
        let connections = Family::<State, Gauge>::default();
        registry.register("db_pool_connections", "Open database connections, busy or idle", connections.clone());
        let backlog = Family::<Queue, Gauge>::default();
        registry.register(
            "backlog",
            "Work waiting: jobs queued and running, webhook deliveries pending, campaign messages queued",
            backlog.clone(),
        );
        Metrics { registry, answered, durations, rate_limited, connections, backlog }
    }

    /// One answer (from the access-log middleware).
    pub fn answered(&self, method: &str, route: &str, status: u16, seconds: f64) {
        // Clients may send any method name; each would be a series of its own.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "OTHER",
        };
        let (method, route) = (method.to_string(), route.to_string());
        self.answered.get_or_create(&Answered { method: method.clone(), route: route.clone(), status }).inc();
        self.durations.get_or_create(&Route { method, route }).observe(seconds);
    }

    /// One request refused by a rate limit.
    pub fn rate_limited(&self, policy: &'static str) {
        self.rate_limited.get_or_create(&Policy { policy }).inc();
    }

    /// The text Prometheus scrapes, with the gauges read now.
    async fn render(&self, db: &crm_db::Db) -> Result<String, ApiError> {
        let (open, idle) = db.pool_state();
        self.connections.get_or_create(&State { state: "idle" }).set(i64::from(idle));
        self.connections.get_or_create(&State { state: "busy" }).set(i64::from(open.saturating_sub(idle)));
        let counts = db
            .run(|c| -> Result<[i64; 4], crm_db::DbError> {
                let (queued, running) = crm_records::jobs::backlog(c)?;
                Ok([queued, running, crm_webhooks::dispatch::backlog(c)?, crm_campaigns::sending::backlog(c)?])
            })
            .await?;
        for (queue, n) in
            ["jobs_queued", "jobs_running", "webhook_deliveries", "campaign_messages"].into_iter().zip(counts)
        {
            self.backlog.get_or_create(&Queue { queue }).set(n);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).map_err(ApiError::internal)?;
        Ok(out)
    }
}

/// The instance's metrics in the OpenMetrics text format (`metrics:read`).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
        (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    auth.0.require(Scope::MetricsRead)?;
    let text = state.metrics.render(&state.db).await?;
    Ok(HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(text))
}
