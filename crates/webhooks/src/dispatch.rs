//! From the event log to a receiver: the matcher turns events into deliveries, the sender claims
//! what is due and reports each attempt's outcome here, and the schedule decides what follows.
//!
//! - **Matching.** The event log is the outbox (an event is written in the same transaction as
//!   its change). Each subscription keeps a cursor in the log; [`match_events`] reads the events
//!   after the lowest cursor once, and writes for each subscription one delivery per event that
//!   its types, fields and filter select (the filter against the record as it is then), then
//!   moves the cursors, in one transaction. A delivery is unique per (subscription, event), so
//!   matching twice writes nothing twice. On PostgreSQL the subscriptions are read `FOR UPDATE
//!   SKIP LOCKED`: two instances never match for one subscription at once.
//! - **Sending.** [`claim_due`] leases up to a batch of due deliveries (`crm_db::claim`): pending,
//!   their time come, their subscription enabled, and no earlier delivery of the same record
//!   still pending, so the events of one record reach the receiver in order. The caller POSTs
//!   each and reports with [`record_attempt`]; a lease that runs out (the instance died) makes
//!   the delivery due again: at least once.
//! - **Retrying.** A failed attempt is tried again after [`BACKOFF`] (with ±10% jitter), or after
//!   `Retry-After` on 429 and 503 when that is later, for about 76 hours in all; then the
//!   delivery fails for good. A subscription whose deliveries have failed without a success for
//!   `disable_after` is turned off with the reason, an event and its deliveries kept pending
//!   (turning it on resumes them). `410 Gone` turns it off at once.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use crm_core::Actor;
use crm_core::filter::{FilterError, Resolved};
use crm_core::ids::{EntityId, WebhookId};
use crm_db::schema::{webhook_attempts, webhook_deliveries, webhooks};
use crm_db::sql::Sql;
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, Backend, DbError};
use crm_events::ChangeEvent;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::Serialize;

use crate::model::{Catalogs, Webhook, single_entity};

/// Waits after each failed attempt: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, then
/// 12 h five times: 15 attempts over about 76 hours.
pub const BACKOFF: [i64; 14] =
    [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200, 43_200, 43_200, 43_200, 43_200];

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: i64 = 24 * 3600;

/// How much of a response body the log keeps.
pub const EXCERPT: usize = 1024;

/// The filter of a subscription to `entity`'s events, checked against its catalog (custom fields
/// included).
pub fn resolve_filter(conn: &mut AnyConnection, entity: &str, text: &str) -> Result<Resolved, FilterError> {
    let unsupported = |m: String| FilterError { field: "filter".into(), code: "not_applicable", message: m };
    let catalogs = crm_db::pool::context::<Catalogs>()
        .ok_or_else(|| unsupported("this database handle knows no resource catalogs".into()))?;
    let catalog = (catalogs.0)(entity).ok_or_else(|| unsupported(format!("`{entity}` events cannot be filtered")))?;
    let parsed = crm_core::filter::parse(text)?;
    let custom = crm_records::custom::filters_of(conn, &parsed)
        .map_err(|e| unsupported(format!("the custom fields could not be read: {e}")))?;
    crm_core::filter::resolve_with(&parsed, catalog, &custom)
}

/// A new subscription: its secret, and its cursor at the feed's head.
pub(crate) fn start(conn: &mut AnyConnection, id: WebhookId, secret: &str) -> Result<(), RecordError> {
    let head = crm_events::feed_bounds(conn)?.head.0;
    diesel::update(webhooks::table.filter(webhooks::id.eq(DbUuid(id.0))))
        .set((webhooks::secret.eq(secret), webhooks::cursor_seq.eq(head)))
        .execute(conn)?;
    Ok(())
}

/// Whether an event type matches a subscription's pattern.
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (pe, pa) = pattern.split_once('.').unwrap_or((pattern, "*"));
    let (ke, ka) = kind.split_once('.').unwrap_or((kind, ""));
    (pe == "*" || pe == ke) && (pa == "*" || pa == ka)
}

/// What a receiver gets: the Standard Webhooks envelope around the change-feed event.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: &'a crm_core::Timestamp,
    data: &'a ChangeEvent,
}

/// A subscription as the matcher reads it.
struct Matcher {
    id: uuid::Uuid,
    cursor: i64,
    types: Vec<String>,
    fields: Vec<String>,
    filter: Option<Resolved>,
}

/// What a pass of the matcher did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    /// Enabled subscriptions (none: nothing to send either).
    pub subscriptions: usize,
    /// Events read from the log.
    pub events: usize,
    /// Deliveries written.
    pub deliveries: usize,
}

/// One pass of the matcher over up to `batch` events (see the module docs). Runs in the caller's
/// transaction.
pub fn match_events(conn: &mut AnyConnection, batch: u32) -> Result<Matched, RecordError> {
    #[derive(QueryableByName)]
    struct SubRow {
        #[diesel(sql_type = crm_db::types::Uid)]
        id: DbUuid,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cursor_seq: i64,
        #[diesel(sql_type = crm_db::types::Json)]
        event_types: crm_db::types::DbJson,
        #[diesel(sql_type = crm_db::types::Json)]
        fields: crm_db::types::DbJson,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        filter: Option<String>,
    }
    let lock = match conn.backend() {
        // Another instance matching for a subscription holds its row: skip it.
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let rows: Vec<SubRow> = diesel::sql_query(format!(
        "SELECT id, cursor_seq, event_types, fields, filter FROM webhooks WHERE enabled AND archived_at IS NULL{lock}"
    ))
    .load(conn)?;
    let mut subs = Vec::with_capacity(rows.len());
    for SubRow { id, cursor_seq: cursor, event_types: types, fields, filter } in rows {
        let types: Vec<String> = serde_json::from_value(types.0).unwrap_or_default();
        let filter = match (&filter, single_entity(&types)) {
            // Checked when saved; a filter that no longer resolves (a custom field removed
            // since) matches nothing rather than everything.
            (Some(f), Some(entity)) => Some(resolve_filter(conn, entity, f).unwrap_or(Resolved::Or(Vec::new()))),
            _ => None,
        };
        subs.push(Matcher {
            id: id.0,
            cursor,
            types,
            fields: serde_json::from_value(fields.0).unwrap_or_default(),
            filter,
        });
    }
    let mut matched = Matched { subscriptions: subs.len(), ..Default::default() };
    let Some(from) = subs.iter().map(|s| s.cursor).min() else { return Ok(matched) };
    let events = crm_events::events_after(conn, from, batch)?;
    matched.events = events.len();
    let Some(last) = events.last().map(|e| e.seq.0) else { return Ok(matched) };
    let now = crm_db::now();
    for sub in &subs {
        let mut picked: Vec<&ChangeEvent> = events
            .iter()
            .filter(|e| e.seq.0 > sub.cursor)
            .filter(|e| sub.types.iter().any(|t| type_matches(t, &e.kind)))
            .filter(|e| {
                sub.fields.is_empty()
                    || !e.kind.ends_with(".updated")
                    || e.changed_fields.iter().any(|f| sub.fields.contains(f))
            })
            .collect();
        if let (Some(filter), Some(entity)) = (&sub.filter, single_entity(&sub.types))
            && !picked.is_empty()
        {
            let kept = matching_records(conn, entity, filter, picked.iter().map(|e| e.entity_id))?;
            picked.retain(|e| kept.contains(&e.entity_id));
        }
        for e in picked {
            matched.deliveries += insert_delivery(conn, sub.id, e, now)?;
        }
        diesel::update(webhooks::table.filter(webhooks::id.eq(DbUuid(sub.id))).filter(webhooks::cursor_seq.lt(last)))
            .set(webhooks::cursor_seq.eq(last))
            .execute(conn)?;
    }
    Ok(matched)
}

/// Of `ids`, the records of `entity` that `filter` selects now.
fn matching_records(
    conn: &mut AnyConnection,
    entity: &str,
    filter: &Resolved,
    ids: impl Iterator<Item = uuid::Uuid>,
) -> Result<Vec<uuid::Uuid>, RecordError> {
    let Some(catalogs) = crm_db::pool::context::<Catalogs>() else { return Ok(Vec::new()) };
    let Some(catalog) = (catalogs.0)(entity) else { return Ok(Vec::new()) };
    let backend = conn.backend();
    let mut cond = crm_db::sql::in_ids("id", ids, backend);
    // (`Sql::and`, not diesel's `and`, which the prelude brings.)
    Sql::and(&mut cond, crm_db::sql::filter(filter, backend));
    Ok(crm_db::sql::ids_where(conn, catalog.table, cond)?)
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct NewDelivery {
    id: DbUuid,
    webhook_id: DbUuid,
    event_seq: i64,
    event_id: DbUuid,
    event_type: String,
    entity_id: DbUuid,
    payload: String,
    status: String,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

fn insert_delivery(
    conn: &mut AnyConnection,
    webhook: uuid::Uuid,
    e: &ChangeEvent,
    now: NaiveDateTime,
) -> Result<usize, RecordError> {
    let envelope = Envelope { kind: &e.kind, timestamp: &e.occurred_at, data: e };
    let payload = serde_json::to_string(&envelope).map_err(|x| DbError::Task(x.to_string()))?;
    let row = NewDelivery {
        id: DbUuid(uuid::Uuid::now_v7()),
        webhook_id: DbUuid(webhook),
        event_seq: e.seq.0,
        event_id: DbUuid(e.id),
        event_type: e.kind.clone(),
        entity_id: DbUuid(e.entity_id),
        payload,
        status: DeliveryStatus::Pending.as_str().into(),
        next_attempt_at: now,
        created_at: now,
    };
    let n = match conn {
        AnyConnection::Postgresql(c) => {
            diesel::insert_into(webhook_deliveries::table).values(&row).on_conflict_do_nothing().execute(c)?
        }
        AnyConnection::Sqlite(c) => {
            diesel::insert_into(webhook_deliveries::table).values(&row).on_conflict_do_nothing().execute(c)?
        }
    };
    Ok(n)
}

/// The type of the messages automation rules send (`call_webhook`); a subscription may name it
/// among its event types to say it expects them (the rules name the subscription anyway).
pub const AUTOMATION_TYPE: &str = "automation.webhook";

/// Queues a message that is not a change of the feed (an automation rule's `call_webhook`) for
/// subscription `webhook`, in the caller's transaction: it is signed, delivered, retried and
/// logged as the feed's events are, under the Standard Webhooks envelope with type `kind`. It
/// comes after the deliveries of the record's changes committed before it.
pub fn enqueue(
    conn: &mut AnyConnection,
    webhook: WebhookId,
    kind: &str,
    entity_id: uuid::Uuid,
    data: &serde_json::Value,
) -> Result<uuid::Uuid, RecordError> {
    let now = crm_db::now();
    let head = crm_events::feed_bounds(conn)?.head.0;
    let timestamp = crm_db::to_utc(now);
    let payload = serde_json::to_string(&serde_json::json!({ "type": kind, "timestamp": timestamp, "data": data }))
        .map_err(|x| DbError::Task(x.to_string()))?;
    let id = uuid::Uuid::now_v7();
    let row = NewDelivery {
        id: DbUuid(id),
        webhook_id: DbUuid(webhook.0),
        event_seq: head,
        event_id: DbUuid(id),
        event_type: kind.to_string(),
        entity_id: DbUuid(entity_id),
        payload,
        status: DeliveryStatus::Pending.as_str().into(),
        next_attempt_at: now,
        created_at: now,
    };
    diesel::insert_into(webhook_deliveries::table).values(&row).execute(conn)?;
    Ok(id)
}

/// Deliveries waiting for their (next) attempt, over every subscription (for `/metrics`).
pub fn backlog(conn: &mut AnyConnection) -> QueryResult<i64> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .count()
        .get_result(conn)
}

crm_core::wire_enum!(
    /// Where a delivery stands.
    DeliveryStatus {
        /// Waiting for its (next) attempt.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed (or the receiver said 410 Gone); `POST …/redeliver` tries again.
        Failed = "failed",
    }
);

/// A message to POST: where, what, and the headers that sign it.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub delivery_id: uuid::Uuid,
    pub webhook_id: WebhookId,
    pub url: String,
    pub body: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub headers: Vec<(&'static str, String)>,
    /// The number of this attempt.
    pub attempt: i64,
}

/// The Standard Webhooks headers of a message.
fn signed(id: &str, body: &str, secrets: &[&str], now: NaiveDateTime) -> Vec<(&'static str, String)> {
    let ts = now.and_utc().timestamp();
    vec![
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", crate::signing::signature_header(secrets, id, ts, body.as_bytes())),
        ("content-type", "application/json".to_string()),
        ("user-agent", concat!("crm-webhooks/", env!("CARGO_PKG_VERSION")).to_string()),
    ]
}

/// The secrets a message is signed with now: the current one, and the previous one while its
/// overlap lasts.
fn secrets_in_use(
    secret: &Option<String>,
    previous: &Option<String>,
    until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Vec<String> {
    let mut out: Vec<String> = secret.iter().cloned().collect();
    if let (Some(p), Some(u)) = (previous, until)
        && u > now
    {
        out.push(p.clone());
    }
    out
}

/// A message to a subscription, signed with its secrets in use now.
pub(crate) fn message(
    conn: &mut AnyConnection,
    webhook: WebhookId,
    id: uuid::Uuid,
    body: String,
    attempt: i64,
    now: NaiveDateTime,
) -> Result<Outgoing, RecordError> {
    let (url, secret, previous, until): (String, Option<String>, Option<String>, Option<NaiveDateTime>) =
        webhooks::table
            .filter(webhooks::id.eq(DbUuid(webhook.uuid())))
            .select((webhooks::url, webhooks::secret, webhooks::previous_secret, webhooks::previous_secret_until))
            .first(conn)?;
    let secrets = secrets_in_use(&secret, &previous, until, now);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let headers = signed(&id.to_string(), &body, &refs, now);
    Ok(Outgoing { delivery_id: id, webhook_id: webhook, url, body, headers, attempt })
}

/// Claims up to `limit` due deliveries for `owner` for `lease`, and returns them signed.
pub fn claim_due(
    conn: &mut AnyConnection,
    owner: &str,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Outgoing>, RecordError> {
    let mut eligible = Sql::new(conn.backend());
    eligible.push("c.status = 'pending' AND c.next_attempt_at <= ").bind(now).push(
        " AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = c.webhook_id AND w.enabled AND w.archived_at IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = c.webhook_id \
             AND e.entity_id = c.entity_id AND e.status = 'pending' AND e.event_seq < c.event_seq)",
    );
    let lease = crm_db::claim::Lease { owner, now, until: now + lease };
    let ids =
        crm_db::claim::claim(conn, "webhook_deliveries", eligible, "c.next_attempt_at, c.event_seq", limit, lease)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    type Row = (DbUuid, DbUuid, String, String, i64, Option<String>, Option<String>, Option<NaiveDateTime>);
    let rows: Vec<Row> = webhook_deliveries::table
        .inner_join(webhooks::table)
        .filter(crm_db::sql::in_ids("\"webhook_deliveries\".\"id\"", ids, conn.backend()))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::webhook_id,
            webhooks::url,
            webhook_deliveries::payload,
            webhook_deliveries::attempts,
            webhooks::secret,
            webhooks::previous_secret,
            webhooks::previous_secret_until,
        ))
        .order((webhook_deliveries::next_attempt_at.asc(), webhook_deliveries::event_seq.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, webhook, url, body, attempts, secret, previous, until)| {
            let secrets = secrets_in_use(&secret, &previous, until, now);
            let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let headers = signed(&id.0.to_string(), &body, &refs, now);
            Outgoing { delivery_id: id.0, webhook_id: WebhookId(webhook.0), url, body, headers, attempt: attempts + 1 }
        })
        .collect())
}

/// What one attempt came to (also the answer of a ping).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "WebhookAttemptResult"))]
pub struct Attempt {
    /// The HTTP status, when the receiver answered.
    pub status: Option<u16>,
    /// Why it failed without an answer (connection refused, timed out, address refused by the
    /// guard).
    pub error: Option<String>,
    pub latency_ms: i64,
    /// The start of the answer's body.
    pub excerpt: Option<String>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<i64>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The wait before the attempt after the `n`-th failed one of a round (1-based), with ±10%
/// jitter; `None` when the round is over.
pub fn backoff(n: i64, jitter: f64) -> Option<Duration> {
    let base = *BACKOFF.get(usize::try_from(n - 1).ok()?)?;
    let ms = (base as f64 * 1000.0 * (1.0 + jitter.clamp(-0.1, 0.1))) as i64;
    Some(Duration::milliseconds(ms))
}

/// How failures are handled.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// A subscription whose deliveries fail this long without a success is turned off.
    pub disable_after: Duration,
    /// Multiplies the [`BACKOFF`] waits (1 in production; tests wait milliseconds).
    pub retry_scale: f64,
}

/// Records an attempt of a delivery claimed by `owner` and decides what follows (see the module
/// docs). A delivery whose lease another instance took since is left to it.
pub fn record_attempt(
    conn: &mut AnyConnection,
    owner: &str,
    sent: &Outgoing,
    attempt: &Attempt,
    now: NaiveDateTime,
    policy: Policy,
) -> Result<(), RecordError> {
    let (delivery, attempt_no) = (sent.delivery_id, sent.attempt);
    let d = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(DbUuid(delivery)))
        .filter(webhook_deliveries::lease_owner.eq(owner))
        .select((webhook_deliveries::webhook_id, webhook_deliveries::attempts, webhook_deliveries::round_start))
        .first::<(DbUuid, i64, i64)>(conn)
        .optional()?;
    let Some((webhook, attempts, round_start)) = d else { return Ok(()) };
    if attempts + 1 != attempt_no {
        return Ok(());
    }
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::delivery_id.eq(DbUuid(delivery)),
            webhook_attempts::attempt.eq(attempt_no),
            webhook_attempts::attempted_at.eq(now),
            webhook_attempts::status_code.eq(attempt.status.map(i64::from)),
            webhook_attempts::latency_ms.eq(attempt.latency_ms),
            webhook_attempts::error.eq(&attempt.error),
            webhook_attempts::response_excerpt.eq(&attempt.excerpt),
        ))
        .execute(conn)?;
    let row = webhook_deliveries::table.filter(webhook_deliveries::id.eq(DbUuid(delivery)));
    let common = (
        webhook_deliveries::attempts.eq(attempt_no),
        webhook_deliveries::last_attempt_at.eq(Some(now)),
        webhook_deliveries::last_status.eq(attempt.status.map(i64::from)),
        webhook_deliveries::last_error
            .eq(attempt.error.clone().or_else(|| {
                attempt.status.filter(|_| !attempt.succeeded()).map(|s| format!("the receiver answered {s}"))
            })),
        webhook_deliveries::lease_owner.eq(None::<String>),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
    );
    let webhook_id = WebhookId(webhook.0);
    if attempt.succeeded() {
        diesel::update(row)
            .set((
                common,
                webhook_deliveries::status.eq(DeliveryStatus::Delivered.as_str()),
                webhook_deliveries::delivered_at.eq(Some(now)),
            ))
            .execute(conn)?;
        diesel::update(webhooks::table.filter(webhooks::id.eq(webhook)))
            .set(webhooks::failing_since.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        return Ok(());
    }
    let gone = attempt.status == Some(410);
    let jitter = (rand::random::<f64>() - 0.5) / 5.0;
    let wait = backoff(attempt_no - round_start, jitter)
        .map(|b| Duration::milliseconds((b.num_milliseconds() as f64 * policy.retry_scale.clamp(0.0, 1.0)) as i64));
    let wait = wait.map(|b| match attempt.retry_after {
        Some(s) if matches!(attempt.status, Some(429 | 503)) => b.max(Duration::seconds(s.min(MAX_RETRY_AFTER))),
        _ => b,
    });
    match wait.filter(|_| !gone) {
        Some(w) => diesel::update(row).set((common, webhook_deliveries::next_attempt_at.eq(now + w))).execute(conn)?,
        None => diesel::update(row)
            .set((common, webhook_deliveries::status.eq(DeliveryStatus::Failed.as_str())))
            .execute(conn)?,
    };
    // Since when it fails, and whether it has failed for too long.
    diesel::update(webhooks::table.filter(webhooks::id.eq(webhook)).filter(webhooks::failing_since.is_null()))
        .set(webhooks::failing_since.eq(Some(now)))
        .execute(conn)?;
    let since: Option<NaiveDateTime> =
        webhooks::table.filter(webhooks::id.eq(webhook)).select(webhooks::failing_since).first(conn)?;
    let reason = if gone {
        Some("the receiver answered 410 Gone".to_string())
    } else {
        since.filter(|s| now - *s >= policy.disable_after).map(|s| {
            let last = attempt.error.clone().or(attempt.status.map(|x| format!("HTTP {x}"))).unwrap_or_default();
            format!("every delivery failed since {} UTC (last: {last})", s.format("%Y-%m-%d %H:%M"))
        })
    };
    if let Some(reason) = reason {
        crm_records::modify::<Webhook>(conn, &Actor::system(), webhook_id, |w| {
            if !w.enabled {
                return false;
            }
            w.enabled = false;
            w.disabled_reason = Some(reason.clone());
            true
        })?;
        tracing::warn!(webhook = %webhook_id, reason = %reason, "webhook turned off");
    }
    Ok(())
}

/// The oldest event some enabled subscription has yet to match: the change feed's clean-up keeps
/// it and everything after.
pub fn oldest_needed(conn: &mut AnyConnection) -> Result<Option<i64>, DbError> {
    let min: Option<i64> = webhooks::table
        .filter(webhooks::enabled.eq(true))
        .filter(webhooks::archived_at.is_null())
        .select(diesel::dsl::min(webhooks::cursor_seq))
        .first(conn)?;
    Ok(min.map(|m| m + 1))
}

/// Deletes deliveries that ended (delivered or failed) before `cutoff`, with their attempts.
pub fn purge_before(conn: &mut AnyConnection, cutoff: NaiveDateTime) -> Result<usize, DbError> {
    let old = webhook_deliveries::table
        .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::created_at.lt(cutoff))
        .select(webhook_deliveries::id);
    diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(old))).execute(conn)?;
    Ok(diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::created_at.lt(cutoff)),
    )
    .execute(conn)?)
}

/// The number of each status among a subscription's deliveries.
pub(crate) fn counts(conn: &mut AnyConnection, webhook: WebhookId) -> Result<HashMap<String, i64>, DbError> {
    let rows: Vec<(String, i64)> = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(DbUuid(webhook.uuid())))
        .group_by(webhook_deliveries::status)
        .select((webhook_deliveries::status, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_match_with_wildcards() {
        assert!(type_matches("*", "contact.created"));
        assert!(type_matches("contact.*", "contact.archived"));
        assert!(type_matches("*.archived", "account.archived"));
        assert!(type_matches("contact.updated", "contact.updated"));
        assert!(!type_matches("contact.updated", "contact.created"));
        assert!(!type_matches("contact.*", "account.created"));
        assert!(!type_matches("*.archived", "account.restored"));
    }

    #[test]
    fn the_schedule_spans_three_days_and_more() {
        let total: i64 = BACKOFF.iter().sum();
        assert!(total >= 72 * 3600, "{total}");
        assert_eq!(backoff(1, 0.0), Some(Duration::seconds(5)));
        assert_eq!(backoff(1, 0.5), Some(Duration::milliseconds(5500)), "jitter is at most 10%");
        assert_eq!(backoff(14, 0.0), Some(Duration::hours(12)));
        assert_eq!(backoff(15, 0.0), None);
        assert_eq!(backoff(0, 0.0), None);
    }
}
