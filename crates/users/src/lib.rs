//! Users: the staff who own records, log interactions and work cases. A token's `sub` maps to
//! a user through `subject`; with provisioning on, a subject without a user gets one the
//! first time it writes.

pub mod model;

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind};
use crm_core::ids::UserId;
use crm_core::{Actor, ExternalId, Scope};
use crm_db::schema::users;
use crm_db::sql::SearchIndex;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;

pub use model::{Department, User, UserInput, UserPatch, UserRole};

const fn f(name: &'static str, kind: FieldKind, nullable: bool, sortable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable }
}

/// What user lists filter and sort on.
pub static USER_CATALOG: Catalog = Catalog {
    resource: "users",
    table: "users",
    fields: &[
        f("id", FieldKind::Uuid, false, false),
        f("name", FieldKind::Text, false, true),
        f("email", FieldKind::LowerText, true, true),
        f("subject", FieldKind::Text, true, false),
        f("role", FieldKind::Enum(UserRole::NAMES), false, true),
        f("team", FieldKind::Text, true, true),
        f("department", FieldKind::Enum(Department::NAMES), true, true),
        f("territory", FieldKind::Text, true, true),
        f("skills", FieldKind::Tags, false, false),
        f("active", FieldKind::Bool, false, false),
        FieldDef { name: "external_id", column: "user", kind: FieldKind::ExternalId, nullable: false, sortable: false },
        f("created_at", FieldKind::Timestamp, false, true),
        f("updated_at", FieldKind::Timestamp, false, true),
        f("archived_at", FieldKind::Timestamp, true, true),
    ],
    relations: &[],
};

const SEARCH: SearchIndex = SearchIndex { pg_column: "search_tsv", sqlite_table: "users_fts" };

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct UserRow {
    id: DbUuid,
    name: String,
    email: Option<String>,
    subject: Option<String>,
    role: String,
    team: Option<String>,
    department: Option<String>,
    territory: Option<String>,
    phone: Option<String>,
    skills: DbJson,
    active: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: UserId(r.id.0),
            name: r.name,
            email: r.email,
            subject: r.subject,
            role: UserRole::parse(&r.role).unwrap_or(UserRole::Readonly),
            team: r.team,
            department: r.department.as_deref().and_then(Department::parse),
            territory: r.territory,
            phone: r.phone,
            skills: serde_json::from_value(r.skills.0).unwrap_or_default(),
            active: r.active,
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&User> for UserRow {
    fn from(u: &User) -> UserRow {
        UserRow {
            id: DbUuid(u.id.0),
            name: u.name.clone(),
            email: u.email.clone(),
            subject: u.subject.clone(),
            role: u.role.as_str().to_string(),
            team: u.team.clone(),
            department: u.department.map(|d| d.as_str().to_string()),
            territory: u.territory.clone(),
            phone: u.phone.clone(),
            skills: DbJson(serde_json::json!(u.skills)),
            active: u.active,
            version: u.version,
            created_at: u.created_at.naive_utc(),
            updated_at: u.updated_at.naive_utc(),
            archived_at: u.archived_at.map(|t| t.naive_utc()),
        }
    }
}

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
    type Id = UserId;
    type Input = UserInput;
    type Patch = UserPatch;

    const ENTITY: &'static str = "user";
    const READ: Scope = Scope::UsersRead;
    const WRITE: Scope = Scope::UsersWrite;
    const DEFAULT_SORT: &'static str = "name";

    crm_records::record_basics!(catalog: USER_CATALOG);

    fn build(
        _conn: &mut AnyConnection,
        _actor: &Actor,
        id: UserId,
        input: UserInput,
        prev: Option<&Self>,
        _now: crm_core::Timestamp,
    ) -> Result<Self, RecordError> {
        let i = input.normalize().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        let mut u = prev.cloned().unwrap_or_else(User::blank);
        u.id = id;
        u.name = i.name.unwrap_or_default();
        u.email = i.email;
        u.subject = i.subject;
        u.role = i.role.unwrap_or(UserRole::Readonly);
        u.team = i.team;
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

    crm_records::diesel_store!(table: users, row: UserRow, search: SEARCH);
}

crm_records::batch_record!(User);

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
    let input =
        UserInput { name: Some(name), email, subject: Some(actor.sub.clone()), role: Some(role), ..Default::default() };
    // Provisioning is the system's act on the caller's behalf: it needs no `users:write`.
    let mut system = actor.clone();
    system.scopes.insert(Scope::UsersWrite);
    Ok(Some(crm_records::create::<User>(conn, &system, input)?))
}

/// The id of the caller's user, if it has (or, with provisioning, gets) one.
pub fn current_user_id(conn: &mut AnyConnection, actor: &Actor) -> Result<Option<UserId>, RecordError> {
    Ok(current_user(conn, actor)?.map(|u| u.id))
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
