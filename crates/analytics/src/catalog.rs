//! The analyses as the filter language sees them, for segment criteria: a contact's own
//! analysis (`analytics(dormant[eq]:true)`, a B2C customer) and its account's
//! (`account_analytics(segment[in]:[at_risk,cant_lose])`), as of the latest refresh.

use crm_core::filter::{Catalog, FieldDef, FieldKind, RelationDef};

use crate::rfm::RfmSegment;

const fn field(name: &'static str, kind: FieldKind, nullable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable: false, currency: None }
}

/// A customer's stored analysis.
pub static CUSTOMER_ANALYTICS_CATALOG: Catalog = Catalog {
    name: "CustomerAnalytics",
    resource: "customer_analytics",
    table: "customer_analytics",
    fields: &[
        field("segment", FieldKind::Enum(&RfmSegment::DEF), false),
        field("rfm_cell", FieldKind::Text, false),
        field("recency_days", FieldKind::Int, false),
        field("currency", FieldKind::UpperText, false),
        field("revenue_minor", FieldKind::Int, false),
        field("margin_minor", FieldKind::Int, true),
        field("predicted_clv_minor", FieldKind::Int, true),
        field("probability_alive", FieldKind::Float, true),
        field("drifting", FieldKind::Bool, false),
        field("dormant", FieldKind::Bool, false),
        field("repeat_customer", FieldKind::Bool, false),
        field("tier", FieldKind::Text, true),
        field("web_events_recent", FieldKind::Int, false),
    ],
    relations: &[],
};

/// A contact's own analysis (it buys without an account).
pub const CONTACT_ANALYTICS: RelationDef =
    RelationDef::to_many("analytics", "customer_id", &CUSTOMER_ANALYTICS_CATALOG);

/// The analysis of a contact's account.
pub const ACCOUNT_ANALYTICS: RelationDef = RelationDef {
    name: "account_analytics",
    local_column: "account_id",
    target_column: "customer_id",
    through: None,
    many: true,
    target: &CUSTOMER_ANALYTICS_CATALOG,
};
