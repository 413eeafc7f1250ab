//! GraphQL for webhooks beyond their record: the delivery log, redelivery, secret rotation and
//! ping, through the same use cases as REST.

use async_graphql::{Context, Object};
use crm_core::ids::WebhookId;
use crm_webhooks::service::{self, Delivery, DeliveryDetail, DeliveryPage};
use crm_webhooks::{Attempt, DeliveryStatus};

use super::{gql, rc};
use crate::registry::webhooks::WebhookNode;

/// One page of a subscription's deliveries (shared by `Webhook.deliveries`).
pub async fn deliveries(
    ctx: &Context<'_>,
    id: WebhookId,
    status: Option<DeliveryStatus>,
    first: i32,
    before: Option<i64>,
) -> async_graphql::Result<DeliveryPage> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let limit = u32::try_from(first).unwrap_or(0);
    r.db.run(move |c| service::deliveries(c, &actor, id, status, before, limit)).await.map_err(gql)
}

#[derive(Default)]
pub struct WebhookViewsQuery;

#[Object]
impl WebhookViewsQuery {
    /// One delivery of a subscription, with its message and every attempt.
    async fn webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] webhook_id: WebhookId,
        #[graphql(desc = "The delivery (its `webhook-id`).")] id: uuid::Uuid,
    ) -> async_graphql::Result<DeliveryDetail> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| service::delivery(c, &actor, webhook_id, id)).await.map_err(gql)
    }
}

#[derive(Default)]
pub struct WebhookViewsMutation;

#[Object]
impl WebhookViewsMutation {
    /// Gives a subscription a new secret, returned once in `secret`; the previous one keeps
    /// signing beside it for `overlapHours`.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] id: WebhookId,
        #[graphql(desc = "0 to 168 hours (default 24).")] overlap_hours: Option<i64>,
    ) -> async_graphql::Result<WebhookNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let w = r.db.transaction(move |c| service::rotate_secret(c, &actor, id, overlap_hours)).await.map_err(gql)?;
        Ok(WebhookNode::from(w))
    }

    /// Sends one delivery again now, with the same message id and a fresh round of retries.
    async fn redeliver_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] webhook_id: WebhookId,
        #[graphql(desc = "The delivery (its `webhook-id`).")] id: uuid::Uuid,
    ) -> async_graphql::Result<Delivery> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| service::redeliver(c, &actor, webhook_id, id)).await.map_err(gql)
    }

    /// Sends again every delivery of the events after a change-feed seq; returns how many.
    async fn redeliver_webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] id: WebhookId,
        #[graphql(desc = "A change-feed seq: the deliveries of later events go again.")] after: i64,
    ) -> async_graphql::Result<i64> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let n = r.db.transaction(move |c| service::redeliver_since(c, &actor, id, after)).await.map_err(gql)?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// Sends a signed `webhook.ping` message now and answers what came of it.
    async fn ping_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] id: WebhookId,
    ) -> async_graphql::Result<Attempt> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let message = r.db.run(move |c| service::ping(c, &actor, id)).await.map_err(gql)?;
        let sender = ctx.data::<crate::webhooks::SenderSettings>()?;
        Ok(crate::webhooks::ping(sender, &message).await)
    }
}
