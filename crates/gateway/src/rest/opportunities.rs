//! `/api/v1/opportunities`.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::OpportunityId;
use crm_sales::{Opportunity, OpportunityInput, OpportunityPatch};

crate::embeds!(Opportunity as OpportunityResource {
    /// The customer's account.
    account(account_id): crm_accounts::Account,
    /// The customer's contact person.
    contact(contact_id): crm_contacts::Contact,
    /// The record owner.
    owner(owner_id): crm_users::User,
    /// The pipeline it is in.
    pipeline(pipeline_id): crm_sales::Pipeline,
});

crate::record_endpoints! {
    tag: "sales",
    record: Opportunity, resource: OpportunityResource, input: OpportunityInput, patch: OpportunityPatch, id: OpportunityId,
    collection: "/opportunities", item: "/opportunities/{id}", list type OpportunityList, query: crate::rest::ListQuery,
    fns: list_opportunities, get_opportunity, create_opportunity, update_opportunity, archive_opportunity, restore_opportunity;
    restore: "/opportunities/{id}/restore",
    batch: batch_opportunities at "/opportunities/batch", doc types OpportunityBatchOperation, OpportunityBatchRequest;
    by_external_id: get_opportunity_by_external_id, upsert_opportunity at "/opportunities/by-external-id/{source}/{external_id}";
    history: opportunity_history at "/opportunities/{id}/history";
}
