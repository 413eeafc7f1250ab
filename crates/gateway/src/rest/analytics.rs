//! `/api/v1/analytics`: the analyses of the customer base (docs/ANALYTICS.md): each customer's
//! RFM segment, value, predicted lifetime value and drift, the ranked list, the segmentation,
//! the fitted model, the settings, and the refresh job.

use actix_web::{HttpResponse, get, post, put, web};
use crm_analytics::actions::NextBestActions;
use crm_analytics::alerts::{Alert, AlertPage, AlertStatus, AlertsQuery};
use crm_analytics::read::{
    AnalyticsModel, AssociationsQuery, CustomerAnalysisPage, CustomerTrends, CustomersQuery, ProductAssociation,
    Segmentation,
};
use crm_analytics::trends::Dimension;
use crm_analytics::voice::VoiceOfCustomer;
use crm_analytics::web::{Identified, IdentifyInput, TrackInput, Tracked, WebActivity};
use crm_analytics::{AnalyticsSettings, CustomerAnalysis, RefreshInput};
use crm_core::Scope;
use crm_core::ids::{AccountId, AlertId, ContactId, Customer};
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

/// `?by=segment`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ByQuery {
    /// `segment` (RFM, the default), `tier`, `industry`, `country`, `region` or
    /// `lifecycle_stage`.
    pub by: Option<Dimension>,
}

/// The base by a dimension (RFM segment by default): customers, their share, the drifting
/// ones, and per main currency their revenue, margin and predicted lifetime value; the base's
/// repeat rate.
#[utoipa::path(
    tag = "analytics",
    params(ByQuery),
    responses(
        (status = 200, body = Segmentation),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/analytics/segments")]
pub async fn analytics_segments(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ByQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::AnalyticsRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::segments(c, &actor, q.by)).await?))
}

/// Customer trends: each of the last 12 months' revenue, margin, orders and buying customers
/// per group of a dimension (RFM segment by default), as of the latest refresh. They are
/// stored for the whole base: a caller who does not see every account and contact (under a
/// sharing rule) is answered `403 WHOLE_BASE_ONLY`.
#[utoipa::path(
    tag = "analytics",
    params(ByQuery),
    responses(
        (status = 200, body = CustomerTrends),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "Without `analytics:read`, or `WHOLE_BASE_ONLY`: the caller does not see every account and contact", body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/analytics/trends")]
pub async fn analytics_trends(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ByQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::AnalyticsRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::read::trends(c, &actor, q.by)).await?))
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

/// Sales-intelligence alerts, newest first: drifting customers, cross-sell opportunities,
/// margins below the threshold, reps behind their quota's pace. `owner=me` gives the caller's
/// own (`status` default `open`).
#[utoipa::path(
    tag = "analytics",
    params(AlertsQuery),
    responses(
        (status = 200, body = AlertPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/alerts")]
pub async fn list_alerts(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<AlertsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::AnalyticsRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::alerts::list(c, &actor, &q)).await?))
}

async fn close_alert(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: AlertId,
    to: AlertStatus,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| crm_analytics::alerts::close(c, &actor, id, to)).await?))
}

/// Acknowledges an open alert (its owner, or an admin): the owner acts on it. It is not raised
/// again within the cool-down. An `alert.updated` event.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Alert id")),
    responses(
        (status = 200, body = Alert),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "The alert is not open", body = Problem)
    )
)]
#[post("/alerts/{id}/acknowledge")]
pub async fn acknowledge_alert(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AlertId>,
) -> Result<HttpResponse, ApiError> {
    close_alert(state, auth, id.into_inner(), AlertStatus::Acknowledged).await
}

/// Dismisses an open alert (its owner, or an admin): not worth acting on. It is not raised
/// again within the cool-down. An `alert.updated` event.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Alert id")),
    responses(
        (status = 200, body = Alert),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "The alert is not open", body = Problem)
    )
)]
#[post("/alerts/{id}/dismiss")]
pub async fn dismiss_alert(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AlertId>,
) -> Result<HttpResponse, ApiError> {
    close_alert(state, auth, id.into_inner(), AlertStatus::Dismissed).await
}

async fn actions(
    state: web::Data<AppState>,
    auth: Authenticated,
    customer: Customer,
) -> Result<HttpResponse, ApiError> {
    auth.0.require(Scope::AnalyticsRead)?;
    let actor = auth.0;
    Ok(HttpResponse::Ok()
        .json(state.db.run(move |c| crm_analytics::actions::next_best_actions(c, &actor, customer)).await?))
}

/// The next best actions for an account now, ranked with their reasons: resolve an open
/// complaint, follow up a case, call to reactivate, offer a product, or nothing (offers are held
/// back by an open complaint or the contacts' marketing opt-out, and listed as `suppressed`).
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses(
        (status = 200, body = NextBestActions),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}/next-best-actions")]
pub async fn account_next_best_actions(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    actions(state, auth, Customer::Account(id.into_inner())).await
}

/// The next best actions for a contact now; see the account's.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, body = NextBestActions),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/contacts/{id}/next-best-actions")]
pub async fn contact_next_best_actions(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    actions(state, auth, Customer::Contact(id.into_inner())).await
}

async fn voice(state: web::Data<AppState>, auth: Authenticated, customer: Customer) -> Result<HttpResponse, ApiError> {
    auth.0.require(Scope::AnalyticsRead)?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::voice::voice(c, &actor, customer)).await?))
}

/// The voice of an account: its cases by type and priority (open and in all), its complaints,
/// the CSAT of its cases and the NPS answers logged with its interactions, in all and per month
/// over the last 12 months. Needs `cases:read` and `interactions:read` too.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses(
        (status = 200, body = VoiceOfCustomer),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}/voice")]
pub async fn account_voice(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    voice(state, auth, Customer::Account(id.into_inner())).await
}

/// The voice of a contact (its own cases and the interactions it took part in); see the
/// account's.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, body = VoiceOfCustomer),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/contacts/{id}/voice")]
pub async fn contact_voice(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    voice(state, auth, Customer::Contact(id.into_inner())).await
}

/// Takes a batch of 1 to 500 web events (page views, downloads, form views) from a website's
/// backend, each under the website's anonymous visitor id; an event with a `contact_id`
/// identifies its visitor. All or nothing: a bad event is a 422 naming it. Needs `web:track`.
#[utoipa::path(
    tag = "analytics",
    request_body = TrackInput,
    responses(
        (status = 200, body = Tracked),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/web/events")]
pub async fn track_web(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<TrackInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::WebTrack))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| crm_analytics::web::track(c, &actor, input)).await?))
}

/// Identifies a visitor as a contact (after a login, a form, a tracked click): its events so far
/// and from now on are the contact's. The latest identification wins. Needs `web:track`.
#[utoipa::path(
    tag = "analytics",
    request_body = IdentifyInput,
    responses(
        (status = 200, body = Identified),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/web/identify")]
pub async fn identify_visitor(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<IdentifyInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::WebTrack))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| crm_analytics::web::identify(c, &actor, input)).await?))
}

/// A contact's behaviour on the web: its identified visitors, its events by kind (kept and in
/// the last 30 days), when it was last seen, and the 20 newest events.
#[utoipa::path(
    tag = "analytics",
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, body = WebActivity),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/contacts/{id}/web-activity")]
pub async fn contact_web_activity(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    auth.0.require(Scope::AnalyticsRead)?;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_analytics::web::activity(c, &actor, id)).await?))
}
