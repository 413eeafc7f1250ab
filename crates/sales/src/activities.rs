//! Activities: scheduled work (tasks, calls, meetings, mailings) with due and reminder times.
//! Completing a call or meeting can log the interaction in the same call; reminders that fall
//! due become `activity.reminder_due` events, once.

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind, Filter, Op, RawValue, RelationDef};
use crm_core::ids::{AccountId, ActivityId, CaseId, ContactId, InteractionId, LeadId, OpportunityId, UserId};
use crm_core::list::{ListParams, Page};
use crm_core::values::{self, clean};
use crm_core::{Actor, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::schema::activities;
use crm_db::sql::SearchIndex;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_interactions::{Direction, Interaction, InteractionInput, InteractionType, Outcome};
use crm_records::{Record, RecordError};
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ActivityFields", visible = false))]
pub struct Activity {
    pub id: ActivityId,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub activity_type: ActivityType,
    pub subject: String,
    pub description: Option<String>,
    pub due_at: Option<Timestamp>,
    pub remind_at: Option<Timestamp>,
    /// When the reminder fired (read-only; cleared when `remind_at` changes).
    pub reminded_at: Option<Timestamp>,
    /// Defaults to the caller's user.
    pub assignee_id: Option<UserId>,
    pub status: ActivityStatus,
    pub completed_at: Option<Timestamp>,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub opportunity_id: Option<OpportunityId>,
    pub lead_id: Option<LeadId>,
    pub case_id: Option<CaseId>,
    /// The interaction logged when it was completed.
    pub interaction_id: Option<InteractionId>,
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ActivityInput {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub activity_type: Option<ActivityType>,
    #[cfg_attr(feature = "openapi", schema(example = "Call back about the renewal"))]
    pub subject: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub due_at: Option<Timestamp>,
    #[serde(default)]
    pub remind_at: Option<Timestamp>,
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    #[serde(default)]
    pub status: Option<ActivityStatus>,
    #[serde(default)]
    pub account_id: Option<AccountId>,
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    #[serde(default)]
    pub opportunity_id: Option<OpportunityId>,
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    #[serde(default)]
    pub case_id: Option<CaseId>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ActivityPatch {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ActivityType>))]
    pub activity_type: crm_core::Patch<ActivityType>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub subject: crm_core::Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: crm_core::Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub due_at: crm_core::Patch<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub remind_at: crm_core::Patch<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub assignee_id: crm_core::Patch<UserId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ActivityStatus>))]
    pub status: crm_core::Patch<ActivityStatus>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub account_id: crm_core::Patch<AccountId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub contact_id: crm_core::Patch<ContactId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub opportunity_id: crm_core::Patch<OpportunityId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub lead_id: crm_core::Patch<LeadId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub case_id: crm_core::Patch<CaseId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: crm_core::Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<crm_core::ExternalId>>))]
    pub external_ids: crm_core::Patch<Vec<crm_core::ExternalId>>,
}

impl ActivityPatch {
    pub fn apply(self, c: &Activity) -> ActivityInput {
        let c = c.clone();
        let blank = c.id.0.is_nil();
        ActivityInput {
            activity_type: self.activity_type.apply_to((!blank).then_some(c.activity_type)),
            subject: self.subject.apply_to(Some(c.subject).filter(|s| !s.is_empty())),
            description: self.description.apply_to(c.description),
            due_at: self.due_at.apply_to(c.due_at),
            remind_at: self.remind_at.apply_to(c.remind_at),
            assignee_id: self.assignee_id.apply_to(c.assignee_id),
            status: Some(self.status.apply_to(Some(c.status)).unwrap_or(c.status)),
            // A new contact without an account in the patch brings its own account.
            account_id: match (&self.contact_id, self.account_id) {
                (crm_core::Patch::Absent, a) => a.apply_to(c.account_id),
                (_, crm_core::Patch::Absent) => None,
                (_, a) => a.apply_to(c.account_id),
            },
            contact_id: self.contact_id.apply_to(c.contact_id),
            opportunity_id: self.opportunity_id.apply_to(c.opportunity_id),
            lead_id: self.lead_id.apply_to(c.lead_id),
            case_id: self.case_id.apply_to(c.case_id),
            tags: self.tags.apply_to(Some(c.tags)).unwrap_or_default(),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
}

impl Activity {
    pub fn blank() -> Activity {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        Activity {
            id: ActivityId(uuid::Uuid::nil()),
            activity_type: ActivityType::Task,
            subject: String::new(),
            description: None,
            due_at: None,
            remind_at: None,
            reminded_at: None,
            assignee_id: None,
            status: ActivityStatus::Open,
            completed_at: None,
            account_id: None,
            contact_id: None,
            opportunity_id: None,
            lead_id: None,
            case_id: None,
            interaction_id: None,
            tags: Vec::new(),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}

const fn f(name: &'static str, kind: FieldKind, nullable: bool, sortable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable }
}

pub static ACTIVITY_CATALOG: Catalog = Catalog {
    resource: "activities",
    table: "activities",
    fields: &[
        f("id", FieldKind::Uuid, false, false),
        FieldDef {
            name: "type",
            column: "activity_type",
            kind: FieldKind::Enum(ActivityType::NAMES),
            nullable: false,
            sortable: true,
        },
        f("subject", FieldKind::Text, false, true),
        f("due_at", FieldKind::Timestamp, true, true),
        f("remind_at", FieldKind::Timestamp, true, true),
        f("assignee_id", FieldKind::Uuid, true, false),
        f("status", FieldKind::Enum(ActivityStatus::NAMES), false, true),
        f("completed_at", FieldKind::Timestamp, true, true),
        f("account_id", FieldKind::Uuid, true, false),
        f("contact_id", FieldKind::Uuid, true, false),
        f("opportunity_id", FieldKind::Uuid, true, false),
        f("lead_id", FieldKind::Uuid, true, false),
        f("case_id", FieldKind::Uuid, true, false),
        f("tags", FieldKind::Tags, false, false),
        FieldDef {
            name: "external_id",
            column: "activity",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
        },
        f("created_at", FieldKind::Timestamp, false, true),
        f("updated_at", FieldKind::Timestamp, false, true),
        f("archived_at", FieldKind::Timestamp, true, true),
    ],
    relations: &[RelationDef { name: "assignee", local_column: "assignee_id", target: &crm_users::USER_CATALOG }],
};

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = activities, treat_none_as_null = true)]
pub struct ActivityRow {
    id: DbUuid,
    activity_type: String,
    subject: String,
    description: Option<String>,
    due_at: Option<NaiveDateTime>,
    remind_at: Option<NaiveDateTime>,
    reminded_at: Option<NaiveDateTime>,
    assignee_id: Option<DbUuid>,
    status: String,
    completed_at: Option<NaiveDateTime>,
    account_id: Option<DbUuid>,
    contact_id: Option<DbUuid>,
    opportunity_id: Option<DbUuid>,
    lead_id: Option<DbUuid>,
    case_id: Option<DbUuid>,
    interaction_id: Option<DbUuid>,
    tags: DbJson,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

fn id_of<T: From<uuid::Uuid>>(u: Option<DbUuid>) -> Option<T> {
    u.map(|x| T::from(x.0))
}

fn db<T: Into<uuid::Uuid>>(v: Option<T>) -> Option<DbUuid> {
    v.map(|x| DbUuid(x.into()))
}

impl From<ActivityRow> for Activity {
    fn from(r: ActivityRow) -> Activity {
        Activity {
            id: ActivityId(r.id.0),
            activity_type: ActivityType::parse(&r.activity_type).unwrap_or(ActivityType::Task),
            subject: r.subject,
            description: r.description,
            due_at: r.due_at.map(to_utc),
            remind_at: r.remind_at.map(to_utc),
            reminded_at: r.reminded_at.map(to_utc),
            assignee_id: id_of(r.assignee_id),
            status: ActivityStatus::parse(&r.status).unwrap_or(ActivityStatus::Open),
            completed_at: r.completed_at.map(to_utc),
            account_id: id_of(r.account_id),
            contact_id: id_of(r.contact_id),
            opportunity_id: id_of(r.opportunity_id),
            lead_id: id_of(r.lead_id),
            case_id: id_of(r.case_id),
            interaction_id: id_of(r.interaction_id),
            tags: serde_json::from_value(r.tags.0).unwrap_or_default(),
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&Activity> for ActivityRow {
    fn from(a: &Activity) -> ActivityRow {
        let t = |v: Option<Timestamp>| v.map(|x| x.naive_utc());
        ActivityRow {
            id: DbUuid(a.id.0),
            activity_type: a.activity_type.as_str().to_string(),
            subject: a.subject.clone(),
            description: a.description.clone(),
            due_at: t(a.due_at),
            remind_at: t(a.remind_at),
            reminded_at: t(a.reminded_at),
            assignee_id: db(a.assignee_id),
            status: a.status.as_str().to_string(),
            completed_at: t(a.completed_at),
            account_id: db(a.account_id),
            contact_id: db(a.contact_id),
            opportunity_id: db(a.opportunity_id),
            lead_id: db(a.lead_id),
            case_id: db(a.case_id),
            interaction_id: db(a.interaction_id),
            tags: DbJson(serde_json::json!(a.tags)),
            version: a.version,
            created_at: a.created_at.naive_utc(),
            updated_at: a.updated_at.naive_utc(),
            archived_at: t(a.archived_at),
        }
    }
}

impl Record for Activity {
    type Id = ActivityId;
    type Input = ActivityInput;
    type Patch = ActivityPatch;

    const ENTITY: &'static str = "activity";
    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;
    const DEFAULT_SORT: &'static str = "due_at";

    crm_records::record_basics!(catalog: ACTIVITY_CATALOG);

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
        a.opportunity_id = input.opportunity_id;
        a.lead_id = input.lead_id;
        a.case_id = input.case_id;
        let assignee = match (input.assignee_id, prev) {
            (Some(u), _) => Some(u),
            (None, None) => crm_users::current_user_id(conn, actor)?,
            (None, Some(_)) => None,
        };
        if prev.is_none_or(|p| p.assignee_id != assignee) {
            crm_users::check_user(conn, entity, "assignee_id", assignee, true)?;
        }
        a.assignee_id = assignee;
        Ok(a)
    }

    crm_records::diesel_store!(table: activities, row: ActivityRow, search: SearchIndex {
        pg_column: "search_tsv",
        sqlite_table: "activities_fts"
    });
}

crm_records::batch_record!(Activity);

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
    #[serde(default)]
    pub body: Option<String>,
    /// Defaults to `outbound`.
    #[serde(default)]
    pub direction: Option<Direction>,
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
    let done = crm_records::update_from::<Activity>(conn, actor, id, patch, expected_version, Some(cur))?;
    match interaction_id {
        None => Ok(done),
        Some(x) => crm_records::modify::<Activity>(conn, actor, id, |a| {
            a.interaction_id = Some(x);
            true
        }),
    }
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
