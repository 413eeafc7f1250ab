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

/// The owned resources that are people, whom a consent names.
const PEOPLE: [&str; 2] = ["lead", "contact"];

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

    /// The SQL condition that keeps the rows seen, for statements that add up records rather
    /// than list them: `owner` and `id` are the columns (trusted SQL text, qualified when the
    /// statement joins). `1 = 1` when everything is seen, so it can always be added.
    pub fn sql(&self, owner: &str, id: &str, backend: crm_db::Backend) -> crm_db::sql::Sql {
        let mut s = crm_db::sql::Sql::new(backend);
        let Visibility::Only { owners, shared } = self else {
            s.push("1 = 1");
            return s;
        };
        s.push("(").push(owner).push(" IS NULL");
        if !owners.is_empty() {
            s.push(" OR ").append(crm_db::sql::in_ids(owner, owners.iter().copied(), backend));
        }
        if !shared.is_empty() {
            s.push(" OR ").append(crm_db::sql::in_ids(id, shared.iter().copied(), backend));
        }
        s.push(")");
        s
    }

    /// The SQL condition that the user in `owner` is one whose records are seen (shares, which
    /// name records, do not count): for rows that stand for an owner's records (a rep's quota
    /// alert). `1 = 1` when everything is seen.
    pub fn sql_owner(&self, owner: &str, backend: crm_db::Backend) -> crm_db::sql::Sql {
        match self {
            Visibility::All => self.sql(owner, "id", backend),
            Visibility::Only { owners, .. } => {
                Visibility::Only { owners: owners.clone(), shared: HashSet::new() }.sql(owner, "id", backend)
            }
        }
    }

    /// The SQL condition that a reference column (`opportunities.account_id`,
    /// `customer_analytics.customer_id`) points at a row of `owned` that is seen: `1 = 1` when
    /// everything is, else `column IN (SELECT id FROM <table> WHERE <seen>)`. A null reference
    /// points at nothing and is kept.
    pub fn sql_ref(&self, owned: &Owned, column: &str, backend: crm_db::Backend) -> crm_db::sql::Sql {
        if *self == Visibility::All {
            return self.sql(owned.owner, "id", backend);
        }
        let mut s = crm_db::sql::Sql::new(backend);
        s.push("(").push(column).push(" IS NULL OR ").push(column).push(" IN (SELECT id FROM ").push(owned.table);
        s.push(" WHERE ").append(self.sql(owned.owner, "id", backend)).push("))");
        s
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
    // A consent names its person: its events go with those of leads and contacts.
    if out.iter().any(|e| PEOPLE.contains(e)) {
        out.push("consent");
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

/// A reference column's target as a filter relation: the owned resource's table, with its id
/// and owner columns, which is all a visibility condition reads. Made from [`OWNED`] once per
/// pair (the pairs are the `SEEN_THROUGH` declarations) and kept for the life of the process.
fn relation_to(owned: &'static Owned, local: &'static str) -> &'static crm_core::filter::RelationDef {
    use crm_core::filter::{Catalog, FieldDef, FieldKind, RelationDef};
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Made = Mutex<HashMap<(&'static str, &'static str), &'static RelationDef>>;
    static MADE: OnceLock<Made> = OnceLock::new();
    let uuid = |name: &'static str| FieldDef {
        name,
        column: name,
        kind: FieldKind::Uuid,
        nullable: true,
        sortable: false,
        currency: None,
    };
    let mut made = MADE.get_or_init(Made::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    made.entry((owned.entity, local)).or_insert_with(|| {
        let fields: &'static [FieldDef] = Box::leak(Box::new([uuid("id"), uuid(owned.owner)]));
        let target: &'static Catalog = Box::leak(Box::new(Catalog {
            name: owned.table,
            resource: owned.table,
            table: owned.table,
            fields,
            relations: &[],
        }));
        Box::leak(Box::new(RelationDef {
            name: owned.entity,
            local_column: local,
            target_column: "id",
            through: None,
            many: false,
            target,
        }))
    })
}

/// The condition keeping the records of `R` whose [`Record::SEEN_THROUGH`] references point
/// at records `actor` sees (or at none). None when it keeps everything.
fn through_condition<R: Record>(conn: &mut AnyConnection, actor: &Actor) -> Result<Option<Resolved>, RecordError> {
    if R::SEEN_THROUGH.is_empty() || actor.sees_every_record() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for (field, entity) in R::SEEN_THROUGH {
        let (Some(owned), Some(local)) = (owned_entity(entity), R::catalog().field(field)) else {
            // A declaration that names no owned resource or no field keeps nothing.
            return Ok(Some(Resolved::Or(Vec::new())));
        };
        let relation = relation_to(owned, local.column);
        let Some(seen) = of_entity(conn, actor, entity)?.condition(relation.target, owned.owner) else { continue };
        all.push(Resolved::Or(vec![
            Resolved::Cond { field: local, op: Op::IsNull, values: vec![Literal::Bool(true)] },
            Resolved::Related { relation, inner: Box::new(seen) },
        ]));
    }
    Ok((!all.is_empty()).then_some(Resolved::And(all)))
}

/// Of these records of `R`, those whose [`Record::SEEN_THROUGH`] references `actor` sees (one
/// statement); None when it sees them all.
pub fn seen_through<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[uuid::Uuid],
) -> Result<Option<HashSet<uuid::Uuid>>, RecordError> {
    let (Some(through), Some(id)) = (through_condition::<R>(conn, actor)?, R::catalog().field("id")) else {
        return Ok(None);
    };
    if ids.is_empty() {
        return Ok(Some(HashSet::new()));
    }
    let backend = conn.backend();
    let mut cond = crm_db::sql::in_ids(id.column, ids.iter().copied(), backend);
    crm_db::sql::Sql::and(&mut cond, crm_db::sql::filter(&through, backend));
    Ok(Some(crm_db::sql::ids_where(conn, R::catalog().table, cond)?.into_iter().collect()))
}

/// What `actor` sees of the records of `R`.
pub fn of<R: Record>(conn: &mut AnyConnection, actor: &Actor) -> Result<Visibility, RecordError> {
    of_entity(conn, actor, R::ENTITY)
}

/// Whether `actor` sees `record`.
pub fn sees<R: Record>(conn: &mut AnyConnection, actor: &Actor, record: &R) -> Result<bool, RecordError> {
    if actor.sees_every_record() {
        return Ok(true);
    }
    let id: uuid::Uuid = crate::Stored::id(record).into();
    if let Some(seen) = seen_through::<R>(conn, actor, &[id])?
        && !seen.contains(&id)
    {
        return Ok(false);
    }
    // An unowned record is everyone's, whatever the level: no statement to read.
    if owned_entity(R::ENTITY).is_none() || record.owner().is_none() {
        return Ok(true);
    }
    Ok(of::<R>(conn, actor)?.sees(record.owner(), crate::Stored::id(record).into()))
}

/// Not found unless `actor` sees `record`.
pub fn require<R: Record>(conn: &mut AnyConnection, actor: &Actor, record: &R) -> Result<(), RecordError> {
    if sees(conn, actor, record)? { Ok(()) } else { Err(crate::not_found::<R>()) }
}

/// Narrows a list query of `R` to what `actor` sees: its records, and through a relation
/// filter (`account.tier[eq]:gold`) only the related records it sees, so a filter cannot tell
/// what a record it may not see holds.
pub fn narrow<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    q: &mut crm_core::list::ListQuery,
) -> Result<(), RecordError> {
    if let Some(f) = q.filter.as_mut() {
        narrow_related(conn, actor, f)?;
    }
    if let Some(through) = through_condition::<R>(conn, actor)? {
        q.filter = Some(match q.filter.take() {
            Some(f) => Resolved::And(vec![through, f]),
            None => through,
        });
    }
    let Some(owned) = owned_entity(R::ENTITY) else { return Ok(()) };
    if let Some(seen) = of::<R>(conn, actor)?.condition(R::catalog(), owned.owner) {
        q.filter = Some(match q.filter.take() {
            Some(f) => Resolved::And(vec![seen, f]),
            None => seen,
        });
    }
    Ok(())
}

/// Narrows the related rows each relation condition of a filter reads to those `actor` sees:
/// "some related row matches" becomes "some related row the caller sees matches", and under
/// `not(…)`, "none the caller sees does".
fn narrow_related(conn: &mut AnyConnection, actor: &Actor, f: &mut Resolved) -> Result<(), RecordError> {
    match f {
        Resolved::And(v) | Resolved::Or(v) => {
            for x in v {
                narrow_related(conn, actor, x)?;
            }
        }
        Resolved::Not(x) => narrow_related(conn, actor, x)?,
        Resolved::Related { relation, inner } => {
            narrow_related(conn, actor, inner)?;
            let target = relation.target;
            if let Some(owned) = OWNED.iter().find(|o| o.table == target.table)
                && let Some(seen) = of_entity(conn, actor, owned.entity)?.condition(target, owned.owner)
            {
                let cond = std::mem::replace(inner.as_mut(), Resolved::And(Vec::new()));
                **inner = Resolved::And(vec![seen, cond]);
            }
        }
        Resolved::Cond { .. } | Resolved::Geo(_) => {}
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
