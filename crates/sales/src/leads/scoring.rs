//! Lead scoring: rules over a lead's fields and its interactions, recomputed when either changes.

use crm_core::ids::LeadId;
use crm_core::{Actor, FieldErrors, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{lead_scoring_rules, leads};
use crm_db::types::DbUuid;
use crm_records::{RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Lead;

wire_enum!(
    /// How a scoring rule tests a field (`gte`: at least the number in `value`, for
    /// `interactions`).
    ScoreOp {
        Present = "present",
        Eq = "eq",
        In = "in",
        Contains = "contains",
        Gte = "gte",
    }
);

/// A scoring rule: `points` when `field` passes the test. Fields: `email`, `phone`, `company`,
/// `title`, `website`, `industry`, `country`, `region`, `source`, and `interactions` (the live
/// interactions logged with the lead; `present` means at least one, `gte` at least `value`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "ScoringRuleInput")
)]
pub struct ScoringRule {
    pub field: String,
    pub op: ScoreOp,
    /// For `eq` and `contains` a value; for `in` a comma-separated list. Case-insensitive.
    #[serde(default)]
    pub value: Option<String>,
    pub points: i32,
}

/// How leads are scored: a lead's score is the sum of the points of the rules it matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "ScoringRulesInput")
)]
pub struct ScoringRules {
    /// In order; at most 200.
    pub rules: Vec<ScoringRule>,
}

const SCORED_FIELDS: &[&str] =
    &["email", "phone", "company", "title", "website", "industry", "country", "region", "source", "interactions"];

fn field_value(l: &Lead, field: &str) -> Option<String> {
    match field {
        "email" => l.email.clone(),
        "phone" => l.phone.clone(),
        "company" => l.company.clone(),
        "title" => l.title.clone(),
        "website" => l.website.clone(),
        "industry" => l.industry.clone(),
        "country" => l.country.clone(),
        "region" => l.region.clone(),
        "source" => Some(l.source.as_str().to_string()),
        _ => None,
    }
}

fn load_scoring(conn: &mut AnyConnection) -> QueryResult<Vec<ScoringRule>> {
    let rows: Vec<(DbUuid, i64, String, String, Option<String>, i64)> =
        lead_scoring_rules::table.order(lead_scoring_rules::position.asc()).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| ScoringRule {
            field: r.2,
            op: ScoreOp::parse(&r.3).unwrap_or(ScoreOp::Present),
            value: r.4,
            points: i32::try_from(r.5).unwrap_or(0),
        })
        .collect())
}

/// The score of a lead under the rules in force.
pub(super) fn score(conn: &mut AnyConnection, l: &Lead) -> QueryResult<i64> {
    let rules = load_scoring(conn)?;
    score_with(conn, l, &rules)
}

/// The score under `rules` (counting the lead's interactions only when a rule asks).
fn score_with(conn: &mut AnyConnection, l: &Lead, rules: &[ScoringRule]) -> QueryResult<i64> {
    let interactions = if rules.iter().any(|r| r.field == "interactions") && !l.id.0.is_nil() {
        crm_interactions::read::count_with_lead(conn, l.id)?
    } else {
        0
    };
    Ok(rules.iter().filter(|r| passes(l, r, interactions)).map(|r| i64::from(r.points)).sum())
}

fn passes(l: &Lead, r: &ScoringRule, interactions: i64) -> bool {
    if r.field == "interactions" {
        return match r.op {
            ScoreOp::Present => interactions > 0,
            ScoreOp::Gte => {
                r.value.as_deref().and_then(|v| v.trim().parse::<i64>().ok()).is_some_and(|n| interactions >= n)
            }
            _ => false,
        };
    }
    let Some(v) = field_value(l, &r.field) else { return false };
    let v = v.to_lowercase();
    let want = r.value.as_deref().unwrap_or("").to_lowercase();
    match r.op {
        ScoreOp::Present => true,
        ScoreOp::Eq => v == want,
        ScoreOp::In => want.split(',').map(str::trim).any(|w| w == v),
        ScoreOp::Contains => !want.is_empty() && v.contains(&want),
        ScoreOp::Gte => false,
    }
}

/// Recomputes one lead's score (an interaction with it was logged, archived or moved).
pub fn rescore(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid) -> Result<(), RecordError> {
    let Some(lead) = Lead::find(conn, LeadId(id))? else { return Ok(()) };
    if !lead.status.is_open() {
        return Ok(());
    }
    let s = score(conn, &lead)?;
    if s != lead.score {
        crm_records::modify::<Lead>(conn, actor, lead.id, |l| {
            l.score = s;
            true
        })?;
    }
    Ok(())
}

pub fn get_scoring_rules(conn: &mut AnyConnection, actor: &Actor) -> Result<ScoringRules, RecordError> {
    actor.require(Scope::SalesRead)?;
    Ok(ScoringRules { rules: load_scoring(conn)? })
}

/// Replaces the rules and rescores every open lead (`sales:write`).
pub fn set_scoring_rules(
    conn: &mut AnyConnection,
    actor: &Actor,
    rules: ScoringRules,
) -> Result<ScoringRules, RecordError> {
    actor.require(Scope::SalesWrite)?;
    let mut errs = FieldErrors::new();
    if rules.rules.len() > 200 {
        errs.add("rules", "too_many", "at most 200 rules");
        return Err(RecordError::Invalid { entity: "scoring_rules", errors: errs });
    }
    for (n, r) in rules.rules.iter().enumerate() {
        if !SCORED_FIELDS.contains(&r.field.as_str()) {
            errs.add(&format!("rules[{n}].field"), "invalid_value", format!("one of {}", SCORED_FIELDS.join(", ")));
        }
        if !matches!(r.op, ScoreOp::Present) && r.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            errs.add(&format!("rules[{n}].value"), "required", "this test needs a value");
        }
        let counts = r.field == "interactions";
        if counts && !matches!(r.op, ScoreOp::Present | ScoreOp::Gte) {
            errs.add(&format!("rules[{n}].op"), "invalid_value", "interactions take present or gte");
        } else if !counts && r.op == ScoreOp::Gte {
            errs.add(&format!("rules[{n}].op"), "invalid_value", "gte is for interactions");
        } else if r.op == ScoreOp::Gte && r.value.as_deref().is_some_and(|v| v.trim().parse::<u32>().is_err()) {
            errs.add(&format!("rules[{n}].value"), "invalid_value", "a whole number");
        }
        if !(-1000..=1000).contains(&r.points) {
            errs.add(&format!("rules[{n}].points"), "out_of_range", "-1000 to 1000");
        }
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity: "scoring_rules", errors: errs });
    }
    diesel::delete(lead_scoring_rules::table).execute(conn)?;
    for (n, r) in rules.rules.iter().enumerate() {
        diesel::insert_into(lead_scoring_rules::table)
            .values((
                lead_scoring_rules::id.eq(DbUuid(uuid::Uuid::now_v7())),
                lead_scoring_rules::position.eq(i64::try_from(n).unwrap_or(0)),
                lead_scoring_rules::field.eq(&r.field),
                lead_scoring_rules::op.eq(r.op.as_str()),
                lead_scoring_rules::value.eq(&r.value),
                lead_scoring_rules::points.eq(i64::from(r.points)),
            ))
            .execute(conn)?;
    }
    // Rescore open leads (each a versioned change with its event).
    let open: Vec<DbUuid> = leads::table
        .filter(leads::archived_at.is_null())
        .filter(leads::status.eq_any(["new", "contacted", "qualified"]))
        .select(leads::id)
        .load(conn)?;
    for id in open {
        let Some(lead) = Lead::find(conn, LeadId(id.0))? else { continue };
        let s = score_with(conn, &lead, &rules.rules)?;
        if s != lead.score {
            crm_records::modify::<Lead>(conn, actor, lead.id, |l| {
                l.score = s;
                true
            })?;
        }
    }
    Ok(rules)
}
