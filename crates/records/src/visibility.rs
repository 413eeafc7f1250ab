//! Record visibility (object-level authorization): which records of a resource a caller sees.
//!
//! Each resource that has an owner (or an assignee) has a sharing level: its default here, or
//! the one an administrator set in a sharing rule (`sharing_rules`):
//! - `public`: everyone holding the resource's read scope sees every record;
//! - `team`: the owner, the members of the owner's team and the owner's managers (up the
//!   `manager_id` chain);
//! - `private`: the owner and the owner's managers.
//!
//! On top of the level, a share (`record_shares`) makes one record visible to a user or to the
//! members of a team. Records without an owner are seen by everyone with the read scope (they
//! are nobody's yet: a queue). Administrators and integrations (API keys) see every record
//! their scopes reach. The caller is the user whose `subject` is the token's `sub`; a caller
//! without a user sees only unowned records of a non-public resource.
//!
//! A record the caller may not see does not exist for it: reads answer 404, lists leave it
//! out, writes answer 404.

use std::collections::HashSet;

use crm_core::filter::{Literal, Op, Resolved};
use crm_core::{Actor, Scope};
use crm_db::AnyConnection;
use crm_db::schema::{record_shares, sharing_rules, users};
use crm_db::types::DbUuid;
use diesel::prelude::*;

use crate::{Record, RecordError};

crm_core::wire_enum!(
    /// How widely the records of a resource are seen.
    SharingLevel {
        /// Everyone with the resource's read scope.
        Public = "public",
        /// The owner, the owner's team and the owner's managers.
        Team = "team",
        /// The owner and the owner's managers.
        Private = "private",
    }
);

/// A resource whose records have an owner, and so a sharing level.
#[derive(Clone, Copy, Debug)]
pub struct Owned {
    /// The entity name (`opportunity`), as in the change feed and `Record::ENTITY`.
    pub entity: &'static str,
    /// Its table.
    pub table: &'static str,
    /// The column (and list field) holding the owning user.
    pub owner: &'static str,
    /// The scope that writes it: sharing one of its records needs it.
    pub write: Scope,
    /// The level when no sharing rule says otherwise.
    pub default: SharingLevel,
}

const fn owned(
    entity: &'static str,
    table: &'static str,
    owner: &'static str,
    write: Scope,
    default: SharingLevel,
) -> Owned {
    Owned { entity, table, owner, write, default }
}

/// Every resource with an owner, and its default level: the customer base (accounts, contacts)
/// and cases are one company's shared knowledge (public); a rep's pipeline (leads,
/// opportunities, activities) is the team's; a share is seen by whoever granted it.
pub const OWNED: &[Owned] = &[
    owned("account", "accounts", "owner_id", Scope::AccountsWrite, SharingLevel::Public),
    owned("contact", "contacts", "owner_id", Scope::ContactsWrite, SharingLevel::Public),
    owned("case", "cases", "assignee_id", Scope::CasesWrite, SharingLevel::Public),
    owned("lead", "leads", "owner_id", Scope::SalesWrite, SharingLevel::Team),
    owned("opportunity", "opportunities", "owner_id", Scope::SalesWrite, SharingLevel::Team),
    owned("activity", "activities", "assignee_id", Scope::SalesWrite, SharingLevel::Team),
    owned("target_list", "target_lists", "owner_id", Scope::SalesWrite, SharingLevel::Public),
    owned("quota", "quotas", "owner_id", Scope::SalesWrite, SharingLevel::Public),
    owned("campaign", "campaigns", "owner_id", Scope::CampaignsWrite, SharingLevel::Public),
    owned("share", "record_shares", "granted_by", Scope::SharesWrite, SharingLevel::Private),
];

/// The owned resource of an entity name.
pub fn owned_entity(entity: &str) -> Option<&'static Owned> {
    OWNED.iter().find(|o| o.entity == entity)
}

/// What a caller sees of one resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Visibility {
    /// Every record.
    All,
    /// Unowned records, records owned by `owners`, and the records `shared` with the caller.
    Only { owners: HashSet<uuid::Uuid>, shared: HashSet<uuid::Uuid> },
}

impl Visibility {
    /// Whether a record with this owner and id is seen.
    pub fn sees(&self, owner: Option<uuid::Uuid>, id: uuid::Uuid) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Only { owners, shared } => owner.is_none_or(|o| owners.contains(&o)) || shared.contains(&id),
        }
    }

    /// The list condition that keeps what is seen (None: everything is).
    fn condition(&self, catalog: &'static crm_core::filter::Catalog, owner: &str) -> Option<Resolved> {
        let Visibility::Only { owners, shared } = self else { return None };
        let (Some(owner), Some(id)) = (catalog.field(owner), catalog.field("id")) else {
            // A resource declared owned without the field in its catalog sees nothing listed
            // rather than everything.
            return Some(Resolved::Or(Vec::new()));
        };
        let uuids = |set: &HashSet<uuid::Uuid>| {
            let mut v: Vec<uuid::Uuid> = set.iter().copied().collect();
            v.sort_unstable();
            v.into_iter().map(Literal::Uuid).collect::<Vec<_>>()
        };
        let mut any = vec![Resolved::Cond { field: owner, op: Op::IsNull, values: vec![Literal::Bool(true)] }];
        if !owners.is_empty() {
            any.push(Resolved::Cond { field: owner, op: Op::In, values: uuids(owners) });
        }
        if !shared.is_empty() {
            any.push(Resolved::Cond { field: id, op: Op::In, values: uuids(shared) });
        }
        Some(Resolved::Or(any))
    }
}

/// The sharing level of an owned resource: its live sharing rule's, else its default.
pub fn level_of(conn: &mut AnyConnection, owned: &Owned) -> QueryResult<SharingLevel> {
    let set: Option<String> = sharing_rules::table
        .filter(sharing_rules::entity.eq(owned.entity))
        .filter(sharing_rules::archived_at.is_null())
        .select(sharing_rules::level)
        .first(conn)
        .optional()?;
    Ok(set.as_deref().and_then(SharingLevel::parse).unwrap_or(owned.default))
}

/// A recursive query's table `below(id)`: the users of `start` and everyone under them down
/// the manager chain. `UNION` drops repeats, so a chain that loops (which writes refuse) still
/// ends. The same text on both backends.
const BELOW: &str =
    "below(id) AS (SELECT id FROM start UNION SELECT u.id FROM users u JOIN below b ON u.manager_id = b.id) ";

/// The users whose records the caller sees by ownership: its own user (live, by the token's
/// subject), everyone under it down the manager chain, and with `team` the members of its
/// team. One statement; empty when the caller has no user.
fn owners_seen(conn: &mut AnyConnection, actor: &Actor, team: bool) -> QueryResult<HashSet<uuid::Uuid>> {
    let mut stmt = crm_db::sql::Sql::new(conn.backend());
    stmt.push("WITH RECURSIVE start AS (SELECT id, team FROM users WHERE subject = ")
        .bind(actor.sub.clone())
        .push(" AND archived_at IS NULL), ")
        .push(BELOW)
        .push("SELECT id FROM below");
    if team {
        stmt.push(" UNION SELECT u.id FROM users u JOIN start ON u.team = start.team");
    }
    Ok(crm_db::sql::ids(conn, stmt)?.into_iter().collect())
}

/// The records of `entity` shared with the caller's user or its team (one statement).
fn shared_with(conn: &mut AnyConnection, actor: &Actor, entity: &str) -> QueryResult<HashSet<uuid::Uuid>> {
    let shared: Vec<DbUuid> = record_shares::table
        .inner_join(
            users::table.on(record_shares::user_id
                .eq(users::id.nullable())
                .or(record_shares::team.eq(users::team).and(users::team.is_not_null()))),
        )
        .filter(users::subject.eq(&actor.sub))
        .filter(users::archived_at.is_null())
        .filter(record_shares::entity.eq(entity))
        .filter(record_shares::archived_at.is_null())
        .select(record_shares::record_id)
        .load(conn)?;
    Ok(shared.into_iter().map(|u| u.0).collect())
}

/// The users `manager` manages, directly or through others (one statement).
pub fn reports_of(conn: &mut AnyConnection, manager: uuid::Uuid) -> QueryResult<HashSet<uuid::Uuid>> {
    let mut stmt = crm_db::sql::Sql::new(conn.backend());
    stmt.push("WITH RECURSIVE start AS (SELECT id FROM users WHERE id = ").bind(manager).push("), ");
    stmt.push(BELOW).push("SELECT id FROM below WHERE id <> ").bind(manager);
    Ok(crm_db::sql::ids(conn, stmt)?.into_iter().collect())
}

/// What `actor` sees of the records of `entity`.
pub fn of_entity(conn: &mut AnyConnection, actor: &Actor, entity: &str) -> Result<Visibility, RecordError> {
    if actor.sees_every_record() {
        return Ok(Visibility::All);
    }
    let Some(owned) = owned_entity(entity) else { return Ok(Visibility::All) };
    let level = level_of(conn, owned)?;
    if level == SharingLevel::Public {
        return Ok(Visibility::All);
    }
    let owners = owners_seen(conn, actor, level == SharingLevel::Team)?;
    if owners.is_empty() {
        // No user: only unowned records.
        return Ok(Visibility::Only { owners, shared: HashSet::new() });
    }
    let shared = shared_with(conn, actor, owned.entity)?;
    Ok(Visibility::Only { owners, shared })
}

/// The owned resources whose records `actor` does not all see (their level is not `public`):
/// the change feed carries their events only to callers that see every record, since an
/// event tells of a record whoever reads the feed might not see.
pub fn withheld_entities(conn: &mut AnyConnection, actor: &Actor) -> QueryResult<Vec<&'static str>> {
    if actor.sees_every_record() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for owned in OWNED {
        if level_of(conn, owned)? != SharingLevel::Public {
            out.push(owned.entity);
        }
    }
    Ok(out)
}

/// Narrows a change-feed request to the events `actor` may read (see [`withheld_entities`]):
/// what the REST stream and the GraphQL page both start from.
pub fn narrow_feed(
    conn: &mut AnyConnection,
    actor: &Actor,
    req: &mut crm_events::FeedRequest,
) -> Result<(), crm_db::DbError> {
    req.withhold(&withheld_entities(conn, actor)?);
    Ok(())
}

/// One page of the change feed as `actor` may read it.
pub fn changes(
    conn: &mut AnyConnection,
    actor: &Actor,
    after: i64,
    types: &[String],
    limit: u32,
) -> Result<crm_events::ChangePage, crm_events::EventsError> {
    let withheld = withheld_entities(conn, actor).map_err(crm_db::DbError::from)?;
    crm_events::list_changes(conn, actor, after, types, limit, &withheld)
}

/// What `actor` sees of the records of `R`.
pub fn of<R: Record>(conn: &mut AnyConnection, actor: &Actor) -> Result<Visibility, RecordError> {
    of_entity(conn, actor, R::ENTITY)
}

/// Whether `actor` sees `record`.
pub fn sees<R: Record>(conn: &mut AnyConnection, actor: &Actor, record: &R) -> Result<bool, RecordError> {
    // An unowned record is everyone's, whatever the level: no statement to read.
    if actor.sees_every_record() || owned_entity(R::ENTITY).is_none() || record.owner().is_none() {
        return Ok(true);
    }
    Ok(of::<R>(conn, actor)?.sees(record.owner(), crate::Stored::id(record).into()))
}

/// Not found unless `actor` sees `record`.
pub fn require<R: Record>(conn: &mut AnyConnection, actor: &Actor, record: &R) -> Result<(), RecordError> {
    if sees(conn, actor, record)? { Ok(()) } else { Err(crate::not_found::<R>()) }
}

/// Narrows a list query of `R` to what `actor` sees.
pub fn narrow<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    q: &mut crm_core::list::ListQuery,
) -> Result<(), RecordError> {
    let Some(owned) = owned_entity(R::ENTITY) else { return Ok(()) };
    if let Some(seen) = of::<R>(conn, actor)?.condition(R::catalog(), owned.owner) {
        q.filter = Some(match q.filter.take() {
            Some(f) => Resolved::And(vec![seen, f]),
            None => seen,
        });
    }
    Ok(())
}

/// Whether `actor` sees the record `id` of an owned resource (read straight from its table):
/// None when there is no such record.
pub fn sees_raw(
    conn: &mut AnyConnection,
    actor: &Actor,
    owned: &Owned,
    id: uuid::Uuid,
) -> Result<Option<bool>, RecordError> {
    if !crm_db::sql::id_exists(conn, owned.table, id)? {
        return Ok(None);
    }
    let vis = of_entity(conn, actor, owned.entity)?;
    if vis == Visibility::All {
        return Ok(Some(true));
    }
    let mut stmt = crm_db::sql::Sql::new(conn.backend());
    stmt.push("SELECT ").push(owned.owner).push(" FROM ").push(owned.table).push(" WHERE id = ").bind(id);
    stmt.push(" AND ").push(owned.owner).push(" IS NOT NULL");
    let owner = crm_db::sql::ids(conn, stmt)?.pop();
    Ok(Some(vis.sees(owner, id)))
}
