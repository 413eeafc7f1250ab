//! One customer's analysis from its purchase history and the base's model: RFM, value, the
//! predictions and the drift reasons. Pure: the refresh runs it over the whole base, a read of
//! one customer between refreshes runs it alone against the last refresh's model
//! (docs/ANALYTICS.md defines every figure).

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::ids::Customer;
use crm_core::{Money, wire_enum};
use serde::{Deserialize, Serialize};

use crate::associations::{CatalogProduct, Offer, Rule, offers};
use crate::models::{BgNbd, GammaGamma, Summary};
use crate::rfm::{Breakpoints, RfmSegment};
use crate::settings::AnalyticsSettings;
use crate::web::WebCounts;

/// One purchase as the analysis sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Bought {
    pub ordered_at: NaiveDateTime,
    pub currency: String,
    pub total_minor: i64,
    /// Quantity × unit cost over its lines whose product has a unit cost in its currency.
    pub cost_minor: i64,
    /// Lines without a unit cost in its currency.
    pub uncosted_lines: i64,
}

/// A customer's history: its purchases in time order and its cases in the two drift periods.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub customer: Customer,
    pub purchases: Vec<Bought>,
    pub cases: CaseCounts,
    /// The distinct products it bought, in id order.
    pub products: Vec<uuid::Uuid>,
    /// Its latest interaction (an account's: logged on the account; a contact's: with it).
    pub last_interaction: Option<NaiveDateTime>,
    /// Its web events (a contact's visitors'; an account's: its contacts') in the last period
    /// and the one before.
    pub web: WebPeriods,
}

/// Web events in the last period and the one before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct WebPeriods {
    pub recent: WebCounts,
    pub before: WebCounts,
}

/// Cases opened in the last period and the one before, and the complaints among them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CaseCounts {
    pub recent: i64,
    pub before: i64,
    pub recent_complaints: i64,
    pub complaints_before: i64,
}

/// What a refresh learned from the whole base, against which each customer is scored and
/// predicted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BaseModel {
    /// Over minus the days since the last purchase (higher is better).
    pub recency: Breakpoints,
    pub frequency: Breakpoints,
    /// Per currency: each customer's monetary value ranks among the customers of its main
    /// currency.
    pub monetary: BTreeMap<String, Breakpoints>,
    pub bgnbd: Option<BgNbd>,
    pub gamma_gamma: BTreeMap<String, GammaGamma>,
}

/// The figures of one customer before scoring: what the base model is learned from.
#[derive(Clone, Debug, PartialEq)]
pub struct Raw {
    pub first: NaiveDateTime,
    pub last: NaiveDateTime,
    pub currency: String,
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary_minor: i64,
    pub summary: Summary,
    /// Repeat purchase days in the main currency and their mean value (Gamma-Gamma's input).
    pub repeat_value: (f64, f64),
}

wire_enum!(
    /// Why a customer drifts.
    DriftCode {
        /// No purchase for longer than its own cadence allows.
        Overdue = "overdue",
        /// It spent much less in the last period than in the one before.
        SpendDrop = "spend_drop",
        /// It opened more cases in the last period than in the one before.
        CasesRose = "cases_rose",
        /// Its people came to the website much less in the last period than in the one before.
        WebDrop = "web_drop",
    }
);

/// One reason a customer drifts, with its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct DriftReason {
    pub code: DriftCode,
    /// The reason in words, with its figures.
    pub message: String,
    /// The figure compared (days since the last purchase; the last period's revenue in minor
    /// units; the last period's cases).
    pub value: f64,
    /// What it was compared with (the allowed days; the previous period's revenue; the
    /// previous period's cases).
    pub reference: f64,
}

/// RFM figures and scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Rfm {
    /// Whole days from the last purchase to `as_of`.
    pub recency_days: i64,
    /// Purchases in the window.
    pub frequency: i64,
    /// Revenue in the window, in the main currency.
    pub monetary: Money,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    /// The three scores, e.g. `545`.
    pub cell: String,
    pub segment: RfmSegment,
}

/// What a customer's purchases in one currency add up to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CurrencyValue {
    pub currency: String,
    pub orders: i64,
    pub revenue: Money,
    /// Revenue minus unit cost × quantity, over the purchases whose every line has a unit cost
    /// in this currency; absent when none has, and for callers without `products:cost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<Money>,
    /// Margin over the revenue of those same purchases (absent with `margin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_rate: Option<f64>,
    /// Purchases left out of the margin (a line without a unit cost in this currency).
    pub uncosted_orders: i64,
    pub average_order: Money,
}

/// The model's predictions over the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Prediction {
    pub horizon_months: u32,
    /// BG/NBD's expected purchases (purchase days) in the horizon.
    pub expected_purchases: f64,
    /// BG/NBD's probability that the customer is still buying.
    pub probability_alive: f64,
    /// Gamma-Gamma's expected value of a purchase, in the main currency (absent without a fit
    /// for that currency).
    pub expected_order_value: Option<Money>,
    /// The discounted sum of the monthly expected purchases times the expected value.
    pub predicted_clv: Option<Money>,
}

wire_enum!(
    /// Whose analysis it is.
    CustomerType {
        Account = "account",
        Contact = "contact",
    }
);

impl CustomerType {
    /// The type of a customer.
    pub fn of(c: Customer) -> CustomerType {
        match c {
            Customer::Account(_) => CustomerType::Account,
            Customer::Contact(_) => CustomerType::Contact,
        }
    }

    /// The customer of this type with this id.
    pub fn customer(self, id: uuid::Uuid) -> Customer {
        match self {
            CustomerType::Account => Customer::Account(crm_core::ids::AccountId(id)),
            CustomerType::Contact => Customer::Contact(crm_core::ids::ContactId(id)),
        }
    }
}

/// One customer's analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CustomerAnalysis {
    pub customer_type: CustomerType,
    pub customer_id: uuid::Uuid,
    /// The moment the figures are computed at.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// Computed alone since the last refresh (`true`), or by the refresh of `as_of`.
    pub live: bool,
    /// The currency most of its purchases were paid in (then the latest one's; then the
    /// code): RFM's monetary value, the averages and the predictions are in it.
    pub currency: String,
    pub first_purchase_at: chrono::DateTime<chrono::Utc>,
    pub last_purchase_at: chrono::DateTime<chrono::Utc>,
    /// Every purchase, in every currency.
    pub orders: i64,
    /// Whole days from the first purchase to `as_of`.
    pub tenure_days: i64,
    /// More than one purchase day.
    pub repeat_customer: bool,
    /// Median whole days between consecutive purchase days (absent with one purchase day).
    pub median_interval_days: Option<f64>,
    pub rfm: Rfm,
    /// The main currency first, then the others by code.
    pub value: Vec<CurrencyValue>,
    /// Absent while the base has too few repeat buyers to fit the model.
    pub prediction: Option<Prediction>,
    pub drifting: bool,
    pub drift: Vec<DriftReason>,
    pub cases: CaseCounts,
    /// Products to offer it: cross-sell from the association rules, up-sell within a family.
    pub offers: Vec<Offer>,
    /// Its value tier: the first of the settings' tiers it meets.
    pub tier: Option<String>,
    /// Its latest interaction at `as_of`.
    pub last_interaction_at: Option<chrono::DateTime<chrono::Utc>>,
    /// No purchase and no interaction for `dormant_days` or more: one to reactivate.
    pub dormant: bool,
    /// Its web events in the last period and the one before.
    pub web: WebPeriods,
    /// Its spend in the main currency in the last three periods.
    pub spend: SpendPeriods,
}

/// Spend in the main currency in the last `period_days`, the period before, and the one before
/// that.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct SpendPeriods {
    pub recent: Money,
    pub previous: Money,
    pub earlier: Money,
}

fn days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// The distinct purchase days and each one's value in `currency` (all currencies: `None`).
fn purchase_days(purchases: &[Bought], currency: Option<&str>) -> Vec<(NaiveDate, i64)> {
    let mut out: Vec<(NaiveDate, i64)> = Vec::new();
    for p in purchases.iter().filter(|p| currency.is_none_or(|c| p.currency == c)) {
        let d = p.ordered_at.date();
        match out.last_mut() {
            Some((last, v)) if *last == d => *v += p.total_minor,
            _ => out.push((d, p.total_minor)),
        }
    }
    out
}

/// The main currency: the most purchases, then the latest purchase, then the code.
fn main_currency(purchases: &[Bought]) -> String {
    let mut per: BTreeMap<&str, (usize, NaiveDateTime)> = BTreeMap::new();
    for p in purchases {
        let e = per.entry(p.currency.as_str()).or_insert((0, p.ordered_at));
        e.0 += 1;
        e.1 = e.1.max(p.ordered_at);
    }
    per.into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(c, _)| c.to_string())
        .unwrap_or_default()
}

/// The raw figures of a customer with at least one purchase, at `as_of`.
pub fn raw(h: &History, as_of: NaiveDateTime, settings: &AnalyticsSettings) -> Option<Raw> {
    let first = h.purchases.first()?;
    let last = h.purchases.last()?;
    let currency = main_currency(&h.purchases);
    let window_start = as_of - chrono::Duration::days(i64::from(settings.window_days));
    let in_window = h.purchases.iter().filter(|p| p.ordered_at > window_start);
    let frequency = in_window.clone().count() as i64;
    let monetary_minor = in_window.filter(|p| p.currency == currency).map(|p| p.total_minor).sum();
    let all_days = purchase_days(&h.purchases, None);
    let (d0, today) = (first.ordered_at.date(), as_of.date());
    let summary = Summary {
        x: (all_days.len() - 1) as f64,
        t_x: days(d0, last.ordered_at.date()) as f64,
        t: days(d0, today).max(days(d0, last.ordered_at.date())) as f64,
    };
    let main_days = purchase_days(&h.purchases, Some(&currency));
    let repeats = &main_days[1.min(main_days.len())..];
    let repeat_value = if repeats.is_empty() {
        (0.0, 0.0)
    } else {
        (repeats.len() as f64, repeats.iter().map(|d| d.1 as f64).sum::<f64>() / repeats.len() as f64)
    };
    Some(Raw {
        first: first.ordered_at,
        last: last.ordered_at,
        currency,
        recency_days: days(last.ordered_at.date(), today).max(0),
        frequency,
        monetary_minor,
        summary,
        repeat_value,
    })
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

fn value_of(purchases: &[Bought], main: &str) -> Vec<CurrencyValue> {
    #[derive(Default)]
    struct Acc {
        orders: i64,
        revenue: i128,
        costed_revenue: i128,
        cost: i128,
        costed: i64,
    }
    let mut per: BTreeMap<&str, Acc> = BTreeMap::new();
    for p in purchases {
        let a = per.entry(p.currency.as_str()).or_default();
        a.orders += 1;
        a.revenue += i128::from(p.total_minor);
        if p.uncosted_lines == 0 {
            a.costed += 1;
            a.costed_revenue += i128::from(p.total_minor);
            a.cost += i128::from(p.cost_minor);
        }
    }
    let clamp = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    let mut out: Vec<CurrencyValue> = per
        .into_iter()
        .map(|(c, a)| {
            let margin = (a.costed > 0).then(|| a.costed_revenue - a.cost);
            CurrencyValue {
                currency: c.to_string(),
                orders: a.orders,
                revenue: Money::new(clamp(a.revenue), c),
                margin: margin.map(|m| Money::new(clamp(m), c)),
                margin_rate: margin.filter(|_| a.costed_revenue != 0).map(|m| m as f64 / a.costed_revenue as f64),
                uncosted_orders: a.orders - a.costed,
                average_order: Money::new(clamp((a.revenue as f64 / a.orders as f64).round() as i128), c),
            }
        })
        .collect();
    out.sort_by_key(|v| v.currency != main);
    out
}

/// The first tier whose every condition the customer meets.
fn tier_of(
    settings: &AnalyticsSettings,
    rfm: &Rfm,
    main: Option<&CurrencyValue>,
    prediction: Option<&Prediction>,
) -> Option<String> {
    let at_least = |floor: &Option<Money>, got: Option<&Money>| match (floor, got) {
        (None, _) => true,
        (Some(f), Some(g)) => f.currency == g.currency && g.amount_minor >= f.amount_minor,
        (Some(_), None) => false,
    };
    settings
        .tiers
        .iter()
        .find(|t| {
            (t.segments.is_empty() || t.segments.contains(&rfm.segment))
                && at_least(&t.min_revenue, main.map(|v| &v.revenue))
                && at_least(&t.min_predicted_clv, prediction.and_then(|p| p.predicted_clv.as_ref()))
        })
        .map(|t| t.name.clone())
}

/// What a customer is analysed against.
pub struct Context<'a> {
    pub base: &'a BaseModel,
    pub settings: &'a AnalyticsSettings,
    pub as_of: NaiveDateTime,
    /// Computed alone, between refreshes.
    pub live: bool,
    /// The association rules (at least those from the customer's products), by antecedent.
    pub rules: &'a BTreeMap<uuid::Uuid, Vec<Rule>>,
    pub catalog: &'a HashMap<uuid::Uuid, CatalogProduct>,
}

/// A customer's analysis at `as_of`.
pub fn analyse(h: &History, raw: &Raw, ctx: &Context<'_>) -> CustomerAnalysis {
    let Context { base, settings, as_of, live, .. } = *ctx;
    let r = base.recency.score(-(raw.recency_days as f64));
    let f = base.frequency.score(raw.frequency as f64);
    let m = base.monetary.get(&raw.currency).map(|b| b.score(raw.monetary_minor as f64)).unwrap_or(1);
    let rfm = Rfm {
        recency_days: raw.recency_days,
        frequency: raw.frequency,
        monetary: Money::new(raw.monetary_minor, &raw.currency),
        r,
        f,
        m,
        cell: format!("{r}{f}{m}"),
        segment: RfmSegment::of(r, f),
    };

    let days_list = purchase_days(&h.purchases, None);
    let intervals: Vec<i64> = days_list.windows(2).map(|w| days(w[0].0, w[1].0)).collect();
    let median_interval = median(intervals);

    let prediction = base.bgnbd.map(|model| {
        let horizon = f64::from(settings.horizon_months) * 30.0;
        let expected_purchases = model.expected_purchases(&raw.summary, horizon);
        let gg = base.gamma_gamma.get(&raw.currency);
        let order_value = gg.and_then(|g| g.expected_value(raw.repeat_value.0, raw.repeat_value.1));
        let clv = order_value.map(|v| {
            let mut total = 0.0;
            let mut before = 0.0;
            for month in 1..=settings.horizon_months {
                let upto = model.expected_purchases(&raw.summary, f64::from(month) * 30.0);
                total += v * (upto - before) / (1.0 + settings.monthly_discount_rate).powi(month as i32);
                before = upto;
            }
            total
        });
        Prediction {
            horizon_months: settings.horizon_months,
            expected_purchases,
            probability_alive: model.probability_alive(&raw.summary),
            expected_order_value: order_value.map(|v| Money::new(v.round() as i64, &raw.currency)),
            predicted_clv: clv.map(|v| Money::new(v.round() as i64, &raw.currency)),
        }
    });

    let mut drift = Vec::new();
    if let Some(cadence) = median_interval.filter(|m| *m > 0.0) {
        let allowed = cadence * settings.drift_factor;
        let alive = prediction.as_ref().map(|p| p.probability_alive);
        if raw.recency_days as f64 > allowed && alive.is_none_or(|a| a < settings.alive_threshold) {
            let alive_text = alive.map(|a| format!("; probability alive {a:.2}")).unwrap_or_default();
            drift.push(DriftReason {
                code: DriftCode::Overdue,
                message: format!(
                    "no purchase for {} days, more than {} × its median interval of {cadence} days{alive_text}",
                    raw.recency_days, settings.drift_factor
                ),
                value: raw.recency_days as f64,
                reference: allowed,
            });
        }
    }
    let period = chrono::Duration::days(i64::from(settings.period_days));
    let spend = |from: NaiveDateTime, to: NaiveDateTime| -> i64 {
        h.purchases
            .iter()
            .filter(|p| p.currency == raw.currency && p.ordered_at > from && p.ordered_at <= to)
            .map(|p| p.total_minor)
            .sum()
    };
    let recent = spend(as_of - period, as_of);
    let previous = spend(as_of - period - period, as_of - period);
    let earlier = spend(as_of - period - period - period, as_of - period - period);
    if previous > 0 && (recent as f64) < previous as f64 * (1.0 - settings.spend_drop) {
        drift.push(DriftReason {
            code: DriftCode::SpendDrop,
            message: format!(
                "spent {} in the last {} days against {} in the {} days before (down {:.0}%)",
                Money::new(recent, &raw.currency),
                settings.period_days,
                Money::new(previous, &raw.currency),
                settings.period_days,
                (1.0 - recent as f64 / previous as f64) * 100.0
            ),
            value: recent as f64,
            reference: previous as f64,
        });
    }
    let c = h.cases;
    if c.recent > c.before && c.recent >= i64::from(settings.cases_min) {
        drift.push(DriftReason {
            code: DriftCode::CasesRose,
            message: format!(
                "{} cases opened in the last {} days ({} complaints) against {} in the {} days before ({} complaints)",
                c.recent,
                settings.period_days,
                c.recent_complaints,
                c.before,
                settings.period_days,
                c.complaints_before
            ),
            value: c.recent as f64,
            reference: c.before as f64,
        });
    }

    let value = value_of(&h.purchases, &raw.currency);
    let tier = tier_of(settings, &rfm, value.first(), prediction.as_ref());
    let (recent_web, before_web) = (h.web.recent.total(), h.web.before.total());
    if before_web >= i64::from(settings.web_min_events)
        && (recent_web as f64) < before_web as f64 * (1.0 - settings.spend_drop)
    {
        drift.push(DriftReason {
            code: DriftCode::WebDrop,
            message: format!(
                "{recent_web} web events in the last {} days against {before_web} in the {} days before",
                settings.period_days, settings.period_days
            ),
            value: recent_web as f64,
            reference: before_web as f64,
        });
    }
    let (customer_type, customer_id) = (CustomerType::of(h.customer), h.customer.uuid());
    CustomerAnalysis {
        customer_type,
        customer_id,
        as_of: as_of.and_utc(),
        live,
        currency: raw.currency.clone(),
        first_purchase_at: raw.first.and_utc(),
        last_purchase_at: raw.last.and_utc(),
        orders: h.purchases.len() as i64,
        tenure_days: raw.summary.t as i64,
        repeat_customer: raw.summary.x > 0.0,
        median_interval_days: median_interval,
        rfm,
        value,
        prediction,
        drifting: !drift.is_empty(),
        drift,
        cases: h.cases,
        offers: offers(&h.products, ctx.rules, ctx.catalog),
        tier,
        last_interaction_at: h.last_interaction.map(|t| t.and_utc()),
        dormant: raw.recency_days >= i64::from(settings.dormant_days)
            && h.last_interaction.is_none_or(|t| days(t.date(), as_of.date()) >= i64::from(settings.dormant_days)),
        web: h.web,
        spend: SpendPeriods {
            recent: Money::new(recent, &raw.currency),
            previous: Money::new(previous, &raw.currency),
            earlier: Money::new(earlier, &raw.currency),
        },
    }
}

/// A fit of BG/NBD over the base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct BgNbdFit {
    pub parameters: BgNbd,
    pub log_likelihood: f64,
    pub customers: i64,
    pub repeat_customers: i64,
}

/// A fit of Gamma-Gamma over one currency's repeat buyers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct GammaGammaFit {
    pub currency: String,
    /// Absent when the fit failed (`error` says why).
    pub parameters: Option<GammaGamma>,
    pub log_likelihood: Option<f64>,
    /// Repeat buyers of this main currency the fit used.
    pub customers: i64,
    pub error: Option<String>,
}

/// What the fits gave, for the model's view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fits {
    pub bgnbd: Option<BgNbdFit>,
    pub bgnbd_error: Option<String>,
    pub gamma_gamma: Vec<GammaGammaFit>,
}

/// The base model learned from every customer's raw figures, and its fits.
pub fn learn(raws: &[Raw]) -> (BaseModel, Fits) {
    let recency: Vec<f64> = raws.iter().map(|r| -(r.recency_days as f64)).collect();
    let frequency: Vec<f64> = raws.iter().map(|r| r.frequency as f64).collect();
    let mut monetary: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut repeat: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in raws {
        monetary.entry(r.currency.clone()).or_default().push(r.monetary_minor as f64);
        repeat.entry(r.currency.clone()).or_default().push(r.repeat_value);
    }
    let summaries: Vec<Summary> = raws.iter().map(|r| r.summary).collect();
    let mut fits = Fits::default();
    let bgnbd = match BgNbd::fit(&summaries) {
        Ok((m, ll)) => {
            fits.bgnbd = Some(BgNbdFit {
                parameters: m,
                log_likelihood: ll,
                customers: summaries.len() as i64,
                repeat_customers: summaries.iter().filter(|s| s.x > 0.0).count() as i64,
            });
            Some(m)
        }
        Err(e) => {
            fits.bgnbd_error = Some(e.to_string());
            None
        }
    };
    let mut gamma_gamma = BTreeMap::new();
    for (currency, values) in &repeat {
        let customers = values.iter().filter(|(x, m)| *x > 0.0 && *m > 0.0).count() as i64;
        let fit = GammaGamma::fit(values);
        fits.gamma_gamma.push(GammaGammaFit {
            currency: currency.clone(),
            parameters: fit.as_ref().ok().map(|f| f.0),
            log_likelihood: fit.as_ref().ok().map(|f| f.1),
            customers,
            error: fit.as_ref().err().map(|e| e.to_string()),
        });
        if let Ok((m, _)) = fit {
            gamma_gamma.insert(currency.clone(), m);
        }
    }
    let base = BaseModel {
        recency: Breakpoints::of(&recency),
        frequency: Breakpoints::of(&frequency),
        monetary: monetary.into_iter().map(|(c, v)| (c, Breakpoints::of(&v))).collect(),
        bgnbd,
        gamma_gamma,
    };
    (base, fits)
}
