//! Custom fields: typed fields an administrator adds to a resource while the service runs
//! (`contacts.preferred_language`, `accounts.credit_limit`). Their definitions are records
//! (`crm_records::custom`); this module holds what needs no database: the types, how a value of
//! each type is checked and normalized, and how a field is filtered and sorted (the SQL
//! expression over the record's `custom_fields` JSON column and its filter kind).
//!
//! Values live in the record's `custom_fields` object under the field's name. The same
//! expression reads them on both databases (`->>` is PostgreSQL's and SQLite's since 3.38),
//! with a cast where the two would otherwise compare differently.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::NaiveDate;
use serde_json::Value;

use crate::error::FieldError;
use crate::filter::{EnumDef, FieldDef, FieldKind};
use crate::money::Money;

crate::wire_enum!(
    /// The type of a custom field's values.
    CustomFieldType {
        /// A string (trimmed; `max_length` characters, 1000 by default).
        Text = "text",
        /// A JSON number, within `min` and `max` when they are set.
        Number = "number",
        /// `{"amount_minor": 125000, "currency": "KRW"}`: exact, like every amount.
        Money = "money",
        /// `YYYY-MM-DD`.
        Date = "date",
        /// `true` or `false`.
        Boolean = "boolean",
        /// One of the field's `options`.
        Enum = "enum",
        /// A list of the field's `options` (each once, in the options' order).
        MultiEnum = "multi_enum",
        /// The id of a live record of `reference_to` (`accounts`, `contacts`, `users`, …).
        Reference = "reference",
    }
);

/// Longest text value when the field sets no `max_length`.
pub const DEFAULT_MAX_LENGTH: i64 = 1000;
/// Longest `max_length` a text field may set.
pub const MAX_TEXT_LENGTH: i64 = 10_000;
/// Most options of an enumeration.
pub const MAX_OPTIONS: usize = 200;

/// What checking and filtering need of one live custom field.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomFieldSpec {
    /// The resource it belongs to (`contacts`).
    pub resource: String,
    /// Its key in `custom_fields`: `^[a-z][a-z0-9_]*$`.
    pub name: String,
    pub field_type: CustomFieldType,
    pub required: bool,
    /// Given to a new record that leaves the field out.
    pub default: Option<Value>,
    /// The values of an enumeration, in their order.
    pub options: Vec<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_length: Option<i64>,
    /// The resource a reference points at.
    pub reference_to: Option<String>,
}

/// `custom_fields.<name>`: the path of a custom field in errors, filters and sorts.
pub fn path(name: &str) -> String {
    format!("custom_fields.{name}")
}

/// Whether `name` may name a custom field (or an option): a lower-case letter, then lower-case
/// letters, digits and `_`, at most 63 characters. Such names are safe inside SQL text.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl CustomFieldSpec {
    /// Checks and normalizes one value of this field; `Ok(None)` clears it (`null`, blank text,
    /// an empty list). References are checked for their form only: that the record exists is
    /// the caller's business (it has the database).
    pub fn check(&self, v: &Value) -> Result<Option<Value>, FieldError> {
        let field = path(&self.name);
        let err = |code: &str, msg: String| FieldError::new(field.clone(), code, msg);
        let wrong_type = |what: &str| err("invalid_type", format!("`{field}` takes {what}"));
        if v.is_null() {
            return Ok(None);
        }
        Ok(Some(match self.field_type {
            CustomFieldType::Text => {
                let s = v.as_str().ok_or_else(|| wrong_type("a string"))?.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                let max = self.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
                if s.chars().count() as i64 > max {
                    return Err(err("too_long", format!("`{field}` takes at most {max} characters")));
                }
                Value::from(s)
            }
            CustomFieldType::Number => {
                let n = v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| wrong_type("a number"))?;
                if self.min.is_some_and(|m| n < m) || self.max.is_some_and(|m| n > m) {
                    let range = match (self.min, self.max) {
                        (Some(a), Some(b)) => format!("between {a} and {b}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        (None, None) => String::new(),
                    };
                    return Err(err("out_of_range", format!("`{field}` must be {range}")));
                }
                v.clone()
            }
            CustomFieldType::Money => {
                let m: Money = serde_json::from_value(v.clone())
                    .map_err(|_| wrong_type("an amount: {\"amount_minor\": 125000, \"currency\": \"KRW\"}"))?;
                serde_json::to_value(m.parse(&field)?).unwrap_or_default()
            }
            CustomFieldType::Date => {
                let s = v.as_str().ok_or_else(|| wrong_type("a date (YYYY-MM-DD)"))?;
                let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map_err(|_| err("invalid_date", format!("`{s}` is not a date (YYYY-MM-DD)")))?;
                Value::from(d.format("%Y-%m-%d").to_string())
            }
            CustomFieldType::Boolean => Value::from(v.as_bool().ok_or_else(|| wrong_type("true or false"))?),
            CustomFieldType::Enum => {
                let s = v.as_str().ok_or_else(|| wrong_type("one of its options (a string)"))?;
                self.option(s).map_err(|m| err("not_an_option", m))?;
                Value::from(s)
            }
            CustomFieldType::MultiEnum => {
                let items = v.as_array().ok_or_else(|| wrong_type("a list of its options"))?;
                if items.len() > 2 * self.options.len().max(1) {
                    return Err(err("too_many", format!("`{field}` holds each of its options at most once")));
                }
                let mut picked = vec![false; self.options.len()];
                for item in items {
                    let s = item.as_str().ok_or_else(|| wrong_type("a list of its options (strings)"))?;
                    picked[self.option(s).map_err(|m| err("not_an_option", m))?] = true;
                }
                let out: Vec<Value> =
                    self.options.iter().zip(picked).filter(|(_, p)| *p).map(|(o, _)| Value::from(o.as_str())).collect();
                if out.is_empty() {
                    return Ok(None);
                }
                Value::Array(out)
            }
            CustomFieldType::Reference => {
                let s = v.as_str().ok_or_else(|| wrong_type("a record id"))?;
                let id =
                    uuid::Uuid::parse_str(s.trim()).map_err(|_| err("invalid_id", format!("`{s}` is not an id")))?;
                Value::from(id.hyphenated().to_string())
            }
        }))
    }

    /// The position of `value` among the options, or why it is not one.
    fn option(&self, value: &str) -> Result<usize, String> {
        self.options
            .iter()
            .position(|o| o == value)
            .ok_or_else(|| format!("`{value}` is not an option of `{}`: {}", path(&self.name), self.options.join(", ")))
    }

    /// The record id a reference value holds.
    pub fn reference(&self, normalized: &Value) -> Option<uuid::Uuid> {
        (self.field_type == CustomFieldType::Reference)
            .then(|| normalized.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()))
            .flatten()
    }
}

/// Why a record's custom fields were refused, one entry per field.
pub type CustomErrors = Vec<FieldError>;

/// A reference a record's custom fields hold: the field's path, the resource it points at and
/// the id, for the caller to check that the record exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub field: String,
    pub resource: String,
    pub id: uuid::Uuid,
}

/// Checks a record's custom fields after a write: `next` is the whole object the write leaves
/// (a merge patch already applied), `prev` the stored one (`None` on create). Every problem is
/// reported. The rules:
/// - a key must be a live field of the resource, unless it is stored unchanged (values of a
///   field that was removed stay readable until cleared);
/// - each value is checked and normalized by its field's type (`CustomFieldSpec::check`);
///   a value stored unchanged is kept as it is, so narrowing a field (fewer options, a lower
///   maximum) does not block unrelated writes;
/// - on create, a field left out gets its default; a required field must then have a value;
///   an update may not clear a required field that had one.
///
/// Returns the normalized object and the references to check, as (field, resource, id).
pub fn check_record(
    specs: &[CustomFieldSpec],
    next: &Value,
    prev: Option<&Value>,
) -> Result<(Value, Vec<Reference>), CustomErrors> {
    let mut errors = Vec::new();
    let empty = serde_json::Map::new();
    let Some(next) = next.as_object() else {
        return Err(vec![FieldError::new("custom_fields", "not_an_object", "custom fields must be a JSON object")]);
    };
    if Value::Object(next.clone()).to_string().len() > 65_536 {
        return Err(vec![FieldError::new("custom_fields", "too_large", "custom fields are limited to 64 KiB")]);
    }
    let creating = prev.is_none();
    let prev = prev.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = serde_json::Map::new();
    let mut refs = Vec::new();
    for (key, value) in next {
        if prev.get(key) == Some(value) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let Some(spec) = specs.iter().find(|s| &s.name == key) else {
            if !value.is_null() {
                let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                errors.push(FieldError::new(
                    path(key),
                    "unknown_custom_field",
                    if known.is_empty() {
                        "this resource has no custom fields: an administrator defines them first".to_string()
                    } else {
                        format!("not a custom field of this resource; its custom fields: {}", known.join(", "))
                    },
                ));
            }
            continue;
        };
        match spec.check(value) {
            Ok(Some(v)) => {
                if let (Some(id), Some(to)) = (spec.reference(&v), &spec.reference_to) {
                    refs.push(Reference { field: path(key), resource: to.clone(), id });
                }
                out.insert(key.clone(), v);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    for spec in specs {
        let has = out.get(&spec.name).is_some_and(|v| !v.is_null());
        let at = path(&spec.name);
        let reported =
            |e: &FieldError| e.field.strip_prefix(&at).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
        if has || errors.iter().any(reported) {
            continue;
        }
        let left_out = !next.contains_key(&spec.name) || next.get(&spec.name).is_some_and(Value::is_null);
        if creating
            && left_out
            && let Some(d) = &spec.default
        {
            out.insert(spec.name.clone(), d.clone());
            continue;
        }
        let had = prev.get(&spec.name).is_some_and(|v| !v.is_null());
        if spec.required && (creating || had) {
            errors.push(FieldError::new(path(&spec.name), "required", format!("`{}` is required", path(&spec.name))));
        }
    }
    if errors.is_empty() { Ok((Value::Object(out), refs)) } else { Err(errors) }
}

// ---------------------------------------------------------------------------------------------
// Filtering and sorting

/// The custom fields lists may filter and sort on, by table: what a filter's
/// `custom_fields.<name>` and a sort's key resolve to (`filter::resolve_with`).
#[derive(Clone, Debug, Default)]
pub struct CustomFilters {
    by_table: HashMap<String, Vec<&'static FieldDef>>,
}

impl CustomFilters {
    /// No custom fields (lists that mention none).
    pub fn none() -> &'static CustomFilters {
        static NONE: OnceLock<CustomFilters> = OnceLock::new();
        NONE.get_or_init(CustomFilters::default)
    }

    /// The filter fields of live custom fields (a resource's name is its table's).
    pub fn from_specs<'a>(specs: impl IntoIterator<Item = &'a CustomFieldSpec>) -> CustomFilters {
        let mut by_table: HashMap<String, Vec<&'static FieldDef>> = HashMap::new();
        for s in specs {
            by_table.entry(s.resource.clone()).or_default().extend(field_defs(s));
        }
        CustomFilters { by_table }
    }

    /// The field `name` (`custom_fields.tier`) of the resource kept in `table`.
    pub fn field(&self, table: &str, name: &str) -> Option<&'static FieldDef> {
        self.by_table.get(table)?.iter().copied().find(|f| f.name == name)
    }

    /// The filterable custom fields of `table`, for messages.
    pub fn names(&self, table: &str) -> Vec<&'static str> {
        self.by_table.get(table).map(|v| v.iter().map(|f| f.name).collect()).unwrap_or_default()
    }
}

/// The catalog entries of a custom field: one, or two for money (the amount, and
/// `<name>_currency` that an amount comparison must pin). Interned: the same field yields the
/// same `&'static` entries for the life of the process, so memory grows only with fields that
/// were ever defined, not with how often they are read.
pub fn field_defs(spec: &CustomFieldSpec) -> Vec<&'static FieldDef> {
    let key = format!(
        "{}\u{1}{}\u{1}{}\u{1}{}",
        spec.resource,
        spec.name,
        spec.field_type.as_str(),
        if spec.field_type == CustomFieldType::Enum { spec.options.join(",") } else { String::new() }
    );
    static INTERNED: OnceLock<Mutex<HashMap<String, Vec<&'static FieldDef>>>> = OnceLock::new();
    let map = INTERNED.get_or_init(Default::default);
    let mut map = match map.lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.entry(key).or_insert_with(|| make_defs(spec)).clone()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn make_defs(spec: &CustomFieldSpec) -> Vec<&'static FieldDef> {
    let n = &spec.name;
    let name = leak(path(n));
    let text = format!("(custom_fields ->> '{n}')");
    let def = |name: &'static str, column: String, kind: FieldKind, sortable: bool, currency: Option<&'static str>| {
        &*Box::leak(Box::new(FieldDef { name, column: leak(column), kind, nullable: true, sortable, currency }))
    };
    match spec.field_type {
        CustomFieldType::Text | CustomFieldType::Reference => vec![def(name, text, FieldKind::Text, true, None)],
        CustomFieldType::Number => {
            vec![def(name, format!("CAST(custom_fields ->> '{n}' AS DOUBLE PRECISION)"), FieldKind::Float, true, None)]
        }
        CustomFieldType::Money => {
            let currency = leak(format!("{name}_currency"));
            vec![
                def(
                    name,
                    format!("CAST(custom_fields -> '{n}' ->> 'amount_minor' AS BIGINT)"),
                    FieldKind::Int,
                    true,
                    Some(currency),
                ),
                def(currency, format!("(custom_fields -> '{n}' ->> 'currency')"), FieldKind::UpperText, false, None),
            ]
        }
        // `date()` keeps PostgreSQL comparing dates (a cast there) and SQLite comparing
        // `YYYY-MM-DD` text (SQLite's own `date()`), as each does for date columns.
        CustomFieldType::Date => vec![def(name, format!("date(custom_fields ->> '{n}')"), FieldKind::Date, true, None)],
        CustomFieldType::Boolean => {
            vec![def(name, format!("CAST(custom_fields ->> '{n}' AS BOOLEAN)"), FieldKind::Bool, true, None)]
        }
        CustomFieldType::Enum => {
            let values: Vec<&'static str> = spec.options.iter().map(|o| leak(o.clone())).collect();
            let e: &'static EnumDef = Box::leak(Box::new(EnumDef {
                name: leak(format!("{}_{n}", spec.resource)),
                values: Box::leak(values.into_boxed_slice()),
                register: None,
            }));
            vec![def(name, text, FieldKind::Enum(e), true, None)]
        }
        CustomFieldType::MultiEnum => {
            vec![def(name, format!("COALESCE(custom_fields -> '{n}', '[]')"), FieldKind::Tags, false, None)]
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(name: &str, t: CustomFieldType) -> CustomFieldSpec {
        CustomFieldSpec {
            resource: "contacts".into(),
            name: name.into(),
            field_type: t,
            required: false,
            default: None,
            options: vec!["red".into(), "green".into(), "blue".into()],
            min: None,
            max: None,
            max_length: None,
            reference_to: Some("accounts".into()),
        }
    }

    #[test]
    fn names_are_safe_identifiers() {
        for ok in ["tier", "renewal_date2", "a"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Tier", "2x", "_x", "a-b", "a'b", "a b", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn values_are_checked_and_normalized_by_type() {
        let t = spec("note", CustomFieldType::Text);
        assert_eq!(t.check(&json!("  hi ")).unwrap(), Some(json!("hi")));
        assert_eq!(t.check(&json!("   ")).unwrap(), None);
        assert_eq!(t.check(&json!(3)).unwrap_err().code, "invalid_type");
        let long = CustomFieldSpec { max_length: Some(3), ..t.clone() };
        assert_eq!(long.check(&json!("abcd")).unwrap_err().code, "too_long");
        assert_eq!(long.check(&json!("가나다")).unwrap(), Some(json!("가나다")), "characters, not bytes");

        let n = CustomFieldSpec { min: Some(0.0), max: Some(10.0), ..spec("score", CustomFieldType::Number) };
        assert_eq!(n.check(&json!(2.5)).unwrap(), Some(json!(2.5)));
        assert_eq!(n.check(&json!(11)).unwrap_err().code, "out_of_range");
        assert_eq!(n.check(&json!("3")).unwrap_err().code, "invalid_type");

        let m = spec("budget", CustomFieldType::Money);
        assert_eq!(
            m.check(&json!({"amount_minor": 5, "currency": "krw"})).unwrap(),
            Some(json!({"amount_minor": 5, "currency": "KRW"}))
        );
        let e = m.check(&json!({"amount_minor": 5, "currency": "XXY"})).unwrap_err();
        assert_eq!((e.field.as_str(), e.code.as_str()), ("custom_fields.budget.currency", "invalid_currency"));
        assert_eq!(m.check(&json!(5)).unwrap_err().code, "invalid_type");
        assert_eq!(m.check(&json!({"amount_minor": 1.5, "currency": "KRW"})).unwrap_err().code, "invalid_type");

        let d = spec("renewal", CustomFieldType::Date);
        assert_eq!(d.check(&json!("2027-02-28")).unwrap(), Some(json!("2027-02-28")));
        assert_eq!(d.check(&json!("2027-02-30")).unwrap_err().code, "invalid_date");

        let b = spec("vip", CustomFieldType::Boolean);
        assert_eq!(b.check(&json!(true)).unwrap(), Some(json!(true)));
        assert_eq!(b.check(&json!("true")).unwrap_err().code, "invalid_type");

        let e = spec("color", CustomFieldType::Enum);
        assert_eq!(e.check(&json!("green")).unwrap(), Some(json!("green")));
        assert_eq!(e.check(&json!("pink")).unwrap_err().code, "not_an_option");

        let me = spec("colors", CustomFieldType::MultiEnum);
        assert_eq!(me.check(&json!(["blue", "red", "blue"])).unwrap(), Some(json!(["red", "blue"])), "options' order");
        assert_eq!(me.check(&json!([])).unwrap(), None);
        assert_eq!(me.check(&json!(["red", "pink"])).unwrap_err().code, "not_an_option");
        assert_eq!(me.check(&json!(vec!["red"; 7])).unwrap_err().code, "too_many");

        let r = spec("partner", CustomFieldType::Reference);
        let id = uuid::Uuid::now_v7();
        assert_eq!(r.check(&json!(id.to_string().to_uppercase())).unwrap(), Some(json!(id.to_string())));
        assert_eq!(r.check(&json!("nope")).unwrap_err().code, "invalid_id");
    }

    #[test]
    fn records_get_defaults_and_keep_what_they_had() {
        let tier =
            CustomFieldSpec { required: true, default: Some(json!("red")), ..spec("color", CustomFieldType::Enum) };
        let note = CustomFieldSpec { required: true, ..spec("note", CustomFieldType::Text) };
        let specs = vec![tier.clone(), note.clone()];
        // Create: the default fills in; a required field without one is reported, with the
        // unknown key and the bad value, all at once.
        let e = check_record(&specs, &json!({"shoe": 3, "color": "pink"}), None).unwrap_err();
        let mut got: Vec<(String, String)> = e.iter().map(|f| (f.field.clone(), f.code.clone())).collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("custom_fields.color".to_string(), "not_an_option".to_string()),
                ("custom_fields.note".into(), "required".into()),
                ("custom_fields.shoe".into(), "unknown_custom_field".into()),
            ]
        );
        let (v, _) = check_record(&specs, &json!({"note": "x"}), None).unwrap();
        assert_eq!(v, json!({"color": "red", "note": "x"}));
        // Update: a key stored before (a field removed since, a value no longer an option) is
        // kept while unchanged; clearing a required value is refused.
        let prev = json!({"color": "violet", "legacy": 1, "note": "x"});
        let (v, _) = check_record(&specs, &json!({"color": "violet", "legacy": 1, "note": "y"}), Some(&prev)).unwrap();
        assert_eq!(v, json!({"color": "violet", "legacy": 1, "note": "y"}));
        let e = check_record(&specs, &json!({"color": "violet", "legacy": 1, "note": null}), Some(&prev)).unwrap_err();
        assert_eq!(e[0].code, "required");
        // A record that predates a required field is not forced to fill it in.
        assert!(check_record(&specs, &json!({"other": null, "color": "red"}), Some(&json!({"color": "red"}))).is_ok());
        // Removing a key of a removed field is allowed.
        let (v, _) = check_record(&specs, &json!({"note": "x", "color": "red"}), Some(&prev)).unwrap();
        assert_eq!(v, json!({"color": "red", "note": "x"}));
    }

    #[test]
    fn filter_fields_are_interned_per_definition() {
        let a = field_defs(&spec("budget", CustomFieldType::Money));
        let b = field_defs(&spec("budget", CustomFieldType::Money));
        assert!(std::ptr::eq(a[0], b[0]));
        assert_eq!(a[0].currency, Some("custom_fields.budget_currency"));
        assert_eq!(a[1].name, "custom_fields.budget_currency");
        let other =
            field_defs(&CustomFieldSpec { resource: "accounts".into(), ..spec("budget", CustomFieldType::Money) });
        assert!(!std::ptr::eq(a[0], other[0]));
        let filters = CustomFilters::from_specs(&[spec("vip", CustomFieldType::Boolean)]);
        assert_eq!(filters.field("contacts", "custom_fields.vip").map(|f| f.kind), Some(FieldKind::Bool));
        assert!(filters.field("accounts", "custom_fields.vip").is_none());
    }
}
