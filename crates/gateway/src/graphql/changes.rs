//! GraphQL for the change feed and the audit log (accounts and contacts are in the registry).

use async_graphql::{Context, Object};
use crm_core::{Long, Timestamp};
use crm_events::audit::{AuditPage, AuditQuery};
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

    /// The audit log, newest first (`audit:read`: administrators): permission changes, API key
    /// use and refusals, exports, imports, archives and merges. Follow `nextBefore`.
    #[allow(clippy::too_many_arguments)]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Entries of this actor (a token's subject, or `api_key:<id>`).")] actor: Option<String>,
        #[graphql(desc = "An action (`api_key.created`), a prefix ending in `*` (`api_key.*`), or a suffix after a \
                          leading `*` (`*.archived`).")]
        action: Option<String>,
        #[graphql(desc = "Entries about records of this resource (entity name).")] entity: Option<String>,
        #[graphql(desc = "Entries about this record.")] record_id: Option<uuid::Uuid>,
        #[graphql(desc = "Entries at or after this instant.")] since: Option<Timestamp>,
        #[graphql(desc = "Entries before this instant.")] until: Option<Timestamp>,
        #[graphql(desc = "Entries before this position (`nextBefore` of the previous page).")] before: Option<Long>,
        #[graphql(default = 100, desc = "Entries per page, 1 to 1000.")] first: i32,
    ) -> async_graphql::Result<AuditPage> {
        let r = rc(ctx)?;
        let caller = r.actor.clone();
        let q = AuditQuery {
            actor,
            action,
            entity,
            record_id,
            since,
            until,
            before: before.map(|b| b.0),
            limit: Some(u32::try_from(first).unwrap_or(0)),
        };
        r.db.run(move |c| crm_events::audit::list(c, &caller, &q)).await.map_err(gql)
    }
}
