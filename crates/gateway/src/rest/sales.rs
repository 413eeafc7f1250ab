//! Sales endpoints beyond one record's CRUD: lead capture and conversion, assignment and
//! scoring rules, stage history and deal assessment, target coverage, forecast and reports.

use actix_web::{HttpResponse, get, post, put, web};
use crm_core::ids::{LeadId, OpportunityId, PipelineId, TargetListId, UserId};
use crm_sales::{
    Assessment, AssignmentRules, CaptureInput, CaptureOutcome, CaptureReceipt, ConvertInput, ConvertResult, Coverage,
    Forecast, GroupBy, SalesReport, ScoringRules, StageVisit,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// Take a web-form submission. Meant for a token with only `leads:capture` (kept in the
/// website's backend). The answer says where the submission went, never what a lead holds.
/// A submission whose email belongs to a lead never makes a duplicate: an open lead gets the
/// details it lacked, a disqualified one is reopened, a converted one gets the message logged
/// on its contact. New leads go through the assignment and scoring rules.
#[utoipa::path(
    tag = "sales",
    request_body = CaptureInput,
    responses(
        (status = 201, description = "A new lead", body = CaptureReceipt),
        (status = 200, description = "An existing lead took the submission", body = CaptureReceipt),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/leads/capture")]
pub async fn capture_lead(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<CaptureInput>,
) -> Result<HttpResponse, ApiError> {
    let form = body.after(crm_sales::leads::authorize_capture(&auth.0))?;
    let actor = auth.0;
    let receipt = state.db.transaction(move |c| crm_sales::leads::capture(c, &actor, form)).await?;
    if receipt.outcome == CaptureOutcome::Created {
        return Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/leads/{}", receipt.lead_id)))
            .json(receipt));
    }
    Ok(HttpResponse::Ok().json(receipt))
}

/// Convert a lead into an account and a contact (matched by domain and email, or created), and
/// optionally an opportunity, in one transaction. Converting twice is
/// `409 LEAD_ALREADY_CONVERTED`. Needs `sales:write`, `accounts:write` and `contacts:write`.
#[utoipa::path(
    tag = "sales",
    params(("id" = uuid::Uuid, Path, description = "Lead id")),
    request_body = ConvertInput,
    responses(
        (status = 200, body = ConvertResult),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Already converted, or disqualified", body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/leads/{id}/convert")]
pub async fn convert_lead(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<LeadId>,
    body: crate::rest::Json<ConvertInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(crm_sales::leads::authorize_convert(&auth.0))?;
    let (actor, id) = (auth.0, id.into_inner());
    let r = state.db.transaction(move |c| crm_sales::leads::convert(c, &actor, id, input)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// The lead assignment rules, in order.
#[utoipa::path(tag = "sales", responses((status = 200, body = AssignmentRules), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/lead-assignment-rules")]
pub async fn get_assignment_rules(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_sales::leads::get_assignment_rules(c, &actor)).await?))
}

/// Replace the lead assignment rules. Tried in order on every new lead without an owner: the
/// first rule whose conditions (country, region, source) match and that finds an active user of
/// its team assigns, by `round_robin`, `territory` (in turn, users whose territory is a
/// territory of `/territories` that holds the lead, or the lead's country or region) or
/// `least_open` (fewest open leads).
#[utoipa::path(
    tag = "sales",
    request_body = AssignmentRules,
    responses((status = 200, body = AssignmentRules), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[put("/lead-assignment-rules")]
pub async fn set_assignment_rules(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<AssignmentRules>,
) -> Result<HttpResponse, ApiError> {
    let rules = body.after(auth.0.require(crm_core::Scope::SalesWrite))?;
    let actor = auth.0;
    let r = state.db.transaction(move |c| crm_sales::leads::set_assignment_rules(c, &actor, rules)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// The sales territories, in order.
#[utoipa::path(tag = "sales", responses((status = 200, body = crm_sales::leads::Territories), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/territories")]
pub async fn get_territories(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_sales::leads::get_territories(c, &actor)).await?))
}

/// Replace the sales territories. Each is a box, a circle, a list of cities or of postal-code
/// prefixes (in a country), or a whole country. A user whose `territory` is a territory's
/// name covers it: the `territory` strategy of the lead assignment rules gives a new lead to
/// the users covering a territory that holds it (or its country or region by name).
#[utoipa::path(
    tag = "sales",
    request_body = crm_sales::leads::Territories,
    responses((status = 200, body = crm_sales::leads::Territories), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[put("/territories")]
pub async fn set_territories(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<crm_sales::leads::Territories>,
) -> Result<HttpResponse, ApiError> {
    let t = body.after(auth.0.require(crm_core::Scope::SalesWrite))?;
    let actor = auth.0;
    let r = state.db.transaction(move |c| crm_sales::leads::set_territories(c, &actor, t)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// The lead scoring rules.
#[utoipa::path(tag = "sales", responses((status = 200, body = ScoringRules), (status = 401, body = Problem), (status = 403, body = Problem)))]
#[get("/lead-scoring-rules")]
pub async fn get_scoring_rules(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_sales::leads::get_scoring_rules(c, &actor)).await?))
}

/// Replace the lead scoring rules; every open lead is rescored (each change is an event).
#[utoipa::path(
    tag = "sales",
    request_body = ScoringRules,
    responses((status = 200, body = ScoringRules), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[put("/lead-scoring-rules")]
pub async fn set_scoring_rules(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<ScoringRules>,
) -> Result<HttpResponse, ApiError> {
    let rules = body.after(auth.0.require(crm_core::Scope::SalesWrite))?;
    let actor = auth.0;
    let r = state.db.transaction(move |c| crm_sales::leads::set_scoring_rules(c, &actor, rules)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// A deal's stages, oldest first, with the probability each had when the deal entered it and
/// the days spent there.
#[utoipa::path(
    tag = "sales",
    params(("id" = uuid::Uuid, Path, description = "Opportunity id")),
    responses((status = 200, body = Vec<StageVisit>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/opportunities/{id}/stages")]
pub async fn opportunity_stages(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<OpportunityId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_sales::opportunities::stage_history(c, &actor, id)).await?))
}

/// How a deal looks: time in stage against the stage's norm, close date, days since the last
/// interaction.
#[utoipa::path(
    tag = "sales",
    params(("id" = uuid::Uuid, Path, description = "Opportunity id")),
    responses((status = 200, body = Assessment), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/opportunities/{id}/assessment")]
pub async fn opportunity_assessment(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<OpportunityId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let mut found = state.db.run(move |c| crm_sales::opportunities::assess(c, &actor, &[id])).await?;
    let a = found.pop().ok_or_else(|| ApiError::not_found("opportunity not found"))?;
    Ok(HttpResponse::Ok().json(a))
}

/// A target list's coverage: open pipeline, weighted pipeline and won against the goal.
#[utoipa::path(
    tag = "sales",
    params(("id" = uuid::Uuid, Path, description = "Target list id")),
    responses((status = 200, body = Coverage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem))
)]
#[get("/target-lists/{id}/coverage")]
pub async fn target_list_coverage(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<TargetListId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_sales::targets::coverage(c, &actor, id)).await?))
}

/// `?period=2026-Q4&group_by=owner`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// `2026-Q4`, `2026-11` or `2026`.
    #[param(
        pattern = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(-Q[1-4]|-(0[1-9]|1[0-2]))?$"
    )]
    pub period: String,
    /// `owner` (default), `team` or `pipeline`.
    pub group_by: Option<GroupBy>,
}

/// The forecast of a period per owner, team or pipeline: closed won, commit, best case,
/// pipeline, weighted, and the quota when one is set.
#[utoipa::path(
    tag = "sales",
    params(ForecastQuery),
    responses((status = 200, body = Forecast), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[get("/forecast")]
pub async fn forecast(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ForecastQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(crm_core::Scope::SalesRead))?;
    let actor = auth.0;
    let by = q.group_by.unwrap_or(GroupBy::Owner);
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_sales::reports::forecast(c, &actor, &q.period, by)).await?))
}

/// `?period=2026-Q4[&owner_id=][&pipeline_id=]`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `2026-Q4`, `2026-11` or `2026`.
    #[param(
        pattern = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(-Q[1-4]|-(0[1-9]|1[0-2]))?$"
    )]
    pub period: String,
    /// Only this owner's deals and activities.
    pub owner_id: Option<UserId>,
    /// Only this pipeline's deals.
    pub pipeline_id: Option<PipelineId>,
}

/// Win rate, average deal size, sales cycle length, pipeline velocity, the stage funnel and
/// activities done per rep, for a period.
#[utoipa::path(
    tag = "sales",
    params(ReportQuery),
    responses((status = 200, body = SalesReport), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem))
)]
#[get("/reports/sales")]
pub async fn sales_report(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(crm_core::Scope::SalesRead))?;
    let actor = auth.0;
    let r = state
        .db
        .run(move |c| crm_sales::reports::sales_report(c, &actor, &q.period, q.owner_id, q.pipeline_id))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}
