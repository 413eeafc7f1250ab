//! Campaign management, the cycle model → execute → review:
//!
//! - [`segments`]: target groups of contacts, a saved criterion in the filter language over
//!   [`catalog::CRITERIA`] (the contact's fields, its account and owner, its purchases
//!   and their lines, its interactions, its campaign memberships), with other segments
//!   included and excluded; dynamic (evaluated on every use) or snapshot (frozen).
//! - [`campaigns`]: the campaign with its type, channel, status workflow, programme (parent),
//!   the products it promotes, planned figures and actual cost lines.
//! - [`members`]: one row per (campaign, contact), materialized from the segments when the
//!   campaign is scheduled or launched, with consent enforced per channel (`excluded` with a
//!   reason), a status history, recorded responses, and the statistics of the review.
//! - [`templates`], [`sending`], [`tracking`]: email waves: templates rendered per recipient, an
//!   outbox the application's mail worker sends from, and the public links of each message
//!   (open pixel, tracked clicks, one-click unsubscribe, the response form).

pub mod attribution;
pub mod calls;
pub mod campaigns;
pub mod catalog;
pub mod emails;
pub mod mailing;
pub mod members;
pub mod merging;
pub mod review;
pub mod segments;
pub mod sending;
pub mod templates;
pub mod tracking;

pub use campaigns::{
    CAMPAIGN_CATALOG, Campaign, CampaignInput, CampaignPatch, CampaignStatus, CampaignType, Channel, CostLine,
    CostLineInput,
};
pub use members::{
    CampaignStats, ChannelFigures, ExclusionReason, Member, MemberStatus, ResponseInput, ResponseType, Responses, Roi,
};
pub use segments::{SEGMENT_CATALOG, Segment, SegmentDraft, SegmentInput, SegmentKind, SegmentPatch, SegmentPreview};
pub use sending::{CampaignMessage, SendProgress, SendStatus};
pub use templates::{EmailTemplate, EmailTemplateInput, EmailTemplatePatch, TemplatePreview};

use crm_core::values::dedup;

/// The campaigns domain's reactions to other domains' writes: a campaign's call completed
/// (`crm_sales`) records the member's response; a deal won or a purchase (`crm_sales`,
/// `crm_products`) is attributed to the campaigns that reached the customer; a web capture
/// naming a campaign is a member's registration. A contact merge moves memberships
/// (`merging`).
pub fn hooks() -> crm_records::hooks::Hooks {
    crm_records::hooks::Hooks::new()
        .on("campaign_call", calls::record_call)
        .on("opportunity", attribution::on_opportunity)
        .on("purchase", attribution::on_purchase)
        .on("lead_capture", attribution::on_capture)
        .on_merge("contact", merging::contacts_merged)
}

/// A page size: 1 to `crm_core::list::MAX_LIMIT` (else `400`, naming `limit`).
fn check_limit(limit: u32) -> Result<u32, crm_records::RecordError> {
    Ok(crm_core::list::page_size(limit, crm_core::list::MAX_LIMIT)?)
}
