//! Sales-intelligence alerts for the staff who own the customers: a drifting customer, a
//! cross-sell opportunity, a margin below the threshold, a rep behind the pace of their quota.
//!
//! Each refresh works out which alerts hold (each under a key: `drift:account:<id>`, …) and
//! raises those not raised already: an alert is raised once while it stays open, and not again
//! within the cool-down after its owner acknowledged or dismissed it. An open alert whose
//! condition no longer holds is resolved by the refresh. Every change is an event in the change
//! feed (`alert.created`, `alert.updated`), so integrations and webhooks carry it.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use crm_core::ids::{AlertId, Customer, UserId};
use crm_core::list::{ListError, page_size};
use crm_core::{Actor, Role, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::alerts;
use crm_db::types::DbUuid;
use crm_events::Action;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::{CustomerAnalysis, CustomerType};
use crate::associations::OfferKind;
use crate::profiles::Profile;
use crate::settings::AnalyticsSettings;

wire_enum!(
    /// What an alert is about.
    AlertKind {
        /// The customer drifts away (the drift reasons say why).
        Drift = "drift",
        /// A product to offer the customer (cross-sell, switch-sell, up-sell).
        Offer = "offer",
        /// The customer's spend grew, then turned down.
        TrendReversal = "trend_reversal",
        /// The customer's margin rate is below the threshold.
        MarginDrop = "margin_drop",
        /// The rep's won amount is behind the pace of their quota.
        QuotaBehind = "quota_behind",
    }
);

wire_enum!(
    /// Where an alert stands.
    AlertStatus {
        Open = "open",
        /// Its owner saw it and acts on it.
        Acknowledged = "acknowledged",
        /// Its owner decided not to act.
        Dismissed = "dismissed",
        /// Its condition passed before anyone acted (the next refresh saw it).
        Resolved = "resolved",
    }
);

/// An alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Alert {
    pub id: AlertId,
    pub kind: AlertKind,
    pub status: AlertStatus,
    /// The customer it is about (none for a quota alert).
    pub customer_type: Option<CustomerType>,
    pub customer_id: Option<uuid::Uuid>,
    /// The user it is for: the customer's owner, or the rep of the quota.
    pub owner_id: Option<UserId>,
    pub title: String,
    pub reasons: Vec<String>,
    /// The figures behind it, an object: `drift` (the drift reasons), the offer's product,
    /// kind, confidence and lift, the margin rate, the three periods' spend, the quota and the
    /// won amount.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub figures: serde_json::Value,
    pub raised_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
}

/// An alert a refresh finds to hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub key: String,
    pub kind: AlertKind,
    pub customer: Option<Customer>,
    pub owner: Option<uuid::Uuid>,
    pub title: String,
    pub reasons: Vec<String>,
    pub figures: serde_json::Value,
}

/// The alerts a customer's analysis calls for.
pub fn candidates_of(a: &CustomerAnalysis, profile: &Profile, settings: &AnalyticsSettings) -> Vec<Candidate> {
    let (owner, name) = (profile.owner, profile.name.clone());
    let customer = a.customer_type.customer(a.customer_id);
    let key =
        |kind: AlertKind, more: &str| format!("{}:{}:{}{more}", kind.as_str(), a.customer_type.as_str(), a.customer_id);
    let mut out = Vec::new();
    let mut push = |kind, key, title, reasons, figures| {
        out.push(Candidate { key, kind, customer: Some(customer), owner, title, reasons, figures })
    };
    if a.drifting {
        push(
            AlertKind::Drift,
            key(AlertKind::Drift, ""),
            format!("{name} is drifting away"),
            a.drift.iter().map(|d| d.message.clone()).collect(),
            serde_json::json!({"drift": a.drift}),
        );
    }
    // The strongest offer: a cross-sell first, then a switch-sell, then an up-sell.
    let rank = |k: OfferKind| match k {
        OfferKind::CrossSell => 0,
        OfferKind::SwitchSell => 1,
        OfferKind::UpSell => 2,
    };
    if let Some(o) = a.offers.iter().min_by_key(|o| rank(o.kind)) {
        push(
            AlertKind::Offer,
            key(AlertKind::Offer, &format!(":{}", o.product_id)),
            format!("Offer {} to {name}", o.name),
            vec![o.reason.clone()],
            serde_json::json!({"product_id": o.product_id, "offer_kind": o.kind, "confidence": o.confidence, "lift": o.lift}),
        );
    }
    let s = &a.spend;
    let change = settings.trend_change;
    // A trend needs a start: the earliest period has some spend.
    if s.earlier.amount_minor.0 > 0
        && s.previous.amount_minor.0 as f64 > s.earlier.amount_minor.0 as f64 * (1.0 + change)
        && (s.recent.amount_minor.0 as f64) < s.previous.amount_minor.0 as f64 * (1.0 - change)
    {
        push(
            AlertKind::TrendReversal,
            key(AlertKind::TrendReversal, ""),
            format!("{name}'s spend turned down"),
            vec![format!(
                "spent {} in the last {} days after {} in the period before, up from {}",
                s.recent, settings.period_days, s.previous, s.earlier
            )],
            serde_json::to_value(s).unwrap_or_default(),
        );
    }
    if let Some(v) = a.value.first()
        && let Some(rate) = v.margin_rate.filter(|r| *r < settings.min_margin_rate)
    {
        push(
            AlertKind::MarginDrop,
            key(AlertKind::MarginDrop, ""),
            format!("{name}'s margin is {:.1}%", rate * 100.0),
            vec![format!(
                "a margin rate of {:.1}% on {} of revenue, below the {:.1}% threshold",
                rate * 100.0,
                v.revenue,
                settings.min_margin_rate * 100.0
            )],
            serde_json::json!({"margin_rate": rate, "threshold": settings.min_margin_rate, "currency": v.currency}),
        );
    }
    out
}

/// The reps behind the pace of a quota of a period running at `as_of` (its quarter, month and
/// year): won with `closed_at` in the period below quota × the elapsed share of the period ×
/// (1 − the tolerance).
pub fn quota_candidates(
    conn: &mut AnyConnection,
    as_of: NaiveDateTime,
    settings: &AnalyticsSettings,
) -> Result<Vec<Candidate>, RecordError> {
    use chrono::Datelike;
    let d = as_of.date();
    let periods = [
        format!("{}-Q{}", d.year(), d.month0() / 3 + 1),
        format!("{}-{:02}", d.year(), d.month()),
        format!("{}", d.year()),
    ];
    let reader = Actor::internal("system:analytics", [Scope::SalesRead.as_str()]);
    let names = crm_users::read::names_and_teams(conn)?;
    let mut out = Vec::new();
    for period in periods {
        let Some(p) = crm_sales::Period::parse_exact(&period) else { continue };
        let forecast = crm_sales::reports::forecast(conn, &reader, &period, crm_sales::GroupBy::Owner)?;
        let won: HashMap<(String, String), crm_core::Money> =
            forecast.groups.into_iter().map(|g| ((g.key, g.currency), g.closed_won)).collect();
        let length = (p.end_exclusive - p.start).num_days().max(1) as f64;
        let elapsed = ((d - p.start).num_days() + 1).clamp(0, length as i64) as f64 / length;
        for quota in crm_sales::targets::quotas_of(conn, &period)? {
            let Some(owner) = quota.owner_id else { continue };
            let currency = quota.amount.currency.clone();
            let got = won
                .get(&(owner.0.to_string(), currency.clone()))
                .cloned()
                .unwrap_or_else(|| crm_core::Money::new(0, &currency));
            let expected = quota.amount.amount_minor.0 as f64 * elapsed;
            if (got.amount_minor.0 as f64) >= expected * (1.0 - settings.quota_pace_tolerance) {
                continue;
            }
            let who = names.get(&owner).map(|(n, _)| n.clone()).unwrap_or_default();
            out.push(Candidate {
                key: format!("quota_behind:{}:{period}:{currency}", owner.0),
                kind: AlertKind::QuotaBehind,
                customer: None,
                owner: Some(owner.0),
                title: format!("{who} is behind the {period} quota"),
                reasons: vec![format!(
                    "won {got} of a {} quota with {:.0}% of the period gone (the pace asks for {})",
                    quota.amount,
                    elapsed * 100.0,
                    crm_core::Money::new(expected.round() as i64, &currency)
                )],
                figures: serde_json::json!({
                    "period": period, "quota": quota.amount, "won": got, "elapsed_share": elapsed,
                }),
            });
        }
    }
    Ok(out)
}

type Row = (
    DbUuid,
    String,
    String,
    Option<String>,
    Option<DbUuid>,
    Option<DbUuid>,
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    i64,
);

macro_rules! columns {
    () => {
        (
            alerts::id,
            alerts::kind,
            alerts::status,
            alerts::customer_type,
            alerts::customer_id,
            alerts::owner_id,
            alerts::title,
            alerts::reasons,
            alerts::figures,
            alerts::raised_at,
            alerts::updated_at,
            alerts::version,
        )
    };
}

fn alert_of(r: Row) -> Alert {
    Alert {
        id: AlertId(r.0.0),
        kind: AlertKind::parse(&r.1).unwrap_or(AlertKind::Drift),
        status: AlertStatus::parse(&r.2).unwrap_or(AlertStatus::Open),
        customer_type: r.3.as_deref().and_then(CustomerType::parse),
        customer_id: r.4.map(|u| u.0),
        owner_id: r.5.map(|u| UserId(u.0)),
        title: r.6,
        reasons: serde_json::from_str(&r.7).unwrap_or_default(),
        figures: serde_json::from_str(&r.8).unwrap_or_default(),
        raised_at: r.9.and_utc(),
        updated_at: r.10.and_utc(),
        version: r.11,
    }
}

fn system() -> Actor {
    Actor::internal("system:analytics", [Scope::AnalyticsWrite.as_str()])
}

/// Raises the candidates not raised already (open, or closed by their owner within the
/// cool-down) and resolves the open alerts of the kinds in `kinds` that no candidate holds any
/// more. Returns (raised, resolved).
pub fn settle(
    db: &crm_db::Db,
    candidates: Vec<Candidate>,
    kinds: &[AlertKind],
    now: NaiveDateTime,
    settings: &AnalyticsSettings,
) -> Result<(i64, i64), RecordError> {
    let cooled = now - chrono::Duration::days(i64::from(settings.alert_cooldown_days));
    let open = AlertStatus::Open.as_str();
    let owned_closed = [AlertStatus::Acknowledged.as_str(), AlertStatus::Dismissed.as_str()];
    let live: Vec<(DbUuid, String, String)> = db.run_sync(|c| {
        alerts::table
            .filter(alerts::status.eq(open).or(alerts::status.eq_any(owned_closed).and(alerts::updated_at.gt(cooled))))
            .select((alerts::id, alerts::key, alerts::status))
            .load(c)
            .map_err(crm_db::DbError::from)
    })?;
    let held: HashSet<&str> = candidates.iter().map(|c| c.key.as_str()).collect();
    let kind_names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let gone: Vec<AlertId> = live
        .iter()
        .filter(|(_, key, status)| {
            let kind = key.split(':').next().unwrap_or("");
            status == open && !held.contains(key.as_str()) && kind_names.contains(&kind)
        })
        .map(|(id, ..)| AlertId(id.0))
        .collect();
    let system = system();
    for chunk in gone.chunks(1000) {
        db.transaction_sync(|c| -> Result<(), RecordError> {
            for id in chunk {
                transition(c, &system, *id, AlertStatus::Resolved, now)?;
            }
            Ok(())
        })?;
    }
    let resolved = gone.len() as i64;
    let taken: HashSet<&str> = live.iter().map(|(_, k, _)| k.as_str()).collect();
    // New alerts go in multi-row inserts; each is an event (buffered to the commit).
    let fresh: Vec<&Candidate> = candidates.iter().filter(|c| !taken.contains(c.key.as_str())).collect();
    for chunk in fresh.chunks(500) {
        db.transaction_sync(|conn| raise(conn, chunk, now, &system))?;
    }
    Ok((fresh.len() as i64, resolved))
}

/// Writes new alerts and their events.
fn raise(
    conn: &mut AnyConnection,
    chunk: &[&Candidate],
    now: NaiveDateTime,
    system: &Actor,
) -> Result<(), RecordError> {
    let open = AlertStatus::Open.as_str();
    let made: Vec<Alert> = chunk
        .iter()
        .map(|c| {
            let (customer_type, customer_id) = (c.customer.map(CustomerType::of), c.customer.map(|c| c.uuid()));
            Alert {
                id: AlertId(uuid::Uuid::now_v7()),
                kind: c.kind,
                status: AlertStatus::Open,
                customer_type,
                customer_id,
                owner_id: c.owner.map(UserId),
                title: c.title.clone(),
                reasons: c.reasons.clone(),
                figures: c.figures.clone(),
                // As stored (microseconds), so the event shows what a read shows.
                raised_at: crm_db::truncate_micros(now).and_utc(),
                updated_at: crm_db::truncate_micros(now).and_utc(),
                version: 1,
            }
        })
        .collect();
    let rows: Vec<_> = made
        .iter()
        .zip(chunk)
        .map(|(a, c)| {
            (
                alerts::id.eq(DbUuid(a.id.0)),
                alerts::key.eq(c.key.clone()),
                alerts::kind.eq(a.kind.as_str()),
                alerts::status.eq(open),
                alerts::customer_type.eq(a.customer_type.map(|t| t.as_str())),
                alerts::customer_id.eq(a.customer_id.map(DbUuid)),
                alerts::owner_id.eq(a.owner_id.map(|o| DbUuid(o.0))),
                alerts::title.eq(a.title.clone()),
                alerts::reasons.eq(serde_json::to_string(&a.reasons).unwrap_or_default()),
                alerts::figures.eq(a.figures.to_string()),
                alerts::raised_at.eq(a.raised_at.naive_utc()),
                alerts::updated_at.eq(a.updated_at.naive_utc()),
                alerts::version.eq(1i64),
            )
        })
        .collect();
    crm_db::insert_rows!(conn, alerts::table, &rows)?;
    for a in &made {
        crm_events::record(conn, system, ENTITY, a.id.0, Action::Created, None, Some(json(a)))?;
    }
    Ok(())
}

/// The entity name in events and errors.
pub const ENTITY: &str = "alert";

fn json(a: &Alert) -> serde_json::Value {
    serde_json::to_value(a).unwrap_or_default()
}

fn find(conn: &mut AnyConnection, id: AlertId) -> QueryResult<Option<Alert>> {
    let row: Option<Row> =
        alerts::table.filter(alerts::id.eq(DbUuid(id.0))).select(columns!()).first(conn).optional()?;
    Ok(row.map(alert_of))
}

fn transition(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: AlertId,
    to: AlertStatus,
    now: NaiveDateTime,
) -> Result<Alert, RecordError> {
    let before = find(conn, id)?.ok_or(RecordError::NotFound { entity: ENTITY })?;
    diesel::update(alerts::table.filter(alerts::id.eq(DbUuid(id.0))))
        .set((alerts::status.eq(to.as_str()), alerts::updated_at.eq(now), alerts::version.eq(alerts::version + 1)))
        .execute(conn)?;
    let after = find(conn, id)?.ok_or(RecordError::NotFound { entity: ENTITY })?;
    crm_events::record(conn, actor, ENTITY, id.0, Action::Updated, Some(json(&before)), Some(json(&after)))?;
    Ok(after)
}

/// Acknowledges (`Acknowledged`) or dismisses (`Dismissed`) an open alert: its owner, or an
/// admin.
pub fn close(conn: &mut AnyConnection, actor: &Actor, id: AlertId, to: AlertStatus) -> Result<Alert, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    let alert = find(conn, id)?
        .filter(|a| a.kind != AlertKind::MarginDrop || actor.has(Scope::ProductsCost))
        .ok_or(RecordError::NotFound { entity: ENTITY })?;
    // An alert about a customer the caller does not see does not exist for it.
    if let (Some(t), Some(c)) = (alert.customer_type, alert.customer_id)
        && crate::read::readable_customer(conn, actor, t.customer(c)).is_err()
    {
        return Err(RecordError::NotFound { entity: ENTITY });
    }
    let me = crm_users::user_by_subject(conn, &actor.sub)?.map(|u| u.id);
    if !actor.roles.contains(&Role::Admin) && (alert.owner_id.is_none() || alert.owner_id != me) {
        return Err(RecordError::Foreign {
            class: crm_core::ErrorClass::Forbidden,
            code: "NOT_ALERT_OWNER",
            message: "only the alert's owner (or an admin) acknowledges or dismisses it".into(),
            fields: Vec::new(),
            extra: None,
        });
    }
    if alert.status != AlertStatus::Open {
        return Err(RecordError::InvalidTransition {
            field: "status",
            from: alert.status.as_str().to_string(),
            to: to.as_str().to_string(),
            allowed: Vec::new(),
        });
    }
    transition(conn, actor, id, to, crm_db::now())
}

/// `GET /alerts`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AlertsQuery {
    /// `me` (the caller's user), a user id, or `none` (alerts without an owner).
    pub owner: Option<String>,
    /// Default `open`.
    pub status: Option<AlertStatus>,
    pub kind: Option<AlertKind>,
    /// Only the alerts about this customer (an account's or a contact's id).
    pub customer_id: Option<uuid::Uuid>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of alerts, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct AlertPage {
    pub data: Vec<Alert>,
    pub next_cursor: Option<String>,
}

/// The SQL condition keeping the alerts the caller sees: about a customer it sees, or (a quota
/// alert) for a rep whose quotas it sees.
fn seen_alerts(conn: &mut AnyConnection, actor: &Actor) -> Result<crm_db::sql::Sql, RecordError> {
    let backend = conn.backend();
    let quotas = crm_records::visibility::of_entity(conn, actor, "quota")?;
    let mut out = crm_db::sql::Sql::new(backend);
    out.push("((customer_type IS NOT NULL AND ").append(crate::read::seen_customers(conn, actor)?);
    out.push(") OR (customer_type IS NULL AND ").append(quotas.sql_owner("owner_id", backend)).push("))");
    Ok(out)
}

/// The alerts the caller sees, newest first.
pub fn list(conn: &mut AnyConnection, actor: &Actor, q: &AlertsQuery) -> Result<AlertPage, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    let limit = page_size(q.limit.unwrap_or(50), 200)?;
    let mut query = alerts::table
        .filter(alerts::status.eq(q.status.unwrap_or(AlertStatus::Open).as_str()))
        .select(columns!())
        .order(alerts::id.desc())
        .into_boxed::<crm_db::MultiBackend>();
    match q.owner.as_deref().map(str::trim) {
        None | Some("") => {}
        Some("none") => query = query.filter(alerts::owner_id.is_null()),
        Some("me") => {
            // A caller without a user record owns no alert.
            let me = crm_users::user_by_subject(conn, &actor.sub)?.map(|u| u.id.0).unwrap_or(uuid::Uuid::nil());
            query = query.filter(alerts::owner_id.eq(DbUuid(me)));
        }
        Some(other) => {
            let id = uuid::Uuid::parse_str(other).map_err(|_| RecordError::Invalid {
                entity: ENTITY,
                errors: crm_core::FieldErrors(vec![crm_core::FieldError::new(
                    "owner",
                    "invalid",
                    "`me`, `none` or a user id",
                )]),
            })?;
            query = query.filter(alerts::owner_id.eq(DbUuid(id)));
        }
    }
    if let Some(k) = q.kind {
        query = query.filter(alerts::kind.eq(k.as_str()));
    }
    // A margin alert tells a margin: for those who see unit costs.
    if !actor.has(Scope::ProductsCost) {
        query = query.filter(alerts::kind.ne(AlertKind::MarginDrop.as_str()));
    }
    if let Some(c) = q.customer_id {
        query = query.filter(alerts::customer_id.eq(DbUuid(c)));
    }
    query = query.filter(seen_alerts(conn, actor)?);
    if let Some(c) = q.cursor.as_deref() {
        let after = crm_core::list::Cursor::decode(c).filter(|c| c.s == "-id").ok_or(ListError::Cursor)?;
        query = query.filter(alerts::id.lt(DbUuid(after.id)));
    }
    let mut rows: Vec<Row> = query.limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<Alert> = rows.into_iter().map(alert_of).collect();
    let next_cursor = more
        .then(|| data.last())
        .flatten()
        .map(|a| crm_core::list::Cursor { s: "-id".into(), v: Vec::new(), id: a.id.0 }.encode());
    Ok(AlertPage { data, next_cursor })
}
