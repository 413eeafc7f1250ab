//! GraphQL for the change feed (accounts and contacts are in the registry).

use async_graphql::{Context, Object};
use crm_core::Long;
use crm_events::{ChangePage, FeedBounds};

use super::{gql, rc};

/// The change feed.
#[derive(Default)]
pub struct ChangesQuery;

#[Object]
impl ChangesQuery {
    /// The change feed: events after `after`, in commit order. Follow `nextAfter`.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "The last event seen (`nextAfter` of the previous page); 0 from the start.")]
        after: Long,
        #[graphql(desc = "Only these event types (`contact.updated`, …); all by default.")] types: Option<Vec<String>>,
        #[graphql(default = 100, desc = "Events per page, 1 to 1000.")] first: i32,
    ) -> async_graphql::Result<ChangePage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let types = types.unwrap_or_default();
        let limit = u32::try_from(first).unwrap_or(0);
        r.db.run(move |c| crm_records::visibility::changes(c, &actor, after.0, &types, limit)).await.map_err(gql)
    }

    /// Where the change feed stands: its head (note it before a full export, then follow from
    /// it) and the oldest event still kept.
    async fn change_feed_bounds(&self, ctx: &Context<'_>) -> async_graphql::Result<FeedBounds> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_events::read_feed_bounds(c, &actor)).await.map_err(gql)
    }
}
