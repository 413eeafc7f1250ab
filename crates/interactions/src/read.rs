//! What other domains read of the contact history: a customer's interactions newest first
//! (the 360 timeline), their counts, and what sales derives from it (a lead's interactions, a
//! deal's last contact).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_core::ids::{Customer, LeadId, OpportunityId};
use crm_db::AnyConnection;
use crm_db::schema::interactions;
use crm_db::sql::{Key, Sql, count_where, live_of, newest_keys};
use crm_db::types::DbUuid;
use diesel::prelude::*;

/// How a contact's filters reach its interactions (the participant link table):
/// `interactions(type[eq]:call,occurred_at[gte]:now-30d)` is "called in the last 30 days".
pub const CONTACT_INTERACTIONS: crm_core::filter::RelationDef = crm_core::filter::RelationDef::to_many_through(
    "interactions",
    crm_core::filter::Through { table: "interaction_contacts", near: "contact_id", far: "interaction_id" },
    &crate::INTERACTION_CATALOG,
);

/// Where a customer's interactions are, and the condition that picks its live ones: a
/// contact's through the participant index, an account's by `account_id`.
fn of(conn: &AnyConnection, customer: Customer) -> (&'static str, &'static str, &'static str, Sql) {
    match customer {
        Customer::Contact(c) => {
            let mut cond = Sql::new(conn.backend());
            cond.push("interaction_contacts.contact_id = ").bind(c.0).push(" AND interactions.archived_at IS NULL");
            (
                "interaction_contacts JOIN interactions ON interactions.id = interaction_contacts.interaction_id",
                "interaction_contacts.occurred_at",
                "interaction_contacts.interaction_id",
                cond,
            )
        }
        Customer::Account(_) => ("interactions", "occurred_at", "id", live_of(customer, conn.backend())),
    }
}

/// The customer's live interactions, newest first: `n` keys `(occurred_at, id)` before
/// `before`.
pub fn newest_of(conn: &mut AnyConnection, customer: Customer, before: Option<Key>, n: i64) -> QueryResult<Vec<Key>> {
    let (from, time, id, cond) = of(conn, customer);
    newest_keys(conn, from, time, id, cond, before, n)
}

/// A customer's contact history in figures.
pub struct Stats {
    pub total: i64,
    /// Since `since`, up to now.
    pub recent: i64,
    /// The latest that already happened (a meeting logged ahead is not the last contact).
    pub last: Option<uuid::Uuid>,
}

pub fn stats_of(
    conn: &mut AnyConnection,
    customer: Customer,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Stats> {
    let (from, time, id, cond) = of(conn, customer);
    let total = count_where(conn, from, cond.clone())?;
    let mut recent = cond.clone();
    recent.push(" AND ").push(time).push(" >= ").bind(since).push(" AND ").push(time).push(" <= ").bind(now);
    let recent = count_where(conn, from, recent)?;
    let mut past = cond;
    past.push(" AND ").push(time).push(" <= ").bind(now);
    let last = newest_keys(conn, from, time, id, past, None, 1)?.first().map(|k| k.1);
    Ok(Stats { total, recent, last })
}

/// How many live interactions were with the lead.
pub fn count_with_lead(conn: &mut AnyConnection, lead: LeadId) -> QueryResult<i64> {
    interactions::table
        .filter(interactions::lead_id.eq(DbUuid(lead.0)))
        .filter(interactions::archived_at.is_null())
        .count()
        .get_result(conn)
}

/// When each deal last had a live interaction (deals without any are left out).
pub fn last_with_opportunities(
    conn: &mut AnyConnection,
    ids: &[OpportunityId],
) -> QueryResult<HashMap<OpportunityId, NaiveDateTime>> {
    let mut last: HashMap<OpportunityId, NaiveDateTime> = HashMap::new();
    for chunk in ids.chunks(500) {
        let keys: Vec<DbUuid> = chunk.iter().map(|o| DbUuid(o.0)).collect();
        let rows: Vec<(Option<DbUuid>, NaiveDateTime)> = interactions::table
            .filter(interactions::opportunity_id.eq_any(keys))
            .filter(interactions::archived_at.is_null())
            .select((interactions::opportunity_id, interactions::occurred_at))
            .load(conn)?;
        for (o, t) in rows {
            if let Some(o) = o {
                let e = last.entry(OpportunityId(o.0)).or_insert(t);
                if t > *e {
                    *e = t;
                }
            }
        }
    }
    Ok(last)
}
