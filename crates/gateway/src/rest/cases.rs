//! `/api/v1/cases` and `/api/v1/cases/{id}/comments`.

use actix_web::{HttpResponse, get, post, put, web};
use crm_cases::{CaseComment, CommentInput, SlaPolicy};
use crm_core::ids::{CaseId, CommentId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// The SLA policy: minutes to resolve a case, by priority.
#[utoipa::path(
    tag = "cases",
    responses((status = 200, body = SlaPolicy), (status = 401, body = Problem), (status = 403, body = Problem))
)]
#[get("/case-sla-policy")]
pub async fn get_sla_policy(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    let p = state.db.run(move |c| crm_cases::get_sla_policy(c, &actor)).await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Replace the SLA policy (`cases:write`). It applies to cases created, re-prioritized or
/// reopened from now on; every instance reads the same policy.
#[utoipa::path(
    tag = "cases",
    request_body = SlaPolicy,
    responses(
        (status = 200, body = SlaPolicy), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)
    )
)]
#[put("/case-sla-policy")]
pub async fn set_sla_policy(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<SlaPolicy>,
) -> Result<HttpResponse, ApiError> {
    let p = body.after(auth.0.require(crm_core::Scope::CasesWrite))?;
    let actor = auth.0;
    let p = state.db.transaction(move |c| crm_cases::set_sla_policy(c, &actor, p)).await?;
    Ok(HttpResponse::Ok().json(p))
}

/// `?limit=&after=` on comment lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    /// Comments per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only comments after this one (`next_after` of the previous page).
    pub after: Option<CommentId>,
}

/// A case's comments, oldest first. Every department that reads cases sees them all.
#[utoipa::path(
    tag = "cases",
    params(("id" = uuid::Uuid, Path, description = "Case id"), CommentQuery),
    responses(
        (status = 200, body = crm_cases::CommentPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/cases/{id}/comments")]
pub async fn list_case_comments(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CaseId>,
    query: crate::rest::Query<CommentQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.after(auth.0.require(crm_core::Scope::CasesRead))?;
    let limit = query.limit.unwrap_or(crm_cases::DEFAULT_COMMENTS);
    let (actor, id, after) = (auth.0, id.into_inner(), query.after);
    let page = state.db.run(move |c| crm_cases::list_comments(c, &actor, id, after, limit)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Comment on a case. Internal comments need `interactions:write` or `cases:write` (any
/// department can note something); customer-visible (`public`) ones need `cases:write`, and
/// the first one sets the case's `first_response_at`.
#[utoipa::path(
    tag = "cases",
    params(("id" = uuid::Uuid, Path, description = "Case id")),
    request_body = CommentInput,
    responses(
        (status = 201, body = CaseComment),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/cases/{id}/comments")]
pub async fn add_case_comment(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CaseId>,
    body: crate::rest::Json<CommentInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(crm_cases::authorize_comment(&auth.0))?;
    let (actor, id) = (auth.0, id.into_inner());
    let comment = state.db.transaction(move |c| crm_cases::add_comment(c, &actor, id, input)).await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/cases/{id}/comments"))).json(comment))
}
