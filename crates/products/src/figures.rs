//! What a customer's purchases add up to, kept on the account and on the contact
//! (`lifetime_value`, `purchase_count`, `last_purchase_at`) so that their lists filter and sort
//! on it ("the most valuable customers in Korea") with an index instead of aggregating every
//! customer's purchases per request.
//!
//! The figures count the live purchases that were not cancelled or returned (as the customer
//! summary does). A customer who paid in several currencies has one amount per currency, and
//! amounts in different currencies do not add up: the record keeps the total in its *main*
//! currency, the one most of those purchases were paid in (then the one of the latest; then
//! the code), and the summary lists every currency. Every purchase write recomputes the
//! figures of the customers it concerned before and after, in its transaction, as a system
//! change of theirs (a new version and an `updated` event, so ETags and the change feed see
//! it).

use chrono::NaiveDateTime;
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::ids::Customer;
use crm_core::{Actor, Money, Timestamp};
use crm_db::schema::purchases;
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, Backend, MultiBackend, to_utc};
use crm_records::RecordError;
use diesel::dsl::{count_star, max, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::Purchase;
use crate::read::NOT_BOUGHT;

/// A customer's purchase figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub lifetime_value: Option<Money>,
    pub purchase_count: i64,
    pub last_purchase_at: Option<Timestamp>,
}

/// One currency's part of a customer's purchases.
struct PerCurrency {
    currency: String,
    count: i64,
    total: i64,
    last: Option<NaiveDateTime>,
}

/// The figures of `customer`, from its purchases (one statement).
pub fn of(conn: &mut AnyConnection, customer: Customer) -> QueryResult<Figures> {
    // A total past the range of an amount is capped at its largest value. SQLite sums with
    // `TOTAL` (a float: exact below 2^53 minor units), as its `SUM` fails on an overflow.
    let total = match conn.backend() {
        Backend::Postgres => "LEAST(SUM(total_minor), 9223372036854775807)::bigint",
        Backend::Sqlite => "CAST(TOTAL(total_minor) AS INTEGER)",
    };
    let q = purchases::table
        .filter(purchases::archived_at.is_null())
        .filter(purchases::status.ne_all(NOT_BOUGHT.map(|s| s.as_str())))
        .group_by(purchases::currency)
        .select((purchases::currency, count_star(), sql::<BigInt>(total), max(purchases::ordered_at)))
        .into_boxed::<MultiBackend>();
    let id = DbUuid(customer.uuid());
    let q = match customer {
        Customer::Contact(_) => q.filter(purchases::contact_id.eq(id)),
        Customer::Account(_) => q.filter(purchases::account_id.eq(id)),
    };
    let parts: Vec<PerCurrency> = q
        .load::<(String, i64, i64, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(currency, count, total, last)| PerCurrency { currency, count, total, last })
        .collect();
    Ok(combine(&parts))
}

/// The figures from the parts per currency: the main currency's total, every purchase counted.
fn combine(parts: &[PerCurrency]) -> Figures {
    let main =
        parts.iter().max_by(|a, b| (a.count, a.last).cmp(&(b.count, b.last)).then_with(|| b.currency.cmp(&a.currency)));
    Figures {
        lifetime_value: main.map(|m| Money::new(m.total, &m.currency)),
        purchase_count: parts.iter().map(|p| p.count).sum(),
        last_purchase_at: parts.iter().filter_map(|p| p.last).max().map(to_utc),
    }
}

/// Recomputes the figures of the customers `before` and `after` concern (a purchase that moved
/// changes both), when the write changed what they count.
pub fn after_purchase_write(
    conn: &mut AnyConnection,
    actor: &Actor,
    before: Option<&Purchase>,
    after: &Purchase,
) -> Result<(), RecordError> {
    let counted =
        |p: &Purchase| (p.account_id, p.contact_id, p.status, p.archived_at.is_none(), p.ordered_at, p.total.clone());
    if before.is_some_and(|b| counted(b) == counted(after)) {
        return Ok(());
    }
    let mut customers: Vec<Customer> = Vec::with_capacity(4);
    for p in before.into_iter().chain(Some(after)) {
        customers.extend(p.account_id.map(Customer::Account));
        customers.extend(p.contact_id.map(Customer::Contact));
    }
    customers.sort_by_key(|c| (c.entity(), c.uuid()));
    customers.dedup();
    for customer in customers {
        refresh(conn, actor, customer)?;
    }
    // Campaigns attribute the purchase (or take it back).
    crm_records::hooks::touched(conn, actor, "purchase", after.id.0)
}

/// Writes `customer`'s current figures on its record (nothing when they did not change).
///
/// The customer's row is locked first (PostgreSQL; SQLite writers are serialized anyway), so
/// that the sum is read after every concurrent purchase write of the same customer committed:
/// without it, two purchases at once each sum without the other and the later write loses one
/// (measured: 2 to 9 of 12 concurrent purchases counted). Customers are locked in one order
/// (`after_purchase_write` sorts them), so two writes never wait for each other in a cycle.
pub fn refresh(conn: &mut AnyConnection, actor: &Actor, customer: Customer) -> Result<(), RecordError> {
    let found = match customer {
        Customer::Account(id) => <Account as crm_records::Stored>::lock(conn, id)?,
        Customer::Contact(id) => <Contact as crm_records::Stored>::lock(conn, id)?,
    };
    if !found {
        return Err(RecordError::NotFound { entity: customer.entity() });
    }
    let f = of(conn, customer)?;
    match customer {
        Customer::Account(id) => crm_records::modify::<Account>(conn, actor, id, |a| {
            a.lifetime_value.clone_from(&f.lifetime_value);
            a.purchase_count = f.purchase_count;
            a.last_purchase_at = f.last_purchase_at;
            true
        })
        .map(drop),
        Customer::Contact(id) => crm_records::modify::<Contact>(conn, actor, id, |c| {
            c.lifetime_value.clone_from(&f.lifetime_value);
            c.purchase_count = f.purchase_count;
            c.last_purchase_at = f.last_purchase_at;
            true
        })
        .map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(currency: &str, count: i64, total: i64, day: u32) -> PerCurrency {
        let last = chrono::NaiveDate::from_ymd_opt(2026, 11, day).and_then(|d| d.and_hms_opt(9, 0, 0));
        PerCurrency { currency: currency.into(), count, total, last }
    }

    #[test]
    fn the_main_currency_is_the_most_used_then_the_latest_then_the_first_code() {
        assert_eq!(combine(&[]), Figures::default());
        let f = combine(&[part("USD", 1, 500, 20), part("KRW", 3, 90_000, 2)]);
        assert_eq!(f.lifetime_value, Some(Money::new(90_000, "KRW")));
        assert_eq!(f.purchase_count, 4);
        assert_eq!(f.last_purchase_at, part("USD", 1, 500, 20).last.map(to_utc));
        let tie = combine(&[part("EUR", 2, 100, 3), part("USD", 2, 7, 9)]);
        assert_eq!(tie.lifetime_value, Some(Money::new(7, "USD")), "as many: the latest");
        let same = combine(&[part("USD", 2, 7, 9), part("EUR", 2, 100, 9)]);
        assert_eq!(same.lifetime_value, Some(Money::new(100, "EUR")), "as many, as late: the first code");
    }
}
