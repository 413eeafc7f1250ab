//! Analytical CRM: what the customer base is worth and where it is going. Each customer's RFM
//! scores and segment, its revenue and margin per currency, its predicted purchases and
//! lifetime value (BG/NBD and Gamma-Gamma, fitted over the base), and the reasons it drifts
//! away; the segmentation of the base. Computed for the whole base by a refresh job and stored
//! with their date, or for one customer on demand (docs/ANALYTICS.md defines every figure).

pub mod actions;
pub mod alerts;
pub mod analysis;
pub mod associations;
pub mod catalog;
pub mod models;
pub mod profiles;
pub mod read;
pub mod refresh;
pub mod rfm;
pub mod settings;
pub mod trends;
pub mod voice;
pub mod web;

pub use analysis::{CustomerAnalysis, CustomerType, DriftCode, DriftReason};
pub use read::{AnalyticsModel, CustomerAnalysisPage, CustomersQuery, Segmentation};
pub use refresh::{RefreshInput, RefreshOutcome};
pub use rfm::RfmSegment;
pub use settings::AnalyticsSettings;

/// The analytics domain's side of merges: a merged customer's alerts and identified web
/// visitors move to the survivor; its stored analysis goes (the next refresh analyses the
/// survivor with everything that moved to it).
pub fn hooks() -> crm_records::hooks::Hooks {
    fn moved(
        conn: &mut crm_db::AnyConnection,
        customer_type: &'static str,
        losers: &[uuid::Uuid],
        survivor: uuid::Uuid,
    ) -> Result<Vec<crm_records::hooks::Moved>, crm_records::RecordError> {
        use crm_db::schema::{alerts, customer_analytics, web_visitors};
        use crm_db::types::DbUuid;
        use diesel::prelude::*;
        let gone: Vec<DbUuid> = losers.iter().copied().map(DbUuid).collect();
        let analysed = diesel::delete(
            customer_analytics::table
                .filter(customer_analytics::customer_type.eq(customer_type))
                .filter(customer_analytics::customer_id.eq_any(&gone)),
        )
        .execute(conn)?;
        let alerted = diesel::update(
            alerts::table.filter(alerts::customer_type.eq(customer_type)).filter(alerts::customer_id.eq_any(&gone)),
        )
        .set((alerts::customer_id.eq(DbUuid(survivor)), alerts::version.eq(alerts::version + 1)))
        .execute(conn)?;
        let visitors = if customer_type == "contact" {
            diesel::update(web_visitors::table.filter(web_visitors::contact_id.eq_any(&gone)))
                .set(web_visitors::contact_id.eq(DbUuid(survivor)))
                .execute(conn)?
        } else {
            0
        };
        use crm_records::hooks::Moved;
        Ok(vec![
            Moved { resource: "customer_analytics", field: "customer_id", count: analysed },
            Moved { resource: "alerts", field: "customer_id", count: alerted },
            Moved { resource: "web_visitors", field: "contact_id", count: visitors },
        ])
    }
    crm_records::hooks::Hooks::new()
        .on_merge("contact", |conn, _actor, losers, survivor| moved(conn, "contact", losers, survivor))
        .on_merge("account", |conn, _actor, losers, survivor| moved(conn, "account", losers, survivor))
}
