//! Custom fields in GraphQL, typed: `contact { custom { tier renewalDate budget { amountMinor
//! currency } } }`, `contacts(where: {customFields: {tier: {eq: GOLD}}}, orderBy: [{field:
//! CUSTOM_FIELDS__SCORE}])`. The types come from the definitions, so the schema is built again
//! when they change ([`Schemas`]), without a restart; `customFields` (JSON) keeps every value
//! as stored.
//!
//! While a schema is built, the definitions sit in a thread-local ([`building`]): async-graphql
//! asks each type for its registry entry without any context, during `Schema::build`, on the
//! calling thread. [`prune`] then removes the typed parts of resources that have no custom
//! fields (GraphQL allows no empty object types), which is also the schema `crm export-sdl`
//! prints.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::Field;
use async_graphql::registry::{Deprecation, MetaEnumValue, MetaField, MetaType, Registry};
use async_graphql::{ContainerType, Context, ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use crm_core::custom::{CustomFieldSpec, CustomFieldType};
use crm_db::Db;
use crm_records::Stored;
use crm_records::custom::{CustomField, CustomResource};

use super::CrmSchema;

/// One custom field as GraphQL shows it.
#[derive(Clone, Debug)]
pub struct GqlField {
    /// Its GraphQL name (`renewalDate`; see [`gql_name`]).
    pub gql: String,
    pub spec: CustomFieldSpec,
    pub label: String,
    pub description: Option<String>,
}

/// The live custom fields of every resource, as one schema was built from them.
#[derive(Clone, Debug, Default)]
pub struct CustomTypes {
    /// By resource (its table: `contacts`).
    by_resource: HashMap<String, Vec<GqlField>>,
}

impl CustomTypes {
    pub fn new(fields: &[CustomField]) -> CustomTypes {
        let mut by_resource: HashMap<String, Vec<GqlField>> = HashMap::new();
        for f in fields {
            by_resource.entry(f.resource.as_str().to_string()).or_default().push(GqlField {
                gql: gql_name(&f.name),
                spec: f.spec(),
                label: f.label.clone(),
                description: f.description.clone(),
            });
        }
        CustomTypes { by_resource }
    }

    /// The fields of the resource kept in `table`, in their form order.
    pub fn of(&self, table: &str) -> &[GqlField] {
        self.by_resource.get(table).map(Vec::as_slice).unwrap_or_default()
    }
}

thread_local! {
    static BUILDING: RefCell<Option<Arc<CustomTypes>>> = const { RefCell::new(None) };
}

/// The custom fields of the schema being built on this thread (none outside a build, and for
/// the exported SDL).
pub fn building() -> Arc<CustomTypes> {
    BUILDING.with(|b| b.borrow().clone()).unwrap_or_default()
}

/// Builds the schema with these definitions' typed fields.
pub fn build_schema(fields: &[CustomField]) -> CrmSchema {
    let types = Arc::new(CustomTypes::new(fields));
    let previous = BUILDING.with(|b| b.replace(Some(types.clone())));
    let schema = super::schema_builder().data(types).finish();
    BUILDING.with(|b| *b.borrow_mut() = previous);
    schema
}

/// A custom field's GraphQL name: camel case (`renewal_date` → `renewalDate`), except that an
/// underscore not followed by a letter stays (`q_1` → `q_1`), so that [`key_of`] inverts it.
pub fn gql_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('_', Some(n)) if n.is_ascii_lowercase() => {
                out.push(n.to_ascii_uppercase());
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The key in `custom_fields` of a GraphQL name (the inverse of [`gql_name`]).
pub fn key_of(gql: &str) -> String {
    let mut out = String::with_capacity(gql.len() + 4);
    for c in gql.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The GraphQL names of the typed custom parts of a record type (`Contact`).
pub fn object_name(node: &str) -> String {
    format!("{node}Custom")
}

fn enum_name(node: &str, f: &GqlField) -> String {
    let mut pascal = f.gql.clone();
    if let Some(first) = pascal.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!("{node}Custom{pascal}")
}

/// The sort key of a custom field in `{R}SortField` (`CUSTOM_FIELDS__RENEWAL_DATE`).
pub fn sort_value(key: &str) -> String {
    format!("CUSTOM_FIELDS__{}", key.to_uppercase())
}

/// The REST sort key of a `{R}SortField` value that names a custom field.
pub fn sort_key(value: &str) -> Option<String> {
    value.strip_prefix("CUSTOM_FIELDS__").map(|k| crm_core::custom::path(&k.to_lowercase()))
}

fn description(f: &GqlField) -> String {
    let mut d = f.label.clone();
    if let Some(more) = &f.description {
        d.push_str(": ");
        d.push_str(more);
    }
    d.push_str(&format!(" (`custom_fields.{}`, {})", f.spec.name, f.spec.field_type.as_str()));
    d
}

/// Registers the GraphQL enumeration of an `enum` / `multi_enum` field; returns its name.
pub fn register_enum(registry: &mut Registry, node: &str, f: &GqlField) -> String {
    let name = enum_name(node, f);
    if !registry.types.contains_key(&name) {
        let enum_values = f
            .spec
            .options
            .iter()
            .map(|o| {
                let v = o.to_uppercase();
                (v.clone(), enum_value(&v, &format!("`{o}`")))
            })
            .collect();
        registry.types.insert(
            name.clone(),
            MetaType::Enum {
                name: name.clone(),
                description: Some(format!("The options of `custom_fields.{}`.", f.spec.name)),
                enum_values,
                visible: None,
                inaccessible: false,
                tags: Vec::new(),
                rust_typename: None,
                directive_invocations: Vec::new(),
                requires_scopes: Vec::new(),
            },
        );
    }
    name
}

pub fn enum_value(name: &str, doc: &str) -> MetaEnumValue {
    MetaEnumValue {
        name: name.to_string(),
        description: Some(doc.to_string()),
        deprecation: Deprecation::NoDeprecated,
        visible: None,
        inaccessible: false,
        tags: Vec::new(),
        directive_invocations: Vec::new(),
    }
}

/// The GraphQL output type of a field's values.
fn output_type(registry: &mut Registry, node: &str, f: &GqlField) -> String {
    use async_graphql::OutputType as O;
    let bare = |t: String| t.trim_end_matches('!').to_string();
    match f.spec.field_type {
        CustomFieldType::Text => bare(<String as O>::create_type_info(registry)),
        CustomFieldType::Number => bare(<f64 as O>::create_type_info(registry)),
        CustomFieldType::Money => bare(<crm_core::Money as O>::create_type_info(registry)),
        CustomFieldType::Date => bare(<chrono::NaiveDate as O>::create_type_info(registry)),
        CustomFieldType::Boolean => bare(<bool as O>::create_type_info(registry)),
        CustomFieldType::Reference => bare(<uuid::Uuid as O>::create_type_info(registry)),
        CustomFieldType::Enum => register_enum(registry, node, f),
        CustomFieldType::MultiEnum => format!("[{}!]", register_enum(registry, node, f)),
    }
}

fn meta_field(name: &str, ty: String, doc: String) -> MetaField {
    MetaField {
        name: name.to_string(),
        description: Some(doc),
        args: IndexMap::new(),
        ty,
        deprecation: Deprecation::NoDeprecated,
        cache_control: Default::default(),
        external: false,
        requires: None,
        provides: None,
        visible: None,
        shareable: false,
        inaccessible: false,
        tags: Vec::new(),
        override_from: None,
        compute_complexity: None,
        directive_invocations: Vec::new(),
        requires_scopes: Vec::new(),
    }
}

/// The typed custom fields of a record `R` (`ContactCustom`): what its node's `custom` returns.
pub struct CustomValues<R> {
    values: serde_json::Value,
    _record: PhantomData<fn() -> R>,
}

impl<R> CustomValues<R> {
    pub fn new(values: &serde_json::Value) -> Self {
        CustomValues { values: values.clone(), _record: PhantomData }
    }
}

impl<R: Stored> OutputType for CustomValues<R> {
    fn type_name() -> Cow<'static, str> {
        Cow::Owned(object_name(R::catalog().name))
    }

    fn create_type_info(registry: &mut Registry) -> String {
        let name = Self::type_name().into_owned();
        if !registry.types.contains_key(&name) {
            let node = R::catalog().name;
            let types = building();
            let mut fields = IndexMap::new();
            for f in types.of(R::catalog().table) {
                let ty = output_type(registry, node, f);
                fields.insert(f.gql.clone(), meta_field(&f.gql, ty, description(f)));
            }
            let mut object = MetaType::Object {
                name: name.clone(),
                description: Some(format!(
                    "The custom fields of {}, typed (the definitions: `GET /api/v1/schema/{}/fields`). \
                     A value that no longer fits its field (an option removed since) reads null here \
                     and as stored in `customFields`.",
                    R::catalog().resource,
                    R::catalog().resource
                )),
                fields: IndexMap::new(),
                cache_control: Default::default(),
                extends: false,
                shareable: false,
                resolvable: true,
                keys: None,
                visible: None,
                inaccessible: false,
                interface_object: false,
                tags: Vec::new(),
                is_subscription: false,
                rust_typename: None,
                directive_invocations: Vec::new(),
                requires_scopes: Vec::new(),
            };
            if let MetaType::Object { fields: f, .. } = &mut object {
                *f = fields;
            }
            registry.types.insert(name.clone(), object);
        }
        Self::qualified_type_name()
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        async_graphql::resolver_utils::resolve_container(ctx, self).await
    }
}

impl<R: Stored> ContainerType for CustomValues<R> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let Ok(types) = ctx.data::<Arc<CustomTypes>>() else { return Ok(None) };
        let name = ctx.item.node.name.node.as_str();
        let Some(f) = types.of(R::catalog().table).iter().find(|f| f.gql == name) else { return Ok(None) };
        // What no longer fits the field (an option removed since it was stored) reads null.
        let Some(v) = self.values.get(&f.spec.name).and_then(|v| f.spec.check(v).ok().flatten()) else {
            return Ok(Some(Value::Null));
        };
        let as_enum = |v: &serde_json::Value| v.as_str().map(|s| Value::Enum(Name::new(s.to_uppercase())));
        Ok(Some(match f.spec.field_type {
            CustomFieldType::Money => match serde_json::from_value::<crm_core::Money>(v) {
                Ok(m) => {
                    let inner = ctx.with_selection_set(&ctx.item.node.selection_set);
                    OutputType::resolve(&m, &inner, ctx.item).await?
                }
                Err(_) => Value::Null,
            },
            CustomFieldType::Number => v.as_f64().map(Value::from).unwrap_or(Value::Null),
            CustomFieldType::Enum => as_enum(&v).unwrap_or(Value::Null),
            CustomFieldType::MultiEnum => {
                Value::List(v.as_array().map(|a| a.iter().filter_map(as_enum).collect()).unwrap_or_default())
            }
            _ => Value::from_json(v).unwrap_or(Value::Null),
        }))
    }
}

/// Removes the typed custom parts of the record types whose resource has no custom fields:
/// their node's `custom` field and its empty object type. Registered last by `schema_builder`.
pub struct Prune;

impl OutputType for Prune {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("CustomFieldsPrune")
    }

    fn create_type_info(registry: &mut Registry) -> String {
        for r in crate::registry::RESOURCES {
            if CustomResource::parse(r.collection.trim_start_matches('/')).is_none() {
                continue;
            }
            let node = (r.catalog)().name;
            let custom = object_name(node);
            let empty =
                matches!(registry.types.get(&custom), Some(MetaType::Object { fields, .. }) if fields.is_empty());
            if empty {
                registry.types.remove(&custom);
                if let Some(MetaType::Object { fields, .. }) = registry.types.get_mut(node) {
                    fields.shift_remove("custom");
                }
            }
        }
        Self::type_name().into_owned()
    }

    async fn resolve(&self, _ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        Ok(Value::Null)
    }
}

// ---------------------------------------------------------------------------------------------
// The schema in use, rebuilt when the definitions change.

/// The GraphQL schema in use and the generation of definitions it was built from. A change made
/// through this instance is seen by the next request (`crm_records::custom::LocalChanges`
/// counts them); one made through another instance when the application next polls
/// ([`Schemas::poll`], every `CRM_SCHEMA_REFRESH`). Requests never read the definitions
/// otherwise, so the hot path pays nothing for them.
pub struct Schemas {
    current: RwLock<(i64, CrmSchema)>,
    local: Arc<AtomicU64>,
    /// The value of `local` the current schema has seen.
    seen: AtomicU64,
    /// One refresh at a time; a request that needs one waits for the one under way.
    refreshing: tokio::sync::Mutex<()>,
}

impl Schemas {
    /// The schema of the live definitions (a blocking read: at start).
    pub fn load(db: &Db, local: &crm_records::custom::LocalChanges) -> Result<Schemas, String> {
        let seen = local.0.load(Ordering::Acquire);
        let (generation, fields) = db
            .run_sync(|c| {
                Ok::<_, crm_db::DbError>((
                    crm_records::custom::generation(c)?,
                    crm_records::custom::live_fields(c, None)?,
                ))
            })
            .map_err(|e| format!("cannot read the custom fields: {e}"))?;
        Ok(Schemas {
            current: RwLock::new((generation, build_schema(&fields))),
            local: local.0.clone(),
            seen: AtomicU64::new(seen),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The generation of definitions the current schema was built from.
    pub fn generation(&self) -> i64 {
        self.snapshot().0
    }

    fn snapshot(&self) -> (i64, CrmSchema) {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The schema to run a request with; built again first when a definition was changed
    /// through this instance since.
    pub async fn current(&self, db: &Db) -> CrmSchema {
        if self.local.load(Ordering::Acquire) != self.seen.load(Ordering::Acquire) {
            self.poll(db).await;
        }
        self.snapshot().1
    }

    /// Reads the definitions' generation and builds the schema again when it moved.
    pub async fn poll(&self, db: &Db) {
        let _one = self.refreshing.lock().await;
        let local = self.local.load(Ordering::Acquire);
        if let Err(e) = self.refresh(db).await {
            tracing::warn!(error = %e, "could not read the custom fields; GraphQL keeps its schema");
        } else {
            self.seen.store(local, Ordering::Release);
        }
    }

    async fn refresh(&self, db: &Db) -> Result<(), String> {
        let generation = self.snapshot().0;
        let now = db
            .run(|c| crm_records::custom::generation(c).map_err(crm_db::DbError::from))
            .await
            .map_err(|e| e.to_string())?;
        if now == generation {
            return Ok(());
        }
        let fields = db
            .run(|c| crm_records::custom::live_fields(c, None).map_err(crm_db::DbError::from))
            .await
            .map_err(|e| e.to_string())?;
        let schema = actix_web::web::block(move || build_schema(&fields)).await.map_err(|e| e.to_string())?;
        if let Ok(mut c) = self.current.write() {
            *c = (now, schema);
        }
        tracing::info!(generation = now, "GraphQL schema rebuilt for the custom fields");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_names_invert() {
        for (key, gql) in [
            ("renewal_date", "renewalDate"),
            ("tier", "tier"),
            ("q_1", "q_1"),
            ("a__b", "a_B"),
            ("trailing_", "trailing_"),
            ("x2_y", "x2Y"),
        ] {
            assert_eq!(gql_name(key), gql);
            assert_eq!(key_of(gql), key);
        }
        assert_eq!(sort_key(&sort_value("renewal_date")).as_deref(), Some("custom_fields.renewal_date"));
        assert_eq!(sort_key("CITY"), None);
    }
}
