//! Accounts: the companies and organisations the business deals with.

pub mod error;
pub mod model;
pub mod repo;
pub mod service;

pub use error::AccountError;
pub use model::{Account, AccountInput, AccountPatch, Tier};
pub use service::*;
