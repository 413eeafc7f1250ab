//! `/api/v1/quotas`.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::QuotaId;
use crm_sales::{Quota, QuotaInput, QuotaPatch};

crate::embeds!(Quota);

crate::record_endpoints! {
    tag: "sales",
    record: Quota, resource: Quota, input: QuotaInput, patch: QuotaPatch, id: QuotaId,
    collection: "/quotas", item: "/quotas/{id}", list type QuotaList, query: crate::rest::ListQuery,
    fns: list_quotas, get_quota, create_quota, update_quota, archive_quota, restore_quota;
    restore: "/quotas/{id}/restore",
    batch: batch_quotas at "/quotas/batch", doc types QuotaBatchOperation, QuotaBatchRequest;
    by_external_id: get_quota_by_external_id, upsert_quota at "/quotas/by-external-id/{source}/{external_id}";
    history: quota_history at "/quotas/{id}/history";
}
