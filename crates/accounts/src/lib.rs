//! Accounts: the companies and organisations the business deals with. Their use cases are the
//! generic ones of `crm_records` (`crm_records::create::<Account>`, …); this crate holds the
//! model, its normalization and rules, and what other domains may read of accounts.

pub mod model;
pub mod read;
pub mod record;

pub use model::{ACCOUNT_CATALOG, Account, AccountInput, AccountPatch, AccountRow, Tier};
