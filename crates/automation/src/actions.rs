//! What a rule does: its actions, how they are checked when the rule is saved, and how each is
//! applied to the record a run is about.

use std::collections::BTreeSet;

use crm_core::ids::{ActivityId, CampaignId, InteractionId, UserId, WebhookId};
use crm_core::{Actor, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::types::DbUuid;
use crm_records::RecordError;
use crm_sales::{ActivityInput, ActivityType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::target::Target;

/// The longest wait.
const MAX_WAIT_DAYS: i64 = 366;
/// Most actions in a rule, branches included.
pub const MAX_ACTIONS: usize = 50;

wire_enum!(
    /// How `assign_owner` picks the new owner.
    AssignStrategy {
        /// The user named by `user_id`.
        User = "user",
        /// The active users (of `team`, when given) in turn, per rule.
        RoundRobin = "round_robin",
        /// The active user (of `team`) who owns the fewest live records of the resource.
        LeastOpen = "least_open",
    }
);

/// One action of a rule. Text fields (`subject`, `description`, `body`) may name the record's
/// fields as `{{first_name}}` (`{{custom_fields.tier}}`), replaced by their values when the
/// action runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AutomationAction))]
pub enum Action {
    /// Applies a JSON merge patch to the record, as `PATCH` does (the resource's own rules
    /// apply: a case's status moves along its workflow).
    SetFields {
        /// The merge patch, e.g. `{"priority": "high"}`.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        fields: serde_json::Map<String, Value>,
    },
    /// Gives the record to a user (sets `owner_id`).
    AssignOwner {
        strategy: AssignStrategy,
        /// The user, for the `user` strategy.
        #[serde(default)]
        user_id: Option<UserId>,
        /// Only users of this team, for `round_robin` and `least_open`.
        #[serde(default)]
        team: Option<String>,
    },
    /// Schedules an activity about the record.
    CreateActivity {
        activity_type: ActivityType,
        subject: String,
        #[serde(default)]
        description: Option<String>,
        /// When it is due, from the moment the action runs (`3d`, `4h`, `30m`); none for no due
        /// date.
        #[serde(default)]
        due_in: Option<String>,
        /// `owner` (the record's owner, the default) or a user's id.
        #[serde(default)]
        assignee: Option<String>,
    },
    /// Logs a note in the record's contact history (an interaction of type `note`).
    AddNote {
        #[serde(default)]
        subject: Option<String>,
        body: String,
    },
    /// Pauses the run (`2d`, `1h`), then continues with the next action, with the record as
    /// it is then. Only at the top level of a rule's actions.
    Wait { duration: String },
    /// Pauses the run until a user approves (it then goes on with the next action) or rejects
    /// (it stops); a request nobody decides within `expires_in` stops it too. Only at the top
    /// level of a rule's actions. See `GET /automation-approvals`.
    RequestApproval {
        /// `owner` (the record's owner, the default) or a user's id.
        #[serde(default)]
        approver: Option<String>,
        /// What is asked (`Discount of {{discount_percent}}% on {{name}}`).
        reason: String,
        /// How long the approver has (`2d`, `4h`); 7 days when absent.
        #[serde(default)]
        expires_in: Option<String>,
    },
    /// Sends the record to a webhook subscription: a signed delivery of type
    /// `automation.webhook` (the rule, the run and the record as it is now), retried and logged
    /// as the change feed's deliveries are, behind the same SSRF guard.
    CallWebhook { webhook_id: WebhookId },
    /// Adds the contact to a campaign that has not run yet (consent is checked as for segment
    /// members); a contact already in it stays as it is.
    AddToCampaign { campaign_id: CampaignId },
    /// Takes the contact out of a campaign that has not run yet; one that is not in it is left
    /// alone.
    RemoveFromCampaign { campaign_id: CampaignId },
    /// Runs `then` when the record as it is now matches `filter`, else `otherwise`.
    Branch {
        filter: String,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(no_recursion))]
        then: Vec<Action>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(no_recursion))]
        otherwise: Vec<Action>,
    },
}

impl Action {
    /// Its wire name.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::SetFields { .. } => "set_fields",
            Action::AssignOwner { .. } => "assign_owner",
            Action::CreateActivity { .. } => "create_activity",
            Action::AddNote { .. } => "add_note",
            Action::Wait { .. } => "wait",
            Action::RequestApproval { .. } => "request_approval",
            Action::CallWebhook { .. } => "call_webhook",
            Action::AddToCampaign { .. } => "add_to_campaign",
            Action::RemoveFromCampaign { .. } => "remove_from_campaign",
            Action::Branch { .. } => "branch",
        }
    }
}

/// Checks a branch's filter: the stable code and the message when it does not resolve.
pub type Resolver<'a> = dyn FnMut(&str) -> Result<(), (String, String)> + 'a;

/// A duration written `3d`, `4h 30m`, `90s`.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like `3d` or `4h 30m`: {e}"))?;
    let d = chrono::Duration::from_std(d).map_err(|_| format!("`{text}` is too long"))?;
    if d > chrono::Duration::days(MAX_WAIT_DAYS) {
        return Err(format!("`{text}` is longer than {MAX_WAIT_DAYS} days"));
    }
    Ok(d)
}

/// Checks a rule's actions for `target` (resolving branch filters with `resolve`): the typed
/// actions, or the errors by field (`actions[2].fields`).
pub fn check(raw: &[Value], target: &Target, resolve: &mut Resolver<'_>, errs: &mut FieldErrors) -> Vec<Action> {
    let mut out = Vec::new();
    let mut count = 0;
    for (i, v) in raw.iter().enumerate() {
        let path = format!("actions[{i}]");
        match serde_json::from_value::<Action>(v.clone()) {
            Ok(a) => {
                check_one(&a, &path, true, target, resolve, errs, &mut count);
                out.push(a);
            }
            Err(e) => errs.add(&path, "invalid_value", format!("not an action: {e}")),
        }
    }
    if count > MAX_ACTIONS {
        errs.add("actions", "too_many", format!("at most {MAX_ACTIONS} actions, branches included"));
    }
    out
}

fn check_one(
    a: &Action,
    path: &str,
    top: bool,
    target: &Target,
    resolve: &mut Resolver<'_>,
    errs: &mut FieldErrors,
    count: &mut usize,
) {
    *count += 1;
    match a {
        Action::SetFields { fields } => {
            if fields.is_empty() {
                errs.add(&format!("{path}.fields"), "required", "at least one field to set");
            } else if let Err(m) = (target.check_patch)(&Value::Object(fields.clone())) {
                errs.add(
                    &format!("{path}.fields"),
                    "invalid_value",
                    format!("not a patch of a {}: {m}", target.entity),
                );
            }
        }
        Action::AssignOwner { strategy, user_id, .. } => {
            if !owned(target) {
                errs.add(&format!("{path}.type"), "not_applicable", format!("a {} has no owner", target.entity));
            }
            if *strategy == AssignStrategy::User && user_id.is_none() {
                errs.add(&format!("{path}.user_id"), "required", "the `user` strategy names the user");
            }
        }
        Action::CreateActivity { subject, due_in, assignee, .. } => {
            if subject.trim().is_empty() || subject.chars().count() > 200 {
                errs.add(&format!("{path}.subject"), "invalid_value", "a subject of 1 to 200 characters");
            }
            if let Some(d) = due_in
                && let Err(m) = parse_duration(d)
            {
                errs.add(&format!("{path}.due_in"), "invalid_value", m);
            }
            if let Some(a) = assignee
                && a != "owner"
                && uuid::Uuid::parse_str(a).is_err()
            {
                errs.add(&format!("{path}.assignee"), "invalid_value", "`owner` or a user's id");
            }
        }
        Action::AddNote { body, .. } => {
            if body.trim().is_empty() {
                errs.add(&format!("{path}.body"), "required", "the note's text");
            }
            if !NOTED.iter().any(|(e, _)| *e == target.entity) {
                errs.add(
                    &format!("{path}.type"),
                    "not_applicable",
                    format!("a {} has no contact history", target.entity),
                );
            }
        }
        Action::Wait { duration } => {
            if !top {
                errs.add(
                    &format!("{path}.type"),
                    "not_applicable",
                    "`wait` is allowed only at the top level, not in a branch",
                );
            }
            match parse_duration(duration) {
                Ok(d) if d <= chrono::Duration::zero() => {
                    errs.add(&format!("{path}.duration"), "invalid_value", "a wait longer than zero")
                }
                Ok(_) => {}
                Err(m) => errs.add(&format!("{path}.duration"), "invalid_value", m),
            }
        }
        Action::RequestApproval { approver, reason, expires_in } => {
            if !top {
                errs.add(
                    &format!("{path}.type"),
                    "not_applicable",
                    "`request_approval` is allowed only at the top level, not in a branch",
                );
            }
            if reason.trim().is_empty() || reason.chars().count() > 1000 {
                errs.add(&format!("{path}.reason"), "invalid_value", "what is asked, 1 to 1000 characters");
            }
            match approver.as_deref() {
                None | Some("owner") if !owned(target) => errs.add(
                    &format!("{path}.approver"),
                    "required",
                    format!("a {} has no owner: name the approver's user id", target.entity),
                ),
                None | Some("owner") => {}
                Some(a) if uuid::Uuid::parse_str(a).is_err() => {
                    errs.add(&format!("{path}.approver"), "invalid_value", "`owner` or a user's id")
                }
                Some(_) => {}
            }
            if let Some(d) = expires_in {
                match parse_duration(d) {
                    Ok(d) if d <= chrono::Duration::zero() => {
                        errs.add(&format!("{path}.expires_in"), "invalid_value", "longer than zero")
                    }
                    Ok(_) => {}
                    Err(m) => errs.add(&format!("{path}.expires_in"), "invalid_value", m),
                }
            }
        }
        Action::CallWebhook { .. } => {}
        Action::AddToCampaign { .. } | Action::RemoveFromCampaign { .. } => {
            if target.entity != "contact" {
                errs.add(
                    &format!("{path}.type"),
                    "not_applicable",
                    format!("campaign members are contacts, not a {}", target.entity),
                );
            }
        }
        Action::Branch { filter, then, otherwise } => {
            if let Err((code, m)) = resolve(filter) {
                errs.add(&format!("{path}.filter"), &code, m);
            }
            for (name, list) in [("then", then), ("otherwise", otherwise)] {
                for (i, x) in list.iter().enumerate() {
                    check_one(x, &format!("{path}.{name}[{i}]"), false, target, resolve, errs, count);
                }
            }
        }
    }
}

/// How long an approver has by default.
pub const DEFAULT_APPROVAL_DAYS: i64 = 7;

/// Checks that the webhooks and campaigns `actions` name exist (when a rule is saved).
pub fn check_refs(conn: &mut AnyConnection, actions: &[Action], errs: &mut FieldErrors) -> Result<(), RecordError> {
    fn walk(conn: &mut AnyConnection, a: &Action, path: String, errs: &mut FieldErrors) -> Result<(), RecordError> {
        use crm_records::Stored;
        match a {
            Action::CallWebhook { webhook_id }
                if crm_webhooks::Webhook::find(conn, *webhook_id)?.is_none_or(|w| w.archived_at.is_some()) =>
            {
                errs.add(&format!("{path}.webhook_id"), "not_found", "no live webhook subscription has this id");
            }
            Action::AddToCampaign { campaign_id } | Action::RemoveFromCampaign { campaign_id }
                if crm_campaigns::Campaign::find(conn, *campaign_id)?.is_none_or(|c| c.archived_at.is_some()) =>
            {
                errs.add(&format!("{path}.campaign_id"), "not_found", "no live campaign has this id");
            }
            Action::Branch { then, otherwise, .. } => {
                for (name, list) in [("then", then), ("otherwise", otherwise)] {
                    for (i, x) in list.iter().enumerate() {
                        walk(conn, x, format!("{path}.{name}[{i}]"), errs)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
    for (i, a) in actions.iter().enumerate() {
        walk(conn, a, format!("actions[{i}]"), errs)?;
    }
    Ok(())
}

/// Whether records of `target` have an owner.
fn owned(target: &Target) -> bool {
    (target.catalog)().field("owner_id").is_some()
}

/// The resources whose records an interaction can concern, and its field that names them.
const NOTED: &[(&str, &str)] = &[
    ("contact", "contact_ids"),
    ("account", "account_id"),
    ("lead", "lead_id"),
    ("opportunity", "opportunity_id"),
    ("case", "case_id"),
];

/// The scopes `actions` need on `target`: reading its records, and what each action writes.
pub fn needs(actions: &[Action], target: &Target) -> BTreeSet<Scope> {
    let mut out = BTreeSet::from([target.read_scope]);
    fn walk(a: &Action, target: &Target, out: &mut BTreeSet<Scope>) {
        match a {
            Action::SetFields { .. } => {
                out.insert(target.write_scope);
            }
            Action::AssignOwner { .. } => {
                out.insert(target.write_scope);
                out.insert(Scope::UsersRead);
            }
            Action::CreateActivity { .. } => {
                out.insert(Scope::SalesWrite);
            }
            Action::AddNote { .. } => {
                out.insert(Scope::InteractionsWrite);
            }
            Action::Wait { .. } | Action::RequestApproval { .. } => {}
            Action::CallWebhook { .. } => {
                out.insert(Scope::WebhooksWrite);
            }
            Action::AddToCampaign { .. } | Action::RemoveFromCampaign { .. } => {
                out.insert(Scope::CampaignsRead);
                out.insert(Scope::CampaignsWrite);
            }
            Action::Branch { then, otherwise, .. } => {
                for x in then.iter().chain(otherwise) {
                    walk(x, target, out);
                }
            }
        }
    }
    for a in actions {
        walk(a, target, &mut out);
    }
    out
}

wire_enum!(
    /// What became of one action of a run.
    StepStatus {
        /// It ran; its writes are committed with the run.
        Done = "done",
        /// It failed: nothing of this run's segment was written (see `error`).
        Failed = "failed",
        /// It ran, but a later action of the same segment failed, so its writes were rolled back.
        RolledBack = "rolled_back",
        /// A wait: the run continues at `detail.until`; or an approval request: the run
        /// continues when it is approved (`detail.approval_id`).
        Waiting = "waiting",
        /// The approval request was rejected: the run stopped.
        Rejected = "rejected",
    }
);

/// One action's outcome in a run's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AutomationStep"))]
pub struct StepResult {
    /// Where the action is in the rule: `2`, or `3.then.1` inside a branch (1-based).
    pub step: String,
    /// The action's type (`set_fields`, `branch`, …).
    pub action: String,
    pub status: StepStatus,
    /// What it did: the fields it changed, the activity or note it created, the user it chose,
    /// the branch it took.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: Value,
    /// Why it failed.
    pub error: Option<String>,
}

/// What an action runs with.
pub struct Exec<'a> {
    pub actor: &'a Actor,
    pub target: Target,
    pub rule_id: uuid::Uuid,
    /// The run (nil in a dry run).
    pub run_id: uuid::Uuid,
    pub record_id: uuid::Uuid,
    /// The record as it is now (refreshed after each write).
    pub record: Value,
    pub now: Timestamp,
    /// Evaluates a branch's filter on the record as it is now.
    pub matches: &'a dyn Fn(&mut AnyConnection, &str, uuid::Uuid) -> Result<bool, RecordError>,
}

/// `{{field}}` replaced by the record's values.
pub fn render(text: &str, record: &Value) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        let value = match name.split_once('.') {
            Some((a, b)) => record.get(a).and_then(|v| v.get(b)),
            None => record.get(name),
        };
        match value {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(v) => out.push_str(&v.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn uuid_at(record: &Value, field: &str) -> Option<uuid::Uuid> {
    record.get(field).and_then(Value::as_str).and_then(|s| uuid::Uuid::parse_str(s).ok())
}

fn failed(m: impl Into<String>) -> RecordError {
    RecordError::Conflict { entity: "automation_rule", code: "ACTION_FAILED", reason: m.into() }
}

/// Applies one action (not `wait`, which the engine handles): what it did, for the log.
pub fn apply(conn: &mut AnyConnection, x: &mut Exec<'_>, a: &Action) -> Result<Value, RecordError> {
    match a {
        Action::SetFields { fields } => {
            let before = x.record.clone();
            x.record = (x.target.patch)(conn, x.actor, x.record_id, Value::Object(fields.clone()))?;
            let changed = crm_events::changed_fields(Some(&before), Some(&x.record));
            Ok(serde_json::json!({ "changed_fields": changed }))
        }
        Action::AssignOwner { strategy, user_id, team } => {
            let chosen = match strategy {
                AssignStrategy::User => user_id.map(|u| u.0),
                AssignStrategy::RoundRobin => round_robin(conn, x.rule_id, team.as_deref())?,
                AssignStrategy::LeastOpen => least_open(conn, &x.target, team.as_deref())?,
            };
            let Some(user) = chosen else {
                return Err(failed(match team {
                    Some(t) => format!("no active user in team `{t}`"),
                    None => "no active user".to_string(),
                }));
            };
            x.record = (x.target.patch)(conn, x.actor, x.record_id, serde_json::json!({ "owner_id": user }))?;
            Ok(serde_json::json!({ "owner_id": user }))
        }
        Action::CreateActivity { activity_type, subject, description, due_in, assignee } => {
            let due_at = match due_in {
                Some(d) => Some(Timestamp(x.now.0 + parse_duration(d).map_err(failed)?)),
                None => None,
            };
            let assignee = match assignee.as_deref() {
                None | Some("owner") => uuid_at(&x.record, "owner_id"),
                Some(id) => uuid::Uuid::parse_str(id).ok(),
            };
            let mut input = ActivityInput {
                activity_type: Some(*activity_type),
                subject: Some(render(subject, &x.record)),
                description: description.as_deref().map(|d| render(d, &x.record)),
                due_at,
                assignee_id: assignee.map(UserId),
                ..ActivityInput::default()
            };
            let id = Some(x.record_id);
            match x.target.entity {
                "account" => input.account_id = id.map(Into::into),
                "contact" => input.contact_id = id.map(Into::into),
                "lead" => input.lead_id = id.map(Into::into),
                "opportunity" => input.opportunity_id = id.map(Into::into),
                "case" => input.case_id = id.map(Into::into),
                _ => {}
            }
            // The record's account and contact too, when it names them.
            if input.account_id.is_none() {
                input.account_id = uuid_at(&x.record, "account_id").map(Into::into);
            }
            if input.contact_id.is_none() {
                input.contact_id = uuid_at(&x.record, "contact_id").map(Into::into);
            }
            let a = crm_records::create::<crm_sales::Activity>(conn, x.actor, input)?;
            let id: ActivityId = a.id;
            Ok(serde_json::json!({ "activity_id": id, "due_at": a.due_at, "assignee_id": a.assignee_id }))
        }
        Action::AddNote { subject, body } => {
            let mut input = crm_interactions::InteractionInput {
                interaction_type: Some(crm_interactions::InteractionType::Note),
                subject: subject.as_deref().map(|s| render(s, &x.record)),
                body: Some(render(body, &x.record)),
                ..Default::default()
            };
            let id = x.record_id;
            match x.target.entity {
                "contact" => input.contact_ids = vec![id.into()],
                "account" => input.account_id = Some(id.into()),
                "lead" => input.lead_id = Some(id.into()),
                "opportunity" => input.opportunity_id = Some(id),
                "case" => input.case_id = Some(id.into()),
                other => return Err(failed(format!("a {other} has no contact history"))),
            }
            // The people and the company the record names (a case's contact and account).
            if input.account_id.is_none() {
                input.account_id = uuid_at(&x.record, "account_id").map(Into::into);
            }
            if input.contact_ids.is_empty() {
                input.contact_ids = uuid_at(&x.record, "contact_id").map(|c| vec![c.into()]).unwrap_or_default();
            }
            if input.lead_id.is_none() {
                input.lead_id = uuid_at(&x.record, "lead_id").map(Into::into);
            }
            let n = crm_records::create::<crm_interactions::Interaction>(conn, x.actor, input)?;
            let id: InteractionId = n.id;
            Ok(serde_json::json!({ "interaction_id": id }))
        }
        Action::CallWebhook { webhook_id } => {
            let data = serde_json::json!({
                "rule_id": x.rule_id,
                "run_id": x.run_id,
                "entity": x.target.entity,
                "record_id": x.record_id,
                "record": x.record,
            });
            let delivery = crm_webhooks::dispatch::enqueue(
                conn,
                *webhook_id,
                crm_webhooks::dispatch::AUTOMATION_TYPE,
                x.record_id,
                &data,
            )?;
            Ok(serde_json::json!({ "webhook_id": webhook_id, "delivery_id": delivery }))
        }
        Action::AddToCampaign { campaign_id } => {
            let added = crm_campaigns::members::add(conn, x.actor, *campaign_id, &[x.record_id.into()])?;
            Ok(serde_json::json!({ "campaign_id": campaign_id, "added": added == 1 }))
        }
        Action::RemoveFromCampaign { campaign_id } => {
            let removed = match crm_campaigns::members::remove(conn, x.actor, *campaign_id, x.record_id.into()) {
                Ok(()) => true,
                Err(RecordError::NotFound { entity: "campaign_member" }) => false,
                Err(e) => return Err(e),
            };
            Ok(serde_json::json!({ "campaign_id": campaign_id, "removed": removed }))
        }
        Action::Wait { .. } | Action::RequestApproval { .. } | Action::Branch { .. } => Ok(Value::Null),
    }
}

/// The next active user (of `team`) after the one this rule chose last.
fn round_robin(
    conn: &mut AnyConnection,
    rule: uuid::Uuid,
    team: Option<&str>,
) -> Result<Option<uuid::Uuid>, RecordError> {
    use crm_db::schema::automation_rules as r;
    use diesel::prelude::*;
    let pool = crm_users::read::active_ids(conn, team, None)?;
    if pool.is_empty() {
        return Ok(None);
    }
    // The rule's row first: concurrent runs of one rule take turns.
    let last: Option<DbUuid> = r::table.filter(r::id.eq(DbUuid(rule))).select(r::last_assignee).first(conn)?;
    let next = match last {
        Some(u) => pool.iter().find(|c| c.0 > u.0).copied().unwrap_or(pool[0]),
        None => pool[0],
    };
    diesel::update(r::table.filter(r::id.eq(DbUuid(rule))))
        .set(r::last_assignee.eq(Some(DbUuid(next.0))))
        .execute(conn)?;
    Ok(Some(next.0))
}

/// The active user (of `team`) with the fewest live records of the target.
fn least_open(
    conn: &mut AnyConnection,
    target: &Target,
    team: Option<&str>,
) -> Result<Option<uuid::Uuid>, RecordError> {
    let pool = crm_users::read::active_ids(conn, team, None)?;
    if pool.is_empty() {
        return Ok(None);
    }
    let table = (target.catalog)().table;
    let mut counts = Vec::with_capacity(pool.len());
    for u in &pool {
        let mut cond = crm_db::sql::Sql::new(conn.backend());
        cond.push("archived_at IS NULL AND owner_id = ").bind(u.0);
        counts.push((crm_db::sql::count_where(conn, table, cond)?, u.0));
    }
    Ok(counts.into_iter().min().map(|(_, u)| u))
}
