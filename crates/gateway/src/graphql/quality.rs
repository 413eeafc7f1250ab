//! GraphQL of duplicate detection (the same service functions as `/contacts/{id}/duplicates`,
//! `/duplicates`, `/duplicates/scan` and `/duplicates/settings`).

use async_graphql::{Context, Object};
use crm_core::ids::{AccountId, ContactId, EntityId};
use crm_quality::matching::{self, Candidate, DuplicateResource};
use crm_quality::scan::{self, DuplicatePairPage, ScanInput};
use crm_quality::settings::{self, DuplicateSettings};

use super::{gql, rc};
use crate::registry::accounts::AccountNode;
use crate::registry::contacts::ContactNode;
use crate::registry::leads::LeadNode;
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::ids::LeadId;
use crm_sales::Lead;

#[derive(Default)]
pub struct QualityQuery;

#[Object]
impl QualityQuery {
    /// The contacts that may be the same person, best first; see `GET /contacts/{id}/duplicates`.
    async fn contact_duplicates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact's id.")] id: ContactId,
    ) -> async_graphql::Result<Vec<Candidate>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| matching::contact_duplicates(c, &actor, id.uuid())).await.map_err(gql)
    }

    /// The accounts that may be the same company, best first; see `GET /accounts/{id}/duplicates`.
    async fn account_duplicates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's id.")] id: AccountId,
    ) -> async_graphql::Result<Vec<Candidate>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| matching::account_duplicates(c, &actor, id.uuid())).await.map_err(gql)
    }

    /// The pairs the last scan found, best first; see `GET /duplicates`.
    async fn duplicate_pairs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Contacts or accounts.")] resource: DuplicateResource,
        #[graphql(desc = "Only pairs scoring at least this (0 to 1).")] min_score: Option<f64>,
        #[graphql(desc = "1 to 1000 (default 100).")] first: Option<u32>,
        #[graphql(desc = "`nextAfter` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<DuplicatePairPage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| scan::pairs(c, &actor, resource, min_score, first, after.as_deref())).await.map_err(gql)
    }

    /// The matching rules; see `GET /duplicates/settings`.
    async fn duplicate_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<DuplicateSettings> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| settings::get(c, &actor)).await.map_err(gql)
    }
}

#[derive(Default)]
pub struct QualityMutation;

#[Object]
impl QualityMutation {
    /// Scans the base for duplicates as a job; see `POST /duplicates/scan`.
    async fn start_duplicate_scan(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "The resources (default both).")] input: ScanInput,
    ) -> async_graphql::Result<crm_records::jobs::Job> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| scan::start(c, &actor, &input)).await.map_err(gql)
    }

    /// Replaces the matching rules; see `PUT /duplicates/settings`.
    async fn set_duplicate_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Every rule and threshold.")] input: DuplicateSettings,
    ) -> async_graphql::Result<DuplicateSettings> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| settings::set(c, &actor, input)).await.map_err(gql)
    }

    /// Merges duplicate contacts into the survivor `id`; see `POST /contacts/{id}/merge`.
    async fn merge_contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The survivor's id.")] id: ContactId,
        #[graphql(desc = "The losers and the values chosen.")] input: MergeRecordsInput,
        #[graphql(desc = "The survivor's expected version.")] expected_version: Option<i64>,
    ) -> async_graphql::Result<ContactNode> {
        merged::<Contact>(ctx, id, input, expected_version).await.map(ContactNode::from)
    }

    /// Merges duplicate accounts into the survivor `id`; see `POST /accounts/{id}/merge`.
    async fn merge_accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The survivor's id.")] id: AccountId,
        #[graphql(desc = "The losers and the values chosen.")] input: MergeRecordsInput,
        #[graphql(desc = "The survivor's expected version.")] expected_version: Option<i64>,
    ) -> async_graphql::Result<AccountNode> {
        merged::<Account>(ctx, id, input, expected_version).await.map(AccountNode::from)
    }

    /// Merges duplicate leads into the survivor `id`; see `POST /leads/{id}/merge`.
    async fn merge_leads(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The survivor's id.")] id: LeadId,
        #[graphql(desc = "The losers and the values chosen.")] input: MergeRecordsInput,
        #[graphql(desc = "The survivor's expected version.")] expected_version: Option<i64>,
    ) -> async_graphql::Result<LeadNode> {
        merged::<Lead>(ctx, id, input, expected_version).await.map(LeadNode::from)
    }
}

/// A merge: the records merged into the survivor, and whose value each chosen field keeps.
#[derive(async_graphql::InputObject)]
pub struct MergeRecordsInput {
    /// The records merged into the survivor (1 to 10), which become archived tombstones.
    pub losers: Vec<uuid::Uuid>,
    /// Per field (its REST name, `email`), the record whose value the survivor keeps.
    #[graphql(default)]
    pub fields: Vec<MergeFieldChoice>,
}

/// The record whose value of a field the survivor keeps.
#[derive(async_graphql::InputObject)]
pub struct MergeFieldChoice {
    /// The field's REST (snake case) name: `email`, `custom_fields`.
    pub field: String,
    /// The survivor's or a loser's id.
    pub from: uuid::Uuid,
}

async fn merged<R>(
    ctx: &Context<'_>,
    id: R::Id,
    input: MergeRecordsInput,
    expected_version: Option<i64>,
) -> async_graphql::Result<R>
where
    R: crm_records::Record,
    R::Patch: serde::de::DeserializeOwned,
{
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let mut fields = std::collections::BTreeMap::new();
    for choice in input.fields {
        if fields.insert(choice.field.clone(), choice.from).is_some() {
            let message = format!("the field `{}` is chosen twice", choice.field);
            return Err(gql(crm_records::RecordError::invalid(R::ENTITY, "fields", "repeated", message)));
        }
    }
    let input = crm_records::MergeInput { losers: input.losers, fields };
    r.db.transaction(move |c| crm_records::merge::<R>(c, &actor, id, input, expected_version)).await.map_err(gql)
}
