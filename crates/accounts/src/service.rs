//! Account use cases. Each takes a connection (the caller picks the transaction), the actor,
//! and typed input; REST and GraphQL call exactly these.

use std::collections::HashMap;

use crm_core::external::{BatchOp, BatchOutcome, BatchResults};
use crm_core::ids::AccountId;
use crm_core::list::{ListParams, Page};
use crm_core::{Actor, ExternalId, FieldErrors, Scope};
use crm_db::AnyConnection;
use crm_db::pool::is_unique_violation;
use crm_events::{Action, HistoryEntry};

use crate::error::AccountError;
use crate::model::{Account, AccountInput, AccountPatch};
use crate::repo::{self, ENTITY};

pub use crate::repo::CATALOG as ACCOUNT_CATALOG;

/// Newest first unless the caller sorts.
pub const DEFAULT_SORT: &str = "-created_at";

/// How many times an unconditional update re-reads after losing a race.
const UPDATE_RETRIES: usize = 10;

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
/// Without `external_ids`, their `external_ids` are left empty (one query fewer).
pub fn get_accounts(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[AccountId],
    external_ids: bool,
) -> Result<Vec<Account>, AccountError> {
    actor.require(Scope::AccountsRead)?;
    Ok(repo::find_many(conn, ids, external_ids)?)
}

/// The external ids of accounts (one query), for readers that left them out.
pub fn external_ids_of(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[AccountId],
) -> Result<HashMap<AccountId, Vec<ExternalId>>, AccountError> {
    actor.require(Scope::AccountsRead)?;
    Ok(crm_db::external_ids::of_records(conn, ENTITY, ids)?)
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

fn build_new(i: AccountInput) -> Account {
    build(AccountId::new(), i, 1, crm_db::to_utc(crm_db::now()))
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
        external_ids: i.external_ids,
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
    check_owner(conn, i.owner_id)?;
    let a = build(AccountId::new(), i, 1, crm_db::to_utc(crm_db::now()));
    // The insert is the duplicate check: only when it finds the domain taken is the owner read.
    if !repo::insert(conn, &a).map_err(|e| on_write_error(e, &a))? {
        check_domain_free(conn, a.domain.as_deref(), None)?;
        return Err(AccountError::Duplicate { domain: a.domain.clone().unwrap_or_default(), existing_id: None });
    }
    write_new_external_ids(conn, &a)?;
    record(conn, actor, Action::Created, None, &a)?;
    Ok(a)
}

/// Owners are users.
fn check_owner(conn: &mut AnyConnection, owner: Option<uuid::Uuid>) -> Result<(), AccountError> {
    crm_db::check_owner(conn, owner).map_err(|e| match e {
        crm_db::DbOwnerError::Missing(f) => AccountError::Invalid(f),
        crm_db::DbOwnerError::Query(q) => AccountError::from(q),
    })
}

fn write_new_external_ids(conn: &mut AnyConnection, a: &Account) -> Result<(), AccountError> {
    crm_db::external_ids::insert_for_new(conn, ENTITY, a.id.0, &a.external_ids)?.map_err(|t| {
        AccountError::ExternalIdTaken {
            index: t.index,
            external_id: t.external_id,
            existing_id: t.owner.map(AccountId),
        }
    })
}

fn write_external_ids(conn: &mut AnyConnection, a: &Account) -> Result<(), AccountError> {
    crm_db::external_ids::replace(conn, ENTITY, a.id.0, &a.external_ids)?.map_err(|t| AccountError::ExternalIdTaken {
        index: t.index,
        external_id: t.external_id,
        existing_id: t.owner.map(AccountId),
    })
}

fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: Action,
    before: Option<&Account>,
    after: &Account,
) -> Result<(), AccountError> {
    let json = |a: &Account| serde_json::to_value(a).unwrap_or_default();
    crm_events::record(conn, actor, ENTITY, after.id.0, action, before.map(json), Some(json(after)))?;
    Ok(())
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
    update_account_from(conn, actor, id, patch, expected_version, None)
}

/// `update_account` starting from a record already read in this transaction (batches prefetch);
/// losing a race re-reads as usual.
fn update_account_from(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AccountId,
    patch: AccountPatch,
    expected_version: Option<i64>,
    mut preloaded: Option<Account>,
) -> Result<Account, AccountError> {
    actor.require(Scope::AccountsWrite)?;
    for _ in 0..UPDATE_RETRIES {
        let cur = match preloaded.take() {
            Some(c) => c,
            None => repo::find(conn, id)?.ok_or(AccountError::NotFound)?,
        };
        if let Some(expected) = expected_version
            && cur.version != expected
        {
            return Err(AccountError::VersionConflict { expected, current: cur.version });
        }
        let draft = patch.clone().apply(&cur).normalize_over(Some(&cur))?;
        let mut next = build(id, draft, cur.version + 1, cur.created_at);
        next.archived_at = cur.archived_at;
        if same_content(&cur, &next) {
            return Ok(cur);
        }
        if next.domain != cur.domain {
            check_domain_free(conn, next.domain.as_deref(), Some(id))?;
        }
        if next.owner_id != cur.owner_id {
            check_owner(conn, next.owner_id)?;
        }
        if repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
            if next.external_ids != cur.external_ids {
                write_external_ids(conn, &next)?;
            }
            record(conn, actor, Action::Updated, Some(&cur), &next)?;
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = repo::find(conn, id)?.map(|a| a.version).unwrap_or(expected);
            return Err(AccountError::VersionConflict { expected, current });
        }
    }
    Err(AccountError::Contended)
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
    // Without a precondition, losing a race to another writer means: re-read and try again.
    for _ in 0..UPDATE_RETRIES {
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
        if repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
            let action = if archive { Action::Archived } else { Action::Restored };
            record(conn, actor, action, Some(&cur), &next)?;
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = repo::find(conn, id)?.map(|r| r.version).unwrap_or(expected);
            return Err(AccountError::VersionConflict { expected, current });
        }
    }
    Err(AccountError::Contended)
}

/// The account that carries an external id.
#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn get_account_by_external_id(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
) -> Result<Account, AccountError> {
    actor.require(Scope::AccountsRead)?;
    let ext = ext.parse("external_id").map_err(|e| AccountError::Invalid(FieldErrors(vec![e])))?;
    let id = crm_db::external_ids::find(conn, ENTITY, &ext)?.ok_or(AccountError::NotFound)?;
    repo::find(conn, AccountId(id))?.ok_or(AccountError::NotFound)
}

/// The account id an external id points at, for other domains' references.
pub fn account_id_by_external_id(
    conn: &mut AnyConnection,
    ext: &ExternalId,
) -> Result<Option<AccountId>, AccountError> {
    Ok(crm_db::external_ids::find(conn, ENTITY, ext)?.map(AccountId))
}

/// Creates or updates the account that carries `ext`: a merge patch on the existing account,
/// or a new account built from the patch. The external id stays attached. Returns whether it
/// created the account.
#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn upsert_account(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
    patch: AccountPatch,
) -> Result<(Account, bool), AccountError> {
    upsert_account_with(conn, actor, ext, patch, None, false)
}

/// `upsert_account` given what a batch found: the record the id pointed at (already read), or
/// `locked_absent` when the batch holds the id's lock and saw no record for it.
fn upsert_account_with(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
    mut patch: AccountPatch,
    known: Option<Account>,
    locked_absent: bool,
) -> Result<(Account, bool), AccountError> {
    actor.require(Scope::AccountsWrite)?;
    let ext = ext.parse("external_id").map_err(|e| AccountError::Invalid(FieldErrors(vec![e])))?;
    // The upsert's own external id stays attached whatever the patch says.
    match &mut patch.external_ids {
        crm_core::Patch::Value(list) if !list.contains(&ext) => list.push(ext.clone()),
        crm_core::Patch::Null => patch.external_ids = crm_core::Patch::Value(vec![ext.clone()]),
        _ => {}
    }
    // An existing record is updated without a lock (versions guard concurrent updates); only
    // creating takes the per-id lock, then looks again, so concurrent upserts create one record.
    if let Some(cur) = known {
        return Ok((update_account_from(conn, actor, cur.id, patch, None, Some(cur))?, false));
    }
    let existing = if locked_absent {
        None
    } else {
        if let Some(id) = crm_db::external_ids::find(conn, ENTITY, &ext)? {
            return Ok((update_account(conn, actor, AccountId(id), patch, None)?, false));
        }
        crm_db::external_ids::lock(conn, ENTITY, &ext)?;
        crm_db::external_ids::find(conn, ENTITY, &ext)?
    };
    match existing {
        Some(id) => Ok((update_account(conn, actor, AccountId(id), patch, None)?, false)),
        None => {
            let mut input = patch.apply(&Account::blank());
            if !input.external_ids.contains(&ext) {
                input.external_ids.push(ext);
            }
            Ok((create_account(conn, actor, input)?, true))
        }
    }
}

/// One batch operation on accounts.
pub type AccountOp = BatchOp<AccountInput, AccountPatch, AccountId>;

/// Runs a batch (see `crm_db::batch::run`): per-item results, or all-or-nothing.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, n = ops.len(), atomic))]
pub fn batch_accounts(
    conn: &mut AnyConnection,
    actor: &Actor,
    ops: Vec<AccountOp>,
    atomic: bool,
) -> BatchResults<Account, AccountError> {
    actor.require(Scope::AccountsWrite).map_err(|e| (0, e.into()))?;
    // Read what the operations will update in a few set-based queries instead of three
    // round trips per operation. A record touched twice re-reads on its second use.
    let exts: Vec<ExternalId> = ops
        .iter()
        .filter_map(|op| match op {
            BatchOp::Upsert { external_id, .. } => external_id.clone().parse("external_id").ok(),
            _ => None,
        })
        .collect();
    let (by_ext, mut absent) =
        crm_db::external_ids::prepare_upserts(conn, ENTITY, &exts).map_err(|e| (usize::MAX, e.into()))?;
    let mut ids: Vec<AccountId> = ops
        .iter()
        .filter_map(|op| match op {
            BatchOp::Update { id, .. } => Some(*id),
            _ => None,
        })
        .chain(by_ext.values().map(|u| AccountId(*u)))
        .collect();
    ids.sort();
    ids.dedup();
    let mut loaded: std::collections::HashMap<AccountId, Account> =
        repo::find_many(conn, &ids, true).map_err(|e| (usize::MAX, e.into()))?.into_iter().map(|r| (r.id, r)).collect();
    crm_db::batch::run(conn, ops, atomic, |c, op| match op {
        BatchOp::Create { data } => {
            crm_db::external_ids::no_longer_absent(&mut absent, &data.external_ids);
            create_account(c, actor, data).map(BatchOutcome::Created)
        }
        BatchOp::Update { id, data, expected_version } => {
            if let crm_core::Patch::Value(list) = &data.external_ids {
                crm_db::external_ids::no_longer_absent(&mut absent, list);
            }
            update_account_from(c, actor, id, data, expected_version, loaded.remove(&id)).map(BatchOutcome::Updated)
        }
        BatchOp::Upsert { external_id, data } => {
            let parsed = external_id.clone().parse("external_id").ok();
            let known = parsed.as_ref().and_then(|e| by_ext.get(e)).and_then(|u| loaded.remove(&AccountId(*u)));
            // Only the first upsert of an absent id may skip the lookup: a later one sees what
            // the first created.
            let locked_absent = parsed.is_some_and(|e| absent.remove(&e));
            upsert_account_with(c, actor, external_id, data, known, locked_absent)
                .map(|(a, created)| if created { BatchOutcome::Created(a) } else { BatchOutcome::Updated(a) })
        }
        BatchOp::Delete { id, expected_version } => {
            // A later update of the same record must read it again.
            loaded.remove(&id);
            archive_account(c, actor, id, expected_version).map(BatchOutcome::Archived)
        }
    })
}

/// The account's change history, newest first.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn account_history(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AccountId,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<HistoryEntry>, AccountError> {
    actor.require(Scope::AccountsRead)?;
    if repo::find(conn, id)?.is_none() {
        return Err(AccountError::NotFound);
    }
    Ok(crm_events::history(conn, ENTITY, id.0, before_seq, limit)?)
}

/// Bulk import for seeding and migrations: validates and normalizes every record, inserts with
/// multi-row statements and records one `account.created` event each. Unlike `create_account`
/// it does not pre-check duplicates one by one: a duplicate fails the whole call (the unique
/// indexes still hold). Returns the created records, or the index of the first invalid input.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, n = inputs.len()))]
pub fn import_accounts(
    conn: &mut AnyConnection,
    actor: &Actor,
    inputs: Vec<AccountInput>,
) -> Result<Vec<Account>, (usize, AccountError)> {
    actor.require(Scope::AccountsWrite).map_err(|e| (0, e.into()))?;
    let mut items = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let normalized = input.normalize().map_err(|e| (i, AccountError::Invalid(e)))?;
        items.push(build_new(normalized));
    }
    repo::insert_many(conn, &items).map_err(|e| (usize::MAX, AccountError::from(e)))?;
    for (i, item) in items.iter().enumerate() {
        write_new_external_ids(conn, item).map_err(|e| (i, e))?;
        record(conn, actor, Action::Created, None, item).map_err(|e| (i, e))?;
    }
    Ok(items)
}
