//! Account use cases. Each takes a connection (the caller picks the transaction), the actor,
//! and typed input; REST and GraphQL call exactly these.

use crm_core::Scope;
use crm_core::ids::AccountId;
use crm_core::list::{ListParams, Page};
use crm_core::{Actor, FieldErrors};
use crm_db::AnyConnection;
use crm_db::pool::is_unique_violation;

use crate::error::AccountError;
use crate::model::{Account, AccountInput, AccountPatch};
use crate::repo;

pub use crate::repo::CATALOG as ACCOUNT_CATALOG;

/// Newest first unless the caller sorts.
pub const DEFAULT_SORT: &str = "-created_at";

/// How many times an unconditional update re-reads after losing a race.
const UPDATE_RETRIES: usize = 5;

#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn list_accounts(
    conn: &mut AnyConnection,
    actor: &Actor,
    params: &ListParams,
) -> Result<Page<Account>, AccountError> {
    actor.require(Scope::AccountsRead)?;
    let q = params.resolve(&repo::CATALOG, DEFAULT_SORT)?;
    repo::list(conn, &q)
}

#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn get_account(conn: &mut AnyConnection, actor: &Actor, id: AccountId) -> Result<Account, AccountError> {
    actor.require(Scope::AccountsRead)?;
    repo::find(conn, id)?.ok_or(AccountError::NotFound)
}

/// Accounts by id, archived ones included (relations still point at them). Missing ids are skipped.
pub fn get_accounts(conn: &mut AnyConnection, actor: &Actor, ids: &[AccountId]) -> Result<Vec<Account>, AccountError> {
    actor.require(Scope::AccountsRead)?;
    Ok(repo::find_many(conn, ids)?)
}

/// Whether an account exists (live or archived), for other domains that reference one.
pub fn account_exists(conn: &mut AnyConnection, id: AccountId) -> Result<bool, AccountError> {
    Ok(repo::find(conn, id)?.is_some())
}

fn check_domain_free(
    conn: &mut AnyConnection,
    domain: Option<&str>,
    except: Option<AccountId>,
) -> Result<(), AccountError> {
    if let Some(d) = domain
        && let Some(existing_id) = repo::find_live_by_domain(conn, d, except)?
    {
        return Err(AccountError::Duplicate { domain: d.to_string(), existing_id: Some(existing_id) });
    }
    Ok(())
}

/// Maps a unique-index failure (a concurrent duplicate that passed the pre-check) to the same
/// answer. The failed statement may have aborted the transaction (PostgreSQL), so the
/// existing id is not looked up.
fn on_write_error(e: diesel::result::Error, a: &Account) -> AccountError {
    match &a.domain {
        Some(d) if is_unique_violation(&e) => AccountError::Duplicate { domain: d.clone(), existing_id: None },
        _ => AccountError::from(e),
    }
}

fn build(id: AccountId, i: AccountInput, version: i64, created_at: crm_core::Timestamp) -> Account {
    let now = crm_db::to_utc(crm_db::now());
    Account {
        id,
        name: i.name,
        domain: i.domain,
        industry: i.industry,
        tier: i.tier,
        owner_id: i.owner_id,
        phone: i.phone,
        website: i.website,
        street: i.street,
        city: i.city,
        region: i.region,
        postal_code: i.postal_code,
        country: i.country,
        latitude: i.latitude,
        longitude: i.longitude,
        annual_revenue: i.annual_revenue,
        employee_count: i.employee_count,
        tags: i.tags,
        custom_fields: i.custom_fields.unwrap_or_else(|| serde_json::json!({})),
        version,
        created_at: if version == 1 { now } else { created_at },
        updated_at: now,
        archived_at: None,
    }
}

#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn create_account(conn: &mut AnyConnection, actor: &Actor, input: AccountInput) -> Result<Account, AccountError> {
    actor.require(Scope::AccountsWrite)?;
    let i = input.normalize()?;
    check_domain_free(conn, i.domain.as_deref(), None)?;
    let a = build(AccountId::new(), i, 1, crm_db::to_utc(crm_db::now()));
    repo::insert(conn, &a).map_err(|e| on_write_error(e, &a))?;
    Ok(a)
}

/// Applies a merge patch. With `expected_version`, a stale version is `VersionConflict`;
/// without, concurrent writers are serialized (last write wins per field set).
/// A patch that changes nothing leaves the version alone.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn update_account(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AccountId,
    patch: AccountPatch,
    expected_version: Option<i64>,
) -> Result<Account, AccountError> {
    actor.require(Scope::AccountsWrite)?;
    for _ in 0..UPDATE_RETRIES {
        let cur = repo::find(conn, id)?.ok_or(AccountError::NotFound)?;
        if let Some(expected) = expected_version
            && cur.version != expected
        {
            return Err(AccountError::VersionConflict { expected, current: cur.version });
        }
        let draft = patch.clone().apply(&cur).normalize()?;
        let mut next = build(id, draft, cur.version + 1, cur.created_at);
        next.archived_at = cur.archived_at;
        if same_content(&cur, &next) {
            return Ok(cur);
        }
        if next.domain != cur.domain {
            check_domain_free(conn, next.domain.as_deref(), Some(id))?;
        }
        if repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = repo::find(conn, id)?.map(|a| a.version).unwrap_or(expected);
            return Err(AccountError::VersionConflict { expected, current });
        }
    }
    Err(AccountError::Invalid(FieldErrors(vec![crm_core::FieldError::new(
        "version",
        "contended",
        "the account is being changed by others; retry",
    )])))
}

fn same_content(a: &Account, b: &Account) -> bool {
    let strip = |x: &Account| Account { version: 0, updated_at: x.created_at, ..x.clone() };
    strip(a) == strip(b)
}

/// Archives (soft-deletes) an account. Archiving an archived account changes nothing.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn archive_account(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AccountId,
    expected_version: Option<i64>,
) -> Result<Account, AccountError> {
    set_archived(conn, actor, id, expected_version, true)
}

/// Brings an archived account back. Fails with `Duplicate` if its domain was taken meanwhile.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn restore_account(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AccountId,
    expected_version: Option<i64>,
) -> Result<Account, AccountError> {
    set_archived(conn, actor, id, expected_version, false)
}

fn set_archived(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AccountId,
    expected_version: Option<i64>,
    archive: bool,
) -> Result<Account, AccountError> {
    actor.require(Scope::AccountsWrite)?;
    let cur = repo::find(conn, id)?.ok_or(AccountError::NotFound)?;
    if let Some(expected) = expected_version
        && cur.version != expected
    {
        return Err(AccountError::VersionConflict { expected, current: cur.version });
    }
    if cur.archived_at.is_some() == archive {
        return Ok(cur);
    }
    if !archive {
        check_domain_free(conn, cur.domain.as_deref(), Some(id))?;
    }
    let now = crm_db::to_utc(crm_db::now());
    let next = Account {
        archived_at: if archive { Some(now) } else { None },
        updated_at: now,
        version: cur.version + 1,
        ..cur.clone()
    };
    if !repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
        let current = repo::find(conn, id)?.map(|a| a.version).unwrap_or(cur.version);
        return Err(AccountError::VersionConflict { expected: cur.version, current });
    }
    Ok(next)
}
