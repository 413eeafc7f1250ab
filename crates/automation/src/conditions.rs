//! A rule's conditions on a record's JSON: the list filter language, evaluated in memory on the
//! record before an update (the event's `before`), where the database no longer holds it.
//! Conditions on the record as it is are evaluated by the database (`crm_db::sql::filter`), with
//! relations; here a relation cannot be followed, and the rule's validation says so.

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::{FieldKind, Literal, Op, Resolved};
use serde_json::Value;

/// Why a condition cannot be evaluated on a record's JSON.
pub fn unsupported(r: &Resolved) -> Option<String> {
    match r {
        Resolved::And(v) | Resolved::Or(v) => v.iter().find_map(unsupported),
        Resolved::Not(inner) => unsupported(inner),
        Resolved::Related { relation, .. } => {
            Some(format!("`{}.…` follows a relation, which is read as it is now: put it in `filter`", relation.name))
        }
        Resolved::Geo(_) => Some("location conditions are not evaluated on the record before".into()),
        Resolved::Cond { field, .. } if field.kind == FieldKind::ExternalId => {
            Some("`external_id` is not evaluated on the record before".into())
        }
        Resolved::Cond { .. } => None,
    }
}

/// Whether `record` (a record's JSON) satisfies `r`. A condition that cannot be evaluated here
/// (see [`unsupported`]) does not hold.
pub fn holds(r: &Resolved, record: &Value) -> bool {
    match r {
        Resolved::And(v) => v.iter().all(|x| holds(x, record)),
        Resolved::Or(v) => v.iter().any(|x| holds(x, record)),
        Resolved::Not(inner) => !holds(inner, record),
        Resolved::Related { .. } | Resolved::Geo(_) => false,
        Resolved::Cond { field, op, values } => {
            let value = lookup(record, field.name);
            cond(field.kind, *op, value, values)
        }
    }
}

/// The value of a field in a record's JSON (`custom_fields.tier` inside the custom fields).
fn lookup<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    let v = match name.split_once('.') {
        Some((outer, inner)) => record.get(outer)?.get(inner)?,
        None => record.get(name)?,
    };
    (!v.is_null()).then_some(v)
}

/// A scalar of the record, typed like the field's literals.
fn scalar(kind: FieldKind, v: &Value) -> Option<Literal> {
    // Money is `{ amount_minor, currency }`: its amount compares.
    let v = v.get("amount_minor").unwrap_or(v);
    Some(match kind {
        FieldKind::Int => Literal::Int(v.as_i64().or_else(|| v.as_str()?.parse().ok())?),
        FieldKind::Float => Literal::Float(v.as_f64().or_else(|| v.as_str()?.parse().ok())?),
        FieldKind::Bool => Literal::Bool(v.as_bool()?),
        FieldKind::Timestamp => Literal::Timestamp(crm_core::filter::parse_timestamp(v.as_str()?)?),
        FieldKind::Date => Literal::Date(NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok()?),
        FieldKind::Uuid => Literal::Uuid(uuid::Uuid::parse_str(v.as_str()?).ok()?),
        FieldKind::LowerText => Literal::Text(v.as_str()?.to_lowercase()),
        FieldKind::UpperText => Literal::Text(v.as_str()?.to_uppercase()),
        _ => match v {
            Value::String(s) => Literal::Text(s.clone()),
            Value::Number(n) => Literal::Text(n.to_string()),
            Value::Bool(b) => Literal::Text(b.to_string()),
            _ => return None,
        },
    })
}

fn order(a: &Literal, b: &Literal) -> Option<std::cmp::Ordering> {
    use Literal::*;
    match (a, b) {
        (Text(x), Text(y)) => Some(x.cmp(y)),
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Timestamp(x), Timestamp(y)) => Some(x.cmp(y)),
        (Timestamp(x), Date(y)) => Some(x.cmp(&midnight(*y))),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Uuid(x), Uuid(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default()
}

fn cond(kind: FieldKind, op: Op, value: Option<&Value>, literals: &[Literal]) -> bool {
    use std::cmp::Ordering::*;
    if op == Op::IsNull {
        let wants_null = !matches!(literals.first(), Some(Literal::Bool(false)));
        let empty = match value {
            None => true,
            Some(Value::Array(a)) => kind == FieldKind::Tags && a.is_empty(),
            Some(_) => false,
        };
        return empty == wants_null;
    }
    let Some(value) = value else {
        // SQL: a comparison with NULL is not true, and neither is its negation.
        return false;
    };
    if kind == FieldKind::Tags {
        let tags: Vec<String> = value
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_lowercase)).collect())
            .unwrap_or_default();
        let has = |l: &Literal| matches!(l, Literal::Text(t) if tags.contains(t));
        return match op {
            Op::Eq | Op::Contains | Op::In => literals.iter().any(has),
            Op::Neq | Op::Nin => !literals.iter().any(has),
            _ => false,
        };
    }
    let Some(v) = scalar(kind, value) else { return false };
    let text = |l: &Literal| match l {
        Literal::Text(t) => Some(t.to_lowercase()),
        _ => None,
    };
    let first = literals.first();
    match op {
        Op::Eq => first.is_some_and(|l| order(&v, l) == Some(Equal)),
        Op::Neq => first.is_some_and(|l| order(&v, l).is_some_and(|o| o != Equal)),
        Op::Lt => first.is_some_and(|l| order(&v, l) == Some(Less)),
        Op::Lte => first.is_some_and(|l| matches!(order(&v, l), Some(Less | Equal))),
        Op::Gt => first.is_some_and(|l| order(&v, l) == Some(Greater)),
        Op::Gte => first.is_some_and(|l| matches!(order(&v, l), Some(Greater | Equal))),
        Op::In => literals.iter().any(|l| order(&v, l) == Some(Equal)),
        Op::Nin => literals.iter().all(|l| order(&v, l).is_some_and(|o| o != Equal)),
        // Case-insensitive, as the lists do.
        Op::Contains => match (text(&v), first.and_then(text)) {
            (Some(s), Some(n)) => s.contains(&n),
            _ => false,
        },
        Op::StartsWith => match (text(&v), first.and_then(text)) {
            (Some(s), Some(n)) => s.starts_with(&n),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::filter::{Catalog, FieldDef};
    use serde_json::json;

    static FIELDS: [FieldDef; 3] = [
        FieldDef {
            name: "status",
            column: "status",
            kind: FieldKind::Text,
            nullable: false,
            sortable: true,
            currency: None,
        },
        FieldDef {
            name: "amount",
            column: "amount_minor",
            kind: FieldKind::Int,
            nullable: true,
            sortable: true,
            currency: None,
        },
        FieldDef {
            name: "tags",
            column: "tags",
            kind: FieldKind::Tags,
            nullable: false,
            sortable: false,
            currency: None,
        },
    ];
    static CATALOG: Catalog = Catalog { name: "T", resource: "ts", table: "ts", fields: &FIELDS, relations: &[] };

    fn check(filter: &str, record: serde_json::Value) -> bool {
        let parsed = crm_core::filter::parse(filter).unwrap_or_else(|e| panic!("{e:?}"));
        let resolved = crm_core::filter::resolve(&parsed, &CATALOG).unwrap_or_else(|e| panic!("{e:?}"));
        holds(&resolved, &record)
    }

    #[test]
    fn conditions_hold_on_json_as_they_do_in_sql() {
        let r = json!({"status": "Proposal", "amount": {"amount_minor": "150000", "currency": "EUR"}, "tags": ["Vip"]});
        assert!(check("status[eq]:Proposal", r.clone()));
        assert!(!check("status[eq]:Negotiate", r.clone()));
        assert!(check("status[contains]:pos", r.clone()));
        assert!(check("amount[gt]:100000", r.clone()));
        assert!(!check("amount[gt]:150000", r.clone()));
        assert!(check("amount[gte]:150000", r.clone()));
        assert!(check("status[in]:[Won,Proposal]", r.clone()));
        assert!(check("tags[eq]:vip", r.clone()));
        assert!(!check("tags[eq]:gold", r.clone()));
        assert!(check("not(status[eq]:Won)", r.clone()));
        assert!(check("or(status[eq]:Won,amount[lt]:200000)", r.clone()));
        // A missing value satisfies neither a comparison nor its negation, but `isnull`.
        assert!(!check("amount[gt]:1", json!({"status": "x"})));
        assert!(!check("amount[neq]:1", json!({"status": "x"})));
        assert!(check("amount[is_null]:true", json!({"status": "x", "amount": null})));
        assert!(!check("amount[is_null]:true", r));
    }
}
