//! Duplicate detection: a record's likely duplicates, the scan job over the whole base, its
//! pairs best first, and the matching rules.

use actix_web::{HttpResponse, get, post, put, web};
use crm_core::ids::{AccountId, ContactId, EntityId};
use crm_quality::matching::{self, Candidate, DuplicateResource};
use crm_quality::scan::{self, DuplicatePairPage, ScanInput};
use crm_quality::settings::{self, DuplicateSettings};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// The contacts that may be the same person: sharing an email or a phone, of the same account
/// with a similar name, or in the same city with the same family name and a similar name; each
/// with its score and the rules it matched, best first (those scoring at least the settings'
/// `min_score`).
#[utoipa::path(
    tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses((status = 200, body = [Candidate]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/contacts/{id}/duplicates")]
pub async fn contact_duplicates(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| matching::contact_duplicates(c, &actor, id.uuid())).await?))
}

/// The accounts that may be the same company: the same domain, or a similar name (legal forms
/// ignored) in the same country; best first.
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, body = [Candidate]), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/accounts/{id}/duplicates")]
pub async fn account_duplicates(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| matching::account_duplicates(c, &actor, id.uuid())).await?))
}

/// `?resource=contacts&min_score=0.8&limit=100&after=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PairsQuery {
    pub resource: DuplicateResource,
    /// Only pairs scoring at least this (0 to 1).
    pub min_score: Option<f64>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_after` of the previous page.
    pub after: Option<String>,
}

/// The pairs the last scan found (`POST /duplicates/scan`), best first.
#[utoipa::path(
    tag = "duplicates",
    params(PairsQuery),
    responses((status = 200, body = DuplicatePairPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[get("/duplicates")]
pub async fn duplicate_pairs(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<PairsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), crm_core::actor::Forbidden>(()))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(
        state.db.run(move |c| scan::pairs(c, &actor, q.resource, q.min_score, q.limit, q.after.as_deref())).await?,
    ))
}

/// Scans the whole base for duplicates as a background job (contacts and accounts, or those
/// of `resources`), replacing the previous scan's pairs. Answers 202 with the job
/// (`/jobs/{id}`). Needs the write scopes of what it scans.
#[utoipa::path(
    tag = "duplicates",
    request_body = ScanInput,
    responses(
        (status = 202, body = crm_records::jobs::Job, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[post("/duplicates/scan")]
pub async fn start_duplicate_scan(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<ScanInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(Ok::<(), ApiError>(()))?;
    let actor = auth.0;
    let job = state.db.write(move |c| scan::start(c, &actor, &input)).await?;
    Ok(HttpResponse::Accepted().insert_header(("Location", format!("/api/v1/jobs/{}", job.id))).json(job))
}

/// The matching rules: each rule's weight and whether it runs, the name similarity that
/// counts, and the score a pair needs to be listed.
#[utoipa::path(
    tag = "duplicates",
    responses((status = 200, body = DuplicateSettings), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/duplicates/settings")]
pub async fn get_duplicate_settings(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| settings::get(c, &actor)).await?))
}

/// Replaces the matching rules (admins); the next lookups and scans use them.
#[utoipa::path(
    tag = "duplicates",
    request_body = DuplicateSettings,
    responses((status = 200, body = DuplicateSettings), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[put("/duplicates/settings")]
pub async fn set_duplicate_settings(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<DuplicateSettings>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(crm_core::Scope::UsersWrite))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.write(move |c| settings::set(c, &actor, input)).await?))
}
