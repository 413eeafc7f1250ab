//! GraphQL of data-subject requests and restrictions of processing (legal holds and consent
//! records are resources in the registry); the bundle of an access request is downloaded over
//! REST (`bundleUrl`). The same service functions as `/api/v1/privacy`.

use async_graphql::{Context, Object};
use crm_contacts::restrictions::Restriction;
use crm_core::ids::JobId;
use crm_privacy::requests::{self, PrivacyRequest, PrivacyRequestInput};

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
}
