//! A webhook subscription's delivery log, redelivery, secret rotation and test ping (the
//! subscriptions themselves are the `/webhooks` resource of the registry).

use actix_web::{HttpResponse, get, post, web};
use crm_core::Scope;
use crm_core::ids::WebhookId;
use crm_webhooks::service::{self, Delivery, DeliveryDetail, DeliveryPage};
use crm_webhooks::{Attempt, DeliveryStatus, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// `?status=&before=&limit=` on the delivery log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries of events before this seq (`next_before` of the previous page).
    pub before: Option<i64>,
    /// Deliveries per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A subscription's deliveries, newest event first, with the count of each state.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id"), DeliveriesQuery),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<WebhookId>,
    query: crate::rest::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::WebhooksRead))?;
    let (actor, id) = (auth.0, id.into_inner());
    let page =
        state.db.run(move |c| service::deliveries(c, &actor, id, q.status, q.before, q.limit.unwrap_or(100))).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One delivery with the message sent and every attempt (status, latency, the start of the
/// answer).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id"), ("delivery" = uuid::Uuid, Path, description = "Delivery id (`webhook-id`)")),
    responses(
        (status = 200, body = DeliveryDetail),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/webhooks/{id}/deliveries/{delivery}")]
pub async fn get_delivery(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(WebhookId, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (actor, (id, delivery)) = (auth.0, path.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| service::delivery(c, &actor, id, delivery)).await?))
}

/// Sends one delivery again now, delivered or failed ones too, with the same `webhook-id` and a
/// fresh round of retries.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id"), ("delivery" = uuid::Uuid, Path, description = "Delivery id")),
    responses(
        (status = 200, body = Delivery),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(WebhookId, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (actor, (id, delivery)) = (auth.0, path.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| service::redeliver(c, &actor, id, delivery)).await?))
}

/// From which event on to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverSince {
    /// Every delivery of an event after this change-feed seq is sent again.
    pub after: i64,
}

/// How many deliveries will be sent again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redelivered {
    pub redelivered: i64,
}

/// Sends again every delivery of the events after a change-feed seq (a receiver that lost
/// data since then), in order per record.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    request_body = RedeliverSince,
    responses(
        (status = 200, body = Redelivered),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/webhooks/{id}/redeliver")]
pub async fn redeliver_since(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<WebhookId>,
    body: crate::rest::Json<RedeliverSince>,
) -> Result<HttpResponse, ApiError> {
    let after = body.after(auth.0.require(Scope::WebhooksWrite))?.after;
    let (actor, id) = (auth.0, id.into_inner());
    let n = state.db.transaction(move |c| service::redeliver_since(c, &actor, id, after)).await?;
    Ok(HttpResponse::Ok().json(Redelivered { redelivered: n as i64 }))
}

/// How long the previous secret keeps signing.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// 0 to 168 hours (default 24): meanwhile every message carries a signature under each
    /// secret, so the receiver can switch without losing one.
    #[serde(default)]
    pub overlap_hours: Option<i64>,
}

/// Gives the subscription a new secret, returned once in `secret`.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    request_body = RotateSecret,
    responses(
        (status = 200, body = Webhook),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<WebhookId>,
    body: crate::rest::Json<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    let hours = body.after(auth.0.require(Scope::WebhooksWrite))?.overlap_hours;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| service::rotate_secret(c, &actor, id, hours)).await?))
}

/// Sends a signed `webhook.ping` message to the subscription's URL now and answers what came of
/// it (not logged as a delivery).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, body = Attempt),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[post("/webhooks/{id}/ping")]
pub async fn ping(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let message = state.db.run(move |c| service::ping(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(crate::webhooks::ping(&state.webhook_sender, &message).await))
}
