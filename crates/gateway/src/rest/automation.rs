//! Automation beyond the rules' records (the `/automation-rules` resource of the registry): the
//! run log, dry runs, manual runs and approval requests.

use actix_web::{HttpResponse, get, post, web};
use crm_automation::approvals::{self, ApprovalPage, ApprovalQuery, AutomationApproval, Decision};
use crm_automation::engine::{self, DryRun, ManualRun, Selection};
use crm_automation::runs::{self, AutomationRun, RunPage, RunQuery};
use crm_automation::{ApprovalStatus, RunStatus};
use crm_core::ids::{AutomationRuleId, UserId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// `?rule_id=&record_id=&status=&before=&limit=` on the run log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Only runs of this rule.
    pub rule_id: Option<AutomationRuleId>,
    /// Only runs about this record.
    pub record_id: Option<uuid::Uuid>,
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Only runs older than this one (`next_before` of the previous page).
    pub before: Option<uuid::Uuid>,
    /// Runs per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The run log, newest first: each run's trigger event, its conditions' outcome, each action's
/// result and error.
#[utoipa::path(
    tag = "automation",
    params(RunsQuery),
    responses(
        (status = 200, body = RunPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/automation-runs")]
pub async fn list_automation_runs(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<RunsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(crm_core::Scope::AutomationRead))?;
    let actor = auth.0;
    let query = RunQuery {
        rule_id: q.rule_id,
        record_id: q.record_id,
        status: q.status,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    Ok(HttpResponse::Ok().json(state.db.run(move |c| runs::list(c, &actor, query)).await?))
}

/// One run.
#[utoipa::path(
    tag = "automation",
    params(("id" = uuid::Uuid, Path, description = "Run id")),
    responses(
        (status = 200, body = AutomationRun),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/automation-runs/{id}")]
pub async fn get_automation_run(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| runs::get(c, &actor, id)).await?))
}

/// What the rule would do to the selected records (at most 100): its conditions now and each
/// action run and rolled back, through the same code as a real run. Nothing is written.
#[utoipa::path(
    tag = "automation",
    params(("id" = uuid::Uuid, Path, description = "Rule id")),
    request_body = Selection,
    responses(
        (status = 200, body = DryRun),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/automation-rules/{id}/dry-run")]
pub async fn dry_run_automation_rule(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AutomationRuleId>,
    body: crate::rest::Json<Selection>,
) -> Result<HttpResponse, ApiError> {
    let sel = body.after(auth.0.require(crm_core::Scope::AutomationWrite))?;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| engine::dry_run(c, &actor, id, sel)).await?))
}

/// Runs the rule on the selected records (at most 1000): one run each, queued and executed by
/// the engine as event runs are (`GET /automation-runs?rule_id=…` follows them).
#[utoipa::path(
    tag = "automation",
    params(("id" = uuid::Uuid, Path, description = "Rule id")),
    request_body = Selection,
    responses(
        (status = 202, body = ManualRun),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/automation-rules/{id}/run")]
pub async fn run_automation_rule(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AutomationRuleId>,
    body: crate::rest::Json<Selection>,
) -> Result<HttpResponse, ApiError> {
    let sel = body.after(auth.0.require(crm_core::Scope::AutomationWrite))?;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Accepted().json(state.db.transaction(move |c| engine::run_manually(c, &actor, id, sel)).await?))
}

/// `?status=&approver_id=&rule_id=&record_id=&before=&limit=` on approval requests.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsQuery {
    /// Only requests in this state (`pending`: what is waiting for a decision).
    pub status: Option<ApprovalStatus>,
    /// Only requests addressed to this user.
    pub approver_id: Option<UserId>,
    /// Only requests of this rule.
    pub rule_id: Option<AutomationRuleId>,
    /// Only requests about this record.
    pub record_id: Option<uuid::Uuid>,
    /// Only requests older than this one (`next_before` of the previous page).
    pub before: Option<uuid::Uuid>,
    /// Requests per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Approval requests of paused runs, newest first: every request with `automation:read`, else
/// the caller's own (those addressed to the caller's user).
#[utoipa::path(
    tag = "automation",
    params(ApprovalsQuery),
    responses(
        (status = 200, body = ApprovalPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/automation-approvals")]
pub async fn list_automation_approvals(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ApprovalsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), ApiError>(()))?;
    let actor = auth.0;
    let query = ApprovalQuery {
        status: q.status,
        approver_id: q.approver_id,
        rule_id: q.rule_id,
        record_id: q.record_id,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    Ok(HttpResponse::Ok().json(state.db.run(move |c| approvals::list(c, &actor, query)).await?))
}

/// One approval request (its approver's, or any with `automation:read`).
#[utoipa::path(
    tag = "automation",
    params(("id" = uuid::Uuid, Path, description = "Approval request id")),
    responses(
        (status = 200, body = AutomationApproval),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/automation-approvals/{id}")]
pub async fn get_automation_approval(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| approvals::get(c, &actor, id)).await?))
}

/// Approves (the paused run goes on with its next action) or rejects (it stops) a request; its
/// approver or a holder of `automation:write` decides, once (409 `APPROVAL_DECIDED` after).
#[utoipa::path(
    tag = "automation",
    params(("id" = uuid::Uuid, Path, description = "Approval request id")),
    request_body = Decision,
    responses(
        (status = 200, body = AutomationApproval),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/automation-approvals/{id}/decision")]
pub async fn decide_automation_approval(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<uuid::Uuid>,
    body: crate::rest::Json<Decision>,
) -> Result<HttpResponse, ApiError> {
    // Who may decide at all is known before the body is read: a caller who may not is refused
    // whatever it sent.
    let (actor, id) = (auth.0, id.into_inner());
    let caller = actor.clone();
    let allowed = state.db.run(move |c| approvals::may_decide(c, &caller)).await;
    let decision = body.after(allowed)?;
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| approvals::decide(c, &actor, id, decision)).await?))
}
