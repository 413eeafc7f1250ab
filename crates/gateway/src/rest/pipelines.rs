//! `/api/v1/pipelines`.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::PipelineId;
use crm_sales::{Pipeline, PipelineInput, PipelinePatch};

crate::embeds!(Pipeline);

crate::record_endpoints! {
    tag: "sales",
    record: Pipeline, resource: Pipeline, input: PipelineInput, patch: PipelinePatch, id: PipelineId,
    collection: "/pipelines", item: "/pipelines/{id}", list type PipelineList, query: crate::rest::ListQuery,
    fns: list_pipelines, get_pipeline, create_pipeline, update_pipeline, archive_pipeline, restore_pipeline;
    restore: "/pipelines/{id}/restore",
    batch: batch_pipelines at "/pipelines/batch", doc types PipelineBatchOperation, PipelineBatchRequest;
    by_external_id: get_pipeline_by_external_id, upsert_pipeline at "/pipelines/by-external-id/{source}/{external_id}";
    history: pipeline_history at "/pipelines/{id}/history";
}
