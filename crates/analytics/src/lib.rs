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
