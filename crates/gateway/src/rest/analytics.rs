//! `/api/v1/analytics`: the analyses of the customer base (docs/ANALYTICS.md): each customer's
//! RFM segment, value, predicted lifetime value and drift, the ranked list, the segmentation,
//! the fitted model, the settings, and the refresh job.

use actix_web::{HttpResponse, get, post, put, web};
use crm_analytics::read::{
    AnalyticsModel, AssociationsQuery, CustomerAnalysisPage, CustomersQuery, ProductAssociation, Segmentation,
};
use crm_analytics::{AnalyticsSettings, CustomerAnalysis, RefreshInput};
use crm_core::Scope;
use crm_core::ids::{AccountId, ContactId, Customer};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// `?fresh=true`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FreshQuery {
    /// Compute the analysis now from the customer's purchases, against the latest refresh's
    /// model, instead of reading the one that refresh stored.
    pub fresh: Option<bool>,
}

async fn one(
    state: web::Data<AppState>,
    auth: Authenticated,
    customer: Customer,
    query: crate::rest::Query<FreshQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::AnalyticsRead))?;
    let actor = auth.0;
    let fresh = q.fresh.unwrap_or(false);
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::customer(c, &actor, customer, fresh)).await?))
}

/// An account's analysis: RFM scores and segment, revenue and margin per currency, predicted
/// purchases, probability alive and lifetime value, and drift reasons, as of the latest
/// refresh (`as_of`; `fresh=true` computes it now). 409 `NOT_ANALYSED` before the first
/// refresh, 409 `NO_PURCHASES` for an account without purchases.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Account id"), FreshQuery),
    responses(
        (status = 200, body = CustomerAnalysis),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)
    )
)]
#[get("/accounts/{id}/analytics")]
pub async fn account_analytics(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
    query: crate::rest::Query<FreshQuery>,
) -> Result<HttpResponse, ApiError> {
    one(state, auth, Customer::Account(id.into_inner()), query).await
}

/// A contact's analysis, for the purchases it made without an account (a B2C base); see the
/// account's.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), FreshQuery),
    responses(
        (status = 200, body = CustomerAnalysis),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)
    )
)]
#[get("/contacts/{id}/analytics")]
pub async fn contact_analytics(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
    query: crate::rest::Query<FreshQuery>,
) -> Result<HttpResponse, ApiError> {
    one(state, auth, Customer::Contact(id.into_inner()), query).await
}

/// The analysed customers of the latest refresh, ranked: by predicted lifetime value (default),
/// revenue, margin (the profitability ranking), recency or probability alive; filtered by
/// segment, drift, main currency or customer type. Keyset pages.
#[utoipa::path(
    tag = "analytics",
    params(CustomersQuery),
    responses(
        (status = 200, body = CustomerAnalysisPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/analytics/customers")]
pub async fn analytics_customers(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<CustomersQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::AnalyticsRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::customers(c, &actor, &q)).await?))
}

/// The base by RFM segment: customers, their share, the drifting ones, and per main currency
/// their revenue, margin and predicted lifetime value.
#[utoipa::path(
    tag = "analytics",
    responses(
        (status = 200, body = Segmentation),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)
    )
)]
#[get("/analytics/segments")]
pub async fn analytics_segments(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::segments(c, &actor)).await?))
}

/// The latest refresh's model: its date and settings, the BG/NBD and Gamma-Gamma parameters
/// with their log-likelihoods, and the edges of the RFM scores.
#[utoipa::path(
    tag = "analytics",
    responses(
        (status = 200, body = AnalyticsModel),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)
    )
)]
#[get("/analytics/model")]
pub async fn analytics_model(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::model(c, &actor)).await?))
}

/// The product associations of the latest refresh (cross-sell rules), strongest first: for
/// each pair, the purchases holding both, support, confidence and lift (definitions in
/// docs/ANALYTICS.md). Needs `products:read` too.
#[utoipa::path(
    tag = "analytics",
    params(AssociationsQuery),
    responses(
        (status = 200, body = [ProductAssociation]),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/analytics/associations")]
pub async fn product_associations(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<AssociationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::AnalyticsRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::associations(c, &actor, &q)).await?))
}

/// Starts a refresh of the whole base as a background job (one instance runs it); answers 202
/// with the job, followed at `Location` (`/jobs/{id}`: rows done, percent, ETA). `as_of`
/// analyses the base as it was at a past moment. Needs `analytics:write`.
#[utoipa::path(
    tag = "analytics",
    request_body = RefreshInput,
    responses(
        (status = 202, body = crm_records::jobs::Job, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/analytics/refresh")]
pub async fn start_analytics_refresh(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<RefreshInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::AnalyticsWrite))?;
    let actor = auth.0;
    let job = state.db.write(move |c| crm_analytics::refresh::start(c, &actor, &input)).await?;
    Ok(HttpResponse::Accepted().insert_header(("Location", format!("/api/v1/jobs/{}", job.id))).json(job))
}

/// The analysis settings: windows, horizon, discount rate, drift thresholds, refresh schedule.
#[utoipa::path(
    tag = "analytics",
    responses((status = 200, body = AnalyticsSettings), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/analytics/settings")]
pub async fn get_analytics_settings(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::settings::get(c, &actor)).await?))
}

/// Replaces the analysis settings (absent fields take their defaults); the next refresh uses
/// them. Needs `analytics:write`.
#[utoipa::path(
    tag = "analytics",
    request_body = AnalyticsSettings,
    responses(
        (status = 200, body = AnalyticsSettings),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[put("/analytics/settings")]
pub async fn set_analytics_settings(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<AnalyticsSettings>,
) -> Result<HttpResponse, ApiError> {
    let settings = body.after(auth.0.require(Scope::AnalyticsWrite))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.write(move |c| crm_analytics::settings::set(c, &actor, settings)).await?))
}
