//! `/api/v1/activities`: scheduled work, and a rep's agenda
//! (`GET /api/v1/activities?assignee=me&due[lte]=2026-11-30`).

use actix_web::{HttpRequest, HttpResponse, post, web};
use crm_core::ids::ActivityId;
use crm_core::list::ListParams;
use crm_sales::activities::Agenda;
use crm_sales::{Activity, CompleteInput};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// The list parameters, plus the agenda's shortcuts.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityListQuery {
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Comma-separated fields, `-` for descending (default `due_at`).
    pub sort: Option<String>,
    /// Filter expression, e.g. `and(status[eq]:open,type[in]:[call,meeting])`.
    pub filter: Option<String>,
    /// Full-text search over subject and description.
    pub q: Option<String>,
    /// `true` adds `total`.
    pub count: Option<bool>,
    /// `false` (default), `true` or `only`.
    pub archived: Option<String>,
    /// `me` (the caller's user) or a user id.
    pub assignee: Option<String>,
    /// Due at or before (RFC 3339, `now+1d`, or a date: through the end of that day).
    #[serde(rename = "due[lte]")]
    #[param(rename = "due[lte]")]
    pub due_lte: Option<String>,
    /// Due at or after.
    #[serde(rename = "due[gte]")]
    #[param(rename = "due[gte]")]
    pub due_gte: Option<String>,
    /// Comma-separated fields to return (`id` always comes).
    pub fields: Option<String>,
}

impl ActivityListQuery {
    fn agenda(&self) -> Agenda {
        // An empty bound (`due[lte]=`) bounds nothing.
        let bound = |b: &Option<String>| b.clone().filter(|s| !s.trim().is_empty());
        Agenda { assignee: self.assignee.clone(), due_lte: bound(&self.due_lte), due_gte: bound(&self.due_gte) }
    }
}

impl crate::rest::record::ListRequest for ActivityListQuery {
    fn params(&self) -> Result<ListParams, ApiError> {
        let base = crate::rest::ListQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
            sort: self.sort.clone(),
            filter: self.filter.clone(),
            q: self.q.clone(),
            include: None,
            count: self.count,
            archived: self.archived.clone(),
            fields: None,
        };
        base.into_params()
    }

    fn fields(&self) -> Option<&str> {
        self.fields.as_deref()
    }

    fn narrow(
        &self,
        conn: &mut crm_db::AnyConnection,
        actor: &crm_core::Actor,
        params: &mut ListParams,
    ) -> Result<(), crm_records::RecordError> {
        self.agenda().narrow(conn, actor, params)
    }
}

/// Complete an activity; with `log`, the call, meeting or mailing is logged as an interaction
/// on the activity's contact, account, opportunity and case in the same transaction.
#[utoipa::path(
    tag = "sales",
    params(
        ("id" = uuid::Uuid, Path, description = "Activity id"),
        ("If-Match" = Option<String>, Header, description = "Expected version")
    ),
    request_body = CompleteInput,
    responses(
        (status = 200, body = Activity),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem),
        (status = 422, description = "Not open, or a task cannot be logged", body = Problem)
    )
)]
#[post("/activities/{id}/complete")]
pub async fn complete_activity(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ActivityId>,
    body: crate::rest::Json<CompleteInput>,
) -> Result<HttpResponse, ApiError> {
    let expected = crate::rest::if_match(&req)?;
    let input = body.after(auth.0.require(crm_core::Scope::SalesWrite))?;
    let (actor, id) = (auth.0, id.into_inner());
    let a = state.db.transaction(move |c| crm_sales::activities::complete(c, &actor, id, input, expected)).await?;
    Ok(HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, crate::rest::etag(a.version))).json(&a))
}
