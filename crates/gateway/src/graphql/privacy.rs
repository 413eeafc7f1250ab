//! GraphQL of data-subject requests, restrictions of processing and retention runs (legal
//! holds, retention policies and consent records are resources in the registry); the bundle of an access request is downloaded over
//! REST (`bundleUrl`). The same service functions as `/api/v1/privacy`.

use async_graphql::{Context, Object};
use crm_contacts::restrictions::Restriction;
use crm_core::ids::{JobId, RetentionPolicyId};
use crm_privacy::requests::{self, PrivacyRequest, PrivacyRequestInput};
use crm_privacy::retention::{self, RetentionPreview};
use crm_records::jobs::Job;

use super::{gql, rc};

#[derive(Default)]
pub struct PrivacyQuery;

#[Object]
impl PrivacyQuery {
    /// A data-subject request and how far it got (`privacy:read`); see `GET /privacy/requests/{id}`.
    async fn privacy_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The request's id.")] id: JobId,
    ) -> async_graphql::Result<Option<PrivacyRequest>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| requests::get(c, &actor, id)).await {
            Ok(req) => Ok(Some(req)),
            Err(crm_records::RecordError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// The newest data-subject requests (`privacy:read`); see `GET /privacy/requests`.
    async fn privacy_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 100 (default 20).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<PrivacyRequest>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| requests::list(c, &actor, limit)).await.map_err(gql)
    }

    /// What a retention policy would take now, writing nothing (`privacy:read`); see `POST
    /// /retention-policies/{id}/dry-run`.
    async fn retention_dry_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The policy's id.")] id: RetentionPolicyId,
    ) -> async_graphql::Result<RetentionPreview> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| retention::dry_run(c, &actor, id)).await.map_err(gql)
    }

    /// The restrictions of processing in force (`privacy:read`); see `GET /privacy/restrictions`.
    async fn processing_restrictions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 100 (default 20).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<Restriction>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| requests::restrictions(c, &actor, limit)).await.map_err(gql)
    }
}

#[derive(Default)]
pub struct PrivacyMutation;

#[Object]
impl PrivacyMutation {
    /// Starts a data-subject request (`privacy:write`); see `POST /privacy/requests`.
    async fn start_privacy_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the person asked for, and who they are.")] input: PrivacyRequestInput,
    ) -> async_graphql::Result<PrivacyRequest> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| requests::start(c, &actor, input)).await.map_err(gql)
    }

    /// Runs a retention policy now as a job (`privacy:write`); see `POST
    /// /retention-policies/{id}/run`.
    async fn run_retention_policy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The policy's id.")] id: RetentionPolicyId,
    ) -> async_graphql::Result<Job> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| retention::start(c, &actor, id)).await.map_err(gql)
    }
}
