//! Contacts: the people the business deals with, usually at an account. Their use cases are
//! the generic ones of `crm_records` (`crm_records::create::<Contact>`, …); this crate holds
//! the model, its normalization and rules, and what other domains may read of contacts.

pub mod model;
pub mod read;
pub mod record;

pub use model::{
    AccountRef, CONTACT_CATALOG, Contact, ContactInput, ContactPatch, ContactRow, EmailConsent, LifecycleStage,
};
