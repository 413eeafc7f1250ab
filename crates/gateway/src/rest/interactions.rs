//! `/api/v1/interactions`: the contact history.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::InteractionId;
use crm_interactions::{Interaction, InteractionInput, InteractionPatch};

crate::embeds!(Interaction as InteractionResource {
    /// The account.
    account(account_id): crm_accounts::Account,
    /// The user who logged it.
    author(author_id): crm_users::User,
    /// The case it was about.
    case(case_id): crm_cases::Case,
});

crate::record_endpoints! {
    tag: "interactions",
    record: Interaction, resource: InteractionResource, input: InteractionInput, patch: InteractionPatch, id: InteractionId,
    collection: "/interactions", item: "/interactions/{id}", list type InteractionList, query: crate::rest::ListQuery,
    fns: list_interactions, get_interaction, create_interaction, update_interaction, archive_interaction, restore_interaction;
    restore: "/interactions/{id}/restore",
    batch: batch_interactions at "/interactions/batch", doc types InteractionBatchOperation, InteractionBatchRequest;
    by_external_id: get_interaction_by_external_id, upsert_interaction at "/interactions/by-external-id/{source}/{external_id}";
    history: interaction_history at "/interactions/{id}/history";
}
