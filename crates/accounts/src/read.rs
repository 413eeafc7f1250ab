//! What other domains read of accounts.

use crm_core::Actor;
use crm_core::ids::{AccountId, UserId};
use crm_db::AnyConnection;
use crm_db::schema::accounts;
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;

use crate::model::{Account, AccountInput};

/// The live account with this (normalized) domain.
pub fn live_by_domain(conn: &mut AnyConnection, domain: &str) -> Result<Option<AccountId>, RecordError> {
    Ok(crm_records::write::live_with::<Account>(conn, "domain", domain, None)?)
}

/// The account's owner: None when there is no such account (archived ones count).
pub fn owner_of(conn: &mut AnyConnection, id: AccountId) -> QueryResult<Option<Option<UserId>>> {
    let found: Option<Option<DbUuid>> =
        accounts::table.filter(accounts::id.eq(DbUuid(id.0))).select(accounts::owner_id).first(conn).optional()?;
    Ok(found.map(|o| o.map(|u| UserId(u.0))))
}

/// Bulk import for seeding and migrations (see `crm_records::import`): every input is
/// validated and normalized; owners are left to the foreign key.
pub fn import_accounts(
    conn: &mut AnyConnection,
    actor: &Actor,
    inputs: Vec<AccountInput>,
) -> Result<Vec<Account>, (usize, RecordError)> {
    use crm_records::Record;
    actor.require(Account::WRITE).map_err(|e| (0, e.into()))?;
    let mut items = Vec::with_capacity(inputs.len());
    for (n, input) in inputs.into_iter().enumerate() {
        let mut i =
            input.normalize().map_err(|errors| (n, RecordError::Invalid { entity: Account::ENTITY, errors }))?;
        crm_records::location::relocate(conn, Account::ENTITY, &mut i, None::<&Account>).map_err(|e| (n, e))?;
        items.push(Account::from_input(AccountId::new(), i, None));
    }
    crm_records::import(conn, actor, items)
}
