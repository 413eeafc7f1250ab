//! Approvals: a `request_approval` action pauses its run and asks a user to decide. Approving
//! makes the run due again (it goes on with the next action); rejecting stops it; a request
//! nobody decides before it expires stops it too. Each request is decided once. Shared by REST
//! and GraphQL.

use chrono::NaiveDateTime;
use crm_core::ids::{AutomationRuleId, UserId};
use crm_core::{Actor, Scope, Timestamp, wire_enum};
use crm_db::schema::{automation_approvals as a, automation_runs as r};
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actions::{StepResult, StepStatus};
use crate::runs::RunStatus;

wire_enum!(
    /// Where an approval request stands.
    ApprovalStatus {
        /// Waiting for the approver.
        Pending = "pending",
        /// Approved: the run went on.
        Approved = "approved",
        /// Rejected: the run stopped.
        Rejected = "rejected",
        /// Nobody decided before `expires_at`: the run stopped.
        Expired = "expired",
    }
);

wire_enum!(
    /// An approver's answer.
    Verdict {
        /// The run goes on with its next action.
        Approve = "approve",
        /// The run stops.
        Reject = "reject",
    }
);

/// A request to approve what a run is about to do.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct AutomationApproval {
    pub id: uuid::Uuid,
    /// The paused run (`GET /automation-runs/{id}`).
    pub run_id: uuid::Uuid,
    pub rule_id: AutomationRuleId,
    /// The `request_approval` action's place in the rule (1-based).
    pub step: String,
    /// The record the run is about.
    pub entity: String,
    pub record_id: uuid::Uuid,
    /// Who is asked to decide.
    pub approver_id: UserId,
    /// What is asked, with the record's values filled in.
    pub reason: String,
    pub status: ApprovalStatus,
    /// Who decided (the subject of the caller's token).
    pub decided_by: Option<String>,
    /// The decider's words.
    pub comment: Option<String>,
    pub created_at: Timestamp,
    /// When the run stops if nobody has decided.
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// An approver's decision.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "AutomationDecision"))]
pub struct Decision {
    pub decision: Verdict,
    /// Why (at most 2000 characters); kept on the request and in the run's log.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A page of approval requests, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationApprovalPage"))]
pub struct ApprovalPage {
    pub data: Vec<AutomationApproval>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<uuid::Uuid>,
}

/// What an approval list selects.
#[derive(Clone, Debug, Default)]
pub struct ApprovalQuery {
    pub status: Option<ApprovalStatus>,
    pub approver_id: Option<UserId>,
    pub rule_id: Option<AutomationRuleId>,
    pub record_id: Option<uuid::Uuid>,
    pub before: Option<uuid::Uuid>,
    pub limit: u32,
}

macro_rules! columns {
    () => {
        (
            a::id,
            a::run_id,
            a::rule_id,
            a::step,
            a::entity,
            a::record_id,
            a::approver_id,
            a::reason,
            a::status,
            a::decided_by,
            a::comment,
            a::created_at,
            a::expires_at,
            a::decided_at,
        )
    };
}

type Row = (
    DbUuid,
    DbUuid,
    DbUuid,
    String,
    String,
    DbUuid,
    DbUuid,
    String,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn to_approval(row: Row) -> AutomationApproval {
    AutomationApproval {
        id: row.0.0,
        run_id: row.1.0,
        rule_id: AutomationRuleId(row.2.0),
        step: row.3,
        entity: row.4,
        record_id: row.5.0,
        approver_id: UserId(row.6.0),
        reason: row.7,
        status: ApprovalStatus::parse(&row.8).unwrap_or(ApprovalStatus::Expired),
        decided_by: row.9,
        comment: row.10,
        created_at: to_utc(row.11),
        expires_at: to_utc(row.12),
        decided_at: row.13.map(to_utc),
    }
}

/// Most requests on a page.
const MAX_PAGE: u32 = 500;

/// Who may see and decide every request (`automation:read` / `automation:write`), or else the
/// caller's user: an approver sees and decides the requests addressed to them.
fn approver_of(conn: &mut AnyConnection, actor: &Actor, scope: Scope) -> Result<Option<UserId>, RecordError> {
    if actor.has(scope) {
        return Ok(None);
    }
    // The caller's active user as it is (no user is provisioned by reading or deciding).
    match crm_users::user_by_subject(conn, &actor.sub)?.filter(|u| u.active && u.archived_at.is_none()) {
        Some(u) => Ok(Some(u.id)),
        None => Err(crm_core::actor::Forbidden { missing: scope }.into()),
    }
}

/// Whether `actor` may decide approval requests at all (before its request is read): it holds
/// `automation:write`, or it is a user (who decides the requests addressed to them).
pub fn may_decide(conn: &mut AnyConnection, actor: &Actor) -> Result<(), RecordError> {
    approver_of(conn, actor, Scope::AutomationWrite).map(|_| ())
}

/// Approval requests, newest first: all of them with `automation:read`, else those addressed
/// to the caller.
pub fn list(conn: &mut AnyConnection, actor: &Actor, query: ApprovalQuery) -> Result<ApprovalPage, RecordError> {
    let mine = approver_of(conn, actor, Scope::AutomationRead)?;
    let limit = crm_core::list::page_size(query.limit, MAX_PAGE)?;
    let mut q = a::table.select(columns!()).into_boxed::<crm_db::MultiBackend>();
    if let Some(u) = mine {
        q = q.filter(a::approver_id.eq(DbUuid(u.0)));
    }
    if let Some(u) = query.approver_id {
        q = q.filter(a::approver_id.eq(DbUuid(u.0)));
    }
    if let Some(s) = query.status {
        q = q.filter(a::status.eq(s.as_str()));
    }
    if let Some(rule) = query.rule_id {
        q = q.filter(a::rule_id.eq(DbUuid(rule.0)));
    }
    if let Some(record) = query.record_id {
        q = q.filter(a::record_id.eq(DbUuid(record)));
    }
    if let Some(b) = query.before {
        q = q.filter(a::id.lt(DbUuid(b)));
    }
    let mut rows: Vec<Row> = q.order(a::id.desc()).limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<AutomationApproval> = rows.into_iter().map(to_approval).collect();
    Ok(ApprovalPage { next_before: if more { data.last().map(|d| d.id) } else { None }, data })
}

fn read(conn: &mut AnyConnection, id: uuid::Uuid) -> Result<Option<AutomationApproval>, RecordError> {
    let row: Option<Row> = a::table.filter(a::id.eq(DbUuid(id))).select(columns!()).first(conn).optional()?;
    Ok(row.map(to_approval))
}

/// One request (to its approver, or with `automation:read`).
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid) -> Result<AutomationApproval, RecordError> {
    let mine = approver_of(conn, actor, Scope::AutomationRead)?;
    match read(conn, id)? {
        Some(x) if mine.is_none_or(|u| u == x.approver_id) => Ok(x),
        _ => Err(RecordError::NotFound { entity: "automation approval" }),
    }
}

/// A new request for run `run`, paused at `step`, in the run's transaction.
pub(crate) struct NewApproval<'a> {
    pub run: uuid::Uuid,
    pub rule: uuid::Uuid,
    pub step: &'a str,
    pub entity: &'a str,
    pub record: uuid::Uuid,
    pub approver: UserId,
    pub reason: &'a str,
    pub expires_at: NaiveDateTime,
}

pub(crate) fn create(conn: &mut AnyConnection, n: NewApproval<'_>) -> Result<uuid::Uuid, RecordError> {
    let id = uuid::Uuid::now_v7();
    diesel::insert_into(a::table)
        .values((
            a::id.eq(DbUuid(id)),
            a::run_id.eq(DbUuid(n.run)),
            a::rule_id.eq(DbUuid(n.rule)),
            a::step.eq(n.step),
            a::entity.eq(n.entity),
            a::record_id.eq(DbUuid(n.record)),
            a::approver_id.eq(DbUuid(n.approver.0)),
            a::reason.eq(n.reason),
            a::status.eq(ApprovalStatus::Pending.as_str()),
            a::created_at.eq(crm_db::now()),
            a::expires_at.eq(n.expires_at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Closes the pending request of run `run` as `status` (a decision, or expiry); false when it
/// was closed already (decided first by someone else).
fn close(
    conn: &mut AnyConnection,
    filter: (Option<uuid::Uuid>, uuid::Uuid),
    status: ApprovalStatus,
    by: Option<&str>,
    comment: Option<&str>,
) -> Result<bool, RecordError> {
    let now = crm_db::now();
    let (id, run) = filter;
    let set = (a::status.eq(status.as_str()), a::decided_by.eq(by), a::comment.eq(comment), a::decided_at.eq(now));
    let open = a::table.filter(a::run_id.eq(DbUuid(run))).filter(a::status.eq(ApprovalStatus::Pending.as_str()));
    let n = match id {
        Some(id) => diesel::update(open.filter(a::id.eq(DbUuid(id)))).set(set).execute(conn)?,
        None => diesel::update(open).set(set).execute(conn)?,
    };
    Ok(n == 1)
}

/// Run `run` waited past its request's expiry: the request expires (false when it was decided
/// meanwhile).
pub(crate) fn expire(conn: &mut AnyConnection, run: uuid::Uuid) -> Result<bool, RecordError> {
    close(conn, (None, run), ApprovalStatus::Expired, None, None)
}

/// Decides request `id`: its approver or a holder of `automation:write` approves (the run is
/// due again and goes on with its next action) or rejects (the run stops). 409
/// `APPROVAL_DECIDED` when it was decided or expired already.
pub fn decide(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: uuid::Uuid,
    decision: Decision,
) -> Result<AutomationApproval, RecordError> {
    let mine = approver_of(conn, actor, Scope::AutomationWrite)?;
    let comment = decision.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(RecordError::invalid("automation_approval", "comment", "too_long", "at most 2000 characters"));
    }
    let Some(req) = read(conn, id)?.filter(|x| mine.is_none_or(|u| u == x.approver_id)) else {
        return Err(RecordError::NotFound { entity: "automation approval" });
    };
    let status = match decision.decision {
        Verdict::Approve => ApprovalStatus::Approved,
        Verdict::Reject => ApprovalStatus::Rejected,
    };
    if !close(conn, (Some(id), req.run_id), status, Some(&actor.sub), comment)? {
        return Err(RecordError::Conflict {
            entity: "automation_approval",
            code: "APPROVAL_DECIDED",
            reason: "this request was decided or expired already".into(),
        });
    }
    let now = crm_db::now();
    let prior: DbJson = r::table.filter(r::id.eq(DbUuid(req.run_id))).select(r::steps).first(conn)?;
    let mut steps: Vec<StepResult> = serde_json::from_value(prior.0).unwrap_or_default();
    steps.push(StepResult {
        step: req.step.clone(),
        action: "request_approval".into(),
        status: match status {
            ApprovalStatus::Approved => StepStatus::Done,
            _ => StepStatus::Rejected,
        },
        detail: serde_json::json!({ "approval_id": id, "decision": status, "decided_by": actor.sub, "comment": comment }),
        error: None,
    });
    let steps = DbJson(serde_json::to_value(&steps).unwrap_or_default());
    // The run leaves `awaiting_approval` whatever an engine instance holds (a lease taken to
    // expire it): that instance's conditional finish then fails and rolls back.
    let run = r::table.filter(r::id.eq(DbUuid(req.run_id))).filter(r::status.eq(RunStatus::AwaitingApproval.as_str()));
    let lease_free = (r::lease_owner.eq(None::<String>), r::lease_until.eq(None::<NaiveDateTime>));
    match status {
        ApprovalStatus::Approved => {
            diesel::update(run)
                .set((r::status.eq(RunStatus::Pending.as_str()), r::due_at.eq(now), r::steps.eq(steps), lease_free))
                .execute(conn)?;
        }
        _ => {
            let why = match comment {
                Some(c) => format!("rejected by {}: {c}", actor.sub),
                None => format!("rejected by {}", actor.sub),
            };
            diesel::update(run)
                .set((
                    r::status.eq(RunStatus::Stopped.as_str()),
                    r::error.eq(why),
                    r::finished_at.eq(now),
                    r::steps.eq(steps),
                    lease_free,
                ))
                .execute(conn)?;
        }
    }
    read(conn, id)?.ok_or(RecordError::NotFound { entity: "automation approval" })
}

/// Deletes the requests of the runs that ended before `cutoff` (before the runs themselves).
pub(crate) fn purge_before(conn: &mut AnyConnection, cutoff: NaiveDateTime) -> Result<usize, crm_db::DbError> {
    let ended = r::table.filter(r::finished_at.is_not_null()).filter(r::finished_at.lt(cutoff)).select(r::id);
    Ok(diesel::delete(a::table.filter(a::run_id.eq_any(ended))).execute(conn)?)
}
