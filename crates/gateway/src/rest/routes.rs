//! The geographic views, docs/GEO.md: a region's snapshot (`/geo/snapshot`), and a field
//! rep's day of visits, planned (`/routes/plan`) and accepted onto the agenda (`/routes`).

use actix_web::{HttpResponse, get, post, web};
use crm_core::Scope;
use crm_geo::routes::{self, AcceptedRoute, RoutePlan, RoutePlanInput};
use crm_geo::snapshot::{RegionSnapshot, SnapshotQuery};
use crm_geo::suggest::{SuggestQuery, VisitSuggestion};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// A region's snapshot: its open leads, prospects, customers and contacts, its accounts' open
/// deals (and weighted by stage probability) and revenue in a period, in all and per cell of
/// a hexagonal H3 grid at the resolution asked, for maps. The region is one of a box (`bbox`),
/// a circle (`near`), or a `country` narrowed by `region` and `city`. Needs the read scopes of
/// accounts, contacts, sales and products.
#[utoipa::path(
    tag = "geo",
    params(SnapshotQuery),
    responses(
        (status = 200, body = RegionSnapshot),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "No region, two regions, or a bad one", body = Problem)
    )
)]
#[get("/geo/snapshot")]
pub async fn region_snapshot(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<SnapshotQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::SalesRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_geo::snapshot::snapshot(c, &actor, &q)).await?))
}

/// Starts a bulk geocoding as a background job: every account, contact and lead (or those of
/// `resources`) whose address has no coordinates yet is looked up in the gazetteer (with
/// `refresh`, also those geocoded before). Coordinates given by clients or placed by people
/// are never touched. Answers 202 with the job; follow it at `Location` (`/jobs/{id}`). Needs
/// the write scopes of the resources.
#[utoipa::path(
    tag = "geo",
    request_body = crm_geo::geocoding::GeocodeInput,
    responses(
        (status = 202, body = crm_records::jobs::Job, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[post("/geo/geocode")]
pub async fn start_geocoding(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<crm_geo::geocoding::GeocodeInput>,
) -> Result<HttpResponse, ApiError> {
    // The scopes depend on the resources the body names: `start` checks them.
    let input = body.after(Ok::<(), ApiError>(()))?;
    let actor = auth.0;
    let job = state.db.write(move |c| crm_geo::geocoding::start(c, &actor, &input)).await?;
    Ok(HttpResponse::Accepted().insert_header(("Location", format!("/api/v1/jobs/{}", job.id))).json(job))
}

/// "Who should I visit this week": the rep's accounts (`owner_id`, default the caller's user)
/// within `near` of a base, best first: by open deals, a deal closing within 14 days, time
/// since the last visit and nearness (the score is defined in docs/GEO.md), each with its
/// reasons. Feed the chosen ones to `/routes/plan` as stops. Needs the read scopes of
/// accounts, sales and interactions.
#[utoipa::path(
    tag = "geo",
    params(SuggestQuery),
    responses(
        (status = 200, body = [VisitSuggestion]),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/routes/suggestions")]
pub async fn visit_suggestions(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<SuggestQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::SalesRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_geo::suggest::suggest(c, &actor, &q)).await?))
}

/// Plans a day of visits: the order of the stops (accounts and contacts at their locations,
/// or points), each with an optional window for the start of the visit and its length, from a
/// start to an end, at a travel speed over straight-line distance × a detour factor. Stops
/// that cannot fit are listed with the reason. The same input gives the same plan. Needs
/// `sales:read`, and the read scope of the records named.
#[utoipa::path(
    tag = "geo",
    request_body = RoutePlanInput,
    responses(
        (status = 200, body = RoutePlan),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Bad input, or a named record that does not exist", body = Problem)
    )
)]
#[post("/routes/plan")]
pub async fn plan_route(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<RoutePlanInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::SalesRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.blocking(move |db| routes::plan(db, &actor, &input)).await?))
}

/// Plans the day as `/routes/plan` does and puts each visit on the rep's agenda (`user_id`,
/// default the caller) as a meeting due at the visit's start, in one transaction. Needs
/// `sales:write`.
#[utoipa::path(
    tag = "geo",
    request_body = RoutePlanInput,
    responses(
        (status = 201, body = AcceptedRoute),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/routes")]
pub async fn accept_route(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<RoutePlanInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::SalesWrite))?;
    let actor = auth.0;
    Ok(HttpResponse::Created().json(state.db.blocking(move |db| routes::accept(db, &actor, &input)).await?))
}
