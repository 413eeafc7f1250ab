//! Products and purchases as clients see them.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, ContactId, ProductId, PurchaseId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Money, Patch, Timestamp, wire_enum};
use serde::{Deserialize, Serialize};

/// A product or service in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = products)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ProductFields", visible = false))]
pub struct Product {
    /// The record's id (UUIDv7: time-ordered).
    pub id: ProductId,
    /// Stock-keeping unit, upper case; unique among live products.
    #[filter(upper, sort)]
    pub sku: String,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Product family or line, for cross-sell analysis.
    #[filter(sort)]
    pub family: Option<String>,
    /// Free text.
    pub description: Option<String>,
    #[filter(sort)]
    pub list_price: Option<Money>,
    /// What one unit costs the business (for margins). Absent when not set, and for callers
    /// without `products:cost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<Money>,
    /// The product that replaces this one: its buyers are offered it (switch-sell).
    #[filter]
    pub successor_id: Option<ProductId>,
    /// Inactive products stay in purchase history but cannot be sold anew.
    #[filter]
    pub active: bool,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Custom fields, by name: the fields an administrator defined for products
    /// (`GET /api/v1/schema/products/fields`), each value checked against its type.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: serde_json::Value,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new product, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = ProductPatch, record = Product)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ProductInput {
    #[cfg_attr(feature = "openapi", schema(example = "SUB-PRO-12M"))]
    pub sku: Option<String>,
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "Pro subscription, 12 months"))]
    pub name: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub list_price: Option<Money>,
    #[serde(default)]
    pub unit_cost: Option<Money>,
    /// The product that replaces this one (another live product).
    #[serde(default)]
    pub successor_id: Option<ProductId>,
    /// Defaults to true.
    #[serde(default)]
    pub active: Option<bool>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Custom fields by name (`GET /api/v1/schema/products/fields` lists them); a value of each
    /// field's type, `null` to clear one. A patch merges them key by key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[patch(merge)]
    pub custom_fields: Option<serde_json::Value>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

fn check_money(errs: &mut FieldErrors, field: &str, m: Option<Money>) -> Option<Money> {
    errs.take(m?.parse_non_negative(field))
}

impl ProductInput {
    pub fn normalize(self) -> Result<ProductInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.sku = opt(i.sku).map(|s| s.to_uppercase());
        i.name = opt(i.name);
        i.family = opt(i.family);
        i.description = i.description.filter(|d| !d.trim().is_empty());
        match &i.sku {
            None => errs.add("sku", "required", "a product needs a sku"),
            Some(s) if s.chars().count() > 64 => errs.add("sku", "too_long", "at most 64 characters"),
            _ => {}
        }
        match &i.name {
            None => errs.add("name", "required", "a product needs a name"),
            Some(s) if s.chars().count() > 300 => errs.add("name", "too_long", "at most 300 characters"),
            _ => {}
        }
        if i.family.as_ref().is_some_and(|s| s.chars().count() > 100) {
            errs.add("family", "too_long", "at most 100 characters");
        }
        i.list_price = check_money(&mut errs, "list_price", i.list_price.take());
        i.unit_cost = check_money(&mut errs, "unit_cost", i.unit_cost.take());
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

wire_enum!(
    /// Where an order stands.
    PurchaseStatus {
        Ordered = "ordered",
        Fulfilled = "fulfilled",
        Cancelled = "cancelled",
        Returned = "returned",
    }
);

/// One priced line of a purchase or an opportunity.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct LineItem {
    /// The product.
    pub product_id: ProductId,
    /// How many units.
    pub quantity: i64,
    /// Price of one unit.
    pub unit_price: Money,
    /// Off the line total.
    pub discount: Money,
    /// quantity × unit_price − discount, exact.
    pub total: Money,
}

impl LineItem {
    /// The input that prices this line again (by product id).
    pub fn as_input(&self) -> LineItemInput {
        LineItemInput {
            product_id: Some(self.product_id),
            sku: None,
            quantity: self.quantity,
            unit_price: Some(self.unit_price.clone()),
            discount: Some(self.discount.clone()),
        }
    }
}

/// A line to price: the product by id or by sku.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct LineItemInput {
    /// The product.
    #[serde(default)]
    pub product_id: Option<ProductId>,
    /// Instead of `product_id`, for ERPs that only know the sku.
    #[serde(default)]
    pub sku: Option<String>,
    /// 1 or more.
    pub quantity: i64,
    /// Defaults to the product's list price.
    #[serde(default)]
    pub unit_price: Option<Money>,
    #[serde(default)]
    pub discount: Option<Money>,
}

/// An order a customer placed: what they own.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = purchases, has_many(name = "lines", column = "purchase_id", to = PURCHASE_LINE_CATALOG))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "PurchaseFields", visible = false))]
pub struct Purchase {
    /// The record's id (UUIDv7: time-ordered).
    pub id: PurchaseId,
    /// The order number in the source system.
    #[filter(sort)]
    pub reference: Option<String>,
    /// The account it belongs to.
    #[filter]
    pub account_id: Option<AccountId>,
    /// The contact it concerns.
    #[filter]
    pub contact_id: Option<ContactId>,
    #[filter(sort)]
    pub ordered_at: Timestamp,
    #[filter(sort)]
    pub status: PurchaseStatus,
    /// ISO 4217; every line is in it.
    #[filter(upper, sort)]
    pub currency: String,
    /// The sum of the line totals.
    #[filter(sort)]
    #[stored(currency = "currency")]
    pub total: Money,
    #[stored(skip)]
    pub lines: Vec<LineItem>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// What filters see of a purchase's lines (`lines.product.family[eq]:analytics`: the
/// purchase had a product of that family).
pub static PURCHASE_LINE_CATALOG: crm_core::filter::Catalog = crm_core::filter::Catalog {
    name: "PurchaseLine",
    resource: "purchases",
    table: "purchase_lines",
    fields: &[
        crm_core::filter::FieldDef {
            name: "product_id",
            column: "product_id",
            kind: crm_core::filter::FieldKind::Uuid,
            nullable: false,
            sortable: false,
            currency: None,
        },
        crm_core::filter::FieldDef {
            name: "quantity",
            column: "quantity",
            kind: crm_core::filter::FieldKind::Int,
            nullable: false,
            sortable: false,
            currency: None,
        },
    ],
    relations: &[crm_core::filter::RelationDef::to_one("product", "product_id", &PRODUCT_CATALOG)],
};

/// A new purchase, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = PurchasePatch, record = Purchase, doc = "`lines` replaces all lines.")]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct PurchaseInput {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "SO-2026-00042"))]
    pub reference: Option<String>,
    /// The account it belongs to.
    #[serde(default)]
    #[patch(follows = contact_id)]
    pub account_id: Option<AccountId>,
    /// The contact it concerns.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Defaults to now.
    #[serde(default)]
    pub ordered_at: Option<Timestamp>,
    /// Defaults to `ordered`.
    #[serde(default)]
    pub status: Option<PurchaseStatus>,
    /// Defaults to the first line's price currency.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[patch(with = lines_after)]
    pub lines: Vec<LineItemInput>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// `lines` after a patch: the patch's lines replace the purchase's.
fn lines_after(p: &PurchasePatch, c: &Purchase) -> Vec<LineItemInput> {
    match &p.lines {
        Patch::Value(lines) => lines.clone(),
        Patch::Null => Vec::new(),
        Patch::Absent => c.lines.iter().map(LineItem::as_input).collect(),
    }
}

/// Most lines on one purchase.
pub const MAX_LINES: usize = 500;

impl PurchaseInput {
    /// Checks what needs no database: sizes, the currency code, quantities.
    pub fn normalize(self) -> Result<PurchaseInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        i.reference = i.reference.as_deref().and_then(clean);
        if i.reference.as_ref().is_some_and(|s| s.chars().count() > 100) {
            errs.add("reference", "too_long", "at most 100 characters");
        }
        if i.account_id.is_none() && i.contact_id.is_none() {
            errs.add("account_id", "required", "a purchase belongs to an account or a contact");
        }
        if i.lines.is_empty() {
            errs.add("lines", "required", "a purchase has at least one line");
        } else if i.lines.len() > MAX_LINES {
            errs.add("lines", "too_many", format!("at most {MAX_LINES} lines"));
        }
        // Each line is checked where it is priced (`price_lines`).
        if let Some(c) = i.currency.take() {
            i.currency = errs.take(Money::new(0, &c).parse("currency")).map(|m| m.currency);
        }
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}
