//! Merging duplicates: the survivor takes the losers' values where the caller chooses them (or
//! where its own are empty), their external ids, and every record of every domain that pointed
//! at them (each domain moves its own through its merge hook, with a new version and an event
//! per moved record); the losers become archived tombstones that point at the survivor. All of
//! it in the caller's transaction: a merge happens whole or not at all.

use std::collections::BTreeMap;

use crm_core::ids::EntityId;
use crm_core::{Actor, FieldError, FieldErrors, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::merges;
use crm_db::types::DbUuid;
use crm_events::Action;
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::hooks::Moved;
use crate::write::{event_json, fresh_meta, write_time};
use crate::{Meta, Record, RecordError, not_found};

/// At most this many losers in one merge.
pub const MAX_LOSERS: usize = 10;

/// How far `merged_into` follows a chain of merges (A into B, later B into C).
const MAX_CHAIN: usize = 16;

/// A merge: the records merged into the survivor, and which record each chosen field comes from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MergeInput {
    /// The records merged into the survivor (1 to 10, live, of the same resource); they become
    /// archived tombstones that point at it.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10))]
    pub losers: Vec<Uuid>,
    /// Per field, the id of the record whose value the survivor keeps (its own or a loser's):
    /// `{"email": "<loser id>"}`. A field not named keeps the survivor's value, or the first
    /// loser's (in `losers` order) when the survivor has none; lists of labels and further
    /// addresses are joined, and custom fields the survivor lacks are taken from the losers.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object, additional_properties = true))]
    pub fields: BTreeMap<String, Uuid>,
}

fn invalid(entity: &'static str, field: impl Into<String>, code: &str, message: impl Into<String>) -> RecordError {
    RecordError::Invalid { entity, errors: FieldErrors(vec![FieldError::new(field, code, message)]) }
}

/// The record `id` of `entity` was merged into, following later merges of that one: None when
/// it was not merged.
pub fn merged_into(conn: &mut AnyConnection, entity: &str, id: Uuid) -> QueryResult<Option<Uuid>> {
    let mut at = id;
    let mut found = None;
    for _ in 0..MAX_CHAIN {
        let next = merges::table
            .filter(merges::entity.eq(entity))
            .filter(merges::loser_id.eq(DbUuid(at)))
            .select(merges::survivor_id)
            .first::<DbUuid>(conn)
            .optional()?;
        match next {
            Some(s) => {
                found = Some(s.0);
                at = s.0;
            }
            None => break,
        }
    }
    Ok(found)
}

/// Fails with `Merged` when the archived record `r` is the loser of a merge (live records never
/// are: the check costs nothing on them).
pub(crate) fn refuse_merged<R: Record>(conn: &mut AnyConnection, r: &R) -> Result<(), RecordError> {
    if r.meta().archived_at.is_none() {
        return Ok(());
    }
    match merged_into(conn, R::ENTITY, r.id().uuid())? {
        Some(into) => Err(RecordError::Merged { entity: R::ENTITY, into }),
        None => Ok(()),
    }
}

/// A domain's side of a merge, for its merge hook: every record of `R` whose `column` names a
/// loser is changed by `change` (which points it at the survivor) and written with a new
/// version, its `updated` event and the resource's `after_write` (which keeps derived rows and
/// figures right).
pub fn repoint<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    column: &'static str,
    losers: &[Uuid],
    mut change: impl FnMut(&mut R) -> bool,
) -> Result<Moved, RecordError> {
    let cond = crm_db::sql::in_ids(column, losers.iter().copied(), conn.backend());
    let ids = crm_db::sql::ids_where(conn, R::catalog().table, cond)?;
    for id in &ids {
        crate::write::relink::<R>(conn, actor, R::Id::from_uuid(*id), &mut change)?;
    }
    Ok(Moved { resource: R::catalog().table, field: column, count: ids.len() })
}

/// Merges `input.losers` into `survivor`. With `expected_version`, a survivor at another
/// version fails. Answers the survivor as written.
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub, %survivor))]
pub fn merge<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    survivor: R::Id,
    input: MergeInput,
    expected_version: Option<i64>,
) -> Result<R, RecordError>
where
    R::Patch: serde::de::DeserializeOwned,
{
    actor.require(R::WRITE)?;
    let entity = R::ENTITY;
    let losers = input.losers;
    if losers.is_empty() || losers.len() > MAX_LOSERS {
        return Err(invalid(entity, "losers", "length", format!("name 1 to {MAX_LOSERS} records to merge")));
    }
    for (i, l) in losers.iter().enumerate() {
        if *l == survivor.uuid() {
            return Err(invalid(
                entity,
                format!("losers[{i}]"),
                "is_survivor",
                "a record cannot be merged into itself",
            ));
        }
        if losers[..i].contains(l) {
            return Err(invalid(entity, format!("losers[{i}]"), "repeated", "this record is named twice"));
        }
    }
    // Every record locked in one order, so two merges sharing records never wait in a cycle.
    let mut all: Vec<Uuid> = losers.iter().copied().chain([survivor.uuid()]).collect();
    all.sort();
    for id in &all {
        R::lock(conn, R::Id::from_uuid(*id))?;
    }
    let cur = R::find(conn, survivor)?.ok_or_else(not_found::<R>)?;
    crate::visibility::require(conn, actor, &cur)?;
    refuse_merged(conn, &cur)?;
    if cur.meta().archived_at.is_some() {
        return Err(RecordError::Conflict {
            entity,
            code: "ARCHIVED",
            reason: "the survivor is archived; restore it first".into(),
        });
    }
    if let Some(expected) = expected_version
        && cur.meta().version != expected
    {
        return Err(RecordError::VersionConflict { expected, current: cur.meta().version });
    }
    let seen = crate::visibility::of::<R>(conn, actor)?;
    let mut gone = Vec::with_capacity(losers.len());
    for (i, id) in losers.iter().enumerate() {
        let field = format!("losers[{i}]");
        let Some(l) = R::find(conn, R::Id::from_uuid(*id))?.filter(|l| seen.sees(l.owner(), *id)) else {
            return Err(invalid(entity, field, "not_found", format!("no {entity} has this id")));
        };
        if l.meta().archived_at.is_some() {
            let why = match merged_into(conn, entity, *id)? {
                Some(into) => format!("it was already merged into {into}"),
                None => "it is archived; restore it first".into(),
            };
            return Err(invalid(entity, field, "archived", why));
        }
        gone.push(l);
    }

    let mut patch = merged_values(&cur, &gone, &input.fields)?;
    // What points at the losers moves first (the losers' figures follow while they are live),
    // then the losers become tombstones: their history ends with the merge.
    let moved = crate::hooks::merged(conn, actor, entity, &losers, survivor.uuid())?;
    tracing::info!(losers = losers.len(), ?moved, "the losers' records moved to the survivor");
    let now = write_time();
    for l in &gone {
        let l = R::find(conn, l.id())?.ok_or_else(not_found::<R>)?;
        tombstone(conn, actor, &l, survivor.uuid(), now)?;
    }
    // External ids move to the survivor: the losers' rows go, the survivor's list grows.
    let mut external_ids = cur.external_ids().to_vec();
    for l in &gone {
        external_ids.extend(l.external_ids().iter().cloned());
    }
    crm_db::external_ids::remove_all(conn, entity, &losers)?;
    if external_ids.len() != cur.external_ids().len() {
        patch.insert("external_ids".into(), serde_json::to_value(&external_ids).unwrap_or_default());
    }
    let patch: R::Patch = serde_json::from_value(Value::Object(patch))
        .map_err(|e| invalid(entity, "fields", "invalid", format!("the merged values do not make a {entity}: {e}")))?;
    crate::write::update(conn, actor, survivor, patch, None)
}

/// The loser `l` archived, pointing at `survivor`, with its `merged` event (the tombstone with
/// `merged_into`).
fn tombstone<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    l: &R,
    survivor: Uuid,
    now: Timestamp,
) -> Result<(), RecordError> {
    let meta = l.meta();
    let mut next = l.clone();
    next.set_meta(Meta { archived_at: Some(now), ..fresh_meta(Some(&meta), now) });
    if !R::update_if_version(conn, &next, meta.version).map_err(|e| R::write_error(e, &next))? {
        return Err(RecordError::Contended { entity: R::ENTITY });
    }
    diesel::insert_into(merges::table)
        .values((
            merges::entity.eq(R::ENTITY),
            merges::loser_id.eq(DbUuid(l.id().uuid())),
            merges::survivor_id.eq(DbUuid(survivor)),
            merges::merged_at.eq(now.naive_utc()),
            merges::actor.eq(&actor.sub),
        ))
        .execute(conn)?;
    R::after_write(conn, actor, Some(l), &next)?;
    let mut after = event_json(&next);
    if let Some(o) = after.as_object_mut() {
        o.insert("merged_into".into(), survivor.to_string().into());
    }
    crm_events::record(conn, actor, R::ENTITY, l.id().uuid(), Action::Merged, Some(event_json(l)), Some(after))?;
    Ok(())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The patch that gives the survivor its merged values (see `MergeInput::fields`), after the
/// resource's own rules (`Record::merge_values`).
fn merged_values<R: Record>(
    survivor: &R,
    losers: &[R],
    choices: &BTreeMap<String, Uuid>,
) -> Result<Map<String, Value>, RecordError> {
    let entity = R::ENTITY;
    let fields = <R::Patch as crate::MergePatch<R>>::FIELDS;
    let json = |r: &R| serde_json::to_value(r).unwrap_or_default();
    let s = json(survivor);
    let ls: Vec<Value> = losers.iter().map(json).collect();
    for (field, from) in choices {
        if field == "external_ids" || !fields.contains(&field.as_str()) || s.get(field).is_none() {
            return Err(invalid(
                entity,
                format!("fields.{field}"),
                "unknown_field",
                format!("{entity}s have no writable field `{field}` a merge can choose"),
            ));
        }
        if *from != survivor.id().uuid() && !losers.iter().any(|l| l.id().uuid() == *from) {
            return Err(invalid(
                entity,
                format!("fields.{field}"),
                "not_merged",
                "name the survivor or one of the losers",
            ));
        }
    }
    let mut patch = Map::new();
    for field in fields.iter().copied().filter(|f| *f != "external_ids") {
        let Some(current) = s.get(field) else { continue };
        let value = if let Some(from) = choices.get(field) {
            let source = if *from == survivor.id().uuid() {
                &s
            } else {
                &ls[losers.iter().position(|l| l.id().uuid() == *from).unwrap_or_default()]
            };
            source.get(field).cloned().unwrap_or(Value::Null)
        } else if is_empty(current) {
            ls.iter().filter_map(|l| l.get(field)).find(|v| !is_empty(v)).cloned().unwrap_or(Value::Null)
        } else {
            match current {
                // Lists are joined: the survivor's entries first, each once.
                Value::Array(items) => {
                    let mut all = items.clone();
                    for v in ls.iter().filter_map(|l| l.get(field)?.as_array()).flatten() {
                        if !all.contains(v) {
                            all.push(v.clone());
                        }
                    }
                    Value::Array(all)
                }
                // Objects (custom fields) gain the keys the survivor lacks: a merge patch of them.
                Value::Object(own) => {
                    let mut add = Map::new();
                    for (k, v) in ls.iter().filter_map(|l| l.get(field)?.as_object()).flatten() {
                        if !own.contains_key(k) && !add.contains_key(k) && !v.is_null() {
                            add.insert(k.clone(), v.clone());
                        }
                    }
                    if add.is_empty() {
                        continue;
                    }
                    patch.insert(field.to_string(), Value::Object(add));
                    continue;
                }
                _ => continue,
            }
        };
        if &value != current {
            patch.insert(field.to_string(), value);
        }
    }
    R::merge_values(&s, &ls, choices, &mut patch);
    Ok(patch)
}
