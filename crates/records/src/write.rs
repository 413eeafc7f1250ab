//! Writing records: create, merge-patch update, archive, restore, upsert by external id, bulk
//! import, and changes the system makes on its own account. Batches are in `batch`.

use crm_core::ids::EntityId;
use crm_core::{Actor, ExternalId, Patch, Timestamp};
use crm_db::AnyConnection;
use crm_events::Action;

use crate::batch::Deferral;
use crate::read::parse_ext;
use crate::{Meta, Record, RecordError, not_found};

/// How many times an unconditional write re-reads after losing a race.
const UPDATE_RETRIES: usize = 10;

pub(crate) fn write_time() -> Timestamp {
    crm_db::to_utc(crm_db::now())
}

pub(crate) fn fresh_meta(prev: Option<&Meta>, now: Timestamp) -> Meta {
    Meta {
        version: prev.map(|p| p.version + 1).unwrap_or(1),
        created_at: prev.map(|p| p.created_at).unwrap_or(now),
        updated_at: now,
        archived_at: prev.and_then(|p| p.archived_at),
    }
}

pub(crate) fn record_event<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: Action,
    before: Option<&R>,
    after: &R,
) -> Result<(), RecordError> {
    crm_events::record(
        conn,
        actor,
        R::ENTITY,
        after.id().uuid(),
        action,
        before.map(event_json),
        Some(event_json(after)),
    )?;
    Ok(())
}

/// A record as the change feed and the history keep it.
pub(crate) fn event_json<R: Record>(r: &R) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    R::redact(&mut v);
    v
}

/// An external id already held by another record, naming the holder only when `actor` sees it.
fn taken_by<R: Record>(conn: &mut AnyConnection, actor: &Actor, t: crm_db::external_ids::Taken) -> RecordError {
    let existing_id = match t.owner {
        Some(owner) => match visible_holder::<R>(conn, actor, R::Id::from_uuid(owner)) {
            Ok(seen) => seen.map(EntityId::uuid),
            Err(e) => return e,
        },
        None => None,
    };
    RecordError::ExternalIdTaken { entity: R::ENTITY, index: t.index, external_id: t.external_id, existing_id }
}

/// The live record of `R`, other than `except`, whose `field` holds `value`.
pub fn live_with<R: Record>(
    conn: &mut AnyConnection,
    field: &'static str,
    value: &str,
    except: Option<R::Id>,
) -> diesel::QueryResult<Option<R::Id>> {
    let column = R::catalog().field(field).map_or(field, |f| f.column);
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push(column).push(" = ").bind(value).push(" AND archived_at IS NULL");
    if let Some(e) = except {
        cond.push(" AND id <> ").bind(e.uuid());
    }
    Ok(crm_db::sql::first_id(conn, R::catalog().table, cond)?.map(R::Id::from_uuid))
}

/// Fails with `Duplicate` when another live record holds one of `r`'s unique values, naming it
/// when `actor` sees it.
fn check_unique<R: Record>(conn: &mut AnyConnection, actor: &Actor, r: &R) -> Result<(), RecordError> {
    for (field, value) in r.unique() {
        if let Some(existing) = live_with::<R>(conn, field, value, Some(r.id()))? {
            return Err(duplicate::<R>(field, value, visible_holder::<R>(conn, actor, existing)?));
        }
    }
    Ok(())
}

/// The record holding a unique value, if `actor` sees it: a value taken by a record the caller
/// may not see is still taken (uniqueness is global), but the answer does not say by which.
fn visible_holder<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    holder: R::Id,
) -> Result<Option<R::Id>, RecordError> {
    match crate::visibility::owned_entity(R::ENTITY) {
        Some(owned) if !actor.sees_every_record() => {
            Ok((crate::visibility::sees_raw(conn, actor, owned, holder.uuid())? == Some(true)).then_some(holder))
        }
        _ => Ok(Some(holder)),
    }
}

fn duplicate<R: Record>(field: &'static str, value: &str, existing: Option<R::Id>) -> RecordError {
    RecordError::Duplicate {
        entity: R::ENTITY,
        field,
        value: value.to_string(),
        existing_id: existing.map(|e| e.uuid()),
    }
}

/// The answer to an insert that found a unique value taken: the record that holds it.
fn insert_conflict<R: Record>(conn: &mut AnyConnection, actor: &Actor, r: &R) -> RecordError {
    if let Err(e) = check_unique(conn, actor, r) {
        return e;
    }
    // Taken by a writer that has not committed yet, or by an archived record being restored.
    match r.unique().first() {
        Some((field, value)) => duplicate::<R>(field, value, None),
        None => duplicate::<R>("id", &r.id().to_string(), None),
    }
}

/// `Record::write_error`'s default: a unique violation is `Duplicate` on the first unique
/// value; anything else is a database error.
pub fn default_write_error<R: Record>(e: diesel::result::Error, r: &R) -> RecordError {
    if crm_db::pool::is_unique_violation(&e)
        && let Some((field, value)) = r.unique().first()
    {
        return duplicate::<R>(field, value, None);
    }
    RecordError::from(e)
}

/// Creates a record.
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub))]
pub fn create<R: Record>(conn: &mut AnyConnection, actor: &Actor, input: R::Input) -> Result<R, RecordError> {
    Ok(crate::concealed(create_with(conn, actor, input, None)?, actor))
}

/// Creates a record a person enters, then runs the checks domains set on new records of its
/// kind (a likely duplicate: `409 POSSIBLE_DUPLICATE`), unless `allow_duplicate`. The caller's
/// transaction rolls the record back when a check fails. Syncs (upserts, batches, imports)
/// create without them.
pub fn create_checked<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    input: R::Input,
    allow_duplicate: bool,
) -> Result<R, RecordError> {
    let r = create::<R>(conn, actor, input)?;
    if !allow_duplicate {
        crate::hooks::checked(conn, actor, R::ENTITY, r.id().uuid())?;
    }
    Ok(r)
}

/// `create`; given a batch's `deferral` (and a resource that allows it), the row is written at
/// the end of the batch's group (a taken value then makes the group run again, writing as it
/// goes).
pub(crate) fn create_with<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    input: R::Input,
    deferral: Option<&mut Deferral<R>>,
) -> Result<R, RecordError> {
    actor.require(R::WRITE)?;
    let id = R::Id::from_uuid(uuid::Uuid::now_v7());
    let now = write_time();
    let mut r = R::build(conn, actor, id, input, None, now)?;
    r.set_meta(fresh_meta(None, now));
    if let Some(d) = deferral {
        if let Some(pending) = d.writes() {
            pending.creates.push(r.clone());
            R::after_write(conn, actor, None, &r)?;
            record_event(conn, actor, Action::Created, None, &r)?;
            return Ok(r);
        }
        d.settle(conn)?;
    }
    // The insert is the uniqueness check: only when it finds a value taken is the holder read.
    if !R::insert(conn, &r).map_err(|e| R::write_error(e, &r))? {
        return Err(insert_conflict(conn, actor, &r));
    }
    if let Err(t) = crm_db::external_ids::insert_for_new(conn, R::ENTITY, id.uuid(), r.external_ids())? {
        return Err(taken_by::<R>(conn, actor, t));
    }
    R::after_write(conn, actor, None, &r)?;
    record_event(conn, actor, Action::Created, None, &r)?;
    Ok(r)
}

/// Applies a merge patch. With `expected_version`, a stale version fails; without, losing a
/// race to another writer re-reads and tries again. A patch that changes nothing leaves the
/// version alone.
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub, %id))]
pub fn update<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    patch: R::Patch,
    expected_version: Option<i64>,
) -> Result<R, RecordError> {
    update_from(conn, actor, id, patch, expected_version, None)
}

/// `update` starting from a record already read in this transaction.
pub fn update_from<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    patch: R::Patch,
    expected_version: Option<i64>,
    preloaded: Option<R>,
) -> Result<R, RecordError> {
    Ok(crate::concealed(update_with(conn, actor, id, patch, expected_version, preloaded, None)?, actor))
}

/// `update_from`; given a batch's `deferral`, an update of the preloaded record that leaves
/// its unique values and external ids as they were (so no other record's check depends on it)
/// is written at the end of the group. Any other path first makes the pending writes, so that
/// what it reads is current.
pub(crate) fn update_with<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    patch: R::Patch,
    expected_version: Option<i64>,
    mut preloaded: Option<R>,
    mut deferral: Option<&mut Deferral<R>>,
) -> Result<R, RecordError> {
    actor.require(R::WRITE)?;
    for _ in 0..UPDATE_RETRIES {
        let (cur, was_preloaded) = match preloaded.take() {
            Some(c) => (c, true),
            None => {
                if let Some(d) = deferral.as_deref_mut() {
                    d.settle(conn)?;
                }
                (R::find(conn, id)?.ok_or_else(not_found::<R>)?, false)
            }
        };
        crate::visibility::require(conn, actor, &cur)?;
        crate::merge::refuse_merged(conn, &cur)?;
        let meta = cur.meta();
        if let Some(expected) = expected_version
            && meta.version != expected
        {
            return Err(RecordError::VersionConflict { expected, current: meta.version });
        }
        let input = crate::MergePatch::apply(patch.clone(), &cur);
        let now = write_time();
        let mut next = R::build(conn, actor, id, input, Some(&cur), now)?;
        next.set_meta(meta);
        if next == cur {
            return Ok(cur);
        }
        next.set_meta(fresh_meta(Some(&meta), now));
        let unique_changed = next.unique() != cur.unique();
        if let Some(d) = deferral.as_deref_mut() {
            if was_preloaded
                && !unique_changed
                && next.external_ids() == cur.external_ids()
                && let Some(pending) = d.writes()
            {
                pending.updates.push((next.clone(), meta.version));
                R::after_write(conn, actor, Some(&cur), &next)?;
                record_event(conn, actor, Action::Updated, Some(&cur), &next)?;
                return Ok(next);
            }
            d.settle(conn)?;
        }
        if unique_changed && meta.archived_at.is_none() {
            check_unique(conn, actor, &next)?;
        }
        if R::update_if_version(conn, &next, meta.version).map_err(|e| R::write_error(e, &next))? {
            if next.external_ids() != cur.external_ids()
                && let Err(t) = crm_db::external_ids::replace(conn, R::ENTITY, id.uuid(), next.external_ids())?
            {
                return Err(taken_by::<R>(conn, actor, t));
            }
            R::after_write(conn, actor, Some(&cur), &next)?;
            record_event(conn, actor, Action::Updated, Some(&cur), &next)?;
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = R::find(conn, id)?.map(|c| c.meta().version).unwrap_or(expected);
            return Err(RecordError::VersionConflict { expected, current });
        }
    }
    Err(RecordError::Contended { entity: R::ENTITY })
}

/// Archives (soft-deletes) a record; archiving an archived record changes nothing.
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub, %id))]
pub fn archive<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    expected_version: Option<i64>,
) -> Result<R, RecordError> {
    Ok(crate::concealed(set_archived(conn, actor, id, expected_version, true)?, actor))
}

/// Brings an archived record back; fails with `Duplicate` when one of its unique values now
/// belongs to a live record.
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub, %id))]
pub fn restore<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    expected_version: Option<i64>,
) -> Result<R, RecordError> {
    Ok(crate::concealed(set_archived(conn, actor, id, expected_version, false)?, actor))
}

fn set_archived<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    expected_version: Option<i64>,
    archive: bool,
) -> Result<R, RecordError> {
    actor.require(R::WRITE)?;
    for _ in 0..UPDATE_RETRIES {
        let cur = R::find(conn, id)?.ok_or_else(not_found::<R>)?;
        crate::visibility::require(conn, actor, &cur)?;
        let meta = cur.meta();
        if let Some(expected) = expected_version
            && meta.version != expected
        {
            return Err(RecordError::VersionConflict { expected, current: meta.version });
        }
        if meta.archived_at.is_some() == archive {
            return Ok(cur);
        }
        if !archive {
            crate::merge::refuse_merged(conn, &cur)?;
            check_unique(conn, actor, &cur)?;
            R::check_restore(conn, &cur)?;
        }
        let now = write_time();
        let mut next = cur.clone();
        next.set_meta(Meta {
            version: meta.version + 1,
            updated_at: now,
            archived_at: if archive { Some(now) } else { None },
            ..meta
        });
        if R::update_if_version(conn, &next, meta.version).map_err(|e| R::write_error(e, &next))? {
            let action = if archive { Action::Archived } else { Action::Restored };
            R::after_write(conn, actor, Some(&cur), &next)?;
            record_event(conn, actor, action, Some(&cur), &next)?;
            return Ok(next);
        }
        if let Some(expected) = expected_version {
            let current = R::find(conn, id)?.map(|c| c.meta().version).unwrap_or(expected);
            return Err(RecordError::VersionConflict { expected, current });
        }
    }
    Err(RecordError::Contended { entity: R::ENTITY })
}

/// Creates or updates the record that carries `ext`: `(record, created)`. On update the patch
/// changes only what it names; on create it must hold what a new record needs. The external id
/// stays attached whatever the patch says. Concurrent upserts of one id create one record (the
/// creating path holds the id's lock, then looks again).
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub))]
pub fn upsert<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
    patch: R::Patch,
) -> Result<(R, bool), RecordError> {
    let (r, created) = upsert_with(conn, actor, ext, patch, None, false, None)?;
    Ok((crate::concealed(r, actor), created))
}

/// `upsert` given what a batch found: the record the id pointed at (already read), or
/// `locked_absent` when the batch holds the id's lock and saw no record for it.
pub(crate) fn upsert_with<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ext: ExternalId,
    mut patch: R::Patch,
    known: Option<R>,
    locked_absent: bool,
    mut deferral: Option<&mut Deferral<R>>,
) -> Result<(R, bool), RecordError> {
    actor.require(R::WRITE)?;
    let ext = parse_ext::<R>(ext)?;
    let ids = crate::MergePatch::external_ids(&mut patch);
    match ids {
        Patch::Value(list) if !list.contains(&ext) => list.push(ext.clone()),
        Patch::Null => *ids = Patch::Value(vec![ext.clone()]),
        _ => {}
    }
    // An existing record is updated without a lock (versions guard concurrent updates); only
    // creating takes the per-id lock, then looks again.
    if let Some(cur) = known {
        return Ok((update_with(conn, actor, cur.id(), patch, None, Some(cur), deferral)?, false));
    }
    let existing = if locked_absent {
        None
    } else {
        if let Some(d) = deferral.as_deref_mut() {
            d.settle(conn)?;
        }
        if let Some(id) = crm_db::external_ids::find(conn, R::ENTITY, &ext)? {
            return Ok((update(conn, actor, R::Id::from_uuid(id), patch, None)?, false));
        }
        crm_db::external_ids::lock(conn, R::ENTITY, &ext)?;
        crm_db::external_ids::find(conn, R::ENTITY, &ext)?
    };
    match existing {
        Some(id) => Ok((update(conn, actor, R::Id::from_uuid(id), patch, None)?, false)),
        None => {
            let mut input = crate::MergePatch::apply(patch, &R::blank());
            let list = crate::RecordInput::external_ids(&mut input);
            if !list.contains(&ext) {
                list.push(ext);
            }
            Ok((create_with(conn, actor, input, deferral)?, true))
        }
    }
}

/// Bulk import for seeding and migrations: records already validated and normalized by their
/// domain (which builds them without per-record reference checks: the foreign keys hold), written
/// with multi-row statements, each with its `created` event. Uniqueness is not checked one by
/// one: a duplicate fails the whole call (the unique indexes hold). Returns the stored records,
/// or the index of the first that failed (`usize::MAX`: the call itself).
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub, n = records.len()))]
pub fn import<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    mut records: Vec<R>,
) -> Result<Vec<R>, (usize, RecordError)> {
    actor.require(R::WRITE).map_err(|e| (0, e.into()))?;
    let now = write_time();
    for r in &mut records {
        r.set_meta(fresh_meta(None, now));
    }
    R::import_rows(conn, &records).map_err(|e| (usize::MAX, RecordError::from(e)))?;
    for (i, r) in records.iter().enumerate() {
        if let Err(t) = crm_db::external_ids::insert_for_new(conn, R::ENTITY, r.id().uuid(), r.external_ids())
            .map_err(|e| (i, RecordError::from(e)))?
        {
            return Err((i, taken_by::<R>(conn, actor, t)));
        }
        record_event(conn, actor, Action::Created, None, r).map_err(|e| (i, e))?;
    }
    Ok(records)
}

/// `modify`, followed by the resource's `after_write` (which keeps its derived rows and the
/// figures of what it points at right): for records that move to another parent (a merge).
pub fn relink<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    mut change: impl FnMut(&mut R) -> bool,
) -> Result<R, RecordError> {
    let before = R::find(conn, id)?.ok_or_else(not_found::<R>)?;
    let after = modify_from::<R>(conn, actor, id, &mut change, Some(before.clone()))?;
    if after != before {
        R::after_write(conn, actor, Some(&before), &after)?;
    }
    Ok(after)
}

/// A change the system makes on its own account (a first response noted on a case, a total
/// recomputed): `change` edits the current record, which is then written with a new version
/// and an `updated` event, re-reading on a lost race. `change` returning false leaves the
/// record as it is.
pub fn modify<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    change: impl FnMut(&mut R) -> bool,
) -> Result<R, RecordError> {
    modify_from(conn, actor, id, change, None)
}

/// `modify` starting from the record as `first` read it in this transaction (a lost race reads
/// it again).
fn modify_from<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    mut change: impl FnMut(&mut R) -> bool,
    mut first: Option<R>,
) -> Result<R, RecordError> {
    for _ in 0..UPDATE_RETRIES {
        let cur = match first.take() {
            Some(r) => r,
            None => R::find(conn, id)?.ok_or_else(not_found::<R>)?,
        };
        let mut next = cur.clone();
        if !change(&mut next) || next == cur {
            return Ok(cur);
        }
        let meta = cur.meta();
        next.set_meta(fresh_meta(Some(&meta), write_time()));
        if R::update_if_version(conn, &next, meta.version).map_err(|e| R::write_error(e, &next))? {
            record_event(conn, actor, Action::Updated, Some(&cur), &next)?;
            return Ok(next);
        }
    }
    Err(RecordError::Contended { entity: R::ENTITY })
}
