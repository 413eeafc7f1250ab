//! Reference checks on the foundation's resources (accounts, contacts), for domains that point
//! at them without depending on their crates.

use crm_core::ids::{AccountId, ContactId};
use crm_db::AnyConnection;
use crm_db::schema::{accounts, contacts};
use crm_db::types::DbUuid;
use diesel::prelude::*;

use crate::RecordError;

/// Fails unless the account exists (archived accounts count: history may point at them).
pub fn check_account(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<AccountId>,
) -> Result<(), RecordError> {
    let Some(id) = id else { return Ok(()) };
    let found =
        accounts::table.filter(accounts::id.eq(DbUuid(id.0))).select(accounts::id).first::<DbUuid>(conn).optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(RecordError::missing_reference(entity, field, "account", id)),
    }
}

/// The account of each contact, failing with the first contact that does not exist.
/// `field(i)` names the input field of the i-th id.
pub fn contact_accounts(
    conn: &mut AnyConnection,
    entity: &'static str,
    ids: &[ContactId],
    field: impl Fn(usize) -> String,
) -> Result<Vec<Option<AccountId>>, RecordError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<DbUuid> = ids.iter().map(|i| DbUuid(i.0)).collect();
    let rows: Vec<(DbUuid, Option<DbUuid>)> =
        contacts::table.filter(contacts::id.eq_any(keys)).select((contacts::id, contacts::account_id)).load(conn)?;
    let map: std::collections::HashMap<uuid::Uuid, Option<AccountId>> =
        rows.into_iter().map(|(id, acc)| (id.0, acc.map(|a| AccountId(a.0)))).collect();
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            map.get(&id.0).copied().ok_or_else(|| RecordError::missing_reference(entity, &field(i), "contact", id))
        })
        .collect()
}

/// The account of a record tied to a contact: the one given, else the contact's. The contact
/// is checked to exist when it changed (`contact_changed`).
pub fn account_for_contact(
    conn: &mut AnyConnection,
    entity: &'static str,
    contact: Option<ContactId>,
    contact_changed: bool,
    given: Option<AccountId>,
) -> Result<Option<AccountId>, RecordError> {
    let Some(c) = contact else { return Ok(given) };
    if !contact_changed && given.is_some() {
        return Ok(given);
    }
    let of_contact = contact_accounts(conn, entity, &[c], |_| "contact_id".into())?.first().copied().flatten();
    Ok(given.or(of_contact))
}

/// Fails unless the opportunity exists (for domains below the sales crate).
pub fn check_opportunity(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<uuid::Uuid>,
) -> Result<(), RecordError> {
    let Some(id) = id else { return Ok(()) };
    let found = crm_db::schema::opportunities::table
        .filter(crm_db::schema::opportunities::id.eq(DbUuid(id)))
        .select(crm_db::schema::opportunities::id)
        .first::<DbUuid>(conn)
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(RecordError::missing_reference(entity, field, "opportunity", id)),
    }
}

/// Fails unless the lead exists (for domains below the sales crate).
pub fn check_lead(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<uuid::Uuid>,
) -> Result<(), RecordError> {
    let Some(id) = id else { return Ok(()) };
    let found = crm_db::schema::leads::table
        .filter(crm_db::schema::leads::id.eq(DbUuid(id)))
        .select(crm_db::schema::leads::id)
        .first::<DbUuid>(conn)
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(RecordError::missing_reference(entity, field, "lead", id)),
    }
}
