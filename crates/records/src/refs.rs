//! Reference checks on the foundation's resources (accounts, contacts), for domains that point
//! at them without depending on their crates.

use crm_core::ids::{AccountId, ContactId};
use crm_db::AnyConnection;
use crm_db::schema::contacts;
use crm_db::types::DbUuid;
use diesel::prelude::*;

use crate::RecordError;

/// Fails unless `$table` has a row with this id (archived rows count: history may point at
/// them), naming the input `field` of `entity` and the `what` it refers to.
macro_rules! check_exists {
    ($table:ident, $conn:expr, $entity:expr, $field:expr, $what:literal, $id:expr) => {{
        let Some(id) = $id else { return Ok(()) };
        let found = crm_db::schema::$table::table
            .filter(crm_db::schema::$table::id.eq(DbUuid(id)))
            .select(crm_db::schema::$table::id)
            .first::<DbUuid>($conn)
            .optional()?;
        match found {
            Some(_) => Ok(()),
            None => Err(RecordError::missing_reference($entity, $field, $what, id)),
        }
    }};
}

/// Fails unless the account exists.
pub fn check_account(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<AccountId>,
) -> Result<(), RecordError> {
    check_exists!(accounts, conn, entity, field, "account", id.map(|a| a.0))
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
    check_exists!(opportunities, conn, entity, field, "opportunity", id)
}

/// Fails unless the lead exists (for domains below the sales crate).
pub fn check_lead(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<uuid::Uuid>,
) -> Result<(), RecordError> {
    check_exists!(leads, conn, entity, field, "lead", id)
}
