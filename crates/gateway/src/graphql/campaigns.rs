//! GraphQL for campaign management: the same use cases as REST.

use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use crm_campaigns::members::{self, Member, MemberStatus, ResponseInput, Responses};
use crm_campaigns::segments::{self, SegmentDraft};
use crm_campaigns::sending::{self, CampaignMessage, SendStatus};
use crm_contacts::Contact;
use crm_core::ids::{CampaignId, ContactId, SegmentId};
use crm_core::list::Page;

use super::loaders::load_one;
use super::{gql, rc};
use crate::registry::contacts::ContactNode;
use crate::registry::segments::SegmentNode;

/// A campaign member, with its contact.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct MemberNode {
    #[graphql(flatten)]
    pub inner: Member,
}

#[ComplexObject]
impl MemberNode {
    /// The member's contact (batch-loaded).
    async fn contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ContactNode>> {
        Ok(load_one::<Contact>(ctx, Some(self.inner.contact_id)).await?.map(ContactNode::from))
    }
}

/// A page of campaign members.
#[derive(SimpleObject, Default)]
pub struct MemberConnection {
    pub nodes: Vec<MemberNode>,
    pub page_info: super::PageInfo,
    /// Members (of the status asked for).
    pub total_count: Option<i64>,
}

impl From<Page<Member>> for MemberConnection {
    fn from(page: Page<Member>) -> Self {
        MemberConnection {
            page_info: super::page_info(&page),
            total_count: page.total,
            nodes: page.data.into_iter().map(|inner| MemberNode { inner }).collect(),
        }
    }
}

/// A page of campaign messages.
#[derive(SimpleObject, Default)]
pub struct MessageConnection {
    pub nodes: Vec<CampaignMessage>,
    pub page_info: super::PageInfo,
}

/// One page of a campaign's messages (shared by `Campaign.messages`).
pub async fn campaign_messages(
    ctx: &Context<'_>,
    id: CampaignId,
    status: Option<SendStatus>,
    first: i32,
    after: Option<ContactId>,
) -> async_graphql::Result<MessageConnection> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let limit = u32::try_from(first).unwrap_or(1);
    let page = r.db.run(move |c| sending::messages(c, &actor, id, status, after, limit)).await.map_err(gql)?;
    Ok(MessageConnection { page_info: super::page_info(&page), nodes: page.data })
}

/// What a segment definition selects now.
#[derive(SimpleObject)]
pub struct SegmentPreviewResult {
    /// Members now.
    pub count: i64,
    /// The first members, in id order.
    pub nodes: Vec<ContactNode>,
}

/// One page of a campaign's members (shared by `Campaign.members`).
pub async fn campaign_members(
    ctx: &Context<'_>,
    id: CampaignId,
    status: Option<MemberStatus>,
    first: i32,
    after: Option<ContactId>,
) -> async_graphql::Result<MemberConnection> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let limit = u32::try_from(first).unwrap_or(1);
    let page = r.db.run(move |c| members::list(c, &actor, id, status, after, limit)).await.map_err(gql)?;
    Ok(page.into())
}

/// One page of a segment's members (shared by `Segment.members`).
pub async fn segment_members(
    ctx: &Context<'_>,
    id: SegmentId,
    first: i32,
    after: Option<ContactId>,
) -> async_graphql::Result<<Contact as super::record::GraphNode>::Connection> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let limit = u32::try_from(first).unwrap_or(1);
    let page = r.db.run(move |c| segments::members(c, &actor, id, after, limit)).await.map_err(gql)?;
    Ok(<Contact as super::record::GraphNode>::connection(page))
}

#[derive(Default)]
pub struct CampaignViewsQuery;

#[Object]
impl CampaignViewsQuery {
    /// The count and first members of a segment definition, without saving it.
    async fn segment_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The definition: criterion, included and excluded segments.")] draft: SegmentDraft,
        #[graphql(default = 20, validator(minimum = 1, maximum = 1000), desc = "Members to return.")] first: i32,
    ) -> async_graphql::Result<SegmentPreviewResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let limit = u32::try_from(first).unwrap_or(1);
        let p = r.db.run(move |c| segments::preview(c, &actor, draft, limit)).await.map_err(gql)?;
        Ok(SegmentPreviewResult { count: p.count, nodes: p.data.into_iter().map(ContactNode::from).collect() })
    }

    /// Launched campaigns side by side (best response rate first), and their figures per target
    /// segment and per promoted product; the 100 latest launched that match.
    async fn campaign_comparison(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which campaigns: a type, a programme's waves, a launch date range.", default)]
        filter: crm_campaigns::review::ComparisonQuery,
    ) -> async_graphql::Result<crm_campaigns::review::CampaignComparison> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_campaigns::review::compare(c, &actor, filter)).await.map_err(gql)
    }
}

/// The server's SMTP pool on a GraphQL request, when it sends email.
pub struct MailerHandle(pub Option<crate::mail::Mailer>);

#[derive(Default)]
pub struct CampaignViewsMutation;

#[Object]
impl CampaignViewsMutation {
    /// Takes a snapshot segment's membership again.
    async fn retake_segment_snapshot(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The snapshot segment.")] id: SegmentId,
    ) -> async_graphql::Result<SegmentNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let s = r.db.transaction(move |c| segments::retake_snapshot(c, &actor, id)).await.map_err(gql)?;
        Ok(SegmentNode::from(s))
    }

    /// Adds contacts to a campaign by hand before it runs; returns how many were added.
    async fn add_campaign_members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (planned or scheduled).")] id: CampaignId,
        #[graphql(desc = "1 to 10,000 contacts.")] contact_ids: Vec<ContactId>,
    ) -> async_graphql::Result<i64> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let n = r.db.transaction(move |c| members::add(c, &actor, id, &contact_ids)).await.map_err(gql)?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// Removes a member by hand before the campaign runs.
    async fn remove_campaign_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (planned or scheduled).")] id: CampaignId,
        #[graphql(desc = "The member's contact.")] contact_id: ContactId,
    ) -> async_graphql::Result<bool> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| members::remove(c, &actor, id, contact_id)).await.map_err(gql)?;
        Ok(true)
    }

    /// Records responses and delivery outcomes of a running or completed campaign, all or none.
    async fn record_campaign_responses(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (running or completed).")] id: CampaignId,
        #[graphql(desc = "1 to 10,000 responses.")] responses: Vec<ResponseInput>,
    ) -> async_graphql::Result<Responses> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| members::record_responses(c, &actor, id, responses)).await.map_err(gql)
    }

    /// Writes to a contact now through the server's SMTP server (a template, or a subject and
    /// text), and logs it as an outbound email interaction; see `POST /contacts/{id}/emails`.
    async fn send_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact to write to.")] contact_id: ContactId,
        #[graphql(desc = "A template, or a subject and text.")] input: crm_campaigns::emails::DirectEmailInput,
    ) -> async_graphql::Result<crate::registry::interactions::InteractionNode> {
        let r = rc(ctx)?;
        let mailer = ctx.data::<MailerHandle>()?.0.as_ref();
        let inner = crate::rest::emails::send(&r.db, mailer, r.actor.clone(), contact_id, input)
            .await
            .map_err(super::gql_error)?;
        Ok(crate::registry::interactions::InteractionNode { inner })
    }

    /// Hands in an email received: matched to what it answers and logged; see `POST
    /// /emails/inbound`.
    async fn receive_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The email as received.")] input: crm_campaigns::emails::InboundEmail,
    ) -> async_graphql::Result<crm_campaigns::emails::InboundResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_campaigns::emails::receive(c, &actor, input)).await.map_err(gql)
    }

    /// Marks the letters of a running post campaign posted: every member still `targeted` on its
    /// mailing list becomes `sent` (at `at`, default now).
    async fn mark_campaign_posted(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post campaign (running).")] id: CampaignId,
        #[graphql(desc = "When the letters were posted (default now).")] at: Option<crm_core::Timestamp>,
    ) -> async_graphql::Result<Responses> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_campaigns::mailing::mark_posted(c, &actor, id, at)).await.map_err(gql)
    }

    /// Sends the campaign's `unknown` messages again (an instance stopped while handing them
    /// over: they may or may not have gone out), on purpose; returns how many were queued.
    async fn retry_unknown_messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The campaign (running).")] id: CampaignId,
    ) -> async_graphql::Result<i64> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let n = r.db.transaction(move |c| sending::retry_unknown(c, &actor, id)).await.map_err(gql)?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
