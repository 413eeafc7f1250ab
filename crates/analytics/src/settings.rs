//! The analysis settings an admin or marketing sets (`PUT /analytics/settings`): the windows,
//! the prediction horizon, and the thresholds of the drift reasons. Every refresh keeps the
//! settings it ran with.

use crm_core::{Actor, FieldError, FieldErrors, Money, Scope};
use crm_db::AnyConnection;
use crm_db::schema::analytics_settings;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// The entity name in errors.
pub const ENTITY: &str = "analytics";

/// A value tier: the customers that meet every condition it states (the first tier of the list
/// a customer meets is its tier).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "TierRuleInput")
)]
pub struct TierRule {
    /// The tier's name (1 to 50 characters, unique in the list).
    pub name: String,
    /// At least this predicted lifetime value (customers of another main currency do not meet
    /// it).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub min_predicted_clv: Option<Money>,
    /// At least this lifetime revenue in the main currency.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub min_revenue: Option<Money>,
    /// In one of these RFM segments.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub segments: Vec<crate::rfm::RfmSegment>,
}

/// How customers are analysed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "AnalyticsSettingsInput")
)]
pub struct AnalyticsSettings {
    /// The window of RFM's frequency and monetary value, in days (1 to 3660; default 365).
    pub window_days: u32,
    /// How far predictions look ahead, in months of 30 days (1 to 120; default 12).
    pub horizon_months: u32,
    /// The monthly discount rate of the predicted lifetime value (0 to 1; default 0.01).
    pub monthly_discount_rate: f64,
    /// A customer is overdue when the days since its last purchase exceed its median interval
    /// between purchases times this factor (1 to 100; default 2).
    pub drift_factor: f64,
    /// ... and the model's probability that it is alive is below this (0 to 1; default 0.5).
    pub alive_threshold: f64,
    /// The period spend and cases are compared over: the last one against the one before, in
    /// days (7 to 730; default 90).
    pub period_days: u32,
    /// Spend dropped when the last period's revenue is below the one before by more than this
    /// share (0 to 1; default 0.5).
    pub spend_drop: f64,
    /// Cases rose when the last period has more than the one before and at least this many
    /// (1 to 1000; default 2).
    pub cases_min: u32,
    /// The least share of all purchases an association rule's two products are bought together
    /// in (0 to 1; default 0.005).
    pub min_support: f64,
    /// The least share of the purchases holding the first product that also hold the second
    /// (0 to 1; default 0.1).
    pub min_confidence: f64,
    /// The least lift: how many times more often the second product is in those purchases than
    /// in all (0 to 1000; default 1.2).
    pub min_lift: f64,
    /// A spend trend reverses when the period before the last grew by more than this share
    /// over the one before it (which had some spend), and the last fell by more than it (0 to
    /// 1; default 0.2).
    pub trend_change: f64,
    /// A customer whose margin rate in its main currency is below this raises a margin alert
    /// (0 to 1; default 0.1).
    pub min_margin_rate: f64,
    /// A rep is behind when won is below quota × the elapsed share of the period × (1 − this)
    /// (0 to 1; default 0.1).
    pub quota_pace_tolerance: f64,
    /// An alert its owner acknowledged or dismissed is not raised again for this many days
    /// (0 to 365; default 30).
    pub alert_cooldown_days: u32,
    /// A customer is dormant after this many days without a purchase and without an
    /// interaction (1 to 3660; default 180).
    pub dormant_days: u32,
    /// Web events are kept this many days (1 to 3660; default 395).
    pub web_retention_days: u32,
    /// The fewest web events in a period that count as an interest or a trend (1 to 100000;
    /// default 5).
    pub web_min_events: u32,
    /// The value tiers, in order (at most 20); a customer's tier is the first it meets (none
    /// when it meets none). Changes of tier are events (`customer_tier.updated`).
    pub tiers: Vec<TierRule>,
    /// Every how many hours the job runner analyses the whole base again (1 to 720; absent,
    /// the default: only when asked).
    pub refresh_every_hours: Option<u32>,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        AnalyticsSettings {
            window_days: 365,
            horizon_months: 12,
            monthly_discount_rate: 0.01,
            drift_factor: 2.0,
            alive_threshold: 0.5,
            period_days: 90,
            spend_drop: 0.5,
            cases_min: 2,
            min_support: 0.005,
            min_confidence: 0.1,
            min_lift: 1.2,
            trend_change: 0.2,
            min_margin_rate: 0.1,
            quota_pace_tolerance: 0.1,
            alert_cooldown_days: 30,
            dormant_days: 180,
            web_retention_days: 395,
            web_min_events: 5,
            tiers: Vec::new(),
            refresh_every_hours: None,
        }
    }
}

impl AnalyticsSettings {
    /// The association thresholds.
    pub fn thresholds(&self) -> crate::associations::Thresholds {
        crate::associations::Thresholds {
            min_support: self.min_support,
            min_confidence: self.min_confidence,
            min_lift: self.min_lift,
        }
    }

    /// Every value in its range, or a 422 naming each one that is not.
    pub fn validate(&self) -> Result<(), RecordError> {
        let mut errors = Vec::new();
        let mut range = |field: &str, v: f64, lo: f64, hi: f64| {
            if !(lo..=hi).contains(&v) {
                errors.push(FieldError::new(field, "out_of_range", format!("must be from {lo} to {hi}")));
            }
        };
        range("window_days", f64::from(self.window_days), 1.0, 3660.0);
        range("horizon_months", f64::from(self.horizon_months), 1.0, 120.0);
        range("monthly_discount_rate", self.monthly_discount_rate, 0.0, 1.0);
        range("drift_factor", self.drift_factor, 1.0, 100.0);
        range("alive_threshold", self.alive_threshold, 0.0, 1.0);
        range("period_days", f64::from(self.period_days), 7.0, 730.0);
        range("spend_drop", self.spend_drop, 0.0, 1.0);
        range("cases_min", f64::from(self.cases_min), 1.0, 1000.0);
        range("min_support", self.min_support, 0.0, 1.0);
        range("min_confidence", self.min_confidence, 0.0, 1.0);
        range("min_lift", self.min_lift, 0.0, 1000.0);
        range("trend_change", self.trend_change, 0.0, 1.0);
        range("min_margin_rate", self.min_margin_rate, 0.0, 1.0);
        range("quota_pace_tolerance", self.quota_pace_tolerance, 0.0, 1.0);
        range("alert_cooldown_days", f64::from(self.alert_cooldown_days), 0.0, 365.0);
        range("dormant_days", f64::from(self.dormant_days), 1.0, 3660.0);
        range("web_retention_days", f64::from(self.web_retention_days), 1.0, 3660.0);
        range("web_min_events", f64::from(self.web_min_events), 1.0, 100_000.0);
        if let Some(h) = self.refresh_every_hours {
            range("refresh_every_hours", f64::from(h), 1.0, 720.0);
        }
        if self.tiers.len() > 20 {
            errors.push(FieldError::new("tiers", "too_many", "at most 20 tiers"));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, t) in self.tiers.iter().enumerate() {
            let name = t.name.trim();
            if name.is_empty() || name.chars().count() > 50 {
                errors.push(FieldError::new(format!("tiers[{i}].name"), "invalid", "1 to 50 characters"));
            } else if !names.insert(name.to_lowercase()) {
                errors.push(FieldError::new(format!("tiers[{i}].name"), "taken", "another tier has this name"));
            }
            if t.min_predicted_clv.is_none() && t.min_revenue.is_none() && t.segments.is_empty() {
                errors.push(FieldError::new(
                    format!("tiers[{i}]"),
                    "required",
                    "a tier states at least one condition: min_predicted_clv, min_revenue or segments",
                ));
            }
            for (field, m) in [("min_predicted_clv", &t.min_predicted_clv), ("min_revenue", &t.min_revenue)] {
                if let Some(Err(e)) = m.clone().map(|m| m.parse(&format!("tiers[{i}].{field}"))) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RecordError::Invalid { entity: ENTITY, errors: FieldErrors(errors) })
        }
    }
}

/// The settings in force (the defaults until some are set).
pub fn load(conn: &mut AnyConnection) -> QueryResult<AnalyticsSettings> {
    let stored: Option<String> =
        analytics_settings::table.select(analytics_settings::definition).first(conn).optional()?;
    Ok(stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default())
}

/// The settings, for readers of the analytics.
pub fn get(conn: &mut AnyConnection, actor: &Actor) -> Result<AnalyticsSettings, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    Ok(load(conn)?)
}

/// Replaces the settings; the next refresh uses them.
pub fn set(
    conn: &mut AnyConnection,
    actor: &Actor,
    settings: AnalyticsSettings,
) -> Result<AnalyticsSettings, RecordError> {
    actor.require(Scope::AnalyticsWrite)?;
    settings.validate()?;
    let mut settings = settings;
    for t in &mut settings.tiers {
        t.name = t.name.trim().to_string();
        for m in [&mut t.min_predicted_clv, &mut t.min_revenue].into_iter().flatten() {
            m.currency = m.currency.trim().to_ascii_uppercase();
        }
    }
    let text = serde_json::to_string(&settings).unwrap_or_default();
    diesel::delete(analytics_settings::table).execute(conn)?;
    diesel::insert_into(analytics_settings::table)
        .values((
            analytics_settings::id.eq(1i64),
            analytics_settings::definition.eq(text),
            analytics_settings::updated_at.eq(crm_db::now()),
        ))
        .execute(conn)?;
    Ok(settings)
}
