//! The event log: every write appends an event in its own transaction. From it come the
//! change feed (`/changes`) and per-record field history.

use chrono::NaiveDateTime;
use crm_core::{Actor, DomainError, ErrorClass, FieldError, Long, Scope, Timestamp};
use crm_db::schema::events;
use crm_db::types::{DbJson, DbRawJson, DbUuid};
use crm_db::{AnyConnection, DbError, MultiBackend, to_utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

pub mod audit;

/// The plural of an entity's name, as the change feed's `types` takes it: `opportunities`,
/// `api_keys`, `contacts`.
pub fn plural(entity: &str) -> String {
    match entity.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{entity}s"),
    }
}

/// Entities that emit events, and the scope needed to read their events.
pub const ENTITIES: &[(&str, Scope)] = &[
    ("account", Scope::AccountsRead),
    ("contact", Scope::ContactsRead),
    ("consent", Scope::ContactsRead),
    ("legal_hold", Scope::PrivacyRead),
    ("retention_policy", Scope::PrivacyRead),
    ("user", Scope::UsersRead),
    ("interaction", Scope::InteractionsRead),
    ("case", Scope::CasesRead),
    ("case_comment", Scope::CasesRead),
    ("product", Scope::ProductsRead),
    ("purchase", Scope::ProductsRead),
    ("lead", Scope::SalesRead),
    ("pipeline", Scope::SalesRead),
    ("opportunity", Scope::SalesRead),
    ("activity", Scope::SalesRead),
    ("target_list", Scope::SalesRead),
    ("quota", Scope::SalesRead),
    ("segment", Scope::CampaignsRead),
    ("campaign", Scope::CampaignsRead),
    ("campaign_member", Scope::CampaignsRead),
    ("email_template", Scope::CampaignsRead),
    ("custom_field", Scope::SchemaRead),
    ("webhook", Scope::WebhooksRead),
    ("automation_rule", Scope::AutomationRead),
    ("api_key", Scope::ApiKeysRead),
    ("sharing_rule", Scope::UsersRead),
    ("share", Scope::UsersRead),
    ("alert", Scope::AnalyticsRead),
    ("customer_tier", Scope::AnalyticsRead),
];

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Archived,
    Restored,
    Deleted,
    /// A scheduled activity's reminder time came.
    ReminderDue,
    /// The record was merged into another (it is now a tombstone pointing at it).
    Merged,
    /// The person's data in the record was erased (a privacy request): `after` is what is
    /// left, `changed_fields` names what was cleared, and no event keeps the values before.
    Erased,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Archived => "archived",
            Action::Restored => "restored",
            Action::Deleted => "deleted",
            Action::ReminderDue => "reminder_due",
            Action::Merged => "merged",
            Action::Erased => "erased",
        }
    }
}

/// One entry of the change feed. `before` and `after` are passed on as stored, unparsed.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(complex))]
pub struct ChangeEvent {
    /// Position in the log: strictly increasing and gap-free in commit order.
    pub seq: Long,
    /// Stable event id (for de-duplication downstream).
    pub id: uuid::Uuid,
    /// `contact.created`, `account.updated`, `contact.archived`, …
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub kind: String,
    /// `contact`, `account`, …
    pub entity: String,
    pub entity_id: uuid::Uuid,
    /// When it happened (UTC).
    pub occurred_at: Timestamp,
    /// The JWT subject that made the change.
    pub actor: String,
    /// The id of the request that made the change (its `X-Request-Id`).
    pub request_id: Option<String>,
    /// The W3C trace id of that request, when it came with a valid `traceparent`.
    pub trace_id: Option<String>,
    /// Fields whose value changed.
    pub changed_fields: Vec<String>,
    /// The record before the change (null on create).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub before: Option<Box<RawValue>>,
    /// The record after the change.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub after: Option<Box<RawValue>>,
}

/// One page of the change feed.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ChangePage {
    pub data: Vec<ChangeEvent>,
    /// Pass as `after` to continue; equals the request's `after` when nothing new arrived.
    pub next_after: Long,
}

/// One field's change in a record's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct FieldChange {
    pub field: String,
    /// The value before: any JSON value (null when the field was empty).
    pub from: Value,
    /// The value after: any JSON value.
    pub to: Value,
}

/// One write in a record's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct HistoryEntry {
    pub seq: Long,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub kind: String,
    /// When it happened (UTC).
    pub occurred_at: Timestamp,
    pub actor: String,
    /// The id of the request that made the change (its `X-Request-Id`).
    pub request_id: Option<String>,
    /// The W3C trace id of that request, when it came with a valid `traceparent`.
    pub trace_id: Option<String>,
    pub changes: Vec<FieldChange>,
}

/// Failures of the change feed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Forbidden(#[from] crm_core::actor::Forbidden),
    #[error("{0}")]
    InvalidParameter(String, &'static str),
    /// `after` is beyond the feed's head: a client holding it would skip every change to come.
    #[error("after={after} is beyond the change feed's head ({head}): resume from a seq the feed gave you")]
    Ahead { after: i64, head: i64 },
    /// Events after `after` were removed by retention: the client missed them.
    #[error(
        "the events after {after} are past retention; the oldest available is {}: resynchronize (export, then follow from the head)",
        oldest.map(|o| o.to_string()).unwrap_or_else(|| "none".into())
    )]
    Expired { after: i64, oldest: Option<i64>, head: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for EventsError {
    fn from(e: diesel::result::Error) -> Self {
        EventsError::Db(DbError::Query(e))
    }
}

impl DomainError for EventsError {
    fn class(&self) -> ErrorClass {
        match self {
            EventsError::Forbidden(_) => ErrorClass::Forbidden,
            EventsError::InvalidParameter(..) => ErrorClass::BadRequest,
            EventsError::Ahead { .. } => ErrorClass::Conflict,
            EventsError::Expired { .. } => ErrorClass::Gone,
            EventsError::Db(e) => e.class(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            EventsError::Forbidden(e) => e.code(),
            EventsError::InvalidParameter(..) => "INVALID_PARAMETER",
            EventsError::Ahead { .. } => "CHANGE_FEED_AHEAD",
            EventsError::Expired { .. } => "CHANGE_FEED_EXPIRED",
            EventsError::Db(e) => e.code(),
        }
    }
    fn extra(&self) -> Option<serde_json::Map<String, Value>> {
        let mut m = serde_json::Map::new();
        match self {
            EventsError::Ahead { head, .. } => {
                m.insert("head".into(), (*head).into());
            }
            EventsError::Expired { oldest, head, .. } => {
                m.insert("oldest_available".into(), oldest.map(Value::from).unwrap_or(Value::Null));
                m.insert("head".into(), (*head).into());
            }
            _ => return None,
        }
        Some(m)
    }
    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            EventsError::InvalidParameter(m, field) => vec![FieldError::new(*field, "invalid_value", m.clone())],
            _ => Vec::new(),
        }
    }
}

/// Fields that change on every write and say nothing about what changed.
const BOOKKEEPING: &[&str] = &["version", "updated_at"];

/// The object of custom fields, whose keys are fields of their own in events and history.
const CUSTOM_FIELDS: &str = "custom_fields";

/// Top-level fields whose values differ between two JSON objects; a custom field counts as a
/// field of its own (`custom_fields.tier`), as it does in filters.
pub fn changed_fields(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    differing(before, after, "", &mut out);
    out
}

fn differing(before: Option<&Value>, after: Option<&Value>, prefix: &str, out: &mut Vec<String>) {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if prefix.is_empty() && BOOKKEEPING.contains(&k.as_str()) {
            continue;
        }
        let (x, y) = (b.get(k).unwrap_or(&Value::Null), a.get(k).unwrap_or(&Value::Null));
        if x == y {
            continue;
        }
        if prefix.is_empty() && k == CUSTOM_FIELDS {
            differing(Some(x), Some(y), "custom_fields.", out);
        } else {
            out.push(format!("{prefix}{k}"));
        }
    }
}

/// The value of a changed field in a record's JSON (`custom_fields.tier` reads inside the
/// object of custom fields).
fn field_value<'a>(record: Option<&'a Value>, field: &str) -> Option<&'a Value> {
    match field.strip_prefix("custom_fields.") {
        Some(key) => record?.get(CUSTOM_FIELDS)?.get(key),
        None => record?.get(field),
    }
}

/// Appends an event to the caller's transaction. Inside `Db::transaction` it is written at
/// commit, after every other write (see `crm_db::outbox`), which keeps `seq` gap-free in
/// commit order without holding the sequence lock while the transaction works.
pub fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    entity: &str,
    entity_id: uuid::Uuid,
    action: Action,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), DbError> {
    let changed: Vec<String> = match action {
        Action::Created => changed_fields(None, after.as_ref())
            .into_iter()
            .filter(|f| !matches!(f.as_str(), "id" | "created_at" | "archived_at"))
            .collect(),
        _ => changed_fields(before.as_ref(), after.as_ref()),
    };
    append(conn, actor, (entity, entity_id), action, changed, before, after)
}

/// Appends the `erased` event of a record whose `erased` fields were cleared: it carries the
/// record as it is now and the names of the fields, never their values before.
pub fn record_erased(
    conn: &mut AnyConnection,
    actor: &Actor,
    entity: &str,
    entity_id: uuid::Uuid,
    erased: &[&str],
    after: Value,
) -> Result<(), DbError> {
    let changed = erased.iter().map(|f| (*f).to_string()).collect();
    append(conn, actor, (entity, entity_id), Action::Erased, changed, None, Some(after))
}

fn append(
    conn: &mut AnyConnection,
    actor: &Actor,
    (entity, entity_id): (&str, uuid::Uuid),
    action: Action,
    changed: Vec<String>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), DbError> {
    audit::record_change(conn, actor, (entity, entity_id), action, &changed, before.as_ref(), after.as_ref())?;
    let raw = |v: Option<Value>| {
        v.map(|v| serde_json::value::to_raw_value(&v))
            .transpose()
            .map_err(|e| DbError::Query(diesel::result::Error::SerializationError(Box::new(e))))
    };
    crm_db::outbox::append(
        conn,
        crm_db::outbox::PendingEvent {
            id: uuid::Uuid::now_v7(),
            kind: format!("{entity}.{}", action.as_str()),
            entity: entity.to_string(),
            entity_id,
            occurred_at: crm_db::now(),
            actor: actor.sub.clone(),
            request_id: actor.request_id.clone(),
            trace_id: actor.trace_id.clone(),
            changed_fields: serde_json::json!(changed),
            before: raw(before)?,
            after: raw(after)?,
        },
    )?;
    Ok(())
}

#[cfg(feature = "graphql")]
#[async_graphql::ComplexObject]
impl ChangeEvent {
    /// The record before the change (null on create).
    async fn before(&self) -> Option<Value> {
        self.before.as_ref().and_then(|r| serde_json::from_str(r.get()).ok())
    }

    /// The record after the change.
    async fn after(&self) -> Option<Value> {
        self.after.as_ref().and_then(|r| serde_json::from_str(r.get()).ok())
    }
}

/// An event row with the documents parsed (history needs their fields).
type EventRow = (
    i64,
    DbUuid,
    String,
    String,
    DbUuid,
    NaiveDateTime,
    String,
    Option<String>,
    DbJson,
    Option<DbJson>,
    Option<DbJson>,
    Option<String>,
);

/// An event row with the documents as text (the feed only passes them on).
type FeedRow = (
    i64,
    DbUuid,
    String,
    String,
    DbUuid,
    NaiveDateTime,
    String,
    Option<String>,
    DbJson,
    Option<DbRawJson>,
    Option<DbRawJson>,
    Option<String>,
);

fn to_event(r: FeedRow) -> ChangeEvent {
    ChangeEvent {
        seq: Long(r.0),
        id: r.1.0,
        kind: r.2,
        entity: r.3,
        entity_id: r.4.0,
        occurred_at: to_utc(r.5),
        actor: r.6,
        request_id: r.7,
        trace_id: r.11,
        changed_fields: serde_json::from_value(r.8.0).unwrap_or_default(),
        before: r.9.map(|j| j.0),
        after: r.10.map(|j| j.0),
    }
}

/// Where the feed stands: its head (the last `seq` committed; 0 before the first event) and the
/// oldest event retention kept (none when it kept none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct FeedBounds {
    /// The last `seq` committed: start following from here after a full export.
    pub head: Long,
    /// The oldest `seq` still in the feed; `after` must be at least this minus one (or 0).
    pub oldest_available: Option<Long>,
}

/// The feed's bounds for a caller who may read it (`changes:read`).
pub fn read_feed_bounds(conn: &mut AnyConnection, actor: &Actor) -> Result<FeedBounds, EventsError> {
    actor.require(Scope::ChangesRead)?;
    Ok(feed_bounds(conn)?)
}

/// The feed's head and oldest retained event: two point reads (the sequence row and the
/// smallest `seq`, from its index).
pub fn feed_bounds(conn: &mut AnyConnection) -> Result<FeedBounds, DbError> {
    use crm_db::schema::event_seq;
    let head: Option<i64> =
        event_seq::table.filter(event_seq::id.eq(1)).select(event_seq::last).first(conn).optional()?;
    let oldest: Option<i64> = events::table.select(diesel::dsl::min(events::seq)).first(conn)?;
    Ok(FeedBounds { head: Long(head.unwrap_or(0)), oldest_available: oldest.map(Long) })
}

/// Most events per page of the feed.
pub const MAX_FEED_PAGE: u32 = 10_000;

/// A checked change-feed request: the events the actor asked for and may read, from where, and
/// how many. Built without touching the database, so a bad request fails before any output.
#[derive(Clone, Debug)]
pub struct FeedRequest {
    after: i64,
    limit: u32,
    /// Whole entities asked for (or every readable one when nothing was asked for).
    entities: Vec<String>,
    /// `entity.action` types asked for.
    kinds: Vec<String>,
    /// Fields left out of the events, by entity: those the actor may not see
    /// (`crm_core::actor::CONCEALED`).
    concealed: Vec<(&'static str, &'static str)>,
}

impl FeedRequest {
    /// Checks the scope, the position, the page size and every type asked for.
    pub fn new(actor: &Actor, after: i64, types: &[String], limit: u32) -> Result<Self, EventsError> {
        actor.require(Scope::ChangesRead)?;
        if limit == 0 || limit > MAX_FEED_PAGE {
            return Err(EventsError::InvalidParameter(format!("limit must be between 1 and {MAX_FEED_PAGE}"), "limit"));
        }
        if after < 0 {
            return Err(EventsError::InvalidParameter("after must be 0 or a seq from the feed".into(), "after"));
        }
        let readable: Vec<&str> = ENTITIES.iter().filter(|(_, s)| actor.has(*s)).map(|(e, _)| *e).collect();
        let mut entities: Vec<String> = Vec::new();
        let mut kinds: Vec<String> = Vec::new();
        for t in types.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let head = t.split('.').next().unwrap_or(t);
            // `contact`, `contacts`, `opportunities`, `api_keys`: singular or plural.
            let entity = ENTITIES.iter().map(|(e, _)| *e).find(|e| *e == head || plural(e) == head).unwrap_or(head);
            if !ENTITIES.iter().any(|(e, _)| *e == entity) {
                let known: Vec<&str> = ENTITIES.iter().map(|(e, _)| *e).collect();
                return Err(EventsError::InvalidParameter(
                    format!("unknown type `{t}`; use {} or entity.action", known.join(", ")),
                    "types",
                ));
            }
            if !readable.contains(&entity) {
                return Err(EventsError::Forbidden(crm_core::actor::Forbidden {
                    missing: ENTITIES.iter().find(|(e, _)| *e == entity).map(|(_, s)| *s).unwrap_or(Scope::ChangesRead),
                }));
            }
            if t.contains('.') {
                kinds.push(format!("{entity}.{}", t.split_once('.').map(|x| x.1).unwrap_or("")))
            } else {
                entities.push(entity.to_string())
            }
        }
        if entities.is_empty() && kinds.is_empty() {
            entities = readable.iter().map(|s| s.to_string()).collect();
        }
        let concealed = crm_core::actor::CONCEALED
            .iter()
            .filter(|(_, _, scope)| !actor.has(*scope))
            .map(|(e, f, _)| (*e, *f))
            .collect();
        Ok(FeedRequest { after, limit, entities, kinds, concealed })
    }

    /// Checks that `after` is a position the feed can continue from, given the first event the
    /// page loaded: `CHANGE_FEED_AHEAD` beyond the head, `CHANGE_FEED_EXPIRED` when retention
    /// removed events after it. `seq` has no gaps (one counter row, taken at commit) and
    /// retention removes a prefix of it (`purge_before`), so when the page starts right after
    /// `after` nothing was skipped and the bounds are not read.
    pub fn check_position(&self, conn: &mut AnyConnection, first: Option<i64>) -> Result<(), EventsError> {
        if first == Some(self.after.saturating_add(1)) {
            return Ok(());
        }
        let bounds = feed_bounds(conn)?;
        let head = bounds.head.0;
        if self.after > head {
            return Err(EventsError::Ahead { after: self.after, head });
        }
        // From the start (0), or nothing after `after` was removed.
        let oldest = bounds.oldest_available.map(|o| o.0);
        let kept_from = oldest.unwrap_or(head.saturating_add(1));
        if self.after > 0 && self.after.saturating_add(1) < kept_from {
            return Err(EventsError::Expired { after: self.after, oldest, head });
        }
        Ok(())
    }

    /// Leaves out the events of these entities (resources whose records the caller does not all
    /// see: see `crm_records::visibility::withheld_entities`).
    pub fn withhold(&mut self, entities: &[&str]) {
        self.entities.retain(|e| !entities.contains(&e.as_str()));
        self.kinds.retain(|k| !entities.contains(&k.split('.').next().unwrap_or(k)));
        if self.entities.is_empty() && self.kinds.is_empty() {
            // Nothing left to read: a name no event has keeps the page empty.
            self.entities.push(String::new());
        }
    }

    /// Where the request starts: events with a greater `seq` follow.
    pub fn after(&self) -> i64 {
        self.after
    }

    /// The most events the request returns.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Up to `limit` matching events after `after`, in `seq` order. Reading a long page as
    /// consecutive slices (each starting after the last `seq` of the previous one) returns the
    /// same events as one read: `seq` is assigned at commit, so later commits only append.
    pub fn load(&self, conn: &mut AnyConnection, after: i64, limit: u32) -> Result<Vec<ChangeEvent>, DbError> {
        let mut q = events::table.filter(events::seq.gt(after)).into_boxed::<MultiBackend>();
        if self.kinds.is_empty() {
            q = q.filter(events::entity.eq_any(self.entities.clone()));
        } else {
            q = q.filter(events::entity.eq_any(self.entities.clone()).or(events::kind.eq_any(self.kinds.clone())));
        }
        let rows: Vec<FeedRow> = q.order(events::seq.asc()).limit(i64::from(limit)).load(conn)?;
        let mut events: Vec<ChangeEvent> = rows.into_iter().map(to_event).collect();
        for (entity, field) in &self.concealed {
            for e in events.iter_mut().filter(|e| e.entity == *entity) {
                conceal_field(e, field);
            }
        }
        Ok(events)
    }
}

/// Removes a field from an event's documents and changed fields.
fn conceal_field(e: &mut ChangeEvent, field: &str) {
    e.changed_fields.retain(|f| f.split('.').next() != Some(field));
    for doc in [&mut e.before, &mut e.after].into_iter().flatten() {
        if let Ok(mut v) = serde_json::from_str::<Value>(doc.get())
            && let Some(o) = v.as_object_mut()
            && o.remove(field).is_some()
            && let Ok(raw) = serde_json::value::to_raw_value(&v)
        {
            *doc = raw;
        }
    }
}

/// Up to `limit` events of every entity after `after`, in `seq` order: what the system's own
/// readers of the log (the webhook matcher) read.
pub fn events_after(conn: &mut AnyConnection, after: i64, limit: u32) -> Result<Vec<ChangeEvent>, DbError> {
    let rows: Vec<FeedRow> =
        events::table.filter(events::seq.gt(after)).order(events::seq.asc()).limit(i64::from(limit)).load(conn)?;
    Ok(rows.into_iter().map(to_event).collect())
}

/// Events after `after`, in `seq` order, for the entities (or `entity.action` types) asked
/// for and readable by the actor, but not the `withheld` ones, as one page.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, after))]
pub fn list_changes(
    conn: &mut AnyConnection,
    actor: &Actor,
    after: i64,
    types: &[String],
    limit: u32,
    withheld: &[&str],
) -> Result<ChangePage, EventsError> {
    let mut req = FeedRequest::new(actor, after, types, limit)?;
    req.withhold(withheld);
    let data = req.load(conn, after, limit)?;
    req.check_position(conn, data.first().map(|e| e.seq.0))?;
    let next_after = data.last().map(|e| e.seq).unwrap_or(Long(after));
    Ok(ChangePage { data, next_after })
}

/// A record's history, newest first: who changed which field from what to what.
/// The caller checks that the actor may read the record.
pub fn history(
    conn: &mut AnyConnection,
    entity: &str,
    entity_id: uuid::Uuid,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<HistoryEntry>, DbError> {
    let mut q = events::table
        .filter(events::entity.eq(entity))
        .filter(events::entity_id.eq(DbUuid(entity_id)))
        .into_boxed::<MultiBackend>();
    if let Some(b) = before_seq {
        q = q.filter(events::seq.lt(b));
    }
    let rows: Vec<EventRow> = q.order(events::seq.desc()).limit(i64::from(limit.clamp(1, 1000))).load(conn)?;
    Ok(rows.into_iter().map(to_history).collect())
}

fn to_history(r: EventRow) -> HistoryEntry {
    let empty = Value::Null;
    let changed: Vec<String> = serde_json::from_value(r.8.0).unwrap_or_default();
    let (before, after) = (r.9.map(|j| j.0), r.10.map(|j| j.0));
    let changes = changed
        .iter()
        .map(|f| FieldChange {
            field: f.clone(),
            from: field_value(before.as_ref(), f).unwrap_or(&empty).clone(),
            to: field_value(after.as_ref(), f).unwrap_or(&empty).clone(),
        })
        .collect();
    HistoryEntry {
        seq: Long(r.0),
        kind: r.2,
        occurred_at: to_utc(r.5),
        actor: r.6,
        request_id: r.7,
        trace_id: r.11,
        changes,
    }
}

/// A record's changes newest first by (occurred_at, event id), strictly before `before`: the
/// keyset the customer timeline pages with. Returns (occurred_at, event id, entry).
pub fn changes_before(
    conn: &mut AnyConnection,
    entity: &str,
    entity_id: uuid::Uuid,
    before: Option<(NaiveDateTime, uuid::Uuid)>,
    limit: u32,
) -> Result<Vec<(NaiveDateTime, uuid::Uuid, HistoryEntry)>, DbError> {
    let mut q = events::table
        .filter(events::entity.eq(entity))
        .filter(events::entity_id.eq(DbUuid(entity_id)))
        .into_boxed::<MultiBackend>();
    if let Some((t, id)) = before {
        q = q.filter(events::occurred_at.lt(t).or(events::occurred_at.eq(t).and(events::id.lt(DbUuid(id)))));
    }
    let rows: Vec<EventRow> =
        q.order((events::occurred_at.desc(), events::id.desc())).limit(i64::from(limit.clamp(1, 1001))).load(conn)?;
    Ok(rows.into_iter().map(|r| (r.5, r.1.0, to_history(r))).collect())
}

/// Deletes events older than `cutoff`; returns how many.
pub fn purge_before(conn: &mut AnyConnection, cutoff: NaiveDateTime) -> Result<usize, DbError> {
    purge_before_keeping(conn, cutoff, None)
}

/// `purge_before`, keeping every event from `keep_from` on (what a reader of the log, such as
/// the webhook matcher, has yet to read).
pub fn purge_before_keeping(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    keep_from: Option<i64>,
) -> Result<usize, DbError> {
    // A prefix of `seq`, so that the feed can tell a client that it missed events: every event
    // up to the last one that occurred before the cutoff (an event committed late can occur
    // before one committed earlier; it goes with it).
    let last: Option<i64> =
        events::table.filter(events::occurred_at.lt(cutoff)).select(diesel::dsl::max(events::seq)).first(conn)?;
    let last = match (last, keep_from) {
        (Some(l), Some(k)) => Some(l.min(k - 1)),
        (l, _) => l,
    };
    match last {
        Some(last) => Ok(diesel::delete(events::table.filter(events::seq.le(last))).execute(conn)?),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_english() {
        let got: Vec<String> =
            ["opportunity", "api_key", "activity", "contact", "customer_tier"].into_iter().map(plural).collect();
        assert_eq!(got, ["opportunities", "api_keys", "activities", "contacts", "customer_tiers"]);
    }

    #[test]
    fn changed_fields_ignore_bookkeeping() {
        let b = serde_json::json!({"a": 1, "b": 2, "version": 1, "updated_at": "x"});
        let a = serde_json::json!({"a": 1, "b": 3, "c": null, "d": 4, "version": 2, "updated_at": "y"});
        assert_eq!(changed_fields(Some(&b), Some(&a)), vec!["b", "d"]);
    }

    #[test]
    fn custom_fields_change_one_by_one() {
        let b = serde_json::json!({"a": 1, "custom_fields": {"tier": "gold", "score": 3, "same": true}});
        let a = serde_json::json!({"a": 1, "custom_fields": {"tier": "silver", "same": true, "new": [1]}});
        assert_eq!(
            changed_fields(Some(&b), Some(&a)),
            vec!["custom_fields.new", "custom_fields.score", "custom_fields.tier"]
        );
        assert_eq!(
            changed_fields(None, Some(&a)),
            vec!["a", "custom_fields.new", "custom_fields.same", "custom_fields.tier"]
        );
        assert_eq!(field_value(Some(&b), "custom_fields.tier"), Some(&serde_json::json!("gold")));
        assert_eq!(field_value(Some(&b), "custom_fields.new"), None);
    }
}
