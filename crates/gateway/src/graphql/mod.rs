//! GraphQL: the same services as REST, with relations through batch loaders (no N+1).

pub mod batch;
pub mod changes;
pub mod lists;
pub mod loaders;
pub mod operational;
pub mod record;
pub mod sales;

use actix_web::{HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{Context, EmptySubscription, ErrorExtensions, Schema, SchemaBuilder};
use async_graphql_actix_web::GraphQLRequest;
use crm_core::{Actor, DomainError};
use crm_db::Db;

pub use batch::{BatchError, BatchResult, batch_results, check_batch_len};
pub use lists::{ArchivedFilter, FilterInput, FilterOp, PageInfo, list_params, page_info};
pub use loaders::LOADER_WINDOW;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::ApiError;

pub type CrmSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema without per-request data (also used to export the SDL).
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).limit_depth(12).limit_complexity(20_000)
}

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
            for key in ["errors", "current_version", "existing_id", "operation_index", "request_id"] {
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
);

/// The mutation root: every resource's mutations (the registry) and the other use cases.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(crate::registry::ResourcesMutation, operational::CommentsMutation, sales::SalesViewsMutation);

// ------------------------------------------------------------------------------------------
// HTTP

/// `POST /graphql`: needs a bearer token like every API call. GraphQL answers 200 even when a
/// field failed; when a failure is a server error (5xx class) the answer is marked retryable,
/// so an `Idempotency-Key` does not pin it.
pub async fn graphql_post(state: web::Data<AppState>, auth: Authenticated, req: GraphQLRequest) -> HttpResponse {
    let actor = auth.0;
    let db = state.db.clone();
    // Request-scoped: the loaders (made on first use; list resolvers prime them) and the caller.
    let request =
        req.into_inner().data(loaders::Loaders::new(db.clone(), actor.clone())).data(RequestCtx { db, actor });
    let response = state.schema.execute(request).await;
    let server_error = response.errors.iter().any(|e| {
        e.extensions.as_ref().and_then(|x| x.get("status")).is_some_and(|s| match s {
            async_graphql::Value::Number(n) => n.as_u64().is_some_and(|n| n >= 500),
            _ => false,
        })
    });
    let mut res = HttpResponse::Ok();
    if server_error {
        res.insert_header((crate::idempotency::RETRYABLE, "1"));
    }
    res.json(&response)
}

/// `GET /graphql`: the GraphiQL IDE (add an `Authorization: Bearer …` header in its headers tab).
pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(GraphiQLSource::build().endpoint("/graphql").title("CRM GraphQL").finish())
}
