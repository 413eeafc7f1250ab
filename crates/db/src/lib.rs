//! Storage: one connection type over SQLite and PostgreSQL, the pool, the async boundary,
//! migrations, custom SQL types (UUID, JSON), the dynamic SQL builder for lists, and test support.

pub mod batch;
pub mod conn;
pub mod external_ids;
pub mod idempotency;
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
