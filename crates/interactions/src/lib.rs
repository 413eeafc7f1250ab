//! Interactions: the contact history. Every call, email, meeting, note, visit, SMS, chat or web
//! visit with a customer, logged by any department and visible to all of them.

pub mod model;
pub mod read;

use crm_core::ids::InteractionId;
use crm_core::{Actor, Scope};
use crm_db::schema::interaction_contacts;
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;

pub use model::{
    Direction, INTERACTION_CATALOG, Interaction, InteractionInput, InteractionPatch, InteractionRow, InteractionType,
    Outcome,
};

impl Record for Interaction {
    type Input = InteractionInput;
    type Patch = InteractionPatch;

    const READ: Scope = Scope::InteractionsRead;
    const WRITE: Scope = Scope::InteractionsWrite;
    const DEFAULT_SORT: &'static str = "-occurred_at";

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
        x.nps = i.nps;
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
}

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

/// The interactions domain's side of merges: an interaction with a merged contact names the
/// survivor instead (once), and those of a merged account or lead move to the survivor.
pub fn hooks() -> crm_records::hooks::Hooks {
    use crm_core::ids::{AccountId, ContactId, LeadId};
    use crm_records::hooks::Moved;
    use crm_records::merge::repoint;
    crm_records::hooks::Hooks::new()
        .on_merge("contact", |conn, actor, losers, survivor| {
            let gone: Vec<DbUuid> = losers.iter().copied().map(DbUuid).collect();
            let mut ids: Vec<DbUuid> = interaction_contacts::table
                .filter(interaction_contacts::contact_id.eq_any(gone))
                .select(interaction_contacts::interaction_id)
                .load(conn)?;
            ids.sort_by_key(|i| i.0);
            ids.dedup();
            let to = ContactId(survivor);
            for id in &ids {
                crm_records::relink::<Interaction>(conn, actor, InteractionId(id.0), |x| {
                    let mut named = Vec::with_capacity(x.contact_ids.len());
                    for c in &x.contact_ids {
                        let c = if losers.contains(&c.0) { to } else { *c };
                        if !named.contains(&c) {
                            named.push(c);
                        }
                    }
                    x.contact_ids = named;
                    true
                })?;
            }
            Ok(vec![Moved { resource: "interactions", field: "contact_ids", count: ids.len() }])
        })
        .on_merge("account", |conn, actor, losers, survivor| {
            let to = Some(AccountId(survivor));
            Ok(vec![repoint::<Interaction>(conn, actor, "account_id", losers, |x| {
                x.account_id = to;
                true
            })?])
        })
        .on_merge("lead", |conn, actor, losers, survivor| {
            let to = Some(LeadId(survivor));
            Ok(vec![repoint::<Interaction>(conn, actor, "lead_id", losers, |x| {
                x.lead_id = to;
                true
            })?])
        })
}
