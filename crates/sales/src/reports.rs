//! The forecast and sales reports: exact integer money, ratios in basis points, every rounding
//! half up and stated, so figures can be checked by hand.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::ids::{OpportunityId, PipelineId, StageId, UserId};
use crm_core::{Actor, Money, Scope, wire_enum};
use crm_db::schema::{activities, opportunities, opportunity_stage_history, pipeline_stages, pipelines};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, MultiBackend};
use crm_records::{RecordError, Stored};
use diesel::prelude::*;
use serde::Serialize;

use crate::period::{Period, weighted};
use crate::pipelines::{ForecastCategory, Pipeline};

fn bad_period() -> RecordError {
    RecordError::invalid(
        "forecast",
        "period",
        "invalid_value",
        "a quarter (2026-Q4), a month (2026-11) or a year (2026)",
    )
}

/// a / b rounded half up (b > 0).
fn div_round(a: i128, b: i128) -> i64 {
    i64::try_from((a * 2 + b) / (b * 2)).unwrap_or(i64::MAX)
}

wire_enum!(
    /// How forecast groups are formed.
    GroupBy {
        Owner = "owner",
        Team = "team",
        Pipeline = "pipeline",
    }
);

/// One group of the forecast (one currency).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ForecastGroup {
    /// The owner's user id, the team name or the pipeline id; `unassigned` without one.
    pub key: String,
    /// The owner's name, the team or the pipeline's name.
    pub label: Option<String>,
    pub currency: String,
    /// Won with `closed_at` in the period.
    pub closed_won: Money,
    /// Open deals closing in the period, by their stage's forecast category (each deal in
    /// exactly one bucket; `omitted` stages are left out).
    pub commit: Money,
    pub best_case: Money,
    pub pipeline: Money,
    /// Σ open amount × stage probability / 100 over commit, best case and pipeline, rounded
    /// half up to the minor unit.
    pub weighted: Money,
    /// The owner's or team's quota for the period, if set (same currency).
    pub quota: Option<Money>,
    /// Open deals counted.
    pub open_deals: i64,
    pub won_deals: i64,
}

/// The forecast of a period, one group per owner, team or pipeline (`group_by`): won and open
/// amounts by forecast category, weighted, against quota.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Forecast {
    pub period: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub group_by: GroupBy,
    pub groups: Vec<ForecastGroup>,
}

type DealRow = (
    DbUuid,
    Option<i64>,
    Option<String>,
    Option<NaiveDate>,
    Option<NaiveDateTime>,
    Option<bool>,
    Option<DbUuid>,
    DbUuid,
    i64,
    String,
    NaiveDateTime,
);

/// The live deals the caller sees (see `crm_records::visibility`), of one pipeline and owner
/// when given: what forecasts and reports add up.
fn deals(
    conn: &mut AnyConnection,
    actor: &Actor,
    pipeline: Option<PipelineId>,
    owner: Option<UserId>,
) -> Result<Vec<DealRow>, RecordError> {
    let seen = crm_records::visibility::of::<crate::Opportunity>(conn, actor)?;
    let mut q = opportunities::table
        .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(opportunities::stage_id)))
        .filter(opportunities::archived_at.is_null())
        .select((
            opportunities::id,
            opportunities::amount_minor,
            opportunities::currency,
            opportunities::expected_close_date,
            opportunities::closed_at,
            opportunities::won,
            opportunities::owner_id,
            opportunities::pipeline_id,
            pipeline_stages::probability,
            pipeline_stages::forecast_category,
            opportunities::created_at,
        ))
        .into_boxed::<MultiBackend>();
    if let Some(p) = pipeline {
        q = q.filter(opportunities::pipeline_id.eq(DbUuid(p.0)));
    }
    if let Some(o) = owner {
        q = q.filter(opportunities::owner_id.eq(DbUuid(o.0)));
    }
    let mut rows: Vec<DealRow> = q.load(conn)?;
    rows.retain(|r| seen.sees(r.6.map(|u| u.0), r.0.0));
    Ok(rows)
}

#[derive(Default)]
struct Acc {
    won: i128,
    commit: i128,
    best: i128,
    pipe: i128,
    weighted: i128,
    open: i64,
    won_n: i64,
}

/// The forecast for a period, grouped.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, period))]
pub fn forecast(
    conn: &mut AnyConnection,
    actor: &Actor,
    period: &str,
    group_by: GroupBy,
) -> Result<Forecast, RecordError> {
    actor.require(Scope::SalesRead)?;
    let p = Period::parse_exact(period).ok_or_else(bad_period)?;
    let rows = deals(conn, actor, None, None)?;
    let users: BTreeMap<uuid::Uuid, (String, Option<String>)> =
        crm_users::read::names_and_teams(conn)?.into_iter().map(|(id, v)| (id.0, v)).collect();
    let pipeline_rows: Vec<(DbUuid, String)> = pipelines::table.select((pipelines::id, pipelines::name)).load(conn)?;
    let pipeline_names: BTreeMap<uuid::Uuid, String> = pipeline_rows.into_iter().map(|(i, n)| (i.0, n)).collect();
    let mut groups: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for (_, amount, currency, close, closed_at, won, owner, pipeline, prob, cat, _) in rows {
        let (Some(amount), Some(currency)) = (amount, currency) else { continue };
        let key = match group_by {
            GroupBy::Owner => owner.map(|o| o.0.to_string()),
            GroupBy::Team => owner.and_then(|o| users.get(&o.0)).and_then(|(_, t)| t.clone()),
            GroupBy::Pipeline => Some(pipeline.0.to_string()),
        }
        .unwrap_or_else(|| "unassigned".to_string());
        let cat = ForecastCategory::parse(&cat).unwrap_or(ForecastCategory::Pipeline);
        let a = i128::from(amount);
        match (closed_at, won) {
            (Some(at), Some(true)) if p.contains(at) => {
                let g = groups.entry((key, currency)).or_default();
                g.won += a;
                g.won_n += 1;
            }
            (None, _) if close.is_some_and(|d| p.contains_date(d)) && cat != ForecastCategory::Omitted => {
                let g = groups.entry((key, currency)).or_default();
                match cat {
                    ForecastCategory::Commit => g.commit += a,
                    ForecastCategory::BestCase => g.best += a,
                    _ => g.pipe += a,
                }
                g.weighted += a * i128::from(prob);
                g.open += 1;
            }
            _ => {}
        }
    }
    let canonical = Period::canonical(period).ok_or_else(bad_period)?;
    let quotas = crate::targets::quotas_of(conn, &canonical)?;
    let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    let out = groups
        .into_iter()
        .map(|((key, currency), g)| {
            let label = match group_by {
                GroupBy::Owner => uuid::Uuid::parse_str(&key).ok().and_then(|u| users.get(&u)).map(|(n, _)| n.clone()),
                GroupBy::Team => (key != "unassigned").then(|| key.clone()),
                GroupBy::Pipeline => uuid::Uuid::parse_str(&key).ok().and_then(|u| pipeline_names.get(&u).cloned()),
            };
            let quota = quotas
                .iter()
                .find(|q| {
                    q.amount.currency == currency
                        && match group_by {
                            GroupBy::Owner => q.owner_id.is_some_and(|o| o.0.to_string() == key),
                            GroupBy::Team => q.team.as_deref() == Some(key.as_str()),
                            GroupBy::Pipeline => false,
                        }
                })
                .map(|q| q.amount.clone());
            ForecastGroup {
                key,
                label,
                closed_won: Money::new(clamp(g.won), &currency),
                commit: Money::new(clamp(g.commit), &currency),
                best_case: Money::new(clamp(g.best), &currency),
                pipeline: Money::new(clamp(g.pipe), &currency),
                weighted: Money::new(weighted(g.weighted), &currency),
                quota,
                open_deals: g.open,
                won_deals: g.won_n,
                currency,
            }
        })
        .collect();
    Ok(Forecast { period: canonical, period_start: p.start, period_end: p.end(), group_by, groups: out })
}

/// One stage of the funnel.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct FunnelStage {
    pub stage_id: StageId,
    pub name: String,
    /// Deals that entered this stage in the period.
    pub entered: i64,
    /// Of those, the share that also entered the next stage in the period, in basis points
    /// (rounded half up); null for the last stage or when none entered.
    pub to_next_bp: Option<i64>,
}

/// Money figures per currency.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CurrencyFigures {
    pub currency: String,
    pub won_deals: i64,
    pub won_amount: Money,
    /// won_amount / won_deals, rounded half up.
    pub average_deal_size: Money,
    /// Open deals (any close date) in this currency.
    pub open_deals: i64,
    /// open_deals × average_deal_size × win rate / average cycle days: expected won money per
    /// day, rounded half up; null without wins.
    pub pipeline_velocity_per_day: Option<Money>,
}

/// How many activities one rep completed in a report period.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RepActivities {
    pub user_id: Option<UserId>,
    pub name: Option<String>,
    pub done: i64,
}

/// The sales report of a period.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct SalesReport {
    pub period: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub owner_id: Option<UserId>,
    pub pipeline_id: Option<PipelineId>,
    /// Deals closed in the period.
    pub won: i64,
    pub lost: i64,
    /// won / (won + lost) in basis points, rounded half up; null without closed deals.
    pub win_rate_bp: Option<i64>,
    /// Average days from creation to close of the deals won in the period, rounded half up.
    pub average_sales_cycle_days: Option<i64>,
    pub by_currency: Vec<CurrencyFigures>,
    /// The funnel of `pipeline_id` (or the default pipeline).
    pub funnel: Vec<FunnelStage>,
    /// Activities completed in the period, per assignee, most first.
    pub activities_done: Vec<RepActivities>,
}

fn bp(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| div_round(i128::from(num) * 10_000, i128::from(den)))
}

/// Win rate, deal size, cycle length, velocity, funnel and activity counts for a period,
/// optionally for one owner and/or one pipeline.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, period))]
pub fn sales_report(
    conn: &mut AnyConnection,
    actor: &Actor,
    period: &str,
    owner: Option<UserId>,
    pipeline: Option<PipelineId>,
) -> Result<SalesReport, RecordError> {
    actor.require(Scope::SalesRead)?;
    let p = Period::parse_exact(period).ok_or_else(bad_period)?;
    let rows = deals(conn, actor, pipeline, owner)?;
    let (mut won, mut lost) = (0i64, 0i64);
    let mut cycle_secs: i128 = 0;
    let mut by: BTreeMap<String, (i64, i128, i64)> = BTreeMap::new();
    for (_, amount, currency, _, closed_at, is_won, _, _, _, _, created) in &rows {
        match (closed_at, is_won) {
            (Some(at), Some(true)) if p.contains(*at) => {
                won += 1;
                cycle_secs += i128::from((*at - *created).num_seconds().max(0));
                if let (Some(a), Some(c)) = (amount, currency) {
                    let e = by.entry(c.clone()).or_default();
                    e.0 += 1;
                    e.1 += i128::from(*a);
                }
            }
            (Some(at), Some(false)) if p.contains(*at) => lost += 1,
            (None, _) => {
                if let Some(c) = currency {
                    by.entry(c.clone()).or_default().2 += 1;
                }
            }
            _ => {}
        }
    }
    let win_rate_bp = bp(won, won + lost);
    let average_sales_cycle_days = (won > 0).then(|| div_round(cycle_secs, i128::from(won) * 86_400));
    let by_currency = by
        .into_iter()
        .map(|(currency, (n, sum, open))| {
            let avg = if n > 0 { div_round(sum, i128::from(n)) } else { 0 };
            // open × avg × (won / (won + lost)) / cycle days.
            let velocity = match (average_sales_cycle_days, won + lost) {
                (Some(days), closed) if n > 0 && closed > 0 => Some(Money::new(
                    div_round(
                        i128::from(open) * i128::from(avg) * i128::from(won),
                        i128::from(closed) * i128::from(days.max(1)),
                    ),
                    &currency,
                )),
                _ => None,
            };
            CurrencyFigures {
                won_deals: n,
                won_amount: Money::new(i64::try_from(sum).unwrap_or(i64::MAX), &currency),
                average_deal_size: Money::new(avg, &currency),
                open_deals: open,
                pipeline_velocity_per_day: velocity,
                currency,
            }
        })
        .collect();

    // Funnel over the chosen pipeline's stages, from the stage history.
    let funnel_pipeline = match pipeline {
        Some(id) => Pipeline::find(conn, id)?,
        None => crate::pipelines::default_pipeline(conn)?,
    };
    let mut funnel = Vec::new();
    if let Some(pl) = funnel_pipeline {
        let start = p.start.and_hms_opt(0, 0, 0).unwrap_or_default();
        let end = p.end_exclusive.and_hms_opt(0, 0, 0).unwrap_or_default();
        let mut q = opportunity_stage_history::table
            .filter(opportunity_stage_history::pipeline_id.eq(DbUuid(pl.id.0)))
            .filter(opportunity_stage_history::entered_at.ge(start))
            .filter(opportunity_stage_history::entered_at.lt(end))
            .select((opportunity_stage_history::opportunity_id, opportunity_stage_history::stage_id))
            .into_boxed::<MultiBackend>();
        if let Some(o) = owner {
            let owned: Vec<DbUuid> = opportunities::table
                .filter(opportunities::owner_id.eq(DbUuid(o.0)))
                .select(opportunities::id)
                .load(conn)?;
            q = q.filter(opportunity_stage_history::opportunity_id.eq_any(owned));
        }
        let mut entries: Vec<(DbUuid, DbUuid)> = q.load(conn)?;
        // Moves of deals the caller does not see are not counted.
        let seen = crm_records::visibility::of::<crate::Opportunity>(conn, actor)?;
        if seen != crm_records::visibility::Visibility::All {
            let ids: Vec<OpportunityId> = entries.iter().map(|(o, _)| OpportunityId(o.0)).collect();
            let visible: std::collections::HashSet<uuid::Uuid> =
                crm_records::get_many::<crate::Opportunity>(conn, actor, &ids, false)?.iter().map(|o| o.id.0).collect();
            entries.retain(|(o, _)| visible.contains(&o.0));
        }
        let entered_by = |stage: StageId| -> Vec<OpportunityId> {
            let mut v: Vec<OpportunityId> =
                entries.iter().filter(|(_, s)| s.0 == stage.0).map(|(o, _)| OpportunityId(o.0)).collect();
            v.sort();
            v.dedup();
            v
        };
        for (n, s) in pl.stages.iter().enumerate() {
            let here = entered_by(s.id);
            let to_next_bp = pl.stages.get(n + 1).and_then(|next| {
                let there = entered_by(next.id);
                let moved = i64::try_from(here.iter().filter(|o| there.contains(o)).count()).unwrap_or(0);
                bp(moved, i64::try_from(here.len()).unwrap_or(0))
            });
            funnel.push(FunnelStage {
                stage_id: s.id,
                name: s.name.clone(),
                entered: i64::try_from(here.len()).unwrap_or(0),
                to_next_bp,
            });
        }
    }

    // Activities done per rep.
    let start = p.start.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = p.end_exclusive.and_hms_opt(0, 0, 0).unwrap_or_default();
    let mut q = activities::table
        .filter(activities::status.eq("done"))
        .filter(activities::completed_at.ge(start))
        .filter(activities::completed_at.lt(end))
        .filter(activities::archived_at.is_null())
        .select((activities::id, activities::assignee_id))
        .into_boxed::<MultiBackend>();
    if let Some(o) = owner {
        q = q.filter(activities::assignee_id.eq(DbUuid(o.0)));
    }
    let seen = crm_records::visibility::of::<crate::Activity>(conn, actor)?;
    let done: Vec<(DbUuid, Option<DbUuid>)> = q.load(conn)?;
    let mut counts: BTreeMap<Option<uuid::Uuid>, i64> = BTreeMap::new();
    for (id, a) in done {
        if !seen.sees(a.map(|u| u.0), id.0) {
            continue;
        }
        *counts.entry(a.map(|u| u.0)).or_default() += 1;
    }
    let names: BTreeMap<uuid::Uuid, String> = {
        let ids: Vec<UserId> = counts.keys().flatten().map(|u| UserId(*u)).collect();
        crm_users::read::names(conn, &ids)?.into_iter().map(|(i, n)| (i.0, n)).collect()
    };
    let mut activities_done: Vec<RepActivities> = counts
        .into_iter()
        .map(|(u, done)| RepActivities { user_id: u.map(UserId), name: u.and_then(|u| names.get(&u).cloned()), done })
        .collect();
    activities_done.sort_by(|a, b| b.done.cmp(&a.done).then(a.user_id.cmp(&b.user_id)));

    Ok(SalesReport {
        period: period.trim().to_string(),
        period_start: p.start,
        period_end: p.end(),
        owner_id: owner,
        pipeline_id: pipeline,
        won,
        lost,
        win_rate_bp,
        average_sales_cycle_days,
        by_currency,
        funnel,
        activities_done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        let q = Period::parse("2026-Q4").unwrap();
        assert_eq!((q.start.to_string(), q.end().to_string()), ("2026-10-01".into(), "2026-12-31".into()));
        let m = Period::parse("2026-02").unwrap();
        assert_eq!(m.end().to_string(), "2026-02-28");
        let y = Period::parse("2026").unwrap();
        assert_eq!(y.end().to_string(), "2026-12-31");
        for bad in ["2026-Q5", "2026-13", "26", "Q4", "2026-Q0", ""] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(weighted(150), 2);
        assert_eq!(weighted(149), 1);
        assert_eq!(div_round(1, 3), 0);
        assert_eq!(div_round(2, 3), 1);
        assert_eq!(div_round(1, 2), 1);
        assert_eq!(bp(2, 3), Some(6667));
        assert_eq!(bp(1, 0), None);
    }
}
