//! Users: the staff who own records, log interactions and work cases. A token's `sub` maps to
//! a user through `subject`; with provisioning on, a subject without a user gets one the
//! first time it writes.

pub mod api_keys;
pub mod model;
pub mod read;
pub mod sharing;

use crm_core::ids::UserId;
use crm_core::{Actor, ExternalId, Scope};
use crm_db::AnyConnection;
use crm_db::schema::users;
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;

pub use api_keys::{ApiKey, ApiKeyInput, ApiKeyPatch};
pub use model::{Department, USER_CATALOG, User, UserInput, UserPatch, UserRole, UserRow};
pub use sharing::{Share, ShareInput, SharePatch, SharingRule, SharingRuleInput, SharingRulePatch};

/// The live user (other than `except`) whose `field` (`email` or `subject`) equals `value`.
fn live_with(
    conn: &mut AnyConnection,
    field: &'static str,
    value: &str,
    except: Option<UserId>,
) -> QueryResult<Option<UserId>> {
    crm_records::write::live_with::<User>(conn, field, value, except)
}

impl Record for User {
    type Input = UserInput;
    type Patch = UserPatch;

    const ENTITY: &'static str = "user";
    const READ: Scope = Scope::UsersRead;
    const WRITE: Scope = Scope::UsersWrite;
    const DEFAULT_SORT: &'static str = "name";

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: UserId,
        input: UserInput,
        prev: Option<&Self>,
        _now: crm_core::Timestamp,
    ) -> Result<Self, RecordError> {
        let i = input.normalize().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        if i.manager_id != prev.and_then(|p| p.manager_id) {
            check_manager(conn, id, i.manager_id)?;
        }
        let mut u = prev.cloned().unwrap_or_else(User::blank);
        u.id = id;
        u.name = i.name.unwrap_or_default();
        u.email = i.email;
        u.subject = i.subject;
        u.role = i.role.unwrap_or(UserRole::Readonly);
        u.team = i.team;
        u.manager_id = i.manager_id;
        u.department = i.department;
        u.territory = i.territory;
        u.phone = i.phone;
        u.skills = i.skills;
        u.active = i.active.unwrap_or(true);
        u.external_ids = i.external_ids;
        Ok(u)
    }

    /// The email, and the token subject a user signs in as: one live user each.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(e) = &self.email {
            out.push(("email", e.as_str()));
        }
        if let Some(s) = &self.subject {
            out.push(("subject", s.as_str()));
        }
        out
    }
}

/// A new manager for `user`: an active user, and neither the user nor anyone under the user
/// (managers see down the chain, so a cycle would make everyone in it see everything of it).
fn check_manager(conn: &mut AnyConnection, user: UserId, manager: Option<UserId>) -> Result<(), RecordError> {
    let Some(m) = manager else { return Ok(()) };
    if m == user || crm_records::visibility::reports_of(conn, user.0)?.contains(&m.0) {
        return Err(RecordError::invalid(
            User::ENTITY,
            "manager_id",
            "cycle",
            "a user cannot be managed by themselves or by someone they manage",
        ));
    }
    check_user(conn, User::ENTITY, "manager_id", Some(m), true)
}

/// The live user a token's subject signs in as.
pub fn user_by_subject(conn: &mut AnyConnection, subject: &str) -> Result<Option<User>, RecordError> {
    match live_with(conn, "subject", subject, None)? {
        Some(id) => Ok(User::find(conn, id)?),
        None => Ok(None),
    }
}

/// Whether any user, live or archived, signs in as `subject`.
fn subject_known(conn: &mut AnyConnection, subject: &str) -> QueryResult<bool> {
    Ok(users::table.filter(users::subject.eq(subject)).select(users::id).first::<DbUuid>(conn).optional()?.is_some())
}

/// The caller's user. With provisioning on (and inside a write transaction), a subject seen
/// for the first time gets a user named after the token's `name` (or the subject), with the
/// token's email when it is valid and free, and its highest role. A subject whose user was
/// archived gets none (archiving a user revokes it as an author), and claims that would not
/// make a valid user are left out rather than failing the caller's write.
pub fn current_user(conn: &mut AnyConnection, actor: &Actor) -> Result<Option<User>, RecordError> {
    if let Some(u) = user_by_subject(conn, &actor.sub)? {
        return Ok(Some(u));
    }
    if !actor.provision_user || actor.sub.chars().count() > 200 {
        return Ok(None);
    }
    // One creator per subject: concurrent first writes wait here, then find the user.
    let key = ExternalId::new("sub", &actor.sub);
    crm_db::external_ids::lock(conn, "user-subject", &key)?;
    if let Some(u) = user_by_subject(conn, &actor.sub)? {
        return Ok(Some(u));
    }
    if subject_known(conn, &actor.sub)? {
        return Ok(None);
    }
    let role = [UserRole::Admin, UserRole::Sales, UserRole::Support, UserRole::Marketing]
        .into_iter()
        .find(|r| actor.roles.iter().any(|x| x.as_str() == r.as_str()))
        .unwrap_or(UserRole::Readonly);
    let name: String = actor
        .name
        .as_deref()
        .and_then(crm_core::values::clean)
        .unwrap_or_else(|| actor.sub.clone())
        .chars()
        .take(200)
        .collect();
    let email = actor
        .email
        .as_deref()
        .and_then(|e| crm_core::values::parse_email("email", e).ok())
        .filter(|e| live_with(conn, "email", e, None).ok().flatten().is_none());
    let input = UserInput {
        name: Some(name),
        email,
        subject: Some(actor.sub.clone()),
        role: Some(role),
        team: actor.idp_team.clone().flatten(),
        ..Default::default()
    };
    // Provisioning is the system's act on the caller's behalf: it needs no `users:write`.
    let mut system = actor.clone();
    system.scopes.insert(Scope::UsersWrite);
    Ok(Some(crm_records::create::<User>(conn, &system, input)?))
}

/// Keeps the caller's user in the team its identity provider says (`Actor::idp_team`, when the
/// provider manages teams): a user in another team is moved, with an event and an audit entry
/// (a team decides what its members see). True when it moved; a subject without a user is left
/// to provisioning, which takes the team too.
pub fn follow_idp_team(conn: &mut AnyConnection, actor: &Actor) -> Result<bool, RecordError> {
    let Some(team) = &actor.idp_team else { return Ok(false) };
    let Some(user) = user_by_subject(conn, &actor.sub)? else { return Ok(false) };
    if user.team == *team {
        return Ok(false);
    }
    // The provider's word, applied by the service: it needs no `users:write`.
    let mut system = actor.clone();
    system.scopes.insert(Scope::UsersWrite);
    crm_records::modify::<User>(conn, &system, user.id, |u| {
        u.team = team.clone();
        true
    })?;
    Ok(true)
}

/// The id of the caller's user, if it has (or, with provisioning, gets) one.
pub fn current_user_id(conn: &mut AnyConnection, actor: &Actor) -> Result<Option<UserId>, RecordError> {
    Ok(current_user(conn, actor)?.map(|u| u.id))
}

/// The user a record is assigned to after a write (its owner or assignee): the one the input
/// names; on a create that names none, the caller's user (when the caller is one); on an update
/// that names none, nobody (the input is the merged state, so the field was cleared). A change
/// is checked with [`check_user`]; `active_only` as there.
pub fn assigned_user(
    conn: &mut AnyConnection,
    actor: &Actor,
    entity: &'static str,
    field: &str,
    named: Option<UserId>,
    before: Option<Option<UserId>>,
    active_only: bool,
) -> Result<Option<UserId>, RecordError> {
    let user = match (named, before) {
        (Some(u), _) => Some(u),
        (None, None) => current_user_id(conn, actor)?,
        (None, Some(_)) => None,
    };
    if before != Some(user) {
        check_user(conn, entity, field, user, active_only)?;
    }
    Ok(user)
}

/// Checks that `id` names a user; `active_only` also refuses inactive or archived users (for
/// new assignments).
pub fn check_user(
    conn: &mut AnyConnection,
    entity: &'static str,
    field: &str,
    id: Option<UserId>,
    active_only: bool,
) -> Result<(), RecordError> {
    let Some(id) = id else { return Ok(()) };
    match User::find(conn, id)? {
        None => Err(RecordError::missing_reference(entity, field, "user", id)),
        Some(u) if active_only && (!u.active || u.archived_at.is_some()) => {
            Err(RecordError::invalid(entity, field, "inactive", format!("user {id} is inactive")))
        }
        Some(_) => Ok(()),
    }
}
