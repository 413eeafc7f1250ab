//! GraphQL for the operational CRM: users, interactions, cases, products, purchases, and the
//! customer 360 view. Relations go through the request's batch loaders.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Object, SimpleObject};
use crm_cases::{CaseComment, CommentInput, CommentPage};
use crm_core::Actor;
use crm_core::ids::{CaseId, CommentId, UserId};
use crm_db::Db;
use crm_events::HistoryEntry;
use crm_products::{LineItem, Product};
use crm_timeline::{CustomerSummary, Subject, TimelineEntry, TimelineKind};
use crm_users::User;

use super::loaders::{MakeLoader, load_many, load_one};
use super::{gql, rc};
use crate::registry::activities::ActivityNode;
use crate::registry::cases::CaseNode;
use crate::registry::interactions::InteractionNode;
use crate::registry::opportunities::OpportunityNode;
use crate::registry::products::ProductNode;
use crate::registry::purchases::PurchaseNode;
use crate::registry::users::UserNode;

/// A purchase line with its product.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LineItemNode {
    #[graphql(flatten)]
    pub inner: LineItem,
}

#[async_graphql::ComplexObject]
impl LineItemNode {
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProductNode>> {
        Ok(load_one::<Product>(ctx, Some(self.inner.product_id)).await?.map(|inner| ProductNode { inner }))
    }
}

// ------------------------------------------------------------------------------------------
// Comments

/// A page of comments of one case.
#[derive(SimpleObject, Default)]
pub struct CaseCommentConnection {
    pub nodes: Vec<CaseComment>,
    pub page_info: super::PageInfo,
}

impl From<CommentPage> for CaseCommentConnection {
    fn from(p: CommentPage) -> Self {
        let end_cursor = p.next_after.map(|c| c.to_string());
        CaseCommentConnection {
            nodes: p.data,
            page_info: super::PageInfo { has_next_page: end_cursor.is_some(), end_cursor },
        }
    }
}

/// One case's page of comments.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentsKey {
    case: CaseId,
    after: Option<CommentId>,
    limit: u32,
}

impl CommentsKey {
    pub fn new(case: CaseId, after: Option<CommentId>, limit: u32) -> CommentsKey {
        CommentsKey { case, after, limit }
    }
}

/// First pages of many cases in one statement; later pages one by one.
pub struct CommentsLoader {
    db: Db,
    actor: Actor,
}

impl MakeLoader for CommentsLoader {
    fn make(db: Db, actor: Actor) -> Self {
        CommentsLoader { db, actor }
    }
}

impl Loader<CommentsKey> for CommentsLoader {
    type Value = CommentPage;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CommentsKey]) -> Result<HashMap<CommentsKey, CommentPage>, Self::Error> {
        let (actor, keys) = (self.actor.clone(), keys.to_vec());
        self.db
            .run(move |c| {
                let mut out = HashMap::new();
                let mut firsts: HashMap<u32, Vec<CaseId>> = HashMap::new();
                for k in &keys {
                    match k.after {
                        None => firsts.entry(k.limit).or_default().push(k.case),
                        Some(after) => {
                            out.insert(*k, crm_cases::list_comments(c, &actor, k.case, Some(after), k.limit)?);
                        }
                    }
                }
                for (limit, cases) in firsts {
                    for (case, page) in crm_cases::first_comments(c, &actor, &cases, limit)? {
                        out.insert(CommentsKey { case, after: None, limit }, page);
                    }
                }
                Ok::<_, crm_records::RecordError>(out)
            })
            .await
            .map_err(gql)
    }
}

#[derive(Default)]
pub struct CommentsMutation;

#[Object]
impl CommentsMutation {
    /// Replaces the case SLA policy (minutes to resolve, by priority).
    async fn set_sla_policy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Minutes to resolve per priority (it replaces the old policy).")] policy: crm_cases::SlaPolicy,
    ) -> async_graphql::Result<crm_cases::SlaPolicy> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_cases::set_sla_policy(c, &actor, policy)).await.map_err(gql)
    }

    /// Comments on a case (see REST `POST /cases/{id}/comments` for who may).
    async fn add_case_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The case to comment on.")] case_id: CaseId,
        #[graphql(desc = "The text, who may see it, and the department.")] input: CommentInput,
    ) -> async_graphql::Result<CaseComment> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_cases::add_comment(c, &actor, case_id, input)).await.map_err(gql)
    }
}

// ------------------------------------------------------------------------------------------
// The 360 view

/// One timeline entry; exactly one of `interaction`, `case`, `purchase`, `opportunity`,
/// `stageChange`, `activity`, `change`, `automation` is set, as `kind` says.
#[derive(SimpleObject)]
pub struct TimelineItemNode {
    pub kind: TimelineKind,
    pub occurred_at: crm_core::Timestamp,
    pub id: uuid::Uuid,
    pub interaction: Option<InteractionNode>,
    pub case: Option<CaseNode>,
    pub purchase: Option<PurchaseNode>,
    pub opportunity: Option<OpportunityNode>,
    pub stage_change: Option<crm_sales::StageVisit>,
    pub activity: Option<ActivityNode>,
    pub change: Option<HistoryEntry>,
    /// The automation run, for `AUTOMATION`.
    pub automation: Option<crm_automation::AutomationRun>,
}

/// One page of a customer's timeline, newest first.
#[derive(SimpleObject)]
pub struct TimelineConnection {
    /// The entries of this page.
    pub nodes: Vec<TimelineItemNode>,
    /// Whether older entries follow, and the cursor to get them.
    pub page_info: super::PageInfo,
}

pub async fn timeline(
    ctx: &Context<'_>,
    subject: Subject,
    kinds: Option<Vec<TimelineKind>>,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<TimelineConnection> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let kinds = kinds.unwrap_or_default();
    let limit = u32::try_from(first).unwrap_or(50);
    let page =
        r.db.run(move |c| crm_timeline::timeline(c, &actor, subject, &kinds, after.as_deref(), limit))
            .await
            .map_err(gql)?;
    let page_info = super::PageInfo { has_next_page: page.next_cursor.is_some(), end_cursor: page.next_cursor };
    let nodes = page
        .data
        .into_iter()
        .map(|i| {
            let mut node = TimelineItemNode {
                kind: i.kind,
                occurred_at: i.occurred_at,
                id: i.id,
                interaction: None,
                case: None,
                purchase: None,
                opportunity: None,
                stage_change: None,
                activity: None,
                change: None,
                automation: None,
            };
            match i.item {
                TimelineEntry::Interaction(inner) => node.interaction = Some(InteractionNode { inner }),
                TimelineEntry::Case(inner) => node.case = Some(CaseNode { inner }),
                TimelineEntry::Purchase(inner) => node.purchase = Some(PurchaseNode { inner }),
                TimelineEntry::Opportunity(inner) => node.opportunity = Some(OpportunityNode { inner }),
                TimelineEntry::StageChange(v) => node.stage_change = Some(v),
                TimelineEntry::Activity(inner) => node.activity = Some(ActivityNode { inner }),
                TimelineEntry::Change(e) => node.change = Some(e),
                TimelineEntry::Automation(run) => node.automation = Some(run),
            }
            node
        })
        .collect();
    Ok(TimelineConnection { nodes, page_info })
}

pub async fn summary(ctx: &Context<'_>, subject: Subject) -> async_graphql::Result<CustomerSummary> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    r.db.run(move |c| crm_timeline::summary(c, &actor, subject)).await.map_err(gql)
}

/// Queries that are not one resource's CRUD.
#[derive(Default)]
pub struct ViewsQuery;

#[Object]
impl ViewsQuery {
    /// The caller's own user (by the token's subject); null when there is none.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let user = r.db.transaction(move |c| crm_users::current_user(c, &actor)).await.map_err(gql)?;
        Ok(user.map(UserNode::from))
    }

    /// The case SLA policy.
    async fn sla_policy(&self, ctx: &Context<'_>) -> async_graphql::Result<crm_cases::SlaPolicy> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_cases::get_sla_policy(c, &actor)).await.map_err(gql)
    }

    /// Several users by id (unknown ids are left out).
    async fn users_by_ids(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The users' ids, at most 1000.", validator(max_items = 1000))] ids: Vec<UserId>,
    ) -> async_graphql::Result<Vec<UserNode>> {
        Ok(load_many::<User>(ctx, &ids).await?.into_iter().map(|inner| UserNode { inner }).collect())
    }
}
