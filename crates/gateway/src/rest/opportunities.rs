//! `/api/v1/opportunities`.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::OpportunityId;
use crm_sales::{Opportunity, OpportunityInput, OpportunityPatch};

crate::record_endpoints! {
    tag: "sales",
    record: Opportunity, input: OpportunityInput, patch: OpportunityPatch, id: OpportunityId,
    collection: "/opportunities", item: "/opportunities/{id}", list type OpportunityList, query: crate::rest::ListQuery,
    fns: list_opportunities, get_opportunity, create_opportunity, update_opportunity, archive_opportunity, restore_opportunity;
    restore: "/opportunities/{id}/restore",
    batch: batch_opportunities at "/opportunities/batch", doc types OpportunityBatchOperation, OpportunityBatchRequest;
    by_external_id: get_opportunity_by_external_id, upsert_opportunity at "/opportunities/by-external-id/{source}/{external_id}";
    history: opportunity_history at "/opportunities/{id}/history";
}
