//! The audit log (`GET /audit`): who changed permissions, used or tried revoked keys, exported,
//! imported, archived or merged records.

use actix_web::{HttpResponse, get, web};
use crm_core::Scope;
use crm_events::audit::{self, AuditPage, AuditQuery};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// `?actor=&action=&entity=&record_id=&since=&until=&before=&limit=` on the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries of this actor (a token's subject, or `api_key:<id>`).
    pub actor: Option<String>,
    /// An action (`api_key.created`), a prefix ending in `*` (`api_key.*`), or a suffix after a
    /// leading `*` (`*.archived`).
    pub action: Option<String>,
    /// Entries about records of this resource (entity name: `user`, `contact`, `job`).
    pub entity: Option<String>,
    /// Entries about this record.
    pub record_id: Option<uuid::Uuid>,
    /// Entries at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<crm_core::Timestamp>,
    /// Entries before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<crm_core::Timestamp>,
    /// Entries before this position (`next_before` of the previous page).
    pub before: Option<i64>,
    /// Entries per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl From<AuditParams> for AuditQuery {
    fn from(p: AuditParams) -> Self {
        AuditQuery {
            actor: p.actor,
            action: p.action,
            entity: p.entity,
            record_id: p.record_id,
            since: p.since,
            until: p.until,
            before: p.before,
            limit: p.limit,
        }
    }
}

/// The audit log, newest first (`audit:read`: administrators). Every change of users, API
/// keys, sharing rules, shares and webhooks (with the permission fields before and after),
/// every archive, deletion and merge, every export and import, and API key use: the first use
/// from an address or after an hour's quiet, and refusals of known keys. Entries are never
/// changed, and kept `CRM_AUDIT_RETENTION` (default 730 days, at least 30).
#[utoipa::path(
    tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let q: AuditQuery = query.after(auth.0.require(Scope::AuditRead))?.into();
    let actor = auth.0;
    let page = state.db.run(move |c| audit::list(c, &actor, &q)).await?;
    Ok(HttpResponse::Ok().json(page))
}
