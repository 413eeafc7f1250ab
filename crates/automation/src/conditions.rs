//! A rule's conditions on a record's JSON: the list filter language, evaluated in memory on the
//! record before an update (the event's `before`), where the database no longer holds it.
//! Conditions on the record as it is are evaluated by the database (`crm_db::sql::filter`), with
//! relations; here a relation cannot be followed, and the rule's validation says so.

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::{FieldKind, Literal, Op, Resolved};
use crm_core::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::Value;

wire_enum!(
    /// Which way a number moved in an update.
    ChangeDirection {
        /// It is larger after the update.
        Increased = "increased",
        /// It is smaller after the update.
        Decreased = "decreased",
    }
);

/// A condition on how an update changed a number: "`amount` increased by more than 20%". It
/// compares the event's `before` with its `after`, so it holds only for updates. A money field
/// compares its amounts when the currency did not change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "ChangeConditionInput")
)]
pub struct ChangeCondition {
    /// A number or money field of the resource (`amount`, `probability`,
    /// `custom_fields.seats`).
    pub field: String,
    pub direction: ChangeDirection,
    /// By more than this percentage of the value before (`20` for "by more than 20%"). An
    /// increase from zero is more than any percentage.
    #[serde(default)]
    pub more_than_percent: Option<f64>,
    /// By more than this much, in the field's unit (minor units for money: cents).
    #[serde(default)]
    pub more_than: Option<f64>,
}

/// A number of a record's JSON, and its currency when it is money.
fn number(record: &Value, field: &str) -> Option<(f64, Option<String>)> {
    let v = lookup(record, field)?;
    let currency = v.get("currency").and_then(Value::as_str).map(String::from);
    let v = v.get("amount_minor").unwrap_or(v);
    let n = v.as_f64().or_else(|| v.as_str()?.parse().ok())?;
    Some((n, currency))
}

impl ChangeCondition {
    /// How the run log shows it: `amount increased by more than 20%`.
    pub fn describe(&self) -> String {
        let mut out = format!("{} {}", self.field, self.direction.as_str());
        let mut by = Vec::new();
        if let Some(p) = self.more_than_percent {
            by.push(format!("{p}%"));
        }
        if let Some(n) = self.more_than {
            by.push(n.to_string());
        }
        if !by.is_empty() {
            out.push_str(" by more than ");
            out.push_str(&by.join(" and "));
        }
        out
    }

    /// Whether the update from `before` to `after` satisfies it: both values present (in the
    /// same currency), moved the right way, and by more than each threshold given.
    pub fn holds(&self, before: &Value, after: &Value) -> bool {
        let (Some((b, bc)), Some((a, ac))) = (number(before, &self.field), number(after, &self.field)) else {
            return false;
        };
        if bc != ac {
            return false;
        }
        let delta = match self.direction {
            ChangeDirection::Increased => a - b,
            ChangeDirection::Decreased => b - a,
        };
        if delta <= 0.0 {
            return false;
        }
        let percent_ok = match self.more_than_percent {
            None => true,
            Some(_) if b == 0.0 => true,
            Some(p) => delta / b.abs() * 100.0 > p,
        };
        percent_ok && self.more_than.is_none_or(|m| delta > m)
    }
}

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
    fn changes_compare_before_with_after() {
        let money = |minor: i64, cur: &str| json!({"amount": {"amount_minor": minor.to_string(), "currency": cur}});
        let up20 = ChangeCondition {
            field: "amount".into(),
            direction: ChangeDirection::Increased,
            more_than_percent: Some(20.0),
            more_than: None,
        };
        assert_eq!(up20.describe(), "amount increased by more than 20%");
        // 1000 → 1201 is +20.1%; 1000 → 1200 is exactly 20%, not more.
        assert!(up20.holds(&money(1000, "EUR"), &money(1201, "EUR")));
        assert!(!up20.holds(&money(1000, "EUR"), &money(1200, "EUR")));
        assert!(!up20.holds(&money(1000, "EUR"), &money(900, "EUR")));
        assert!(!up20.holds(&money(1000, "EUR"), &money(5000, "USD")), "another currency does not compare");
        assert!(up20.holds(&money(0, "EUR"), &money(1, "EUR")), "from zero, any increase");
        assert!(!up20.holds(&json!({"amount": null}), &money(1, "EUR")), "no value before");
        let down = ChangeCondition {
            field: "custom_fields.seats".into(),
            direction: ChangeDirection::Decreased,
            more_than_percent: None,
            more_than: Some(5.0),
        };
        let seats = |n: f64| json!({"custom_fields": {"seats": n}});
        assert!(down.holds(&seats(50.0), &seats(44.0)));
        assert!(!down.holds(&seats(50.0), &seats(45.0)));
        assert!(!down.holds(&seats(50.0), &seats(60.0)));
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
