//! Events written at commit. Services append events as they write; `Db::transaction` writes
//! them as the very last step before COMMIT, taking the sequence row lock last. So `seq` is
//! gap-free in commit order, and the lock is held only for the instant before commit (a batch
//! never holds it while it waits for other row locks: no deadlock).

use std::cell::RefCell;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::conn::AnyConnection;
use crate::schema::{event_seq, events};
use crate::types::{DbJson, DbRawJson, DbUuid};

/// An event not yet written.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    pub id: uuid::Uuid,
    pub kind: String,
    pub entity: String,
    pub entity_id: uuid::Uuid,
    pub occurred_at: NaiveDateTime,
    pub actor: String,
    pub request_id: Option<String>,
    /// The W3C trace id of the request that wrote it.
    pub trace_id: Option<String>,
    pub changed_fields: serde_json::Value,
    /// The record before and after, already serialized: a batch keeps a thousand of these
    /// until COMMIT, and text is a fraction of a parsed document's memory.
    pub before: Option<Box<serde_json::value::RawValue>>,
    pub after: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct EventRow {
    seq: i64,
    id: DbUuid,
    kind: String,
    entity: String,
    entity_id: DbUuid,
    occurred_at: NaiveDateTime,
    actor: String,
    request_id: Option<String>,
    changed_fields: DbJson,
    before_state: Option<DbRawJson>,
    after_state: Option<DbRawJson>,
    trace_id: Option<String>,
}

thread_local! {
    // Some(..) while a `Db::transaction` runs on this thread (one unit of work = one thread).
    static PENDING: RefCell<Option<Vec<PendingEvent>>> = const { RefCell::new(None) };
}

pub(crate) fn begin() {
    PENDING.with(|p| *p.borrow_mut() = Some(Vec::new()));
}

pub(crate) fn end() {
    PENDING.with(|p| *p.borrow_mut() = None);
}

fn take() -> Vec<PendingEvent> {
    PENDING.with(|p| p.borrow_mut().as_mut().map(std::mem::take).unwrap_or_default())
}

/// How many events are pending (to undo a savepoint's events with `truncate`).
pub fn mark() -> usize {
    PENDING.with(|p| p.borrow().as_ref().map(Vec::len).unwrap_or(0))
}

/// Drops events appended after `mark` (their savepoint rolled back).
pub fn truncate(mark: usize) {
    PENDING.with(|p| {
        if let Some(v) = p.borrow_mut().as_mut() {
            v.truncate(mark);
        }
    });
}

/// Appends an event: buffered inside `Db::transaction`, written at once otherwise.
pub fn append(conn: &mut AnyConnection, ev: PendingEvent) -> QueryResult<()> {
    let unbuffered = PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(v) => {
            v.push(ev);
            None
        }
        None => Some(ev),
    });
    match unbuffered {
        Some(ev) => write(conn, vec![ev]),
        None => Ok(()),
    }
}

/// Writes the pending events of this transaction (called just before COMMIT).
pub(crate) fn flush(conn: &mut AnyConnection) -> QueryResult<()> {
    write(conn, take())
}

fn write(conn: &mut AnyConnection, evs: Vec<PendingEvent>) -> QueryResult<()> {
    if evs.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(evs.len()).unwrap_or(i64::MAX);
    let last: i64 = diesel::update(event_seq::table.filter(event_seq::id.eq(1)))
        .set(event_seq::last.eq(event_seq::last + n))
        .returning(event_seq::last)
        .get_result(conn)?;
    let first = last - n + 1;
    let rows: Vec<EventRow> = evs
        .into_iter()
        .enumerate()
        .map(|(i, e)| EventRow {
            seq: first + i64::try_from(i).unwrap_or(0),
            id: DbUuid(e.id),
            kind: e.kind,
            entity: e.entity,
            entity_id: DbUuid(e.entity_id),
            occurred_at: e.occurred_at,
            actor: e.actor,
            request_id: e.request_id,
            changed_fields: DbJson(e.changed_fields),
            before_state: e.before.map(DbRawJson),
            after_state: e.after.map(DbRawJson),
            trace_id: e.trace_id,
        })
        .collect();
    // Multi-row inserts go to the backend connection (the MultiConnection lacks them).
    for chunk in rows.chunks(500) {
        match conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(events::table).values(chunk).execute(c)?,
            AnyConnection::Sqlite(c) => diesel::insert_into(events::table).values(chunk).execute(c)?,
        };
    }
    Ok(())
}
