//! Custom fields: the definitions an administrator keeps (a resource of their own, with the
//! whole write contract: versions, history, events, external ids, batches), and what every
//! record with custom fields asks of them: its values checked on every write
//! ([`check_values`]), and its lists filtered and sorted on them ([`filters_for`]).
//!
//! A definition's resource, name, type and reference target never change (values already
//! stored depend on them); the rest may. Removing a field archives its definition: the values
//! stay in the records and in their history, readable but no longer writable, filterable or
//! typed, until the definition is restored.

use crm_core::custom::{self, CustomFieldSpec, CustomFieldType, CustomFilters, MAX_OPTIONS, MAX_TEXT_LENGTH};
use crm_core::external::parse_external_ids;
use crm_core::ids::CustomFieldId;
use crm_core::list::ListParams;
use crm_core::{Actor, ExternalId, FieldError, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Record, RecordError, Stored};

wire_enum!(
    /// The resources that carry custom fields.
    CustomResource {
        Accounts = "accounts",
        Contacts = "contacts",
        Leads = "leads",
        Opportunities = "opportunities",
        Cases = "cases",
        Products = "products",
    }
);

wire_enum!(
    /// What a reference field may point at.
    ReferenceTarget {
        Accounts = "accounts",
        Contacts = "contacts",
        Users = "users",
        Products = "products",
        Leads = "leads",
        Opportunities = "opportunities",
        Cases = "cases",
        Campaigns = "campaigns",
    }
);

impl CustomResource {
    /// The entity of the resource's records (`contact`).
    pub fn entity(self) -> &'static str {
        match self {
            CustomResource::Accounts => "account",
            CustomResource::Contacts => "contact",
            CustomResource::Leads => "lead",
            CustomResource::Opportunities => "opportunity",
            CustomResource::Cases => "case",
            CustomResource::Products => "product",
        }
    }
}

/// Counts the definition writes made through a database handle that carries it in its context
/// (`Db::with_context`): the application reads it to rebuild what it built from the
/// definitions (its typed GraphQL schema) right after a change made through it. Bumped in the
/// write's transaction, so a reader may look a moment early; it then looks again later.
#[derive(Clone, Debug, Default)]
pub struct LocalChanges(pub std::sync::Arc<std::sync::atomic::AtomicU64>);

/// Where a transaction keeps the definitions it read (`crm_db::memo`), per resource.
const MEMO_KEY: &str = "custom_fields:";

/// Most live custom fields one resource may have.
pub const MAX_FIELDS_PER_RESOURCE: i64 = 100;

/// One value of an enumeration field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "CustomFieldOptionInput")
)]
pub struct CustomFieldOption {
    /// The value stored and filtered on: a lower-case letter, then lower-case letters, digits
    /// and `_`.
    #[cfg_attr(feature = "openapi", schema(example = "gold"))]
    pub value: String,
    /// What people see; defaults to the value.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub label: String,
}

/// The definition of a custom field: a typed field of a resource, kept in its records'
/// `custom_fields` under `name`, and filtered and sorted as `custom_fields.<name>`.
#[derive(Clone, Debug, PartialEq, Serialize, crate::Stored)]
#[stored(table = custom_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "CustomFieldFields", visible = false)
)]
pub struct CustomField {
    /// The record's id (UUIDv7: time-ordered).
    pub id: CustomFieldId,
    /// The resource whose records carry the field (fixed once created).
    #[filter(sort)]
    pub resource: CustomResource,
    /// The key in `custom_fields` (fixed once created).
    #[filter(sort)]
    pub name: String,
    /// `<resource>.<name>`, unique among live fields (read-only).
    #[filter]
    pub key: String,
    /// What people see.
    #[filter(sort)]
    pub label: String,
    /// The type of the values (fixed once created).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[filter]
    pub field_type: CustomFieldType,
    /// Help text for the people who fill it in.
    pub description: Option<String>,
    /// Records must have a value: a create without one is refused (unless there is a
    /// default), and an update may not clear it. Records created before the field became
    /// required are not forced to fill it in until they are given a value.
    #[filter]
    pub required: bool,
    /// Given to a new record that leaves the field out; a value of the field's type.
    #[serde(rename = "default")]
    #[cfg_attr(feature = "graphql", graphql(name = "default"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub default_value: Option<Value>,
    /// The values of an `enum` or `multi_enum` field, in their order.
    pub options: Vec<CustomFieldOption>,
    /// What a `reference` field points at (fixed once created).
    #[filter]
    pub reference_to: Option<ReferenceTarget>,
    /// The smallest value of a `number` field.
    #[serde(rename = "min")]
    #[cfg_attr(feature = "graphql", graphql(name = "min"))]
    pub min_value: Option<f64>,
    /// The largest value of a `number` field.
    #[serde(rename = "max")]
    #[cfg_attr(feature = "graphql", graphql(name = "max"))]
    pub max_value: Option<f64>,
    /// The longest value of a `text` field, in characters (1000 when not set).
    pub max_length: Option<i64>,
    /// Where forms show the field among the resource's custom fields (smallest first).
    #[filter(sort)]
    pub position: i64,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the field was removed (archived); null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new custom field, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crate::MergePatch)]
#[patch(name = CustomFieldPatch, record = CustomField)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CustomFieldInput {
    /// The resource whose records carry the field (fixed once created).
    pub resource: Option<CustomResource>,
    /// The key in `custom_fields`: a lower-case letter, then lower-case letters, digits and
    /// `_`, at most 63 characters (fixed once created).
    #[cfg_attr(feature = "openapi", schema(example = "preferred_language"))]
    pub name: Option<String>,
    /// What people see (defaults to the name); at most 100 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Preferred language"))]
    pub label: Option<String>,
    /// The type of the values (fixed once created).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub field_type: Option<CustomFieldType>,
    /// Help text, at most 1000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to false.
    #[serde(default)]
    pub required: Option<bool>,
    /// A value of the field's type, given to new records that leave the field out (not for
    /// `reference` fields).
    #[serde(default, rename = "default")]
    #[cfg_attr(feature = "graphql", graphql(name = "default"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub default_value: Option<Value>,
    /// The values of an `enum` or `multi_enum` field (1 to 200), in their order; only for
    /// those types. Removing an option leaves the records that hold it as they are.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub options: Vec<CustomFieldOption>,
    /// What a `reference` field points at (required for that type, fixed once created).
    #[serde(default)]
    pub reference_to: Option<ReferenceTarget>,
    /// The smallest value of a `number` field.
    #[serde(default, rename = "min")]
    #[cfg_attr(feature = "graphql", graphql(name = "min"))]
    pub min_value: Option<f64>,
    /// The largest value of a `number` field.
    #[serde(default, rename = "max")]
    #[cfg_attr(feature = "graphql", graphql(name = "max"))]
    pub max_value: Option<f64>,
    /// The longest value of a `text` field, 1 to 10000 characters (1000 when not set).
    #[serde(default)]
    pub max_length: Option<i64>,
    /// Where forms show the field (smallest first; 0 when not set).
    #[serde(default)]
    pub position: Option<i64>,
    /// Ids in other systems, each unique among custom fields.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl CustomField {
    /// What checking values and filtering need of this field.
    pub fn spec(&self) -> CustomFieldSpec {
        CustomFieldSpec {
            resource: self.resource.as_str().to_string(),
            name: self.name.clone(),
            field_type: self.field_type,
            required: self.required,
            default: self.default_value.clone(),
            options: self.options.iter().map(|o| o.value.clone()).collect(),
            min: self.min_value,
            max: self.max_value,
            max_length: self.max_length,
            reference_to: self.reference_to.map(|r| r.as_str().to_string()),
        }
    }
}

/// A fixed property may not change once the field exists.
fn keep_fixed<T: PartialEq + std::fmt::Debug>(errs: &mut FieldErrors, field: &str, before: Option<T>, after: T) {
    if let Some(b) = before
        && b != after
    {
        errs.add(
            field,
            "immutable",
            format!(
                "`{field}` cannot change once the field exists (it is {b:?}): remove the field and define a new one"
            ),
        );
    }
}

fn too_long(errs: &mut FieldErrors, field: &str, v: &str, max: usize) {
    if v.chars().count() > max {
        errs.add(field, "too_long", format!("at most {max} characters"));
    }
}

impl CustomFieldInput {
    /// Checks a definition and builds the field (the rules of the module docs).
    fn build(self, id: CustomFieldId, prev: Option<&CustomField>) -> Result<CustomField, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let resource = i.resource;
        let name = i.name.take().map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        match &name {
            None => errs.add("name", "required", "a custom field needs a name"),
            Some(n) if !custom::valid_name(n) => errs.add(
                "name",
                "invalid_name",
                "a lower-case letter, then lower-case letters, digits and `_` (at most 63 characters)",
            ),
            _ => {}
        }
        if resource.is_none() {
            errs.add("resource", "required", format!("one of {}", CustomResource::NAMES.join(", ")));
        }
        if i.field_type.is_none() {
            errs.add("type", "required", format!("one of {}", CustomFieldType::NAMES.join(", ")));
        }
        if let Some(p) = prev {
            keep_fixed(&mut errs, "resource", Some(p.resource), resource.unwrap_or(p.resource));
            keep_fixed(&mut errs, "name", Some(p.name.as_str()), name.as_deref().unwrap_or(&p.name));
            keep_fixed(&mut errs, "type", Some(p.field_type), i.field_type.unwrap_or(p.field_type));
            keep_fixed(&mut errs, "reference_to", Some(p.reference_to), i.reference_to);
        }
        let label = i.label.take().map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
        let label = label.or_else(|| name.clone()).unwrap_or_default();
        too_long(&mut errs, "label", &label, 100);
        let description = i.description.take().map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        if let Some(d) = &description {
            too_long(&mut errs, "description", d, 1000);
        }
        // The type's rules are the stored type's (a change of type is refused above).
        let t = prev.map(|p| p.field_type).or(i.field_type);
        let is = |x: CustomFieldType| t == Some(x);
        let enumerated = is(CustomFieldType::Enum) || is(CustomFieldType::MultiEnum);
        let mut options = Vec::with_capacity(i.options.len().min(MAX_OPTIONS));
        if i.options.len() > MAX_OPTIONS {
            errs.add("options", "too_many", format!("at most {MAX_OPTIONS} options"));
        } else if !enumerated && !i.options.is_empty() {
            errs.add("options", "not_applicable", "only `enum` and `multi_enum` fields have options");
        } else if enumerated && i.options.is_empty() {
            errs.add("options", "required", "an enumeration needs at least one option");
        } else {
            let mut seen = std::collections::HashSet::new();
            for (k, o) in std::mem::take(&mut i.options).into_iter().enumerate() {
                let value = o.value.trim().to_string();
                let at = format!("options[{k}].value");
                if !custom::valid_name(&value) {
                    errs.add(&at, "invalid_name", "a lower-case letter, then lower-case letters, digits and `_`");
                } else if !seen.insert(value.clone()) {
                    errs.add(&at, "duplicate", format!("`{value}` is listed twice"));
                }
                let label = Some(o.label.trim().to_string()).filter(|l| !l.is_empty()).unwrap_or_else(|| value.clone());
                too_long(&mut errs, &format!("options[{k}].label"), &label, 100);
                options.push(CustomFieldOption { value, label });
            }
        }
        match (is(CustomFieldType::Reference), i.reference_to) {
            (true, None) => errs.add("reference_to", "required", "a reference names what it points at"),
            (false, Some(_)) if t.is_some() => {
                errs.add("reference_to", "not_applicable", "only `reference` fields point at records")
            }
            _ => {}
        }
        let number = is(CustomFieldType::Number);
        for (field, v) in [("min", i.min_value), ("max", i.max_value)] {
            match v {
                Some(_) if !number && t.is_some() => {
                    errs.add(field, "not_applicable", "only `number` fields have bounds")
                }
                Some(x) if !x.is_finite() => errs.add(field, "invalid_value", "a finite number"),
                _ => {}
            }
        }
        if let (Some(a), Some(b)) = (i.min_value, i.max_value)
            && a > b
        {
            errs.add("max", "out_of_range", "`max` is below `min`");
        }
        match i.max_length {
            Some(_) if !is(CustomFieldType::Text) && t.is_some() => {
                errs.add("max_length", "not_applicable", "only `text` fields have a maximum length")
            }
            Some(n) if !(1..=MAX_TEXT_LENGTH).contains(&n) => {
                errs.add("max_length", "out_of_range", format!("between 1 and {MAX_TEXT_LENGTH}"))
            }
            _ => {}
        }
        let external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        let (Some(resource), Some(name), Some(field_type), true) = (resource, name, i.field_type, errs.is_empty())
        else {
            return Err(errs);
        };
        let mut field = CustomField {
            id,
            resource,
            key: format!("{}.{name}", resource.as_str()),
            name,
            label,
            field_type,
            description,
            required: i.required.unwrap_or(false),
            default_value: None,
            options,
            reference_to: i.reference_to,
            min_value: i.min_value,
            max_value: i.max_value,
            max_length: i.max_length,
            position: i.position.unwrap_or(0),
            external_ids,
            ..prev.cloned().unwrap_or_else(CustomField::blank)
        };
        // The default is a value of the field as now defined.
        field.default_value = match i.default_value.filter(|d| !d.is_null()) {
            None => None,
            Some(_) if field_type == CustomFieldType::Reference => {
                errs.add("default", "not_applicable", "a reference has no default");
                None
            }
            Some(d) => match field.spec().check(&d) {
                Ok(v) => v,
                Err(e) => {
                    let rest = e.field.strip_prefix(&custom::path(&field.name)).unwrap_or_default().to_string();
                    errs.push(FieldError::new(format!("default{rest}"), e.code, e.message));
                    None
                }
            },
        };
        errs.into_result().map(|_| field)
    }
}

impl Record for CustomField {
    type Input = CustomFieldInput;
    type Patch = CustomFieldPatch;

    const READ: Scope = Scope::SchemaRead;
    const WRITE: Scope = Scope::SchemaWrite;
    const DEFAULT_SORT: &'static str = "resource,position";

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: CustomFieldId,
        input: CustomFieldInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let field = input.build(id, prev).map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        if prev.is_none() {
            check_room(conn, field.resource)?;
        }
        Ok(field)
    }

    fn unique(&self) -> Vec<(&'static str, &str)> {
        vec![("key", self.key.as_str())]
    }

    fn check_restore(conn: &mut AnyConnection, record: &Self) -> Result<(), RecordError> {
        check_room(conn, record.resource)
    }

    fn after_write(
        _conn: &mut AnyConnection,
        _actor: &Actor,
        _before: Option<&Self>,
        _after: &Self,
    ) -> Result<(), RecordError> {
        crm_db::memo::forget(MEMO_KEY);
        if let Some(changes) = crm_db::pool::context::<LocalChanges>() {
            changes.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(())
    }
}

/// Defines a custom field of `resource` (`POST /schema/{resource}/fields`): the input's own
/// `resource`, when given, must be the same.
pub fn define(
    conn: &mut AnyConnection,
    actor: &Actor,
    resource: CustomResource,
    mut input: CustomFieldInput,
) -> Result<CustomField, RecordError> {
    actor.require(CustomField::WRITE)?;
    if input.resource.is_some_and(|r| r != resource) {
        return Err(RecordError::invalid(
            CustomField::ENTITY,
            "resource",
            "mismatch",
            format!("this path defines fields of {}; leave `resource` out or give the same", resource.as_str()),
        ));
    }
    input.resource = Some(resource);
    crate::create::<CustomField>(conn, actor, input)
}

/// The list parameters of one resource's custom fields: `params`, narrowed to `resource`.
pub fn of_resource(mut params: ListParams, resource: CustomResource) -> ListParams {
    let cond = crm_core::filter::Filter::Cond {
        path: vec!["resource".into()],
        op: crm_core::filter::Op::Eq,
        value: crm_core::filter::RawValue::One(resource.as_str().into()),
    };
    params.filter_ast = Some(match params.filter_ast.take() {
        Some(f) => crm_core::filter::Filter::And(vec![cond, f]),
        None => cond,
    });
    params
}

/// A resource holds at most [`MAX_FIELDS_PER_RESOURCE`] live custom fields.
fn check_room(conn: &mut AnyConnection, resource: CustomResource) -> Result<(), RecordError> {
    use crm_db::schema::custom_fields as t;
    let live: i64 =
        t::table.filter(t::resource.eq(resource.as_str())).filter(t::archived_at.is_null()).count().get_result(conn)?;
    if live >= MAX_FIELDS_PER_RESOURCE {
        return Err(RecordError::Conflict {
            entity: CustomField::ENTITY,
            code: "TOO_MANY_CUSTOM_FIELDS",
            reason: format!(
                "{} already has {MAX_FIELDS_PER_RESOURCE} custom fields; remove one first",
                resource.as_str()
            ),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What records read of the definitions

/// The live custom fields of `resource` (of every resource when `None`), in their order.
pub fn live_fields(conn: &mut AnyConnection, resource: Option<CustomResource>) -> QueryResult<Vec<CustomField>> {
    use crm_db::schema::custom_fields as t;
    let mut q = t::table
        .filter(t::archived_at.is_null())
        .select(CustomFieldRow::as_select())
        .into_boxed::<crm_db::MultiBackend>();
    if let Some(r) = resource {
        q = q.filter(t::resource.eq(r.as_str()));
    }
    let rows: Vec<CustomFieldRow> = q.order((t::resource.asc(), t::position.asc(), t::id.asc())).load(conn)?;
    Ok(rows.into_iter().map(CustomField::from).collect())
}

/// A number that grows with every change to any definition (the sum of their versions:
/// definitions are archived, never deleted), so a reader that built something from the
/// definitions (a typed schema) knows when to build it again. One aggregate over a small table.
pub fn generation(conn: &mut AnyConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        g: i64,
    }
    let s: Sum = diesel::sql_query("SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) AS g FROM custom_fields")
        .get_result(conn)?;
    Ok(s.g)
}

/// What [`ensure_indexes`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexChanges {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
}

/// The prefix of the indexes kept for custom fields.
const INDEX_PREFIX: &str = "cfx_";

/// The index of a custom field's filter: its name, its table and its key (the filter's SQL
/// expressions, then `id` for keyset pages). `None` for what an index does not serve (lists of
/// options) or cannot hold (a date on PostgreSQL, whose text-to-date cast is not immutable).
fn index_of(spec: &CustomFieldSpec, backend: crm_db::Backend) -> Option<(String, &'static str, String)> {
    if spec.field_type == CustomFieldType::MultiEnum
        || (spec.field_type == CustomFieldType::Date && backend == crm_db::Backend::Postgres)
    {
        return None;
    }
    let table = CustomResource::parse(&spec.resource)?.as_str();
    let defs = custom::field_defs(spec);
    // Money: the currency first (filters pin it), then the amount.
    let columns: Vec<&str> = defs.iter().rev().map(|d| d.column).collect();
    let mut name = format!("{INDEX_PREFIX}{table}_{}", spec.name);
    if name.len() > 63 {
        // PostgreSQL's limit on names; the digest keeps long names apart.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        name = format!("{}_{:016x}", &name[..40], h.finish());
    }
    Some((name, table, format!("{}, id", columns.join(", "))))
}

/// Keeps one index per live custom field that lists filter and sort on (see [`index_of`]):
/// creates the missing ones (`CONCURRENTLY` on PostgreSQL, so writes go on meanwhile; a build
/// left invalid is dropped and built again), drops those of fields removed, and analyzes the
/// tables that got one, so the planner knows how selective their values are. Runs outside a
/// transaction. On PostgreSQL one process at a time does it (a session advisory lock, tried
/// every 100 ms): two `CREATE INDEX CONCURRENTLY` on one table wait for each other and deadlock
/// (seen with a seed running beside a server that keeps the indexes too).
pub fn ensure_indexes(conn: &mut AnyConnection) -> Result<IndexChanges, RecordError> {
    const LOCK: &str = "7426001";
    let pg = conn.backend() == crm_db::Backend::Postgres;
    if pg {
        // Tried, not waited for inside a statement: a session waiting in `pg_advisory_lock` holds a
        // transaction that the holder's `CREATE INDEX CONCURRENTLY` waits for in turn (deadlock).
        #[derive(QueryableByName)]
        struct Got {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            got: bool,
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let got: Vec<Got> = diesel::sql_query(format!("SELECT pg_try_advisory_lock({LOCK}) AS got")).load(conn)?;
            if got.first().is_some_and(|g| g.got) {
                break;
            }
            if std::time::Instant::now() > deadline {
                // Another process keeps the indexes; it will have made them.
                return Ok(IndexChanges::default());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let out = ensure_indexes_locked(conn);
    if pg && let Err(e) = diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK})")).execute(conn) {
        tracing::warn!(error = %e, "releasing the custom-field index lock failed");
    }
    out
}

fn ensure_indexes_locked(conn: &mut AnyConnection) -> Result<IndexChanges, RecordError> {
    #[derive(QueryableByName)]
    struct Named {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let backend = conn.backend();
    let (existing, invalid): (Vec<Named>, Vec<Named>) = match backend {
        crm_db::Backend::Postgres => (
            diesel::sql_query(
                "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'cfx\\_%'",
            )
            .load(conn)?,
            diesel::sql_query(
                "SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE NOT i.indisvalid AND c.relname LIKE 'cfx\\_%'",
            )
            .load(conn)?,
        ),
        crm_db::Backend::Sqlite => (
            diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'cfx\\_%' ESCAPE '\\'")
                .load(conn)?,
            Vec::new(),
        ),
    };
    let invalid: Vec<String> = invalid.into_iter().map(|n| n.name).collect();
    let existing: Vec<String> = existing.into_iter().map(|n| n.name).filter(|n| !invalid.contains(n)).collect();
    let wanted: Vec<(String, &'static str, String)> =
        live_fields(conn, None)?.iter().filter_map(|f| index_of(&f.spec(), backend)).collect();
    let concurrently = if backend == crm_db::Backend::Postgres { "CONCURRENTLY " } else { "" };
    let mut changes = IndexChanges::default();
    for name in invalid.iter().chain(existing.iter().filter(|e| !wanted.iter().any(|(n, ..)| n == *e))) {
        // Names come from this catalog query and the prefix: trusted text.
        diesel::sql_query(format!("DROP INDEX {concurrently}IF EXISTS {name}")).execute(conn)?;
        if !invalid.contains(name) {
            changes.dropped.push(name.clone());
        }
    }
    let mut analyze: Vec<&str> = Vec::new();
    for (name, table, key) in &wanted {
        if existing.contains(name) {
            continue;
        }
        diesel::sql_query(format!("CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {table} ({key})"))
            .execute(conn)?;
        changes.created.push(name.clone());
        if !analyze.contains(table) {
            analyze.push(table);
        }
    }
    for table in analyze {
        diesel::sql_query(format!("ANALYZE {table}")).execute(conn)?;
    }
    Ok(changes)
}

/// The custom fields a list may filter and sort on: read only when its filter or sort names
/// one (`custom_fields.…`), for every resource (a filter may reach a related record's).
pub fn filters_for(conn: &mut AnyConnection, params: &ListParams) -> Result<CustomFilters, RecordError> {
    filters_if(conn, params.mentions_custom_fields())
}

/// The custom fields a filter (a segment's criterion, a rule's condition) may name, read only
/// when it names one.
pub fn filters_of(conn: &mut AnyConnection, filter: &crm_core::filter::Filter) -> Result<CustomFilters, RecordError> {
    filters_if(conn, filter.mentions_custom_fields())
}

fn filters_if(conn: &mut AnyConnection, mentioned: bool) -> Result<CustomFilters, RecordError> {
    if !mentioned {
        return Ok(CustomFilters::default());
    }
    let specs: Vec<CustomFieldSpec> = live_fields(conn, None)?.iter().map(CustomField::spec).collect();
    Ok(CustomFilters::from_specs(&specs))
}

/// What every record with custom fields runs in `Record::build`: its normalized input and its
/// custom fields checked for the write, or every problem of both at once (`422`). `custom` is
/// the object the write leaves (`None`: none given), `prev` the stored one (`None` on create).
/// The rules are `crm_core::custom::check_record`'s; references must name existing records.
pub fn validated<T>(
    conn: &mut AnyConnection,
    resource: CustomResource,
    input: Result<T, FieldErrors>,
    custom: Option<Value>,
    prev: Option<&Value>,
) -> Result<(T, Value), RecordError> {
    let custom = check_values(conn, resource, custom, prev)?;
    match (input, custom) {
        (Ok(i), Ok(c)) => Ok((i, c)),
        (a, b) => {
            let mut errors = a.err().unwrap_or_default();
            errors.0.extend(b.err().unwrap_or_default().0);
            Err(RecordError::Invalid { entity: resource.entity(), errors })
        }
    }
}

fn check_values(
    conn: &mut AnyConnection,
    resource: CustomResource,
    next: Option<Value>,
    prev: Option<&Value>,
) -> Result<Result<Value, FieldErrors>, RecordError> {
    let next = next.unwrap_or_else(|| Value::Object(Default::default()));
    // An update that leaves them as they were has nothing to check (unchanged values are
    // kept, and nothing required went missing): no definitions are read.
    if prev == Some(&next) {
        return Ok(Ok(next));
    }
    // Read once per transaction: a batch checks every record against the same definitions.
    let specs = crm_db::memo::get_or_load(&format!("{MEMO_KEY}{}", resource.as_str()), || {
        live_fields(conn, Some(resource)).map(|f| f.iter().map(CustomField::spec).collect::<Vec<_>>())
    })?;
    let (value, refs) = match custom::check_record(&specs, &next, prev) {
        Ok(v) => v,
        Err(errors) => return Ok(Err(FieldErrors(errors))),
    };
    let mut errs = FieldErrors::new();
    for r in refs {
        let Some(table) = ReferenceTarget::parse(&r.resource).map(ReferenceTarget::as_str) else { continue };
        if !crm_db::sql::id_exists(conn, table, r.id)? {
            errs.add(&r.field, "not_found", format!("no record of {table} has the id {}", r.id));
        }
    }
    Ok(errs.into_result().map(|_| value))
}
