//! `/api/v1/accounts`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use crm_accounts::{self as svc, Account, AccountInput, AccountPatch};
use crm_core::ids::AccountId;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ListBody, ListQuery, created, created as created_response, etag, if_match, versioned};
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// A page of accounts.
#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub data: Vec<Account>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Present with `count=true`.
    pub total: Option<i64>,
}

pub fn location(id: AccountId) -> String {
    format!("/api/v1/accounts/{id}")
}

/// List accounts.
#[utoipa::path(
    tag = "accounts",
    params(ListQuery),
    responses(
        (status = 200, body = AccountList),
        (status = 400, description = "Bad filter, sort, cursor or parameter", body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/accounts")]
pub async fn list_accounts(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (params, _) = query.into_inner().into_params(&[])?;
    let actor = auth.0;
    let page = state.db.run(move |c| svc::list_accounts(c, &actor, &params)).await?;
    Ok(HttpResponse::Ok().json(ListBody::from(page)))
}

/// Get an account. Answers 304 when `If-None-Match` names the current version.
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses(
        (status = 200, body = Account, headers(("ETag" = String, description = "\"<version>\""))),
        (status = 304, description = "Not modified"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}")]
pub async fn get_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let a = state.db.run(move |c| svc::get_account(c, &actor, id)).await?;
    Ok(versioned(&req, a.version, &a))
}

/// Create an account.
#[utoipa::path(
    tag = "accounts",
    request_body = AccountInput,
    responses(
        (status = 201, body = Account, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "A live account already has this domain", body = Problem),
        (status = 422, description = "Validation failed", body = Problem)
    )
)]
#[post("/accounts")]
pub async fn create_account(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<AccountInput>,
) -> Result<HttpResponse, ApiError> {
    let (actor, input) = (auth.0, body.into_inner());
    let a = state.db.transaction(move |c| svc::create_account(c, &actor, input)).await?;
    Ok(created(location(a.id), a.version, &a))
}

/// Update an account with a JSON merge patch. `If-Match: "<version>"` makes it conditional.
#[utoipa::path(
    tag = "accounts",
    params(
        ("id" = uuid::Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\"")
    ),
    request_body(content = AccountPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = Account, headers(("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, description = "Version conflict; the body has `current_version`", body = Problem),
        (status = 422, body = Problem)
    )
)]
#[patch("/accounts/{id}")]
pub async fn update_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
    body: web::Json<AccountPatch>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let (actor, id, patch) = (auth.0, id.into_inner(), body.into_inner());
    let a = state.db.transaction(move |c| svc::update_account(c, &actor, id, patch, expected)).await?;
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, etag(a.version))).json(&a))
}

/// Archive (soft-delete) an account.
#[utoipa::path(
    tag = "accounts",
    params(
        ("id" = uuid::Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "Expected version")
    ),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem)
    )
)]
#[delete("/accounts/{id}")]
pub async fn archive_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let (actor, id) = (auth.0, id.into_inner());
    state.db.transaction(move |c| svc::archive_account(c, &actor, id, expected)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Restore an archived account.
#[utoipa::path(
    tag = "accounts",
    params(
        ("id" = uuid::Uuid, Path, description = "Account id"),
        ("If-Match" = Option<String>, Header, description = "Expected version")
    ),
    responses(
        (status = 200, body = Account),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Its domain now belongs to a live account", body = Problem),
        (status = 412, body = Problem)
    )
)]
#[post("/accounts/{id}/restore")]
pub async fn restore_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let (actor, id) = (auth.0, id.into_inner());
    let a = state.db.transaction(move |c| svc::restore_account(c, &actor, id, expected)).await?;
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, etag(a.version))).json(&a))
}

/// One operation of a account batch (documentation of the wire shape).
#[derive(serde::Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AccountBatchOperation {
    Create { data: AccountInput },
    Update { id: uuid::Uuid, data: AccountPatch, expected_version: Option<i64> },
    Upsert { external_id: crm_core::ExternalId, data: AccountPatch },
    Delete { id: uuid::Uuid, expected_version: Option<i64> },
}

/// A account batch: up to 1000 operations; `atomic` makes it all-or-nothing.
#[derive(serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AccountBatchRequest {
    operations: Vec<AccountBatchOperation>,
    #[serde(default)]
    atomic: bool,
}

/// Run up to 1000 creates, updates, upserts and deletes in one call.
///
/// Each operation is answered in order with the status it would have had alone. With
/// `"atomic": true` the whole batch is one transaction: the first failure answers with its
/// problem (`operation_index`, fields prefixed `operations[i].`) and nothing is applied.
#[utoipa::path(
    tag = "accounts",
    request_body = AccountBatchRequest,
    responses(
        (status = 200, body = super::BatchResponse),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, description = "More than 1000 operations", body = Problem),
        (status = 422, description = "An atomic batch failed", body = Problem)
    )
)]
#[post("/accounts/batch")]
pub async fn batch_accounts(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<super::BatchBody<svc::AccountOp>>,
) -> Result<HttpResponse, ApiError> {
    body.check()?;
    let (actor, body) = (auth.0, body.into_inner());
    let atomic = body.atomic;
    let outcome = state
        .db
        .transaction(move |c| -> Result<_, super::Aborted<svc::AccountError>> {
            svc::batch_accounts(c, &actor, body.operations, atomic).map_err(|(i, e)| super::Aborted(i, e))
        })
        .await;
    Ok(HttpResponse::Ok().json(super::batch_reply(outcome)?))
}

/// Get the account that carries an external id.
#[utoipa::path(
    tag = "accounts",
    params(("source" = String, Path, description = "Source system, e.g. erp"), ("external_id" = String, Path, description = "Id in that system")),
    responses(
        (status = 200, body = Account, headers(("ETag" = String))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/accounts/by-external-id/{source}/{external_id}")]
pub async fn get_account_by_external_id(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (source, id) = path.into_inner();
    let actor = auth.0;
    let ext = crm_core::ExternalId { source, id };
    let r = state.db.run(move |c| svc::get_account_by_external_id(c, &actor, ext)).await?;
    Ok(versioned(&req, r.version, &r))
}

/// Create or update the account that carries an external id (201 created, 200 updated).
///
/// The body is a merge patch: on update only the fields sent change; on create it must hold
/// what a new account needs. The external id from the path stays attached.
#[utoipa::path(
    tag = "accounts",
    params(("source" = String, Path, description = "Source system, e.g. erp"), ("external_id" = String, Path, description = "Id in that system")),
    request_body = AccountPatch,
    responses(
        (status = 200, description = "Updated", body = Account),
        (status = 201, description = "Created", body = Account, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[put("/accounts/by-external-id/{source}/{external_id}")]
pub async fn upsert_account(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Json<AccountPatch>,
) -> Result<HttpResponse, ApiError> {
    let (source, id) = path.into_inner();
    let (actor, patch) = (auth.0, body.into_inner());
    let ext = crm_core::ExternalId { source, id };
    let (r, created) = state.db.transaction(move |c| svc::upsert_account(c, &actor, ext, patch)).await?;
    if created {
        return Ok(created_response(location(r.id), r.version, &r));
    }
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, etag(r.version))).json(&r))
}

/// Who changed which field of the account, from what to what, newest first.
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id"), super::HistoryQuery),
    responses(
        (status = 200, body = super::HistoryPage),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}/history")]
pub async fn account_history(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
    query: web::Query<super::HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let (actor, id, before) = (auth.0, id.into_inner(), query.before);
    let data = state.db.run(move |c| svc::account_history(c, &actor, id, before, limit)).await?;
    Ok(HttpResponse::Ok().json(super::HistoryPage::new(data, limit)))
}
