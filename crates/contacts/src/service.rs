//! Contact use cases, shared by REST and GraphQL.

use crm_accounts::AccountError;
use crm_core::filter::{Literal, Op, Resolved};
use crm_core::ids::{AccountId, ContactId};
use crm_core::list::{ListParams, Page};
use crm_core::{Actor, FieldError, FieldErrors, Scope};
use crm_db::AnyConnection;
use crm_db::pool::is_unique_violation;

use crate::error::ContactError;
use crate::model::{Contact, ContactInput, ContactPatch, EmailConsent, LifecycleStage};
use crate::repo;

pub use crate::repo::CATALOG as CONTACT_CATALOG;

/// Newest first unless the caller sorts.
pub const DEFAULT_SORT: &str = "-created_at";

const UPDATE_RETRIES: usize = 5;

#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn list_contacts(
    conn: &mut AnyConnection,
    actor: &Actor,
    params: &ListParams,
) -> Result<Page<Contact>, ContactError> {
    actor.require(Scope::ContactsRead)?;
    let q = params.resolve(&repo::CATALOG, DEFAULT_SORT)?;
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
    let field = repo::CATALOG.field("account_id").ok_or(ContactError::NotFound)?;
    let by_account = Resolved::Cond { field, op: Op::Eq, values: vec![Literal::Uuid(account_id.0)] };
    q.filter = Some(match q.filter.take() {
        Some(f) => Resolved::And(vec![by_account, f]),
        None => by_account,
    });
    repo::list(conn, &q)
}

#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn get_contact(conn: &mut AnyConnection, actor: &Actor, id: ContactId) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsRead)?;
    repo::find(conn, id)?.ok_or(ContactError::NotFound)
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
        version: prev.map(|p| p.version + 1).unwrap_or(1),
        created_at: prev.map(|p| p.created_at).unwrap_or(now),
        updated_at: now,
        archived_at: prev.and_then(|p| p.archived_at),
    }
}

#[tracing::instrument(skip_all, fields(actor = %actor.sub))]
pub fn create_contact(conn: &mut AnyConnection, actor: &Actor, input: ContactInput) -> Result<Contact, ContactError> {
    actor.require(Scope::ContactsWrite)?;
    let i = input.normalize()?;
    check_account(conn, i.account_id)?;
    check_email_free(conn, i.email.as_deref(), None)?;
    let c = build(ContactId::new(), i, None);
    repo::insert(conn, &c).map_err(|e| on_write_error(e, &c))?;
    Ok(c)
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
    actor.require(Scope::ContactsWrite)?;
    for _ in 0..UPDATE_RETRIES {
        let cur = repo::find(conn, id)?.ok_or(ContactError::NotFound)?;
        if let Some(expected) = expected_version
            && cur.version != expected
        {
            return Err(ContactError::VersionConflict { expected, current: cur.version });
        }
        let draft = patch.clone().apply(&cur).normalize()?;
        let next = build(id, draft, Some(&cur));
        if same_content(&cur, &next) {
            return Ok(cur);
        }
        if next.account_id != cur.account_id {
            check_account(conn, next.account_id)?;
        }
        if next.email != cur.email {
            check_email_free(conn, next.email.as_deref(), Some(id))?;
        }
        if repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = repo::find(conn, id)?.map(|c| c.version).unwrap_or(expected);
            return Err(ContactError::VersionConflict { expected, current });
        }
    }
    Err(ContactError::Invalid(FieldErrors(vec![FieldError::new(
        "version",
        "contended",
        "the contact is being changed by others; retry",
    )])))
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
    if !repo::update_if_version(conn, &next, cur.version).map_err(|e| on_write_error(e, &next))? {
        let current = repo::find(conn, id)?.map(|c| c.version).unwrap_or(cur.version);
        return Err(ContactError::VersionConflict { expected: cur.version, current });
    }
    Ok(next)
}
