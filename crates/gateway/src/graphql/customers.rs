//! GraphQL for the customer base: accounts and contacts, with their 360 view, and the change
//! feed.

use async_graphql::{Context, MergedObject, Object};
use crm_accounts::{Account, AccountInput, AccountPatch};
use crm_contacts::{Contact, ContactInput, ContactPatch};
use crm_core::Long;
use crm_core::ids::{AccountId, ContactId};
use crm_events::ChangePage;
use crm_users::User;

use super::operational::{self, TimelineConnection};
use super::{gql, rc};

crate::record_graphql! {
    /// A company or organisation.
    record: Account, id: AccountId, input: AccountInput, patch: AccountPatch,
    node: AccountNode as "Account", connection: AccountConnection, upsert_result: UpsertAccountResult,
    batch_op: AccountBatchOp(AccountUpdateOp, AccountUpsertOp, AccountDeleteOp),
    query: AccountsQuery { account, accounts, account_by_external_id },
    mutation: AccountsMutation { create_account, update_account, archive_account, restore_account, upsert_account, batch_accounts },
    relations {
        /// The record owner.
        owner(owner_id): User,
    },
    children {
        /// Live contacts at this account (newest first unless `orderBy` says otherwise).
        contacts("account_id"): Contact,
    },
    fields {
        /// Interactions, cases, purchases and changes, newest first.
        async fn timeline(
            &self,
            ctx: &async_graphql::Context<'_>,
            kinds: Option<Vec<crm_timeline::TimelineKind>>,
            #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
            after: Option<String>,
        ) -> async_graphql::Result<TimelineConnection> {
            operational::timeline(ctx, crm_timeline::Subject::Account(self.inner.id), kinds, first, after).await
        }

        /// Open cases, last contact, purchases and products owned at a glance.
        async fn summary(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<crm_timeline::CustomerSummary> {
            operational::summary(ctx, crm_timeline::Subject::Account(self.inner.id)).await
        }
    }
}

crate::record_graphql! {
    /// A person.
    record: Contact, id: ContactId, input: ContactInput, patch: ContactPatch,
    node: ContactNode as "Contact", connection: ContactConnection, upsert_result: UpsertContactResult,
    batch_op: ContactBatchOp(ContactUpdateOp, ContactUpsertOp, ContactDeleteOp),
    query: ContactsQuery { contact, contacts, contact_by_external_id },
    mutation: ContactsMutation { create_contact, update_contact, archive_contact, restore_contact, upsert_contact, batch_contacts },
    relations {
        /// The account this person works at.
        account(account_id): Account,
        /// The record owner.
        owner(owner_id): User,
    },
    children {},
    fields {
        /// Interactions, cases, purchases and changes, newest first.
        async fn timeline(
            &self,
            ctx: &async_graphql::Context<'_>,
            kinds: Option<Vec<crm_timeline::TimelineKind>>,
            #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
            after: Option<String>,
        ) -> async_graphql::Result<TimelineConnection> {
            operational::timeline(ctx, crm_timeline::Subject::Contact(self.inner.id), kinds, first, after).await
        }

        /// Open cases, last contact, purchases and products owned at a glance.
        async fn summary(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<crm_timeline::CustomerSummary> {
            operational::summary(ctx, crm_timeline::Subject::Contact(self.inner.id)).await
        }
    }
}

/// The change feed.
#[derive(Default)]
pub struct ChangesQuery;

#[Object]
impl ChangesQuery {
    /// The change feed: events after `after`, in commit order. Follow `nextAfter`.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] after: Long,
        types: Option<Vec<String>>,
        #[graphql(default = 100)] first: i32,
    ) -> async_graphql::Result<ChangePage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let types = types.unwrap_or_default();
        let limit = u32::try_from(first).unwrap_or(0);
        r.db.run(move |c| crm_events::list_changes(c, &actor, after.0, &types, limit)).await.map_err(gql)
    }
}

#[derive(MergedObject, Default)]
pub struct CustomersQuery(AccountsQuery, ContactsQuery, ChangesQuery);

#[derive(MergedObject, Default)]
pub struct CustomersMutation(AccountsMutation, ContactsMutation);
