//! The customer 360 view: `/contacts/{id}/timeline`, `/accounts/{id}/timeline` and the
//! summaries.

use actix_web::{HttpResponse, get, web};
use crm_core::ids::{AccountId, ContactId};
use crm_timeline::{CustomerSummary, Subject, TimelineKind, TimelinePage};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// `?kinds=&limit=&cursor=` on timelines.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Comma-separated kinds: `interaction`, `case`, `purchase`, `opportunity`, `stage_change`,
    /// `activity`, `change`, `automation` (default: every kind the caller can read).
    #[param(
        pattern = r"^\s*(interaction|case|purchase|opportunity|stage_change|activity|change|automation)?\s*(,\s*(interaction|case|purchase|opportunity|stage_change|activity|change|automation)?\s*)*$"
    )]
    pub kinds: Option<String>,
    /// Entries per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl TimelineQuery {
    fn kinds(&self) -> Result<Vec<TimelineKind>, ApiError> {
        let mut out = Vec::new();
        for k in self.kinds.as_deref().unwrap_or("").split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let kind = TimelineKind::parse(k).ok_or_else(|| {
                ApiError::bad_request("INVALID_PARAMETER", format!("unknown timeline kind `{k}`")).with_field(
                    "kinds",
                    "invalid_value",
                    format!("one of {}", TimelineKind::NAMES.join(", ")),
                )
            })?;
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
        Ok(out)
    }
}

async fn page(
    state: web::Data<AppState>,
    auth: Authenticated,
    subject: Subject,
    q: TimelineQuery,
) -> Result<HttpResponse, ApiError> {
    let kinds = q.kinds()?;
    let (actor, limit, cursor) = (auth.0, q.limit.unwrap_or(50), q.cursor);
    let page =
        state.db.run(move |c| crm_timeline::timeline(c, &actor, subject, &kinds, cursor.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// A contact's timeline, newest first: interactions they took part in, their cases and
/// purchases, and changes to the contact, in one keyset-paginated stream.
#[utoipa::path(
    tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), TimelineQuery),
    responses(
        (status = 200, body = TimelinePage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/contacts/{id}/timeline")]
pub async fn contact_timeline(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
    query: crate::rest::Query<TimelineQuery>,
) -> Result<HttpResponse, ApiError> {
    let subject = Subject::Contact(id.into_inner());
    let q = query.after(auth.0.require(crm_timeline::read_scope(subject)))?;
    page(state, auth, subject, q).await
}

/// An account's timeline, newest first: interactions with the account, its cases and
/// purchases, and changes to the account.
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id"), TimelineQuery),
    responses(
        (status = 200, body = TimelinePage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}/timeline")]
pub async fn account_timeline(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
    query: crate::rest::Query<TimelineQuery>,
) -> Result<HttpResponse, ApiError> {
    let subject = Subject::Account(id.into_inner());
    let q = query.after(auth.0.require(crm_timeline::read_scope(subject)))?;
    page(state, auth, subject, q).await
}

/// What a service agent needs at a glance: owner, open and overdue cases, last contact,
/// purchases, lifetime value and products owned. Sections the caller cannot read are null.
#[utoipa::path(
    tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    responses(
        (status = 200, body = CustomerSummary),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/contacts/{id}/summary")]
pub async fn contact_summary(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, subject) = (auth.0, Subject::Contact(id.into_inner()));
    let s = state.db.run(move |c| crm_timeline::summary(c, &actor, subject)).await?;
    Ok(HttpResponse::Ok().json(s))
}

/// The same summary for an account, plus its live contacts.
#[utoipa::path(
    tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses(
        (status = 200, body = CustomerSummary),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/accounts/{id}/summary")]
pub async fn account_summary(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, subject) = (auth.0, Subject::Account(id.into_inner()));
    let s = state.db.run(move |c| crm_timeline::summary(c, &actor, subject)).await?;
    Ok(HttpResponse::Ok().json(s))
}
