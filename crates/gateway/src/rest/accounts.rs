//! `/api/v1/accounts`, and `/api/v1/accounts/{id}/contacts`.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use crm_accounts::{Account, AccountInput, AccountPatch};
use crm_contacts::Contact;
use crm_core::ids::AccountId;
use crm_users::User;

use super::contacts::ContactList;
use super::record::Embed;
use super::{ListQuery, Projection, page_json, parse_include};
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

crate::embeds!(Account as AccountResource {
    /// The record owner.
    owner(owner_id): User,
});

crate::record_endpoints! {
    tag: "accounts",
    record: Account, resource: AccountResource, input: AccountInput, patch: AccountPatch, id: AccountId,
    collection: "/accounts", item: "/accounts/{id}", list type AccountList, query: crate::rest::ListQuery,
    fns: list_accounts, get_account, create_account, update_account, archive_account, restore_account;
    restore: "/accounts/{id}/restore",
    batch: batch_accounts at "/accounts/batch", doc types AccountBatchOperation, AccountBatchRequest;
    by_external_id: get_account_by_external_id, upsert_account at "/accounts/by-external-id/{source}/{external_id}";
    history: account_history at "/accounts/{id}/history";
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
    let include = parse_include(query.include.as_deref(), Contact::INCLUDABLE)?;
    let projection =
        Projection::parse::<Contact>(query.fields.as_deref(), &include.iter().map(String::as_str).collect::<Vec<_>>())?;
    let params = query.into_params()?;
    let (actor, id) = (auth.0, id.into_inner());
    let page = state
        .db
        .run(move |c| {
            let mut page = crm_records::list_of::<Contact, Account>(c, &actor, "account_id", id, &params)?;
            let data = Contact::embed(c, &actor, std::mem::take(&mut page.data), &include)?;
            Ok::<_, crm_records::RecordError>(crm_core::list::Page {
                data,
                next_cursor: page.next_cursor,
                total: page.total,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(page_json(page, projection.as_ref())))
}
