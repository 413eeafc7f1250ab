//! Activities: scheduled work (tasks, calls, meetings, mailings) with due and reminder times.
//! Completing a call or meeting can log the interaction in the same call; reminders that fall
//! due become `activity.reminder_due` events, once.

use crm_core::filter::{Filter, Op, RawValue};
use crm_core::ids::{
    AccountId, ActivityId, CampaignId, CaseId, ContactId, EntityId, InteractionId, LeadId, OpportunityId, UserId,
};
use crm_core::list::{ListParams, Page};
use crm_core::values::{self, clean};
use crm_core::{Actor, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::activities;
use crm_db::types::DbUuid;
use crm_interactions::{Direction, Interaction, InteractionInput, InteractionType, Outcome};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// What kind of work.
    ActivityType {
        Task = "task",
        Call = "call",
        Meeting = "meeting",
        Mailing = "mailing",
    }
);

wire_enum!(
    /// Open until done or cancelled (either can be reopened).
    ActivityStatus {
        Open = "open",
        Done = "done",
        Cancelled = "cancelled",
    }
);

/// Scheduled work.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = activities)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ActivityFields", visible = false))]
pub struct Activity {
    /// The record's id (UUIDv7: time-ordered).
    pub id: ActivityId,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[filter(sort)]
    pub activity_type: ActivityType,
    /// A one-line summary.
    #[filter(sort)]
    pub subject: String,
    /// Free text.
    pub description: Option<String>,
    /// When it is due (UTC).
    #[filter(sort)]
    pub due_at: Option<Timestamp>,
    #[filter(sort)]
    pub remind_at: Option<Timestamp>,
    /// When the reminder fired (read-only; cleared when `remind_at` changes).
    pub reminded_at: Option<Timestamp>,
    /// Defaults to the caller's user.
    #[filter(relation = "assignee", to = crm_users::USER_CATALOG)]
    pub assignee_id: Option<UserId>,
    #[filter(sort)]
    pub status: ActivityStatus,
    #[filter(sort)]
    pub completed_at: Option<Timestamp>,
    /// The account it belongs to.
    #[filter]
    pub account_id: Option<AccountId>,
    /// The contact it concerns.
    #[filter]
    pub contact_id: Option<ContactId>,
    /// The opportunity it concerns.
    #[filter]
    pub opportunity_id: Option<OpportunityId>,
    /// The lead it concerns.
    #[filter]
    pub lead_id: Option<LeadId>,
    /// The support case it belongs to.
    #[filter]
    pub case_id: Option<CaseId>,
    /// The interaction logged when it was completed.
    pub interaction_id: Option<InteractionId>,
    /// The campaign it works (a phone wave's call): completing it records the member's response.
    #[filter]
    pub campaign_id: Option<CampaignId>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new activity (task, call, meeting, email to send), or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = ActivityPatch, record = Activity)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ActivityInput {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub activity_type: Option<ActivityType>,
    /// A one-line summary.
    #[cfg_attr(feature = "openapi", schema(example = "Call back about the renewal"))]
    pub subject: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// When it is due (UTC).
    #[serde(default)]
    pub due_at: Option<Timestamp>,
    #[serde(default)]
    pub remind_at: Option<Timestamp>,
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    #[serde(default)]
    #[patch(keep_on_null)]
    pub status: Option<ActivityStatus>,
    /// The account it belongs to.
    #[serde(default)]
    #[patch(follows = contact_id)]
    pub account_id: Option<AccountId>,
    /// The contact it concerns.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// The opportunity it concerns.
    #[serde(default)]
    pub opportunity_id: Option<OpportunityId>,
    /// The lead it concerns.
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    /// The support case it belongs to.
    #[serde(default)]
    pub case_id: Option<CaseId>,
    /// The campaign it works: completing a call with an outcome records the contact's response
    /// as a member of that campaign.
    #[serde(default)]
    pub campaign_id: Option<CampaignId>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

impl Record for Activity {
    type Input = ActivityInput;
    type Patch = ActivityPatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.assignee_id.map(|u| u.0)
    }
    const DEFAULT_SORT: &'static str = "due_at";

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: ActivityId,
        input: ActivityInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let mut errs = FieldErrors::new();
        let subject = input.subject.as_deref().and_then(clean);
        match &subject {
            None => errs.add("subject", "required", "an activity needs a subject"),
            Some(s) if s.chars().count() > 300 => errs.add("subject", "too_long", "at most 300 characters"),
            _ => {}
        }
        if input.activity_type.is_none() {
            errs.add("type", "required", "an activity needs a type");
        }
        if let (Some(r), Some(d)) = (input.remind_at, input.due_at)
            && r > d
        {
            errs.add("remind_at", "after_due", "the reminder comes at or before the due time");
        }
        let tags = errs.take(values::parse_tags("tags", &input.tags)).unwrap_or_default();
        let external_ids =
            crm_core::external::parse_external_ids("external_ids", input.external_ids.clone(), &mut errs);
        if !errs.0.is_empty() {
            return Err(RecordError::Invalid { entity, errors: errs });
        }
        let mut a = prev.cloned().unwrap_or_else(Activity::blank);
        a.id = id;
        a.activity_type = input.activity_type.unwrap_or(ActivityType::Task);
        a.subject = subject.unwrap_or_default();
        a.description = input.description.filter(|d| !d.trim().is_empty());
        a.due_at = input.due_at;
        if prev.is_none_or(|p| p.remind_at != input.remind_at) {
            a.reminded_at = None;
        }
        a.remind_at = input.remind_at;
        a.tags = tags;
        a.external_ids = external_ids;
        let status = input.status.unwrap_or(ActivityStatus::Open);
        if prev.is_none_or(|p| p.status != status) {
            a.completed_at = (status == ActivityStatus::Done).then_some(now);
        }
        a.status = status;

        // Related records, checked when they change.
        let contact_changed = prev.is_none_or(|p| p.contact_id != input.contact_id);
        a.account_id =
            crm_contacts::read::account_for_contact(conn, entity, input.contact_id, contact_changed, input.account_id)?;
        a.contact_id = input.contact_id;
        if prev.is_none_or(|p| p.account_id != a.account_id) {
            crm_records::check_ref(conn, entity, "account_id", a.account_id)?;
        }
        if prev.is_none_or(|p| p.opportunity_id != input.opportunity_id) {
            crm_records::check_ref(conn, entity, "opportunity_id", input.opportunity_id)?;
        }
        if prev.is_none_or(|p| p.lead_id != input.lead_id) {
            crm_records::check_ref(conn, entity, "lead_id", input.lead_id)?;
        }
        if prev.is_none_or(|p| p.case_id != input.case_id) {
            crm_records::check_ref(conn, entity, "case_id", input.case_id)?;
        }
        if prev.is_none_or(|p| p.campaign_id != input.campaign_id) {
            crm_records::check_ref(conn, entity, "campaign_id", input.campaign_id)?;
        }
        a.opportunity_id = input.opportunity_id;
        a.lead_id = input.lead_id;
        a.case_id = input.case_id;
        a.campaign_id = input.campaign_id;
        a.assignee_id = crm_users::assigned_user(
            conn,
            actor,
            entity,
            "assignee_id",
            input.assignee_id,
            prev.map(|p| p.assignee_id),
            true,
        )?;
        Ok(a)
    }
}

/// A rep's agenda on top of the list parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Agenda {
    /// `me` (the caller's user) or a user id.
    pub assignee: Option<String>,
    /// Due at or before: RFC 3339, `now+1d`, or a date (through the end of that day).
    pub due_lte: Option<String>,
    /// Due at or after.
    pub due_gte: Option<String>,
}

fn cond(field: &str, op: Op, value: String) -> Filter {
    Filter::Cond { path: vec![field.to_string()], op, value: RawValue::One(value) }
}

impl Agenda {
    /// Narrows a list request to the agenda. `me` is resolved without provisioning (a read);
    /// a caller without a user has an empty agenda.
    pub fn narrow(&self, conn: &mut AnyConnection, actor: &Actor, params: &mut ListParams) -> Result<(), RecordError> {
        let mut conds = Vec::new();
        if let Some(a) = self.assignee.as_deref() {
            let id = if a == "me" {
                crm_users::user_by_subject(conn, &actor.sub)?.map(|u| u.id.0).unwrap_or(uuid::Uuid::nil()).to_string()
            } else {
                a.to_string()
            };
            conds.push(cond("assignee_id", Op::Eq, id));
        }
        if let Some(d) = &self.due_lte {
            // A bare date means the whole day: before the next midnight.
            match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().and_then(|d| d.succ_opt()) {
                Some(next) => conds.push(cond("due_at", Op::Lt, next.to_string())),
                None => conds.push(cond("due_at", Op::Lte, d.clone())),
            }
        }
        if let Some(d) = &self.due_gte {
            conds.push(cond("due_at", Op::Gte, d.clone()));
        }
        if conds.is_empty() {
            return Ok(());
        }
        conds.extend(params.filter_ast.take());
        params.filter_ast = Some(Filter::And(conds));
        Ok(())
    }
}

/// A rep's agenda: the activity list narrowed by `agenda`.
pub fn agenda(
    conn: &mut AnyConnection,
    actor: &Actor,
    params: &ListParams,
    agenda: &Agenda,
) -> Result<Page<Activity>, RecordError> {
    let mut params = params.clone();
    agenda.narrow(conn, actor, &mut params)?;
    crm_records::list::<Activity>(conn, actor, &params)
}

/// The interaction to log when completing a call, meeting or mailing.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CompletionLog {
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The text.
    #[serde(default)]
    pub body: Option<String>,
    /// Defaults to `outbound`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// How long it lasted, in seconds.
    #[serde(default)]
    pub duration_seconds: Option<i64>,
}

/// `POST /activities/{id}/complete`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CompleteInput {
    /// Log the call, meeting or mailing as an interaction (needs `interactions:write`).
    #[serde(default)]
    pub log: Option<CompletionLog>,
}

/// Marks an activity done, and with `log`, records the interaction it was (a call, a meeting, an
/// email for a mailing) with the activity's contact, account, opportunity and case: one
/// transaction.
pub fn complete(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ActivityId,
    input: CompleteInput,
    expected_version: Option<i64>,
) -> Result<Activity, RecordError> {
    actor.require(Scope::SalesWrite)?;
    // One completion at a time: a concurrent one waits here, then sees `done`.
    if !Activity::lock(conn, id)? {
        return Err(RecordError::NotFound { entity: Activity::ENTITY });
    }
    let cur = Activity::find(conn, id)?.ok_or(RecordError::NotFound { entity: Activity::ENTITY })?;
    crm_records::visibility::require(conn, actor, &cur)?;
    if cur.status != ActivityStatus::Open {
        return Err(RecordError::InvalidTransition {
            field: "status",
            from: cur.status.as_str().into(),
            to: "done".into(),
            allowed: vec!["open".into()],
        });
    }
    let mut interaction_id = None;
    if let Some(log) = input.log {
        actor.require(Scope::InteractionsWrite)?;
        let kind = match cur.activity_type {
            ActivityType::Call => InteractionType::Call,
            ActivityType::Meeting => InteractionType::Meeting,
            ActivityType::Mailing => InteractionType::Email,
            ActivityType::Task => {
                return Err(RecordError::invalid(
                    Activity::ENTITY,
                    "log",
                    "not_loggable",
                    "only calls, meetings and mailings are logged as interactions",
                ));
            }
        };
        let x = crm_records::create::<Interaction>(
            conn,
            actor,
            InteractionInput {
                interaction_type: Some(kind),
                direction: Some(log.direction.unwrap_or(Direction::Outbound)),
                subject: Some(cur.subject.clone()),
                body: log.body,
                outcome: log.outcome,
                duration_seconds: log.duration_seconds,
                contact_ids: cur.contact_id.into_iter().collect(),
                account_id: cur.account_id,
                opportunity_id: cur.opportunity_id.map(|o| o.0),
                case_id: cur.case_id,
                ..Default::default()
            },
        )
        .map_err(|e| e.prefixed("log."))?;
        interaction_id = Some(x.id);
    }
    let patch = ActivityPatch { status: crm_core::Patch::Value(ActivityStatus::Done), ..Default::default() };
    let campaign = cur.campaign_id;
    let done = crm_records::update_from::<Activity>(conn, actor, id, patch, expected_version, Some(cur))?;
    let done = match interaction_id {
        None => done,
        Some(x) => crm_records::modify::<Activity>(conn, actor, id, |a| {
            a.interaction_id = Some(x);
            true
        })?,
    };
    // A campaign's call: the campaigns domain records the member's response.
    if campaign.is_some() {
        crm_records::hooks::touched(conn, actor, "campaign_call", id.uuid())?;
    }
    Ok(done)
}

/// Fires reminders that fell due: marks them (`reminded_at`) and records one
/// `activity.reminder_due` event each, in the caller's transaction. The conditional update
/// makes it exactly once across workers: a reminder another worker took no longer matches.
pub fn fire_due_reminders(conn: &mut AnyConnection, actor: &Actor, limit: i64) -> Result<Vec<Activity>, RecordError> {
    let now = crm_db::now();
    let due: Vec<DbUuid> = activities::table
        .filter(activities::status.eq("open"))
        .filter(activities::reminded_at.is_null())
        .filter(activities::remind_at.le(now))
        .filter(activities::archived_at.is_null())
        .order((activities::remind_at.asc(), activities::id.asc()))
        .select(activities::id)
        .limit(limit)
        .load(conn)?;
    let mut fired = Vec::new();
    for id in due {
        let took =
            diesel::update(activities::table.filter(activities::id.eq(id)).filter(activities::reminded_at.is_null()))
                .set((
                    activities::reminded_at.eq(Some(now)),
                    activities::version.eq(activities::version + 1),
                    activities::updated_at.eq(now),
                ))
                .execute(conn)?;
        if took == 1
            && let Some(a) = Activity::find(conn, ActivityId(id.0))?
        {
            let json = serde_json::to_value(&a).unwrap_or_default();
            crm_events::record(
                conn,
                actor,
                Activity::ENTITY,
                a.id.0,
                crm_events::Action::ReminderDue,
                None,
                Some(json),
            )?;
            fired.push(a);
        }
    }
    Ok(fired)
}
