//! GraphQL: the same services as REST, with relations through batch loaders (no N+1).

pub mod analytics;
pub mod automation;
pub mod batch;
pub mod bulk;
pub mod campaigns;
pub mod changes;
pub mod cost;
pub mod custom;
pub mod filters;
pub mod geo;
pub mod http;
pub mod ide;
pub mod lists;
pub mod loaders;
pub mod operational;
pub mod privacy;
pub mod quality;
pub mod record;
pub mod sales;
pub mod webhooks;

use async_graphql::{Context, EmptySubscription, ErrorExtensions, Schema, SchemaBuilder};
use crm_core::{Actor, DomainError};
use crm_db::Db;

pub use batch::{BatchError, BatchResult, batch_results, check_batch_len};
pub use filters::{OrderBy, SortDirection, Where, sort_of};
pub use http::graphql_post;
pub use ide::{graphiql, graphiql_asset};
pub use lists::{ArchivedFilter, PageInfo, gql_list, list_params, page_info};
pub use loaders::LOADER_WINDOW;

use crate::problem::ApiError;

pub type CrmSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema without per-request data (also used to export the SDL).
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    use async_graphql::extensions::apollo_persisted_queries::{ApolloPersistedQueries, LruCacheStorage};
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        // Deep enough for the standard introspection query (GraphiQL, code generators), whose
        // type references nest 14 levels; the complexity limit bounds what a deep query costs.
        .limit_depth(16)
        .limit_complexity(MAX_COMPLEXITY)
        // Codes first: it wraps the persisted-query lookup, to code its errors.
        .extension(http::ErrorCodes)
        .extension(ApolloPersistedQueries::new(LruCacheStorage::new(http::PERSISTED_QUERIES)))
        // Last: the typed custom fields of resources that have none leave the schema.
        .register_output_type::<custom::Prune>()
}

/// The most a document may cost, counted before it runs (`cost::document_cost`): a field
/// costs 1, a paged field `first` times what one of its items selects, every alias and fragment
/// spread counted again. It is about the number of values the answer can hold: 1,000 contacts
/// with 40 fields fit; 50 aliases of `contacts(first: 1000)` do not.
pub const MAX_COMPLEXITY: usize = 50_000;

/// The longest query text, checked before it is parsed.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// The largest answer: a document within `MAX_COMPLEXITY` whose values are long texts (notes,
/// email bodies) could still be large; past this the answer is refused (`RESPONSE_TOO_LARGE`).
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Per-request context: who calls, and the database.
pub struct RequestCtx {
    pub db: Db,
    pub actor: Actor,
}

pub fn rc<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestCtx> {
    ctx.data::<RequestCtx>()
}

/// The API error as a GraphQL error: same message, same `extensions.code`.
pub fn gql_error(api: ApiError) -> async_graphql::Error {
    let problem = api.body();
    async_graphql::Error::new(api.detail.clone()).extend_with(|_, ext| {
        ext.set("code", api.code);
        ext.set("status", api.status.as_u16());
        if let Some(obj) = problem.as_object() {
            for key in [
                "errors",
                "current_version",
                "existing_id",
                "merged_into",
                "candidates",
                "operation_index",
                "request_id",
            ] {
                if let Some(v) = obj.get(key).filter(|v| !v.is_null())
                    && let Ok(gv) = async_graphql::Value::from_json(v.clone())
                {
                    ext.set(key, gv);
                }
            }
        }
    })
}

pub fn gql<E: DomainError>(e: E) -> async_graphql::Error {
    gql_error(ApiError::from(e))
}

// ------------------------------------------------------------------------------------------
// Roots

/// The query root: every resource's queries (the registry), the change feed and the views.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    crate::registry::ResourcesQuery,
    changes::ChangesQuery,
    operational::ViewsQuery,
    sales::SalesViewsQuery,
    campaigns::CampaignViewsQuery,
    geo::GeoViewsQuery,
    analytics::AnalyticsQuery,
    bulk::BulkQuery,
    quality::QualityQuery,
    webhooks::WebhookViewsQuery,
    automation::AutomationQuery,
    privacy::PrivacyQuery,
);

/// The mutation root: every resource's mutations (the registry) and the other use cases.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    crate::registry::ResourcesMutation,
    operational::CommentsMutation,
    sales::SalesViewsMutation,
    campaigns::CampaignViewsMutation,
    geo::GeoViewsMutation,
    analytics::AnalyticsMutation,
    bulk::BulkMutation,
    quality::QualityMutation,
    webhooks::WebhookViewsMutation,
    automation::AutomationMutation,
    privacy::PrivacyMutation,
);
