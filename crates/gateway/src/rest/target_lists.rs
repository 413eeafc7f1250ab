//! `/api/v1/target-lists`.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::TargetListId;
use crm_sales::{TargetList, TargetListInput, TargetListPatch};

crate::embeds!(TargetList);

crate::record_endpoints! {
    tag: "sales",
    record: TargetList, resource: TargetList, input: TargetListInput, patch: TargetListPatch, id: TargetListId,
    collection: "/target-lists", item: "/target-lists/{id}", list type TargetListList, query: crate::rest::ListQuery,
    fns: list_target_lists, get_target_list, create_target_list, update_target_list, archive_target_list, restore_target_list;
    restore: "/target-lists/{id}/restore",
    batch: batch_target_lists at "/target-lists/batch", doc types TargetListBatchOperation, TargetListBatchRequest;
    by_external_id: get_target_list_by_external_id, upsert_target_list at "/target-lists/by-external-id/{source}/{external_id}";
    history: target_list_history at "/target-lists/{id}/history";
}
