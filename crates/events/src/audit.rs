//! The audit log: who did what, from where, to which record, for the acts an auditor asks
//! about. Beside the change feed (every write, kept for `CRM_EVENT_RETENTION`), it keeps for
//! longer (`CRM_AUDIT_RETENTION`) what the feed does not say or does not keep:
//!
//! - changes of who may do what: users (role, team, manager, active), API keys, sharing rules,
//!   shares and webhook subscriptions, with the permission fields before and after;
//! - deletions: every archive, delete and merge of any record;
//! - reads in bulk: exports (queued or streamed, with the row count) and imports queued;
//! - API key use: the first use from an address or after an hour's quiet, and every refusal
//!   of a known key (revoked, expired, from an address it may not be used from).
//!
//! Entries carry ids, never personal data (no names, emails or field values beyond the
//! permission fields and the filter of an export), so an erasure leaves the log whole.
//! The table refuses updates and the deletion of entries younger than 28 days (database
//! triggers), whatever the service asks.

use chrono::NaiveDateTime;
use crm_core::{Actor, Long, Scope, Timestamp};
use crm_db::schema::audit_log;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, DbError, MultiBackend, to_utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::EventsError;

/// The shortest retention the log accepts: the database refuses to delete younger entries
/// (28 days, with room for clocks that disagree).
pub const MIN_RETENTION_DAYS: i64 = 30;

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct AuditEntry {
    /// Position in the log (grows with every entry; pages go by it).
    pub seq: Long,
    /// When it happened (UTC).
    pub occurred_at: Timestamp,
    /// Who: a token's subject, `api_key:<id>`, or the service (`system`, `analytics`, …).
    pub actor: String,
    /// What: `<entity>.<action>` for record changes (`api_key.created`, `user.updated`,
    /// `contact.archived`, `contact.merged`: `details.merged_into` names the survivor), `export.queued`, `export.streamed`,
    /// `import.queued`, `api_key.used`, `api_key.refused`.
    pub action: String,
    /// The record's resource (entity name), when the act is about one record.
    pub entity: Option<String>,
    /// The record's id.
    pub record_id: Option<uuid::Uuid>,
    /// The caller's address, as the server trusts it.
    pub ip: Option<String>,
    /// The request it happened in (`X-Request-Id`).
    pub request_id: Option<String>,
    /// The W3C trace id of the request.
    pub trace_id: Option<String>,
    /// What else the act is about: the fields that changed, the permission fields before and
    /// after, an export's resource, filter and row count, why a key was refused.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Value,
}

/// A page of the log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct AuditPage {
    /// The entries, newest first.
    pub data: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<Long>,
}

/// Which entries to read: every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Entries of this actor (exact).
    pub actor: Option<String>,
    /// Entries of this action, or of actions starting with a prefix ending in `*`
    /// (`api_key.*`), or ending with a suffix after a leading `*` (`*.archived`).
    pub action: Option<String>,
    /// Entries about records of this entity.
    pub entity: Option<String>,
    /// Entries about this record.
    pub record_id: Option<uuid::Uuid>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
    /// Entries before this position (`next_before` of the previous page).
    pub before: Option<i64>,
    /// Entries per page, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// The resources whose every change is audited (they say who may do what), with the fields
/// whose values the entry keeps, before and after.
pub const PERMISSION_FIELDS: &[(&str, &[&str])] = &[
    ("user", &["role", "team", "manager_id", "active", "subject"]),
    ("api_key", &["name", "scopes", "expires_at", "allowed_ips", "rate_limit_per_minute"]),
    ("sharing_rule", &["entity", "level"]),
    ("share", &["entity", "record_id", "user_id", "team", "granted_by"]),
    ("webhook", &["url", "event_types", "filter", "fields", "enabled", "secret_rotated_at"]),
];

/// Audits a record's change when it is one an auditor asks about: any change of a resource of
/// [`PERMISSION_FIELDS`], and an archive, deletion or merge of any record. Called by
/// [`crate::record`], so no write path can skip it.
pub(crate) fn record_change(
    conn: &mut AnyConnection,
    actor: &Actor,
    (entity, entity_id): (&str, uuid::Uuid),
    action: crate::Action,
    changed: &[String],
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), DbError> {
    use crate::Action;
    let fields = PERMISSION_FIELDS.iter().find(|(e, _)| *e == entity).map(|(_, f)| *f);
    let removal = matches!(action, Action::Archived | Action::Deleted | Action::Merged | Action::Erased);
    if fields.is_none() && !removal {
        return Ok(());
    }
    let pick = |doc: Option<&Value>| -> Value {
        let (Some(doc), Some(fields)) = (doc, fields) else { return Value::Null };
        fields.iter().filter_map(|f| doc.get(*f).map(|v| ((*f).to_string(), v.clone()))).collect()
    };
    let mut details = serde_json::json!({ "changed_fields": changed });
    if fields.is_some() {
        details["before"] = pick(before);
        details["after"] = pick(after);
    }
    if action == Action::Merged
        && let Some(into) = after.and_then(|a| a.get("merged_into"))
    {
        details["merged_into"] = into.clone();
    }
    append(conn, actor, &format!("{entity}.{}", action.as_str()), Some((entity, entity_id)), details)
}

/// Most entries per page.
pub const MAX_PAGE: u32 = 1000;

/// Appends an entry in the caller's transaction (it is kept or rolled back with the act).
pub fn append(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    record: Option<(&str, uuid::Uuid)>,
    details: Value,
) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::occurred_at.eq(crm_db::now()),
            audit_log::actor.eq(&actor.sub),
            audit_log::action.eq(action),
            audit_log::entity.eq(record.map(|r| r.0)),
            audit_log::record_id.eq(record.map(|r| DbUuid(r.1))),
            audit_log::ip.eq(actor.ip.map(|ip| ip.to_string())),
            audit_log::request_id.eq(actor.request_id.as_deref()),
            audit_log::trace_id.eq(actor.trace_id.as_deref()),
            audit_log::details.eq(DbJson(details)),
        ))
        .execute(conn)?;
    Ok(())
}

type Row = (
    i64,
    NaiveDateTime,
    String,
    String,
    Option<String>,
    Option<DbUuid>,
    Option<String>,
    Option<String>,
    Option<String>,
    DbJson,
);

/// A page of the log, newest first, for a caller holding `audit:read`.
pub fn list(conn: &mut AnyConnection, actor: &Actor, query: &AuditQuery) -> Result<AuditPage, EventsError> {
    actor.require(Scope::AuditRead)?;
    let limit = crm_core::list::page_size(query.limit.unwrap_or(100), MAX_PAGE)
        .map_err(|e| EventsError::InvalidParameter(e.to_string(), "limit"))?;
    let mut q = audit_log::table
        .select((
            audit_log::seq,
            audit_log::occurred_at,
            audit_log::actor,
            audit_log::action,
            audit_log::entity,
            audit_log::record_id,
            audit_log::ip,
            audit_log::request_id,
            audit_log::trace_id,
            audit_log::details,
        ))
        .into_boxed::<MultiBackend>();
    if let Some(a) = query.actor.as_deref() {
        q = q.filter(audit_log::actor.eq(a.to_string()));
    }
    if let Some(a) = query.action.as_deref() {
        let bad = || {
            EventsError::InvalidParameter(
                "`action` is an action (`api_key.created`), a prefix ending in `*` (`api_key.*`) or a suffix after a \
                 leading `*` (`*.archived`)"
                    .into(),
                "action",
            )
        };
        let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        q = match (a.strip_suffix('*'), a.strip_prefix('*')) {
            (Some(prefix), _) if plain(prefix) => q.filter(audit_log::action.like(format!("{prefix}%"))),
            (_, Some(suffix)) if plain(suffix) => q.filter(audit_log::action.like(format!("%{suffix}"))),
            _ if plain(a) => q.filter(audit_log::action.eq(a.to_string())),
            _ => return Err(bad()),
        };
    }
    if let Some(e) = query.entity.as_deref() {
        q = q.filter(audit_log::entity.eq(e.to_string()));
    }
    if let Some(id) = query.record_id {
        q = q.filter(audit_log::record_id.eq(DbUuid(id)));
    }
    if let Some(t) = query.since {
        q = q.filter(audit_log::occurred_at.ge(t.0.naive_utc()));
    }
    if let Some(t) = query.until {
        q = q.filter(audit_log::occurred_at.lt(t.0.naive_utc()));
    }
    if let Some(b) = query.before {
        q = q.filter(audit_log::seq.lt(b));
    }
    let mut rows: Vec<Row> = q.order(audit_log::seq.desc()).limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<AuditEntry> = rows
        .into_iter()
        .map(|r| AuditEntry {
            seq: Long(r.0),
            occurred_at: to_utc(r.1),
            actor: r.2,
            action: r.3,
            entity: r.4,
            record_id: r.5.map(|u| u.0),
            ip: r.6,
            request_id: r.7,
            trace_id: r.8,
            details: r.9.0,
        })
        .collect();
    Ok(AuditPage { next_before: if more { data.last().map(|e| e.seq) } else { None }, data })
}

/// Deletes entries older than `retention` (at least [`MIN_RETENTION_DAYS`]); returns how many.
pub fn purge(conn: &mut AnyConnection, retention: chrono::Duration) -> Result<usize, DbError> {
    let retention = retention.max(chrono::Duration::days(MIN_RETENTION_DAYS));
    let cutoff = crm_db::now() - retention;
    Ok(diesel::delete(audit_log::table.filter(audit_log::occurred_at.lt(cutoff))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_at(conn: &mut AnyConnection, at: NaiveDateTime, action: &str) {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::occurred_at.eq(at),
                audit_log::actor.eq("tester"),
                audit_log::action.eq(action),
                audit_log::details.eq(DbJson(serde_json::json!({}))),
            ))
            .execute(conn)
            .expect("insert");
    }

    #[test]
    fn the_log_is_append_only_and_keeps_young_entries() {
        let (_t, db) = crm_db::testing::TestDatabase::migrated().expect("database");
        let admin = Actor::system();
        let now = crm_db::now();
        db.run_sync(|c| -> Result<(), DbError> {
            entry_at(c, now - chrono::Duration::days(400), "old.one");
            entry_at(c, now - chrono::Duration::days(20), "young.one");
            append(c, &admin, "api_key.created", Some(("api_key", uuid::Uuid::now_v7())), serde_json::json!({"a": 1}))?;
            Ok(())
        })
        .expect("entries");
        // Nothing changes an entry, and nothing deletes one younger than 28 days, whoever asks.
        let update = db.run_sync(|c| {
            diesel::update(audit_log::table).set(audit_log::actor.eq("someone else")).execute(c).map_err(DbError::from)
        });
        assert!(update.is_err(), "{update:?}");
        let delete = db.run_sync(|c| {
            diesel::delete(audit_log::table.filter(audit_log::action.eq("young.one"))).execute(c).map_err(DbError::from)
        });
        assert!(delete.is_err(), "{delete:?}");
        // Retention takes what is older than it, and never less than 30 days.
        let purged = db.run_sync(|c| purge(c, chrono::Duration::days(1))).expect("purge");
        assert_eq!(purged, 1);
        let page = db.run_sync(|c| list(c, &admin, &AuditQuery::default()).map_err(|e| DbError::Task(e.to_string())));
        let actions: Vec<String> = page.expect("list").data.into_iter().map(|e| e.action).collect();
        assert_eq!(actions, vec!["api_key.created", "young.one"]);
    }

    #[test]
    fn pages_go_newest_first_and_filters_hold() {
        let (_t, db) = crm_db::testing::TestDatabase::migrated().expect("database");
        let admin = Actor::system();
        db.run_sync(|c| -> Result<(), DbError> {
            for a in ["api_key.created", "contact.archived", "api_key.used", "export.queued"] {
                append(c, &admin, a, None, serde_json::json!({}))?;
            }
            Ok(())
        })
        .expect("entries");
        let read = |q: AuditQuery| db.run_sync(|c| list(c, &admin, &q).map_err(|e| DbError::Task(e.to_string())));
        let first = read(AuditQuery { limit: Some(2), ..Default::default() }).expect("page");
        assert_eq!(first.data.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["export.queued", "api_key.used"]);
        let next = read(AuditQuery { limit: Some(2), before: first.next_before.map(|l| l.0), ..Default::default() })
            .expect("page");
        assert_eq!(
            next.data.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["contact.archived", "api_key.created"]
        );
        assert_eq!(next.next_before, None);
        let keys = read(AuditQuery { action: Some("api_key.*".into()), ..Default::default() }).expect("keys");
        assert_eq!(keys.data.len(), 2);
        let archived = read(AuditQuery { action: Some("*.archived".into()), ..Default::default() }).expect("archived");
        assert_eq!(archived.data.len(), 1);
        assert!(read(AuditQuery { action: Some("api_%".into()), ..Default::default() }).is_err());
        let rep = Actor::new("rep", ["sales"], []);
        let refused = db.run_sync(|c| list(c, &rep, &AuditQuery::default()).map_err(|e| DbError::Task(e.to_string())));
        assert!(refused.is_err());
    }
}
