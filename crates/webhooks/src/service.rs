//! The use cases beyond a subscription's record: its delivery log, redelivery, secret rotation
//! and a test ping. Shared by REST and GraphQL.

use chrono::{Duration, NaiveDateTime};
use crm_core::ids::{EntityId, WebhookId};
use crm_core::{Actor, Long, Timestamp};
use crm_db::schema::{webhook_attempts, webhook_deliveries, webhooks};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;
use serde::Serialize;

use crate::dispatch::{DeliveryStatus, Outgoing};
use crate::model::Webhook;

/// One delivery: an event on its way to a subscription.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "WebhookDelivery"))]
pub struct Delivery {
    /// The message id (`webhook-id`): the same on every attempt, for receivers to de-duplicate.
    pub id: uuid::Uuid,
    pub webhook_id: WebhookId,
    /// The event's position in the change feed.
    pub event_seq: Long,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    /// The record the event is about.
    pub entity_id: uuid::Uuid,
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    /// The receiver's status code on the last attempt.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// One attempt to deliver.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "WebhookAttempt"))]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub attempted_at: Timestamp,
    /// The receiver's status code (none when it did not answer).
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// Why it failed without an answer: refused, timed out, an address the guard refuses.
    pub error: Option<String>,
    /// The start of the receiver's answer (1 KiB).
    pub response_excerpt: Option<String>,
}

/// A delivery with its message and every attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "WebhookDeliveryDetail"))]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    /// The body POSTed: `{"type", "timestamp", "data": <the change-feed event>}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    /// Oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// A page of a subscription's deliveries, newest event first, with the count of each status.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "WebhookDeliveryPage"))]
pub struct DeliveryPage {
    pub data: Vec<Delivery>,
    /// Pass as `before` for the next page (an event seq); null on the last page.
    pub next_before: Option<Long>,
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

type DeliveryRow = (
    DbUuid,
    DbUuid,
    i64,
    DbUuid,
    String,
    DbUuid,
    String,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<i64>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

macro_rules! delivery_columns {
    () => {
        (
            webhook_deliveries::id,
            webhook_deliveries::webhook_id,
            webhook_deliveries::event_seq,
            webhook_deliveries::event_id,
            webhook_deliveries::event_type,
            webhook_deliveries::entity_id,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::last_attempt_at,
            webhook_deliveries::last_status,
            webhook_deliveries::last_error,
            webhook_deliveries::created_at,
            webhook_deliveries::delivered_at,
        )
    };
}

fn to_delivery(r: DeliveryRow) -> Delivery {
    let status = DeliveryStatus::parse(&r.6).unwrap_or(DeliveryStatus::Pending);
    Delivery {
        id: r.0.0,
        webhook_id: WebhookId(r.1.0),
        event_seq: Long(r.2),
        event_id: r.3.0,
        event_type: r.4,
        entity_id: r.5.0,
        status,
        attempts: r.7,
        next_attempt_at: (status == DeliveryStatus::Pending).then(|| to_utc(r.8)),
        last_attempt_at: r.9.map(to_utc),
        last_status: r.10,
        last_error: r.11,
        created_at: to_utc(r.12),
        delivered_at: r.13.map(to_utc),
    }
}

/// The subscription, live or archived (so its log stays readable); not found otherwise.
fn webhook(conn: &mut AnyConnection, actor: &Actor, id: WebhookId) -> Result<Webhook, RecordError> {
    crm_records::get::<Webhook>(conn, actor, id)
}

/// Most deliveries per page.
pub const MAX_PAGE: u32 = 1000;

/// A page of a subscription's deliveries, newest event first, optionally of one status, before
/// an event seq.
pub fn deliveries(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: WebhookId,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: u32,
) -> Result<DeliveryPage, RecordError> {
    let limit = crm_core::list::page_size(limit, MAX_PAGE)?;
    webhook(conn, actor, id)?;
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(DbUuid(id.uuid())))
        .select(delivery_columns!())
        .into_boxed::<crm_db::MultiBackend>();
    if let Some(s) = status {
        q = q.filter(webhook_deliveries::status.eq(s.as_str()));
    }
    if let Some(b) = before {
        q = q.filter(webhook_deliveries::event_seq.lt(b));
    }
    let mut rows: Vec<DeliveryRow> =
        q.order(webhook_deliveries::event_seq.desc()).limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<Delivery> = rows.into_iter().map(to_delivery).collect();
    let counts = crate::dispatch::counts(conn, id)?;
    let count = |s: DeliveryStatus| counts.get(s.as_str()).copied().unwrap_or(0);
    Ok(DeliveryPage {
        next_before: if more { data.last().map(|d| d.event_seq) } else { None },
        data,
        pending: count(DeliveryStatus::Pending),
        delivered: count(DeliveryStatus::Delivered),
        failed: count(DeliveryStatus::Failed),
    })
}

fn one(conn: &mut AnyConnection, id: WebhookId, delivery: uuid::Uuid) -> Result<Delivery, RecordError> {
    let row: Option<DeliveryRow> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(DbUuid(delivery)))
        .filter(webhook_deliveries::webhook_id.eq(DbUuid(id.uuid())))
        .select(delivery_columns!())
        .first(conn)
        .optional()?;
    row.map(to_delivery).ok_or(RecordError::NotFound { entity: "webhook delivery" })
}

/// A delivery with its message and attempts.
pub fn delivery(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: WebhookId,
    delivery: uuid::Uuid,
) -> Result<DeliveryDetail, RecordError> {
    webhook(conn, actor, id)?;
    let d = one(conn, id, delivery)?;
    let payload: String = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(DbUuid(delivery)))
        .select(webhook_deliveries::payload)
        .first(conn)?;
    type AttemptRow = (i64, NaiveDateTime, Option<i64>, i64, Option<String>, Option<String>);
    let attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(DbUuid(delivery)))
        .select((
            webhook_attempts::attempt,
            webhook_attempts::attempted_at,
            webhook_attempts::status_code,
            webhook_attempts::latency_ms,
            webhook_attempts::error,
            webhook_attempts::response_excerpt,
        ))
        .order(webhook_attempts::attempt.asc())
        .load(conn)?;
    Ok(DeliveryDetail {
        delivery: d,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        attempts: attempts
            .into_iter()
            .map(|a| DeliveryAttempt {
                attempt: a.0,
                attempted_at: to_utc(a.1),
                status_code: a.2,
                latency_ms: a.3,
                error: a.4,
                response_excerpt: a.5,
            })
            .collect(),
    })
}

/// Sends a delivery again now (delivered or failed ones too), with a fresh round of retries and
/// the same message id. Returns it as it now stands.
pub fn redeliver(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: WebhookId,
    delivery: uuid::Uuid,
) -> Result<Delivery, RecordError> {
    actor.require(Webhook::WRITE)?;
    webhook(conn, actor, id)?;
    one(conn, id, delivery)?;
    reset(
        conn,
        Box::new(webhook_deliveries::id.eq(DbUuid(delivery)).and(webhook_deliveries::webhook_id.eq(DbUuid(id.uuid())))),
    )?;
    one(conn, id, delivery)
}

/// Sends every delivery of events after `after` (a change-feed seq) again, as `redeliver` does.
/// Returns how many.
pub fn redeliver_since(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: WebhookId,
    after: i64,
) -> Result<usize, RecordError> {
    actor.require(Webhook::WRITE)?;
    webhook(conn, actor, id)?;
    reset(
        conn,
        Box::new(webhook_deliveries::webhook_id.eq(DbUuid(id.uuid())).and(webhook_deliveries::event_seq.gt(after))),
    )
}

type Which = Box<
    dyn diesel::BoxableExpression<webhook_deliveries::table, crm_db::MultiBackend, SqlType = diesel::sql_types::Bool>,
>;

fn reset(conn: &mut AnyConnection, which: Which) -> Result<usize, RecordError> {
    let now = crm_db::now();
    Ok(diesel::update(webhook_deliveries::table.filter(which))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::round_start.eq(webhook_deliveries::attempts),
            webhook_deliveries::lease_owner.eq(None::<String>),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?)
}

/// The longest overlap of a rotated secret.
pub const MAX_OVERLAP_HOURS: i64 = 7 * 24;

/// Gives the subscription a new secret, returned once in `secret`. The previous one keeps
/// signing beside it (two signatures) for `overlap_hours` (24 by default, at most a week), so
/// the receiver can switch without losing a message.
pub fn rotate_secret(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: WebhookId,
    overlap_hours: Option<i64>,
) -> Result<Webhook, RecordError> {
    actor.require(Webhook::WRITE)?;
    let hours = overlap_hours.unwrap_or(24);
    if !(0..=MAX_OVERLAP_HOURS).contains(&hours) {
        return Err(RecordError::invalid(
            Webhook::ENTITY,
            "overlap_hours",
            "out_of_range",
            format!("0 to {MAX_OVERLAP_HOURS} hours"),
        ));
    }
    let now = crm_db::now();
    let w = crm_records::modify::<Webhook>(conn, actor, id, |w| {
        w.secret_rotated_at = Some(to_utc(now));
        true
    })?;
    let secret = crate::signing::new_secret();
    let until = now + Duration::hours(hours);
    diesel::update(webhooks::table.filter(webhooks::id.eq(DbUuid(id.uuid()))))
        .set((
            webhooks::previous_secret.eq(webhooks::secret),
            webhooks::previous_secret_until.eq(Some(until)),
            webhooks::secret.eq(Some(secret.clone())),
        ))
        .execute(conn)?;
    Ok(Webhook { secret: Some(secret), ..w })
}

/// A signed `webhook.ping` message to the subscription's URL, to send now (not logged as a
/// delivery).
pub fn ping(conn: &mut AnyConnection, actor: &Actor, id: WebhookId) -> Result<Outgoing, RecordError> {
    actor.require(Webhook::WRITE)?;
    let w = webhook(conn, actor, id)?;
    let now = crm_db::now();
    let body = serde_json::json!({
        "type": "webhook.ping",
        "timestamp": to_utc(now),
        "data": {"webhook_id": id, "url": w.url},
    })
    .to_string();
    crate::dispatch::message(conn, id, uuid::Uuid::now_v7(), body, 1, now)
}
