//! What a rule can act on: a resource's records, read and written through its own use cases
//! (`crm_records`), without this crate knowing every resource's type.

use crm_core::filter::Catalog;
use crm_core::list::ListParams;
use crm_core::{Actor, Scope};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError};
use serde_json::Value;

/// Most records one manual run may select.
pub const MAX_SELECTION: u32 = 1000;

/// The live records `actor` sees that a filter selects, at most `limit + 1` of them.
pub type Select = fn(&mut AnyConnection, &Actor, Option<String>, u32) -> Result<Vec<uuid::Uuid>, RecordError>;

/// One resource's records as automation reads and writes them (JSON in, JSON out).
#[derive(Clone, Copy)]
pub struct Target {
    /// `contact`.
    pub entity: &'static str,
    pub catalog: fn() -> &'static Catalog,
    pub read_scope: Scope,
    pub write_scope: Scope,
    /// The record as `actor` sees it (archived included), or `NotFound`.
    pub read: fn(&mut AnyConnection, &Actor, uuid::Uuid) -> Result<Value, RecordError>,
    /// Applies a JSON merge patch as `actor`: the record after.
    pub patch: fn(&mut AnyConnection, &Actor, uuid::Uuid, Value) -> Result<Value, RecordError>,
    /// Whether `patch` is a merge patch of this resource (unknown fields, wrong types): the
    /// reason when it is not.
    pub check_patch: fn(&Value) -> Result<(), String>,
    /// The live records `actor` sees that `filter` selects, at most `limit + 1` of them.
    pub select: Select,
}

fn read<R: Record>(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid) -> Result<Value, RecordError> {
    let r = crm_records::get::<R>(conn, actor, R::Id::from(id))?;
    serde_json::to_value(&r).map_err(|e| RecordError::Db(crm_db::DbError::Task(e.to_string())))
}

fn parse_patch<R: Record>(patch: &Value) -> Result<R::Patch, String>
where
    R::Patch: serde::de::DeserializeOwned,
{
    serde_json::from_value::<R::Patch>(patch.clone()).map_err(|e| e.to_string())
}

fn patch<R: Record>(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid, p: Value) -> Result<Value, RecordError>
where
    R::Patch: serde::de::DeserializeOwned,
{
    let p = parse_patch::<R>(&p).map_err(|m| {
        let mut errors = crm_core::FieldErrors::new();
        errors.add("fields", "invalid_value", m);
        RecordError::Invalid { entity: R::ENTITY, errors }
    })?;
    let r = crm_records::update::<R>(conn, actor, R::Id::from(id), p, None)?;
    serde_json::to_value(&r).map_err(|e| RecordError::Db(crm_db::DbError::Task(e.to_string())))
}

fn check_patch<R: Record>(p: &Value) -> Result<(), String>
where
    R::Patch: serde::de::DeserializeOwned,
{
    parse_patch::<R>(p).map(|_| ())
}

fn select<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    filter: Option<String>,
    limit: u32,
) -> Result<Vec<uuid::Uuid>, RecordError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let params = ListParams {
            limit: Some(200),
            cursor: cursor.take(),
            sort: Some("created_at".into()),
            filter: filter.clone(),
            skip_external_ids: true,
            ..ListParams::default()
        };
        let page = crm_records::list::<R>(conn, actor, &params)?;
        out.extend(page.data.iter().map(|r| r.id().into()));
        match page.next_cursor {
            Some(c) if out.len() <= limit as usize => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

impl Target {
    /// The target of resource `R`.
    pub fn of<R: Record>() -> Target
    where
        R::Patch: serde::de::DeserializeOwned,
    {
        Target {
            entity: R::ENTITY,
            catalog: R::catalog,
            read_scope: R::READ,
            write_scope: R::WRITE,
            read: read::<R>,
            patch: patch::<R>,
            check_patch: check_patch::<R>,
            select: select::<R>,
        }
    }
}

/// The resources rules may act on, by entity. The application puts them on its database handle
/// (`Db::with_context`), as it does with the domains' hooks.
#[derive(Clone, Copy)]
pub struct Targets(pub fn(&str) -> Option<Target>);

/// The target of `entity`, when the handle knows it.
pub fn of(entity: &str) -> Option<Target> {
    crm_db::pool::context::<Targets>().and_then(|t| (t.0)(entity))
}

/// The resources rules may act on (the entities of records with an owner or a person).
pub const ENTITIES: &[&str] =
    &["account", "contact", "lead", "opportunity", "case", "activity", "interaction", "purchase", "campaign_member"];
