//! Claiming rows of work (webhook deliveries, and whatever else is attempted in the background)
//! so that one instance at a time works on each, however many run. A claim is a lease: the
//! claimer's name and a time until which the row is its own, written by one statement. On
//! PostgreSQL the candidates are read `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass each
//! other's rows by; on SQLite writers take turns anyway. A claimer that dies leaves its leases to
//! expire, and the rows are claimed again: work is attempted at least once, and the work's own
//! records make a second attempt harmless.

use chrono::NaiveDateTime;

use crate::conn::Backend;
use crate::sql::Sql;

/// Who claims, as of when, and until when.
#[derive(Clone, Copy, Debug)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub now: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// Claims up to `limit` rows of `table` (which has `id`, `lease_owner` and `lease_until`) that
/// `eligible` selects (written over the candidate row `c`), in `order` (over `c` too), under
/// `lease`. Returns their ids. Trusted text: `table` and `order`.
pub fn claim(
    conn: &mut crate::AnyConnection,
    table: &'static str,
    eligible: Sql,
    order: &str,
    limit: i64,
    lease: Lease<'_>,
) -> diesel::QueryResult<Vec<uuid::Uuid>> {
    let Lease { owner, now, until } = lease;
    let backend = conn.backend();
    let mut stmt = Sql::new(backend);
    // The candidates, chosen once. On PostgreSQL they are a materialized CTE: as a subquery of
    // `id IN (…)` the planner may run them again for every row it updates (a nested-loop
    // semi-join), and each run skips the rows the previous runs leased (their new lease fails
    // the re-check), so the UPDATE took every eligible row instead of `limit` (measured: all
    // 10,000 messages of a wave in one claim on the 100k bench database).
    let candidates = |stmt: &mut Sql, eligible: Sql| {
        stmt.push("SELECT c.id FROM ")
            .push(table)
            .push(" c WHERE (c.lease_until IS NULL OR c.lease_until < ")
            .bind(now)
            .push(") AND (")
            .append(eligible)
            .push(") ORDER BY ")
            .push(order)
            .push(" LIMIT ")
            .bind(limit);
    };
    match backend {
        Backend::Postgres => {
            stmt.push("WITH picked AS MATERIALIZED (");
            candidates(&mut stmt, eligible);
            stmt.push(" FOR UPDATE OF c SKIP LOCKED) UPDATE ")
                .push(table)
                .push(" t SET lease_owner = ")
                .bind(owner)
                .push(", lease_until = ")
                .bind(until)
                .push(" FROM picked WHERE t.id = picked.id")
                // Checked again on the row itself: a claimer that waited for another's lock
                // sees its lease.
                .push(" AND (t.lease_until IS NULL OR t.lease_until < ")
                .bind(now)
                .push(") RETURNING t.id");
        }
        Backend::Sqlite => {
            // Writers take turns: the subquery runs once, under the write lock.
            stmt.push("UPDATE ")
                .push(table)
                .push(" SET lease_owner = ")
                .bind(owner)
                .push(", lease_until = ")
                .bind(until)
                .push(" WHERE id IN (");
            candidates(&mut stmt, eligible);
            stmt.push(") RETURNING id");
        }
    }
    crate::sql::ids(conn, stmt)
}
