//! What the customer 360 (`crm-timeline`) reads of a contact's or account's sales: its deals,
//! their stage moves and its activities as timeline keys, and their figures for the summary.
//! Every read here is one statement; the caller checks `sales:read`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_core::ids::Customer;
use crm_db::schema::{activities, opportunities, opportunity_stage_history};
use crm_db::sql::{Key, Sql, live_of, newest_keys};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, MultiBackend};
use crm_records::visibility::Visibility;
use diesel::prelude::*;

use crate::opportunities::{HistoryRow, StageVisit, visit_of};

/// The newest live deals of the customer, by when they were opened.
pub fn newest_deals(
    conn: &mut AnyConnection,
    customer: Customer,
    before: Option<Key>,
    n: i64,
) -> QueryResult<Vec<Key>> {
    let cond = live_of(customer, conn.backend());
    newest_keys(conn, "opportunities", "created_at", "id", cond, before, n)
}

/// The newest stage moves of the customer's live deals (the stage a deal was opened in is its
/// opening, not a move; won and lost are moves into a closed stage), keyed by the visit.
pub fn newest_stage_moves(
    conn: &mut AnyConnection,
    customer: Customer,
    before: Option<Key>,
    n: i64,
) -> QueryResult<Vec<Key>> {
    const FROM: &str = "opportunity_stage_history h JOIN opportunities o ON o.id = h.opportunity_id";
    let mut cond = Sql::new(conn.backend());
    cond.push("o.").push(customer.column()).push(" = ").bind(customer.uuid());
    cond.push(" AND o.archived_at IS NULL AND h.entered_at > o.created_at");
    newest_keys(conn, FROM, "h.entered_at", "h.id", cond, before, n)
}

/// The newest live activities of the customer: each once, when it was done, or when it was
/// scheduled while it is still to do (or was cancelled).
pub fn newest_activities(
    conn: &mut AnyConnection,
    customer: Customer,
    before: Option<Key>,
    n: i64,
) -> QueryResult<Vec<Key>> {
    let cond = live_of(customer, conn.backend());
    newest_keys(conn, "activities", "COALESCE(completed_at, created_at)", "id", cond, before, n)
}

/// Stage visits by their id (the timeline's stage moves).
pub fn stage_visits(conn: &mut AnyConnection, ids: &[uuid::Uuid]) -> QueryResult<HashMap<uuid::Uuid, StageVisit>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<HistoryRow> = opportunity_stage_history::table
        .filter(opportunity_stage_history::id.eq_any(ids.iter().copied().map(DbUuid)))
        .load(conn)?;
    let now = crm_db::now();
    Ok(rows.into_iter().map(|r| (r.0.0, visit_of(r, now))).collect())
}

/// A customer's deals in figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DealStats {
    pub open: i64,
    pub won: i64,
    pub lost: i64,
    /// Open deals' amounts, summed per currency (code order).
    pub open_amounts: Vec<(String, i128)>,
    /// Won deals' amounts, summed per currency.
    pub won_amounts: Vec<(String, i128)>,
    pub last_opened: Option<NaiveDateTime>,
}

fn add(sums: &mut Vec<(String, i128)>, currency: Option<String>, minor: Option<i64>) {
    let (Some(c), Some(m)) = (currency, minor) else { return };
    match sums.iter_mut().find(|(x, _)| *x == c) {
        Some((_, s)) => *s += i128::from(m),
        None => sums.push((c, i128::from(m))),
    }
}

/// The figures of a customer's deals that `seen` keeps (the caller's visibility of deals).
pub fn deal_stats(conn: &mut AnyConnection, customer: Customer, seen: &Visibility) -> QueryResult<DealStats> {
    let q = opportunities::table
        .filter(opportunities::archived_at.is_null())
        .filter(seen.sql("owner_id", "id", conn.backend()))
        .select((
            opportunities::status,
            opportunities::currency,
            opportunities::amount_minor,
            opportunities::created_at,
        ))
        .into_boxed::<MultiBackend>();
    let id = DbUuid(customer.uuid());
    let q = match customer {
        Customer::Contact(_) => q.filter(opportunities::contact_id.eq(id)),
        Customer::Account(_) => q.filter(opportunities::account_id.eq(id)),
    };
    let rows: Vec<(String, Option<String>, Option<i64>, NaiveDateTime)> = q.load(conn)?;
    let mut s = DealStats::default();
    for (status, currency, minor, created) in rows {
        match status.as_str() {
            "won" => {
                s.won += 1;
                add(&mut s.won_amounts, currency, minor);
            }
            "lost" => s.lost += 1,
            _ => {
                s.open += 1;
                add(&mut s.open_amounts, currency, minor);
            }
        }
        s.last_opened = s.last_opened.max(Some(created));
    }
    s.open_amounts.sort();
    s.won_amounts.sort();
    Ok(s)
}

/// A customer's activities in figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityStats {
    /// Still to do.
    pub open: i64,
    /// To do and past their due time.
    pub overdue: i64,
    /// The earliest due time of those still to do.
    pub next_due: Option<NaiveDateTime>,
    pub last_done: Option<NaiveDateTime>,
}

/// The figures of a customer's activities that `seen` keeps (the caller's visibility of
/// activities).
pub fn activity_stats(
    conn: &mut AnyConnection,
    customer: Customer,
    seen: &Visibility,
    now: NaiveDateTime,
) -> QueryResult<ActivityStats> {
    let q = activities::table
        .filter(activities::archived_at.is_null())
        .filter(seen.sql("assignee_id", "id", conn.backend()))
        .select((activities::status, activities::due_at, activities::completed_at))
        .into_boxed::<MultiBackend>();
    let id = DbUuid(customer.uuid());
    let q = match customer {
        Customer::Contact(_) => q.filter(activities::contact_id.eq(id)),
        Customer::Account(_) => q.filter(activities::account_id.eq(id)),
    };
    let rows: Vec<(String, Option<NaiveDateTime>, Option<NaiveDateTime>)> = q.load(conn)?;
    let mut s = ActivityStats::default();
    for (status, due, done) in rows {
        if status == "open" {
            s.open += 1;
            if due.is_some_and(|d| d < now) {
                s.overdue += 1;
            }
            if let Some(d) = due {
                s.next_due = Some(s.next_due.map_or(d, |n| n.min(d)));
            }
        }
        s.last_done = s.last_done.max(done);
    }
    Ok(s)
}
