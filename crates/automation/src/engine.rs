//! From the event log to actions: the matcher makes runs, the executor runs them once each, and
//! the same code answers dry runs and manual runs. See the crate docs.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use crm_core::filter::Resolved;
use crm_core::ids::AutomationRuleId;
use crm_core::{Actor, Scope, Timestamp};
use crm_db::schema::{automation_rules as rules, automation_runs as runs};
use crm_db::sql::Sql;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, Backend, to_utc};
use crm_events::ChangeEvent;
use crm_records::{RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::{self, Action, Exec, StepResult, StepStatus};
use crate::model::{AutomationRule, RuleTrigger, resolve_filter};
use crate::runs::{AutomationRun, ConditionOutcome, RunStatus};
use crate::target::{self, MAX_SELECTION, Target};

/// How the engine protects the base from its rules.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The longest chain of rules triggering each other (a person's change is depth 0).
    pub max_depth: i64,
    /// A rule whose runs failed this many times in a row is turned off.
    pub disable_after_failures: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { max_depth: 5, disable_after_failures: 5 }
    }
}

/// A rule starts now: at the feed's head, with no failures behind it, and with its clock set
/// (a schedule's next firing; a relative rule's "looked up to now").
pub(crate) fn start(conn: &mut AnyConnection, rule: &AutomationRule) -> Result<(), RecordError> {
    let head = crm_events::feed_bounds(conn)?.head.0;
    let now = crm_db::now();
    let clock = match rule.trigger {
        RuleTrigger::Schedule => {
            rule.schedule.as_deref().and_then(|c| crate::clock::next_after(c, rule.time_zone.as_deref(), now))
        }
        RuleTrigger::Relative => Some(now),
        RuleTrigger::Event | RuleTrigger::Manual => None,
    };
    diesel::update(rules::table.filter(rules::id.eq(DbUuid(rule.id.0))))
        .set((rules::cursor_seq.eq(head), rules::failures.eq(0), rules::clock_at.eq(clock)))
        .execute(conn)?;
    Ok(())
}

/// What the clock started: rules fired and runs written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    pub rules: usize,
    pub runs: usize,
}

/// Fires the schedule and relative rules due at `now` (the engine passes the time; tests pass
/// theirs), in the caller's transaction: their runs and their clock's next position are written
/// together, so a firing happens once. On PostgreSQL the rules are read `FOR UPDATE SKIP LOCKED`.
///
/// - A schedule rule due (its next firing at or before `now`) makes a run for each live record
///   its filter selects (at most 1000), then moves to its first firing after `now`: firings
///   missed while no engine ran make one firing, not many.
/// - A relative rule makes a run for each live record whose date field plus the offset fell in
///   the window since it last looked (after it, up to `now`), then looks up to `now`.
pub fn fire_due(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<Fired, RecordError> {
    let lock = match conn.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut q = Sql::new(conn.backend());
    q.push(
        "SELECT id FROM automation_rules WHERE enabled AND archived_at IS NULL \
         AND trigger_kind IN ('schedule', 'relative') AND clock_at IS NOT NULL AND clock_at <= ",
    )
    .bind(now)
    .push(lock);
    let due = crm_db::sql::ids(conn, q)?;
    let mut fired = Fired::default();
    for id in due {
        let clock_at: Option<NaiveDateTime> =
            rules::table.filter(rules::id.eq(DbUuid(id))).select(rules::clock_at).first(conn)?;
        let (Some(clock_at), Some(rule)) = (clock_at, AutomationRule::find(conn, id.into())?) else { continue };
        let Some(target) = target::of(&rule.entity) else { continue };
        let actor = rule.actor(uuid::Uuid::nil());
        let filter =
            rule.filter.as_deref().map(|f| resolve_filter(conn, &target, f).unwrap_or(Resolved::Or(Vec::new())));
        let (ids, next) = match rule.trigger {
            RuleTrigger::Schedule => {
                // A filter that no longer resolves (a custom field removed since it was saved)
                // selects nothing: this firing passes, and the others still fire.
                let mut ids = match (target.select)(conn, &actor, rule.filter.clone(), MAX_SELECTION) {
                    Ok(ids) => ids,
                    Err(e @ RecordError::List(_)) => {
                        tracing::warn!(rule = %rule.id.0, error = %e, "a schedule rule's filter selects nothing");
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                };
                ids.truncate(MAX_SELECTION as usize);
                let next =
                    rule.schedule.as_deref().and_then(|c| crate::clock::next_after(c, rule.time_zone.as_deref(), now));
                (ids, next)
            }
            RuleTrigger::Relative => {
                let (Some(field), Some(offset)) = (&rule.date_field, &rule.offset) else { continue };
                let (Ok((column, kind)), Ok(offset)) =
                    (crate::clock::date_column(&target, field), crate::clock::parse_offset(offset))
                else {
                    continue;
                };
                // date + offset in (from, now]  ⇔  date in (from − offset, now − offset]; a date
                // counts from its midnight UTC.
                let (lo, hi) = (clock_at - offset, now - offset);
                let mut cond = Sql::new(conn.backend());
                cond.push("archived_at IS NULL AND ").push(column).push(" > ");
                match kind {
                    crm_core::filter::FieldKind::Date => cond
                        .bind(crm_db::sql::Bind::Date(lo.date()))
                        .push(" AND ")
                        .push(column)
                        .push(" <= ")
                        .bind(crm_db::sql::Bind::Date(hi.date())),
                    _ => cond.bind(lo).push(" AND ").push(column).push(" <= ").bind(hi),
                };
                if let Some(f) = &filter {
                    Sql::and(&mut cond, crm_db::sql::filter(f, conn.backend()));
                }
                (crm_db::sql::ids_where(conn, (target.catalog)().table, cond)?, Some(now))
            }
            RuleTrigger::Event | RuleTrigger::Manual => continue,
        };
        let conditions: Vec<ConditionOutcome> = rule
            .filter
            .iter()
            .map(|f| ConditionOutcome { condition: "filter".into(), expression: f.clone(), held: Some(true) })
            .collect();
        for record in ids {
            let new = NewRun {
                rule: &rule,
                trigger: rule.trigger,
                event: None,
                record,
                caused_by: "clock",
                depth: 0,
                status: RunStatus::Pending,
                conditions: conditions.clone(),
                error: None,
            };
            fired.runs += insert_run(conn, new, now)?.0;
        }
        fired.rules += 1;
        diesel::update(rules::table.filter(rules::id.eq(DbUuid(rule.id.0))))
            .set(rules::clock_at.eq(next))
            .execute(conn)?;
    }
    Ok(fired)
}

fn task_error(e: impl std::fmt::Display) -> RecordError {
    RecordError::Db(crm_db::DbError::Task(e.to_string()))
}

/// Of `ids`, the records of `target` that `filter` selects now.
fn matching(
    conn: &mut AnyConnection,
    target: &Target,
    filter: &Resolved,
    ids: impl IntoIterator<Item = uuid::Uuid>,
) -> Result<HashSet<uuid::Uuid>, RecordError> {
    let backend = conn.backend();
    let mut cond = crm_db::sql::in_ids("id", ids, backend);
    // (`Sql::and`, not diesel's `and`, which the prelude brings.)
    Sql::and(&mut cond, crm_db::sql::filter(filter, backend));
    Ok(crm_db::sql::ids_where(conn, (target.catalog)().table, cond)?.into_iter().collect())
}

/// A rule as the matcher reads it.
struct Matcher {
    rule: AutomationRule,
    cursor: i64,
    target: Target,
    filter: Option<Resolved>,
    before: Option<Resolved>,
}

/// What a pass of the matcher did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    /// Enabled event rules.
    pub rules: usize,
    /// Events read from the log.
    pub events: usize,
    /// Runs written (skipped ones included).
    pub runs: usize,
}

/// A run about to be written.
struct NewRun<'a> {
    rule: &'a AutomationRule,
    trigger: RuleTrigger,
    event: Option<&'a ChangeEvent>,
    record: uuid::Uuid,
    caused_by: &'a str,
    depth: i64,
    status: RunStatus,
    conditions: Vec<ConditionOutcome>,
    error: Option<String>,
}

fn insert_run(conn: &mut AnyConnection, n: NewRun<'_>, now: NaiveDateTime) -> Result<(usize, uuid::Uuid), RecordError> {
    let id = uuid::Uuid::now_v7();
    let finished = matches!(n.status, RunStatus::Skipped | RunStatus::Failed).then_some(now);
    let values = (
        runs::id.eq(DbUuid(id)),
        runs::rule_id.eq(DbUuid(n.rule.id.0)),
        runs::rule_version.eq(n.rule.version),
        runs::trigger_kind.eq(n.trigger.as_str()),
        runs::event_seq.eq(n.event.map(|e| e.seq.0)),
        runs::event_id.eq(n.event.map(|e| DbUuid(e.id))),
        runs::event_type.eq(n.event.map(|e| e.kind.clone())),
        runs::entity.eq(&n.rule.entity),
        runs::record_id.eq(DbUuid(n.record)),
        runs::caused_by.eq(n.caused_by),
        runs::depth.eq(n.depth),
        runs::status.eq(n.status.as_str()),
        runs::conditions.eq(DbJson(serde_json::to_value(&n.conditions).map_err(task_error)?)),
        runs::error.eq(&n.error),
        runs::due_at.eq(now),
        runs::created_at.eq(now),
        runs::finished_at.eq(finished),
    );
    let written = match conn {
        AnyConnection::Postgresql(c) => {
            diesel::insert_into(runs::table).values(values).on_conflict_do_nothing().execute(c)?
        }
        AnyConnection::Sqlite(c) => {
            diesel::insert_into(runs::table).values(values).on_conflict_do_nothing().execute(c)?
        }
    };
    Ok((written, id))
}

/// The chain depth of a run caused by `event`: one more than the run that wrote it, 0 for a
/// change made by anyone else.
fn depth_of(
    conn: &mut AnyConnection,
    e: &ChangeEvent,
    cache: &mut HashMap<uuid::Uuid, i64>,
) -> Result<i64, RecordError> {
    if !e.actor.starts_with("automation:") {
        return Ok(0);
    }
    let Some(run) =
        e.request_id.as_deref().and_then(|r| r.strip_prefix("run:")).and_then(|r| uuid::Uuid::parse_str(r).ok())
    else {
        return Ok(1);
    };
    if let Some(d) = cache.get(&run) {
        return Ok(*d);
    }
    let parent: Option<i64> =
        runs::table.filter(runs::id.eq(DbUuid(run))).select(runs::depth).first(conn).optional()?;
    let d = parent.map_or(1, |p| p + 1);
    cache.insert(run, d);
    Ok(d)
}

/// Whether `kind` (`contact.updated`) is one of the rule's events.
fn event_matches(rule: &AutomationRule, e: &ChangeEvent) -> bool {
    let Some((entity, action)) = e.kind.split_once('.') else { return false };
    entity == rule.entity
        && rule.events.iter().any(|x| x == "*" || x == action)
        && (rule.changed_fields.is_empty()
            || action != "updated"
            || e.changed_fields.iter().any(|f| rule.changed_fields.contains(f)))
}

/// One pass of the matcher over up to `batch` events (see the crate docs). Runs in the caller's
/// transaction. On PostgreSQL the rules are read `FOR UPDATE SKIP LOCKED`: two instances never
/// match for one rule at once.
pub fn match_events(conn: &mut AnyConnection, batch: u32, settings: Settings) -> Result<Matched, RecordError> {
    let lock = match conn.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    #[derive(QueryableByName)]
    struct RuleRow {
        #[diesel(sql_type = crm_db::types::Uid)]
        id: DbUuid,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cursor_seq: i64,
    }
    let rows: Vec<RuleRow> = diesel::sql_query(format!(
        "SELECT id, cursor_seq FROM automation_rules WHERE enabled AND archived_at IS NULL AND trigger_kind = 'event'{lock}"
    ))
    .load(conn)?;
    let ids: Vec<_> = rows.iter().map(|r| <AutomationRule as Stored>::Id::from(r.id.0)).collect();
    let cursors: HashMap<uuid::Uuid, i64> = rows.iter().map(|r| (r.id.0, r.cursor_seq)).collect();
    let mut matchers = Vec::new();
    for rule in AutomationRule::find_many(conn, &ids, false)? {
        let Some(target) = target::of(&rule.entity) else { continue };
        // Checked when saved; a filter that no longer resolves (a custom field removed since)
        // matches nothing rather than everything.
        let mut resolve = |f: &Option<String>| {
            f.as_deref().map(|f| resolve_filter(conn, &target, f).unwrap_or(Resolved::Or(Vec::new())))
        };
        let (filter, before) = (resolve(&rule.filter), resolve(&rule.before_filter));
        let cursor = cursors.get(&rule.id.0).copied().unwrap_or(0);
        matchers.push(Matcher { rule, cursor, target, filter, before });
    }
    let mut matched = Matched { rules: matchers.len(), ..Default::default() };
    let Some(from) = matchers.iter().map(|m| m.cursor).min() else { return Ok(matched) };
    let events = crm_events::events_after(conn, from, batch)?;
    matched.events = events.len();
    let Some(last) = events.last().map(|e| e.seq.0) else { return Ok(matched) };
    let now = crm_db::now();
    let mut depths = HashMap::new();
    for m in &matchers {
        let own = format!("automation:{}", m.rule.id.0);
        let picked: Vec<&ChangeEvent> = events
            .iter()
            .filter(|e| e.seq.0 > m.cursor && event_matches(&m.rule, e))
            .filter(|e| m.rule.allow_retrigger || e.actor != own)
            .collect();
        if !picked.is_empty() {
            let now_ok = match &m.filter {
                Some(f) => Some(matching(conn, &m.target, f, picked.iter().map(|e| e.entity_id))?),
                None => None,
            };
            let hour_ago = now - Duration::hours(1);
            let mut this_hour: i64 = runs::table
                .filter(runs::rule_id.eq(DbUuid(m.rule.id.0)))
                .filter(runs::created_at.gt(hour_ago))
                .filter(runs::status.ne(RunStatus::Skipped.as_str()))
                .count()
                .get_result(conn)?;
            for e in picked {
                let depth = depth_of(conn, e, &mut depths)?;
                let mut conditions = Vec::new();
                if let (Some(text), Some(ok)) = (&m.rule.filter, &now_ok) {
                    conditions.push(ConditionOutcome {
                        condition: "filter".into(),
                        expression: text.clone(),
                        held: Some(ok.contains(&e.entity_id)),
                    });
                }
                let json = |raw: &Option<Box<serde_json::value::RawValue>>| -> Option<Value> {
                    raw.as_ref().and_then(|b| serde_json::from_str(b.get()).ok())
                };
                let before = json(&e.before);
                if let (Some(text), Some(f)) = (&m.rule.before_filter, &m.before) {
                    let held = before.as_ref().is_some_and(|b| crate::conditions::holds(f, b));
                    conditions.push(ConditionOutcome {
                        condition: "before_filter".into(),
                        expression: text.clone(),
                        held: Some(held),
                    });
                }
                if !m.rule.change_conditions.is_empty() {
                    let after = json(&e.after);
                    for c in &m.rule.change_conditions {
                        let held = matches!((&before, &after), (Some(b), Some(a)) if c.holds(b, a));
                        conditions.push(ConditionOutcome {
                            condition: "change".into(),
                            expression: c.describe(),
                            held: Some(held),
                        });
                    }
                }
                let held = conditions.iter().all(|c| c.held != Some(false));
                let (status, error) = if depth > settings.max_depth {
                    (
                        RunStatus::Failed,
                        Some(format!(
                            "a chain of rules triggering each other reached depth {depth}, past the limit of {} (CRM_AUTOMATION_MAX_DEPTH)",
                            settings.max_depth
                        )),
                    )
                } else if !held {
                    (RunStatus::Skipped, Some("the conditions did not hold".to_string()))
                } else if this_hour >= m.rule.max_runs_per_hour {
                    (
                        RunStatus::Skipped,
                        Some(format!("the rule reached its rate of {} runs an hour", m.rule.max_runs_per_hour)),
                    )
                } else {
                    this_hour += 1;
                    (RunStatus::Pending, None)
                };
                let new = NewRun {
                    rule: &m.rule,
                    trigger: RuleTrigger::Event,
                    event: Some(e),
                    record: e.entity_id,
                    caused_by: &e.actor,
                    depth,
                    status,
                    conditions,
                    error,
                };
                matched.runs += insert_run(conn, new, now)?.0;
            }
        }
        diesel::update(rules::table.filter(rules::id.eq(DbUuid(m.rule.id.0))).filter(rules::cursor_seq.lt(last)))
            .set(rules::cursor_seq.eq(last))
            .execute(conn)?;
    }
    Ok(matched)
}

/// Claims up to `limit` due runs for `owner` until `now + lease`: their ids, oldest due first.
/// A run waits for an earlier pending run of the same rule on the same record.
pub fn claim_due(
    conn: &mut AnyConnection,
    owner: &str,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
) -> Result<Vec<uuid::Uuid>, RecordError> {
    let mut eligible = Sql::new(conn.backend());
    eligible.push("c.status IN ('pending', 'waiting', 'awaiting_approval') AND c.due_at <= ").bind(now).push(
        " AND NOT EXISTS (SELECT 1 FROM automation_runs e WHERE e.record_id = c.record_id \
         AND e.rule_id = c.rule_id AND e.status = 'pending' AND e.id < c.id)",
    );
    let lease = crm_db::claim::Lease { owner, now, until: now + lease };
    Ok(crm_db::claim::claim(conn, "automation_runs", eligible, "c.due_at, c.id", limit, lease)?)
}

/// Runs due now or sooner, for `/metrics`.
pub fn backlog(conn: &mut AnyConnection) -> QueryResult<i64> {
    runs::table.filter(runs::status.eq(RunStatus::Pending.as_str())).count().get_result(conn)
}

/// What ended a segment before the end of the actions: the next action's index and how long
/// until the run is due again.
#[derive(Clone, Copy, Debug)]
enum Pause {
    Wait(usize, Duration),
    /// An approval request: due again when it expires (a decision makes it due at once).
    Approval(usize, Duration),
}

/// What a segment of a run (up to a wait or an approval, or to the end) came to.
struct Segment {
    steps: Vec<StepResult>,
    pause: Option<Pause>,
    error: Option<String>,
}

/// Applies `actions[from..]` in a savepoint: until a wait or an approval request (which a dry
/// run passes), or the end, or a failure (which rolls the segment back, events included). A
/// dry run rolls back anyway.
fn segment(conn: &mut AnyConnection, x: &mut Exec<'_>, actions: &[Action], from: usize, dry: bool) -> Segment {
    let mark = crm_db::outbox::mark();
    let mut steps: Vec<StepResult> = Vec::new();
    let mut pause = None;
    let record = x.record.clone();
    let result = conn.transaction::<(), RecordError, _>(|c| {
        for (i, a) in actions.iter().enumerate().skip(from) {
            match a {
                Action::Wait { duration } => {
                    let d = actions::parse_duration(duration).unwrap_or_else(|_| Duration::zero());
                    let until = Timestamp(x.now.0 + d);
                    steps.push(step(
                        (i + 1).to_string(),
                        a,
                        StepStatus::Waiting,
                        serde_json::json!({ "until": until }),
                        None,
                    ));
                    if !dry {
                        pause = Some(Pause::Wait(i + 1, d));
                        return Ok(());
                    }
                }
                Action::RequestApproval { approver, reason, expires_in } => {
                    let at = (i + 1).to_string();
                    let asked = match approval(c, x, &at, approver.as_deref(), reason, expires_in.as_deref(), dry) {
                        Ok(asked) => asked,
                        Err(e) => {
                            steps.push(step(at, a, StepStatus::Failed, Value::Null, Some(e.to_string())));
                            return Err(e);
                        }
                    };
                    steps.push(step(at, a, StepStatus::Waiting, asked.detail, None));
                    if !dry {
                        pause = Some(Pause::Approval(i + 1, asked.expires_in));
                        return Ok(());
                    }
                }
                _ => tree(c, x, a, (i + 1).to_string(), &mut steps)?,
            }
        }
        if dry {
            Err(RecordError::Db(crm_db::DbError::Query(diesel::result::Error::RollbackTransaction)))
        } else {
            Ok(())
        }
    });
    if dry {
        crm_db::outbox::truncate(mark);
        x.record = record.clone();
    }
    let error = match result {
        Ok(()) => None,
        Err(_) if dry && steps.iter().all(|s| s.status != StepStatus::Failed) => None,
        Err(e) => {
            crm_db::outbox::truncate(mark);
            x.record = record;
            for s in steps.iter_mut().filter(|s| s.status == StepStatus::Done) {
                s.status = StepStatus::RolledBack;
            }
            pause = None;
            Some(steps.iter().find_map(|s| s.error.clone()).unwrap_or_else(|| e.to_string()))
        }
    };
    Segment { steps, pause, error }
}

/// An approval request made (or, in a dry run, that would be made).
struct Asked {
    detail: Value,
    expires_in: Duration,
}

/// Asks the approver of a `request_approval` action at step `at`: the request's id, approver
/// and expiry for the log.
fn approval(
    conn: &mut AnyConnection,
    x: &Exec<'_>,
    at: &str,
    approver: Option<&str>,
    reason: &str,
    expires_in: Option<&str>,
    dry: bool,
) -> Result<Asked, RecordError> {
    let fail = |m: String| RecordError::Conflict { entity: "automation_rule", code: "ACTION_FAILED", reason: m };
    let approver = match approver {
        None | Some("owner") => x
            .record
            .get("owner_id")
            .and_then(Value::as_str)
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or_else(|| fail(format!("the {} has no owner to approve", x.target.entity)))?,
        Some(id) => uuid::Uuid::parse_str(id).map_err(|_| fail(format!("`{id}` is not a user id")))?,
    };
    let user = crm_users::User::find(conn, approver.into())?
        .filter(|u| u.active && u.archived_at.is_none())
        .ok_or_else(|| fail(format!("the approver {approver} is not an active user")))?;
    let expires_in = match expires_in {
        Some(d) => actions::parse_duration(d).map_err(fail)?,
        None => Duration::days(actions::DEFAULT_APPROVAL_DAYS),
    };
    let reason = actions::render(reason, &x.record);
    let expires_at = x.now.0.naive_utc() + expires_in;
    let id = if dry {
        None
    } else {
        Some(crate::approvals::create(
            conn,
            crate::approvals::NewApproval {
                run: x.run_id,
                rule: x.rule_id,
                step: at,
                entity: x.target.entity,
                record: x.record_id,
                approver: user.id,
                reason: &reason,
                expires_at,
            },
        )?)
    };
    let detail = serde_json::json!({
        "approval_id": id,
        "approver_id": user.id,
        "reason": reason,
        "expires_at": crm_db::to_utc(expires_at),
    });
    Ok(Asked { detail, expires_in })
}

fn step(at: String, a: &Action, status: StepStatus, detail: Value, error: Option<String>) -> StepResult {
    StepResult { step: at, action: a.kind().to_string(), status, detail, error }
}

/// Applies one action, a branch with the actions it takes.
fn tree(
    conn: &mut AnyConnection,
    x: &mut Exec<'_>,
    a: &Action,
    at: String,
    steps: &mut Vec<StepResult>,
) -> Result<(), RecordError> {
    if let Action::Branch { filter, then, otherwise } = a {
        let took = match (x.matches)(conn, filter, x.record_id) {
            Ok(true) => "then",
            Ok(false) => "otherwise",
            Err(e) => {
                steps.push(step(at, a, StepStatus::Failed, Value::Null, Some(e.to_string())));
                return Err(e);
            }
        };
        steps.push(step(at.clone(), a, StepStatus::Done, serde_json::json!({ "took": took }), None));
        let list = if took == "then" { then } else { otherwise };
        for (i, b) in list.iter().enumerate() {
            tree(conn, x, b, format!("{at}.{took}.{}", i + 1), steps)?;
        }
        return Ok(());
    }
    match actions::apply(conn, x, a) {
        Ok(detail) => {
            steps.push(step(at, a, StepStatus::Done, detail, None));
            Ok(())
        }
        Err(e) => {
            steps.push(step(at, a, StepStatus::Failed, Value::Null, Some(e.to_string())));
            Err(e)
        }
    }
}

/// The branch filter evaluator: `filter` on the record as it is now.
fn branch_matches(
    conn: &mut AnyConnection,
    target: &Target,
    filter: &str,
    id: uuid::Uuid,
) -> Result<bool, RecordError> {
    let resolved =
        resolve_filter(conn, target, filter).map_err(|(_, m)| task_error(format!("the branch filter: {m}")))?;
    Ok(matching(conn, target, &resolved, [id])?.contains(&id))
}

/// Executes run `id` claimed by `owner`, in the caller's transaction: its actions from where it
/// stopped, its log and its status. A run whose lease another instance holds is left alone
/// (`None`); the caller's transaction must then roll back nothing, as nothing was written.
pub fn execute(
    conn: &mut AnyConnection,
    owner: &str,
    id: uuid::Uuid,
    settings: Settings,
) -> Result<Option<AutomationRun>, RecordError> {
    let lease: Option<(Option<String>, String, i64, DbJson)> = runs::table
        .filter(runs::id.eq(DbUuid(id)))
        .select((runs::lease_owner, runs::status, runs::next_step, runs::steps))
        .first(conn)
        .optional()?;
    let Some((Some(holder), status, next_step, prior)) = lease else { return Ok(None) };
    let status = RunStatus::parse(&status);
    if holder != owner || !matches!(status, Some(RunStatus::Pending | RunStatus::Waiting | RunStatus::AwaitingApproval))
    {
        return Ok(None);
    }
    let Some(run) = crate::runs::read(conn, id)? else { return Ok(None) };
    let now = crm_db::now();
    let rule = AutomationRule::find(conn, run.rule_id)?;
    let mut steps: Vec<StepResult> = serde_json::from_value(prior.0).unwrap_or_default();
    let finish = |conn: &mut AnyConnection,
                  status: RunStatus,
                  steps: &[StepResult],
                  error: Option<String>,
                  wait: Option<(usize, Duration)>| {
        let (due, next) = match wait {
            Some((n, d)) => (now + d, n as i64),
            None => (now, next_step),
        };
        let ended = (!matches!(status, RunStatus::Waiting | RunStatus::AwaitingApproval)).then_some(now);
        let written = diesel::update(runs::table.filter(runs::id.eq(DbUuid(id))).filter(runs::lease_owner.eq(owner)))
            .set((
                runs::status.eq(status.as_str()),
                runs::steps.eq(DbJson(serde_json::to_value(steps).unwrap_or_default())),
                runs::error.eq(error),
                runs::next_step.eq(next),
                runs::due_at.eq(due),
                runs::attempts.eq(runs::attempts + 1),
                runs::lease_owner.eq(None::<String>),
                runs::lease_until.eq(None::<NaiveDateTime>),
                runs::finished_at.eq(ended),
            ))
            .execute(conn)?;
        if written == 0 {
            // Another instance took the run over (this one's lease ran out): its writes must
            // not commit.
            return Err(RecordError::Contended { entity: "automation_run" });
        }
        Ok::<(), RecordError>(())
    };
    if status == Some(RunStatus::AwaitingApproval) {
        // Claimed while awaiting a decision: its request expired.
        if !crate::approvals::expire(conn, id)? {
            return Ok(None);
        }
        finish(
            conn,
            RunStatus::Stopped,
            &steps,
            Some("nobody decided on the approval request before it expired".into()),
            None,
        )?;
        return crate::runs::read(conn, id);
    }
    let Some(rule) = rule.filter(|r| r.enabled && r.archived_at.is_none()) else {
        finish(
            conn,
            RunStatus::Skipped,
            &steps,
            Some("the rule was turned off or archived before the run".into()),
            None,
        )?;
        return crate::runs::read(conn, id);
    };
    let Some(target) = target::of(&rule.entity) else {
        finish(
            conn,
            RunStatus::Failed,
            &steps,
            Some(format!("`{}` records cannot be automated here", rule.entity)),
            None,
        )?;
        return crate::runs::read(conn, id);
    };
    let actor = rule.actor(id);
    let record = match (target.read)(conn, &actor, run.record_id) {
        Ok(r) if r.get("archived_at").is_some_and(|a| !a.is_null()) => {
            finish(conn, RunStatus::Skipped, &steps, Some("the record was archived".into()), None)?;
            return crate::runs::read(conn, id);
        }
        Ok(r) => r,
        Err(e) => {
            finish(conn, RunStatus::Failed, &steps, Some(format!("the record could not be read: {e}")), None)?;
            failed_once(conn, &rule, settings)?;
            return crate::runs::read(conn, id);
        }
    };
    if !rule.stop_when.is_empty() {
        let since = run.created_at.0.naive_utc();
        if let Some(why) = crate::sequences::exit_reason(conn, &rule.entity, run.record_id, since, &rule.stop_when)? {
            finish(conn, RunStatus::Stopped, &steps, Some(why), None)?;
            return crate::runs::read(conn, id);
        }
    }
    let matches = move |c: &mut AnyConnection, f: &str, rid: uuid::Uuid| branch_matches(c, &target, f, rid);
    let mut x = Exec {
        actor: &actor,
        target,
        rule_id: rule.id.0,
        run_id: id,
        record_id: run.record_id,
        record,
        now: Timestamp(to_utc(now).0),
        matches: &matches,
    };
    let actions = rule.typed_actions();
    let seg = segment(conn, &mut x, &actions, next_step.max(0) as usize, false);
    steps.extend(seg.steps);
    match (seg.error, seg.pause) {
        (Some(e), _) => {
            finish(conn, RunStatus::Failed, &steps, Some(e), None)?;
            failed_once(conn, &rule, settings)?;
        }
        (None, Some(Pause::Wait(n, d))) => finish(conn, RunStatus::Waiting, &steps, None, Some((n, d)))?,
        (None, Some(Pause::Approval(n, d))) => {
            finish(conn, RunStatus::AwaitingApproval, &steps, None, Some((n, d)))?;
            diesel::update(rules::table.filter(rules::id.eq(DbUuid(rule.id.0))))
                .set(rules::failures.eq(0))
                .execute(conn)?;
        }
        (None, None) => {
            finish(conn, RunStatus::Succeeded, &steps, None, None)?;
            diesel::update(rules::table.filter(rules::id.eq(DbUuid(rule.id.0))))
                .set(rules::failures.eq(0))
                .execute(conn)?;
        }
    }
    crate::runs::read(conn, id)
}

/// Counts a failed run against its rule, and turns the rule off when they keep failing.
fn failed_once(conn: &mut AnyConnection, rule: &AutomationRule, settings: Settings) -> Result<(), RecordError> {
    let row = rules::table.filter(rules::id.eq(DbUuid(rule.id.0)));
    diesel::update(row).set(rules::failures.eq(rules::failures + 1)).execute(conn)?;
    let failures: i64 = row.select(rules::failures).first(conn)?;
    if failures < settings.disable_after_failures {
        return Ok(());
    }
    let reason = format!("its last {failures} runs failed (CRM_AUTOMATION_DISABLE_AFTER)");
    crm_records::modify::<AutomationRule>(conn, &Actor::system(), rule.id, |r| {
        if !r.enabled {
            return false;
        }
        r.enabled = false;
        r.disabled_reason = Some(reason.clone());
        true
    })?;
    tracing::warn!(rule = %rule.id.0, reason = %reason, "automation rule turned off");
    Ok(())
}

/// The records a dry run or a manual run is about: named ones, or a filter's.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "AutomationSelection"))]
pub struct Selection {
    /// Records by id (at most 1000); each must be one the caller sees.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub record_ids: Vec<uuid::Uuid>,
    /// Or the live records the caller sees that this filter selects (the resource's list
    /// filter language; at most 1000 records).
    #[serde(default)]
    pub filter: Option<String>,
}

/// The rule and the records a selection names, as `actor` may see them.
fn selected(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AutomationRuleId,
    sel: Selection,
    max: u32,
) -> Result<(AutomationRule, Target, Vec<uuid::Uuid>), RecordError> {
    actor.require(Scope::AutomationWrite)?;
    let rule = crm_records::get::<AutomationRule>(conn, actor, id)?;
    let target = target::of(&rule.entity).ok_or_else(|| task_error("no automation targets on this handle"))?;
    let invalid = |field: &str, code: &str, m: String| {
        let mut errors = crm_core::FieldErrors::new();
        errors.add(field, code, m);
        RecordError::Invalid { entity: "automation_run", errors }
    };
    let ids = match (sel.record_ids.is_empty(), sel.filter) {
        (false, None) => {
            if sel.record_ids.len() > max as usize {
                return Err(invalid("record_ids", "too_many", format!("at most {max} records")));
            }
            for r in &sel.record_ids {
                (target.read)(conn, actor, *r)?;
            }
            sel.record_ids
        }
        (true, Some(f)) => {
            let ids = (target.select)(conn, actor, Some(f), max)?;
            if ids.len() > max as usize {
                return Err(invalid(
                    "filter",
                    "too_many",
                    format!("the filter selects more than {max} records: narrow it"),
                ));
            }
            ids
        }
        _ => return Err(invalid("record_ids", "required", "either `record_ids` or `filter`".into())),
    };
    Ok((rule, target, ids))
}

/// The conditions a run on records `ids` starts with (no `before` outside an event: a
/// `before_filter` and change conditions are not evaluated).
fn conditions_now(
    conn: &mut AnyConnection,
    rule: &AutomationRule,
    target: &Target,
    ids: &[uuid::Uuid],
) -> Result<Vec<Vec<ConditionOutcome>>, RecordError> {
    let ok = match &rule.filter {
        Some(f) => {
            // Checked when saved; one that no longer resolves (a custom field removed since)
            // holds for nothing, as in the matcher.
            let r = resolve_filter(conn, target, f).unwrap_or(Resolved::Or(Vec::new()));
            Some(matching(conn, target, &r, ids.iter().copied())?)
        }
        None => None,
    };
    Ok(ids
        .iter()
        .map(|id| {
            let mut out = Vec::new();
            if let (Some(text), Some(ok)) = (&rule.filter, &ok) {
                out.push(ConditionOutcome {
                    condition: "filter".into(),
                    expression: text.clone(),
                    held: Some(ok.contains(id)),
                });
            }
            if let Some(text) = &rule.before_filter {
                out.push(ConditionOutcome { condition: "before_filter".into(), expression: text.clone(), held: None });
            }
            for c in &rule.change_conditions {
                out.push(ConditionOutcome { condition: "change".into(), expression: c.describe(), held: None });
            }
            out
        })
        .collect())
}

/// What a rule would do to one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationDryRunResult"))]
pub struct DryRunResult {
    pub record_id: uuid::Uuid,
    pub conditions: Vec<ConditionOutcome>,
    /// Whether the conditions hold (a `before_filter` is not evaluated outside an event).
    pub would_run: bool,
    /// Each action as it would run now (waits are passed over), rolled back.
    pub steps: Vec<StepResult>,
    /// Why the run would fail.
    pub error: Option<String>,
}

/// A dry run: what the rule would do, nothing written.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationDryRun"))]
pub struct DryRun {
    pub rule_id: AutomationRuleId,
    pub results: Vec<DryRunResult>,
}

/// Most records in one dry run.
pub const MAX_DRY_RUN: u32 = 100;

/// Evaluates rule `id` on the selected records and runs its actions in a savepoint that is
/// rolled back: the same code as a real run, nothing written.
pub fn dry_run(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AutomationRuleId,
    sel: Selection,
) -> Result<DryRun, RecordError> {
    let (rule, target, ids) = selected(conn, actor, id, sel, MAX_DRY_RUN)?;
    let conditions = conditions_now(conn, &rule, &target, &ids)?;
    let rule_actor = rule.actor(uuid::Uuid::nil());
    let actions = rule.typed_actions();
    let mut results = Vec::new();
    for (record_id, conditions) in ids.into_iter().zip(conditions) {
        let would_run = conditions.iter().all(|c| c.held != Some(false));
        let record = (target.read)(conn, &rule_actor, record_id)?;
        let matches = move |c: &mut AnyConnection, f: &str, rid: uuid::Uuid| branch_matches(c, &target, f, rid);
        let now = Timestamp(to_utc(crm_db::now()).0);
        let mut x = Exec {
            actor: &rule_actor,
            target,
            rule_id: rule.id.0,
            run_id: uuid::Uuid::nil(),
            record_id,
            record,
            now,
            matches: &matches,
        };
        let seg = segment(conn, &mut x, &actions, 0, true);
        results.push(DryRunResult { record_id, conditions, would_run, steps: seg.steps, error: seg.error });
    }
    Ok(DryRun { rule_id: rule.id, results })
}

/// What a manual run queued.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationManualRun"))]
pub struct ManualRun {
    pub rule_id: AutomationRuleId,
    /// Runs queued (pending): their ids.
    pub queued: Vec<uuid::Uuid>,
    /// Records whose conditions did not hold (logged as skipped runs).
    pub skipped: i64,
}

/// Queues a run of rule `id` on each selected record (at most 1000); the engine executes them
/// as it does event runs.
pub fn run_manually(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AutomationRuleId,
    sel: Selection,
) -> Result<ManualRun, RecordError> {
    let (rule, target, ids) = selected(conn, actor, id, sel, MAX_SELECTION)?;
    if !rule.enabled {
        return Err(RecordError::Conflict {
            entity: "automation_rule",
            code: "RULE_DISABLED",
            reason: "the rule is turned off: enable it first".into(),
        });
    }
    let conditions = conditions_now(conn, &rule, &target, &ids)?;
    let now = crm_db::now();
    let mut out = ManualRun { rule_id: rule.id, queued: Vec::new(), skipped: 0 };
    for (record, conditions) in ids.into_iter().zip(conditions) {
        let held = conditions.iter().all(|c| c.held != Some(false));
        let (status, error) = if held {
            (RunStatus::Pending, None)
        } else {
            (RunStatus::Skipped, Some("the conditions did not hold".to_string()))
        };
        let new = NewRun {
            rule: &rule,
            trigger: RuleTrigger::Manual,
            event: None,
            record,
            caused_by: &actor.sub,
            depth: 0,
            status,
            conditions,
            error,
        };
        let (_, run) = insert_run(conn, new, now)?;
        if held {
            out.queued.push(run);
        } else {
            out.skipped += 1;
        }
    }
    Ok(out)
}

/// The oldest event some enabled rule has yet to match: the change feed's clean-up keeps it and
/// everything after.
pub fn oldest_needed(conn: &mut AnyConnection) -> Result<Option<i64>, crm_db::DbError> {
    let min: Option<i64> = rules::table
        .filter(rules::enabled.eq(true))
        .filter(rules::archived_at.is_null())
        .filter(rules::trigger_kind.eq(RuleTrigger::Event.as_str()))
        .select(diesel::dsl::min(rules::cursor_seq))
        .first(conn)?;
    Ok(min.map(|m| m + 1))
}

/// Deletes runs that ended before `cutoff`.
pub fn purge_before(conn: &mut AnyConnection, cutoff: NaiveDateTime) -> Result<usize, crm_db::DbError> {
    crate::approvals::purge_before(conn, cutoff)?;
    Ok(diesel::delete(runs::table.filter(runs::finished_at.is_not_null()).filter(runs::finished_at.lt(cutoff)))
        .execute(conn)?)
}
