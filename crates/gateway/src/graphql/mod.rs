//! GraphQL: the same services as REST, with relations through batch loaders (no N+1).

pub mod operational;
pub mod record;
pub mod sales;

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, web};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::http::GraphiQLSource;
use async_graphql::{
    ComplexObject, Context, EmptySubscription, Enum, ErrorExtensions, InputObject, Object, OneofObject, Schema,
    SchemaBuilder, SimpleObject,
};
use async_graphql_actix_web::GraphQLRequest;
use crm_accounts::{Account, AccountInput, AccountPatch};
use crm_contacts::{Contact, ContactError, ContactInput, ContactPatch};
use crm_core::external::{BatchOp, Record};
use crm_core::filter::{Filter, Op, RawValue};
use crm_core::ids::{AccountId, ContactId};
use crm_core::list::{Archived, ListParams, Page};
use crm_core::{Actor, DomainError, ExternalId, FieldError, Long};
use crm_db::Db;
use crm_events::{ChangePage, HistoryEntry};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::ApiError;

pub type CrmSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema without per-request data (also used to export the SDL).
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).limit_depth(12).limit_complexity(20_000)
}

/// Per-request context: who calls, and the database.
pub struct RequestCtx {
    pub db: Db,
    pub actor: Actor,
}

pub fn rc<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestCtx> {
    ctx.data::<RequestCtx>()
}

/// The API error as a GraphQL error: same message, same `extensions.code`.
pub fn gql_error(api: ApiError) -> async_graphql::Error {
    let problem = api.body();
    async_graphql::Error::new(api.detail.clone()).extend_with(|_, ext| {
        ext.set("code", api.code);
        ext.set("status", api.status.as_u16());
        if let Some(obj) = problem.as_object() {
            for key in ["errors", "current_version", "existing_id", "operation_index", "request_id"] {
                if let Some(v) = obj.get(key).filter(|v| !v.is_null())
                    && let Ok(gv) = async_graphql::Value::from_json(v.clone())
                {
                    ext.set(key, gv);
                }
            }
        }
    })
}

pub fn gql<E: DomainError>(e: E) -> async_graphql::Error {
    gql_error(ApiError::from(e))
}

// ------------------------------------------------------------------------------------------
// Loaders

pub struct AccountLoader {
    db: Db,
    actor: Actor,
}

impl Loader<AccountId> for AccountLoader {
    type Value = Account;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[AccountId]) -> Result<HashMap<AccountId, Account>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self.db.run(move |c| crm_accounts::get_accounts(c, &actor, &ids, true)).await.map_err(gql)?;
        Ok(found.into_iter().map(|a| (a.id, a)).collect())
    }
}

/// Most contacts `Account.contacts` returns per account.
const MAX_CONTACTS_PER_ACCOUNT: usize = 1000;

pub struct ContactLoader {
    db: Db,
    actor: Actor,
}

impl Loader<ContactId> for ContactLoader {
    type Value = Contact;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ContactId]) -> Result<HashMap<ContactId, Contact>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self.db.run(move |c| crm_contacts::get_contacts(c, &actor, &ids)).await.map_err(gql)?;
        Ok(found.into_iter().map(|a| (a.id, a)).collect())
    }
}

pub type ContactByIdLoader = DataLoader<ContactLoader, HashMapCache>;

pub struct ContactsByAccountLoader {
    db: Db,
    actor: Actor,
}

impl Loader<AccountId> for ContactsByAccountLoader {
    type Value = Vec<Contact>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[AccountId]) -> Result<HashMap<AccountId, Vec<Contact>>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self
            .db
            .run(move |c| crm_contacts::contacts_of_accounts(c, &actor, &ids, MAX_CONTACTS_PER_ACCOUNT))
            .await
            .map_err(gql)?;
        let mut out: HashMap<AccountId, Vec<Contact>> = HashMap::new();
        for c in found {
            if let Some(a) = c.account_id {
                out.entry(a).or_default().push(c);
            }
        }
        Ok(out)
    }
}

pub type AccountsLoader = DataLoader<AccountLoader, HashMapCache>;
type ContactsLoader = DataLoader<ContactsByAccountLoader, HashMapCache>;

/// A record whose `externalIds` can be read on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExternalIdsOf {
    Contact(ContactId),
    Account(AccountId),
}

/// The records this request read without their external ids: list pages and relations whose
/// selection has no `externalIds`, which saves a query per page. Should another part of the
/// same request select `externalIds` on one of them (the loaders' caches share records), it is
/// read on demand, in one batch per level.
#[derive(Default)]
pub struct WithoutExternalIds(std::sync::Mutex<HashSet<ExternalIdsOf>>);

impl WithoutExternalIds {
    fn mark(&self, records: impl IntoIterator<Item = ExternalIdsOf>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(records);
    }

    fn contains(&self, record: ExternalIdsOf) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(&record)
    }
}

pub struct ExternalIdsLoader {
    db: Db,
    actor: Actor,
}

impl Loader<ExternalIdsOf> for ExternalIdsLoader {
    type Value = Vec<ExternalId>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ExternalIdsOf]) -> Result<HashMap<ExternalIdsOf, Vec<ExternalId>>, Self::Error> {
        let mut contacts = Vec::new();
        let mut accounts = Vec::new();
        for k in keys {
            match *k {
                ExternalIdsOf::Contact(id) => contacts.push(id),
                ExternalIdsOf::Account(id) => accounts.push(id),
            }
        }
        let mut out = HashMap::new();
        if !contacts.is_empty() {
            let actor = self.actor.clone();
            let found = self.db.run(move |c| crm_contacts::external_ids_of(c, &actor, &contacts)).await.map_err(gql)?;
            out.extend(found.into_iter().map(|(id, x)| (ExternalIdsOf::Contact(id), x)));
        }
        if !accounts.is_empty() {
            let actor = self.actor.clone();
            let found = self.db.run(move |c| crm_accounts::external_ids_of(c, &actor, &accounts)).await.map_err(gql)?;
            out.extend(found.into_iter().map(|(id, x)| (ExternalIdsOf::Account(id), x)));
        }
        Ok(out)
    }
}

/// `externalIds` of a node: as read with the record, unless this request read it without them.
async fn external_ids(
    ctx: &Context<'_>,
    record: ExternalIdsOf,
    read: &[ExternalId],
) -> async_graphql::Result<Vec<ExternalId>> {
    if !ctx.data_opt::<WithoutExternalIds>().is_some_and(|w| w.contains(record)) {
        return Ok(read.to_vec());
    }
    Ok(ctx.data::<DataLoader<ExternalIdsLoader, HashMapCache>>()?.load_one(record).await?.unwrap_or_default())
}

/// Puts the relations a contact list's selection asks for (`account`, `account.contacts`) into
/// the loaders' caches, so nodes find them there: a constant number of statements however many
/// rows, whatever order the fields resolve in. The accounts were read with the page (`accounts`,
/// present when the selection has `account`).
async fn prime_for_contacts(
    ctx: &Context<'_>,
    accounts: Option<HashMap<AccountId, Account>>,
) -> async_graphql::Result<()> {
    let Some(accounts) = accounts else { return Ok(()) };
    let ids: Vec<AccountId> = accounts.keys().copied().collect();
    ctx.data::<AccountsLoader>()?.feed_many(accounts).await;
    if ctx.look_ahead().field("nodes").field("account").field("contacts").exists() {
        ctx.data::<ContactsLoader>()?.load_many(ids).await?;
    }
    Ok(())
}

/// The same for an account list's `contacts`.
async fn prime_for_accounts(ctx: &Context<'_>, accounts: &[Account]) -> async_graphql::Result<()> {
    if ctx.look_ahead().field("nodes").field("contacts").exists() {
        ctx.data::<ContactsLoader>()?.load_many(accounts.iter().map(|a| a.id)).await?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Types

/// A company or organisation.
#[derive(SimpleObject)]
#[graphql(name = "Account", complex)]
pub struct AccountNode {
    #[graphql(flatten)]
    pub inner: Account,
}

#[ComplexObject]
impl AccountNode {
    /// Ids of this account in other systems.
    async fn external_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExternalId>> {
        external_ids(ctx, ExternalIdsOf::Account(self.inner.id), &self.inner.external_ids).await
    }

    /// Field history, newest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 1000))] first: i32,
        before: Option<Long>,
    ) -> async_graphql::Result<Vec<HistoryEntry>> {
        let r = rc(ctx)?;
        let (actor, id) = (r.actor.clone(), self.inner.id);
        let limit = u32::try_from(first).unwrap_or(50);
        r.db.run(move |c| crm_accounts::account_history(c, &actor, id, before.map(|b| b.0), limit)).await.map_err(gql)
    }

    /// The record owner.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<operational::UserNode>> {
        operational::user_node(ctx, self.inner.owner_id.map(crm_core::ids::UserId)).await
    }

    /// Interactions, cases, purchases and changes, newest first.
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        kinds: Option<Vec<crm_timeline::TimelineKind>>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<operational::TimelineConnection> {
        operational::timeline(ctx, crm_timeline::Subject::Account(self.inner.id), kinds, first, after).await
    }

    /// Open cases, last contact, purchases and products owned at a glance.
    async fn summary(&self, ctx: &Context<'_>) -> async_graphql::Result<crm_timeline::CustomerSummary> {
        operational::summary(ctx, crm_timeline::Subject::Account(self.inner.id)).await
    }

    /// Live contacts at this account, newest first.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 1000))] first: i32,
    ) -> async_graphql::Result<Vec<ContactNode>> {
        let all = ctx.data::<ContactsLoader>()?.load_one(self.inner.id).await?.unwrap_or_default();
        Ok(all.into_iter().take(usize::try_from(first).unwrap_or(50)).map(|inner| ContactNode { inner }).collect())
    }
}

/// A person.
#[derive(SimpleObject)]
#[graphql(name = "Contact", complex)]
pub struct ContactNode {
    #[graphql(flatten)]
    pub inner: Contact,
}

#[ComplexObject]
impl ContactNode {
    /// Ids of this person in other systems.
    async fn external_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExternalId>> {
        external_ids(ctx, ExternalIdsOf::Contact(self.inner.id), &self.inner.external_ids).await
    }

    /// Field history, newest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 1000))] first: i32,
        before: Option<Long>,
    ) -> async_graphql::Result<Vec<HistoryEntry>> {
        let r = rc(ctx)?;
        let (actor, id) = (r.actor.clone(), self.inner.id);
        let limit = u32::try_from(first).unwrap_or(50);
        r.db.run(move |c| crm_contacts::contact_history(c, &actor, id, before.map(|b| b.0), limit)).await.map_err(gql)
    }

    /// The record owner.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<operational::UserNode>> {
        operational::user_node(ctx, self.inner.owner_id.map(crm_core::ids::UserId)).await
    }

    /// Interactions, cases, purchases and changes, newest first.
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        kinds: Option<Vec<crm_timeline::TimelineKind>>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<operational::TimelineConnection> {
        operational::timeline(ctx, crm_timeline::Subject::Contact(self.inner.id), kinds, first, after).await
    }

    /// Open cases, last contact, purchases and products owned at a glance.
    async fn summary(&self, ctx: &Context<'_>) -> async_graphql::Result<crm_timeline::CustomerSummary> {
        operational::summary(ctx, crm_timeline::Subject::Contact(self.inner.id)).await
    }

    /// The account this person works at.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
        let Some(id) = self.inner.account_id else { return Ok(None) };
        Ok(ctx.data::<AccountsLoader>()?.load_one(id).await?.map(|inner| AccountNode { inner }))
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Pass as `after` to get the next page.
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct AccountConnection {
    pub nodes: Vec<AccountNode>,
    pub page_info: PageInfo,
    /// Computed only when selected.
    pub total_count: Option<i64>,
}

#[derive(SimpleObject)]
pub struct ContactConnection {
    pub nodes: Vec<ContactNode>,
    pub page_info: PageInfo,
    /// Computed only when selected.
    pub total_count: Option<i64>,
}

pub fn page_info<T>(p: &Page<T>) -> PageInfo {
    PageInfo { has_next_page: p.next_cursor.is_some(), end_cursor: p.next_cursor.clone() }
}

/// Which records a list shows with respect to archiving.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchivedFilter {
    /// Live records only.
    #[default]
    Exclude,
    /// Live and archived.
    Include,
    /// Archived only.
    Only,
}

/// Comparison operators of the filter language.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Nin,
    Contains,
    StartsWith,
    IsNull,
}

/// The filter language as input objects. Set exactly one of `and`, `or`, `not` or `field`.
/// `field` takes dotted paths (`account.tier`); `in`/`nin` take `values`, others `value`.
#[derive(InputObject, Default)]
pub struct FilterInput {
    pub and: Option<Vec<FilterInput>>,
    pub or: Option<Vec<FilterInput>>,
    pub not: Option<Box<FilterInput>>,
    pub field: Option<String>,
    pub op: Option<FilterOp>,
    pub value: Option<String>,
    pub values: Option<Vec<String>>,
}

impl FilterInput {
    /// Converts to the shared AST (so REST and GraphQL check filters the same way).
    pub fn to_filter(&self, depth: usize) -> Result<Filter, ApiError> {
        let bad = |m: &str| {
            ApiError::bad_request("INVALID_FILTER", m.to_string()).with_field("where", "syntax", m.to_string())
        };
        if depth > crm_core::filter::MAX_DEPTH {
            return Err(bad("the filter nests too deeply"));
        }
        let set = [self.and.is_some(), self.or.is_some(), self.not.is_some(), self.field.is_some()];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err(bad("set exactly one of and, or, not, field"));
        }
        if let Some(v) = &self.and {
            return Ok(Filter::And(v.iter().map(|f| f.to_filter(depth + 1)).collect::<Result<_, _>>()?));
        }
        if let Some(v) = &self.or {
            return Ok(Filter::Or(v.iter().map(|f| f.to_filter(depth + 1)).collect::<Result<_, _>>()?));
        }
        if let Some(n) = &self.not {
            return Ok(Filter::Not(Box::new(n.to_filter(depth + 1)?)));
        }
        let field = self.field.clone().unwrap_or_default();
        let op = self.op.ok_or_else(|| bad("a condition needs `op`"))?;
        let op = match op {
            FilterOp::Eq => Op::Eq,
            FilterOp::Neq => Op::Neq,
            FilterOp::Lt => Op::Lt,
            FilterOp::Lte => Op::Lte,
            FilterOp::Gt => Op::Gt,
            FilterOp::Gte => Op::Gte,
            FilterOp::In => Op::In,
            FilterOp::Nin => Op::Nin,
            FilterOp::Contains => Op::Contains,
            FilterOp::StartsWith => Op::StartsWith,
            FilterOp::IsNull => Op::IsNull,
        };
        let value = match (&self.value, &self.values) {
            (Some(v), None) => RawValue::One(v.clone()),
            (None, Some(v)) => RawValue::List(v.clone()),
            _ => return Err(bad("a condition needs exactly one of `value` or `values`")),
        };
        let path: Vec<String> = field.split('.').map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(bad("`field` is a dotted path such as `account.tier`"));
        }
        Ok(Filter::Cond { path, op, value })
    }
}

#[allow(clippy::too_many_arguments)]
pub fn list_params(
    first: i32,
    after: Option<String>,
    filter: Option<String>,
    where_: Option<FilterInput>,
    order_by: Option<Vec<String>>,
    search: Option<String>,
    archived: ArchivedFilter,
    count: bool,
) -> async_graphql::Result<ListParams> {
    let filter_ast = match where_ {
        Some(w) => Some(w.to_filter(0).map_err(gql_error)?),
        None => None,
    };
    Ok(ListParams {
        limit: Some(u32::try_from(first).unwrap_or(0)),
        cursor: after,
        sort: order_by.map(|v| v.join(",")),
        filter,
        filter_ast,
        q: search,
        archived: match archived {
            ArchivedFilter::Exclude => Archived::Exclude,
            ArchivedFilter::Include => Archived::Include,
            ArchivedFilter::Only => Archived::Only,
        },
        count,
        skip_external_ids: false,
    })
}

/// The result of an upsert.
#[derive(SimpleObject)]
pub struct UpsertAccountResult {
    pub account: AccountNode,
    /// True when the upsert created the account.
    pub created: bool,
}

#[derive(SimpleObject)]
pub struct UpsertContactResult {
    pub contact: ContactNode,
    pub created: bool,
}

/// Why one batch operation failed.
#[derive(SimpleObject)]
pub struct BatchError {
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

/// The answer to one batch operation, in order.
#[derive(SimpleObject)]
pub struct BatchResult {
    /// The HTTP status the operation would have had alone (201, 200, 204, 4xx).
    pub status: i32,
    pub id: Option<uuid::Uuid>,
    pub version: Option<i64>,
    pub error: Option<BatchError>,
}

#[derive(InputObject)]
pub struct AccountUpdateOp {
    pub id: AccountId,
    pub patch: AccountPatch,
    pub expected_version: Option<i64>,
}

#[derive(InputObject)]
pub struct AccountUpsertOp {
    pub external_id: ExternalId,
    pub patch: AccountPatch,
}

#[derive(InputObject)]
pub struct AccountDeleteOp {
    pub id: AccountId,
    pub expected_version: Option<i64>,
}

/// One operation of `batchAccounts`: set exactly one.
#[derive(OneofObject)]
pub enum AccountBatchOp {
    Create(AccountInput),
    Update(AccountUpdateOp),
    Upsert(AccountUpsertOp),
    Delete(AccountDeleteOp),
}

impl From<AccountBatchOp> for crm_accounts::AccountOp {
    fn from(op: AccountBatchOp) -> Self {
        match op {
            AccountBatchOp::Create(data) => BatchOp::Create { data },
            AccountBatchOp::Update(u) => {
                BatchOp::Update { id: u.id, data: u.patch, expected_version: u.expected_version }
            }
            AccountBatchOp::Upsert(u) => BatchOp::Upsert { external_id: u.external_id, data: u.patch },
            AccountBatchOp::Delete(d) => BatchOp::Delete { id: d.id, expected_version: d.expected_version },
        }
    }
}

#[derive(InputObject)]
pub struct ContactUpdateOp {
    pub id: ContactId,
    pub patch: ContactPatch,
    pub expected_version: Option<i64>,
}

#[derive(InputObject)]
pub struct ContactUpsertOp {
    pub external_id: ExternalId,
    pub patch: ContactPatch,
}

#[derive(InputObject)]
pub struct ContactDeleteOp {
    pub id: ContactId,
    pub expected_version: Option<i64>,
}

/// One operation of `batchContacts`: set exactly one.
#[derive(OneofObject)]
pub enum ContactBatchOp {
    Create(ContactInput),
    Update(ContactUpdateOp),
    Upsert(ContactUpsertOp),
    Delete(ContactDeleteOp),
}

impl From<ContactBatchOp> for crm_contacts::ContactOp {
    fn from(op: ContactBatchOp) -> Self {
        match op {
            ContactBatchOp::Create(data) => BatchOp::Create { data },
            ContactBatchOp::Update(u) => {
                BatchOp::Update { id: u.id, data: u.patch, expected_version: u.expected_version }
            }
            ContactBatchOp::Upsert(u) => BatchOp::Upsert { external_id: u.external_id, data: u.patch },
            ContactBatchOp::Delete(d) => BatchOp::Delete { id: d.id, expected_version: d.expected_version },
        }
    }
}

/// The same mapping as REST (`rest::batch_reply`), shaped for GraphQL.
pub fn batch_results<T: serde::Serialize + Record, E: DomainError>(
    outcome: Result<Vec<Result<crm_core::external::BatchOutcome<T>, E>>, crate::rest::Aborted<E>>,
) -> async_graphql::Result<Vec<BatchResult>> {
    let reply = crate::rest::batch_reply(outcome).map_err(gql_error)?;
    Ok(reply
        .results
        .into_iter()
        .map(|item| BatchResult {
            status: i32::from(item.status),
            id: item.id,
            version: item.version,
            error: item.error.map(|e| BatchError {
                code: e["code"].as_str().unwrap_or("").to_string(),
                message: e["detail"].as_str().unwrap_or("").to_string(),
                fields: serde_json::from_value::<Vec<serde_json::Value>>(e["errors"].clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|f| {
                        FieldError::new(
                            f["field"].as_str().unwrap_or(""),
                            f["code"].as_str().unwrap_or(""),
                            f["message"].as_str().unwrap_or(""),
                        )
                    })
                    .collect(),
            }),
        })
        .collect())
}

pub fn check_batch_len(n: usize) -> async_graphql::Result<()> {
    crate::rest::check_batch_len(n).map_err(gql_error)
}

// ------------------------------------------------------------------------------------------
// Roots

/// The query root: accounts, contacts and the change feed here, the other resources in
/// their modules.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(CoreQuery, operational::OperationalQuery, sales::SalesQuery);

/// The mutation root.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(CoreMutation, operational::OperationalMutation, sales::SalesMutation);

#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// One account by id; null when it does not exist.
    async fn account(&self, ctx: &Context<'_>, id: AccountId) -> async_graphql::Result<Option<AccountNode>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| crm_accounts::get_account(c, &actor, id)).await {
            Ok(inner) => Ok(Some(AccountNode { inner })),
            Err(crm_accounts::AccountError::NotFound) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// Accounts, keyset-paginated. `filter` takes the REST filter grammar; `where` the same as objects.
    #[allow(clippy::too_many_arguments)]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        filter: Option<String>,
        #[graphql(name = "where")] where_: Option<FilterInput>,
        order_by: Option<Vec<String>>,
        search: Option<String>,
        #[graphql(default)] archived: ArchivedFilter,
    ) -> async_graphql::Result<AccountConnection> {
        let r = rc(ctx)?;
        let count = ctx.look_ahead().field("totalCount").exists();
        let mut params = list_params(first, after, filter, where_, order_by, search, archived, count)?;
        params.skip_external_ids = !ctx.look_ahead().field("nodes").field("externalIds").exists();
        let skip = params.skip_external_ids;
        let actor = r.actor.clone();
        let page = r.db.run(move |c| crm_accounts::list_accounts(c, &actor, &params)).await.map_err(gql)?;
        if skip {
            ctx.data::<WithoutExternalIds>()?.mark(page.data.iter().map(|a| ExternalIdsOf::Account(a.id)));
        }
        prime_for_accounts(ctx, &page.data).await?;
        let page_info = page_info(&page);
        Ok(AccountConnection {
            page_info,
            total_count: page.total,
            nodes: page.data.into_iter().map(|inner| AccountNode { inner }).collect(),
        })
    }

    /// The account that carries an external id; null when none does.
    async fn account_by_external_id(
        &self,
        ctx: &Context<'_>,
        external_id: ExternalId,
    ) -> async_graphql::Result<Option<AccountNode>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| crm_accounts::get_account_by_external_id(c, &actor, external_id)).await {
            Ok(inner) => Ok(Some(AccountNode { inner })),
            Err(crm_accounts::AccountError::NotFound) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// The contact that carries an external id; null when none does.
    async fn contact_by_external_id(
        &self,
        ctx: &Context<'_>,
        external_id: ExternalId,
    ) -> async_graphql::Result<Option<ContactNode>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| crm_contacts::get_contact_by_external_id(c, &actor, external_id)).await {
            Ok(inner) => Ok(Some(ContactNode { inner })),
            Err(crm_contacts::ContactError::NotFound) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// The change feed: events after `after`, in commit order. Follow `nextAfter`.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] after: Long,
        types: Option<Vec<String>>,
        #[graphql(default = 100)] first: i32,
    ) -> async_graphql::Result<ChangePage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let types = types.unwrap_or_default();
        let limit = u32::try_from(first).unwrap_or(0);
        r.db.run(move |c| crm_events::list_changes(c, &actor, after.0, &types, limit)).await.map_err(gql)
    }

    /// One contact by id; null when it does not exist.
    async fn contact(&self, ctx: &Context<'_>, id: ContactId) -> async_graphql::Result<Option<ContactNode>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| crm_contacts::get_contact(c, &actor, id)).await {
            Ok(inner) => Ok(Some(ContactNode { inner })),
            Err(crm_contacts::ContactError::NotFound) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// Contacts, keyset-paginated; filters can follow the account (`account.tier`).
    #[allow(clippy::too_many_arguments)]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        filter: Option<String>,
        #[graphql(name = "where")] where_: Option<FilterInput>,
        order_by: Option<Vec<String>>,
        search: Option<String>,
        #[graphql(default)] archived: ArchivedFilter,
    ) -> async_graphql::Result<ContactConnection> {
        let r = rc(ctx)?;
        let count = ctx.look_ahead().field("totalCount").exists();
        let mut params = list_params(first, after, filter, where_, order_by, search, archived, count)?;
        let actor = r.actor.clone();
        // The page and the accounts its nodes ask for, in one trip to the database; external
        // ids only where the selection has them.
        let nodes = ctx.look_ahead().field("nodes");
        params.skip_external_ids = !nodes.field("externalIds").exists();
        let with_accounts = nodes.field("account").exists();
        let account_ids = nodes.field("account").field("externalIds").exists();
        let skip = params.skip_external_ids;
        let (page, accounts) =
            r.db.run(move |c| {
                let page = crm_contacts::list_contacts(c, &actor, &params)?;
                let accounts = with_accounts.then(|| crm_contacts::accounts_of(c, &actor, &page.data, account_ids));
                Ok::<_, ContactError>((page, accounts))
            })
            .await
            .map_err(gql)?;
        let accounts = accounts.transpose().map_err(gql)?;
        let partial = ctx.data::<WithoutExternalIds>()?;
        if skip {
            partial.mark(page.data.iter().map(|c| ExternalIdsOf::Contact(c.id)));
        }
        if let Some(a) = accounts.as_ref().filter(|_| !account_ids) {
            partial.mark(a.keys().map(|id| ExternalIdsOf::Account(*id)));
        }
        prime_for_contacts(ctx, accounts).await?;
        let page_info = page_info(&page);
        Ok(ContactConnection {
            page_info,
            total_count: page.total,
            nodes: page.data.into_iter().map(|inner| ContactNode { inner }).collect(),
        })
    }
}

#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    async fn create_account(&self, ctx: &Context<'_>, input: AccountInput) -> async_graphql::Result<AccountNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner = r.db.transaction(move |c| crm_accounts::create_account(c, &actor, input)).await.map_err(gql)?;
        Ok(AccountNode { inner })
    }

    /// Merge-patches an account. With `expectedVersion`, a stale version fails with VERSION_CONFLICT.
    async fn update_account(
        &self,
        ctx: &Context<'_>,
        id: AccountId,
        patch: AccountPatch,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<AccountNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_accounts::update_account(c, &actor, id, patch, expected_version))
                .await
                .map_err(gql)?;
        Ok(AccountNode { inner })
    }

    async fn archive_account(
        &self,
        ctx: &Context<'_>,
        id: AccountId,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<AccountNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_accounts::archive_account(c, &actor, id, expected_version))
                .await
                .map_err(gql)?;
        Ok(AccountNode { inner })
    }

    async fn restore_account(
        &self,
        ctx: &Context<'_>,
        id: AccountId,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<AccountNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_accounts::restore_account(c, &actor, id, expected_version))
                .await
                .map_err(gql)?;
        Ok(AccountNode { inner })
    }

    /// Creates or updates the account that carries `externalId` (merge patch on update).
    async fn upsert_account(
        &self,
        ctx: &Context<'_>,
        external_id: ExternalId,
        patch: AccountPatch,
    ) -> async_graphql::Result<UpsertAccountResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let (inner, created) =
            r.db.transaction(move |c| crm_accounts::upsert_account(c, &actor, external_id, patch))
                .await
                .map_err(gql)?;
        Ok(UpsertAccountResult { account: AccountNode { inner }, created })
    }

    /// Up to 1000 operations; `atomic: true` applies all or none.
    async fn batch_accounts(
        &self,
        ctx: &Context<'_>,
        operations: Vec<AccountBatchOp>,
        #[graphql(default)] atomic: bool,
    ) -> async_graphql::Result<Vec<BatchResult>> {
        check_batch_len(operations.len())?;
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let ops: Vec<crm_accounts::AccountOp> = operations.into_iter().map(Into::into).collect();
        let outcome =
            r.db.bulk_transaction(move |c| -> Result<_, crate::rest::Aborted<crm_accounts::AccountError>> {
                crm_accounts::batch_accounts(c, &actor, ops, atomic).map_err(|(i, e)| crate::rest::Aborted(i, e))
            })
            .await;
        batch_results(outcome)
    }

    /// Creates or updates the contact that carries `externalId` (merge patch on update).
    async fn upsert_contact(
        &self,
        ctx: &Context<'_>,
        external_id: ExternalId,
        patch: ContactPatch,
    ) -> async_graphql::Result<UpsertContactResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let (inner, created) =
            r.db.transaction(move |c| crm_contacts::upsert_contact(c, &actor, external_id, patch))
                .await
                .map_err(gql)?;
        Ok(UpsertContactResult { contact: ContactNode { inner }, created })
    }

    /// Up to 1000 operations; `atomic: true` applies all or none.
    async fn batch_contacts(
        &self,
        ctx: &Context<'_>,
        operations: Vec<ContactBatchOp>,
        #[graphql(default)] atomic: bool,
    ) -> async_graphql::Result<Vec<BatchResult>> {
        check_batch_len(operations.len())?;
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let ops: Vec<crm_contacts::ContactOp> = operations.into_iter().map(Into::into).collect();
        let outcome =
            r.db.bulk_transaction(move |c| -> Result<_, crate::rest::Aborted<crm_contacts::ContactError>> {
                crm_contacts::batch_contacts(c, &actor, ops, atomic).map_err(|(i, e)| crate::rest::Aborted(i, e))
            })
            .await;
        batch_results(outcome)
    }

    async fn create_contact(&self, ctx: &Context<'_>, input: ContactInput) -> async_graphql::Result<ContactNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner = r.db.transaction(move |c| crm_contacts::create_contact(c, &actor, input)).await.map_err(gql)?;
        Ok(ContactNode { inner })
    }

    /// Merge-patches a contact. With `expectedVersion`, a stale version fails with VERSION_CONFLICT.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ContactId,
        patch: ContactPatch,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<ContactNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_contacts::update_contact(c, &actor, id, patch, expected_version))
                .await
                .map_err(gql)?;
        Ok(ContactNode { inner })
    }

    async fn archive_contact(
        &self,
        ctx: &Context<'_>,
        id: ContactId,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<ContactNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_contacts::archive_contact(c, &actor, id, expected_version))
                .await
                .map_err(gql)?;
        Ok(ContactNode { inner })
    }

    async fn restore_contact(
        &self,
        ctx: &Context<'_>,
        id: ContactId,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<ContactNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_contacts::restore_contact(c, &actor, id, expected_version))
                .await
                .map_err(gql)?;
        Ok(ContactNode { inner })
    }
}

// ------------------------------------------------------------------------------------------
// HTTP

/// How long a loader collects keys before it queries (one batch per relation level).
pub const LOADER_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

/// `POST /graphql`: needs a bearer token like every API call. GraphQL answers 200 even when a
/// field failed; when a failure is a server error (5xx class) the answer is marked retryable,
/// so an `Idempotency-Key` does not pin it.
pub async fn graphql_post(state: web::Data<AppState>, auth: Authenticated, req: GraphQLRequest) -> HttpResponse {
    let actor = auth.0;
    let db = state.db.clone();
    let request = req
        .into_inner()
        // Request-scoped caches: list resolvers prime them (see `prime_*`), nodes then read them.
        .data(
            DataLoader::with_cache(
                AccountLoader { db: db.clone(), actor: actor.clone() },
                actix_web::rt::spawn,
                HashMapCache::default(),
            )
            .delay(LOADER_WINDOW),
        )
        .data(
            DataLoader::with_cache(
                ContactsByAccountLoader { db: db.clone(), actor: actor.clone() },
                actix_web::rt::spawn,
                HashMapCache::default(),
            )
            .delay(LOADER_WINDOW),
        )
        .data(
            DataLoader::with_cache(
                ContactLoader { db: db.clone(), actor: actor.clone() },
                actix_web::rt::spawn,
                HashMapCache::default(),
            )
            .delay(LOADER_WINDOW),
        )
        .data(
            DataLoader::with_cache(
                ExternalIdsLoader { db: db.clone(), actor: actor.clone() },
                actix_web::rt::spawn,
                HashMapCache::default(),
            )
            .delay(LOADER_WINDOW),
        )
        .data(WithoutExternalIds::default())
        .data(RequestCtx { db: db.clone(), actor: actor.clone() });
    let request = operational::with_loaders(request, &db, &actor);
    let request = sales::with_loaders(request, &db, &actor);
    let response = state.schema.execute(request).await;
    let server_error = response.errors.iter().any(|e| {
        e.extensions.as_ref().and_then(|x| x.get("status")).is_some_and(|s| match s {
            async_graphql::Value::Number(n) => n.as_u64().is_some_and(|n| n >= 500),
            _ => false,
        })
    });
    let mut res = HttpResponse::Ok();
    if server_error {
        res.insert_header((crate::idempotency::RETRYABLE, "1"));
    }
    res.json(&response)
}

/// `GET /graphql`: the GraphiQL IDE (add an `Authorization: Bearer …` header in its headers tab).
pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(GraphiQLSource::build().endpoint("/graphql").title("CRM GraphQL").finish())
}
