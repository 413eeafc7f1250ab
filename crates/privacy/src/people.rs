//! Who a privacy request is about: every record that is the person. From what the request
//! names (a contact, a lead, an email address) it follows conversions both ways (the leads
//! converted into a contact, the contact a lead converted into) and merges (the records merged
//! into one of them, whose archived copies still hold the person's data), until nothing new is
//! found.

use std::collections::BTreeSet;

use crm_db::AnyConnection;
use crm_db::schema::{leads, merges};
use crm_db::sql::Sql;
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;

use crate::requests::PrivacyRequestInput;

/// One record of the person: `("contact", id)` or `("lead", id)`.
pub type Person = (&'static str, uuid::Uuid);

/// How many rounds of following conversions and merges (each adds what the last found).
const ROUNDS: usize = 8;

/// The contacts whose address (`email` or one of `emails`) is `email` (lower case).
fn contacts_by_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Vec<uuid::Uuid>> {
    let mut cond = Sql::new(conn.backend());
    cond.push("lower(email) = ").bind(email.to_string()).push(" OR EXISTS (SELECT 1 FROM ");
    match conn.backend() {
        crm_db::Backend::Sqlite => cond.push("json_each(contacts.emails) e WHERE lower(e.value) = "),
        crm_db::Backend::Postgres => cond.push("jsonb_array_elements_text(contacts.emails) e WHERE lower(e) = "),
    };
    cond.bind(email.to_string()).push(")");
    crm_db::sql::ids_where(conn, "contacts", cond)
}

fn leads_by_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Vec<uuid::Uuid>> {
    let mut cond = Sql::new(conn.backend());
    cond.push("lower(email) = ").bind(email.to_string());
    crm_db::sql::ids_where(conn, "leads", cond)
}

/// Every record of the person the request names. A contact or lead named by id must exist
/// (`422` otherwise); an email address may match nobody.
pub fn resolve(conn: &mut AnyConnection, input: &PrivacyRequestInput) -> Result<Vec<Person>, RecordError> {
    let mut contacts: BTreeSet<uuid::Uuid> = BTreeSet::new();
    let mut leads_found: BTreeSet<uuid::Uuid> = BTreeSet::new();
    if let Some(c) = input.contact_id {
        if !crm_db::sql::id_exists(conn, "contacts", c.0)? {
            return Err(RecordError::missing_reference("privacy_request", "contact_id", "contact", c.0));
        }
        contacts.insert(c.0);
    }
    if let Some(l) = input.lead_id {
        if !crm_db::sql::id_exists(conn, "leads", l.0)? {
            return Err(RecordError::missing_reference("privacy_request", "lead_id", "lead", l.0));
        }
        leads_found.insert(l.0);
    }
    if let Some(e) = &input.email {
        contacts.extend(contacts_by_email(conn, e)?);
        leads_found.extend(leads_by_email(conn, e)?);
    }
    for _ in 0..ROUNDS {
        let before = (contacts.len(), leads_found.len());
        let cs: Vec<DbUuid> = contacts.iter().copied().map(DbUuid).collect();
        let ls: Vec<DbUuid> = leads_found.iter().copied().map(DbUuid).collect();
        // Leads converted into the contacts, and the contacts the leads converted into.
        let converted: Vec<DbUuid> =
            leads::table.filter(leads::converted_contact_id.eq_any(&cs)).select(leads::id).load(conn)?;
        leads_found.extend(converted.into_iter().map(|u| u.0));
        let into: Vec<Option<DbUuid>> = leads::table
            .filter(leads::id.eq_any(&ls))
            .filter(leads::converted_contact_id.is_not_null())
            .select(leads::converted_contact_id)
            .load(conn)?;
        contacts.extend(into.into_iter().flatten().map(|u| u.0));
        // Records merged into them.
        for (entity, set) in [("contact", &mut contacts), ("lead", &mut leads_found)] {
            let survivors: Vec<DbUuid> = set.iter().copied().map(DbUuid).collect();
            let losers: Vec<DbUuid> = merges::table
                .filter(merges::entity.eq(entity))
                .filter(merges::survivor_id.eq_any(survivors))
                .select(merges::loser_id)
                .load(conn)?;
            set.extend(losers.into_iter().map(|u| u.0));
        }
        if (contacts.len(), leads_found.len()) == before {
            break;
        }
    }
    Ok(contacts.into_iter().map(|c| ("contact", c)).chain(leads_found.into_iter().map(|l| ("lead", l))).collect())
}

/// The ids of the people of one kind.
pub fn of(people: &[Person], kind: &str) -> Vec<uuid::Uuid> {
    people.iter().filter(|p| p.0 == kind).map(|p| p.1).collect()
}

/// The people as a job result shows them: `{"contacts": [...], "leads": [...]}`.
pub fn to_json(people: &[Person]) -> serde_json::Value {
    serde_json::json!({ "contacts": of(people, "contact"), "leads": of(people, "lead") })
}
