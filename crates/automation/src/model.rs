//! An automation rule as clients see it, and the rules of its input.

use crm_core::external::parse_external_ids;
use crm_core::filter::Resolved;
use crm_core::ids::AutomationRuleId;
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError};
use serde::{Deserialize, Serialize};

use crate::target::{self, Target};

wire_enum!(
    /// What starts a rule's runs.
    RuleTrigger {
        /// An event of the change feed on one of the resource's records (`events`,
        /// `changed_fields`).
        Event = "event",
        /// Only `POST /automation-rules/{id}/run`, on a selection of records.
        Manual = "manual",
        /// At the times of `schedule` (cron) in `time_zone`: a run for each live record that
        /// `filter` selects then (at most 1000).
        Schedule = "schedule",
        /// When a record's `date_field` plus `offset` comes (`-3d`: three days before
        /// `expected_close_date`; `1h`: an hour after `sla_due_at`), for the records `filter`
        /// selects.
        Relative = "relative",
    }
);

/// The most runs a rule makes in an hour, by default.
pub const DEFAULT_RATE: i64 = 1000;

/// An automation rule: on which records, when, under which conditions, what to do.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = automation_rules)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "AutomationRuleFields", visible = false)
)]
pub struct AutomationRule {
    /// The record's id (UUIDv7: time-ordered).
    pub id: AutomationRuleId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The resource whose records the rule acts on (`lead`, `opportunity`, `case`, …).
    #[filter]
    pub entity: String,
    /// What starts its runs.
    #[filter]
    #[stored(column = "trigger_kind")]
    pub trigger: RuleTrigger,
    /// For an `event` trigger, the actions of the record's events that start a run:
    /// `created`, `updated`, `archived`, `restored`, `merged`, `reminder_due`, or `*`.
    pub events: Vec<String>,
    /// Only updates that changed one of these fields (`stage_id`, `custom_fields.tier`); empty
    /// for any update.
    pub changed_fields: Vec<String>,
    /// For a `schedule` trigger: a cron expression of five fields (minute, hour, day of month,
    /// month, day of week) or a nickname (`@daily`), in `time_zone`.
    pub schedule: Option<String>,
    /// The IANA time zone of `schedule` (`Asia/Seoul`); UTC when absent.
    pub time_zone: Option<String>,
    /// For a `relative` trigger: a timestamp or date field of the resource
    /// (`expected_close_date`, `sla_due_at`).
    pub date_field: Option<String>,
    /// For a `relative` trigger: when, from `date_field`: `-3d` (before), `1h` (after).
    #[stored(column = "time_offset")]
    pub offset: Option<String>,
    /// A condition on the record as it is when the event is matched (the list filter language
    /// of the resource, relations included: `account.tier[eq]:gold`).
    pub filter: Option<String>,
    /// A condition on the record before an update (the event's `before`; no relations):
    /// `stage_id[eq]:…` here and `stage_id[eq]:…` in `filter` say "moved from … to …".
    /// Events without a `before` (a create) do not satisfy it.
    pub before_filter: Option<String>,
    /// Conditions on how an update changed a number ("`amount` increased by more than 20%"),
    /// comparing the event's `before` with its `after`; updates only.
    pub change_conditions: Vec<crate::conditions::ChangeCondition>,
    /// The actions, in order (see `AutomationAction`).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::actions::Action>))]
    pub actions: Vec<serde_json::Value>,
    /// The scopes its actions run with, as the actor `automation:<rule id>`; never more than
    /// the user who enabled it holds. Defaults to what the actions need.
    pub scopes: Vec<String>,
    /// Runs are made while true. The server turns off a rule whose runs keep failing, with
    /// the reason in `disabled_reason`.
    #[filter]
    pub enabled: bool,
    /// Who enabled it last (its actions never exceed their scopes).
    pub enabled_by: Option<String>,
    /// Why the server turned it off (null while enabled).
    pub disabled_reason: Option<String>,
    /// Whether the rule's own writes may trigger it again (false: they never do).
    pub allow_retrigger: bool,
    /// The most runs it makes in an hour; events beyond are logged as skipped.
    pub max_runs_per_hour: i64,
    /// For a sequence (a rule on leads or contacts): what stops its runs (`replied`,
    /// `converted`, `opted_out`), checked when a run starts and after each wait or approval.
    pub stop_when: Vec<crate::sequences::SequenceExit>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived (it no longer runs); null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new rule, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = AutomationRulePatch, record = AutomationRule)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct AutomationRuleInput {
    /// The name people see (1 to 200 characters).
    #[cfg_attr(feature = "openapi", schema(example = "Escalate urgent cases"))]
    pub name: Option<String>,
    /// Free text, at most 2000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The resource: `account`, `contact`, `lead`, `opportunity`, `case`, `activity`,
    /// `interaction` or `purchase`.
    #[cfg_attr(feature = "openapi", schema(example = "case"))]
    pub entity: Option<String>,
    /// Defaults to `event`.
    #[serde(default)]
    pub trigger: Option<RuleTrigger>,
    /// For `event` rules (at least one): `created`, `updated`, `archived`, `restored`,
    /// `merged`, `reminder_due`, `*`.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(example = json!(["created", "updated"])))]
    pub events: Vec<String>,
    /// Only updates that changed one of these fields.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub changed_fields: Vec<String>,
    /// For `schedule` rules: five cron fields or a nickname (`0 9 * * MON-FRI`, `@daily`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "0 9 * * MON-FRI"))]
    pub schedule: Option<String>,
    /// For `schedule` rules: an IANA time zone (default `UTC`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Asia/Seoul"))]
    pub time_zone: Option<String>,
    /// For `relative` rules: a timestamp or date field of the resource.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "expected_close_date"))]
    pub date_field: Option<String>,
    /// For `relative` rules: `-3d` (before the date), `1h` (after it).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "-3d"))]
    pub offset: Option<String>,
    /// A condition on the record as it is.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "priority[eq]:urgent"))]
    pub filter: Option<String>,
    /// A condition on the record before an update.
    #[serde(default)]
    pub before_filter: Option<String>,
    /// Conditions on how an update changed a number (at most 10; `event` rules on `updated`).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(example = json!([{"field": "amount", "direction": "increased", "more_than_percent": 20}])))]
    pub change_conditions: Vec<crate::conditions::ChangeCondition>,
    /// The actions, in order (1 to 50, branches included).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::actions::Action>))]
    pub actions: Vec<serde_json::Value>,
    /// The scopes its actions run with (default: what they need).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub scopes: Vec<String>,
    /// Defaults to true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Defaults to false.
    #[serde(default)]
    pub allow_retrigger: Option<bool>,
    /// 1 to 100,000; defaults to 1000.
    #[serde(default)]
    pub max_runs_per_hour: Option<i64>,
    /// What stops the runs of a sequence (rules on leads and contacts).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(example = json!(["replied", "converted", "opted_out"])))]
    pub stop_when: Vec<crate::sequences::SequenceExit>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Ids in other systems, each unique among rules.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// The actions of an event a rule may name.
const EVENTS: &[&str] = &["created", "updated", "archived", "restored", "merged", "reminder_due", "*"];

/// A filter of `target`'s records (custom fields included).
pub fn resolve_filter(conn: &mut AnyConnection, target: &Target, text: &str) -> Result<Resolved, (String, String)> {
    let parsed = crm_core::filter::parse(text).map_err(|e| (e.code.to_string(), e.message))?;
    let custom = crm_records::custom::filters_of(conn, &parsed)
        .map_err(|e| ("invalid_value".to_string(), format!("the custom fields could not be read: {e}")))?;
    crm_core::filter::resolve_with(&parsed, (target.catalog)(), &custom).map_err(|e| (e.code.to_string(), e.message))
}

impl AutomationRuleInput {
    fn normalize(mut self, conn: &mut AnyConnection, actor: &Actor) -> Result<AutomationRuleInput, RecordError> {
        let mut errs = FieldErrors::new();
        self.name = self.name.as_deref().and_then(clean);
        match &self.name {
            None => errs.add("name", "required", "a rule needs a name"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            Some(_) => {}
        }
        self.description = self.description.as_deref().and_then(clean);
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
            errs.add("description", "too_long", "at most 2000 characters");
        }
        self.entity = self.entity.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
        let target = match self.entity.as_deref() {
            None => {
                errs.add("entity", "required", format!("one of {}", target::ENTITIES.join(", ")));
                None
            }
            Some(e) if !target::ENTITIES.contains(&e) => {
                errs.add("entity", "invalid_value", format!("`{e}` is not one of {}", target::ENTITIES.join(", ")));
                None
            }
            Some(e) => {
                let t = target::of(e);
                if t.is_none() {
                    errs.add("entity", "not_applicable", "this database handle knows no automation targets");
                }
                t
            }
        };
        let trigger = *self.trigger.get_or_insert(RuleTrigger::Event);
        let mut events = Vec::new();
        for (i, e) in std::mem::take(&mut self.events).iter().enumerate() {
            let e = e.trim().to_lowercase();
            if !EVENTS.contains(&e.as_str()) {
                errs.add(
                    &format!("events[{i}]"),
                    "invalid_value",
                    format!("`{e}` is not one of {}", EVENTS.join(", ")),
                );
            } else if !events.contains(&e) {
                events.push(e);
            }
        }
        if events.contains(&"*".to_string()) {
            events = vec!["*".into()];
        }
        match trigger {
            RuleTrigger::Event if events.is_empty() && errs.is_empty() => {
                errs.add("events", "required", "an event rule names at least one event, e.g. `created`")
            }
            RuleTrigger::Event => {}
            _ if !events.is_empty() || !self.changed_fields.is_empty() => {
                errs.add("events", "not_applicable", "only an event rule has events and changed fields")
            }
            _ => {}
        }
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(String::from);
        self.schedule = text(&self.schedule);
        self.time_zone = text(&self.time_zone);
        self.date_field = text(&self.date_field);
        self.offset = text(&self.offset);
        for (field, given, wanted) in [
            ("schedule", self.schedule.is_some(), RuleTrigger::Schedule),
            ("time_zone", self.time_zone.is_some(), RuleTrigger::Schedule),
            ("date_field", self.date_field.is_some(), RuleTrigger::Relative),
            ("offset", self.offset.is_some(), RuleTrigger::Relative),
        ] {
            if given && trigger != wanted {
                errs.add(field, "not_applicable", format!("only a {} rule has `{field}`", wanted.as_str()));
            }
        }
        if trigger == RuleTrigger::Schedule {
            match &self.schedule {
                None => {
                    errs.add("schedule", "required", "a schedule rule has a cron expression, e.g. `0 9 * * MON-FRI`")
                }
                Some(c) => {
                    if let Err(m) = crate::clock::parse_cron(c) {
                        errs.add("schedule", "invalid_value", m);
                    }
                }
            }
            if let Some(z) = &self.time_zone
                && let Err(m) = crate::clock::parse_zone(z)
            {
                errs.add("time_zone", "invalid_value", m);
            }
        }
        if trigger == RuleTrigger::Relative {
            match &self.offset {
                None => errs.add("offset", "required", "when, from the date: `-3d` (before), `1h` (after)"),
                Some(o) => {
                    if let Err(m) = crate::clock::parse_offset(o) {
                        errs.add("offset", "invalid_value", m);
                    }
                }
            }
            if self.date_field.is_none() {
                errs.add("date_field", "required", "the timestamp or date field the offset counts from");
            }
        }
        self.events = events;
        self.changed_fields =
            values::parse_field_names("changed_fields", std::mem::take(&mut self.changed_fields), &mut errs);
        self.filter = self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(String::from);
        self.before_filter = self.before_filter.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(String::from);
        if self.before_filter.is_some() && trigger != RuleTrigger::Event {
            errs.add("before_filter", "not_applicable", "only an event has a record before");
        }
        if !self.change_conditions.is_empty() {
            let updates = self.events.iter().any(|e| e == "updated" || e == "*");
            if trigger != RuleTrigger::Event || !updates {
                errs.add(
                    "change_conditions",
                    "not_applicable",
                    "only an update has a before and an after: an event rule on `updated`",
                );
            }
            if self.change_conditions.len() > 10 {
                errs.add("change_conditions", "too_many", "at most 10 change conditions");
            }
        }
        for (i, c) in self.change_conditions.iter_mut().enumerate() {
            c.field = c.field.trim().to_string();
            let numeric = match target.as_ref().map(|t| (t.catalog)()) {
                None => true,
                Some(_) if c.field.strip_prefix("custom_fields.").is_some_and(|k| !k.is_empty()) => true,
                Some(cat) => cat.field(&c.field).is_some_and(|f| {
                    matches!(f.kind, crm_core::filter::FieldKind::Int | crm_core::filter::FieldKind::Float)
                }),
            };
            if !numeric {
                errs.add(
                    &format!("change_conditions[{i}].field"),
                    "invalid_value",
                    format!(
                        "`{}` is not a number or money field of a {}",
                        c.field,
                        self.entity.as_deref().unwrap_or("record")
                    ),
                );
            }
            for (name, v) in [("more_than_percent", c.more_than_percent), ("more_than", c.more_than)] {
                if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                    errs.add(&format!("change_conditions[{i}].{name}"), "out_of_range", "a number of zero or more");
                }
            }
        }
        if self.actions.is_empty() {
            errs.add("actions", "required", "at least one action");
        }
        let mut scopes: Vec<Scope> = Vec::new();
        for (i, s) in self.scopes.iter().enumerate() {
            match Scope::parse(s.trim()) {
                Some(sc) if !scopes.contains(&sc) => scopes.push(sc),
                Some(_) => {}
                None => errs.add(&format!("scopes[{i}]"), "invalid_value", format!("`{s}` is not a scope")),
            }
        }
        if let Some(t) = target {
            if let Some(f) = &self.date_field
                && let Err(m) = crate::clock::date_column(&t, f)
            {
                errs.add("date_field", "invalid_value", m);
            }
            for (field, text) in [("filter", &self.filter), ("before_filter", &self.before_filter)] {
                let Some(text) = text else { continue };
                match resolve_filter(conn, &t, text) {
                    Err((code, m)) => errs.add(field, &code, m),
                    Ok(r) if field == "before_filter" => {
                        if let Some(m) = crate::conditions::unsupported(&r) {
                            errs.add(field, "not_applicable", m);
                        }
                    }
                    Ok(_) => {}
                }
            }
            let mut resolve = |f: &str| resolve_filter(conn, &t, f).map(|_| ());
            let actions = crate::actions::check(&self.actions, &t, &mut resolve, &mut errs);
            crate::actions::check_refs(conn, &actions, &mut errs)?;
            let needed = crate::actions::needs(&actions, &t);
            if scopes.is_empty() {
                scopes = needed.iter().copied().collect();
            } else if let Some(m) = needed.iter().find(|n| !scopes.contains(n)) {
                errs.add("scopes", "insufficient", format!("the actions need `{m}`"));
            }
        }
        let enabled = self.enabled.unwrap_or(true);
        if enabled && let Some(s) = scopes.iter().find(|s| !actor.has(**s)) {
            errs.add(
                "scopes",
                "not_held",
                format!("the rule would act with `{s}`, which you do not hold: a rule never exceeds the scopes of who enables it"),
            );
        }
        scopes.sort_by_key(|s| s.as_str());
        self.scopes = scopes.iter().map(|s| s.as_str().to_string()).collect();
        self.stop_when.sort_by_key(|e| e.as_str());
        self.stop_when.dedup();
        if !self.stop_when.is_empty()
            && let Some(e) = &self.entity
            && !crate::sequences::PEOPLE.contains(&e.as_str())
        {
            errs.add(
                "stop_when",
                "not_applicable",
                "only a sequence on leads or contacts stops when the person answers",
            );
        }
        match self.max_runs_per_hour {
            Some(n) if !(1..=100_000).contains(&n) => errs.add("max_runs_per_hour", "out_of_range", "1 to 100,000"),
            _ => {}
        }
        self.tags = errs.take(values::parse_tags("tags", &self.tags)).unwrap_or_default();
        self.external_ids = parse_external_ids("external_ids", std::mem::take(&mut self.external_ids), &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: AutomationRule::ENTITY, errors })?;
        Ok(self)
    }
}

impl AutomationRule {
    /// Its actions, typed (checked when saved).
    pub fn typed_actions(&self) -> Vec<crate::actions::Action> {
        self.actions.iter().filter_map(|a| serde_json::from_value(a.clone()).ok()).collect()
    }

    /// The actor its actions run as: `automation:<id>`, with its scopes, seeing every record
    /// they reach; `run` is the run's id (the events' request id).
    pub fn actor(&self, run: uuid::Uuid) -> Actor {
        let mut a = Actor::internal(format!("automation:{}", self.id.0), self.scopes.iter().map(String::as_str));
        a.request_id = Some(format!("run:{run}"));
        a
    }
}

impl Record for AutomationRule {
    type Input = AutomationRuleInput;
    type Patch = AutomationRulePatch;

    const READ: Scope = Scope::AutomationRead;
    const WRITE: Scope = Scope::AutomationWrite;

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: AutomationRuleId,
        input: AutomationRuleInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let i = input.normalize(conn, actor)?;
        let mut r = prev.cloned().unwrap_or_else(<AutomationRule as crm_records::Stored>::blank);
        r.id = id;
        r.name = i.name.unwrap_or_default();
        r.description = i.description;
        r.entity = i.entity.unwrap_or_default();
        r.trigger = i.trigger.unwrap_or(RuleTrigger::Event);
        r.events = i.events;
        r.changed_fields = i.changed_fields;
        r.filter = i.filter;
        r.before_filter = i.before_filter;
        r.change_conditions = i.change_conditions;
        r.schedule = i.schedule;
        r.time_zone = i.time_zone;
        r.date_field = i.date_field;
        r.offset = i.offset;
        r.actions = i.actions;
        r.scopes = i.scopes;
        r.enabled = i.enabled.unwrap_or(true);
        r.allow_retrigger = i.allow_retrigger.unwrap_or(false);
        r.max_runs_per_hour = i.max_runs_per_hour.unwrap_or(DEFAULT_RATE);
        r.stop_when = i.stop_when;
        r.tags = i.tags;
        r.external_ids = i.external_ids;
        if r.enabled {
            // Whoever saves an enabled rule vouches for its scopes (checked above).
            r.enabled_by = Some(actor.sub.clone());
            r.disabled_reason = None;
        }
        Ok(r)
    }

    /// A new or re-enabled rule starts at the feed's head: it acts on the events committed
    /// after it, not on the past.
    fn after_write(
        conn: &mut AnyConnection,
        _actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        let was_on = before.is_some_and(|b| b.enabled && b.archived_at.is_none());
        // A changed clock starts again from now too (the next firing of the new schedule).
        let clock_changed = before.is_some_and(|b| {
            (&b.trigger, &b.schedule, &b.time_zone, &b.date_field, &b.offset)
                != (&after.trigger, &after.schedule, &after.time_zone, &after.date_field, &after.offset)
        });
        if after.enabled && after.archived_at.is_none() && (!was_on || clock_changed) {
            crate::engine::start(conn, after)?;
        }
        Ok(())
    }
}
