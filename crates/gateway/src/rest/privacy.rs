//! `/api/v1/privacy`: data-subject requests (access, erasure, restriction of processing and its
//! lifting) as jobs, their access bundles, the restrictions in force, and the dry run and run of
//! retention policies. Legal holds and retention policies are resources of their own
//! (`/legal-holds`, `/retention-policies`).

use actix_web::{HttpResponse, get, post, web};
use crm_core::ids::{JobId, RetentionPolicyId};
use crm_privacy::requests::{self, PrivacyRequest, PrivacyRequestInput};
use crm_privacy::retention::{self, RetentionPreview};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// Starts a data-subject request (`privacy:write`: administrators), answered 202 with the
/// request to follow at `Location`. The person is named by `contact_id`, `lead_id` or `email`,
/// and is every record that is them (leads converted into the contact, the contact a lead
/// converted into, records merged into them). `access` builds a JSON bundle of everything held
/// about them; `erasure` clears their data everywhere it is kept (refused with `409
/// LEGAL_HOLD` while a legal hold is live on them); `restriction` keeps their data but leaves
/// them out of campaigns and analyses until `lift_restriction`. Requests and their outcome are
/// in the audit log.
#[utoipa::path(
    tag = "privacy",
    request_body = PrivacyRequestInput,
    responses(
        (status = 202, body = PrivacyRequest, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/privacy/requests")]
pub async fn start_privacy_request(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<PrivacyRequestInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(crm_core::Scope::PrivacyWrite))?;
    let actor = auth.0;
    let request = state.db.write(move |c| requests::start(c, &actor, input)).await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/privacy/requests/{}", request.id)))
        .json(request))
}

/// The newest data-subject requests (`privacy:read`).
#[utoipa::path(
    tag = "privacy",
    params(crate::rest::imports::ImportsQuery),
    responses(
        (status = 200, body = [PrivacyRequest]),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/privacy/requests")]
pub async fn list_privacy_requests(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<crate::rest::imports::ImportsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(crm_core::Scope::PrivacyRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| requests::list(c, &actor, q.limit)).await?))
}

/// A data-subject request: its status, progress, and what it found and did (`privacy:read`).
#[utoipa::path(
    tag = "privacy",
    params(("id" = JobId, Path, description = "The request's id.")),
    responses(
        (status = 200, body = PrivacyRequest),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/privacy/requests/{id}")]
pub async fn get_privacy_request(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| requests::get(c, &actor, id)).await?))
}

/// Downloads an access request's bundle: one JSON document with the person's records, the
/// records about them, their campaign memberships and messages, web activity, analyses and the
/// history of every record (`privacy:read`; the download is audit-logged). `409
/// BUNDLE_NOT_READY` while the request runs, `409 BUNDLE_GONE` once the person was erased or
/// after 30 days.
#[utoipa::path(
    tag = "privacy",
    params(("id" = JobId, Path, description = "The access request's id.")),
    responses(
        (status = 200, description = "The bundle: one JSON document", body = serde_json::Value),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/privacy/requests/{id}/bundle")]
pub async fn download_privacy_bundle(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    state.db.write(move |c| requests::open_bundle(c, &actor, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"privacy-{id}.json\"")))
        .streaming(crate::rest::exports::job_file(state.db.clone(), id)))
}

/// The restrictions of processing in force, newest first (`privacy:read`).
#[utoipa::path(
    tag = "privacy",
    params(crate::rest::imports::ImportsQuery),
    responses(
        (status = 200, body = [crm_contacts::restrictions::Restriction]),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/privacy/restrictions")]
pub async fn list_restrictions(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<crate::rest::imports::ImportsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(crm_core::Scope::PrivacyRead))?;
    let actor = auth.0;
    let list = state.db.run(move |c| crm_privacy::requests::restrictions(c, &actor, q.limit)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// What a retention policy would archive or erase now, writing nothing (`privacy:read`): the
/// cutoff, how many records it takes, how many it leaves under a legal hold, and the first ids.
#[utoipa::path(
    tag = "privacy",
    params(("id" = RetentionPolicyId, Path, description = "The policy's id.")),
    responses(
        (status = 200, body = RetentionPreview),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/retention-policies/{id}/dry-run")]
pub async fn dry_run_retention_policy(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<RetentionPolicyId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| retention::dry_run(c, &actor, id)).await?))
}

/// Runs a retention policy now, enabled or not, as a job (`privacy:write` and the write scope of
/// its resource): answered 202 with the job to follow at `Location`; its result says what each
/// policy archived or erased and left under a legal hold. Enabled policies also run daily.
#[utoipa::path(
    tag = "privacy",
    params(("id" = RetentionPolicyId, Path, description = "The policy's id.")),
    responses(
        (status = 202, body = crm_records::jobs::Job, headers(("Location" = String))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[post("/retention-policies/{id}/run")]
pub async fn run_retention_policy(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<RetentionPolicyId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let job = state.db.write(move |c| retention::start(c, &actor, id)).await?;
    Ok(HttpResponse::Accepted().insert_header(("Location", format!("/api/v1/jobs/{}", job.id))).json(job))
}
