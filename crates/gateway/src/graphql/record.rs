//! The GraphQL surface of a resource built on `crm_records::Record`, declared once, and the
//! generic batch loader every relation to such a resource goes through.

use std::collections::HashMap;
use std::marker::PhantomData;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use crm_core::Actor;
use crm_db::Db;
use crm_records::Record;

use super::gql;

/// Loads records of `R` by id, many keys in one statement.
pub struct RecordLoader<R> {
    db: Db,
    actor: Actor,
    _record: PhantomData<fn() -> R>,
}

impl<R: Record> Loader<R::Id> for RecordLoader<R> {
    type Value = R;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[R::Id]) -> Result<HashMap<R::Id, R>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self.db.run(move |c| crm_records::get_many::<R>(c, &actor, &ids)).await.map_err(gql)?;
        Ok(found.into_iter().map(|r| (r.id(), r)).collect())
    }
}

/// The request-scoped loader of `R` (see `graphql_post`).
pub type Loaded<R> = DataLoader<RecordLoader<R>, HashMapCache>;

pub fn loader<R: Record>(db: Db, actor: Actor) -> Loaded<R> {
    DataLoader::with_cache(
        RecordLoader { db, actor, _record: PhantomData },
        actix_web::rt::spawn,
        HashMapCache::default(),
    )
    .delay(super::LOADER_WINDOW)
}

/// Loads one related record through the request's loader.
pub async fn load_one<R: Record>(
    ctx: &async_graphql::Context<'_>,
    id: Option<R::Id>,
) -> async_graphql::Result<Option<R>> {
    match id {
        Some(id) => Ok(ctx.data::<Loaded<R>>()?.load_one(id).await?),
        None => Ok(None),
    }
}

/// Loads several related records, in the order of `ids` (missing ones skipped).
pub async fn load_many<R: Record>(ctx: &async_graphql::Context<'_>, ids: &[R::Id]) -> async_graphql::Result<Vec<R>> {
    let found = ctx.data::<Loaded<R>>()?.load_many(ids.iter().copied()).await?;
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// Declares a resource's node, connection, queries and mutations. `fields { … }` adds resolvers
/// (relations) to the node; the node always has `history`.
#[macro_export]
macro_rules! record_graphql {
    (
        record: $T:ty, id: $Id:ty, input: $Input:ty, patch: $Patch:ty,
        node: $Node:ident as $gql_name:literal, connection: $Conn:ident, upsert_result: $Up:ident,
        batch_op: $BOp:ident ($UpdOp:ident, $UpsOp:ident, $DelOp:ident),
        query: $Query:ident { $one:ident, $list:ident, $by_ext:ident },
        mutation: $Mutation:ident { $create:ident, $update:ident, $archive:ident, $restore:ident, $upsert:ident, $batch:ident },
        fields { $($extra:tt)* }
    ) => {
        #[derive(async_graphql::SimpleObject)]
        #[graphql(name = $gql_name, complex)]
        pub struct $Node {
            #[graphql(flatten)]
            pub inner: $T,
        }

        #[async_graphql::ComplexObject]
        impl $Node {
            /// Field history, newest first.
            async fn history(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(default = 50, validator(minimum = 1, maximum = 1000))] first: i32,
                before: Option<crm_core::Long>,
            ) -> async_graphql::Result<Vec<crm_events::HistoryEntry>> {
                let r = $crate::graphql::rc(ctx)?;
                let (actor, id) = (r.actor.clone(), self.inner.id);
                let limit = u32::try_from(first).unwrap_or(50);
                r.db.run(move |c| crm_records::history::<$T>(c, &actor, id, before.map(|b| b.0), limit))
                    .await
                    .map_err($crate::graphql::gql)
            }

            $($extra)*
        }

        #[derive(async_graphql::SimpleObject)]
        pub struct $Conn {
            pub nodes: Vec<$Node>,
            pub page_info: $crate::graphql::PageInfo,
            /// Computed only when selected.
            pub total_count: Option<i64>,
        }

        #[derive(async_graphql::SimpleObject)]
        pub struct $Up {
            pub node: $Node,
            /// True when the upsert created the record.
            pub created: bool,
        }

        #[derive(async_graphql::InputObject)]
        pub struct $UpdOp {
            pub id: $Id,
            pub patch: $Patch,
            pub expected_version: Option<i64>,
        }

        #[derive(async_graphql::InputObject)]
        pub struct $UpsOp {
            pub external_id: crm_core::ExternalId,
            pub patch: $Patch,
        }

        #[derive(async_graphql::InputObject)]
        pub struct $DelOp {
            pub id: $Id,
            pub expected_version: Option<i64>,
        }

        /// One batch operation: set exactly one.
        #[derive(async_graphql::OneofObject)]
        pub enum $BOp {
            Create($Input),
            Update($UpdOp),
            Upsert($UpsOp),
            Delete($DelOp),
        }

        impl From<$BOp> for crm_records::Op<$T> {
            fn from(op: $BOp) -> Self {
                use crm_core::external::BatchOp;
                match op {
                    $BOp::Create(data) => BatchOp::Create { data },
                    $BOp::Update(u) => BatchOp::Update { id: u.id, data: u.patch, expected_version: u.expected_version },
                    $BOp::Upsert(u) => BatchOp::Upsert { external_id: u.external_id, data: u.patch },
                    $BOp::Delete(d) => BatchOp::Delete { id: d.id, expected_version: d.expected_version },
                }
            }
        }

        #[derive(Default)]
        pub struct $Query;

        #[async_graphql::Object]
        impl $Query {
            /// One record by id; null when it does not exist.
            async fn $one(&self, ctx: &async_graphql::Context<'_>, id: $Id) -> async_graphql::Result<Option<$Node>> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                match r.db.run(move |c| crm_records::get::<$T>(c, &actor, id)).await {
                    Ok(inner) => Ok(Some($Node { inner })),
                    Err(crm_records::RecordError::NotFound { .. }) => Ok(None),
                    Err(e) => Err($crate::graphql::gql(e)),
                }
            }

            /// Keyset-paginated. `filter` takes the REST filter grammar; `where` the same as objects.
            #[allow(clippy::too_many_arguments)]
            async fn $list(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(default = 50)] first: i32,
                after: Option<String>,
                filter: Option<String>,
                #[graphql(name = "where")] where_: Option<$crate::graphql::FilterInput>,
                order_by: Option<Vec<String>>,
                search: Option<String>,
                #[graphql(default)] archived: $crate::graphql::ArchivedFilter,
            ) -> async_graphql::Result<$Conn> {
                let r = $crate::graphql::rc(ctx)?;
                let count = ctx.look_ahead().field("totalCount").exists();
                let params =
                    $crate::graphql::list_params(first, after, filter, where_, order_by, search, archived, count)?;
                let actor = r.actor.clone();
                let page = r.db.run(move |c| crm_records::list::<$T>(c, &actor, &params)).await.map_err($crate::graphql::gql)?;
                Ok($Conn {
                    page_info: $crate::graphql::page_info(&page),
                    total_count: page.total,
                    nodes: page.data.into_iter().map(|inner| $Node { inner }).collect(),
                })
            }

            /// The record that carries an external id; null when none does.
            async fn $by_ext(
                &self,
                ctx: &async_graphql::Context<'_>,
                external_id: crm_core::ExternalId,
            ) -> async_graphql::Result<Option<$Node>> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                match r.db.run(move |c| crm_records::get_by_external_id::<$T>(c, &actor, external_id)).await {
                    Ok(inner) => Ok(Some($Node { inner })),
                    Err(crm_records::RecordError::NotFound { .. }) => Ok(None),
                    Err(e) => Err($crate::graphql::gql(e)),
                }
            }
        }

        #[derive(Default)]
        pub struct $Mutation;

        #[async_graphql::Object]
        impl $Mutation {
            async fn $create(&self, ctx: &async_graphql::Context<'_>, input: $Input) -> async_graphql::Result<$Node> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let inner =
                    r.db.transaction(move |c| crm_records::create::<$T>(c, &actor, input)).await.map_err($crate::graphql::gql)?;
                Ok($Node { inner })
            }

            /// Merge patch. With `expectedVersion`, a stale version fails with VERSION_CONFLICT.
            async fn $update(
                &self,
                ctx: &async_graphql::Context<'_>,
                id: $Id,
                patch: $Patch,
                expected_version: Option<i64>,
            ) -> async_graphql::Result<$Node> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let inner = r
                    .db
                    .transaction(move |c| crm_records::update::<$T>(c, &actor, id, patch, expected_version))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Node { inner })
            }

            async fn $archive(
                &self,
                ctx: &async_graphql::Context<'_>,
                id: $Id,
                expected_version: Option<i64>,
            ) -> async_graphql::Result<$Node> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let inner = r
                    .db
                    .transaction(move |c| crm_records::archive::<$T>(c, &actor, id, expected_version))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Node { inner })
            }

            async fn $restore(
                &self,
                ctx: &async_graphql::Context<'_>,
                id: $Id,
                expected_version: Option<i64>,
            ) -> async_graphql::Result<$Node> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let inner = r
                    .db
                    .transaction(move |c| crm_records::restore::<$T>(c, &actor, id, expected_version))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Node { inner })
            }

            /// Creates or updates the record that carries `externalId` (merge patch on update).
            async fn $upsert(
                &self,
                ctx: &async_graphql::Context<'_>,
                external_id: crm_core::ExternalId,
                patch: $Patch,
            ) -> async_graphql::Result<$Up> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let (inner, created) = r
                    .db
                    .transaction(move |c| crm_records::upsert::<$T>(c, &actor, external_id, patch))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Up { node: $Node { inner }, created })
            }

            /// Up to 1000 operations; `atomic: true` applies all or none.
            async fn $batch(
                &self,
                ctx: &async_graphql::Context<'_>,
                operations: Vec<$BOp>,
                #[graphql(default)] atomic: bool,
            ) -> async_graphql::Result<Vec<$crate::graphql::BatchResult>> {
                $crate::graphql::check_batch_len(operations.len())?;
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let ops: Vec<crm_records::Op<$T>> = operations.into_iter().map(Into::into).collect();
                let outcome = r
                    .db
                    .bulk_transaction(move |c| -> Result<_, $crate::rest::Aborted<crm_records::RecordError>> {
                        crm_records::batch::<$T>(c, &actor, ops, atomic).map_err(|(i, e)| $crate::rest::Aborted(i, e))
                    })
                    .await;
                $crate::graphql::batch_results(outcome)
            }
        }
    };
}
