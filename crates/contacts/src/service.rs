//! Contact use cases, shared by REST and GraphQL.

use std::collections::HashMap;

use crm_accounts::{Account, AccountError};
use crm_core::external::{BatchOp, BatchOutcome, BatchResults};
use crm_core::filter::{Literal, Op, Resolved};
use crm_core::ids::{AccountId, ContactId};
use crm_core::list::{ListParams, Page};
use crm_core::{Actor, ExternalId, FieldError, FieldErrors, Scope};
use crm_db::AnyConnection;
use crm_db::pool::is_unique_violation;
use crm_events::{Action, HistoryEntry};

use crate::error::ContactError;
use crate::model::{Contact, ContactInput, ContactPatch, EmailConsent, LifecycleStage};
use crate::repo::{self, ENTITY};

pub use crate::repo::CATALOG as CONTACT_CATALOG;

/// Newest first unless the caller sorts.
pub const DEFAULT_SORT: &str = "-created_at";

const UPDATE_RETRIES: usize = 10;

#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn list_contacts(
    conn: &mut AnyConnection,
    actor: &Actor,
    params: &ListParams,
) -> Result<Page<Contact>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    let q = params.resolve(&repo::CATALOG, DEFAULT_SORT)?;
    require_related_scopes(actor, &q)?;
    repo::list(conn, &q)
}

/// The contacts of one account, with the full list grammar on top.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %account_id))]
pub fn list_account_contacts(
    conn: &mut AnyConnection,
    actor: &Actor,
    account_id: AccountId,
    params: &ListParams,
) -> Result<Page<Contact>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    actor.require(Scope::AccountsRead)?;
    if !crm_accounts::account_exists(conn, account_id).map_err(account_error)? {
        return Err(ContactError::NotFound);
    }
    let mut q = params.resolve(&repo::CATALOG, DEFAULT_SORT)?;
    require_related_scopes(actor, &q)?;
    let field = repo::CATALOG.field("account_id").ok_or(ContactError::NotFound)?;
    let by_account = Resolved::Cond { field, op: Op::Eq, values: vec![Literal::Uuid(account_id.0)] };
    q.filter = Some(match q.filter.take() {
        Some(f) => Resolved::And(vec![by_account, f]),
        None => by_account,
    });
    repo::list(conn, &q)
}

/// Filters through `account.*` read accounts: the caller must be allowed to.
fn require_related_scopes(actor: &Actor, q: &crm_core::list::ListQuery) -> Result<(), ContactError> {
    if let Some(f) = &q.filter
        && f.related_resources().contains(&"accounts")
    {
        actor.require(Scope::AccountsRead)?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn get_contact(conn: &mut AnyConnection, actor: &Actor, id: ContactId) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsRead)?;
    repo::find(conn, id)?.ok_or(ContactError::NotFound)
}

/// Contacts by id (archived included), for batch loaders; missing ids are skipped.
pub fn get_contacts(conn: &mut AnyConnection, actor: &Actor, ids: &[ContactId]) -> Result<Vec<Contact>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    Ok(repo::find_many(conn, ids)?)
}

/// The accounts `contacts` work at (archived ones included), by id: what a contact list embeds
/// (`include=account` in REST, `account` in GraphQL). Without `external_ids`, the accounts'
/// `external_ids` are left empty (one query instead of two).
pub fn accounts_of(
    conn: &mut AnyConnection,
    actor: &Actor,
    contacts: &[Contact],
    external_ids: bool,
) -> Result<HashMap<AccountId, Account>, AccountError> {
    let mut ids: Vec<AccountId> = contacts.iter().filter_map(|c| c.account_id).collect();
    ids.sort();
    ids.dedup();
    Ok(crm_accounts::get_accounts(conn, actor, &ids, external_ids)?.into_iter().map(|a| (a.id, a)).collect())
}

/// The external ids of contacts (one query), for readers that left them out.
pub fn external_ids_of(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[ContactId],
) -> Result<HashMap<ContactId, Vec<ExternalId>>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    Ok(crm_db::external_ids::of_records(conn, ENTITY, ids)?)
}

/// Live contacts of several accounts (at most `per_account` each), for batch loaders.
pub fn contacts_of_accounts(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[AccountId],
    per_account: usize,
) -> Result<Vec<Contact>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    Ok(repo::live_by_accounts(conn, ids, per_account)?)
}

fn account_error(e: AccountError) -> ContactError {
    match e {
        AccountError::Db(d) => ContactError::Db(d),
        AccountError::Forbidden(f) => ContactError::Forbidden(f),
        other => ContactError::Db(crm_db::DbError::Task(other.to_string())),
    }
}

fn check_account(conn: &mut AnyConnection, account_id: Option<AccountId>) -> Result<(), ContactError> {
    if let Some(id) = account_id
        && !crm_accounts::account_exists(conn, id).map_err(account_error)?
    {
        return Err(ContactError::Invalid(FieldErrors(vec![FieldError::new(
            "account_id",
            "not_found",
            format!("account {id} does not exist"),
        )])));
    }
    Ok(())
}

/// Owners are users.
fn check_owner(conn: &mut AnyConnection, owner: Option<uuid::Uuid>) -> Result<(), ContactError> {
    crm_db::check_owner(conn, owner).map_err(|e| match e {
        crm_db::DbOwnerError::Missing(f) => ContactError::Invalid(f),
        crm_db::DbOwnerError::Query(q) => ContactError::from(q),
    })
}

fn check_email_free(
    conn: &mut AnyConnection,
    email: Option<&str>,
    except: Option<ContactId>,
) -> Result<(), ContactError> {
    if let Some(e) = email
        && let Some(existing_id) = repo::find_live_by_email(conn, e, except)?
    {
        return Err(ContactError::Duplicate { email: e.to_string(), existing_id: Some(existing_id) });
    }
    Ok(())
}

fn on_write_error(e: diesel::result::Error, c: &Contact) -> ContactError {
    match &c.email {
        Some(m) if is_unique_violation(&e) => ContactError::Duplicate { email: m.clone(), existing_id: None },
        _ => ContactError::from(e),
    }
}

fn build_new(i: ContactInput) -> Contact {
    build(ContactId::new(), i, None)
}

fn build(id: ContactId, i: ContactInput, prev: Option<&Contact>) -> Contact {
    let now = crm_db::to_utc(crm_db::now());
    let email_consent = i.email_consent.unwrap_or(EmailConsent::Unknown);
    let email_consent_at = match prev {
        Some(p) if p.email_consent == email_consent => p.email_consent_at,
        _ if email_consent == EmailConsent::Unknown && prev.is_none() => None,
        _ => Some(now),
    };
    Contact {
        id,
        first_name: i.first_name,
        last_name: i.last_name,
        email: i.email,
        emails: i.emails,
        phone: i.phone,
        phones: i.phones,
        title: i.title,
        department: i.department,
        account_id: i.account_id,
        owner_id: i.owner_id,
        lifecycle_stage: i.lifecycle_stage.unwrap_or(LifecycleStage::Lead),
        email_consent,
        email_consent_at,
        do_not_call: i.do_not_call.unwrap_or(false),
        street: i.street,
        city: i.city,
        region: i.region,
        postal_code: i.postal_code,
        country: i.country,
        latitude: i.latitude,
        longitude: i.longitude,
        tags: i.tags,
        custom_fields: i.custom_fields.unwrap_or_else(|| serde_json::json!({})),
        external_ids: i.external_ids,
        version: prev.map(|p| p.version + 1).unwrap_or(1),
        created_at: prev.map(|p| p.created_at).unwrap_or(now),
        updated_at: now,
        archived_at: prev.and_then(|p| p.archived_at),
    }
}

#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn create_contact(conn: &mut AnyConnection, actor: &Actor, input: ContactInput) -> Result<Contact, ContactError> {
    create_contact_with(conn, actor, input, None)
}

/// `create_contact`; given a batch's `deferral`, the insert is left for the end of the group
/// (a taken email or external id then makes the group run again, writing as it goes).
fn create_contact_with(
    conn: &mut AnyConnection,
    actor: &Actor,
    mut input: ContactInput,
    deferral: Option<&mut Deferral>,
) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsWrite)?;
    resolve_account_ref(conn, &mut input)?;
    let i = input.normalize()?;
    check_account(conn, i.account_id)?;
    check_owner(conn, i.owner_id)?;
    let c = build(ContactId::new(), i, None);
    if let Some(d) = deferral {
        if let Some(pending) = d.writes() {
            pending.creates.push(c.clone());
            record(conn, actor, Action::Created, None, &c)?;
            return Ok(c);
        }
        d.settle(conn)?;
    }
    // The insert is the duplicate check: only when it finds the email taken is the owner read.
    if !repo::insert(conn, &c).map_err(|e| on_write_error(e, &c))? {
        check_email_free(conn, c.email.as_deref(), None)?;
        return Err(ContactError::Duplicate { email: c.email.clone().unwrap_or_default(), existing_id: None });
    }
    write_new_external_ids(conn, &c)?;
    record(conn, actor, Action::Created, None, &c)?;
    Ok(c)
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> ContactError {
    ContactError::Invalid(FieldErrors(vec![FieldError::new(field, code, message)]))
}

/// Turns `account: {id | external_id}` into `account_id`.
fn resolve_account_ref(conn: &mut AnyConnection, input: &mut ContactInput) -> Result<(), ContactError> {
    let Some(r) = input.account.take() else { return Ok(()) };
    let id = match (r.id, r.external_id) {
        (Some(id), None) => id,
        (None, Some(ext)) => {
            let ext = ext.parse("account.external_id").map_err(|e| ContactError::Invalid(FieldErrors(vec![e])))?;
            crm_accounts::account_id_by_external_id(conn, &ext).map_err(account_error)?.ok_or_else(|| {
                invalid(
                    "account.external_id",
                    "not_found",
                    format!("no account has external id {}:{}", ext.source, ext.id),
                )
            })?
        }
        _ => return Err(invalid("account", "invalid", "give exactly one of `id` or `external_id`")),
    };
    if input.account_id.is_some_and(|a| a != id) {
        return Err(invalid("account", "conflict", "`account` and `account_id` name different accounts"));
    }
    input.account_id = Some(id);
    Ok(())
}

fn write_new_external_ids(conn: &mut AnyConnection, c: &Contact) -> Result<(), ContactError> {
    crm_db::external_ids::insert_for_new(conn, ENTITY, c.id.0, &c.external_ids)?.map_err(|t| {
        ContactError::ExternalIdTaken {
            index: t.index,
            external_id: t.external_id,
            existing_id: t.owner.map(ContactId),
        }
    })
}

fn write_external_ids(conn: &mut AnyConnection, c: &Contact) -> Result<(), ContactError> {
    crm_db::external_ids::replace(conn, ENTITY, c.id.0, &c.external_ids)?.map_err(|t| ContactError::ExternalIdTaken {
        index: t.index,
        external_id: t.external_id,
        existing_id: t.owner.map(ContactId),
    })
}

fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: Action,
    before: Option<&Contact>,
    after: &Contact,
) -> Result<(), ContactError> {
    let json = |c: &Contact| serde_json::to_value(c).unwrap_or_default();
    crm_events::record(conn, actor, ENTITY, after.id.0, action, before.map(json), Some(json(after)))?;
    Ok(())
}

/// Applies a merge patch; see `crm_accounts::update_account` for the version rules.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn update_contact(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ContactId,
    patch: ContactPatch,
    expected_version: Option<i64>,
) -> Result<Contact, ContactError> {
    update_contact_from(conn, actor, id, patch, expected_version, None, None)
}

/// Contact writes a batch leaves for the end of its group (see `crm_db::batch`): creates,
/// with their external ids, and updates of records read at the start of the batch, each
/// with the version it was read at.
#[derive(Default)]
struct PendingWrites {
    creates: Vec<Contact>,
    updates: Vec<(Contact, i64)>,
}

impl crm_db::batch::Deferred for PendingWrites {
    fn flush(&mut self, conn: &mut AnyConnection) -> diesel::QueryResult<bool> {
        let creates = std::mem::take(&mut self.creates);
        let updates = std::mem::take(&mut self.updates);
        let ext: Vec<(uuid::Uuid, &[ExternalId])> =
            creates.iter().map(|c| (c.id.0, c.external_ids.as_slice())).collect();
        Ok(repo::insert_many_new(conn, &creates)?
            && crm_db::external_ids::insert_many_new(conn, ENTITY, &ext)?
            && repo::update_many_if_version(conn, &updates)?)
    }
    fn discard(&mut self) {
        self.creates.clear();
        self.updates.clear();
    }
}

type Deferral = crm_db::batch::Deferral<PendingWrites>;

/// `update_contact` starting from a record already read in this transaction (batches prefetch);
/// losing a race re-reads as usual.
///
/// Given a batch's `deferral`, an update of the preloaded record that leaves the email and the
/// external ids as they were (so no other record's uniqueness check depends on it) is left
/// pending for the end of the group; any other path first makes the pending writes, so that
/// what it reads is current.
fn update_contact_from(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ContactId,
    patch: ContactPatch,
    expected_version: Option<i64>,
    mut preloaded: Option<Contact>,
    mut deferral: Option<&mut Deferral>,
) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsWrite)?;
    for _ in 0..UPDATE_RETRIES {
        let (cur, was_preloaded) = match preloaded.take() {
            Some(c) => (c, true),
            None => {
                if let Some(d) = deferral.as_deref_mut() {
                    d.settle(conn)?;
                }
                (repo::find(conn, id)?.ok_or(ContactError::NotFound)?, false)
            }
        };
        if let Some(expected) = expected_version
            && cur.version != expected
        {
            return Err(ContactError::VersionConflict { expected, current: cur.version });
        }
        let mut draft = patch.clone().apply(&cur);
        resolve_account_ref(conn, &mut draft)?;
        let draft = draft.normalize_over(Some(&cur))?;
        let next = build(id, draft, Some(&cur));
        if same_content(&cur, &next) {
            return Ok(cur);
        }
        if next.account_id != cur.account_id {
            check_account(conn, next.account_id)?;
        }
        if next.owner_id != cur.owner_id {
            check_owner(conn, next.owner_id)?;
        }
        if let Some(d) = deferral.as_deref_mut() {
            // Deferred only when nothing else changes with the row: a new email or new external
            // ids are checked and written now, against a table without pending writes.
            if was_preloaded
                && next.email == cur.email
                && next.external_ids == cur.external_ids
                && let Some(pending) = d.writes()
            {
                pending.updates.push((next.clone(), cur.version));
                record(conn, actor, Action::Updated, Some(&cur), &next)?;
                return Ok(next);
            }
            d.settle(conn)?;
        }
        if next.email != cur.email {
            check_email_free(conn, next.email.as_deref(), Some(id))?;
        }
        if repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
            if next.external_ids != cur.external_ids {
                write_external_ids(conn, &next)?;
            }
            record(conn, actor, Action::Updated, Some(&cur), &next)?;
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = repo::find(conn, id)?.map(|c| c.version).unwrap_or(expected);
            return Err(ContactError::VersionConflict { expected, current });
        }
    }
    Err(ContactError::Contended)
}

fn same_content(a: &Contact, b: &Contact) -> bool {
    let strip = |x: &Contact| Contact { version: 0, updated_at: x.created_at, ..x.clone() };
    strip(a) == strip(b)
}

/// Archives (soft-deletes) a contact. Archiving an archived contact changes nothing.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn archive_contact(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ContactId,
    expected_version: Option<i64>,
) -> Result<Contact, ContactError> {
    set_archived(conn, actor, id, expected_version, true)
}

/// Brings an archived contact back. Fails with `Duplicate` if its email was taken meanwhile.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn restore_contact(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ContactId,
    expected_version: Option<i64>,
) -> Result<Contact, ContactError> {
    set_archived(conn, actor, id, expected_version, false)
}

fn set_archived(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ContactId,
    expected_version: Option<i64>,
    archive: bool,
) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsWrite)?;
    // Without a precondition, losing a race to another writer means: re-read and try again.
    for _ in 0..UPDATE_RETRIES {
        let cur = repo::find(conn, id)?.ok_or(ContactError::NotFound)?;
        if let Some(expected) = expected_version
            && cur.version != expected
        {
            return Err(ContactError::VersionConflict { expected, current: cur.version });
        }
        if cur.archived_at.is_some() == archive {
            return Ok(cur);
        }
        if !archive {
            check_email_free(conn, cur.email.as_deref(), Some(id))?;
        }
        let now = crm_db::to_utc(crm_db::now());
        let next = Contact {
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
            return Err(ContactError::VersionConflict { expected, current });
        }
    }
    Err(ContactError::Contended)
}

/// The contact that carries an external id.
#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn get_contact_by_external_id(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsRead)?;
    let ext = ext.parse("external_id").map_err(|e| ContactError::Invalid(FieldErrors(vec![e])))?;
    let id = crm_db::external_ids::find(conn, ENTITY, &ext)?.ok_or(ContactError::NotFound)?;
    repo::find(conn, ContactId(id))?.ok_or(ContactError::NotFound)
}

/// Creates or updates the contact that carries `ext` (see `crm_accounts::upsert_account`).
#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn upsert_contact(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
    patch: ContactPatch,
) -> Result<(Contact, bool), ContactError> {
    upsert_contact_with(conn, actor, ext, patch, None, false, None)
}

/// `upsert_contact` given what a batch found: the record the id pointed at (already read), or
/// `locked_absent` when the batch holds the id's lock and saw no record for it.
fn upsert_contact_with(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
    mut patch: ContactPatch,
    known: Option<Contact>,
    locked_absent: bool,
    mut deferral: Option<&mut Deferral>,
) -> Result<(Contact, bool), ContactError> {
    actor.require(Scope::ContactsWrite)?;
    let ext = ext.parse("external_id").map_err(|e| ContactError::Invalid(FieldErrors(vec![e])))?;
    match &mut patch.external_ids {
        crm_core::Patch::Value(list) if !list.contains(&ext) => list.push(ext.clone()),
        crm_core::Patch::Null => patch.external_ids = crm_core::Patch::Value(vec![ext.clone()]),
        _ => {}
    }
    // An existing record is updated without a lock (versions guard concurrent updates); only
    // creating takes the per-id lock, then looks again, so concurrent upserts create one record.
    if let Some(cur) = known {
        return Ok((update_contact_from(conn, actor, cur.id, patch, None, Some(cur), deferral)?, false));
    }
    let existing = if locked_absent {
        None
    } else {
        if let Some(d) = deferral.as_deref_mut() {
            d.settle(conn)?;
        }
        if let Some(id) = crm_db::external_ids::find(conn, ENTITY, &ext)? {
            return Ok((update_contact(conn, actor, ContactId(id), patch, None)?, false));
        }
        crm_db::external_ids::lock(conn, ENTITY, &ext)?;
        crm_db::external_ids::find(conn, ENTITY, &ext)?
    };
    match existing {
        Some(id) => Ok((update_contact(conn, actor, ContactId(id), patch, None)?, false)),
        None => {
            let mut input = patch.apply(&Contact::blank());
            if !input.external_ids.contains(&ext) {
                input.external_ids.push(ext);
            }
            Ok((create_contact_with(conn, actor, input, deferral)?, true))
        }
    }
}

/// One batch operation on contacts.
pub type ContactOp = BatchOp<ContactInput, ContactPatch, ContactId>;

/// Runs a batch: per-item results, or all-or-nothing.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, n = ops.len(), atomic))]
pub fn batch_contacts(
    conn: &mut AnyConnection,
    actor: &Actor,
    ops: Vec<ContactOp>,
    atomic: bool,
) -> BatchResults<Contact, ContactError> {
    actor.require(Scope::ContactsWrite).map_err(|e| (0, e.into()))?;
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
    let mut ids: Vec<ContactId> = ops
        .iter()
        .filter_map(|op| match op {
            BatchOp::Update { id, .. } => Some(*id),
            _ => None,
        })
        .chain(by_ext.values().map(|u| ContactId(*u)))
        .collect();
    ids.sort();
    ids.dedup();
    let mut loaded: std::collections::HashMap<ContactId, Contact> =
        repo::find_many(conn, &ids).map_err(|e| (usize::MAX, e.into()))?.into_iter().map(|r| (r.id, r)).collect();
    // Creates and updates of prefetched records are written a group at a time (one statement
    // each on PostgreSQL); every other operation first makes the pending writes.
    crm_db::batch::run_deferring(conn, ops, atomic, PendingWrites::default(), |c, op, d| match op {
        BatchOp::Create { data } => {
            crm_db::external_ids::no_longer_absent(&mut absent, &data.external_ids);
            create_contact_with(c, actor, data, Some(d)).map(BatchOutcome::Created)
        }
        BatchOp::Update { id, data, expected_version } => {
            if let crm_core::Patch::Value(list) = &data.external_ids {
                crm_db::external_ids::no_longer_absent(&mut absent, list);
            }
            update_contact_from(c, actor, id, data, expected_version, loaded.remove(&id), Some(d))
                .map(BatchOutcome::Updated)
        }
        BatchOp::Upsert { external_id, data } => {
            let parsed = external_id.clone().parse("external_id").ok();
            let known = parsed.as_ref().and_then(|e| by_ext.get(e)).and_then(|u| loaded.remove(&ContactId(*u)));
            // Only the first upsert of an absent id may skip the lookup: a later one sees what
            // the first created.
            let locked_absent = parsed.is_some_and(|e| absent.remove(&e));
            upsert_contact_with(c, actor, external_id, data, known, locked_absent, Some(d))
                .map(|(x, created)| if created { BatchOutcome::Created(x) } else { BatchOutcome::Updated(x) })
        }
        BatchOp::Delete { id, expected_version } => {
            d.settle(c)?;
            // A later update of the same record must read it again.
            loaded.remove(&id);
            archive_contact(c, actor, id, expected_version).map(BatchOutcome::Archived)
        }
    })
}

/// The contact's change history, newest first.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn contact_history(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ContactId,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<HistoryEntry>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    if repo::find(conn, id)?.is_none() {
        return Err(ContactError::NotFound);
    }
    Ok(crm_events::history(conn, ENTITY, id.0, before_seq, limit)?)
}

/// Bulk import for seeding and migrations: validates and normalizes every record, inserts with
/// multi-row statements and records one `contact.created` event each. Unlike `create_contact`
/// it does not pre-check duplicates one by one: a duplicate fails the whole call (the unique
/// indexes still hold). Returns the created records, or the index of the first invalid input.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, n = inputs.len()))]
pub fn import_contacts(
    conn: &mut AnyConnection,
    actor: &Actor,
    inputs: Vec<ContactInput>,
) -> Result<Vec<Contact>, (usize, ContactError)> {
    actor.require(Scope::ContactsWrite).map_err(|e| (0, e.into()))?;
    let mut items = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let normalized = input.normalize().map_err(|e| (i, ContactError::Invalid(e)))?;
        items.push(build_new(normalized));
    }
    repo::insert_many(conn, &items).map_err(|e| (usize::MAX, ContactError::from(e)))?;
    for (i, item) in items.iter().enumerate() {
        write_new_external_ids(conn, item).map_err(|e| (i, e))?;
        record(conn, actor, Action::Created, None, item).map_err(|e| (i, e))?;
    }
    Ok(items)
}
