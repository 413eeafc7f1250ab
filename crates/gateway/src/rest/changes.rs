//! `/api/v1/changes`: the change feed.

use actix_web::{HttpResponse, get, web};
use crm_events::ChangePage;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Return events with `seq` greater than this (0 = from the start of retention).
    pub after: Option<i64>,
    /// Comma-separated entities (`contact,account`) or types (`contact.updated`); default: all readable.
    pub types: Option<String>,
    /// Events per page, 1 to 10000 (default 100).
    pub limit: Option<u32>,
}

/// Read the change feed in commit order. Follow `next_after` to see every committed change once.
#[utoipa::path(
    tag = "changes",
    params(ChangesQuery),
    responses(
        (status = 200, body = ChangePage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/changes")]
pub async fn list_changes(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let types: Vec<String> = q.types.unwrap_or_default().split(',').map(str::to_string).collect();
    let (actor, after, limit) = (auth.0, q.after.unwrap_or(0), q.limit.unwrap_or(100));
    let page = state.db.run(move |c| crm_events::list_changes(c, &actor, after, &types, limit)).await?;
    Ok(HttpResponse::Ok().json(page))
}
