//! GraphQL for the operational CRM: users, interactions, cases, products, purchases, and the
//! customer 360 view. Relations go through the request's batch loaders.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, MergedObject, Object, SimpleObject};
use crm_accounts::Account;
use crm_cases::{Case, CaseComment, CaseInput, CasePatch, CommentInput, CommentPage};
use crm_contacts::Contact;
use crm_core::Actor;
use crm_core::ids::{CaseId, CommentId, InteractionId, ProductId, PurchaseId, UserId};
use crm_db::Db;
use crm_events::HistoryEntry;
use crm_interactions::{Interaction, InteractionInput, InteractionPatch};
use crm_products::{LineItem, Product, ProductInput, ProductPatch, Purchase, PurchaseInput, PurchasePatch};
use crm_timeline::{CustomerSummary, Subject, TimelineEntry, TimelineKind};
use crm_users::{User, UserInput, UserPatch};

use super::customers::ContactNode;
use super::loaders::{MakeLoader, load_many, load_one, loaders};
use super::{gql, rc};

crate::record_graphql! {
    /// A member of staff: record owner, interaction author, case assignee.
    record: User, id: UserId, input: UserInput, patch: UserPatch,
    node: UserNode as "User", connection: UserConnection, upsert_result: UpsertUserResult,
    batch_op: UserBatchOp(UserUpdateOp, UserUpsertOp, UserDeleteOp),
    query: UsersQuery { user, users, user_by_external_id },
    mutation: UsersMutation { create_user, update_user, archive_user, restore_user, upsert_user, batch_users },
    relations {},
    children {},
    fields {}
}

crate::record_graphql! {
    /// One entry of the contact history: a call, email, meeting, note, visit, SMS, chat or web visit.
    record: Interaction, id: InteractionId, input: InteractionInput, patch: InteractionPatch,
    node: InteractionNode as "Interaction", connection: InteractionConnection, upsert_result: UpsertInteractionResult,
    batch_op: InteractionBatchOp(InteractionUpdateOp, InteractionUpsertOp, InteractionDeleteOp),
    query: InteractionsQuery { interaction, interactions, interaction_by_external_id },
    mutation: InteractionsMutation {
        create_interaction, update_interaction, archive_interaction, restore_interaction, upsert_interaction,
        batch_interactions
    },
    relations {
        /// The account (the first contact's unless given).
        account(account_id): Account,
        /// The user who logged it.
        author(author_id): User,
        /// The case it was about.
        case(case_id): Case,
    },
    children {},
    fields {
        /// The people involved, in the order given.
        async fn contacts(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<ContactNode>> {
            Ok(load_many::<Contact>(ctx, &self.inner.contact_ids).await?.into_iter().map(ContactNode::from).collect())
        }
    }
}

crate::record_graphql! {
    /// A support case: an inquiry, complaint, claim or ticket.
    record: Case, id: CaseId, input: CaseInput, patch: CasePatch,
    node: CaseNode as "Case", connection: CaseConnection, upsert_result: UpsertCaseResult,
    batch_op: CaseBatchOp(CaseUpdateOp, CaseUpsertOp, CaseDeleteOp),
    query: CasesQuery { case, cases, case_by_external_id },
    mutation: CasesMutation { create_case, update_case, archive_case, restore_case, upsert_case, batch_cases },
    relations {
        /// The customer who raised it.
        contact(contact_id): Contact,
        /// The customer's account.
        account(account_id): Account,
        /// Who works on it.
        assignee(assignee_id): User,
    },
    children {},
    fields {
        /// Comments, oldest first, `first` (1 to 1000) at a time; `after` takes `endCursor`
        /// (the same pages as REST `GET /cases/{id}/comments`).
        async fn comments(
            &self,
            ctx: &async_graphql::Context<'_>,
            #[graphql(default = 100)] first: i32,
            after: Option<CommentId>,
        ) -> async_graphql::Result<CaseCommentConnection> {
            let limit = u32::try_from(first).unwrap_or(0);
            let key = CommentsKey { case: self.inner.id, after, limit };
            let page = loaders(ctx)?.get::<CommentsLoader>().load_one(key).await?;
            Ok(page.map(CaseCommentConnection::from).unwrap_or_default())
        }
    }
}

crate::record_graphql! {
    /// A product of the catalog.
    record: Product, id: ProductId, input: ProductInput, patch: ProductPatch,
    node: ProductNode as "Product", connection: ProductConnection, upsert_result: UpsertProductResult,
    batch_op: ProductBatchOp(ProductUpdateOp, ProductUpsertOp, ProductDeleteOp),
    query: ProductsQuery { product, products, product_by_external_id },
    mutation: ProductsMutation { create_product, update_product, archive_product, restore_product, upsert_product, batch_products },
    relations {},
    children {},
    fields {}
}

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

crate::record_graphql! {
    /// An order a customer placed, with its priced lines.
    record: Purchase, id: PurchaseId, input: PurchaseInput, patch: PurchasePatch,
    node: PurchaseNode as "Purchase", connection: PurchaseConnection, upsert_result: UpsertPurchaseResult,
    batch_op: PurchaseBatchOp(PurchaseUpdateOp, PurchaseUpsertOp, PurchaseDeleteOp),
    query: PurchasesQuery { purchase, purchases, purchase_by_external_id },
    mutation: PurchasesMutation {
        create_purchase, update_purchase, archive_purchase, restore_purchase, upsert_purchase, batch_purchases
    },
    relations {
        /// The customer's account.
        account(account_id): Account,
        /// The customer who bought.
        contact(contact_id): Contact,
    },
    children {},
    fields {
        /// The lines with their products (one batch for all products).
        async fn items(&self) -> Vec<LineItemNode> {
            self.inner.lines.iter().cloned().map(|inner| LineItemNode { inner }).collect()
        }
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
        policy: crm_cases::SlaPolicy,
    ) -> async_graphql::Result<crm_cases::SlaPolicy> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_cases::set_sla_policy(c, &actor, policy)).await.map_err(gql)
    }

    /// Comments on a case (see REST `POST /cases/{id}/comments` for who may).
    async fn add_case_comment(
        &self,
        ctx: &Context<'_>,
        case_id: CaseId,
        input: CommentInput,
    ) -> async_graphql::Result<CaseComment> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_cases::add_comment(c, &actor, case_id, input)).await.map_err(gql)
    }
}

// ------------------------------------------------------------------------------------------
// The 360 view

/// One timeline entry; exactly one of `interaction`, `case`, `purchase`, `change` is set,
/// as `kind` says.
#[derive(SimpleObject)]
pub struct TimelineItemNode {
    pub kind: TimelineKind,
    pub occurred_at: crm_core::Timestamp,
    pub id: uuid::Uuid,
    pub interaction: Option<InteractionNode>,
    pub case: Option<CaseNode>,
    pub purchase: Option<PurchaseNode>,
    pub change: Option<HistoryEntry>,
}

#[derive(SimpleObject)]
pub struct TimelineConnection {
    pub nodes: Vec<TimelineItemNode>,
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
                change: None,
            };
            match i.item {
                TimelineEntry::Interaction(inner) => node.interaction = Some(InteractionNode { inner }),
                TimelineEntry::Case(inner) => node.case = Some(CaseNode { inner }),
                TimelineEntry::Purchase(inner) => node.purchase = Some(PurchaseNode { inner }),
                TimelineEntry::Change(e) => node.change = Some(e),
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
    async fn users_by_ids(&self, ctx: &Context<'_>, ids: Vec<UserId>) -> async_graphql::Result<Vec<UserNode>> {
        Ok(load_many::<User>(ctx, &ids).await?.into_iter().map(|inner| UserNode { inner }).collect())
    }
}

#[derive(MergedObject, Default)]
pub struct OperationalQuery(UsersQuery, InteractionsQuery, CasesQuery, ProductsQuery, PurchasesQuery, ViewsQuery);

#[derive(MergedObject, Default)]
pub struct OperationalMutation(
    UsersMutation,
    InteractionsMutation,
    CasesMutation,
    CommentsMutation,
    ProductsMutation,
    PurchasesMutation,
);
