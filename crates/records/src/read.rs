//! Reading records: by id, by external id, lists, the records of a parent, history.

use std::collections::HashMap;

use crm_core::filter::{Literal, Op, Resolved};
use crm_core::ids::EntityId;
use crm_core::list::{ListParams, ListQuery, Page};
use crm_core::{Actor, ExternalId, Scope};
use crm_db::AnyConnection;
use crm_events::HistoryEntry;

use crate::{Record, RecordError, not_found};

/// Relation filters (`account.tier`) read the related resource: the caller must be allowed to.
pub fn require_related_scopes(actor: &Actor, q: &ListQuery) -> Result<(), RecordError> {
    if let Some(f) = &q.filter {
        for resource in f.related_resources() {
            if let Some(scope) = Scope::read_of(resource) {
                actor.require(scope)?;
            }
        }
    }
    Ok(())
}

/// Checks a list request of `R` against its catalog and the custom fields it names.
fn resolve_list<R: Record>(conn: &mut AnyConnection, params: &ListParams) -> Result<ListQuery, RecordError> {
    let custom = crate::custom::filters_for(conn, params)?;
    Ok(params.resolve_with(R::catalog(), R::DEFAULT_SORT, &custom)?)
}

/// One record by id (archived included).
pub fn get<R: Record>(conn: &mut AnyConnection, actor: &Actor, id: R::Id) -> Result<R, RecordError> {
    actor.require(R::READ)?;
    let r = R::find(conn, id)?.ok_or_else(not_found::<R>)?;
    crate::visibility::require(conn, actor, &r)?;
    crate::merge::refuse_merged(conn, &r)?;
    Ok(crate::concealed(r, actor))
}

/// Records by id, for batch loaders and embedding; missing ids and records the caller may not
/// see are skipped. Without `external_ids`, their external ids are left empty (one query
/// fewer).
pub fn get_many<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[R::Id],
    external_ids: bool,
) -> Result<Vec<R>, RecordError> {
    actor.require(R::READ)?;
    let mut found = R::find_many(conn, ids, external_ids)?;
    let loaded: Vec<uuid::Uuid> = found.iter().map(|r| r.id().uuid()).collect();
    if let Some(seen) = crate::visibility::seen_through::<R>(conn, actor, &loaded)? {
        found.retain(|r| seen.contains(&r.id().uuid()));
    }
    if found.iter().any(|r| r.owner().is_some()) {
        let seen = crate::visibility::of::<R>(conn, actor)?;
        found.retain(|r| seen.sees(r.owner(), r.id().uuid()));
    }
    Ok(found.into_iter().map(|r| crate::concealed(r, actor)).collect())
}

/// The external ids of records (one query), for readers that read the records without them.
pub fn external_ids_of<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[R::Id],
) -> Result<HashMap<R::Id, Vec<ExternalId>>, RecordError> {
    actor.require(R::READ)?;
    Ok(crm_db::external_ids::of_records(conn, R::ENTITY, ids)?)
}

/// One page of a list.
pub fn list<R: Record>(conn: &mut AnyConnection, actor: &Actor, params: &ListParams) -> Result<Page<R>, RecordError> {
    actor.require(R::READ)?;
    let mut q = resolve_list::<R>(conn, params)?;
    require_related_scopes(actor, &q)?;
    crate::visibility::narrow::<R>(conn, actor, &mut q)?;
    concealed_page(R::list_page(conn, &q)?, actor)
}

/// A page as `actor` may see its records.
fn concealed_page<R: Record>(mut page: Page<R>, actor: &Actor) -> Result<Page<R>, RecordError> {
    page.data = page.data.into_iter().map(|r| crate::concealed(r, actor)).collect();
    Ok(page)
}

/// One page of the records of `R` whose `field` points at the record `parent` of `P` (the
/// contacts of an account), with the whole list grammar on top. Not found when the parent
/// does not exist; the caller must be allowed to read both.
pub fn list_of<R: Record, P: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    field: &str,
    parent: P::Id,
    params: &ListParams,
) -> Result<Page<R>, RecordError> {
    actor.require(R::READ)?;
    actor.require(P::READ)?;
    let p = P::find(conn, parent)?.ok_or_else(not_found::<P>)?;
    crate::visibility::require(conn, actor, &p)?;
    let mut q = resolve_list::<R>(conn, params)?;
    require_related_scopes(actor, &q)?;
    crate::visibility::narrow::<R>(conn, actor, &mut q)?;
    let field = R::catalog().field(field).ok_or_else(not_found::<R>)?;
    let of_parent = Resolved::Cond { field, op: Op::Eq, values: vec![Literal::Uuid(parent.uuid())] };
    q.filter = Some(match q.filter.take() {
        Some(f) => Resolved::And(vec![of_parent, f]),
        None => of_parent,
    });
    concealed_page(R::list_page(conn, &q)?, actor)
}

/// The first page of the records of `R` whose `field` points at each of `parents` (the first
/// contacts of each account of a page), with the whole list grammar: one statement for every
/// parent. `field` may also name a relation of `R` through a link table (an interaction's
/// `contacts`): then two. Parents without records get an empty page.
pub fn list_per_parent<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    field: &str,
    parents: &[uuid::Uuid],
    params: &ListParams,
) -> Result<HashMap<uuid::Uuid, Page<R>>, RecordError> {
    actor.require(R::READ)?;
    let mut q = resolve_list::<R>(conn, params)?;
    require_related_scopes(actor, &q)?;
    crate::visibility::narrow::<R>(conn, actor, &mut q)?;
    let mut out: HashMap<uuid::Uuid, Page<R>> = HashMap::new();
    if parents.is_empty() {
        return Ok(out);
    }
    let mut by_parent: HashMap<uuid::Uuid, Vec<R>> = HashMap::new();
    match R::catalog().relation(field).and_then(|r| r.through) {
        // Linked through a link table (a contact's interactions): the rows once each, in the
        // list's order, then to every parent they are linked to (a parent may get more than
        // its first `limit + 1` through the others: the page below keeps its first ones).
        Some(through) => {
            let rows = R::list_first_of_each_through(conn, &through, parents, &q)?;
            let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id().uuid()).collect();
            let mut parents_of: HashMap<uuid::Uuid, Vec<uuid::Uuid>> = HashMap::new();
            for (child, parent) in crm_db::sql::links(conn, &through, &ids, parents)? {
                parents_of.entry(child).or_default().push(parent);
            }
            for r in rows {
                for parent in parents_of.get(&r.id().uuid()).into_iter().flatten() {
                    by_parent.entry(*parent).or_default().push(r.clone());
                }
            }
        }
        None => {
            let def = R::catalog()
                .field(field)
                .filter(|f| f.kind == crm_core::filter::FieldKind::Uuid)
                .ok_or_else(not_found::<R>)?;
            for r in R::list_first_of_each(conn, def.column, parents, &q)? {
                if let Some(crm_db::sql::Bind::Uuid(p)) = crate::store::sort_value_of(&r, def) {
                    by_parent.entry(p.0).or_default().push(r);
                }
            }
        }
    }
    // Each parent's page, then the external ids and child rows of all of them at once.
    let mut pages: Vec<(uuid::Uuid, usize, Option<String>)> = Vec::with_capacity(parents.len());
    let mut all: Vec<R> = Vec::new();
    for parent in parents {
        let rows = by_parent.remove(parent).unwrap_or_default();
        let (data, next) = crm_db::sql::paginate(rows, &q, crate::store::sort_value_of::<R>, |r| r.id().uuid());
        pages.push((*parent, data.len(), next));
        all.extend(data);
    }
    let mut all = crate::store::loaded::<R>(conn, all, !q.skip_external_ids)?.into_iter();
    for (parent, n, next_cursor) in pages {
        let data = all.by_ref().take(n).map(|r| crate::concealed(r, actor)).collect();
        out.insert(parent, Page { data, next_cursor, total: None });
    }
    Ok(out)
}

pub(crate) fn parse_ext<R: Record>(ext: ExternalId) -> Result<ExternalId, RecordError> {
    ext.parse("external_id")
        .map_err(|e| RecordError::Invalid { entity: R::ENTITY, errors: crm_core::FieldErrors(vec![e]) })
}

/// The record that carries an external id.
pub fn get_by_external_id<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
) -> Result<R, RecordError> {
    actor.require(R::READ)?;
    let ext = parse_ext::<R>(ext)?;
    let id = crm_db::external_ids::find(conn, R::ENTITY, &ext)?.ok_or_else(not_found::<R>)?;
    let r = R::find(conn, R::Id::from_uuid(id))?.ok_or_else(not_found::<R>)?;
    crate::visibility::require(conn, actor, &r)?;
    Ok(crate::concealed(r, actor))
}

/// The id of the record of `I`'s entity that carries an (already parsed) external id, for
/// references given by external id (`"account": {"external_id": …}`).
pub fn id_by_external_id<I: EntityId>(conn: &mut AnyConnection, ext: &ExternalId) -> Result<Option<I>, RecordError> {
    Ok(crm_db::external_ids::find(conn, I::ENTITY, ext)?.map(I::from_uuid))
}

/// The record's change history, newest first.
pub fn history<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<HistoryEntry>, RecordError> {
    actor.require(R::READ)?;
    let r = R::find(conn, id)?.ok_or_else(not_found::<R>)?;
    crate::visibility::require(conn, actor, &r)?;
    let mut entries = crm_events::history(conn, R::ENTITY, id.uuid(), before_seq, limit)?;
    let hidden: Vec<&str> = actor.concealed_fields(R::ENTITY).collect();
    if !hidden.is_empty() {
        for e in &mut entries {
            e.changes.retain(|c| !hidden.contains(&c.field.split('.').next().unwrap_or(&c.field)));
        }
    }
    Ok(entries)
}
