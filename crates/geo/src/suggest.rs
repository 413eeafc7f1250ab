//! "Who should I visit this week": a rep's accounts within reach of a base, ranked by what
//! makes a visit worth the trip, each with the reasons (docs/GEO.md, "Visit suggestions").
//!
//! The score of an account, 0 to 100, is the sum of:
//! - open deals: 40 × min(open deals, 3) / 3;
//! - a deal expected to close within 14 days of today (or overdue): 20;
//! - time since the last visit (the latest meeting logged with the account; completing a
//!   meeting activity logs one): 30 × min(days, 90) / 90, and 30 when never visited;
//! - nearness: 10 × (1 − distance / radius).
//!
//! Ties go to the nearer account, then to the account id. Each part that counts is stated
//! in `reasons`, in that order.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::{FilterError, Op, Resolved};
use crm_core::geo::{GeoCond, GeoPoint, distance_m};
use crm_core::ids::{AccountId, UserId};
use crm_core::{Actor, FieldError, FieldErrors, Scope};
use crm_db::AnyConnection;
use crm_db::schema::{accounts, interactions, opportunities};
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

const ENTITY: &str = "visit_suggestions";

/// Where the rep sets out from and whose accounts to rank.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    /// The base and the reach: `latitude,longitude,distance` (`37.5665,126.978,30km`).
    pub near: String,
    /// The rep whose accounts are ranked (default: the caller's user).
    pub owner_id: Option<UserId>,
    /// How many to return, 1 to 100 (default 20).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    pub limit: Option<u32>,
}

/// One account worth a visit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct VisitSuggestion {
    pub account_id: AccountId,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    /// From the base.
    pub distance_m: f64,
    pub open_deals: i64,
    /// The earliest expected close date of its open deals.
    pub next_close_date: Option<NaiveDate>,
    /// When it was last visited (the latest meeting logged with it).
    pub last_visit_at: Option<chrono::DateTime<chrono::Utc>>,
    /// 0 to 100, see the docs.
    pub score: f64,
    /// Why, most important first: `3 open deals`, `a deal closes by 2026-12-15`, `not
    /// visited for 45 days` or `never visited`, `4.2 km away`.
    pub reasons: Vec<String>,
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> RecordError {
    RecordError::Invalid { entity: ENTITY, errors: FieldErrors(vec![FieldError::new(field, code, message)]) }
}

/// The rep's accounts within reach, best first: those the caller sees, with the deals it sees.
pub fn suggest(conn: &mut AnyConnection, actor: &Actor, q: &SuggestQuery) -> Result<Vec<VisitSuggestion>, RecordError> {
    for scope in [Scope::AccountsRead, Scope::SalesRead, Scope::InteractionsRead] {
        actor.require(scope)?;
    }
    let limit = crm_core::list::page_size(q.limit.unwrap_or(20), 100)?;
    let cond = crm_core::filter::parse_geo(Op::Near, &q.near, "near")
        .map_err(|FilterError { field, code, message }| invalid(&field, code, message))?;
    let GeoCond::Near { center, radius_m } = cond else { return Err(invalid("near", "invalid_value", "a circle")) };
    let owner = match q.owner_id {
        Some(o) => o,
        None => crm_users::current_user_id(conn, actor)?.ok_or_else(|| {
            invalid("owner_id", "required", "the caller is no user of this CRM: name the rep whose accounts to rank")
        })?,
    };
    crm_records::check_ref(conn, ENTITY, "owner_id", Some(owner))?;
    // Only the accounts and deals the caller sees (a rep ranking a colleague's accounts under a
    // `private` level gets none).
    let backend = conn.backend();
    let accounts_seen = crm_records::visibility::of_entity(conn, actor, "account")?.sql("owner_id", "id", backend);
    let deals_seen = crm_records::visibility::of_entity(conn, actor, "opportunity")?.sql("owner_id", "id", backend);

    let rows: Vec<(DbUuid, String, Option<f64>, Option<f64>)> = accounts::table
        .filter(accounts::archived_at.is_null())
        .filter(accounts::owner_id.eq(DbUuid(owner.0)))
        .filter(accounts_seen)
        .filter(crm_db::sql::filter(&Resolved::Geo(cond), backend))
        .select((accounts::id, accounts::name, accounts::latitude, accounts::longitude))
        .load(conn)?;
    let ids: Vec<DbUuid> = rows.iter().map(|r| r.0).collect();
    let mut deals: BTreeMap<uuid::Uuid, (i64, Option<NaiveDate>)> = BTreeMap::new();
    let mut visits: BTreeMap<uuid::Uuid, NaiveDateTime> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let open: Vec<(Option<DbUuid>, Option<NaiveDate>)> = opportunities::table
            .filter(opportunities::archived_at.is_null())
            .filter(opportunities::status.eq("open"))
            .filter(opportunities::account_id.eq_any(chunk.to_vec()))
            .filter(deals_seen.clone())
            .select((opportunities::account_id, opportunities::expected_close_date))
            .load(conn)?;
        for (account, close) in open {
            let Some(a) = account else { continue };
            let e = deals.entry(a.0).or_default();
            e.0 += 1;
            e.1 = match (e.1, close) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        let met: Vec<(Option<DbUuid>, NaiveDateTime)> = interactions::table
            .filter(interactions::archived_at.is_null())
            .filter(interactions::interaction_type.eq("meeting"))
            .filter(interactions::account_id.eq_any(chunk.to_vec()))
            .select((interactions::account_id, interactions::occurred_at))
            .load(conn)?;
        for (account, at) in met {
            if let Some(a) = account {
                let e = visits.entry(a.0).or_insert(at);
                *e = (*e).max(at);
            }
        }
    }

    let now = crm_db::now();
    let today = now.date();
    let mut out: Vec<VisitSuggestion> = rows
        .into_iter()
        .filter_map(|(id, name, lat, lng)| {
            let (lat, lng) = lat.zip(lng)?;
            let d = distance_m(center, GeoPoint { lat, lng });
            let (open, next_close) = deals.get(&id.0).copied().unwrap_or_default();
            let last = visits.get(&id.0).copied();
            let mut score = 0.0;
            let mut reasons = Vec::new();
            if open > 0 {
                score += 40.0 * open.min(3) as f64 / 3.0;
                reasons.push(if open == 1 { "1 open deal".to_string() } else { format!("{open} open deals") });
            }
            if let Some(close) = next_close.filter(|c| (*c - today).num_days() <= 14) {
                score += 20.0;
                reasons.push(format!("a deal closes by {close}"));
            }
            match last {
                Some(at) => {
                    let days = (now - at).num_days().max(0);
                    score += 30.0 * days.min(90) as f64 / 90.0;
                    if days > 0 {
                        reasons.push(format!("not visited for {days} days"));
                    }
                }
                None => {
                    score += 30.0;
                    reasons.push("never visited".to_string());
                }
            }
            score += 10.0 * (1.0 - d / radius_m).max(0.0);
            reasons.push(format!("{:.1} km away", d / 1000.0));
            Some(VisitSuggestion {
                account_id: AccountId(id.0),
                name,
                latitude: lat,
                longitude: lng,
                distance_m: d,
                open_deals: open,
                next_close_date: next_close,
                last_visit_at: last.map(|t| t.and_utc()),
                score: (score * 100.0).round() / 100.0,
                reasons,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.distance_m.total_cmp(&b.distance_m)).then(a.account_id.cmp(&b.account_id))
    });
    out.truncate(limit as usize);
    Ok(out)
}
