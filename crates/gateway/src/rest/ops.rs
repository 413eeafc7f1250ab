//! Health and readiness.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::app::AppState;
use crate::problem::ApiError;

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve"),
        (status = 503, description = "Not ready: the instance is stopping (`DRAINING`), or the database is unavailable", body = crate::problem::Problem)
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.draining.is_set() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "DRAINING",
            "this instance is stopping: send requests to another one",
        ));
    }
    state.db.ping().await?;
    let (connections, idle) = state.db.pool_state();
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": state.db.backend().name(),
        "pool": {"connections": connections, "idle": idle},
    })))
}
