//! `/api/v1/purchases`: what customers bought (products owned).

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::PurchaseId;
use crm_products::{Purchase, PurchaseInput, PurchasePatch};

crate::embeds!(Purchase as PurchaseResource {
    /// The customer's account.
    account(account_id): crm_accounts::Account,
    /// The customer who bought.
    contact(contact_id): crm_contacts::Contact,
});

crate::record_endpoints! {
    tag: "purchases",
    record: Purchase, resource: PurchaseResource, input: PurchaseInput, patch: PurchasePatch, id: PurchaseId,
    collection: "/purchases", item: "/purchases/{id}", list type PurchaseList, query: crate::rest::ListQuery,
    fns: list_purchases, get_purchase, create_purchase, update_purchase, archive_purchase, restore_purchase;
    restore: "/purchases/{id}/restore",
    batch: batch_purchases at "/purchases/batch", doc types PurchaseBatchOperation, PurchaseBatchRequest;
    by_external_id: get_purchase_by_external_id, upsert_purchase at "/purchases/by-external-id/{source}/{external_id}";
    history: purchase_history at "/purchases/{id}/history";
}
