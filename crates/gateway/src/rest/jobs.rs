//! `/api/v1/jobs`: background jobs (bulk geocoding, …) and their progress.

use actix_web::{HttpResponse, get, web};
use crm_core::ids::JobId;
use crm_records::jobs::Job;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// A job: its status, its counts (`total`, `done`, `failed`), `percent`, the seconds left at
/// the pace so far (`eta_seconds`), and its result or error once it ends. Visible to the
/// subject that started it and to admins (404 to others).
#[utoipa::path(
    tag = "jobs",
    params(("id" = JobId, Path, description = "The job's id.")),
    responses((status = 200, body = Job), (status = 401, body = Problem), (status = 404, body = Problem))
)]
#[get("/jobs/{id}")]
pub async fn get_job(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_records::jobs::get(c, &actor, id)).await?))
}

/// `?kind=geocode&limit=20`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only jobs of this kind (`geocode`).
    pub kind: Option<String>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The newest jobs the caller started (all jobs for admins).
#[utoipa::path(
    tag = "jobs",
    params(JobsQuery),
    responses((status = 200, body = [Job]), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem))
)]
#[get("/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<JobsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), crm_core::actor::Forbidden>(()))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok()
        .json(state.db.run(move |c| crm_records::jobs::list(c, &actor, q.kind.as_deref(), q.limit)).await?))
}
