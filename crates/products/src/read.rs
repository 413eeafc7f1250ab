//! What other domains read of purchases: a customer's purchases newest first (the 360
//! timeline), what it bought, and the units of each product.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_core::ids::{Customer, ProductId, PurchaseId};
use crm_db::schema::{purchase_lines, purchases};
use crm_db::sql::{Key, live_of, newest_keys};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, MultiBackend};
use diesel::prelude::*;

use crate::model::PurchaseStatus;

/// Purchases that did not happen, for what a customer bought.
pub const NOT_BOUGHT: [PurchaseStatus; 2] = [PurchaseStatus::Cancelled, PurchaseStatus::Returned];

/// The customer's live purchases, newest first: `n` keys `(ordered_at, id)` before `before`.
pub fn newest_of(conn: &mut AnyConnection, customer: Customer, before: Option<Key>, n: i64) -> QueryResult<Vec<Key>> {
    let cond = live_of(customer, conn.backend());
    newest_keys(conn, "purchases", "ordered_at", "id", cond, before, n)
}

/// One purchase a customer made (live, not cancelled or returned).
pub struct Bought {
    pub id: PurchaseId,
    pub ordered_at: NaiveDateTime,
    /// ISO 4217 currency code, upper case.
    pub currency: String,
    pub total_minor: i64,
}

pub fn bought_by(conn: &mut AnyConnection, customer: Customer) -> QueryResult<Vec<Bought>> {
    let q = purchases::table
        .filter(purchases::archived_at.is_null())
        .filter(purchases::status.ne_all(NOT_BOUGHT.map(|s| s.as_str())))
        .select((purchases::id, purchases::ordered_at, purchases::currency, purchases::total_minor))
        .into_boxed::<MultiBackend>();
    let id = DbUuid(customer.uuid());
    let q = match customer {
        Customer::Contact(_) => q.filter(purchases::contact_id.eq(id)),
        Customer::Account(_) => q.filter(purchases::account_id.eq(id)),
    };
    let rows: Vec<(DbUuid, NaiveDateTime, String, i64)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, ordered_at, currency, total_minor)| Bought {
            id: PurchaseId(id.0),
            ordered_at,
            currency,
            total_minor,
        })
        .collect())
}

/// The units of each product over the lines of these purchases.
pub fn units_by_product(conn: &mut AnyConnection, ids: &[PurchaseId]) -> QueryResult<HashMap<ProductId, i64>> {
    let mut units: HashMap<ProductId, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let keys: Vec<DbUuid> = chunk.iter().map(|p| DbUuid(p.0)).collect();
        let lines: Vec<(DbUuid, i64)> = purchase_lines::table
            .filter(purchase_lines::purchase_id.eq_any(keys))
            .select((purchase_lines::product_id, purchase_lines::quantity))
            .load(conn)?;
        for (p, q) in lines {
            let e = units.entry(ProductId(p.0)).or_default();
            *e = e.saturating_add(q);
        }
    }
    Ok(units)
}
