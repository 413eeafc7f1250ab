//! `/api/v1/contacts`.

use actix_web::{delete, get, patch, post, put};
use crm_accounts::Account;
use crm_contacts::{Contact, ContactInput, ContactPatch};
use crm_core::ids::ContactId;
use crm_users::User;

crate::embeds!(Contact as ContactResource {
    /// The account this person works at.
    account(account_id): Account,
    /// The record owner.
    owner(owner_id): User,
});

crate::record_endpoints! {
    tag: "contacts",
    record: Contact, resource: ContactResource, input: ContactInput, patch: ContactPatch, id: ContactId,
    collection: "/contacts", item: "/contacts/{id}", list type ContactList, query: crate::rest::ListQuery,
    fns: list_contacts, get_contact, create_contact, update_contact, archive_contact, restore_contact;
    restore: "/contacts/{id}/restore",
    batch: batch_contacts at "/contacts/batch", doc types ContactBatchOperation, ContactBatchRequest;
    by_external_id: get_contact_by_external_id, upsert_contact at "/contacts/by-external-id/{source}/{external_id}";
    history: contact_history at "/contacts/{id}/history";
}
