//! Storage of external ids, shared by every resource: `(entity, source, external_id) → record`.

use std::collections::HashMap;

use crm_core::ExternalId;
use diesel::prelude::*;

use crate::conn::AnyConnection;
use crate::schema::external_ids as x;
use crate::sql::in_ids;
use crate::types::DbUuid;

/// The record of `entity` that carries `ext`.
pub fn find(conn: &mut AnyConnection, entity: &str, ext: &ExternalId) -> QueryResult<Option<uuid::Uuid>> {
    x::table
        .filter(x::entity.eq(entity))
        .filter(x::source.eq(&ext.source))
        .filter(x::external_id.eq(&ext.id))
        .select(x::entity_id)
        .first::<DbUuid>(conn)
        .optional()
        .map(|o| o.map(|u| u.0))
}

/// The records that carry any of `exts` (one query per 500 ids): external id → record id.
pub fn find_many(
    conn: &mut AnyConnection,
    entity: &str,
    exts: &[ExternalId],
) -> QueryResult<HashMap<ExternalId, uuid::Uuid>> {
    let mut out = HashMap::new();
    // By source, so that the whole key (entity, source, external_id) leads the lookup: without
    // the source, an index on the key can only narrow to the entity, and each lookup walked
    // every id of the entity (an import of 200k contacts slowed to 180 rows/s on PostgreSQL).
    let mut by_source: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in exts {
        by_source.entry(e.source.as_str()).or_default().push(e.id.as_str());
    }
    for (source, ids) in by_source {
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, DbUuid)> = x::table
                .filter(x::entity.eq(entity))
                .filter(x::source.eq(source))
                .filter(x::external_id.eq_any(chunk))
                .select((x::external_id, x::entity_id))
                .load(conn)?;
            for (id, record) in rows {
                out.insert(ExternalId { source: source.to_string(), id }, record.0);
            }
        }
    }
    Ok(out)
}

/// What a batch of upserts needs to know before it runs: which ids already name a record
/// (id → record), and which do not. The absent ones are locked (all at once, sorted) and
/// looked up again under the lock, so their first upsert may create without its own lock and
/// lookup.
pub fn prepare_upserts(
    conn: &mut AnyConnection,
    entity: &str,
    exts: &[ExternalId],
) -> QueryResult<(HashMap<ExternalId, uuid::Uuid>, std::collections::HashSet<ExternalId>)> {
    let mut found = find_many(conn, entity, exts)?;
    let missing: Vec<ExternalId> = exts.iter().filter(|e| !found.contains_key(*e)).cloned().collect();
    lock_many(conn, entity, &missing)?;
    found.extend(find_many(conn, entity, &missing)?);
    let absent = missing.into_iter().filter(|e| !found.contains_key(e)).collect();
    Ok((found, absent))
}

/// A batch operation that creates or updates a record with these external ids: their upserts
/// later in the batch may no longer create without a lookup (see `prepare_upserts`).
pub fn no_longer_absent(absent: &mut std::collections::HashSet<ExternalId>, ids: &[ExternalId]) {
    if absent.is_empty() {
        return;
    }
    for e in ids {
        if let Ok(parsed) = e.clone().parse("external_id") {
            absent.remove(&parsed);
        }
    }
}

/// The external ids of several records, in a stable order, keyed by the records' own id type
/// (a typed id such as `ContactId`, or a bare UUID).
pub fn of_records<I>(conn: &mut AnyConnection, entity: &str, ids: &[I]) -> QueryResult<HashMap<I, Vec<ExternalId>>>
where
    I: Copy + Eq + std::hash::Hash + Into<uuid::Uuid> + From<uuid::Uuid>,
{
    let mut out: HashMap<I, Vec<ExternalId>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(DbUuid, String, String)> = x::table
        .filter(x::entity.eq(entity))
        .filter(in_ids(r#""external_ids"."entity_id""#, ids.iter().map(|&i| i.into()), conn.backend()))
        .order((x::entity_id, x::source, x::external_id))
        .select((x::entity_id, x::source, x::external_id))
        .load(conn)?;
    for (id, source, external_id) in rows {
        out.entry(I::from(id.0)).or_default().push(ExternalId { source, id: external_id });
    }
    Ok(out)
}

/// An external id already carried by another record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub index: usize,
    pub external_id: ExternalId,
    /// Unknown when a concurrent writer took it between the check and the insert.
    pub owner: Option<uuid::Uuid>,
}

/// Makes `ids` the external ids of the record. Checks first, so a conflict leaves the
/// transaction usable: `Ok(Err(taken))` names the first id owned by another record.
pub fn replace(
    conn: &mut AnyConnection,
    entity: &str,
    record: uuid::Uuid,
    ids: &[ExternalId],
) -> QueryResult<Result<(), Taken>> {
    write(conn, entity, record, ids, false)
}

/// Removes every external id of these records (the losers of a merge, whose ids the survivor
/// takes): how many there were.
pub fn remove_all(conn: &mut AnyConnection, entity: &str, records: &[uuid::Uuid]) -> QueryResult<usize> {
    let ids: Vec<DbUuid> = records.iter().copied().map(DbUuid).collect();
    diesel::delete(x::table.filter(x::entity.eq(entity)).filter(x::entity_id.eq_any(ids))).execute(conn)
}

/// `replace` for a record created in this transaction (it has no external ids to remove).
pub fn insert_for_new(
    conn: &mut AnyConnection,
    entity: &str,
    record: uuid::Uuid,
    ids: &[ExternalId],
) -> QueryResult<Result<(), Taken>> {
    if ids.is_empty() {
        return Ok(Ok(()));
    }
    write(conn, entity, record, ids, true)
}

/// `insert_for_new` for several new records at once (a batch's deferred creates): one
/// statement on PostgreSQL. Returns false when some id was already taken, in which case the
/// others may be inserted and the caller rolls back and writes one by one, to learn which.
pub fn insert_many_new(
    conn: &mut AnyConnection,
    entity: &str,
    records: &[(uuid::Uuid, &[ExternalId])],
) -> QueryResult<bool> {
    let now = crate::now();
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<_> = records
        .iter()
        .flat_map(|(record, ids)| ids.iter().map(move |e| (*record, e)))
        // The same id twice in one record's list is stored once.
        .filter(|(record, e)| seen.insert((*record, *e)))
        .map(|(record, e)| {
            (
                x::entity.eq(entity),
                x::source.eq(&e.source),
                x::external_id.eq(&e.id),
                x::entity_id.eq(DbUuid(record)),
                x::created_at.eq(now),
            )
        })
        .collect();
    let mut inserted = 0;
    match conn {
        AnyConnection::Postgresql(c) => {
            for chunk in rows.chunks(1000) {
                inserted += diesel::insert_into(x::table).values(chunk).on_conflict_do_nothing().execute(c)?;
            }
        }
        AnyConnection::Sqlite(c) => {
            for row in rows.iter().cloned() {
                inserted += diesel::insert_into(x::table).values(row).on_conflict_do_nothing().execute(c)?;
            }
        }
    }
    Ok(inserted == rows.len())
}

fn write(
    conn: &mut AnyConnection,
    entity: &str,
    record: uuid::Uuid,
    ids: &[ExternalId],
    fresh: bool,
) -> QueryResult<Result<(), Taken>> {
    if !fresh {
        diesel::delete(x::table.filter(x::entity.eq(entity)).filter(x::entity_id.eq(DbUuid(record)))).execute(conn)?;
    }
    let now = crate::now();
    for (index, e) in ids.iter().enumerate() {
        // Inserted unless the id is taken: one statement in the usual case, and no failed
        // statement (which would abort a PostgreSQL transaction) when it is taken.
        let row = (
            x::entity.eq(entity),
            x::source.eq(&e.source),
            x::external_id.eq(&e.id),
            x::entity_id.eq(DbUuid(record)),
            x::created_at.eq(now),
        );
        let inserted = match conn {
            AnyConnection::Postgresql(c) => {
                diesel::insert_into(x::table).values(row).on_conflict_do_nothing().execute(c)?
            }
            AnyConnection::Sqlite(c) => {
                diesel::insert_into(x::table).values(row).on_conflict_do_nothing().execute(c)?
            }
        };
        if inserted == 0 {
            match find(conn, entity, e)? {
                // The same id twice in the list.
                Some(owner) if owner == record => {}
                owner => return Ok(Err(Taken { index, external_id: e.clone(), owner })),
            }
        }
    }
    Ok(Ok(()))
}

/// Serializes upserts of one external id until the transaction ends (PostgreSQL advisory
/// lock; SQLite writers are already serialized), so two concurrent upserts create one record.
pub fn lock(conn: &mut AnyConnection, entity: &str, ext: &ExternalId) -> QueryResult<()> {
    lock_many(conn, entity, std::slice::from_ref(ext))
}

/// `lock` for many ids in one round trip per 500. Keys are taken in sorted order, so two
/// batches that share ids cannot deadlock on each other.
pub fn lock_many(conn: &mut AnyConnection, entity: &str, exts: &[ExternalId]) -> QueryResult<()> {
    if let AnyConnection::Postgresql(_) = conn {
        // Keys are numbers derived here (UUIDv5 of the id, stable across instances and
        // builds), so the statement is plain text with no caller data.
        let mut keys: Vec<i64> = exts
            .iter()
            .map(|ext| {
                let name = format!("{entity}\u{1f}{}\u{1f}{}", ext.source, ext.id);
                let digest = uuid::Uuid::new_v5(&LOCK_NAMESPACE, name.as_bytes());
                let mut first = [0u8; 8];
                first.copy_from_slice(&digest.as_bytes()[..8]);
                i64::from_be_bytes(first)
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for chunk in keys.chunks(500) {
            let calls: Vec<String> = chunk.iter().map(|k| format!("pg_advisory_xact_lock({k})")).collect();
            diesel::connection::SimpleConnection::batch_execute(conn, &format!("SELECT {}", calls.join(", ")))?;
        }
    }
    Ok(())
}

const LOCK_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2b3a_8d4e_4f50_9a61_7b82_c3d4_e5f6);
