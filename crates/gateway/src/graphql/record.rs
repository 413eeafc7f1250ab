//! The GraphQL surface of a resource built on `crm_records::Record`, declared once
//! (`record_graphql!`): its node (with field history, external ids, to-one relations through the
//! request's loaders and nested connections of child records), its connection, queries and
//! mutations.

use async_graphql::dataloader::Loader;
use crm_core::list::Page;
use crm_records::Record;

use super::loaders::{RecordLoader, feed};

/// A record's GraphQL types.
pub trait GraphNode: Record {
    type Node: async_graphql::OutputType + From<Self>;
    type Connection: async_graphql::OutputType;
    fn connection(page: Page<Self>) -> Self::Connection;
}

/// Whether a list's nodes select a to-one relation, and its external ids.
#[derive(Clone, Copy)]
pub struct Want {
    wanted: bool,
    external_ids: bool,
}

/// Related records read with a page.
pub struct Related<R> {
    records: Option<Vec<R>>,
    external_ids: bool,
}

impl Want {
    /// What `nodes { <relation> { … } }` selects (`relation` in snake case).
    pub fn of(nodes: &async_graphql::Lookahead<'_>, relation: &str) -> Want {
        let field = nodes.field(&camel(relation));
        Want { wanted: field.exists(), external_ids: field.field("externalIds").exists() }
    }

    /// The related records of a page's rows (`id_of` each row's reference), read in the same
    /// unit of work as the page when selected.
    pub fn read<R: Record, T>(
        self,
        conn: &mut crm_db::AnyConnection,
        actor: &crm_core::Actor,
        rows: &[T],
        id_of: impl Fn(&T) -> Option<R::Id>,
    ) -> Result<Related<R>, crm_records::RecordError> {
        if !self.wanted {
            return Ok(Related { records: None, external_ids: false });
        }
        let mut ids: Vec<R::Id> = rows.iter().filter_map(id_of).collect();
        ids.sort();
        ids.dedup();
        let records = crm_records::get_many::<R>(conn, actor, &ids, self.external_ids)?;
        Ok(Related { records: Some(records), external_ids: self.external_ids })
    }
}

impl<R: Record> Related<R>
where
    RecordLoader<R>: Loader<R::Id, Value = R>,
{
    /// Puts them into the request's loader, where the nodes' relation fields find them.
    pub async fn feed(self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<()> {
        match self.records {
            Some(records) => feed(ctx, records, self.external_ids).await,
            None => Ok(()),
        }
    }
}

/// `owner_id` → `ownerId`.
pub fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Declares a resource's node, connection, queries and mutations.
///
/// - `relations { name(field): Target }`: to-one relations (`field` holds the target's id, or an
///   `Option` of it); a list reads the ones its nodes select with the page.
/// - `children { name("field"): Child }`: a paged connection of the records of `Child` whose
///   `field` points at this record, with the list arguments; one statement per level.
/// - `fields { … }`: further resolvers of the node.
#[macro_export]
macro_rules! record_graphql {
    (
        $(#[$ndoc:meta])*
        record: $T:ty, id: $Id:ty, input: $Input:ty, patch: $Patch:ty,
        node: $Node:ident as $gql_name:literal, connection: $Conn:ident, upsert_result: $Up:ident,
        batch_op: $BOp:ident ($UpdOp:ident, $UpsOp:ident, $DelOp:ident),
        query: $Query:ident { $one:ident, $list:ident, $by_ext:ident },
        mutation: $Mutation:ident { $create:ident, $update:ident, $archive:ident, $restore:ident, $upsert:ident, $batch:ident },
        relations { $( $(#[$rdoc:meta])* $rel:ident ($rfield:ident) : $Target:ty ),* $(,)? },
        children { $( $(#[$cdoc:meta])* $child:ident ($cfield:literal) : $Child:ty ),* $(,)? },
        fields { $($extra:tt)* }
    ) => {
        $(#[$ndoc])*
        #[derive(async_graphql::SimpleObject)]
        #[graphql(name = $gql_name, complex)]
        pub struct $Node {
            #[graphql(flatten)]
            pub inner: $T,
        }

        impl From<$T> for $Node {
            fn from(inner: $T) -> Self {
                $Node { inner }
            }
        }

        impl $crate::graphql::record::GraphNode for $T {
            type Node = $Node;
            type Connection = $Conn;
            fn connection(page: crm_core::list::Page<$T>) -> $Conn {
                $Conn {
                    page_info: $crate::graphql::page_info(&page),
                    total_count: page.total,
                    nodes: page.data.into_iter().map(|inner| $Node { inner }).collect(),
                }
            }
        }

        #[async_graphql::ComplexObject]
        impl $Node {
            /// Ids of this record in other systems.
            async fn external_ids(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<Vec<crm_core::ExternalId>> {
                $crate::graphql::loaders::external_ids(ctx, &self.inner).await
            }

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

            $(
                $(#[$rdoc])*
                async fn $rel(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                ) -> async_graphql::Result<Option<<$Target as $crate::graphql::record::GraphNode>::Node>> {
                    let id: Option<<$Target as crm_records::Stored>::Id> = self.inner.$rfield.into();
                    Ok($crate::graphql::loaders::load_one::<$Target>(ctx, id).await?.map(Into::into))
                }
            )*

            $(
                $(#[$cdoc])*
                #[allow(clippy::too_many_arguments)]
                async fn $child(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(default = 50, desc = "Records per page, 1 to 1000.")] first: i32,
                    #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
                    #[graphql(desc = "A filter in the REST grammar (`city[eq]:Seoul`); holds together with `where`.")]
                    filter: Option<String>,
                    #[graphql(name = "where", desc = "Which records: typed conditions on fields and relations.")] where_: Option<$crate::graphql::Where<$Child>>,
                    #[graphql(desc = "Sort keys in order (newest first by default); ties end by id.")]
                    order_by: Option<Vec<$crate::graphql::OrderBy<$Child>>>,
                    #[graphql(desc = "Words to find (each as a prefix) in the record's search index, at most 200 characters.")] search: Option<String>,
                ) -> async_graphql::Result<<$Child as $crate::graphql::record::GraphNode>::Connection> {
                    use crm_core::ids::EntityId;
                    let mut params = $crate::graphql::list_params(
                        first,
                        after,
                        filter,
                        where_.map(|w| w.filter),
                        $crate::graphql::sort_of(order_by),
                        search,
                        $crate::graphql::ArchivedFilter::Exclude,
                        false,
                    )?;
                    let with_ext = ctx.look_ahead().field("nodes").field("externalIds").exists();
                    params.skip_external_ids = !with_ext;
                    let key = $crate::graphql::loaders::ChildKey {
                        parent: self.inner.id.uuid(),
                        query: $crate::graphql::loaders::ChildQuery::new($cfield, params),
                    };
                    let loaders = $crate::graphql::loaders::loaders(ctx)?;
                    let page = loaders
                        .get::<$crate::graphql::loaders::ChildrenLoader<$Child>>()
                        .load_one(key)
                        .await?
                        .unwrap_or(crm_core::list::Page { data: Vec::new(), next_cursor: None, total: None });
                    if !with_ext {
                        loaders.without_external_ids.mark(page.data.iter().map(|r| {
                            (<$Child as crm_records::Record>::ENTITY, crm_records::Stored::id(r).uuid())
                        }));
                    }
                    Ok(<$Child as $crate::graphql::record::GraphNode>::connection(page))
                }
            )*

            $($extra)*
        }

        #[doc = concat!("One page of a list of ", stringify!($T), " records.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $Conn {
            /// The records of this page, in the list's order.
            pub nodes: Vec<$Node>,
            /// Whether more follow, and the cursor to get them.
            pub page_info: $crate::graphql::PageInfo,
            /// How many records match (top-level lists only); computed only when selected.
            pub total_count: Option<i64>,
        }

        #[doc = concat!("What an upsert of a ", stringify!($T), " by external id did.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $Up {
            /// The record as stored after the upsert.
            pub node: $Node,
            /// True when the upsert created the record.
            pub created: bool,
        }

        #[doc = concat!("A batch operation that updates one ", stringify!($T), ".")]
        #[derive(async_graphql::InputObject)]
        pub struct $UpdOp {
            /// The record to update.
            pub id: $Id,
            /// A merge patch: absent fields stay, `null` clears.
            pub input: $Patch,
            /// Fail with `VERSION_CONFLICT` unless the record is at this version.
            pub expected_version: Option<i64>,
        }

        #[doc = concat!("A batch operation that creates or updates the ", stringify!($T), " carrying an external id.")]
        #[derive(async_graphql::InputObject)]
        pub struct $UpsOp {
            /// The id in the other system that identifies the record.
            pub external_id: crm_core::ExternalId,
            /// The fields to set (a merge patch when the record exists).
            pub input: $Patch,
        }

        #[doc = concat!("A batch operation that archives one ", stringify!($T), ".")]
        #[derive(async_graphql::InputObject)]
        pub struct $DelOp {
            /// The record to archive.
            pub id: $Id,
            /// Fail with `VERSION_CONFLICT` unless the record is at this version.
            pub expected_version: Option<i64>,
        }

        /// One batch operation: set exactly one.
        #[derive(async_graphql::OneofObject)]
        pub enum $BOp {
            /// Create a record.
            Create($Input),
            /// Change the record with this id (optionally only at an expected version).
            Update($UpdOp),
            /// Create or change the record that carries this external id.
            Upsert($UpsOp),
            /// Archive the record with this id (optionally only at an expected version).
            Delete($DelOp),
        }

        impl From<$BOp> for crm_records::Op<$T> {
            fn from(op: $BOp) -> Self {
                use crm_core::external::BatchOp;
                match op {
                    $BOp::Create(data) => BatchOp::Create { data },
                    $BOp::Update(u) => BatchOp::Update { id: u.id, data: u.input, expected_version: u.expected_version },
                    $BOp::Upsert(u) => BatchOp::Upsert { external_id: u.external_id, data: u.input },
                    $BOp::Delete(d) => BatchOp::Delete { id: d.id, expected_version: d.expected_version },
                }
            }
        }

        #[derive(Default)]
        pub struct $Query;

        #[async_graphql::Object]
        impl $Query {
            /// One record by id; null when it does not exist.
            async fn $one(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The record's id.")] id: $Id,
            ) -> async_graphql::Result<Option<$Node>> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                match r.db.run(move |c| crm_records::get::<$T>(c, &actor, id)).await {
                    Ok(inner) => Ok(Some($Node { inner })),
                    Err(crm_records::RecordError::NotFound { .. }) => Ok(None),
                    Err(e) => Err($crate::graphql::gql(e)),
                }
            }

            /// Keyset-paginated. `where` and `orderBy` are typed; `filter` takes the REST filter grammar
            /// (both may be given: all conditions hold).
            #[allow(clippy::too_many_arguments)]
            async fn $list(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(default = 50, desc = "Records per page, 1 to 1000.")] first: i32,
                #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
                #[graphql(desc = "A filter in the REST grammar (`city[eq]:Seoul`); holds together with `where`.")]
                filter: Option<String>,
                #[graphql(name = "where", desc = "Which records: typed conditions on fields and relations.")] where_: Option<$crate::graphql::Where<$T>>,
                #[graphql(desc = "Sort keys in order (newest first by default); ties end by id.")]
                order_by: Option<Vec<$crate::graphql::OrderBy<$T>>>,
                #[graphql(desc = "Words to find (each as a prefix) in the record's search index, at most 200 characters.")] search: Option<String>,
                #[graphql(default, desc = "Live records (default), live and archived, or archived only.")]
                archived: $crate::graphql::ArchivedFilter,
            ) -> async_graphql::Result<$Conn> {
                use crm_core::ids::EntityId;
                let r = $crate::graphql::rc(ctx)?;
                let look = ctx.look_ahead();
                let count = look.field("totalCount").exists();
                let mut params = $crate::graphql::list_params(
                    first,
                    after,
                    filter,
                    where_.map(|w| w.filter),
                    $crate::graphql::sort_of(order_by),
                    search,
                    archived,
                    count,
                )?;
                let nodes = look.field("nodes");
                let with_ext = nodes.field("externalIds").exists();
                params.skip_external_ids = !with_ext;
                // The related records the nodes select, read in the same trip as the page.
                $( let $rel = $crate::graphql::record::Want::of(&nodes, stringify!($rel)); )*
                let actor = r.actor.clone();
                let (page, related) = r
                    .db
                    .run(move |c| {
                        let page = crm_records::list::<$T>(c, &actor, &params)?;
                        let related = ($(
                            $rel.read::<$Target, _>(c, &actor, &page.data, |x| x.$rfield.into())?,
                        )*);
                        Ok::<_, crm_records::RecordError>((page, related))
                    })
                    .await
                    .map_err($crate::graphql::gql_list)?;
                if !with_ext {
                    $crate::graphql::loaders::loaders(ctx)?.without_external_ids.mark(
                        page.data.iter().map(|x| (<$T as crm_records::Record>::ENTITY, crm_records::Stored::id(x).uuid())),
                    );
                }
                let ($( $rel, )*) = related;
                $( $rel.feed(ctx).await?; )*
                Ok(<$T as $crate::graphql::record::GraphNode>::connection(page))
            }

            /// The record that carries an external id; null when none does.
            async fn $by_ext(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The system and the id the record has there.")] external_id: crm_core::ExternalId,
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
            /// Creates a record; invalid or duplicate input fails with `VALIDATION_FAILED`,
            /// `DUPLICATE_RECORD` or (contacts and accounts likely the same as a live one)
            /// `POSSIBLE_DUPLICATE` with the `candidates`, and stores nothing.
            async fn $create(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The new record's fields.")] input: $Input,
                #[graphql(default, desc = "Create even when a live record is likely the same (contacts and accounts).")]
                allow_duplicate: bool,
            ) -> async_graphql::Result<$Node> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let inner = r
                    .db
                    .transaction(move |c| crm_records::create_checked::<$T>(c, &actor, input, allow_duplicate))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Node { inner })
            }

            /// Merge patch. With `expectedVersion`, a stale version fails with VERSION_CONFLICT.
            async fn $update(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The record's id.")] id: $Id,
                #[graphql(desc = "The fields to change (a merge patch): absent stays, `null` clears.")] input: $Patch,
                #[graphql(desc = "Fail with `VERSION_CONFLICT` unless the record is at this version.")]
                expected_version: Option<i64>,
            ) -> async_graphql::Result<$Node> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let inner = r
                    .db
                    .transaction(move |c| crm_records::update::<$T>(c, &actor, id, input, expected_version))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Node { inner })
            }

            /// Archives the record (it leaves lists; `restore` brings it back). Archiving an
            /// archived record changes nothing.
            async fn $archive(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The record's id.")] id: $Id,
                #[graphql(desc = "Fail with `VERSION_CONFLICT` unless the record is at this version.")]
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

            /// Brings an archived record back; `DUPLICATE_RECORD` when its unique fields now
            /// belong to a live record.
            async fn $restore(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "The record's id.")] id: $Id,
                #[graphql(desc = "Fail with `VERSION_CONFLICT` unless the record is at this version.")]
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
                #[graphql(desc = "The system and the id the record has there.")] external_id: crm_core::ExternalId,
                #[graphql(desc = "The fields to set (a merge patch when the record exists).")] input: $Patch,
            ) -> async_graphql::Result<$Up> {
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let (inner, created) = r
                    .db
                    .transaction(move |c| crm_records::upsert::<$T>(c, &actor, external_id, input))
                    .await
                    .map_err($crate::graphql::gql)?;
                Ok($Up { node: $Node { inner }, created })
            }

            /// Up to 1000 operations; `atomic: true` applies all or none.
            async fn $batch(
                &self,
                ctx: &async_graphql::Context<'_>,
                #[graphql(desc = "1 to 1000 operations, applied in order.")] operations: Vec<$BOp>,
                #[graphql(default, desc = "Apply all or none; by default each operation stands alone.")] atomic: bool,
                #[graphql(default, desc = "Check every record the batch creates for a likely duplicate and report it in `possibleDuplicate` (the record is created all the same).")]
                report_duplicates: bool,
            ) -> async_graphql::Result<Vec<$crate::graphql::BatchResult>> {
                $crate::graphql::check_batch_len(operations.len())?;
                let r = $crate::graphql::rc(ctx)?;
                let actor = r.actor.clone();
                let ops: Vec<crm_records::Op<$T>> = operations.into_iter().map(Into::into).collect();
                let outcome = r
                    .db
                    .bulk_transaction(move |c| -> Result<_, $crate::rest::Aborted<crm_records::RecordError>> {
                        crm_records::batch::batch_reporting::<$T>(c, &actor, ops, atomic, report_duplicates)
                            .map_err(|(i, e)| $crate::rest::Aborted(i, e))
                    })
                    .await;
                $crate::graphql::batch_results(outcome)
            }
        }
    };
}
