//! `/api/v1/leads`.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::LeadId;
use crm_sales::{Lead, LeadInput, LeadPatch};

crate::embeds!(Lead as LeadResource {
    /// The record owner.
    owner(owner_id): crm_users::User,
});

crate::record_endpoints! {
    tag: "sales",
    record: Lead, resource: LeadResource, input: LeadInput, patch: LeadPatch, id: LeadId,
    collection: "/leads", item: "/leads/{id}", list type LeadList, query: crate::rest::ListQuery,
    fns: list_leads, get_lead, create_lead, update_lead, archive_lead, restore_lead;
    restore: "/leads/{id}/restore",
    batch: batch_leads at "/leads/batch", doc types LeadBatchOperation, LeadBatchRequest;
    by_external_id: get_lead_by_external_id, upsert_lead at "/leads/by-external-id/{source}/{external_id}";
    history: lead_history at "/leads/{id}/history";
}
