//! `/api/v1/accounts`, and `/api/v1/accounts/{id}/contacts`.

use actix_web::{HttpResponse, get, web};
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::ids::AccountId;

use super::record::Embed;
use super::{ListQuery, Projection, page_json, parse_include};
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::registry::contacts::ContactList;

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
    query: crate::rest::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query
        .after(auth.0.require(crm_core::Scope::AccountsRead).and(auth.0.require(crm_core::Scope::ContactsRead)))?;
    let include = parse_include(query.include.as_deref(), Contact::INCLUDABLE)?;
    let projection = Projection::parse::<Contact>(query.fields.as_deref(), Contact::INCLUDABLE)?;
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
