//! Who a new lead goes to: assignment rules (round robin in a team, territory, least open leads).
//! A user covers the territories named by their `territory`: one drawn on the map
//! (`territories`), or the lead's country or region by name.

use crm_core::ids::UserId;
use crm_core::values::{self, clean};
use crm_core::{Actor, FieldErrors, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{lead_assignment_rules, leads};
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Lead, LeadSource};

wire_enum!(
    /// How a rule picks an owner among the users of its team.
    AssignmentStrategy {
        RoundRobin = "round_robin",
        Territory = "territory",
        LeastOpen = "least_open",
    }
);

/// An assignment rule. Rules are tried in order; the first whose conditions match the lead
/// and that finds an active user assigns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "AssignmentRuleInput")
)]
pub struct AssignmentRule {
    /// The name people see.
    pub name: String,
    pub strategy: AssignmentStrategy,
    /// The users to choose from: active users of this team (all active users when absent).
    #[serde(default)]
    pub team: Option<String>,
    /// Conditions on the lead (all given ones must match).
    #[serde(default)]
    pub country: Option<String>,
    /// The region (a name).
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub source: Option<LeadSource>,
}

/// The ordered rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "AssignmentRulesInput")
)]
pub struct AssignmentRules {
    pub rules: Vec<AssignmentRule>,
}

type RuleRow =
    (DbUuid, i64, String, String, Option<String>, Option<String>, Option<String>, Option<String>, bool, Option<DbUuid>);

fn load_rules(conn: &mut AnyConnection) -> QueryResult<Vec<RuleRow>> {
    lead_assignment_rules::table
        .filter(lead_assignment_rules::active.eq(true))
        .order(lead_assignment_rules::position.asc())
        .load(conn)
}

pub fn get_assignment_rules(conn: &mut AnyConnection, actor: &Actor) -> Result<AssignmentRules, RecordError> {
    actor.require(Scope::SalesRead)?;
    let rules = load_rules(conn)?
        .into_iter()
        .map(|r| AssignmentRule {
            name: r.2,
            strategy: AssignmentStrategy::parse(&r.3).unwrap_or(AssignmentStrategy::RoundRobin),
            team: r.4,
            country: r.5,
            region: r.6,
            source: r.7.as_deref().and_then(LeadSource::parse),
        })
        .collect();
    Ok(AssignmentRules { rules })
}

/// Replaces the rules (`sales:write`).
pub fn set_assignment_rules(
    conn: &mut AnyConnection,
    actor: &Actor,
    rules: AssignmentRules,
) -> Result<AssignmentRules, RecordError> {
    actor.require(Scope::SalesWrite)?;
    let mut errs = FieldErrors::new();
    let mut rules = rules;
    if rules.rules.len() > 100 {
        errs.add("rules", "too_many", "at most 100 rules");
        return Err(RecordError::Invalid { entity: "assignment_rules", errors: errs });
    }
    for (n, r) in rules.rules.iter_mut().enumerate() {
        r.name = r.name.trim().to_string();
        if r.name.is_empty() {
            errs.add(&format!("rules[{n}].name"), "required", "a rule needs a name");
        }
        if let Some(c) = r.country.take() {
            r.country = errs.take(values::parse_country(&format!("rules[{n}].country"), &c));
        }
        r.team = r.team.as_deref().and_then(clean);
        r.region = r.region.as_deref().and_then(clean);
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity: "assignment_rules", errors: errs });
    }
    diesel::delete(lead_assignment_rules::table).execute(conn)?;
    for (n, r) in rules.rules.iter().enumerate() {
        diesel::insert_into(lead_assignment_rules::table)
            .values((
                lead_assignment_rules::id.eq(DbUuid(uuid::Uuid::now_v7())),
                lead_assignment_rules::position.eq(i64::try_from(n).unwrap_or(0)),
                lead_assignment_rules::name.eq(&r.name),
                lead_assignment_rules::strategy.eq(r.strategy.as_str()),
                lead_assignment_rules::team.eq(&r.team),
                lead_assignment_rules::country.eq(&r.country),
                lead_assignment_rules::region.eq(&r.region),
                lead_assignment_rules::source.eq(r.source.map(|s| s.as_str())),
                lead_assignment_rules::active.eq(true),
                lead_assignment_rules::last_user_id.eq(None::<DbUuid>),
            ))
            .execute(conn)?;
    }
    Ok(rules)
}

/// Active users of a team (all when `team` is None), ordered by id; with territories, only
/// users whose territory is one of them.
fn pool(conn: &mut AnyConnection, team: Option<&str>, territories: Option<&[String]>) -> QueryResult<Vec<UserId>> {
    crm_users::read::active_ids(conn, team, territories)
}

/// The owner the rules give a new lead (None when no rule applies).
pub(super) fn assign(conn: &mut AnyConnection, l: &Lead) -> Result<Option<UserId>, RecordError> {
    for r in load_rules(conn)? {
        let (id, strategy, team, country, region, source) = (r.0, r.3, r.4, r.5, r.6, r.7);
        let matches = country.as_ref().is_none_or(|c| l.country.as_ref() == Some(c))
            && region.as_ref().is_none_or(|c| l.region.as_ref() == Some(c))
            && source.as_deref().is_none_or(|s| s == l.source.as_str());
        if !matches {
            continue;
        }
        let strategy = AssignmentStrategy::parse(&strategy).unwrap_or(AssignmentStrategy::RoundRobin);
        let candidates = match strategy {
            AssignmentStrategy::Territory => {
                // The territories drawn on the map that hold the lead, and its country and
                // region by name.
                let mut places = super::territories::holding(conn, l)?;
                places.extend(l.country.iter().chain(&l.region).cloned());
                pool(conn, team.as_deref(), Some(&places))?
            }
            _ => pool(conn, team.as_deref(), None)?,
        };
        if candidates.is_empty() {
            continue;
        }
        let chosen = match strategy {
            AssignmentStrategy::RoundRobin | AssignmentStrategy::Territory => {
                // Take the rule's row lock first, so concurrent creates take turns.
                diesel::update(lead_assignment_rules::table.filter(lead_assignment_rules::id.eq(id)))
                    .set(lead_assignment_rules::position.eq(lead_assignment_rules::position))
                    .execute(conn)?;
                let last: Option<DbUuid> = lead_assignment_rules::table
                    .filter(lead_assignment_rules::id.eq(id))
                    .select(lead_assignment_rules::last_user_id)
                    .first(conn)?;
                let next = match last {
                    Some(u) => candidates.iter().find(|c| c.0 > u.0).copied().unwrap_or(candidates[0]),
                    None => candidates[0],
                };
                diesel::update(lead_assignment_rules::table.filter(lead_assignment_rules::id.eq(id)))
                    .set(lead_assignment_rules::last_user_id.eq(Some(DbUuid(next.0))))
                    .execute(conn)?;
                next
            }
            AssignmentStrategy::LeastOpen => {
                let open: Vec<Option<DbUuid>> = leads::table
                    .filter(leads::archived_at.is_null())
                    .filter(leads::status.eq_any(["new", "contacted", "qualified"]))
                    .filter(leads::owner_id.eq_any(candidates.iter().map(|c| DbUuid(c.0)).collect::<Vec<_>>()))
                    .select(leads::owner_id)
                    .load(conn)?;
                let count = |u: &UserId| open.iter().filter(|o| o.is_some_and(|x| x.0 == u.0)).count();
                candidates.iter().copied().min_by_key(|c| (count(c), c.0)).unwrap_or(candidates[0])
            }
        };
        return Ok(Some(chosen));
    }
    Ok(None)
}
