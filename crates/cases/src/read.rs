//! What other domains read of cases: a customer's cases newest first (the 360 timeline) and
//! their counts.

use chrono::NaiveDateTime;
use crm_core::ids::Customer;
use crm_db::AnyConnection;
use crm_db::sql::{Key, Sql, count_where, live_of, newest_keys};
use crm_records::visibility::Visibility;
use diesel::QueryResult;

use crate::model::CaseStatus;

/// Cases that still need work.
pub const OPEN: [CaseStatus; 3] = [CaseStatus::New, CaseStatus::Open, CaseStatus::Pending];

fn and_open(mut cond: Sql) -> Sql {
    cond.push(" AND status IN (");
    for (i, s) in OPEN.iter().enumerate() {
        if i > 0 {
            cond.push(", ");
        }
        cond.bind(s.as_str());
    }
    cond.push(")");
    cond
}

/// The customer's live cases, newest first: `n` keys `(created_at, id)` before `before`.
pub fn newest_of(conn: &mut AnyConnection, customer: Customer, before: Option<Key>, n: i64) -> QueryResult<Vec<Key>> {
    let cond = live_of(customer, conn.backend());
    newest_keys(conn, "cases", "created_at", "id", cond, before, n)
}

/// A customer's cases in figures.
pub struct Stats {
    pub open: i64,
    /// Open and past their SLA due time.
    pub overdue: i64,
    pub last_opened: Option<NaiveDateTime>,
}

/// The figures of a customer's cases that `seen` keeps (the caller's visibility of cases).
pub fn stats_of(
    conn: &mut AnyConnection,
    customer: Customer,
    seen: &Visibility,
    now: NaiveDateTime,
) -> QueryResult<Stats> {
    let mut live = live_of(customer, conn.backend());
    Sql::and(&mut live, seen.sql("assignee_id", "id", conn.backend()));
    let open = count_where(conn, "cases", and_open(live.clone()))?;
    let mut overdue = and_open(live.clone());
    overdue.push(" AND sla_due_at < ").bind(now);
    let overdue = count_where(conn, "cases", overdue)?;
    let last_opened = newest_keys(conn, "cases", "created_at", "id", live, None, 1)?.first().map(|k| k.0);
    Ok(Stats { open, overdue, last_opened })
}
