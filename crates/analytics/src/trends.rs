//! Customer trends: each month's revenue, margin, orders and buying customers over the last 12
//! months, per group of a dimension (RFM segment, tier, industry, country, region, lifecycle
//! stage), summed by the refresh from the purchases it read and stored with it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use crm_core::{Money, wire_enum};
use serde::{Deserialize, Serialize};

use crate::analysis::{CustomerAnalysis, History};
use crate::profiles::Profile;

wire_enum!(
    /// What the base is grouped by.
    Dimension {
        Segment = "segment",
        Tier = "tier",
        Industry = "industry",
        Country = "country",
        Region = "region",
        LifecycleStage = "lifecycle_stage",
    }
);

impl Dimension {
    /// The customer's group in this dimension.
    pub fn group_of(self, a: &CustomerAnalysis, p: &Profile) -> Option<String> {
        match self {
            Dimension::Segment => Some(a.rfm.segment.as_str().to_string()),
            Dimension::Tier => a.tier.clone(),
            Dimension::Industry => p.industry.clone(),
            Dimension::Country => p.country.clone(),
            Dimension::Region => p.region.clone(),
            Dimension::LifecycleStage => p.lifecycle_stage.clone(),
        }
    }

    /// Its column in `customer_analytics`.
    pub fn column(self) -> &'static str {
        match self {
            Dimension::Segment => "segment",
            Dimension::Tier => "tier",
            Dimension::Industry => "industry",
            Dimension::Country => "country",
            Dimension::Region => "region",
            Dimension::LifecycleStage => "lifecycle_stage",
        }
    }
}

/// One month of one group, in one currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CustomerTrendPoint {
    /// `2026-11`.
    pub month: String,
    pub currency: String,
    pub revenue: Money,
    /// Over the month's purchases whose every line has a unit cost in their currency (absent
    /// without `products:cost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<Money>,
    pub orders: i64,
    /// Customers who bought in the month.
    pub customers: i64,
}

/// One group's months (only the months it bought in).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CustomerTrendGroup {
    /// The group (null: customers without a value in this dimension).
    pub group: Option<String>,
    pub points: Vec<CustomerTrendPoint>,
}

/// What a refresh stores: the 12 months and every dimension's groups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub months: Vec<String>,
    pub dimensions: BTreeMap<String, Vec<CustomerTrendGroup>>,
}

#[derive(Default)]
struct Acc {
    revenue: i128,
    costed_revenue: i128,
    cost: i128,
    costed: i64,
    orders: i64,
    customers: i64,
}

/// Sums the months of every customer, as the refresh goes.
pub struct Trends {
    first: NaiveDate,
    months: Vec<String>,
    acc: HashMap<(Dimension, Option<String>, String, String), Acc>,
}

/// `2026-11`.
pub fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The first day of the 12 calendar months up to the one of `at`, and those months.
pub fn last_12_months(at: NaiveDateTime) -> (NaiveDate, Vec<String>) {
    let this = at.date().with_day(1).unwrap_or(at.date());
    let first = this.checked_sub_months(chrono::Months::new(11)).unwrap_or(this);
    let months = (0..12).filter_map(|k| first.checked_add_months(chrono::Months::new(k))).map(month_of).collect();
    (first, months)
}

impl Trends {
    /// The 12 months up to the one of `as_of`.
    pub fn new(as_of: NaiveDateTime) -> Trends {
        let (first, months) = last_12_months(as_of);
        Trends { first, months, acc: HashMap::new() }
    }

    pub fn add(&mut self, h: &History, a: &CustomerAnalysis, p: &Profile) {
        let mut seen: HashSet<(String, &str)> = HashSet::new();
        for b in h.purchases.iter().filter(|b| b.ordered_at.date() >= self.first) {
            let month = month_of(b.ordered_at.date());
            let new_customer = seen.insert((month.clone(), b.currency.as_str()));
            for d in Dimension::ALL {
                let e = self.acc.entry((*d, d.group_of(a, p), month.clone(), b.currency.clone())).or_default();
                e.revenue += i128::from(b.total_minor);
                e.orders += 1;
                e.customers += i64::from(new_customer);
                if b.uncosted_lines == 0 {
                    e.costed += 1;
                    e.costed_revenue += i128::from(b.total_minor);
                    e.cost += i128::from(b.cost_minor);
                }
            }
        }
    }

    pub fn finish(self) -> Stored {
        let clamp = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let mut groups: BTreeMap<(String, Option<String>), Vec<CustomerTrendPoint>> = BTreeMap::new();
        for ((d, group, month, currency), a) in self.acc {
            groups.entry((d.as_str().to_string(), group)).or_default().push(CustomerTrendPoint {
                revenue: Money::new(clamp(a.revenue), &currency),
                margin: (a.costed > 0).then(|| Money::new(clamp(a.costed_revenue - a.cost), &currency)),
                orders: a.orders,
                customers: a.customers,
                month,
                currency,
            });
        }
        let mut dimensions: BTreeMap<String, Vec<CustomerTrendGroup>> = BTreeMap::new();
        for ((d, group), mut points) in groups {
            points.sort_by(|x, y| (&x.month, &x.currency).cmp(&(&y.month, &y.currency)));
            dimensions.entry(d).or_default().push(CustomerTrendGroup { group, points });
        }
        Stored { months: self.months, dimensions }
    }
}
