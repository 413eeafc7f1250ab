//! `/api/v1/schema/{resource}/fields`: one resource's custom fields, and defining new ones. The
//! definitions are also the `/custom-fields` resource (get, patch, archive, restore, history,
//! batch, upsert by external id), which these two endpoints share their use cases with.

use actix_web::{HttpResponse, get, post, web};
use crm_core::Scope;
use crm_records::custom::{self, CustomField, CustomFieldInput, CustomResource};

use super::{ListQuery, page_json};
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::registry::custom_fields::{CustomFieldList, location};

/// The custom fields of a resource, in their form order (`position`), with the list grammar
/// of every collection (`archived=true` adds removed ones). Needs `schema:read`, which every
/// role has.
#[utoipa::path(
    tag = "schema",
    params(("resource" = CustomResource, Path, description = "The resource (`contacts`, `accounts`, …)"), ListQuery),
    responses(
        (status = 200, body = CustomFieldList),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "Not a resource with custom fields", body = Problem)
    )
)]
#[get("/schema/{resource}/fields")]
pub async fn list_resource_fields(
    state: web::Data<AppState>,
    auth: Authenticated,
    resource: web::Path<CustomResource>,
    query: crate::rest::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.after(auth.0.require(Scope::SchemaRead))?;
    // The same parameters as `GET /custom-fields` (nothing to include; `fields=` projects).
    crate::rest::parse_include(query.include.as_deref(), &[])?;
    let projection = crate::rest::Projection::parse::<CustomField>(query.fields.as_deref(), &[])?;
    let params = custom::of_resource(query.into_params()?, resource.into_inner());
    let actor = auth.0;
    let page = state.db.run(move |c| crm_records::list::<CustomField>(c, &actor, &params)).await?;
    Ok(HttpResponse::Ok().json(page_json(page, projection.as_ref())))
}

/// Defines a custom field of the resource (`schema:write`, admins). Its values are then
/// checked on every write of the resource's records, filtered and sorted as
/// `custom_fields.<name>`, typed in GraphQL and in `/openapi.json`, and in the change feed and
/// history like built-in fields.
#[utoipa::path(
    tag = "schema",
    params(("resource" = CustomResource, Path, description = "The resource (`contacts`, `accounts`, …)")),
    request_body = CustomFieldInput,
    responses(
        (status = 201, body = CustomField, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "Not a resource with custom fields", body = Problem),
        (status = 409, description = "The resource already has a live field of this name, or 100 fields", body = Problem),
        (status = 422, description = "Validation failed", body = Problem)
    )
)]
#[post("/schema/{resource}/fields")]
pub async fn create_resource_field(
    state: web::Data<AppState>,
    auth: Authenticated,
    resource: web::Path<CustomResource>,
    body: crate::rest::Json<CustomFieldInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::SchemaWrite))?;
    let (actor, resource) = (auth.0, resource.into_inner());
    let r = state.db.transaction(move |c| custom::define(c, &actor, resource, input)).await?;
    Ok(crate::rest::created(location(r.id), r.version, &r))
}
