//! Type checking a parsed filter against a resource's catalog.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::{Catalog, FieldDef, FieldKind, Filter, FilterError, Literal, MAX_VALUES, Op, RawValue, Resolved};
use crate::custom::CustomFilters;

/// How many relations one condition may follow.
pub const MAX_HOPS: usize = 3;

/// Type-checks `f` against `catalog`. Relations are followed up to [`MAX_HOPS`] deep
/// (`account.owner.team` follows two).
pub fn resolve(f: &Filter, catalog: &'static Catalog) -> Result<Resolved, FilterError> {
    resolve_with(f, catalog, CustomFilters::none())
}

/// `resolve`, where `custom_fields.<name>` names the custom fields in `custom` of the record
/// the condition is on (the listed record's, or a related record's: `account.custom_fields.x`).
pub fn resolve_with(f: &Filter, catalog: &'static Catalog, custom: &CustomFilters) -> Result<Resolved, FilterError> {
    let r = resolve_at(f, catalog, "", &[], custom)?;
    if r.value_count() > MAX_VALUES {
        return Err(FilterError {
            field: "filter".into(),
            code: "too_complex",
            message: format!("a filter binds at most {MAX_VALUES} values"),
        });
    }
    Ok(r)
}

impl Resolved {
    /// How many values the filter binds.
    pub fn value_count(&self) -> usize {
        match self {
            Resolved::And(v) | Resolved::Or(v) => v.iter().map(Resolved::value_count).sum(),
            Resolved::Not(x) => x.value_count(),
            Resolved::Cond { values, .. } => values.len().max(1),
            Resolved::Related { inner, .. } => inner.value_count(),
            Resolved::Geo(_) => 4,
        }
    }

    /// The resources a filter reads through relations (`account.tier` reads accounts).
    pub fn related_resources(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.collect_related(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_related(&self, out: &mut Vec<&'static str>) {
        match self {
            Resolved::And(v) | Resolved::Or(v) => v.iter().for_each(|x| x.collect_related(out)),
            Resolved::Not(x) => x.collect_related(out),
            Resolved::Cond { .. } | Resolved::Geo(_) => {}
            Resolved::Related { relation, inner } => {
                out.push(relation.target.resource);
                inner.collect_related(out);
            }
        }
    }
}

impl Resolved {
    /// Whether the filter holds only for rows whose `field` has one given value: it is, or is
    /// in an `and` with, `field[eq]:x` (or `field[in]:[x]`).
    pub fn pins(&self, field: &str) -> bool {
        match self {
            Resolved::Cond { field: f, op: Op::Eq | Op::In, values } => f.name == field && values.len() == 1,
            Resolved::And(v) => v.iter().any(|x| x.pins(field)),
            _ => false,
        }
    }
}

/// The currency fields that the conditions of an `and` pin to one value (see
/// [`Resolved::pins`]), for the money conditions beside them.
fn pinned_by(conditions: &[Filter]) -> impl Iterator<Item = String> {
    conditions.iter().filter_map(|c| match c {
        Filter::Cond { path, op: Op::Eq, value: RawValue::One(_) } if is_field_path(path) => Some(path.join(".")),
        Filter::Cond { path, op: Op::In, value: RawValue::List(v) } if is_field_path(path) && v.len() == 1 => {
            Some(path.join("."))
        }
        _ => None,
    })
}

/// A path that names a field of the record itself: `city`, or a custom field
/// (`custom_fields.tier`).
fn is_field_path(path: &[String]) -> bool {
    path.len() == 1 || (path.len() == 2 && path[0] == CUSTOM)
}

use super::CUSTOM_FIELDS as CUSTOM;

/// Resolves `f` at `prefix` of the relations followed so far; `pinned` lists the fields that
/// the enclosing `and`s pin to one value (a money comparison needs its currency among them).
fn resolve_at(
    f: &Filter,
    catalog: &'static Catalog,
    prefix: &str,
    pinned: &[String],
    custom: &CustomFilters,
) -> Result<Resolved, FilterError> {
    Ok(match f {
        Filter::And(v) => {
            let mut inner: Vec<String> = pinned.to_vec();
            inner.extend(pinned_by(v));
            Resolved::And(v.iter().map(|x| resolve_at(x, catalog, prefix, &inner, custom)).collect::<Result<_, _>>()?)
        }
        Filter::Or(v) => {
            Resolved::Or(v.iter().map(|x| resolve_at(x, catalog, prefix, pinned, custom)).collect::<Result<_, _>>()?)
        }
        Filter::Not(x) => Resolved::Not(Box::new(resolve_at(x, catalog, prefix, pinned, custom)?)),
        Filter::Within { path, inner } => {
            follow(catalog, prefix, path, &|target, at| resolve_at(inner, target, at, &[], custom))?
        }
        Filter::Cond { path, op, value } if !is_field_path(path) => {
            // The last segment is the field, or the last two a custom field's path.
            let cut = if path.len() > 2 && path[path.len() - 2] == CUSTOM { 2 } else { 1 };
            let (relations, field) = path.split_at(path.len() - cut);
            let leaf = Filter::Cond { path: field.to_vec(), op: *op, value: value.clone() };
            follow(catalog, prefix, relations, &|target, at| resolve_at(&leaf, target, at, &[], custom))?
        }
        Filter::Cond { path, op, value } if path.len() == 1 && path[0] == super::LOCATION && catalog.located() => {
            Resolved::Geo(geo_cond(*op, value, &format!("{prefix}{}", super::LOCATION))?)
        }
        Filter::Cond { path, op, value } => {
            let name = path.join(".");
            let full = format!("{prefix}{name}");
            let found = if path.len() == 1 { catalog.field(&name) } else { custom.field(catalog.table, &name) };
            let field = found.ok_or_else(|| unknown_field(catalog, custom, &full, path.len() > 1))?;
            let values = check_cond(field, *op, value, &full)?;
            if let Some(currency) = field.currency
                && compares_amounts(*op, &values)
                && !pinned.iter().any(|p| p == currency)
            {
                return Err(currency_required(prefix, field.name, currency));
            }
            Resolved::Cond { field, op: *op, values }
        }
    })
}

fn unknown_field(catalog: &Catalog, custom: &CustomFilters, full: &str, is_custom: bool) -> FilterError {
    let message = if is_custom {
        let names = custom.names(catalog.table);
        if names.is_empty() {
            format!("`{full}` is not a custom field: {} has none", catalog.resource)
        } else {
            format!("`{full}` is not a custom field of {}; its custom fields: {}", catalog.resource, names.join(", "))
        }
    } else {
        format!("`{full}` is not a filterable field of {}; filterable: {}", catalog.resource, catalog.field_names())
    };
    FilterError { field: full.to_string(), code: "unknown_field", message }
}

/// Whether a condition on an amount means something different in each currency: every
/// comparison but `is_null` and those with zero.
fn compares_amounts(op: Op, values: &[Literal]) -> bool {
    op != Op::IsNull && !values.iter().all(|v| *v == Literal::Int(0))
}

fn currency_required(prefix: &str, field: &str, currency: &str) -> FilterError {
    let full = format!("{prefix}{field}");
    let example = match prefix.strip_suffix('.') {
        Some(relations) => format!("`{relations}(and({currency}[eq]:KRW,{field}[gte]:…))`"),
        None => format!("`and({currency}[eq]:KRW,{field}[gte]:…)`"),
    };
    FilterError {
        field: full.clone(),
        code: "currency_required",
        message: format!(
            "`{full}` holds amounts in several currencies, which do not compare: pin one currency \
             in the same `and`, e.g. {example}"
        ),
    }
}

/// Follows the relations of `path` from `catalog` and resolves what they lead to with `then`
/// (given the last target and the prefix of names so far), nesting one `Related` per hop.
fn follow(
    catalog: &'static Catalog,
    prefix: &str,
    path: &[String],
    then: &dyn Fn(&'static Catalog, &str) -> Result<Resolved, FilterError>,
) -> Result<Resolved, FilterError> {
    let Some((first, rest)) = path.split_first() else { return then(catalog, prefix) };
    let full = format!("{prefix}{}", path.join("."));
    if prefix.matches('.').count() >= MAX_HOPS {
        return Err(FilterError {
            field: full,
            code: "too_complex",
            message: format!("a filter follows at most {MAX_HOPS} relations"),
        });
    }
    let rel = catalog.relation(first).ok_or_else(|| FilterError {
        field: full.clone(),
        code: "unknown_field",
        message: format!("`{full}` is not a filterable relation of {}", catalog.resource),
    })?;
    let inner = follow(rel.target, &format!("{prefix}{}.", rel.name), rest, then)?;
    Ok(Resolved::Related { relation: rel, inner: Box::new(inner) })
}

/// A location condition: `near` takes `[latitude,longitude,distance]` (`5km`, `500m`, metres
/// when bare), `bbox` takes `[south,west,north,east]` in degrees.
/// A location condition written as its comma-separated numbers (`37.5665,126.978,5km` for
/// `near`, `33,124,39,132` for `bbox`), as query parameters take it; errors name `field`.
pub fn parse_geo(op: Op, text: &str, field: &str) -> Result<crate::geo::GeoCond, FilterError> {
    geo_cond(op, &RawValue::List(text.split(',').map(|s| s.trim().to_string()).collect()), field)
}

fn geo_cond(op: Op, value: &RawValue, full: &str) -> Result<crate::geo::GeoCond, FilterError> {
    use crate::geo::{GeoBox, GeoCond, GeoPoint, parse_distance_m};
    let invalid = |msg: String| FilterError { field: full.to_string(), code: "invalid_value", message: msg };
    let items: &[String] = match value {
        RawValue::List(items) => items,
        RawValue::One(_) => &[],
    };
    let number = |s: &String| s.trim().parse::<f64>().map_err(|_| invalid(format!("`{s}` is not a number (`{full}`)")));
    match op {
        Op::Near => {
            let [lat, lng, r] = items else {
                return Err(invalid(format!(
                    "`{full}[near]` takes [latitude,longitude,distance], e.g. [37.5665,126.978,5km]"
                )));
            };
            let center = GeoPoint::new(number(lat)?, number(lng)?).map_err(invalid)?;
            Ok(GeoCond::Near { center, radius_m: parse_distance_m(r).map_err(invalid)? })
        }
        Op::Bbox => {
            let [s, w, n, e] = items else {
                return Err(invalid(format!(
                    "`{full}[bbox]` takes [south,west,north,east] in degrees, e.g. [33,124,39,132]"
                )));
            };
            Ok(GeoCond::Within(GeoBox::new(number(s)?, number(w)?, number(n)?, number(e)?).map_err(invalid)?))
        }
        _ => Err(FilterError {
            field: full.to_string(),
            code: "unsupported_operator",
            message: format!("`{full}` takes `near` or `bbox`, not `{}`", op.as_str()),
        }),
    }
}

fn check_cond(field: &FieldDef, op: Op, value: &RawValue, full: &str) -> Result<Vec<Literal>, FilterError> {
    let unsupported = || FilterError {
        field: full.to_string(),
        code: "unsupported_operator",
        message: format!("operator `{}` does not apply to `{full}`", op.as_str()),
    };
    let invalid = |msg: String| FilterError { field: full.to_string(), code: "invalid_value", message: msg };
    if field.kind == FieldKind::ExternalId && !matches!(op, Op::Eq | Op::In) {
        return Err(unsupported());
    }
    match op {
        Op::IsNull => {
            let RawValue::One(v) = value else { return Err(invalid("`is_null` takes true or false".into())) };
            return match v.as_str() {
                "true" => Ok(vec![Literal::Bool(true)]),
                "false" => Ok(vec![Literal::Bool(false)]),
                _ => Err(invalid("`is_null` takes true or false".into())),
            };
        }
        Op::In | Op::Nin => {
            let RawValue::List(items) = value else {
                return Err(invalid(format!("`{}` takes a list, e.g. [a,b]", op.as_str())));
            };
            if items.is_empty() || items.len() > 1000 {
                return Err(invalid("a list holds 1 to 1000 values".into()));
            }
            if matches!(field.kind, FieldKind::Bool) {
                return Err(unsupported());
            }
            return items.iter().map(|s| literal(field, s, full)).collect();
        }
        Op::Contains | Op::StartsWith => {
            if !matches!(field.kind, FieldKind::Text | FieldKind::LowerText | FieldKind::UpperText | FieldKind::Tags) {
                return Err(unsupported());
            }
            if op == Op::StartsWith && field.kind == FieldKind::Tags {
                return Err(unsupported());
            }
        }
        Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
            if matches!(
                field.kind,
                FieldKind::Bool | FieldKind::Tags | FieldKind::Enum(_) | FieldKind::Uuid | FieldKind::ExternalId
            ) {
                return Err(unsupported());
            }
        }
        Op::Eq | Op::Neq => {}
        // Only on `location`.
        Op::Near | Op::Bbox => return Err(unsupported()),
    }
    let RawValue::One(v) = value else {
        return Err(invalid(format!("`{}` takes a single value; lists are for `in` and `nin`", op.as_str())));
    };
    Ok(vec![literal(field, v, full)?])
}

fn literal(field: &FieldDef, v: &str, full: &str) -> Result<Literal, FilterError> {
    let invalid = |what: &str| FilterError {
        field: full.to_string(),
        code: "invalid_value",
        message: format!("`{v}` is not {what} (field `{full}`)"),
    };
    if v.contains('\0') {
        // No stored text holds it (PostgreSQL text cannot), so no record could match.
        return Err(invalid("text without the NUL character"));
    }
    Ok(match field.kind {
        FieldKind::Text => Literal::Text(v.to_string()),
        FieldKind::LowerText | FieldKind::Tags => Literal::Text(v.to_lowercase()),
        FieldKind::UpperText => Literal::Text(v.to_uppercase()),
        FieldKind::Int => Literal::Int(v.parse().map_err(|_| invalid("an integer"))?),
        FieldKind::Float => {
            let f: f64 = v.parse().map_err(|_| invalid("a number"))?;
            if !f.is_finite() {
                return Err(invalid("a finite number"));
            }
            Literal::Float(f)
        }
        FieldKind::Bool => Literal::Bool(match v {
            "true" => true,
            "false" => false,
            _ => return Err(invalid("true or false")),
        }),
        FieldKind::Timestamp => {
            Literal::Timestamp(parse_timestamp(v).ok_or_else(|| invalid("an RFC 3339 timestamp or a date"))?)
        }
        FieldKind::Date => {
            Literal::Date(NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| invalid("a date (YYYY-MM-DD)"))?)
        }
        FieldKind::Uuid => Literal::Uuid(uuid::Uuid::parse_str(v).map_err(|_| invalid("a UUID"))?),
        FieldKind::ExternalId => match crate::external::ExternalId::parse_pair(v) {
            Some(e) => Literal::Text(format!("{}:{}", e.source, e.id)),
            None => return Err(invalid("an external id written source:id (e.g. erp:C-10042)")),
        },
        // Any case (GraphQL variables carry enumeration values upper-cased, as GraphQL writes them).
        FieldKind::Enum(def) => match def.values.iter().find(|a| a.eq_ignore_ascii_case(v)) {
            Some(value) => Literal::Text(value.to_string()),
            None => {
                return Err(FilterError {
                    field: full.to_string(),
                    code: "invalid_value",
                    message: format!("`{v}` is not one of {} (field `{full}`)", def.values.join(", ")),
                });
            }
        },
    })
}

/// RFC 3339 (any offset, converted to UTC), or a bare date meaning its midnight UTC.
pub fn parse_timestamp(v: &str) -> Option<NaiveDateTime> {
    if let Some(rel) = v.strip_prefix("now") {
        return relative_to_now(rel);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// `now`, `now-7d`, `now+2h`: the current time, optionally shifted by minutes (`m`), hours
/// (`h`), days (`d`) or weeks (`w`). Resolved when the filter is checked.
fn relative_to_now(rel: &str) -> Option<NaiveDateTime> {
    let now = Utc::now().naive_utc();
    if rel.is_empty() {
        return Some(now);
    }
    let (sign, rest) = match rel.as_bytes().first()? {
        b'+' => (1, &rel[1..]),
        b'-' => (-1, &rel[1..]),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let n: i64 = rest[..rest.len() - unit.len_utf8()].parse().ok().filter(|n| (0..=100_000).contains(n))?;
    let d = match unit {
        'm' => chrono::Duration::minutes(n),
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        'w' => chrono::Duration::weeks(n),
        _ => return None,
    };
    now.checked_add_signed(d * sign)
}
