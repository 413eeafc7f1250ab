//! Products and purchases as clients see them.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, ContactId, ProductId, PurchaseId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Money, Patch, Timestamp, wire_enum};
use serde::{Deserialize, Serialize};

/// A product or service in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ProductFields", visible = false))]
pub struct Product {
    pub id: ProductId,
    /// Stock-keeping unit, upper case; unique among live products.
    pub sku: String,
    pub name: String,
    /// Product family or line, for cross-sell analysis.
    pub family: Option<String>,
    pub description: Option<String>,
    pub list_price: Option<Money>,
    /// What one unit costs the business (for margins).
    pub unit_cost: Option<Money>,
    /// Inactive products stay in purchase history but cannot be sold anew.
    pub active: bool,
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// A new product, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ProductInput {
    #[cfg_attr(feature = "openapi", schema(example = "SUB-PRO-12M"))]
    pub sku: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "Pro subscription, 12 months"))]
    pub name: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub list_price: Option<Money>,
    #[serde(default)]
    pub unit_cost: Option<Money>,
    /// Defaults to true.
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// A JSON merge patch of a product.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ProductPatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub sku: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub name: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub family: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Money>))]
    pub list_price: Patch<Money>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Money>))]
    pub unit_cost: Patch<Money>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>))]
    pub active: Patch<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ExternalId>>))]
    pub external_ids: Patch<Vec<ExternalId>>,
}

impl ProductPatch {
    pub fn apply(self, c: &Product) -> ProductInput {
        let c = c.clone();
        ProductInput {
            sku: self.sku.apply_to(Some(c.sku).filter(|s| !s.is_empty())),
            name: self.name.apply_to(Some(c.name).filter(|s| !s.is_empty())),
            family: self.family.apply_to(c.family),
            description: self.description.apply_to(c.description),
            list_price: self.list_price.apply_to(c.list_price),
            unit_cost: self.unit_cost.apply_to(c.unit_cost),
            active: Some(self.active.apply_to(Some(c.active)).unwrap_or(true)),
            tags: self.tags.apply_to(Some(c.tags)).unwrap_or_default(),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
}

fn check_money(errs: &mut FieldErrors, field: &str, m: Option<Money>) -> Option<Money> {
    let m = errs.take(m?.parse(field))?;
    if m.amount_minor.0 < 0 {
        errs.add(field, "out_of_range", "must not be negative");
    }
    Some(m)
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

impl Product {
    pub fn blank() -> Product {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        Product {
            id: ProductId(uuid::Uuid::nil()),
            sku: String::new(),
            name: String::new(),
            family: None,
            description: None,
            list_price: None,
            unit_cost: None,
            active: true,
            tags: Vec::new(),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
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
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Money,
    /// Off the line total.
    pub discount: Money,
    /// quantity × unit_price − discount, exact.
    pub total: Money,
}

/// A line to price: the product by id or by sku.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct LineItemInput {
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "PurchaseFields", visible = false))]
pub struct Purchase {
    pub id: PurchaseId,
    /// The order number in the source system.
    pub reference: Option<String>,
    pub account_id: Option<AccountId>,
    pub contact_id: Option<ContactId>,
    pub ordered_at: Timestamp,
    pub status: PurchaseStatus,
    /// ISO 4217; every line is in it.
    pub currency: String,
    /// The sum of the line totals.
    pub total: Money,
    pub lines: Vec<LineItem>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// A new purchase, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct PurchaseInput {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "SO-2026-00042"))]
    pub reference: Option<String>,
    #[serde(default)]
    pub account_id: Option<AccountId>,
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
    pub lines: Vec<LineItemInput>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// A JSON merge patch of a purchase; `lines` replaces all lines.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct PurchasePatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reference: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub account_id: Patch<AccountId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub contact_id: Patch<ContactId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ordered_at: Patch<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<PurchaseStatus>))]
    pub status: Patch<PurchaseStatus>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub currency: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<LineItemInput>>))]
    pub lines: Patch<Vec<LineItemInput>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ExternalId>>))]
    pub external_ids: Patch<Vec<ExternalId>>,
}

impl PurchasePatch {
    pub fn apply(self, c: &Purchase) -> PurchaseInput {
        let c = c.clone();
        let blank = c.id.0.is_nil();
        let current_lines = c
            .lines
            .into_iter()
            .map(|l| LineItemInput {
                product_id: Some(l.product_id),
                sku: None,
                quantity: l.quantity,
                unit_price: Some(l.unit_price),
                discount: Some(l.discount),
            })
            .collect();
        PurchaseInput {
            reference: self.reference.apply_to(c.reference),
            // A new contact without an account in the patch brings its own account.
            account_id: match (&self.contact_id, self.account_id) {
                (Patch::Absent, a) => a.apply_to(c.account_id),
                (_, Patch::Absent) => None,
                (_, a) => a.apply_to(c.account_id),
            },
            contact_id: self.contact_id.apply_to(c.contact_id),
            ordered_at: self.ordered_at.apply_to((!blank).then_some(c.ordered_at)),
            status: self.status.apply_to((!blank).then_some(c.status)),
            currency: self.currency.apply_to((!blank).then_some(c.currency)),
            lines: self.lines.apply_to(Some(current_lines)).unwrap_or_default(),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
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

impl Purchase {
    pub fn blank() -> Purchase {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        Purchase {
            id: PurchaseId(uuid::Uuid::nil()),
            reference: None,
            account_id: None,
            contact_id: None,
            ordered_at: epoch,
            status: PurchaseStatus::Ordered,
            currency: String::new(),
            total: Money::new(0, "XXX"),
            lines: Vec::new(),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}
