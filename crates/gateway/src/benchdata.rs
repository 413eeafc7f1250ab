//! `crm bench-data analytics`: a purchase history at the scale of the analytics targets (100k
//! customers, 1M purchase lines, 500 products) for `make bench`, written in multi-row inserts
//! (the record layer would take an hour). Each of the seeded contacts becomes a customer buying
//! without an account: regulars at their own pace, churners who stopped, one-time buyers, with
//! product affinities (each product sells with one partner half the time). Deterministic.

use chrono::NaiveDateTime;
use crm_core::{Actor, Money};
use crm_db::schema::{contacts, purchase_lines, purchases};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, Db};
use crm_products::{Product, ProductInput};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What was written.
pub struct Written {
    pub customers: usize,
    pub products: usize,
    pub purchases: usize,
    pub lines: usize,
}

const FAMILIES: usize = 25;

/// Writes `products` products and purchases for up to `customers` of the seeded contacts, about
/// `lines` lines in all.
pub fn analytics(
    db: &Db,
    customers: usize,
    products: usize,
    lines: usize,
    progress: &mut crate::progress::Progress,
) -> Result<Written, String> {
    let mut rng = StdRng::seed_from_u64(0xA11A);
    let people: Vec<DbUuid> = db
        .run_sync(|c| {
            contacts::table
                .select(contacts::id)
                .order(contacts::id)
                .limit(customers as i64)
                .load(c)
                .map_err(crm_db::DbError::from)
        })
        .map_err(|e| e.to_string())?;
    if people.is_empty() {
        return Err("seed contacts first (`crm seed --accounts N --contacts M`)".into());
    }
    progress.phase("products", products as u64);
    let actor = Actor::system();
    let catalog: Vec<(uuid::Uuid, i64)> = db
        .transaction_sync(|c| -> Result<Vec<(uuid::Uuid, i64)>, crm_records::RecordError> {
            let mut out = Vec::new();
            for n in 0..products {
                let price = 10 * (1 + (n % 20) as i64) * 100;
                let p = crm_records::create::<Product>(
                    c,
                    &actor,
                    ProductInput {
                        sku: Some(format!("BENCH-{n:04}")),
                        name: Some(format!("Bench product {n}")),
                        family: Some(format!("Family {}", n % FAMILIES)),
                        list_price: Some(Money::new(price, "USD")),
                        unit_cost: Some(Money::new(price * 6 / 10, "USD")),
                        ..Default::default()
                    },
                )?;
                out.push((p.id.0, price));
            }
            Ok(out)
        })
        .map_err(|e| e.to_string())?;
    progress.inc(products as u64);

    // 2.5 lines a purchase on average; 30% buy once, the others k × U(0.5, 1.7) times (mean
    // 1.1 k): k such that the lines add up to about `lines`.
    let per_customer = ((lines as f64 / people.len() as f64 / 2.5 - 0.3) / 0.77).max(2.0);
    let start = crm_db::now() - chrono::Duration::days(730);
    progress.phase("purchases", lines as u64);
    let mut written = Written { customers: people.len(), products, purchases: 0, lines: 0 };
    let mut heads: Vec<(DbUuid, DbUuid, NaiveDateTime, i64)> = Vec::new();
    let mut rows: Vec<(DbUuid, i64, DbUuid, i64, i64, i64)> = Vec::new();
    for (k, person) in people.iter().enumerate() {
        let kind = rng.random_range(0..100);
        let count = if kind < 30 { 1 } else { (per_customer * rng.random_range(0.5..1.7)).round().max(2.0) as usize };
        // Churners stop somewhere in the second year; the others buy until now.
        let span = if kind >= 80 { rng.random_range(200..600) } else { 730 };
        let first = rng.random_range(0..(span / 2).max(1));
        for j in 0..count {
            let day = if count == 1 { first } else { first + (span - first) * j as i64 / count as i64 };
            let at = start + chrono::Duration::days(day) + chrono::Duration::minutes(rng.random_range(0..600));
            let id = uuid::Uuid::now_v7();
            let n_lines = rng.random_range(1..=4);
            let mut total = 0;
            let anchor = rng.random_range(0..catalog.len());
            for line in 0..n_lines {
                // The first product, its partner half the time, then any.
                let pick = match line {
                    0 => anchor,
                    1 if rng.random_bool(0.5) => (anchor + FAMILIES) % catalog.len(),
                    _ => rng.random_range(0..catalog.len()),
                };
                let (product, price) = catalog[pick];
                let quantity = rng.random_range(1..=3);
                total += price * quantity;
                rows.push((DbUuid(id), line as i64 + 1, DbUuid(product), quantity, price, price * quantity));
            }
            heads.push((DbUuid(id), *person, at, total));
        }
        if heads.len() >= 2000 || k + 1 == people.len() {
            let (h, l) = (std::mem::take(&mut heads), std::mem::take(&mut rows));
            written.purchases += h.len();
            written.lines += l.len();
            progress.inc(l.len() as u64);
            db.transaction_sync(|c| write(c, &h, &l)).map_err(|e| e.to_string())?;
        }
    }
    progress.finish();
    Ok(written)
}

fn write(
    conn: &mut AnyConnection,
    heads: &[(DbUuid, DbUuid, NaiveDateTime, i64)],
    lines: &[(DbUuid, i64, DbUuid, i64, i64, i64)],
) -> Result<(), crm_db::DbError> {
    let now = crm_db::now();
    let heads: Vec<_> = heads
        .iter()
        .map(|(id, contact, at, total)| {
            (
                purchases::id.eq(*id),
                purchases::contact_id.eq(Some(*contact)),
                purchases::ordered_at.eq(*at),
                purchases::status.eq("fulfilled"),
                purchases::currency.eq("USD"),
                purchases::total_minor.eq(*total),
                purchases::version.eq(1i64),
                purchases::created_at.eq(now),
                purchases::updated_at.eq(now),
            )
        })
        .collect();
    let lines: Vec<_> = lines
        .iter()
        .map(|(purchase, no, product, quantity, price, total)| {
            (
                purchase_lines::purchase_id.eq(*purchase),
                purchase_lines::line_no.eq(*no),
                purchase_lines::product_id.eq(*product),
                purchase_lines::quantity.eq(*quantity),
                purchase_lines::unit_price_minor.eq(*price),
                purchase_lines::discount_minor.eq(0i64),
                purchase_lines::total_minor.eq(*total),
            )
        })
        .collect();
    // Within the bind limits of both backends (SQLite: 32766).
    for chunk in heads.chunks(1000) {
        crm_db::insert_rows!(conn, purchases::table, chunk)?;
    }
    for chunk in lines.chunks(1000) {
        crm_db::insert_rows!(conn, purchase_lines::table, chunk)?;
    }
    Ok(())
}
