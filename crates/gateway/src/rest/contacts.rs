//! `/api/v1/contacts` and `/api/v1/accounts/{id}/contacts`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use crm_accounts::{Account, AccountError};
use crm_contacts::{self as svc, Contact, ContactError, ContactInput, ContactPatch};
use crm_core::Actor;
use crm_core::ids::{AccountId, ContactId};
use crm_core::list::Page;
use crm_db::AnyConnection;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    IncludeQuery, ListBody, ListQuery, Projection, created, etag, if_match, parse_include, project_list, versioned,
};
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// A contact, with its account embedded when asked (`include=account`).
#[derive(Serialize, ToSchema)]
pub struct ContactResource {
    #[serde(flatten)]
    pub contact: Contact,
    /// Present with `include=account` (null when the contact has no account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Option<Account>>,
}

/// A page of contacts.
#[derive(Serialize, ToSchema)]
pub struct ContactList {
    pub data: Vec<ContactResource>,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
}

const INCLUDABLE: &[&str] = &["account"];

/// Either domain's error, answered as the API answers it.
enum ReadError {
    Contact(ContactError),
    Account(AccountError),
}

impl From<ContactError> for ReadError {
    fn from(e: ContactError) -> Self {
        ReadError::Contact(e)
    }
}

impl From<AccountError> for ReadError {
    fn from(e: AccountError) -> Self {
        ReadError::Account(e)
    }
}

impl From<crm_db::DbError> for ReadError {
    fn from(e: crm_db::DbError) -> Self {
        ReadError::Contact(ContactError::Db(e))
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Contact(e) => e.into(),
            ReadError::Account(e) => e.into(),
        }
    }
}

/// Wraps contacts for the wire, embedding their accounts in one query when asked.
fn embed(
    conn: &mut AnyConnection,
    actor: &Actor,
    contacts: Vec<Contact>,
    include_account: bool,
) -> Result<Vec<ContactResource>, ReadError> {
    if !include_account {
        return Ok(contacts.into_iter().map(|contact| ContactResource { contact, account: None }).collect());
    }
    let accounts = svc::accounts_of(conn, actor, &contacts, true)?;
    Ok(contacts
        .into_iter()
        .map(|contact| {
            let account = Some(contact.account_id.and_then(|id| accounts.get(&id).cloned()));
            ContactResource { contact, account }
        })
        .collect())
}

fn page_body(page: Page<Contact>, resources: Vec<ContactResource>) -> ListBody<ContactResource> {
    ListBody { data: resources, next_cursor: page.next_cursor, total: page.total }
}

/// `fields=` on contacts; an included `account` can be chosen too.
fn contact_projection(fields: Option<&str>, include: &[String]) -> Result<Option<Projection>, ApiError> {
    let extra: Vec<&str> = include.iter().map(String::as_str).collect();
    Projection::parse::<Contact>(fields, &extra)
}

pub fn location(id: ContactId) -> String {
    format!("/api/v1/contacts/{id}")
}

/// List contacts. Filters can follow the account: `account.tier[in]:[gold,platinum]`.
#[utoipa::path(
    tag = "contacts",
    params(ListQuery),
    responses(
        (status = 200, body = ContactList),
        (status = 400, description = "Bad filter, sort, cursor or parameter", body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let fields = query.fields.clone();
    let (params, include) = query.into_params(INCLUDABLE)?;
    let projection = contact_projection(fields.as_deref(), &include)?;
    let actor = auth.0;
    let body = state
        .db
        .run(move |c| -> Result<_, ReadError> {
            let mut page = svc::list_contacts(c, &actor, &params)?;
            let data = embed(c, &actor, std::mem::take(&mut page.data), !include.is_empty())?;
            Ok(page_body(page, data))
        })
        .await?;
    Ok(HttpResponse::Ok().json(project_list(body, projection.as_ref())))
}

/// List the contacts of an account (same parameters as the contact list).
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id"), ListQuery),
    responses(
        (status = 200, body = ContactList),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}/contacts")]
pub async fn list_account_contacts(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let fields = query.fields.clone();
    let (params, include) = query.into_params(INCLUDABLE)?;
    let projection = contact_projection(fields.as_deref(), &include)?;
    let (actor, id) = (auth.0, id.into_inner());
    let body = state
        .db
        .run(move |c| -> Result<_, ReadError> {
            let mut page = svc::list_account_contacts(c, &actor, id, &params)?;
            let data = embed(c, &actor, std::mem::take(&mut page.data), !include.is_empty())?;
            Ok(page_body(page, data))
        })
        .await?;
    Ok(HttpResponse::Ok().json(project_list(body, projection.as_ref())))
}

/// Get a contact. Answers 304 when `If-None-Match` names the current version.
#[utoipa::path(
    tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), IncludeQuery),
    responses(
        (status = 200, body = ContactResource, headers(("ETag" = String, description = "\"<version>\""))),
        (status = 304, description = "Not modified"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/contacts/{id}")]
pub async fn get_contact(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
    query: web::Query<IncludeQuery>,
) -> Result<HttpResponse, ApiError> {
    let include = parse_include(query.include.as_deref(), INCLUDABLE)?;
    let projection = contact_projection(query.fields.as_deref(), &include)?;
    let (actor, id) = (auth.0, id.into_inner());
    let resource = state
        .db
        .run(move |c| -> Result<_, ReadError> {
            let contact = svc::get_contact(c, &actor, id)?;
            Ok(embed(c, &actor, vec![contact], !include.is_empty())?.pop())
        })
        .await?
        .ok_or_else(|| ApiError::not_found("contact not found"))?;
    match projection {
        Some(p) => Ok(versioned(&req, resource.contact.version, &p.apply(&resource))),
        None => Ok(versioned(&req, resource.contact.version, &resource)),
    }
}

/// Create a contact.
#[utoipa::path(
    tag = "contacts",
    request_body = ContactInput,
    responses(
        (status = 201, body = Contact, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "A live contact already has this email", body = Problem),
        (status = 422, description = "Validation failed", body = Problem)
    )
)]
#[post("/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<ContactInput>,
) -> Result<HttpResponse, ApiError> {
    let (actor, input) = (auth.0, body.into_inner());
    let c = state.db.transaction(move |conn| svc::create_contact(conn, &actor, input)).await?;
    Ok(created(location(c.id), c.version, &c))
}

/// Update a contact with a JSON merge patch. `If-Match: "<version>"` makes it conditional.
#[utoipa::path(
    tag = "contacts",
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\"")
    ),
    request_body(content = ContactPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = Contact, headers(("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, description = "Version conflict; the body has `current_version`", body = Problem),
        (status = 422, body = Problem)
    )
)]
#[patch("/contacts/{id}")]
pub async fn update_contact(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
    body: web::Json<ContactPatch>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let (actor, id, patch) = (auth.0, id.into_inner(), body.into_inner());
    let c = state.db.transaction(move |conn| svc::update_contact(conn, &actor, id, patch, expected)).await?;
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, etag(c.version))).json(&c))
}

/// Archive (soft-delete) a contact.
#[utoipa::path(
    tag = "contacts",
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "Expected version")
    ),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem)
    )
)]
#[delete("/contacts/{id}")]
pub async fn archive_contact(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let (actor, id) = (auth.0, id.into_inner());
    state.db.transaction(move |c| svc::archive_contact(c, &actor, id, expected)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Restore an archived contact.
#[utoipa::path(
    tag = "contacts",
    params(
        ("id" = uuid::Uuid, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "Expected version")
    ),
    responses(
        (status = 200, body = Contact),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Its email now belongs to a live contact", body = Problem),
        (status = 412, body = Problem)
    )
)]
#[post("/contacts/{id}/restore")]
pub async fn restore_contact(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req)?;
    let (actor, id) = (auth.0, id.into_inner());
    let c = state.db.transaction(move |conn| svc::restore_contact(conn, &actor, id, expected)).await?;
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, etag(c.version))).json(&c))
}

crate::sync_endpoints! {
    tag: "contacts",
    record: Contact, input: ContactInput, patch: ContactPatch, id: ContactId, op: svc::ContactOp, error: svc::ContactError,
    location: location,
    batch: batch_contacts at "/contacts/batch" via svc::batch_contacts, doc types ContactBatchOperation, ContactBatchRequest;
    by_external_id: get_contact_by_external_id, upsert_contact at "/contacts/by-external-id/{source}/{external_id}"
        via svc::get_contact_by_external_id, svc::upsert_contact;
    history: contact_history at "/contacts/{id}/history" via svc::contact_history;
}
