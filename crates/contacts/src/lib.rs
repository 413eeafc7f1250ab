//! Contacts: the people the business deals with, usually at an account.

pub mod error;
pub mod model;
pub mod repo;
pub mod service;

pub use error::ContactError;
pub use model::{AccountRef, Contact, ContactInput, ContactPatch, EmailConsent, LifecycleStage};
pub use service::*;
