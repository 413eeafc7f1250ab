//! `/api/v1/users`: the staff.

use actix_web::{HttpRequest, HttpResponse, get, web};
use crm_users::User;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

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
