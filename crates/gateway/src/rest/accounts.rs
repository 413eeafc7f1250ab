//! `/api/v1/accounts`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use crm_accounts::{self as svc, Account, AccountInput, AccountPatch};
use crm_core::ids::AccountId;
use serde::Serialize;
use utoipa::ToSchema;

use super::{FieldsQuery, ListQuery, Projection, created, etag, if_match, page_json, versioned};
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
    let query = query.into_inner();
    let projection = Projection::parse::<Account>(query.fields.as_deref(), &[])?;
    let (params, _) = query.into_params(&[])?;
    let actor = auth.0;
    let page = state.db.run(move |c| svc::list_accounts(c, &actor, &params)).await?;
    Ok(HttpResponse::Ok().json(page_json(page, projection.as_ref())))
}

/// Get an account. Answers 304 when `If-None-Match` names the current version.
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id"), FieldsQuery),
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
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, ApiError> {
    let projection = Projection::parse::<Account>(query.fields.as_deref(), &[])?;
    let (actor, id) = (auth.0, id.into_inner());
    let a = state.db.run(move |c| svc::get_account(c, &actor, id)).await?;
    match projection {
        Some(p) => Ok(versioned(&req, a.version, &p.apply(&a))),
        None => Ok(versioned(&req, a.version, &a)),
    }
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

crate::sync_endpoints! {
    tag: "accounts",
    record: Account, input: AccountInput, patch: AccountPatch, id: AccountId, op: svc::AccountOp, error: svc::AccountError,
    location: location,
    batch: batch_accounts at "/accounts/batch" via svc::batch_accounts, doc types AccountBatchOperation, AccountBatchRequest;
    by_external_id: get_account_by_external_id, upsert_account at "/accounts/by-external-id/{source}/{external_id}"
        via svc::get_account_by_external_id, svc::upsert_account;
    history: account_history at "/accounts/{id}/history" via svc::account_history;
}
