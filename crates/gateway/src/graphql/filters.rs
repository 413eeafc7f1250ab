//! Typed GraphQL filters and sort orders, generated from the catalogs that REST's `filter=` and
//! `sort=` are checked against.
//!
//! For every record type `R` the schema gets `{R}Where` (one optional field per filterable
//! field, each taking the operator object of its type, one per to-one relation taking the
//! target's `Where`, plus `and`/`or`/`not`) and `{R}OrderBy` (a `{R}SortField` and a
//! direction). A `Where` compiles to the same filter AST as the REST grammar, so the two
//! transports check and run filters through one path: `contacts(where: {city: {eq: "Seoul"}})`
//! is `GET /contacts?filter=city[eq]:Seoul`.
//!
//! The types are registered straight into the schema registry because they are computed from
//! catalogs (runtime values), not declared as Rust types; enumerations reuse the GraphQL enum of
//! the Rust type that declares them, so a filter's values are the values its node returns.

use std::borrow::Cow;
use std::marker::PhantomData;

use async_graphql::indexmap::IndexMap;
use async_graphql::registry::{Deprecation, MetaInputValue, MetaType, Registry};
use async_graphql::{Enum, InputType, InputValueError, InputValueResult, Value};
use crm_core::filter::{Catalog, FieldDef, FieldKind, Filter, LOCATION, MAX_DEPTH, Op, RawValue};
use crm_records::Stored;

/// `where:` of a list of `R`: the typed form of the REST filter grammar.
pub struct Where<R> {
    pub filter: Filter,
    raw: Value,
    _record: PhantomData<fn() -> R>,
}

/// One key of `orderBy:` of a list of `R`.
pub struct OrderBy<R> {
    /// The REST sort key (`-created_at`).
    pub key: String,
    raw: Value,
    _record: PhantomData<fn() -> R>,
}

/// The direction of one sort key.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDirection {
    /// Smallest (oldest) first; records without a value last.
    #[default]
    Asc,
    /// Largest (newest) first; records without a value last.
    Desc,
}

/// The REST `sort=` value of typed `orderBy` keys (`-created_at,name`).
pub fn sort_of<R>(keys: Option<Vec<OrderBy<R>>>) -> Option<String> {
    keys.map(|v| v.into_iter().map(|k| k.key).collect::<Vec<_>>().join(","))
}

impl<R: Stored> InputType for Where<R> {
    type RawValueType = Self;

    fn type_name() -> Cow<'static, str> {
        Cow::Owned(where_name(R::catalog()))
    }

    fn create_type_info(registry: &mut Registry) -> String {
        register_where(registry, R::catalog());
        Self::qualified_type_name()
    }

    fn parse(value: Option<Value>) -> InputValueResult<Self> {
        let raw = value.unwrap_or_default();
        let filter = where_filter(&raw, R::catalog(), 0).map_err(InputValueError::custom)?;
        Ok(Where { filter, raw, _record: PhantomData })
    }

    fn to_value(&self) -> Value {
        self.raw.clone()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
}

impl<R: Stored> InputType for OrderBy<R> {
    type RawValueType = Self;

    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("{}OrderBy", R::catalog().name))
    }

    fn create_type_info(registry: &mut Registry) -> String {
        let catalog = R::catalog();
        let name = Self::type_name().into_owned();
        if !registry.types.contains_key(&name) {
            let direction = <SortDirection as InputType>::create_type_info(registry);
            let field_enum = register_sort_fields(registry, catalog);
            let mut fields = IndexMap::new();
            field(&mut fields, "field", &format!("{field_enum}!"), "What to sort by.");
            let mut dir = input_value("direction", &direction, "Ascending unless `DESC`.");
            dir.default_value = Some("ASC".into());
            fields.insert("direction".into(), dir);
            let doc = format!(
                "One sort key of a list of {}. Keys apply in order; ties end by id. \
                 The REST `sort=` parameter in typed form.",
                catalog.resource
            );
            registry.types.insert(name.clone(), input_object(&name, &doc, fields));
        }
        Self::qualified_type_name()
    }

    fn parse(value: Option<Value>) -> InputValueResult<Self> {
        let raw = value.unwrap_or_default();
        let Value::Object(map) = &raw else { return Err(InputValueError::expected_type(raw)) };
        let catalog = R::catalog();
        let field = match map.get("field") {
            // A custom field's key is checked with the list (its definitions are read there).
            Some(Value::Enum(n)) if n.as_str() == "DISTANCE" && catalog.located() => "distance".to_string(),
            Some(Value::Enum(n)) => match super::custom::sort_key(n.as_str()) {
                Some(key) => key,
                None => catalog
                    .fields
                    .iter()
                    .find(|f| f.sortable && f.name.to_uppercase() == n.as_str())
                    .ok_or_else(|| InputValueError::custom(format!("cannot sort by `{n}`")))?
                    .name
                    .to_string(),
            },
            _ => return Err(InputValueError::custom("`field` is required")),
        };
        let desc = matches!(map.get("direction"), Some(Value::Enum(n)) if n.as_str() == "DESC");
        let key = if desc { format!("-{field}") } else { field };
        Ok(OrderBy { key, raw, _record: PhantomData })
    }

    fn to_value(&self) -> Value {
        self.raw.clone()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
}

// ---------------------------------------------------------------------------------------------
// From a GraphQL value to the filter AST.

fn where_filter(v: &Value, catalog: &'static Catalog, depth: usize) -> Result<Filter, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a filter nests at most {MAX_DEPTH} levels"));
    }
    let Value::Object(map) = v else { return Err(format!("{} takes an object", where_name(catalog))) };
    let mut all = Vec::with_capacity(map.len());
    let nested = |v: &Value| where_filter(v, catalog, depth + 1);
    for (key, value) in map {
        if *value == Value::Null {
            continue;
        }
        match key.as_str() {
            "and" | "or" => {
                let items = list(value).iter().map(nested).collect::<Result<Vec<_>, _>>()?;
                all.push(if key.as_str() == "and" { Filter::And(items) } else { Filter::Or(items) });
            }
            "not" => all.push(Filter::Not(Box::new(nested(value)?))),
            LOCATION if catalog.located() => all.extend(location_filter(value)?),
            "customFields" => {
                let Value::Object(fields) = value else { return Err("`customFields` takes an object".into()) };
                for (name, ops) in fields {
                    let path = vec![crm_core::filter::CUSTOM_FIELDS.to_string(), super::custom::key_of(name)];
                    // Enumeration values are the options upper-cased; the list checks the rest.
                    all.extend(conditions(&path, ops, &|v| match v {
                        Value::Enum(n) => Ok(n.as_str().to_lowercase()),
                        other => plain_text(other).ok_or_else(|| format!("`{other}` is not a value of `{name}`")),
                    })?);
                }
            }
            name => {
                if let Some(rel) = catalog.relations.iter().find(|r| camel(r.name) == name) {
                    // Everything inside holds for one related record (`Within`), as a REST
                    // `rel(…)` scope: on a to-many relation, one purchase both recent and large.
                    // An empty object (or one of nulls) says nothing: no condition, not "has one".
                    match where_filter(value, rel.target, depth + 1)? {
                        Filter::And(v) if v.is_empty() => {}
                        inner => all.push(Filter::Within { path: vec![rel.name.to_string()], inner: Box::new(inner) }),
                    }
                } else if let Some(f) = catalog.fields.iter().find(|f| camel(f.name) == name) {
                    all.extend(conditions(&[f.name.to_string()], value, &|v| scalar_text(f, v))?);
                } else {
                    return Err(format!("`{name}` is not a filterable field of {}", catalog.resource));
                }
            }
        }
    }
    Ok(if all.len() == 1 { all.pop().unwrap_or(Filter::And(Vec::new())) } else { Filter::And(all) })
}

/// The conditions of one field's operator object (`{gte: 10, lt: 20}` is two), its operands
/// written as the filter grammar writes them by `text`.
fn conditions(
    path: &[String],
    ops: &Value,
    text: &dyn Fn(&Value) -> Result<String, String>,
) -> Result<Vec<Filter>, String> {
    let Value::Object(map) = ops else { return Err(format!("`{}` takes an operator object", path.join("."))) };
    let mut out = Vec::with_capacity(map.len());
    for (op_name, value) in map {
        if *value == Value::Null {
            continue;
        }
        let op = OPS
            .iter()
            .find(|(n, _, _)| *n == op_name.as_str())
            .map(|(_, op, _)| *op)
            .ok_or_else(|| format!("`{op_name}` is not an operator"))?;
        let value = match op {
            Op::In | Op::Nin => RawValue::List(list(value).iter().map(text).collect::<Result<_, _>>()?),
            _ => RawValue::One(text(value)?),
        };
        out.push(Filter::Cond { path: path.to_vec(), op, value });
    }
    Ok(out)
}

fn list(v: &Value) -> &[Value] {
    match v {
        Value::List(items) => items,
        one => std::slice::from_ref(one),
    }
}

/// A GraphQL literal as the filter grammar writes it.
fn scalar_text(f: &FieldDef, v: &Value) -> Result<String, String> {
    if let Some(t) = plain_text(v) {
        return Ok(t);
    }
    Ok(match (v, f.kind) {
        (Value::Enum(n), FieldKind::Enum(def)) => def
            .values
            .iter()
            .find(|w| w.to_uppercase() == n.as_str())
            .ok_or_else(|| format!("`{n}` is not a value of {}", def.name))?
            .to_string(),
        (Value::Object(o), FieldKind::ExternalId) => match (o.get("source"), o.get("id")) {
            (Some(Value::String(s)), Some(Value::String(id))) => format!("{s}:{id}"),
            _ => return Err("an external id has `source` and `id`".into()),
        },
        (other, _) => return Err(format!("`{other}` is not a value of `{}`", camel(f.name))),
    })
}

/// A string, number or boolean literal as the filter grammar writes it.
fn plain_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Registering the types.

/// The operators, their AST form, and which filter types carry them.
const OPS: &[(&str, Op, &str)] = &[
    ("eq", Op::Eq, "Equal to."),
    ("neq", Op::Neq, "Not equal to (records without a value match)."),
    ("lt", Op::Lt, "Less than."),
    ("lte", Op::Lte, "Less than or equal to."),
    ("gt", Op::Gt, "Greater than."),
    ("gte", Op::Gte, "Greater than or equal to."),
    ("in", Op::In, "Equal to one of (1 to 1,000 values)."),
    ("nin", Op::Nin, "Equal to none of (records without a value match)."),
    ("contains", Op::Contains, "Contains, ignoring case."),
    ("startsWith", Op::StartsWith, "Starts with, ignoring case."),
    ("isNull", Op::IsNull, "`true`: has no value; `false`: has one."),
];

/// One operator-object type: its name, description, value type and operators.
struct FilterType {
    name: &'static str,
    doc: &'static str,
    ops: &'static [&'static str],
}

const COMPARABLE: &[&str] = &["eq", "neq", "lt", "lte", "gt", "gte", "in", "nin", "isNull"];
const EQUALITY: &[&str] = &["eq", "neq", "in", "nin", "isNull"];

fn filter_type(kind: FieldKind) -> FilterType {
    match kind {
        FieldKind::Text | FieldKind::LowerText | FieldKind::UpperText => FilterType {
            name: "StringFilter",
            doc: "Conditions on a text field; all given must hold. Emails and domains compare \
                  lower-cased, country and currency codes upper-cased.",
            ops: &["eq", "neq", "lt", "lte", "gt", "gte", "in", "nin", "contains", "startsWith", "isNull"],
        },
        FieldKind::Int => FilterType {
            name: "LongFilter",
            doc: "Conditions on a whole number (money in minor units: cents); all given must hold.",
            ops: COMPARABLE,
        },
        FieldKind::Float => {
            FilterType { name: "FloatFilter", doc: "Conditions on a number; all given must hold.", ops: COMPARABLE }
        }
        FieldKind::Bool => FilterType {
            name: "BooleanFilter",
            doc: "Conditions on a true/false field; all given must hold.",
            ops: &["eq", "neq", "isNull"],
        },
        FieldKind::Timestamp => FilterType {
            name: "DateTimeFilter",
            doc: "Conditions on an instant (RFC 3339); all given must hold.",
            ops: COMPARABLE,
        },
        FieldKind::Date => FilterType {
            name: "DateFilter",
            doc: "Conditions on a calendar date (YYYY-MM-DD); all given must hold.",
            ops: COMPARABLE,
        },
        FieldKind::Uuid => {
            FilterType { name: "IdFilter", doc: "Conditions on a record id; all given must hold.", ops: EQUALITY }
        }
        FieldKind::Tags => FilterType {
            name: "TagsFilter",
            doc: "Conditions on a tag list: `eq` carries the tag, `in` carries any of them, `nin` none \
                  of them, `isNull: true` has no tags. Tags compare lower-cased.",
            ops: EQUALITY,
        },
        FieldKind::ExternalId => FilterType {
            name: "ExternalIdFilter",
            doc: "The record carries this external id (`eq`) or one of these (`in`).",
            ops: &["eq", "in"],
        },
        // Named after the enumeration; see `register_filter`.
        FieldKind::Enum(_) => FilterType { name: "", doc: "", ops: EQUALITY },
    }
}

/// The GraphQL type of one operand of a field of `kind`, registered.
fn operand(registry: &mut Registry, kind: FieldKind) -> String {
    use chrono::{DateTime, NaiveDate, Utc};
    match kind {
        FieldKind::Text | FieldKind::LowerText | FieldKind::UpperText | FieldKind::Tags => {
            <String as InputType>::create_type_info(registry)
        }
        FieldKind::Int => <crm_core::Long as InputType>::create_type_info(registry),
        FieldKind::Float => <f64 as InputType>::create_type_info(registry),
        FieldKind::Bool => <bool as InputType>::create_type_info(registry),
        FieldKind::Timestamp => <DateTime<Utc> as InputType>::create_type_info(registry),
        FieldKind::Date => <NaiveDate as InputType>::create_type_info(registry),
        FieldKind::Uuid => <uuid::Uuid as InputType>::create_type_info(registry),
        FieldKind::ExternalId => <crm_core::ExternalId as InputType>::create_type_info(registry),
        FieldKind::Enum(def) => {
            let register = def.register.unwrap_or_else(|| panic!("enum {} is not a GraphQL type", def.name));
            register(registry);
            let values: Vec<String> = match registry.types.get(def.name) {
                Some(MetaType::Enum { enum_values, .. }) => enum_values.keys().cloned().collect(),
                _ => panic!("enum {} registered no GraphQL enum", def.name),
            };
            let wire: Vec<String> = def.values.iter().map(|v| v.to_uppercase()).collect();
            // The filter maps GraphQL values to wire values by upper-casing: they must agree.
            assert_eq!(values, wire, "GraphQL values of {} differ from its wire values", def.name);
            format!("{}!", def.name)
        }
    }
}

/// Registers the operator object of a field of `kind`; returns its name.
fn register_filter(registry: &mut Registry, kind: FieldKind) -> String {
    let t = filter_type(kind);
    let (name, doc) = match kind {
        FieldKind::Enum(def) => {
            (format!("{}Filter", def.name), format!("Conditions on a {} field; all given must hold.", def.name))
        }
        _ => (t.name.to_string(), t.doc.to_string()),
    };
    if registry.types.contains_key(&name) {
        return name;
    }
    let one = operand(registry, kind);
    register_ops(registry, name, &doc, t.ops, &one)
}

/// Registers an operator object `name` with `ops` over operands of type `one`.
pub fn register_ops(registry: &mut Registry, name: String, doc: &str, ops: &[&str], one: &str) -> String {
    let bare = one.trim_end_matches('!').to_string();
    let bool_ty = <bool as InputType>::create_type_info(registry);
    let mut fields = IndexMap::new();
    for op in ops {
        let Some((_, o, op_doc)) = OPS.iter().find(|(n, _, _)| n == op) else { continue };
        let ty = match o {
            Op::In | Op::Nin => format!("[{one}]"),
            Op::IsNull => bool_ty.trim_end_matches('!').to_string(),
            _ => bare.clone(),
        };
        field(&mut fields, op, &ty, op_doc);
    }
    registry.types.insert(name.clone(), input_object(&name, doc, fields));
    name
}

/// `location: {near: {…}, bbox: {…}}` as filter conditions (`location[near]:[…]`, …).
fn location_filter(v: &Value) -> Result<Vec<Filter>, String> {
    let Value::Object(map) = v else { return Err("`location` takes an object".into()) };
    let number = |o: &IndexMap<async_graphql::Name, Value>, k: &str| match o.get(k) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("`{k}` is required (a number)")),
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let (op, names): (Op, &[&str]) = match (key.as_str(), value) {
            (_, Value::Null) => continue,
            ("near", _) => (Op::Near, &["latitude", "longitude", "radiusM"]),
            ("bbox", _) => (Op::Bbox, &["south", "west", "north", "east"]),
            (other, _) => return Err(format!("`{other}` is not a location condition (near, bbox)")),
        };
        let Value::Object(o) = value else { return Err(format!("`{key}` takes an object")) };
        let items = names.iter().map(|k| number(o, k)).collect::<Result<Vec<_>, _>>()?;
        out.push(Filter::Cond { path: vec![LOCATION.to_string()], op, value: RawValue::List(items) });
    }
    Ok(out)
}

/// Registers `LocationFilter` and its two conditions.
fn register_location_filter(registry: &mut Registry) -> String {
    let name = "LocationFilter".to_string();
    if registry.types.contains_key(&name) {
        return name;
    }
    let mut near = IndexMap::new();
    field(&mut near, "latitude", "Float!", "Latitude of the point, in degrees (-90 to 90).");
    field(&mut near, "longitude", "Float!", "Longitude of the point, in degrees (-180 to 180).");
    field(&mut near, "radiusM", "Float!", "Greatest great-circle distance from the point, in metres.");
    registry.types.insert(
        "NearPoint".into(),
        input_object("NearPoint", "Records within a distance of a point (`location[near]` in `filter=`).", near),
    );
    let mut bbox = IndexMap::new();
    field(&mut bbox, "south", "Float!", "Southern edge, degrees of latitude.");
    field(
        &mut bbox,
        "west",
        "Float!",
        "Western edge, degrees of longitude (greater than `east` crosses the antimeridian).",
    );
    field(&mut bbox, "north", "Float!", "Northern edge, degrees of latitude.");
    field(&mut bbox, "east", "Float!", "Eastern edge, degrees of longitude.");
    registry.types.insert(
        "GeoBoxInput".into(),
        input_object("GeoBoxInput", "Records inside a box (`location[bbox]` in `filter=`).", bbox),
    );
    let mut fields = IndexMap::new();
    field(&mut fields, "near", "NearPoint", "Within a distance of a point; nodes then have `distanceM`.");
    field(&mut fields, "bbox", "GeoBoxInput", "Inside a box.");
    registry.types.insert(
        name.clone(),
        input_object(
            &name,
            "Conditions on where a record is (its `latitude` and `longitude`); all given must hold.",
            fields,
        ),
    );
    name
}

fn where_name(catalog: &Catalog) -> String {
    format!("{}Where", catalog.name)
}

/// Registers `{R}Where` for `catalog` and, through its relations, the targets' `Where`s.
fn register_where(registry: &mut Registry, catalog: &'static Catalog) -> String {
    let name = where_name(catalog);
    if registry.types.contains_key(&name) {
        return name;
    }
    // A placeholder first, so relations that lead back here (a record's parent) terminate.
    registry.types.insert(name.clone(), input_object(&name, "", IndexMap::new()));
    let mut fields = IndexMap::new();
    let many = format!("[{name}!]");
    field(&mut fields, "and", &many, "All of these hold.");
    field(&mut fields, "or", &many, "At least one of these holds.");
    field(
        &mut fields,
        "not",
        &name,
        "This does not hold (records without the field's value count as not matching it).",
    );
    for f in catalog.fields {
        let ty = register_filter(registry, f.kind);
        let doc = if f.column.ends_with("_minor") {
            format!("Conditions on `{}`, in minor units (cents).", f.name)
        } else {
            format!("Conditions on `{}`.", f.name)
        };
        field(&mut fields, &camel(f.name), &ty, &doc);
    }
    if catalog.located() {
        let ty = register_location_filter(registry);
        field(&mut fields, LOCATION, &ty, "Where the record is: near a point, or inside a box.");
    }
    if let Some(ty) = register_custom_where(registry, catalog) {
        field(&mut fields, "customFields", &ty, "Conditions on custom fields (`custom_fields.<name>` in `filter=`).");
    }
    for r in catalog.relations {
        let ty = register_where(registry, r.target);
        let doc = if r.many {
            format!("Some related {} matches all of these (one and the same record).", r.target.name)
        } else {
            format!("The related {} (`{}`) matches; records without one do not.", r.target.name, r.local_column)
        };
        field(&mut fields, &camel(r.name), &ty, &doc);
    }
    let doc = format!(
        "Which {} a list returns; all given conditions must hold. The typed form of the REST \
         `filter=` grammar, checked and run the same way.",
        catalog.resource
    );
    registry.types.insert(name.clone(), input_object(&name, &doc, fields));
    name
}

/// Registers `{R}CustomWhere` when the schema being built has custom fields for `catalog`'s
/// records: one operator object per field (an amount's currency is a field of its own, as in
/// `filter=`).
fn register_custom_where(registry: &mut Registry, catalog: &'static Catalog) -> Option<String> {
    use crm_core::custom::CustomFieldType;
    let types = super::custom::building();
    let custom = types.of(catalog.table);
    if custom.is_empty() {
        return None;
    }
    let name = format!("{}CustomWhere", catalog.name);
    if registry.types.contains_key(&name) {
        return Some(name);
    }
    let mut fields = IndexMap::new();
    for f in custom {
        for def in crm_core::custom::field_defs(&f.spec) {
            let key = def.name.strip_prefix("custom_fields.").unwrap_or(def.name);
            let ty = match f.spec.field_type {
                CustomFieldType::Enum | CustomFieldType::MultiEnum => {
                    let e = super::custom::register_enum(registry, catalog.name, f);
                    let set = f.spec.field_type == CustomFieldType::MultiEnum;
                    let filter = format!("{e}{}Filter", if set { "Set" } else { "" });
                    if registry.types.contains_key(&filter) {
                        filter
                    } else {
                        let doc = if set {
                            format!(
                                "Conditions on `{}`: `eq` holds the option, `in` any of them, `nin` none.",
                                def.name
                            )
                        } else {
                            format!("Conditions on `{}`; all given must hold.", def.name)
                        };
                        register_ops(registry, filter, &doc, EQUALITY, &format!("{e}!"))
                    }
                }
                _ => register_filter(registry, def.kind),
            };
            let doc = if def.currency.is_some() {
                format!(
                    "Conditions on `{}`, in minor units (pin its currency: `{}`).",
                    def.name,
                    def.currency.unwrap_or("")
                )
            } else {
                format!("Conditions on `{}`.", def.name)
            };
            field(&mut fields, &super::custom::gql_name(key), &ty, &doc);
        }
    }
    let doc = format!("Conditions on the custom fields of {}; all given must hold.", catalog.resource);
    registry.types.insert(name.clone(), input_object(&name, &doc, fields));
    Some(name)
}

fn register_sort_fields(registry: &mut Registry, catalog: &'static Catalog) -> String {
    let name = format!("{}SortField", catalog.name);
    if registry.types.contains_key(&name) {
        return name;
    }
    let builtin = catalog.fields.iter().filter(|f| f.sortable).map(|f| (f.name.to_uppercase(), f.name.to_string()));
    let types = super::custom::building();
    let custom = types
        .of(catalog.table)
        .iter()
        .flat_map(|f| crm_core::custom::field_defs(&f.spec))
        .filter(|d| d.sortable)
        .filter_map(|d| {
            d.name.strip_prefix("custom_fields.").map(|k| (super::custom::sort_value(k), d.name.to_string()))
        });
    let mut enum_values: IndexMap<String, _> = builtin
        .chain(custom)
        .map(|(value, name)| {
            let doc = format!("Sort by `{name}`.");
            (value.clone(), super::custom::enum_value(&value, &doc))
        })
        .collect();
    if catalog.located() {
        let doc = "Sort by the distance from the point of `where.location.near` (nearest first); \
                   each node then has `distanceM`.";
        enum_values.insert("DISTANCE".to_string(), super::custom::enum_value("DISTANCE", doc));
    }
    let doc = format!("The fields lists of {} sort by.", catalog.resource);
    registry.types.insert(
        name.clone(),
        MetaType::Enum {
            name: name.clone(),
            description: Some(doc),
            enum_values,
            visible: None,
            inaccessible: false,
            tags: Vec::new(),
            rust_typename: None,
            directive_invocations: Vec::new(),
            requires_scopes: Vec::new(),
        },
    );
    name
}

fn input_value(name: &str, ty: &str, doc: &str) -> MetaInputValue {
    MetaInputValue {
        name: name.to_string(),
        description: Some(doc.to_string()),
        ty: ty.to_string(),
        deprecation: Deprecation::NoDeprecated,
        default_value: None,
        visible: None,
        inaccessible: false,
        tags: Vec::new(),
        is_secret: false,
        directive_invocations: Vec::new(),
    }
}

fn field(fields: &mut IndexMap<String, MetaInputValue>, name: &str, ty: &str, doc: &str) {
    fields.insert(name.to_string(), input_value(name, ty, doc));
}

fn input_object(name: &str, doc: &str, input_fields: IndexMap<String, MetaInputValue>) -> MetaType {
    MetaType::InputObject {
        name: name.to_string(),
        description: Some(doc.to_string()).filter(|d| !d.is_empty()),
        input_fields,
        visible: None,
        inaccessible: false,
        tags: Vec::new(),
        rust_typename: None,
        oneof: false,
        directive_invocations: Vec::new(),
    }
}

/// `amount_currency` → `amountCurrency`, as async-graphql names the node's fields.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn field_names_are_camel_case() {
        assert_eq!(camel("amount_currency"), "amountCurrency");
        assert_eq!(camel("city"), "city");
        assert_eq!(camel("address_line1"), "addressLine1");
    }
}
