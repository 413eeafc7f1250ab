//! The product catalog and purchases (what customers own), as an ERP syncs them: upserted by
//! external id, with exact money arithmetic on lines.

pub mod figures;
pub mod model;
pub mod read;

use std::collections::HashMap;

use crm_core::ids::{EntityId, ProductId, PurchaseId};
use crm_core::{Actor, FieldErrors, Money, Scope};
use crm_db::schema::{products, purchase_lines};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_records::custom::{CustomResource, validated};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;

pub use model::{
    LineItem, LineItemInput, PRODUCT_CATALOG, PURCHASE_CATALOG, PURCHASE_LINE_CATALOG, Product, ProductInput,
    ProductPatch, ProductRow, Purchase, PurchaseInput, PurchasePatch, PurchaseRow, PurchaseStatus,
};

// ---------------------------------------------------------------------------------------------
// Products

impl Record for Product {
    type Input = ProductInput;
    type Patch = ProductPatch;

    const READ: Scope = Scope::ProductsRead;
    const WRITE: Scope = Scope::ProductsWrite;

    /// The unit cost is for `products:cost` holders only.
    fn conceal(&mut self, actor: &Actor) {
        if !actor.has(Scope::ProductsCost) {
            self.unit_cost = None;
        }
    }
    const DEFAULT_SORT: &'static str = "sku";

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: ProductId,
        mut input: ProductInput,
        prev: Option<&Self>,
        _now: crm_core::Timestamp,
    ) -> Result<Self, RecordError> {
        let custom = input.custom_fields.take();
        let (i, custom) =
            validated(conn, CustomResource::Products, input.normalize(), custom, prev.map(|p| &p.custom_fields))?;
        let mut p = prev.cloned().unwrap_or_else(Product::blank);
        p.custom_fields = custom;
        p.id = id;
        p.sku = i.sku.unwrap_or_default();
        p.name = i.name.unwrap_or_default();
        p.family = i.family;
        p.description = i.description;
        p.list_price = i.list_price;
        p.unit_cost = i.unit_cost;
        if let Some(next) = i.successor_id
            && (next == id || !crm_db::sql::id_exists(conn, ProductId::TABLE, next.0)?)
        {
            let why = if next == id { "a product cannot succeed itself" } else { "no such product" };
            return Err(RecordError::invalid(Product::ENTITY, "successor_id", "invalid", why));
        }
        p.successor_id = i.successor_id;
        p.active = i.active.unwrap_or(true);
        p.tags = i.tags;
        p.external_ids = i.external_ids;
        Ok(p)
    }

    /// The sku: one live product per code.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        vec![("sku", self.sku.as_str())]
    }

    const UNIQUE_FIELDS: &'static [&'static str] = &["sku"];

    fn unique_key(_field: &str, raw: &str) -> Option<String> {
        crm_core::values::clean(raw).map(|s| s.to_uppercase())
    }
}

// ---------------------------------------------------------------------------------------------
// Purchases

type LineRow = (DbUuid, i64, DbUuid, i64, i64, i64, i64);

/// Replaces the priced lines of a record in its line table. `purchase_lines` and
/// `opportunity_lines` have the same columns (each with its own parent key and constraints), so
/// one statement pair, written here once, serves purchases and opportunities; pricing is shared
/// too (`price_lines`). Runs in the caller's transaction; `?` converts diesel errors.
#[macro_export]
macro_rules! replace_lines {
    ($conn:ident, $table:ident, $parent:ident, $parent_id:expr, $lines:expr) => {{
        use crm_db::schema::$table;
        use diesel::prelude::*;
        let parent = crm_db::types::DbUuid($parent_id);
        diesel::delete($table::table.filter($table::$parent.eq(parent))).execute($conn)?;
        let rows: Vec<_> = $lines
            .iter()
            .enumerate()
            .map(|(n, l): (usize, &$crate::LineItem)| {
                (
                    $table::$parent.eq(parent),
                    $table::line_no.eq(i64::try_from(n).unwrap_or(i64::MAX)),
                    $table::product_id.eq(crm_db::types::DbUuid(l.product_id.0)),
                    $table::quantity.eq(l.quantity),
                    $table::unit_price_minor.eq(l.unit_price.amount_minor.0),
                    $table::discount_minor.eq(l.discount.amount_minor.0),
                    $table::total_minor.eq(l.total.amount_minor.0),
                )
            })
            .collect();
        if !rows.is_empty() {
            match $conn {
                crm_db::AnyConnection::Postgresql(c) => diesel::insert_into($table::table).values(&rows).execute(c)?,
                crm_db::AnyConnection::Sqlite(c) => diesel::insert_into($table::table).values(&rows).execute(c)?,
            };
        }
    }};
}

/// Prices lines: resolves skus, defaults unit prices to list prices, checks currencies and
/// computes totals in integer minor units (overflow is an error, never a wrap).
pub fn price_lines(
    conn: &mut AnyConnection,
    entity: &'static str,
    list: &str,
    mut lines: Vec<LineItemInput>,
    currency: Option<String>,
    unchanged_products: &[ProductId],
) -> Result<(String, Vec<LineItem>, Money), RecordError> {
    let mut errs = FieldErrors::new();
    for (n, l) in lines.iter_mut().enumerate() {
        if l.product_id.is_some() == l.sku.is_some() {
            errs.add(&format!("{list}[{n}].product_id"), "required", "give exactly one of product_id or sku");
        }
        l.sku = l.sku.as_deref().and_then(crm_core::values::clean).map(|s| s.to_uppercase());
        if !(1..=1_000_000_000).contains(&l.quantity) {
            errs.add(&format!("{list}[{n}].quantity"), "out_of_range", "1 to 1000000000");
        }
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity, errors: errs });
    }
    let ids: Vec<ProductId> = lines.iter().filter_map(|l| l.product_id).collect();
    let skus: Vec<String> = lines.iter().filter_map(|l| l.sku.clone()).collect();
    let mut by_id: HashMap<ProductId, Product> =
        Product::find_many(conn, &ids, true)?.into_iter().map(|p| (p.id, p)).collect();
    let mut by_sku: HashMap<String, ProductId> = HashMap::new();
    if !skus.is_empty() {
        let rows: Vec<ProductRow> = products::table
            .filter(products::sku.eq_any(&skus))
            .filter(products::archived_at.is_null())
            .select(products::all_columns)
            .load(conn)?;
        for p in rows.into_iter().map(Product::from) {
            by_sku.insert(p.sku.clone(), p.id);
            by_id.insert(p.id, p);
        }
    }
    let currency = currency.or_else(|| {
        lines.iter().find_map(|l| {
            l.unit_price.as_ref().map(|m| m.currency.trim().to_ascii_uppercase()).or_else(|| {
                let id = l.product_id.or_else(|| l.sku.as_ref().and_then(|s| by_sku.get(s).copied()))?;
                by_id.get(&id)?.list_price.as_ref().map(|m| m.currency.clone())
            })
        })
    });
    let Some(currency) = currency else {
        return Err(RecordError::invalid(entity, "currency", "required", "give a currency or line prices"));
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut total: i64 = 0;
    for (n, l) in lines.into_iter().enumerate() {
        let field = |f: &str| format!("{list}[{n}].{f}");
        let product = match (l.product_id, &l.sku) {
            (Some(id), _) => by_id.get(&id),
            (None, Some(s)) => by_sku.get(s).and_then(|id| by_id.get(id)),
            _ => None,
        };
        let Some(product) = product else {
            let what = l.product_id.map(|i| i.to_string()).or(l.sku.clone()).unwrap_or_default();
            errs.add(&field("product_id"), "not_found", format!("product {what} does not exist"));
            continue;
        };
        // Selling an inactive product anew is refused; lines already on the purchase stay.
        if (!product.active || product.archived_at.is_some()) && !unchanged_products.contains(&product.id) {
            errs.add(&field("product_id"), "inactive", format!("product {} is not for sale", product.sku));
        }
        let unit = match l.unit_price.or_else(|| product.list_price.clone()) {
            Some(m) => errs.take(m.parse(&field("unit_price"))),
            None => {
                errs.add(&field("unit_price"), "required", "the product has no list price: give a unit price");
                None
            }
        };
        let discount = match l.discount {
            Some(m) => errs.take(m.parse(&field("discount"))),
            None => Some(Money::new(0, &currency)),
        };
        let (Some(unit), Some(discount)) = (unit, discount) else { continue };
        for (name, m) in [("unit_price", &unit), ("discount", &discount)] {
            if m.currency != currency {
                errs.add(
                    &field(name),
                    "currency_mismatch",
                    format!("the purchase is in {currency}, not {}", m.currency),
                );
            }
            if m.amount_minor.0 < 0 {
                errs.add(&field(name), "out_of_range", "must not be negative");
            }
        }
        let line_total =
            unit.amount_minor.0.checked_mul(l.quantity).and_then(|g| g.checked_sub(discount.amount_minor.0));
        match line_total {
            Some(t) if t >= 0 => {
                total = match total.checked_add(t) {
                    Some(s) => s,
                    None => {
                        errs.add(list, "out_of_range", "the total overflows");
                        0
                    }
                };
                out.push(LineItem {
                    product_id: product.id,
                    quantity: l.quantity,
                    unit_price: unit,
                    discount,
                    total: Money::new(t, &currency),
                });
            }
            Some(_) => errs.add(&field("discount"), "out_of_range", "the discount exceeds the line amount"),
            None => errs.add(&field("quantity"), "out_of_range", "the line total overflows"),
        }
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity, errors: errs });
    }
    let total = Money::new(total, &currency);
    Ok((currency, out, total))
}

impl Record for Purchase {
    type Input = PurchaseInput;
    type Patch = PurchasePatch;

    const READ: Scope = Scope::ProductsRead;
    const WRITE: Scope = Scope::ProductsWrite;
    const DEFAULT_SORT: &'static str = "-ordered_at";

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: PurchaseId,
        input: PurchaseInput,
        prev: Option<&Self>,
        now: crm_core::Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let i = input.normalize().map_err(|errors| RecordError::Invalid { entity, errors })?;
        let mut p = prev.cloned().unwrap_or_else(Purchase::blank);
        p.id = id;
        p.reference = i.reference;
        p.ordered_at = i.ordered_at.unwrap_or(now);
        p.ordered_at = to_utc(crm_db::truncate_micros(p.ordered_at.naive_utc()));
        p.status = i.status.unwrap_or(PurchaseStatus::Ordered);
        p.external_ids = i.external_ids;
        let contact_changed = prev.is_none_or(|x| x.contact_id != i.contact_id);
        p.account_id =
            crm_contacts::read::account_for_contact(conn, entity, i.contact_id, contact_changed, i.account_id)?;
        p.contact_id = i.contact_id;
        if prev.is_none_or(|x| x.account_id != p.account_id) {
            crm_records::check_ref(conn, entity, "account_id", p.account_id)?;
        }
        let unchanged: Vec<ProductId> =
            prev.map(|x| x.lines.iter().map(|l| l.product_id).collect()).unwrap_or_default();
        let (currency, lines, total) = price_lines(conn, entity, "lines", i.lines, i.currency, &unchanged)?;
        p.currency = currency;
        p.lines = lines;
        p.total = total;
        Ok(p)
    }

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none_or(|b| b.lines != after.lines) {
            crate::replace_lines!(conn, purchase_lines, purchase_id, after.id.0, after.lines);
        }
        figures::after_purchase_write(conn, actor, before, after)
    }

    fn load_children(conn: &mut AnyConnection, items: &mut [Self]) -> QueryResult<()> {
        let mut by_purchase: HashMap<uuid::Uuid, Vec<LineRow>> = HashMap::new();
        for chunk in items.chunks(500) {
            let keys: Vec<DbUuid> = chunk.iter().map(|p| DbUuid(p.id.0)).collect();
            let rows: Vec<LineRow> = purchase_lines::table
                .filter(purchase_lines::purchase_id.eq_any(keys))
                .order((purchase_lines::purchase_id, purchase_lines::line_no))
                .load(conn)?;
            for r in rows {
                by_purchase.entry(r.0.0).or_default().push(r);
            }
        }
        for p in items.iter_mut() {
            let cur = p.currency.clone();
            p.lines = by_purchase
                .remove(&p.id.0)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, _, product, quantity, unit, discount, total)| LineItem {
                    product_id: ProductId(product.0),
                    quantity,
                    unit_price: Money::new(unit, &cur),
                    discount: Money::new(discount, &cur),
                    total: Money::new(total, &cur),
                })
                .collect();
        }
        Ok(())
    }
}

/// The products domain's side of merges: purchases of a merged contact or account move to the
/// survivor, whose purchase figures then count them (and the losers' count none).
pub fn hooks() -> crm_records::hooks::Hooks {
    use crm_core::ids::{AccountId, ContactId};
    use crm_records::merge::repoint;
    crm_records::hooks::Hooks::new()
        .on_merge("contact", |conn, actor, losers, survivor| {
            let to = Some(ContactId(survivor));
            Ok(vec![repoint::<Purchase>(conn, actor, "contact_id", losers, |p| {
                p.contact_id = to;
                true
            })?])
        })
        .on_merge("account", |conn, actor, losers, survivor| {
            let to = Some(AccountId(survivor));
            Ok(vec![repoint::<Purchase>(conn, actor, "account_id", losers, |p| {
                p.account_id = to;
                true
            })?])
        })
}
