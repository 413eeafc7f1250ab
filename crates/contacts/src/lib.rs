//! Contacts: the people the business deals with, usually at an account. Their use cases are
//! the generic ones of `crm_records` (`crm_records::create::<Contact>`, …); this crate holds
//! the model, its normalization and rules, and what other domains may read of contacts.

pub mod model;
pub mod read;
pub mod record;

use crm_core::ids::{AccountId, EntityId};
use crm_records::hooks::Hooks;
use crm_records::merge::repoint;

/// The contacts domain's side of merges: the contacts of a merged account move to the survivor.
pub fn hooks() -> Hooks {
    Hooks::new().on_merge("account", |conn, actor, losers, survivor| {
        let to = Some(AccountId::from_uuid(survivor));
        Ok(vec![repoint::<Contact>(conn, actor, "account_id", losers, |c| {
            c.account_id = to;
            true
        })?])
    })
}

pub use model::{
    AccountRef, CONTACT_CATALOG, Contact, ContactInput, ContactPatch, ContactRow, EmailConsent, LifecycleStage,
};
