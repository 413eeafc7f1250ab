//! Interactions: the contact history. Every call, email, meeting, note, visit, SMS, chat or web
//! visit with a customer, logged by any department and visible to all of them.

pub mod model;

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind, RelationDef};
use crm_core::ids::{AccountId, CaseId, InteractionId, LeadId, UserId};
use crm_core::{Actor, Scope};
use crm_db::schema::{interaction_contacts, interactions};
use crm_db::sql::SearchIndex;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;

pub use model::{Direction, Interaction, InteractionInput, InteractionPatch, InteractionType, Outcome};

const fn f(name: &'static str, kind: FieldKind, nullable: bool, sortable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable }
}

/// What interaction lists filter and sort on. `contact_ids[eq]:<id>` finds a person's
/// interactions; the timeline reads them through the participant index instead.
pub static INTERACTION_CATALOG: Catalog = Catalog {
    resource: "interactions",
    table: "interactions",
    fields: &[
        f("id", FieldKind::Uuid, false, false),
        FieldDef {
            name: "type",
            column: "interaction_type",
            kind: FieldKind::Enum(InteractionType::NAMES),
            nullable: false,
            sortable: true,
        },
        f("direction", FieldKind::Enum(Direction::NAMES), true, true),
        f("channel", FieldKind::LowerText, true, true),
        f("subject", FieldKind::Text, true, true),
        f("occurred_at", FieldKind::Timestamp, false, true),
        f("duration_seconds", FieldKind::Int, true, true),
        f("outcome", FieldKind::Enum(Outcome::NAMES), true, true),
        f("contact_ids", FieldKind::Tags, false, false),
        f("account_id", FieldKind::Uuid, true, false),
        f("opportunity_id", FieldKind::Uuid, true, false),
        f("case_id", FieldKind::Uuid, true, false),
        f("lead_id", FieldKind::Uuid, true, false),
        f("author_id", FieldKind::Uuid, true, false),
        f("department", FieldKind::Enum(crm_users::Department::NAMES), true, true),
        f("tags", FieldKind::Tags, false, false),
        FieldDef {
            name: "external_id",
            column: "interaction",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
        },
        f("created_at", FieldKind::Timestamp, false, true),
        f("updated_at", FieldKind::Timestamp, false, true),
        f("archived_at", FieldKind::Timestamp, true, true),
    ],
    relations: &[
        RelationDef { name: "author", local_column: "author_id", target: &crm_users::USER_CATALOG },
        RelationDef { name: "case", local_column: "case_id", target: &crm_cases::CASE_CATALOG },
    ],
};

const SEARCH: SearchIndex = SearchIndex { pg_column: "search_tsv", sqlite_table: "interactions_fts" };

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = interactions, treat_none_as_null = true)]
pub struct InteractionRow {
    id: DbUuid,
    interaction_type: String,
    direction: Option<String>,
    channel: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    occurred_at: NaiveDateTime,
    duration_seconds: Option<i64>,
    outcome: Option<String>,
    contact_ids: DbJson,
    account_id: Option<DbUuid>,
    opportunity_id: Option<DbUuid>,
    case_id: Option<DbUuid>,
    author_id: Option<DbUuid>,
    department: Option<String>,
    tags: DbJson,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
    lead_id: Option<DbUuid>,
}

impl From<InteractionRow> for Interaction {
    fn from(r: InteractionRow) -> Interaction {
        Interaction {
            id: InteractionId(r.id.0),
            interaction_type: InteractionType::parse(&r.interaction_type).unwrap_or(InteractionType::Note),
            direction: r.direction.as_deref().and_then(Direction::parse),
            channel: r.channel,
            subject: r.subject,
            body: r.body,
            occurred_at: to_utc(r.occurred_at),
            duration_seconds: r.duration_seconds,
            outcome: r.outcome.as_deref().and_then(Outcome::parse),
            contact_ids: serde_json::from_value(r.contact_ids.0).unwrap_or_default(),
            account_id: r.account_id.map(|u| AccountId(u.0)),
            opportunity_id: r.opportunity_id.map(|u| u.0),
            case_id: r.case_id.map(|u| CaseId(u.0)),
            lead_id: r.lead_id.map(|u| LeadId(u.0)),
            author_id: r.author_id.map(|u| UserId(u.0)),
            department: r.department.as_deref().and_then(crm_users::Department::parse),
            tags: serde_json::from_value(r.tags.0).unwrap_or_default(),
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&Interaction> for InteractionRow {
    fn from(i: &Interaction) -> InteractionRow {
        InteractionRow {
            id: DbUuid(i.id.0),
            interaction_type: i.interaction_type.as_str().to_string(),
            direction: i.direction.map(|d| d.as_str().to_string()),
            channel: i.channel.clone(),
            subject: i.subject.clone(),
            body: i.body.clone(),
            occurred_at: i.occurred_at.naive_utc(),
            duration_seconds: i.duration_seconds,
            outcome: i.outcome.map(|o| o.as_str().to_string()),
            contact_ids: DbJson(serde_json::json!(i.contact_ids)),
            account_id: i.account_id.map(|a| DbUuid(a.0)),
            opportunity_id: i.opportunity_id.map(DbUuid),
            case_id: i.case_id.map(|c| DbUuid(c.0)),
            author_id: i.author_id.map(|u| DbUuid(u.0)),
            department: i.department.map(|d| d.as_str().to_string()),
            tags: DbJson(serde_json::json!(i.tags)),
            version: i.version,
            created_at: i.created_at.naive_utc(),
            updated_at: i.updated_at.naive_utc(),
            archived_at: i.archived_at.map(|t| t.naive_utc()),
            lead_id: i.lead_id.map(|l| DbUuid(l.0)),
        }
    }
}

impl Record for Interaction {
    type Id = InteractionId;
    type Input = InteractionInput;
    type Patch = InteractionPatch;

    const ENTITY: &'static str = "interaction";
    const READ: Scope = Scope::InteractionsRead;
    const WRITE: Scope = Scope::InteractionsWrite;
    const DEFAULT_SORT: &'static str = "-occurred_at";

    crm_records::record_basics!(catalog: INTERACTION_CATALOG);

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: InteractionId,
        input: InteractionInput,
        prev: Option<&Self>,
        now: crm_core::Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let i = input.normalize().map_err(|errors| RecordError::Invalid { entity, errors })?;
        let mut x = prev.cloned().unwrap_or_else(Interaction::blank);
        x.id = id;
        x.interaction_type = i.interaction_type.unwrap_or(InteractionType::Note);
        x.direction = i.direction;
        x.channel = i.channel;
        x.subject = i.subject;
        x.body = i.body;
        x.occurred_at = i.occurred_at.unwrap_or(now);
        // Stored at microsecond precision on both backends.
        x.occurred_at = to_utc(crm_db::truncate_micros(x.occurred_at.naive_utc()));
        x.duration_seconds = i.duration_seconds;
        x.outcome = i.outcome;
        x.opportunity_id = i.opportunity_id;
        x.tags = i.tags;
        x.external_ids = i.external_ids;

        // Participants: every contact must exist; the account defaults to the first contact's.
        let contacts_changed = prev.is_none_or(|p| p.contact_ids != i.contact_ids);
        let accounts = if contacts_changed || i.account_id.is_none() {
            crm_contacts::read::accounts_of_contacts(conn, entity, &i.contact_ids, |n| format!("contact_ids[{n}]"))?
        } else {
            Vec::new()
        };
        x.contact_ids = i.contact_ids;
        x.account_id = i.account_id.or_else(|| accounts.iter().flatten().next().copied());
        if prev.is_none_or(|p| p.account_id != x.account_id) {
            crm_records::check_ref(conn, entity, "account_id", x.account_id)?;
        }
        if prev.is_none_or(|p| p.opportunity_id != i.opportunity_id) {
            crm_records::check_ref(conn, entity, "opportunity_id", i.opportunity_id.map(crm_core::ids::OpportunityId))?;
        }
        if prev.is_none_or(|p| p.case_id != i.case_id) {
            crm_records::check_ref(conn, entity, "case_id", i.case_id)?;
        }
        x.case_id = i.case_id;
        if prev.is_none_or(|p| p.lead_id != i.lead_id) {
            crm_records::check_ref(conn, entity, "lead_id", i.lead_id)?;
        }
        x.lead_id = i.lead_id;

        // The author defaults to the caller's user, and the department to the author's. Staff
        // log as themselves; naming another author takes `users:write`, or a caller without a
        // user of its own (an integration syncing mail or calls on the staff's behalf).
        let me = if prev.is_none() || i.author_id.is_some() { crm_users::current_user_id(conn, actor)? } else { None };
        let author = match (i.author_id, prev) {
            (Some(a), _) => Some(a),
            (None, None) => me,
            (None, Some(_)) => None,
        };
        if prev.is_none_or(|p| p.author_id != author) {
            if let (Some(a), Some(m)) = (author, me)
                && a != m
                && !actor.has(Scope::UsersWrite)
            {
                return Err(RecordError::invalid(
                    entity,
                    "author_id",
                    "not_yourself",
                    "staff log interactions as themselves",
                ));
            }
            crm_users::check_user(conn, entity, "author_id", author, false)?;
        }
        x.department = match (i.department, author) {
            (Some(d), _) => Some(d),
            (None, Some(a)) if prev.is_none() => crm_users::User::find(conn, a)?.and_then(|u| u.department),
            _ => None,
        };
        x.author_id = author;
        Ok(x)
    }

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none_or(|b| b.contact_ids != after.contact_ids || b.occurred_at != after.occurred_at) {
            write_participants(conn, after)?;
        }
        // The leads it was with (before and after) may score differently now.
        let was = before.and_then(|b| b.lead_id.filter(|_| b.archived_at.is_none()));
        let is = after.lead_id.filter(|_| after.archived_at.is_none());
        if was != is {
            for lead in [was, is].into_iter().flatten() {
                crm_records::hooks::touched(conn, actor, "lead", lead.0)?;
            }
        }
        // An outbound contact on a case answers the customer.
        if let Some(case_id) = after.case_id
            && after.direction == Some(Direction::Outbound)
            && before.is_none_or(|b| b.case_id != after.case_id || b.direction != after.direction)
            && let Some(case) = crm_cases::Case::find(conn, case_id)?
            && case.first_response_at.is_none()
        {
            // Its time, within the case's life: not before it opened, not in the future.
            let now = crm_db::to_utc(crm_db::now());
            let at = after.occurred_at.max(case.created_at).min(now);
            crm_cases::note_response(conn, actor, case_id, at)?;
        }
        Ok(())
    }

    crm_records::diesel_store!(table: interactions, row: InteractionRow, search: SEARCH);
}

crm_records::batch_record!(Interaction);

/// The participant index the timeline reads: one row per (interaction, contact).
fn write_participants(conn: &mut AnyConnection, x: &Interaction) -> QueryResult<()> {
    diesel::delete(interaction_contacts::table.filter(interaction_contacts::interaction_id.eq(DbUuid(x.id.0))))
        .execute(conn)?;
    if x.contact_ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = x
        .contact_ids
        .iter()
        .map(|c| {
            (
                interaction_contacts::interaction_id.eq(DbUuid(x.id.0)),
                interaction_contacts::contact_id.eq(DbUuid(c.0)),
                interaction_contacts::occurred_at.eq(x.occurred_at.naive_utc()),
            )
        })
        .collect();
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(interaction_contacts::table).values(&rows).execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(interaction_contacts::table).values(&rows).execute(c)?,
    };
    Ok(())
}
