//! Storage: one connection type over SQLite and PostgreSQL, the pool, the async boundary,
//! migrations, custom SQL types (UUID, JSON), the dynamic SQL builder for lists, and test support.

pub mod batch;
pub mod claim;
pub mod conn;
pub mod external_ids;
pub mod idempotency;
pub mod memo;
pub mod metrics;
pub mod outbox;
pub mod pool;
pub mod schema;
pub mod sql;
pub mod testing;
pub mod types;

pub use conn::{AnyConnection, Backend, MultiBackend};
pub use pool::{Db, DbError};

/// Current time in UTC, truncated to microseconds so both backends read back what was written.
pub fn now() -> chrono::NaiveDateTime {
    truncate_micros(chrono::Utc::now().naive_utc())
}

/// Inserts rows in one multi-row statement on either backend (diesel's `MultiConnection` has no
/// batch insert): `crm_db::insert_rows!(conn, table, &rows)`.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql(c) => {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values($rows), c)
            }
            $crate::AnyConnection::Sqlite(c) => {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values($rows), c)
            }
        }
    };
}

/// Drops sub-microsecond precision (PostgreSQL keeps microseconds).
pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}

/// Formats a stored UTC timestamp as RFC 3339 (`2026-11-22T09:30:00.123456Z`).
pub fn to_utc(t: chrono::NaiveDateTime) -> crm_core::Timestamp {
    crm_core::Timestamp(chrono::DateTime::from_naive_utc_and_offset(t, chrono::Utc))
}

/// Refreshes PostgreSQL's statistics of some tables (trusted names) while a bulk load grows
/// them: planned with the statistics of a nearly empty table, a lookup by a list of keys scans
/// every row instead of the index (an import's external-id lookups took a second per chunk
/// at 200k rows). SQLite plans without statistics and is left alone.
pub fn analyze_tables(conn: &mut AnyConnection, tables: &[&'static str]) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Postgresql(_) = conn {
        conn.batch_execute(&format!("ANALYZE {}", tables.join(", ")))?;
    }
    Ok(())
}

/// Refreshes the query planner's statistics. After a bulk load the tables have none until
/// autovacuum (PostgreSQL) gets to them, and plans chosen without them can be many times slower.
pub fn analyze(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("ANALYZE")
}

/// The next value of a named counter (1, 2, 3, …): one statement, safe under concurrency (the
/// row lock on PostgreSQL, the writer lock on SQLite). Used for human-readable numbers.
pub fn next_counter(conn: &mut AnyConnection, name: &str) -> diesel::QueryResult<i64> {
    use diesel::prelude::*;
    use diesel::upsert::excluded;
    use schema::counters;
    let insert = diesel::insert_into(counters::table).values((counters::name.eq(name), counters::last.eq(1i64)));
    match conn {
        AnyConnection::Postgresql(c) => insert
            .on_conflict(counters::name)
            .do_update()
            .set(counters::last.eq(counters::last + excluded(counters::last)))
            .returning(counters::last)
            .get_result(c),
        AnyConnection::Sqlite(c) => insert
            .on_conflict(counters::name)
            .do_update()
            .set(counters::last.eq(counters::last + excluded(counters::last)))
            .returning(counters::last)
            .get_result(c),
    }
}
