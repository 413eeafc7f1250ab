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

/// `POST /{collection}/{id}/merge` of one resource: the generic merge of `crm_records`.
macro_rules! merge_endpoint {
    ($name:ident, $path:literal, $tag:literal, $T:ty, $Id:ty, $doc:literal) => {
        #[doc = $doc]
        ///
        /// The record in the path survives. Each loser's external ids and every record that
        /// pointed at it (interactions, cases, deals, activities, purchases, campaign and segment
        /// memberships, alerts, …) move to it in one transaction, each moved record with a new
        /// version and an event; the losers become archived tombstones (`GET` answers 301 to
        /// the survivor; writes answer 409 `MERGED`), each with a `merged` event naming the
        /// survivor. `fields` chooses, per field, whose value the survivor keeps; the others
        /// keep the survivor's, or the first loser's where the survivor has none. `If-Match`
        /// makes it conditional on the survivor's version. Answers the survivor.
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = uuid::Uuid, Path, description = "The survivor's id"),
                ("If-Match" = Option<String>, Header, description = "The survivor's expected version, e.g. \"3\"")
            ),
            request_body = crm_records::MergeInput,
            responses(
                (status = 200, body = $T, headers(("ETag" = String))),
                (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
                (status = 404, description = "No such survivor", body = Problem),
                (status = 409, description = "The survivor is archived or merged (`ARCHIVED`, `MERGED`), or a value the survivor takes is held by another live record", body = Problem),
                (status = 412, description = "Version conflict", body = Problem),
                (status = 422, description = "No losers, a missing or archived loser, an unknown field, or merged values that break a rule", body = Problem)
            )
        )]
        #[post($path)]
        pub async fn $name(
            req: actix_web::HttpRequest,
            state: web::Data<AppState>,
            auth: Authenticated,
            id: web::Path<$Id>,
            body: crate::rest::Json<crm_records::MergeInput>,
        ) -> Result<HttpResponse, ApiError> {
            let expected = crate::rest::if_match(&req)?;
            let input = body.after(auth.0.require(<$T as crm_records::Record>::WRITE))?;
            let (actor, id) = (auth.0, id.into_inner());
            let r = state.db.transaction(move |c| crm_records::merge::<$T>(c, &actor, id, input, expected)).await?;
            Ok(HttpResponse::Ok()
                .insert_header((actix_web::http::header::ETAG, crate::rest::etag(r.version)))
                .json(&r))
        }
    };
}

merge_endpoint!(
    merge_contacts,
    "/contacts/{id}/merge",
    "contacts",
    crm_contacts::Contact,
    ContactId,
    "Merges duplicate contacts into this one. The survivor also keeps the losers' emails and phones as further ones, and the strictest consent (opt-outs, do-not-call, do-not-mail) unless `fields` chooses."
);
merge_endpoint!(
    merge_accounts,
    "/accounts/{id}/merge",
    "accounts",
    crm_accounts::Account,
    AccountId,
    "Merges duplicate accounts into this one; their contacts move to it too."
);
merge_endpoint!(
    merge_leads,
    "/leads/{id}/merge",
    "leads",
    crm_sales::Lead,
    crm_core::ids::LeadId,
    "Merges duplicate leads into this one."
);
