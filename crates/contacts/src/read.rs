//! What other domains read of contacts: the live holder of an email, the accounts of contacts
//! (records tied to a contact default to its account), and the bulk import.

use std::collections::HashMap;

use crm_core::Actor;
use crm_core::ids::{AccountId, ContactId, UserId};
use crm_db::AnyConnection;
use crm_db::schema::contacts;
use crm_db::types::DbUuid;
use crm_records::visibility::Visibility;
use crm_records::{Record, RecordError};
use diesel::prelude::*;

use crate::model::{Contact, ContactInput};

/// The live contact whose primary email is this (normalized) address.
pub fn live_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<ContactId>, RecordError> {
    Ok(crm_records::write::live_with::<Contact>(conn, "email", email, None)?)
}

/// The contact's owner: None when there is no such contact (archived ones count).
pub fn owner_of(conn: &mut AnyConnection, id: ContactId) -> QueryResult<Option<Option<UserId>>> {
    let found: Option<Option<DbUuid>> =
        contacts::table.filter(contacts::id.eq(DbUuid(id.0))).select(contacts::owner_id).first(conn).optional()?;
    Ok(found.map(|o| o.map(|u| UserId(u.0))))
}

/// Every contact (archived ones included) with its account, in id order (for seeding and
/// bulk work over the whole base).
pub fn all_with_accounts(conn: &mut AnyConnection) -> QueryResult<Vec<(ContactId, Option<AccountId>)>> {
    let rows: Vec<(DbUuid, Option<DbUuid>)> =
        contacts::table.select((contacts::id, contacts::account_id)).order(contacts::id).load(conn)?;
    Ok(rows.into_iter().map(|(c, a)| (ContactId(c.0), a.map(|a| AccountId(a.0)))).collect())
}

/// How many live contacts work at the account, of those `seen` keeps (the caller's visibility
/// of contacts).
pub fn live_count_at(conn: &mut AnyConnection, account: AccountId, seen: &Visibility) -> QueryResult<i64> {
    contacts::table
        .filter(contacts::account_id.eq(DbUuid(account.0)))
        .filter(contacts::archived_at.is_null())
        .filter(seen.sql("owner_id", "id", conn.backend()))
        .count()
        .get_result(conn)
}

/// The account of each contact, failing with the first contact that does not exist, named as
/// the input field `field(i)` of `entity`.
pub fn accounts_of_contacts(
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
    let map: HashMap<uuid::Uuid, Option<AccountId>> =
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
    let of_contact = accounts_of_contacts(conn, entity, &[c], |_| "contact_id".into())?.first().copied().flatten();
    Ok(given.or(of_contact))
}

/// Bulk import for seeding and migrations (see `crm_records::import`): every input is
/// validated and normalized; accounts and owners are left to the foreign keys.
pub fn import_contacts(
    conn: &mut AnyConnection,
    actor: &Actor,
    inputs: Vec<ContactInput>,
) -> Result<Vec<Contact>, (usize, RecordError)> {
    actor.require(Contact::WRITE).map_err(|e| (0, e.into()))?;
    let now = crm_db::to_utc(crm_db::now());
    let mut items = Vec::with_capacity(inputs.len());
    for (n, input) in inputs.into_iter().enumerate() {
        let mut i =
            input.normalize().map_err(|errors| (n, RecordError::Invalid { entity: Contact::ENTITY, errors }))?;
        crm_records::location::relocate(conn, Contact::ENTITY, &mut i, None::<&Contact>).map_err(|e| (n, e))?;
        items.push(Contact::from_input(ContactId::new(), i, None, now));
    }
    crm_records::import(conn, actor, items)
}
