//! What a segment's criteria filter on: the contact's own fields, and through relations its
//! account and owner (to one), its purchases with their lines and products, its interactions
//! and its campaign memberships (to many: "some related record matches"). The same grammar as
//! every list (`crm_core::filter`); only the catalog is wider, because campaigns read across
//! domains through the catalogs those domains publish.
//!
//! ```text
//! and(lifecycle_stage[eq]:customer, account(tier[in]:[gold,platinum], city[eq]:Seoul))
//! purchases(ordered_at[gte]:now-90d, lines.product.family[eq]:analytics)
//! not(purchases.ordered_at[gte]:2026-06-01)                 -- no purchase since June
//! interactions(type[eq]:call, occurred_at[gte]:now-30d)     -- called in the last 30 days
//! campaigns(campaign_id[eq]:…, responded_at[is_null]:false) -- responded to that campaign
//! account_analytics(dormant[eq]:true)                       -- its account is dormant
//! analytics(segment[in]:[at_risk,cant_lose])                -- a B2C customer slipping away
//! ```

use crm_core::filter::{Catalog, FieldDef, FieldKind, RelationDef};

use crate::members::{ExclusionReason, MemberStatus, ResponseType};

const fn field(name: &'static str, kind: FieldKind, nullable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable: false, currency: None }
}

/// A contact's campaign memberships, as criteria see them.
pub static MEMBERSHIP: Catalog = Catalog {
    name: "CampaignMembership",
    resource: "campaign_members",
    table: "campaign_members",
    fields: &[
        field("campaign_id", FieldKind::Uuid, false),
        field("status", FieldKind::Enum(&MemberStatus::DEF), false),
        field("exclusion_reason", FieldKind::Enum(&ExclusionReason::DEF), true),
        field("response_type", FieldKind::Enum(&ResponseType::DEF), true),
        field("added_at", FieldKind::Timestamp, false),
        field("sent_at", FieldKind::Timestamp, true),
        field("opened_at", FieldKind::Timestamp, true),
        field("clicked_at", FieldKind::Timestamp, true),
        field("responded_at", FieldKind::Timestamp, true),
        field("converted_at", FieldKind::Timestamp, true),
        field("unsubscribed_at", FieldKind::Timestamp, true),
    ],
    relations: &[RelationDef::to_one("campaign", "campaign_id", &crate::campaigns::CAMPAIGN_CATALOG)],
};

/// What segment criteria filter on (see the module docs).
pub static CRITERIA: Catalog = Catalog {
    name: "SegmentContact",
    resource: "contacts",
    table: "contacts",
    fields: crm_contacts::CONTACT_CATALOG.fields,
    relations: &[
        RelationDef::to_one("account", "account_id", &crm_accounts::ACCOUNT_CATALOG),
        RelationDef::to_one("owner", "owner_id", &crm_users::USER_CATALOG),
        RelationDef::to_many("purchases", "contact_id", &crm_products::PURCHASE_CATALOG),
        crm_interactions::read::CONTACT_INTERACTIONS,
        RelationDef::to_many("campaigns", "contact_id", &MEMBERSHIP),
        crm_analytics::catalog::CONTACT_ANALYTICS,
        crm_analytics::catalog::ACCOUNT_ANALYTICS,
    ],
};
