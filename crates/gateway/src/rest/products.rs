//! `/api/v1/products`: the catalog.

use actix_web::{delete, get, patch, post, put};
use crm_core::ids::ProductId;
use crm_products::{Product, ProductInput, ProductPatch};

crate::embeds!(Product);

crate::record_endpoints! {
    tag: "products",
    record: Product, resource: Product, input: ProductInput, patch: ProductPatch, id: ProductId,
    collection: "/products", item: "/products/{id}", list type ProductList, query: crate::rest::ListQuery,
    fns: list_products, get_product, create_product, update_product, archive_product, restore_product;
    restore: "/products/{id}/restore",
    batch: batch_products at "/products/batch", doc types ProductBatchOperation, ProductBatchRequest;
    by_external_id: get_product_by_external_id, upsert_product at "/products/by-external-id/{source}/{external_id}";
    history: product_history at "/products/{id}/history";
}
