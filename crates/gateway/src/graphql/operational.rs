//! GraphQL for the operational CRM: users, interactions, cases, products, purchases, and the
//! customer 360 view. Relations go through request-scoped batch loaders.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, MergedObject, Object, SimpleObject};
use crm_cases::{Case, CaseComment, CaseInput, CasePatch, CommentInput};
use crm_core::Actor;
use crm_core::ids::{CaseId, InteractionId, ProductId, PurchaseId, UserId};
use crm_db::Db;
use crm_events::HistoryEntry;
use crm_interactions::{Interaction, InteractionInput, InteractionPatch};
use crm_products::{LineItem, Product, ProductInput, ProductPatch, Purchase, PurchaseInput, PurchasePatch};
use crm_timeline::{CustomerSummary, Subject, TimelineEntry, TimelineKind};
use crm_users::{User, UserInput, UserPatch};

use super::record::{load_many, load_one, loader};
use super::{AccountNode, AccountsLoader, ContactByIdLoader, ContactNode, LOADER_WINDOW, gql, rc};

/// The account behind an optional id, through the request's loader.
pub async fn account_node(
    ctx: &Context<'_>,
    id: Option<crm_core::ids::AccountId>,
) -> async_graphql::Result<Option<AccountNode>> {
    let Some(id) = id else { return Ok(None) };
    Ok(ctx.data::<AccountsLoader>()?.load_one(id).await?.map(|inner| AccountNode { inner }))
}

pub async fn contact_node(
    ctx: &Context<'_>,
    id: Option<crm_core::ids::ContactId>,
) -> async_graphql::Result<Option<ContactNode>> {
    let Some(id) = id else { return Ok(None) };
    Ok(ctx.data::<ContactByIdLoader>()?.load_one(id).await?.map(|inner| ContactNode { inner }))
}

/// The user behind an optional id.
pub async fn user_node(ctx: &Context<'_>, id: Option<UserId>) -> async_graphql::Result<Option<UserNode>> {
    Ok(load_one::<User>(ctx, id).await?.map(|inner| UserNode { inner }))
}

crate::record_graphql! {
    record: User, id: UserId, input: UserInput, patch: UserPatch,
    node: UserNode as "User", connection: UserConnection, upsert_result: UpsertUserResult,
    batch_op: UserBatchOp(UserUpdateOp, UserUpsertOp, UserDeleteOp),
    query: UsersQuery { user, users, user_by_external_id },
    mutation: UsersMutation { create_user, update_user, archive_user, restore_user, upsert_user, batch_users },
    fields {}
}

crate::record_graphql! {
    record: Interaction, id: InteractionId, input: InteractionInput, patch: InteractionPatch,
    node: InteractionNode as "Interaction", connection: InteractionConnection, upsert_result: UpsertInteractionResult,
    batch_op: InteractionBatchOp(InteractionUpdateOp, InteractionUpsertOp, InteractionDeleteOp),
    query: InteractionsQuery { interaction, interactions, interaction_by_external_id },
    mutation: InteractionsMutation {
        create_interaction, update_interaction, archive_interaction, restore_interaction, upsert_interaction,
        batch_interactions
    },
    fields {
        /// The people involved, in the order given.
        async fn contacts(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<ContactNode>> {
            let found = ctx.data::<ContactByIdLoader>()?.load_many(self.inner.contact_ids.iter().copied()).await?;
            Ok(self.inner.contact_ids.iter().filter_map(|id| found.get(id).cloned()).map(|inner| ContactNode { inner }).collect())
        }

        async fn account(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
            account_node(ctx, self.inner.account_id).await
        }

        async fn author(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<UserNode>> {
            user_node(ctx, self.inner.author_id).await
        }

        async fn case(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<CaseNode>> {
            Ok(load_one::<Case>(ctx, self.inner.case_id).await?.map(|inner| CaseNode { inner }))
        }
    }
}

crate::record_graphql! {
    record: Case, id: CaseId, input: CaseInput, patch: CasePatch,
    node: CaseNode as "Case", connection: CaseConnection, upsert_result: UpsertCaseResult,
    batch_op: CaseBatchOp(CaseUpdateOp, CaseUpsertOp, CaseDeleteOp),
    query: CasesQuery { case, cases, case_by_external_id },
    mutation: CasesMutation { create_case, update_case, archive_case, restore_case, upsert_case, batch_cases },
    fields {
        async fn contact(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<ContactNode>> {
            contact_node(ctx, self.inner.contact_id).await
        }

        async fn account(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
            account_node(ctx, self.inner.account_id).await
        }

        async fn assignee(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<UserNode>> {
            user_node(ctx, self.inner.assignee_id).await
        }

        /// Comments, oldest first.
        async fn comments(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<CaseComment>> {
            Ok(ctx.data::<CommentsLoader>()?.load_one(self.inner.id).await?.unwrap_or_default())
        }
    }
}

crate::record_graphql! {
    record: Product, id: ProductId, input: ProductInput, patch: ProductPatch,
    node: ProductNode as "Product", connection: ProductConnection, upsert_result: UpsertProductResult,
    batch_op: ProductBatchOp(ProductUpdateOp, ProductUpsertOp, ProductDeleteOp),
    query: ProductsQuery { product, products, product_by_external_id },
    mutation: ProductsMutation { create_product, update_product, archive_product, restore_product, upsert_product, batch_products },
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
    record: Purchase, id: PurchaseId, input: PurchaseInput, patch: PurchasePatch,
    node: PurchaseNode as "Purchase", connection: PurchaseConnection, upsert_result: UpsertPurchaseResult,
    batch_op: PurchaseBatchOp(PurchaseUpdateOp, PurchaseUpsertOp, PurchaseDeleteOp),
    query: PurchasesQuery { purchase, purchases, purchase_by_external_id },
    mutation: PurchasesMutation {
        create_purchase, update_purchase, archive_purchase, restore_purchase, upsert_purchase, batch_purchases
    },
    fields {
        async fn account(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
            account_node(ctx, self.inner.account_id).await
        }

        async fn contact(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<ContactNode>> {
            contact_node(ctx, self.inner.contact_id).await
        }

        /// The lines with their products (one batch for all products).
        async fn items(&self) -> Vec<LineItemNode> {
            self.inner.lines.iter().cloned().map(|inner| LineItemNode { inner }).collect()
        }
    }
}

// ------------------------------------------------------------------------------------------
// Comments

pub struct CommentsByCaseLoader {
    db: Db,
    actor: Actor,
}

impl Loader<CaseId> for CommentsByCaseLoader {
    type Value = Vec<CaseComment>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CaseId]) -> Result<HashMap<CaseId, Vec<CaseComment>>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self.db.run(move |c| crm_cases::comments_of_cases(c, &actor, &ids)).await.map_err(gql)?;
        let mut out: HashMap<CaseId, Vec<CaseComment>> = HashMap::new();
        for c in found {
            out.entry(c.case_id).or_default().push(c);
        }
        Ok(out)
    }
}

type CommentsLoader = DataLoader<CommentsByCaseLoader, HashMapCache>;

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
        Ok(user.map(|inner| UserNode { inner }))
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

/// Adds the request-scoped loaders of these resources to a request.
pub fn with_loaders(request: async_graphql::Request, db: &Db, actor: &Actor) -> async_graphql::Request {
    request
        .data(loader::<User>(db.clone(), actor.clone()))
        .data(loader::<Interaction>(db.clone(), actor.clone()))
        .data(loader::<Case>(db.clone(), actor.clone()))
        .data(loader::<Product>(db.clone(), actor.clone()))
        .data(loader::<Purchase>(db.clone(), actor.clone()))
        .data(
            DataLoader::with_cache(
                CommentsByCaseLoader { db: db.clone(), actor: actor.clone() },
                actix_web::rt::spawn,
                HashMapCache::default(),
            )
            .delay(LOADER_WINDOW),
        )
}
