//! The review of a campaign and its waves: counts per channel and in total, rates in basis
//! points, exact costs, and the plan against the actual figures.

use crm_core::ids::CampaignId;
use crm_core::{Actor, Money};
use crm_db::AnyConnection;
use crm_db::schema::{campaign_members, campaigns};
use crm_db::types::DbUuid;
use crm_records::{RecordError, Stored};
use diesel::prelude::*;
use serde::Serialize;

use super::{ExclusionReason, MemberStatus};
use crate::campaigns::{Campaign, Channel};

/// How many members excluded for one reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ExclusionCount {
    pub reason: ExclusionReason,
    pub count: i64,
}

/// A campaign's figures on one channel, or in total (`channel` null). Ratios are in basis
/// points (1/100 of a percent), rounded half up, null when their denominator is 0; see
/// docs/CAMPAIGNS.md for each definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ChannelFigures {
    /// The channel, or null for the total.
    pub channel: Option<Channel>,
    /// Members to contact (not excluded).
    pub targeted: i64,
    /// Members never contacted.
    pub excluded: i64,
    /// Of them, per reason.
    pub excluded_by_reason: Vec<ExclusionCount>,
    /// Members the material went out to (`sent_at` set).
    pub sent: i64,
    pub delivered: i64,
    pub bounced: i64,
    pub opened: i64,
    pub clicked: i64,
    pub responded: i64,
    pub converted: i64,
    pub unsubscribed: i64,
    /// bounced ÷ sent.
    pub bounce_rate_bp: Option<i64>,
    /// opened ÷ delivered.
    pub open_rate_bp: Option<i64>,
    /// clicked ÷ delivered.
    pub click_rate_bp: Option<i64>,
    /// responded ÷ targeted.
    pub response_rate_bp: Option<i64>,
    /// converted ÷ targeted.
    pub conversion_rate_bp: Option<i64>,
    /// The cost lines on this channel, per currency.
    pub cost: Vec<Money>,
    /// cost ÷ responded, per currency (rounded half up to the minor unit).
    pub cost_per_response: Vec<Money>,
    /// cost ÷ converted, per currency.
    pub cost_per_conversion: Vec<Money>,
    /// Conversions (won deals, purchases) credited by last touch.
    pub attributed_conversions: i64,
    /// Their revenue, per currency: the attribution model of record (last touch).
    pub revenue: Vec<Money>,
    /// Conversions credited by first touch.
    pub attributed_conversions_first_touch: i64,
    /// Their revenue, per currency.
    pub revenue_first_touch: Vec<Money>,
    /// Return on investment per currency with a cost: (revenue − cost) ÷ cost, last touch.
    pub roi: Vec<Roi>,
    /// Leads that came in through the campaign (a web capture naming it).
    pub leads: i64,
}

/// The return on a currency's cost.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Roi {
    pub currency: String,
    /// (revenue − cost) ÷ cost in basis points (10000 = the cost came back twice); null when
    /// the cost is 0.
    pub roi_bp: Option<i64>,
}

/// A planned figure next to what happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct PlanVsActual {
    /// `budget`, `responses`, `conversions` or `revenue` (last touch, in the plan's currency).
    pub figure: String,
    /// What was planned (money figures in minor units of `currency`).
    pub planned: Option<i64>,
    pub actual: i64,
    /// The currency of money figures.
    pub currency: Option<String>,
    /// actual ÷ planned in basis points (null without a plan, or a plan of 0).
    pub attainment_bp: Option<i64>,
}

/// The review of a campaign and its waves (child campaigns, recursively).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CampaignStats {
    pub campaign_id: CampaignId,
    /// The campaigns counted: this one and its waves.
    pub campaign_ids: Vec<CampaignId>,
    /// All channels together.
    pub total: ChannelFigures,
    /// Per channel used, in the order email, phone, post.
    pub channels: Vec<ChannelFigures>,
    /// The campaign's own plan (not its waves') against the totals.
    pub plan: Vec<PlanVsActual>,
}

/// `num ÷ den` in basis points, rounded half up (towards +∞, also for a negative `num`); null
/// when `den` is 0.
pub fn ratio_bp(num: i64, den: i64) -> Option<i64> {
    if den <= 0 {
        return None;
    }
    let (n, d) = (i128::from(num), i128::from(den));
    i64::try_from((n * 20_000 + d).div_euclid(2 * d)).ok()
}

/// `amount ÷ n` rounded half up to the minor unit; null when `n` is 0.
fn per(amount: &Money, n: i64) -> Option<Money> {
    if n <= 0 {
        return None;
    }
    let (a, d) = (i128::from(amount.amount_minor.0), i128::from(n));
    i64::try_from((2 * a + d) / (2 * d)).ok().map(|v| Money::new(v, &amount.currency))
}

type StatRow = (String, String, Option<String>, i64, i64, i64, i64, i64, i64, i64, i64, i64);

/// The campaign's id and its waves', breadth first.
pub(crate) fn programme(conn: &mut AnyConnection, id: CampaignId) -> QueryResult<Vec<CampaignId>> {
    let mut all = vec![id];
    let mut level = vec![DbUuid(id.0)];
    for _ in 0..16 {
        if level.is_empty() {
            break;
        }
        let next: Vec<DbUuid> =
            campaigns::table.filter(campaigns::parent_id.eq_any(&level)).select(campaigns::id).load(conn)?;
        let next: Vec<DbUuid> = next.into_iter().filter(|c| !all.contains(&CampaignId(c.0))).collect();
        all.extend(next.iter().map(|c| CampaignId(c.0)));
        level = next;
    }
    Ok(all)
}

/// The statistics of a campaign and its waves: per channel and in total, the plan against
/// the actual figures.
pub fn stats(conn: &mut AnyConnection, actor: &Actor, id: CampaignId) -> Result<CampaignStats, RecordError> {
    let campaign = crm_records::get::<Campaign>(conn, actor, id)?;
    let ids = programme(conn, id)?;
    Ok(figures(conn, &campaign, ids)?)
}

/// The statistics of `campaign` counting the members, costs and conversions of `ids`.
pub(crate) fn figures(
    conn: &mut AnyConnection,
    campaign: &Campaign,
    ids: Vec<CampaignId>,
) -> QueryResult<CampaignStats> {
    let id = campaign.id;
    let keys: Vec<DbUuid> = ids.iter().map(|c| DbUuid(c.0)).collect();
    use diesel::dsl::{count, count_star};
    let rows: Vec<StatRow> = campaign_members::table
        .filter(campaign_members::campaign_id.eq_any(&keys))
        .group_by((campaign_members::channel, campaign_members::status, campaign_members::exclusion_reason))
        .select((
            campaign_members::channel,
            campaign_members::status,
            campaign_members::exclusion_reason,
            count_star(),
            count(campaign_members::sent_at),
            count(campaign_members::delivered_at),
            count(campaign_members::bounce_kind),
            count(campaign_members::opened_at),
            count(campaign_members::clicked_at),
            count(campaign_members::responded_at),
            count(campaign_members::converted_at),
            count(campaign_members::unsubscribed_at),
        ))
        .load(conn)?;
    let all = Campaign::find_many(conn, &ids, false)?;
    let mut figures: Vec<ChannelFigures> =
        Channel::ALL.iter().map(|c| ChannelFigures { channel: Some(*c), ..Default::default() }).collect();
    let mut total = ChannelFigures::default();
    for (channel, status, reason, n, sent, delivered, bounced, opened, clicked, responded, converted, unsub) in rows {
        let ch = Channel::parse(&channel).unwrap_or(Channel::Email);
        let at = figures.iter().position(|f| f.channel == Some(ch)).unwrap_or(0);
        for f in [&mut total, &mut figures[at]] {
            if status == MemberStatus::Excluded.as_str() {
                f.excluded += n;
                if let Some(r) = reason.as_deref().and_then(ExclusionReason::parse) {
                    match f.excluded_by_reason.iter_mut().find(|e| e.reason == r) {
                        Some(e) => e.count += n,
                        None => f.excluded_by_reason.push(ExclusionCount { reason: r, count: n }),
                    }
                }
            } else {
                f.targeted += n;
            }
            f.sent += sent;
            f.delivered += delivered;
            f.bounced += bounced;
            f.opened += opened;
            f.clicked += clicked;
            f.responded += responded;
            f.converted += converted;
            f.unsubscribed += unsub;
        }
    }
    let add_cost = |list: &mut Vec<Money>, m: &Money| crate::review::add_money(list, m.clone());
    for c in &all {
        for l in &c.costs {
            add_cost(&mut total.cost, &l.amount);
            if let Some(f) = figures.iter_mut().find(|f| f.channel == Some(l.channel)) {
                add_cost(&mut f.cost, &l.amount);
            }
        }
    }
    for (campaign, n) in crm_sales::leads::count_by_campaign(conn, &ids)? {
        total.leads += n;
        let ch = all.iter().find(|c| c.id == campaign).map(|c| c.channel);
        if let Some(f) = figures.iter_mut().find(|f| f.channel.is_some() && f.channel == ch) {
            f.leads += n;
        }
    }
    let credited = crate::attribution::revenue(conn, &keys)?;
    for (campaign, model, currency, n, amount) in credited {
        let ch = all.iter().find(|c| c.id.0 == campaign.0).map(|c| c.channel);
        let at = figures.iter().position(|f| f.channel.is_some() && f.channel == ch);
        let first = model == crate::attribution::FIRST_TOUCH;
        for f in [Some(&mut total), at.map(|i| &mut figures[i])].into_iter().flatten() {
            let (count, revenue) = if first {
                (&mut f.attributed_conversions_first_touch, &mut f.revenue_first_touch)
            } else {
                (&mut f.attributed_conversions, &mut f.revenue)
            };
            *count += n;
            if let Some(cur) = &currency {
                add_cost(revenue, &Money::new(amount, cur));
            }
        }
    }
    let finish = |f: &mut ChannelFigures| {
        f.excluded_by_reason.sort_by_key(|e| ExclusionReason::ALL.iter().position(|r| *r == e.reason));
        f.cost.sort_by(|a, b| a.currency.cmp(&b.currency));
        f.bounce_rate_bp = ratio_bp(f.bounced, f.sent);
        f.open_rate_bp = ratio_bp(f.opened, f.delivered);
        f.click_rate_bp = ratio_bp(f.clicked, f.delivered);
        f.response_rate_bp = ratio_bp(f.responded, f.targeted);
        f.conversion_rate_bp = ratio_bp(f.converted, f.targeted);
        f.cost_per_response = f.cost.iter().filter_map(|m| per(m, f.responded)).collect();
        f.cost_per_conversion = f.cost.iter().filter_map(|m| per(m, f.converted)).collect();
        f.revenue.sort_by(|a, b| a.currency.cmp(&b.currency));
        f.revenue_first_touch.sort_by(|a, b| a.currency.cmp(&b.currency));
        f.roi = f
            .cost
            .iter()
            .map(|c| {
                let back = f.revenue.iter().find(|r| r.currency == c.currency).map_or(0, |r| r.amount_minor.0);
                Roi {
                    currency: c.currency.clone(),
                    roi_bp: ratio_bp(back.saturating_sub(c.amount_minor.0), c.amount_minor.0),
                }
            })
            .collect();
    };
    finish(&mut total);
    let mut channels = Vec::new();
    for mut f in figures {
        if f.targeted + f.excluded > 0 || !f.cost.is_empty() || f.attributed_conversions > 0 || f.leads > 0 {
            finish(&mut f);
            channels.push(f);
        }
    }
    let spent_in = |currency: &str| total.cost.iter().find(|m| m.currency == currency).map_or(0, |m| m.amount_minor.0);
    let mut plan = Vec::new();
    if let Some(b) = &campaign.planned_budget {
        let actual = spent_in(&b.currency);
        plan.push(PlanVsActual {
            figure: "budget".into(),
            planned: Some(b.amount_minor.0),
            actual,
            currency: Some(b.currency.clone()),
            attainment_bp: ratio_bp(actual, b.amount_minor.0),
        });
    }
    if let Some(r) = &campaign.expected_revenue {
        let actual = total.revenue.iter().find(|m| m.currency == r.currency).map_or(0, |m| m.amount_minor.0);
        plan.push(PlanVsActual {
            figure: "revenue".into(),
            planned: Some(r.amount_minor.0),
            actual,
            currency: Some(r.currency.clone()),
            attainment_bp: ratio_bp(actual, r.amount_minor.0),
        });
    }
    for (figure, planned, actual) in [
        ("responses", campaign.expected_responses, total.responded),
        ("conversions", campaign.expected_conversions, total.converted),
    ] {
        plan.push(PlanVsActual {
            figure: figure.into(),
            planned,
            actual,
            currency: None,
            attainment_bp: planned.and_then(|p| ratio_bp(actual, p)),
        });
    }
    Ok(CampaignStats { campaign_id: id, campaign_ids: ids, total, channels, plan })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_points_round_half_up() {
        assert_eq!(ratio_bp(1, 3), Some(3333)); // 3333.33
        assert_eq!(ratio_bp(2, 3), Some(6667)); // 6666.67
        assert_eq!(ratio_bp(1, 20_000), Some(1)); // 0.5 rounds up
        assert_eq!(ratio_bp(0, 5), Some(0));
        assert_eq!(ratio_bp(5, 0), None);
        assert_eq!(ratio_bp(3, 2), Some(15_000));
        assert_eq!(ratio_bp(-1, 3), Some(-3333)); // -3333.33
        assert_eq!(ratio_bp(-1, 20_000), Some(0)); // -0.5 rounds up, towards +∞
        assert_eq!(ratio_bp(-3, 20_000), Some(-1)); // -1.5 rounds up to -1
    }

    #[test]
    fn costs_per_unit_round_half_up_to_the_minor_unit() {
        let m = Money::new(1000, "EUR");
        assert_eq!(per(&m, 3).map(|x| x.amount_minor.0), Some(333));
        assert_eq!(per(&Money::new(1001, "EUR"), 2).map(|x| x.amount_minor.0), Some(501)); // 500.5
        assert_eq!(per(&m, 0), None);
    }
}
