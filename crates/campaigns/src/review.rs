//! The review step of the cycle beyond one campaign's totals: its figures per day or week since
//! launch, and a comparison across campaigns with the segments and products that answered best.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use crm_core::ids::{CampaignId, ProductId, SegmentId};
use crm_core::{Actor, Money, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{campaign_attributions, campaign_members, campaigns};
use crm_db::types::DbUuid;
use crm_products::Product;
use crm_records::{RecordError, Stored};
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::{Deserialize, Serialize};

use crate::campaigns::{Campaign, CampaignStatus, CampaignType, Channel};
use crate::members::{ChannelFigures, ratio_bp};
use crate::segments::Segment;

wire_enum!(
    /// The length of a trend's periods.
    Interval {
        /// Calendar days (UTC).
        Day = "day",
        /// ISO weeks, Monday to Sunday (UTC).
        Week = "week",
    }
);

/// Most periods in one trend (a campaign running longer asks for weeks).
pub const MAX_PERIODS: usize = 400;

/// A campaign's figures in one period: members who reached each step in it (by the step's
/// time), the cost lines spent in it and the revenue of conversions in it (last touch).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct TrendPoint {
    /// The period's first day.
    pub period_start: NaiveDate,
    pub sent: i64,
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub responded: i64,
    pub converted: i64,
    pub unsubscribed: i64,
    /// Cost lines dated in the period, per currency.
    pub cost: Vec<Money>,
    /// Revenue of the conversions in the period credited by last touch, per currency.
    pub revenue: Vec<Money>,
}

/// A campaign's figures (and its waves') period by period, from the first period with
/// something in it to the last; periods with nothing are listed with zeros.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CampaignTrend {
    pub campaign_id: CampaignId,
    pub interval: Interval,
    pub points: Vec<TrendPoint>,
}

/// The first day of the period holding `d`.
fn period_of(d: NaiveDate, interval: Interval) -> NaiveDate {
    match interval {
        Interval::Day => d,
        Interval::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

/// Adds `m` to the amount of its currency in `list` (kept in currency order).
pub(crate) fn add_money(list: &mut Vec<Money>, m: Money) {
    match list.iter_mut().find(|x| x.currency == m.currency) {
        Some(x) => x.amount_minor.0 = x.amount_minor.0.saturating_add(m.amount_minor.0),
        None => {
            list.push(m);
            list.sort_by(|a, b| a.currency.cmp(&b.currency));
        }
    }
}

/// The point of the period holding `day` (`2027-03-04`).
fn point<'a>(
    points: &'a mut BTreeMap<NaiveDate, TrendPoint>,
    day: &str,
    interval: Interval,
) -> Option<&'a mut TrendPoint> {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let p = period_of(d, interval);
    Some(points.entry(p).or_insert_with(|| TrendPoint { period_start: p, ..Default::default() }))
}

/// The date part of a timestamp column, the same text on both databases (`2027-03-04`).
macro_rules! per_day {
    ($conn:expr, $keys:expr, $col:ident) => {{
        let day = sql::<Text>(concat!("substr(CAST(", stringify!($col), " AS text), 1, 10)"));
        campaign_members::table
            .filter(campaign_members::campaign_id.eq_any($keys))
            .filter(campaign_members::$col.is_not_null())
            .group_by(day.clone())
            .select((day, count_star()))
            .load::<(String, i64)>($conn)?
    }};
}

/// The trend of a campaign and its waves, per day or week.
pub fn trend(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    interval: Interval,
) -> Result<CampaignTrend, RecordError> {
    let campaign = crm_records::get::<Campaign>(conn, actor, id)?;
    let ids = crate::members::programme(conn, campaign.id)?;
    let keys: Vec<DbUuid> = ids.iter().map(|c| DbUuid(c.0)).collect();
    let mut points: BTreeMap<NaiveDate, TrendPoint> = BTreeMap::new();
    type Step = fn(&mut TrendPoint) -> &mut i64;
    let steps: [(Vec<(String, i64)>, Step); 7] = [
        (per_day!(conn, &keys, sent_at), |p| &mut p.sent),
        (per_day!(conn, &keys, delivered_at), |p| &mut p.delivered),
        (per_day!(conn, &keys, opened_at), |p| &mut p.opened),
        (per_day!(conn, &keys, clicked_at), |p| &mut p.clicked),
        (per_day!(conn, &keys, responded_at), |p| &mut p.responded),
        (per_day!(conn, &keys, converted_at), |p| &mut p.converted),
        (per_day!(conn, &keys, unsubscribed_at), |p| &mut p.unsubscribed),
    ];
    for (rows, field) in steps {
        for (day, n) in rows {
            if let Some(p) = point(&mut points, &day, interval) {
                *field(p) += n;
            }
        }
    }
    for c in Campaign::find_many(conn, &ids, false)? {
        for l in c.costs {
            if let Some(p) = point(&mut points, &l.spent_on.to_string(), interval) {
                add_money(&mut p.cost, l.amount);
            }
        }
    }
    let day = sql::<Text>("substr(CAST(converted_at AS text), 1, 10)");
    let total = crate::attribution::sum_amounts(conn.backend());
    let revenue: Vec<(String, Option<String>, i64)> = campaign_attributions::table
        .filter(campaign_attributions::campaign_id.eq_any(&keys))
        .filter(campaign_attributions::model.eq(crate::attribution::LAST_TOUCH))
        .group_by(sql::<Text>("substr(CAST(converted_at AS text), 1, 10), currency"))
        .select((day, sql::<Nullable<Text>>("currency"), sql::<BigInt>(total)))
        .load(conn)?;
    for (day, currency, amount) in revenue {
        if let (Some(p), Some(cur)) = (point(&mut points, &day, interval), currency) {
            add_money(&mut p.revenue, Money::new(amount, &cur));
        }
    }
    let (Some(first), Some(last)) = (points.keys().next().copied(), points.keys().last().copied()) else {
        return Ok(CampaignTrend { campaign_id: id, interval, points: Vec::new() });
    };
    let step = match interval {
        Interval::Day => Duration::days(1),
        Interval::Week => Duration::weeks(1),
    };
    let periods = usize::try_from((last - first).num_days() / step.num_days() + 1).unwrap_or(usize::MAX);
    if periods > MAX_PERIODS {
        return Err(RecordError::invalid(
            "campaign",
            "interval",
            "too_many_periods",
            format!(
                "the campaign's figures span {periods} {}s, more than {MAX_PERIODS}; ask for weeks",
                interval.as_str()
            ),
        ));
    }
    let mut out = Vec::with_capacity(periods);
    let mut d = first;
    while d <= last {
        out.push(points.remove(&d).unwrap_or(TrendPoint { period_start: d, ..Default::default() }));
        d += step;
    }
    Ok(CampaignTrend { campaign_id: id, interval, points: out })
}

/// Which campaigns to compare: launched ones (running, completed or cancelled after launch),
/// of one type and/or the waves of one programme, launched in a date range.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ComparisonQuery {
    /// Only campaigns of this type.
    #[serde(default, rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub campaign_type: Option<CampaignType>,
    /// Only the waves (direct children) of this programme.
    #[serde(default)]
    pub parent_id: Option<CampaignId>,
    /// Only campaigns launched on or after this day (UTC).
    #[serde(default)]
    pub launched_from: Option<NaiveDate>,
    /// Only campaigns launched on or before this day (UTC); before `launched_from`, nothing
    /// matches.
    #[serde(default)]
    pub launched_to: Option<NaiveDate>,
}

/// Most campaigns compared at once (the latest launched).
pub const MAX_COMPARED: i64 = 100;

/// One compared campaign and its own figures (without its waves).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ComparedCampaign {
    pub campaign_id: CampaignId,
    pub name: String,
    pub campaign_type: CampaignType,
    pub channel: Channel,
    pub status: CampaignStatus,
    pub launched_at: Option<Timestamp>,
    pub figures: ChannelFigures,
}

/// The campaigns that targeted one segment, or promoted one product, taken together.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct GroupFigures {
    /// The segment's or product's id.
    pub id: uuid::Uuid,
    pub name: String,
    /// Compared campaigns in the group.
    pub campaigns: i64,
    pub targeted: i64,
    pub responded: i64,
    pub converted: i64,
    /// responded ÷ targeted.
    pub response_rate_bp: Option<i64>,
    /// converted ÷ targeted.
    pub conversion_rate_bp: Option<i64>,
    /// Revenue credited by last touch, per currency.
    pub revenue: Vec<Money>,
    pub cost: Vec<Money>,
}

/// Campaigns side by side, best response rate first, and which segments and products answered
/// best.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CampaignComparison {
    pub campaigns: Vec<ComparedCampaign>,
    /// Per target segment, best response rate first.
    pub by_segment: Vec<GroupFigures>,
    /// Per promoted product, best response rate first.
    pub by_product: Vec<GroupFigures>,
    /// True when more campaigns matched than the `MAX_COMPARED` latest launched compared.
    pub truncated: bool,
}

/// Best response rate first (none last), then most conversions, then name.
fn by_response(a: &GroupFigures, b: &GroupFigures) -> std::cmp::Ordering {
    b.response_rate_bp
        .unwrap_or(-1)
        .cmp(&a.response_rate_bp.unwrap_or(-1))
        .then(b.converted.cmp(&a.converted))
        .then_with(|| a.name.cmp(&b.name))
}

/// Compares launched campaigns: each with its own figures, and the figures per target segment
/// and per promoted product (a campaign targeting two segments counts in both).
pub fn compare(conn: &mut AnyConnection, actor: &Actor, q: ComparisonQuery) -> Result<CampaignComparison, RecordError> {
    actor.require(Scope::CampaignsRead)?;
    let mut query = campaigns::table
        .filter(campaigns::archived_at.is_null())
        .filter(campaigns::launched_at.is_not_null())
        .select(campaigns::id)
        .order((campaigns::launched_at.desc(), campaigns::id.desc()))
        .limit(MAX_COMPARED + 1)
        .into_boxed::<crm_db::MultiBackend>();
    if let Some(t) = q.campaign_type {
        query = query.filter(campaigns::campaign_type.eq(t.as_str()));
    }
    if let Some(p) = q.parent_id {
        query = query.filter(campaigns::parent_id.eq(DbUuid(p.0)));
    }
    let midnight = |d: NaiveDate| -> NaiveDateTime { d.and_hms_opt(0, 0, 0).unwrap_or_default() };
    if let Some(from) = q.launched_from {
        query = query.filter(campaigns::launched_at.ge(midnight(from)));
    }
    if let Some(to) = q.launched_to.and_then(|d| d.succ_opt()) {
        query = query.filter(campaigns::launched_at.lt(midnight(to)));
    }
    let mut ids: Vec<DbUuid> = query.load(conn)?;
    let truncated = ids.len() > usize::try_from(MAX_COMPARED).unwrap_or(usize::MAX);
    ids.truncate(usize::try_from(MAX_COMPARED).unwrap_or(usize::MAX));
    let ids: Vec<CampaignId> = ids.into_iter().map(|k| CampaignId(k.0)).collect();
    let mut found = Campaign::find_many(conn, &ids, false)?;
    found.sort_by_key(|c| ids.iter().position(|i| *i == c.id));
    let mut compared = Vec::with_capacity(found.len());
    let mut segments: BTreeMap<uuid::Uuid, GroupFigures> = BTreeMap::new();
    let mut products: BTreeMap<uuid::Uuid, GroupFigures> = BTreeMap::new();
    for c in found {
        let f = crate::members::figures(conn, &c, vec![c.id])?.total;
        let keys = c.segment_ids.iter().map(|s| (false, s.0)).chain(c.product_ids.iter().map(|p| (true, p.0)));
        for (product, key) in keys {
            let map = if product { &mut products } else { &mut segments };
            let g = map.entry(key).or_insert_with(|| GroupFigures {
                id: key,
                name: String::new(),
                campaigns: 0,
                targeted: 0,
                responded: 0,
                converted: 0,
                response_rate_bp: None,
                conversion_rate_bp: None,
                revenue: Vec::new(),
                cost: Vec::new(),
            });
            g.campaigns += 1;
            g.targeted += f.targeted;
            g.responded += f.responded;
            g.converted += f.converted;
            for m in &f.revenue {
                add_money(&mut g.revenue, m.clone());
            }
            for m in &f.cost {
                add_money(&mut g.cost, m.clone());
            }
        }
        compared.push(ComparedCampaign {
            campaign_id: c.id,
            name: c.name,
            campaign_type: c.campaign_type,
            channel: c.channel,
            status: c.status,
            launched_at: c.launched_at,
            figures: f,
        });
    }
    compared.sort_by(|a, b| {
        b.figures
            .response_rate_bp
            .unwrap_or(-1)
            .cmp(&a.figures.response_rate_bp.unwrap_or(-1))
            .then(b.figures.converted.cmp(&a.figures.converted))
    });
    let segment_ids: Vec<SegmentId> = segments.keys().map(|k| SegmentId(*k)).collect();
    for s in Segment::find_many(conn, &segment_ids, false)? {
        if let Some(g) = segments.get_mut(&s.id.0) {
            g.name = s.name;
        }
    }
    let product_ids: Vec<ProductId> = products.keys().map(|k| ProductId(*k)).collect();
    for p in Product::find_many(conn, &product_ids, false)? {
        if let Some(g) = products.get_mut(&p.id.0) {
            g.name = p.name;
        }
    }
    let finish = |m: BTreeMap<uuid::Uuid, GroupFigures>| {
        let mut v: Vec<GroupFigures> = m
            .into_values()
            .map(|mut g| {
                g.response_rate_bp = ratio_bp(g.responded, g.targeted);
                g.conversion_rate_bp = ratio_bp(g.converted, g.targeted);
                g
            })
            .collect();
        v.sort_by(by_response);
        v
    };
    Ok(CampaignComparison {
        campaigns: compared,
        by_segment: finish(segments),
        by_product: finish(products),
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(period_of(d("2027-03-07"), Interval::Week), d("2027-03-01")); // a Sunday
        assert_eq!(period_of(d("2027-03-01"), Interval::Week), d("2027-03-01")); // a Monday
        assert_eq!(period_of(d("2027-03-07"), Interval::Day), d("2027-03-07"));
    }
}
