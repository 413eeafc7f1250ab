//! The run log: every run of a rule, with its trigger event, its conditions' outcome and each
//! action's result. Shared by REST and GraphQL.

use crm_core::ids::AutomationRuleId;
use crm_core::{Actor, Long, Scope, Timestamp, wire_enum};
use crm_db::schema::automation_runs as r;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actions::StepResult;

wire_enum!(
    /// Where a run stands.
    RunStatus {
        /// Due: an instance will execute it.
        Pending = "pending",
        /// Paused by a `wait` until `due_at`.
        Waiting = "waiting",
        /// Paused by `request_approval` until the approver decides (or the request expires at
        /// `due_at`).
        AwaitingApproval = "awaiting_approval",
        /// Every action ran.
        Succeeded = "succeeded",
        /// An action failed (its segment's writes were rolled back), or the run could not start
        /// (a chain of rules too deep).
        Failed = "failed",
        /// Stopped before its end: the approval was rejected or expired, or the sequence's
        /// person replied, converted or opted out (see `error`).
        Stopped = "stopped",
        /// Not run: the conditions did not hold, the hourly rate was reached, or the rule was
        /// turned off first (see `error`).
        Skipped = "skipped",
    }
);

/// One condition's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationCondition"))]
pub struct ConditionOutcome {
    /// `filter` (the record as it was matched), `before_filter` (the record before the update)
    /// or `change` (a change condition, comparing before with after).
    pub condition: String,
    /// The condition's text.
    pub expression: String,
    /// Whether it held (null: not evaluated, e.g. `before_filter` in a manual run).
    pub held: Option<bool>,
}

/// A run of a rule on one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct AutomationRun {
    pub id: uuid::Uuid,
    pub rule_id: AutomationRuleId,
    /// The rule's version when the run was made (its history holds that version).
    pub rule_version: i64,
    /// `event` or `manual`.
    pub trigger: String,
    /// The triggering event's position in the change feed, id and type (event runs).
    pub event_seq: Option<Long>,
    pub event_id: Option<uuid::Uuid>,
    pub event_type: Option<String>,
    /// The record the run is about.
    pub entity: String,
    pub record_id: uuid::Uuid,
    /// Who caused it: the event's actor (`automation:<rule>` when another rule's write did), or
    /// the caller of a manual run.
    pub caused_by: String,
    /// 0 for a change made by a person or an integration; one more for each rule in a chain.
    pub depth: i64,
    pub status: RunStatus,
    pub conditions: Vec<ConditionOutcome>,
    /// Each action's outcome, in order.
    pub steps: Vec<StepResult>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// When it is (or was last) due.
    pub due_at: Timestamp,
    /// Executions so far (a wait makes two).
    pub attempts: i64,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// A page of runs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationRunPage"))]
pub struct RunPage {
    pub data: Vec<AutomationRun>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<uuid::Uuid>,
}

macro_rules! run_columns {
    () => {
        (
            r::id,
            r::rule_id,
            r::rule_version,
            r::trigger_kind,
            r::event_seq,
            r::event_id,
            r::event_type,
            r::entity,
            r::record_id,
            r::caused_by,
            r::depth,
            r::status,
            r::conditions,
            r::steps,
            r::error,
            r::due_at,
            r::attempts,
            r::created_at,
            r::finished_at,
        )
    };
}

type RunRow = (
    DbUuid,
    DbUuid,
    i64,
    String,
    Option<i64>,
    Option<DbUuid>,
    Option<String>,
    String,
    DbUuid,
    String,
    i64,
    String,
    DbJson,
    DbJson,
    Option<String>,
    chrono::NaiveDateTime,
    i64,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

fn to_run(row: RunRow) -> AutomationRun {
    let (id, rule, rule_version, trigger, seq, event_id, event_type, entity, record, caused_by, depth, status) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11);
    AutomationRun {
        id: id.0,
        rule_id: AutomationRuleId(rule.0),
        rule_version,
        trigger,
        event_seq: seq.map(Long),
        event_id: event_id.map(|e| e.0),
        event_type,
        entity,
        record_id: record.0,
        caused_by,
        depth,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        conditions: serde_json::from_value(row.12.0).unwrap_or_default(),
        steps: serde_json::from_value(row.13.0).unwrap_or_default(),
        error: row.14,
        due_at: to_utc(row.15),
        attempts: row.16,
        created_at: to_utc(row.17),
        finished_at: row.18.map(to_utc),
    }
}

/// Most runs on a page.
const MAX_PAGE: u32 = 500;

/// What a run list selects.
#[derive(Clone, Debug, Default)]
pub struct RunQuery {
    pub rule_id: Option<AutomationRuleId>,
    pub record_id: Option<uuid::Uuid>,
    pub status: Option<RunStatus>,
    pub before: Option<uuid::Uuid>,
    pub limit: u32,
}

/// Runs, newest first.
pub fn list(conn: &mut AnyConnection, actor: &Actor, query: RunQuery) -> Result<RunPage, RecordError> {
    actor.require(Scope::AutomationRead)?;
    let limit = crm_core::list::page_size(query.limit, MAX_PAGE)?;
    let mut q = r::table.select(run_columns!()).into_boxed::<crm_db::MultiBackend>();
    if let Some(rule) = query.rule_id {
        q = q.filter(r::rule_id.eq(DbUuid(rule.0)));
    }
    if let Some(record) = query.record_id {
        q = q.filter(r::record_id.eq(DbUuid(record)));
    }
    if let Some(s) = query.status {
        q = q.filter(r::status.eq(s.as_str()));
    }
    if let Some(b) = query.before {
        q = q.filter(r::id.lt(DbUuid(b)));
    }
    let mut rows: Vec<RunRow> = q.order(r::id.desc()).limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<AutomationRun> = rows.into_iter().map(to_run).collect();
    Ok(RunPage { next_before: if more { data.last().map(|d| d.id) } else { None }, data })
}

/// One run.
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid) -> Result<AutomationRun, RecordError> {
    actor.require(Scope::AutomationRead)?;
    read(conn, id)?.ok_or(RecordError::NotFound { entity: "automation run" })
}

pub(crate) fn read(conn: &mut AnyConnection, id: uuid::Uuid) -> Result<Option<AutomationRun>, RecordError> {
    let row: Option<RunRow> = r::table.filter(r::id.eq(DbUuid(id))).select(run_columns!()).first(conn).optional()?;
    Ok(row.map(to_run))
}

/// The runs about `entity` record `id`, newest first, before `before` (the 360 timeline's
/// keys). Skipped runs (conditions that did not hold) are left out: they did nothing.
pub fn newest_of(
    conn: &mut AnyConnection,
    entity: &str,
    id: uuid::Uuid,
    before: Option<crm_db::sql::Key>,
    n: i64,
) -> QueryResult<Vec<crm_db::sql::Key>> {
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push("entity = ").bind(entity.to_string()).push(" AND record_id = ").bind(id).push(" AND status <> 'skipped'");
    crm_db::sql::newest_keys(conn, "automation_runs", "created_at", "id", cond, before, n)
}

/// Runs by their id.
pub fn by_ids(
    conn: &mut AnyConnection,
    ids: &[uuid::Uuid],
) -> QueryResult<std::collections::HashMap<uuid::Uuid, AutomationRun>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<RunRow> =
        r::table.filter(r::id.eq_any(ids.iter().copied().map(DbUuid))).select(run_columns!()).load(conn)?;
    Ok(rows.into_iter().map(to_run).map(|x| (x.id, x)).collect())
}
