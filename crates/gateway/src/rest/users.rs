//! `/api/v1/users`: the staff.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use crm_core::ids::UserId;
use crm_users::{User, UserInput, UserPatch};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

crate::embeds!(User);

crate::record_endpoints! {
    tag: "users",
    record: User, resource: User, input: UserInput, patch: UserPatch, id: UserId,
    collection: "/users", item: "/users/{id}", list type UserList, query: crate::rest::ListQuery,
    fns: list_users, get_user, create_user, update_user, archive_user, restore_user;
    restore: "/users/{id}/restore",
    batch: batch_users at "/users/batch", doc types UserBatchOperation, UserBatchRequest;
    by_external_id: get_user_by_external_id, upsert_user at "/users/by-external-id/{source}/{external_id}";
    history: user_history at "/users/{id}/history";
}

/// The caller's own user record (the user whose `subject` is the token's `sub`). With user
/// provisioning on (`CRM_PROVISION_USERS=true`), a first call creates it from the token.
#[utoipa::path(
    tag = "users",
    responses(
        (status = 200, body = User, headers(("ETag" = String))),
        (status = 401, body = Problem),
        (status = 404, description = "No user signs in with this token's subject", body = Problem)
    )
)]
#[get("/users/me")]
pub async fn get_me(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    let user = state.db.transaction(move |c| crm_users::current_user(c, &actor)).await?;
    let user = user.ok_or_else(|| ApiError::not_found("no user signs in with this token's subject"))?;
    Ok(crate::rest::versioned(&req, user.version, &user))
}
