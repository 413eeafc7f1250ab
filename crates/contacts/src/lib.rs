//! Contacts: the people the business deals with, usually at an account. Their use cases are
//! the generic ones of `crm_records` (`crm_records::create::<Contact>`, …); this crate holds
//! the model, its normalization and rules, and what other domains may read of contacts.

pub mod consents;
pub mod model;
pub mod read;
pub mod record;
pub mod restrictions;

use crm_core::ids::{AccountId, ContactId, EntityId};
use crm_records::hooks::{Hooks, Moved};
use crm_records::merge::repoint;

/// The contacts domain's side of merges: the contacts of a merged account move to the survivor,
/// and the consents of a merged contact (the person's latest word on each purpose and channel
/// stays: `consents::reassign`) and its restriction of processing.
pub fn hooks() -> Hooks {
    Hooks::new()
        .on_merge("account", |conn, actor, losers, survivor| {
            let to = Some(AccountId::from_uuid(survivor));
            Ok(vec![repoint::<Contact>(conn, actor, "account_id", losers, |c| {
                c.account_id = to;
                true
            })?])
        })
        .on_merge("contact", |conn, actor, losers, survivor| {
            let mut count = 0;
            for loser in losers {
                count += consents::reassign(conn, actor, ("contact_id", *loser), ContactId::from_uuid(survivor))?;
                restrictions::reassign(conn, ("contact", *loser), survivor)?;
            }
            Ok(vec![Moved { resource: "consents", field: "contact_id", count }])
        })
}

pub use consents::{Consent, ConsentChannel, ConsentInput, ConsentPatch, ConsentPurpose, ConsentStatus};
pub use model::{
    AccountRef, CONTACT_CATALOG, Contact, ContactInput, ContactPatch, ContactRow, EmailConsent, LifecycleStage,
};
