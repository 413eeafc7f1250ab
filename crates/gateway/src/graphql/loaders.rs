//! Request-scoped batch loaders, made on first use: a resolver asks for a loader by its type
//! (`Loaders::get::<RecordLoader<Account>>()`), so none has to be registered by hand and none
//! can be forgotten. Every loader of a request shares the request's caller and database.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use crm_core::list::{ListParams, Page};
use crm_core::{Actor, ExternalId};
use crm_db::Db;
use crm_records::Record;

use super::gql;

/// How long a loader collects keys, once the request's resolvers have settled, before it
/// queries (one batch per relation level).
pub const LOADER_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

/// A loader the request makes on first use.
pub trait MakeLoader: Send + Sync + Sized + 'static {
    fn make(db: Db, actor: Actor) -> Self;
}

/// The loaders of one request.
pub struct Loaders {
    db: Db,
    actor: Actor,
    made: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// How many times a resolver of this request has asked for a loader.
    asked: Arc<AtomicU64>,
    /// Records this request read without their external ids (see `WithoutExternalIds`).
    pub without_external_ids: WithoutExternalIds,
}

impl Loaders {
    pub fn new(db: Db, actor: Actor) -> Loaders {
        Loaders {
            db,
            actor,
            made: Mutex::new(HashMap::new()),
            asked: Arc::new(AtomicU64::new(0)),
            without_external_ids: WithoutExternalIds::default(),
        }
    }

    /// The request's loader of type `L`, made on first use.
    pub fn get<L: MakeLoader>(&self) -> Arc<DataLoader<L, HashMapCache>> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        let any = made
            .entry(TypeId::of::<L>())
            .or_insert_with(|| {
                let asked = self.asked.clone();
                let l = DataLoader::with_cache(
                    L::make(self.db.clone(), self.actor.clone()),
                    move |batch| actix_web::rt::spawn(after_resolvers_settle(asked.clone(), batch)),
                    HashMapCache::default(),
                )
                .delay(LOADER_WINDOW);
                Arc::new(l) as Arc<dyn Any + Send + Sync>
            })
            .clone();
        drop(made);
        match any.downcast::<DataLoader<L, HashMapCache>>() {
            Ok(l) => l,
            // Unreachable: the map is keyed by the loader's own type.
            Err(_) => Arc::new(DataLoader::with_cache(
                L::make(self.db.clone(), self.actor.clone()),
                actix_web::rt::spawn,
                HashMapCache::default(),
            )),
        }
    }
}

/// Runs a loader's batch once the request's resolvers stop asking for loaders. The executor
/// resolves a long list in slices (it yields every 32 items), so a window that opened on the
/// first key could close before the last item asks; yielding until a whole turn passes with
/// no new request keeps one batch per relation level however many items the list has and
/// however slow the machine is. The batch runs on the request's own thread (`rt::spawn`), so
/// a turn is the request's resolvers running until they all wait.
async fn after_resolvers_settle(asked: Arc<AtomicU64>, batch: futures_util::future::BoxFuture<'static, ()>) {
    loop {
        let seen = asked.load(Ordering::Relaxed);
        actix_web::rt::task::yield_now().await;
        if asked.load(Ordering::Relaxed) == seen {
            break;
        }
    }
    batch.await
}

/// The loaders of the request being resolved.
pub fn loaders<'a>(ctx: &'a async_graphql::Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Loads records of `R` by id, many keys in one statement.
pub struct RecordLoader<R> {
    db: Db,
    actor: Actor,
    _record: PhantomData<fn() -> R>,
}

impl<R: Record> MakeLoader for RecordLoader<R> {
    fn make(db: Db, actor: Actor) -> Self {
        RecordLoader { db, actor, _record: PhantomData }
    }
}

impl<R: Record> Loader<R::Id> for RecordLoader<R> {
    type Value = R;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[R::Id]) -> Result<HashMap<R::Id, R>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self.db.run(move |c| crm_records::get_many::<R>(c, &actor, &ids, true)).await.map_err(gql)?;
        Ok(found.into_iter().map(|r| (r.id(), r)).collect())
    }
}

/// Loads one related record through the request's loader.
pub async fn load_one<R: Record>(
    ctx: &async_graphql::Context<'_>,
    id: Option<R::Id>,
) -> async_graphql::Result<Option<R>> {
    match id {
        Some(id) => Ok(loaders(ctx)?.get::<RecordLoader<R>>().load_one(id).await?),
        None => Ok(None),
    }
}

/// Loads several related records, in the order of `ids` (missing ones skipped).
pub async fn load_many<R: Record>(ctx: &async_graphql::Context<'_>, ids: &[R::Id]) -> async_graphql::Result<Vec<R>> {
    let found = loaders(ctx)?.get::<RecordLoader<R>>().load_many(ids.iter().copied()).await?;
    Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
}

/// Puts records read with a page into the request's loader, so that nodes asking for them
/// find them there. `external_ids: false`: they were read without their external ids.
pub async fn feed<R: Record>(
    ctx: &async_graphql::Context<'_>,
    records: Vec<R>,
    external_ids: bool,
) -> async_graphql::Result<()> {
    let l = loaders(ctx)?;
    if !external_ids {
        l.without_external_ids.mark(records.iter().map(|r| (R::ENTITY, crm_core::ids::EntityId::uuid(r.id()))));
    }
    l.get::<RecordLoader<R>>().feed_many(records.into_iter().map(|r| (r.id(), r))).await;
    Ok(())
}

/// The records this request read without their external ids: list pages and relations whose
/// selection has no `externalIds`, which saves a query per page. Should another part of the
/// same request select `externalIds` on one of them (the loaders' caches share records), it is
/// read on demand, in one batch per level.
#[derive(Default)]
pub struct WithoutExternalIds(Mutex<HashSet<(&'static str, uuid::Uuid)>>);

impl WithoutExternalIds {
    pub fn mark(&self, records: impl IntoIterator<Item = (&'static str, uuid::Uuid)>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(records);
    }

    fn contains(&self, record: (&'static str, uuid::Uuid)) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(&record)
    }
}

/// Loads the external ids of records of `R` read without them.
pub struct ExternalIdsLoader<R> {
    db: Db,
    actor: Actor,
    _record: PhantomData<fn() -> R>,
}

impl<R: Record> MakeLoader for ExternalIdsLoader<R> {
    fn make(db: Db, actor: Actor) -> Self {
        ExternalIdsLoader { db, actor, _record: PhantomData }
    }
}

impl<R: Record> Loader<R::Id> for ExternalIdsLoader<R> {
    type Value = Vec<ExternalId>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[R::Id]) -> Result<HashMap<R::Id, Vec<ExternalId>>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        self.db.run(move |c| crm_records::external_ids_of::<R>(c, &actor, &ids)).await.map_err(gql)
    }
}

/// `externalIds` of a node: as read with the record, unless this request read it without them.
pub async fn external_ids<R: Record>(
    ctx: &async_graphql::Context<'_>,
    record: &R,
) -> async_graphql::Result<Vec<ExternalId>> {
    let l = loaders(ctx)?;
    let key = (R::ENTITY, crm_core::ids::EntityId::uuid(record.id()));
    if !l.without_external_ids.contains(key) {
        return Ok(record.external_ids().to_vec());
    }
    Ok(l.get::<ExternalIdsLoader<R>>().load_one(record.id()).await?.unwrap_or_default())
}

/// What one nested connection asks for (`Account.contacts(first: 10, orderBy: …)`): the same
/// for every parent of a level, so their pages load together.
pub struct ChildQuery {
    /// The field of the child records that points at the parent (`account_id`).
    pub field: &'static str,
    pub params: ListParams,
    /// The request's arguments, as written (what makes two queries the same).
    key: String,
}

impl ChildQuery {
    pub fn new(field: &'static str, params: ListParams) -> Arc<ChildQuery> {
        let key = format!("{field}\u{1f}{params:?}");
        Arc::new(ChildQuery { field, params, key })
    }
}

impl PartialEq for ChildQuery {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for ChildQuery {}
impl Hash for ChildQuery {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// A parent and what its nested connection asks for.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChildKey {
    pub parent: uuid::Uuid,
    pub query: Arc<ChildQuery>,
}

/// Loads the first page of child records of many parents, one statement per distinct query.
pub struct ChildrenLoader<R> {
    db: Db,
    actor: Actor,
    _record: PhantomData<fn() -> R>,
}

impl<R: Record> MakeLoader for ChildrenLoader<R> {
    fn make(db: Db, actor: Actor) -> Self {
        ChildrenLoader { db, actor, _record: PhantomData }
    }
}

impl<R: Record> Loader<ChildKey> for ChildrenLoader<R> {
    type Value = Page<R>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ChildKey]) -> Result<HashMap<ChildKey, Page<R>>, Self::Error> {
        let mut groups: HashMap<Arc<ChildQuery>, Vec<uuid::Uuid>> = HashMap::new();
        for k in keys {
            groups.entry(k.query.clone()).or_default().push(k.parent);
        }
        let actor = self.actor.clone();
        let pages = self
            .db
            .run(move |c| {
                let mut out = Vec::new();
                for (query, parents) in groups {
                    let pages = crm_records::list_per_parent::<R>(c, &actor, query.field, &parents, &query.params)?;
                    out.push((query, pages));
                }
                Ok::<_, crm_records::RecordError>(out)
            })
            .await
            .map_err(gql)?;
        let mut found = HashMap::new();
        for (query, pages) in pages {
            for (parent, page) in pages {
                found.insert(ChildKey { parent, query: query.clone() }, page);
            }
        }
        Ok(found)
    }
}
