//! Leads: prospects not yet qualified. Captured from web forms, assigned by rules, scored by
//! rules, converted into an account, a contact and optionally an opportunity.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, ContactId, LeadId, OpportunityId, PipelineId, StageId, UserId};
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Money, Patch, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{lead_assignment_rules, lead_scoring_rules, leads};
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::opportunities::{Opportunity, OpportunityInput};

wire_enum!(
    /// Where a lead came from.
    LeadSource {
        WebForm = "web_form",
        Campaign = "campaign",
        Import = "import",
        Referral = "referral",
        Event = "event",
        Partner = "partner",
        ColdCall = "cold_call",
        Other = "other",
    }
);

wire_enum!(
    /// `new → contacted → qualified | disqualified → converted` (conversion only through
    /// `POST /leads/{id}/convert`; a disqualified lead can be reopened).
    LeadStatus {
        New = "new",
        Contacted = "contacted",
        Qualified = "qualified",
        Disqualified = "disqualified",
        Converted = "converted",
    }
);

impl LeadStatus {
    pub fn allowed_next(self) -> &'static [LeadStatus] {
        use LeadStatus::*;
        match self {
            New => &[Contacted, Qualified, Disqualified],
            Contacted => &[Qualified, Disqualified],
            Qualified => &[Contacted, Disqualified],
            Disqualified => &[New, Contacted],
            Converted => &[],
        }
    }
    pub fn is_open(self) -> bool {
        matches!(self, LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified)
    }
}

/// A prospect.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = leads)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "LeadFields", visible = false))]
pub struct Lead {
    pub id: LeadId,
    #[filter(sort)]
    pub first_name: Option<String>,
    #[filter(sort)]
    pub last_name: Option<String>,
    /// Lower case; unique among live leads.
    #[filter(lower, sort)]
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    #[filter(sort)]
    pub company: Option<String>,
    #[filter(sort)]
    pub title: Option<String>,
    pub website: Option<String>,
    #[filter(lower, sort)]
    pub industry: Option<String>,
    #[filter(sort)]
    pub source: LeadSource,
    #[filter(sort)]
    pub status: LeadStatus,
    /// From the scoring rules, recomputed on every change (read-only).
    #[filter(sort)]
    pub score: i64,
    /// Set by the assignment rules when not given.
    #[filter(relation = "owner", to = crm_users::USER_CATALOG)]
    pub owner_id: Option<UserId>,
    /// ISO 3166-1 alpha-2.
    #[filter(upper, sort)]
    pub country: Option<String>,
    #[filter(sort)]
    pub region: Option<String>,
    pub description: Option<String>,
    pub disqualify_reason: Option<String>,
    #[filter(sort)]
    pub converted_at: Option<Timestamp>,
    pub converted_account_id: Option<AccountId>,
    pub converted_contact_id: Option<ContactId>,
    pub converted_opportunity_id: Option<OpportunityId>,
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, crm_records::MergePatch)]
#[patch(name = LeadPatch, record = Lead)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct LeadInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "dana@globex.example"))]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    /// Defaults to `other` (`web_form` through the capture endpoint).
    #[serde(default)]
    pub source: Option<LeadSource>,
    /// Defaults to `new`.
    #[serde(default)]
    #[patch(keep_on_null)]
    pub status: Option<LeadStatus>,
    #[serde(default)]
    pub owner_id: Option<UserId>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub disqualify_reason: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl LeadInput {
    pub fn normalize(self) -> Result<LeadInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.first_name = opt(i.first_name);
        i.last_name = opt(i.last_name);
        i.company = opt(i.company);
        i.title = opt(i.title);
        i.industry = opt(i.industry).map(|s| s.to_lowercase());
        i.region = opt(i.region);
        i.disqualify_reason = opt(i.disqualify_reason);
        i.description = i.description.filter(|d| !d.trim().is_empty());
        for (field, v) in [
            ("first_name", &i.first_name),
            ("last_name", &i.last_name),
            ("company", &i.company),
            ("title", &i.title),
            ("industry", &i.industry),
            ("region", &i.region),
        ] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
                errs.add(field, "too_long", "at most 200 characters");
            }
        }
        i.country = match opt(i.country) {
            Some(c) => errs.take(values::parse_country("country", &c)),
            None => None,
        };
        i.email = match opt(i.email) {
            Some(e) => errs.take(values::parse_email("email", &e)),
            None => None,
        };
        let country = i.country.clone();
        i.phone = match opt(i.phone) {
            Some(p) => errs.take(values::parse_phone("phone", &p, country.as_deref())),
            None => None,
        };
        i.website = match opt(i.website) {
            Some(w) => errs.take(values::parse_url("website", &w)),
            None => None,
        };
        if i.last_name.is_none() && i.email.is_none() && i.company.is_none() {
            errs.add("last_name", "required", "a lead needs a last name, an email or a company");
        }
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

impl Lead {
    fn display_name(&self) -> String {
        let n =
            [self.first_name.as_deref(), self.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if n.is_empty() { self.email.clone().unwrap_or_default() } else { n }
    }
}

impl Record for Lead {
    type Input = LeadInput;
    type Patch = LeadPatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: LeadId,
        input: LeadInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let i = input.normalize().map_err(|errors| RecordError::Invalid { entity, errors })?;
        let mut l = prev.cloned().unwrap_or_else(Lead::blank);
        l.id = id;
        l.first_name = i.first_name;
        l.last_name = i.last_name;
        l.email = i.email;
        l.phone = i.phone;
        l.company = i.company;
        l.title = i.title;
        l.website = i.website;
        l.industry = i.industry;
        l.source = i.source.unwrap_or(LeadSource::Other);
        l.country = i.country;
        l.region = i.region;
        l.description = i.description;
        l.disqualify_reason = i.disqualify_reason;
        l.tags = i.tags;
        l.external_ids = i.external_ids;

        // Workflow: conversion happens only through `convert`.
        let status = i.status.unwrap_or(LeadStatus::New);
        let from = prev.map(|p| p.status);
        let legal = match from {
            None => matches!(status, LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified),
            Some(f) => f == status || f.allowed_next().contains(&status),
        };
        if !legal {
            let allowed: Vec<String> = match from {
                None => vec!["new".into(), "contacted".into(), "qualified".into()],
                Some(f) => f.allowed_next().iter().map(|s| s.as_str().to_string()).collect(),
            };
            return Err(RecordError::InvalidTransition {
                field: "status",
                from: from.map(|f| f.as_str()).unwrap_or("(none)").into(),
                to: status.as_str().into(),
                allowed,
            });
        }
        if status == LeadStatus::Disqualified && l.disqualify_reason.is_none() {
            return Err(RecordError::invalid(
                entity,
                "disqualify_reason",
                "required",
                "say why the lead is disqualified",
            ));
        }
        l.status = status;

        // Owner: given, kept, or from the assignment rules on create.
        l.owner_id = match (i.owner_id, prev) {
            (Some(u), _) => Some(u),
            (None, None) => assign(conn, &l)?,
            (None, Some(_)) => None,
        };
        if prev.is_none_or(|p| p.owner_id != l.owner_id) {
            crm_users::check_user(conn, entity, "owner_id", l.owner_id, true)?;
        }
        l.score = score(conn, &l)?;
        Ok(l)
    }

    /// The email: one live lead per address.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        self.email.as_deref().map(|e| ("email", e)).into_iter().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Assignment rules

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
    pub name: String,
    pub strategy: AssignmentStrategy,
    /// The users to choose from: active users of this team (all active users when absent).
    #[serde(default)]
    pub team: Option<String>,
    /// Conditions on the lead (all given ones must match).
    #[serde(default)]
    pub country: Option<String>,
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

/// Active users of a team (all when `team` is None), ordered by id; with a territory, only
/// users whose territory is the lead's country or region.
fn pool(
    conn: &mut AnyConnection,
    team: Option<&str>,
    territory: Option<[Option<&str>; 2]>,
) -> QueryResult<Vec<UserId>> {
    let places: Option<Vec<String>> = territory.map(|p| p.into_iter().flatten().map(str::to_string).collect());
    crm_users::read::active_ids(conn, team, places.as_deref())
}

/// The owner the rules give a new lead (None when no rule applies).
fn assign(conn: &mut AnyConnection, l: &Lead) -> Result<Option<UserId>, RecordError> {
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
                pool(conn, team.as_deref(), Some([l.country.as_deref(), l.region.as_deref()]))?
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

// ---------------------------------------------------------------------------------------------
// Scoring rules

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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "ScoringRulesInput")
)]
pub struct ScoringRules {
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
fn score(conn: &mut AnyConnection, l: &Lead) -> QueryResult<i64> {
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
    if rules.rules.len() > 200 {
        errs.add("rules", "too_many", "at most 200 rules");
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

// ---------------------------------------------------------------------------------------------
// Capture and conversion

/// What a web form sends.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub website: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    /// The message from the form.
    pub description: Option<String>,
    /// Defaults to `web_form`.
    pub source: Option<LeadSource>,
}

/// What the capture endpoint answers: no lead data, so a capture token cannot read leads.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureReceipt {
    /// The lead the submission went to.
    pub lead_id: LeadId,
    /// `created` (a new lead), `merged` (an open lead with this email got the new details),
    /// `reopened` (a disqualified lead came back), or `logged` (a converted lead: the message is
    /// an inbound web interaction on its contact).
    pub outcome: CaptureOutcome,
}

wire_enum!(
    /// What a submission did.
    CaptureOutcome {
        Created = "created",
        Merged = "merged",
        Reopened = "reopened",
        Logged = "logged",
    }
);

/// Takes a web-form submission (`leads:capture` or `sales:write`). A submission whose email
/// belongs to a lead never makes a duplicate: an open lead gets the details it lacked, a
/// disqualified one is reopened (`new`), a converted one gets the message logged on its contact.
pub fn capture(conn: &mut AnyConnection, actor: &Actor, form: CaptureInput) -> Result<CaptureReceipt, RecordError> {
    if !actor.has(Scope::LeadsCapture) {
        actor.require(Scope::SalesWrite)?;
    }
    // The form acts through the system on the visitor's behalf.
    let mut system = actor.clone();
    system.scopes.extend([Scope::SalesWrite, Scope::InteractionsWrite]);
    let input = LeadInput {
        first_name: form.first_name,
        last_name: form.last_name,
        email: form.email,
        phone: form.phone,
        company: form.company,
        title: form.title,
        website: form.website,
        country: form.country,
        region: form.region,
        description: form.description,
        source: Some(form.source.unwrap_or(LeadSource::WebForm)),
        ..Default::default()
    };
    let normalized =
        input.clone().normalize().map_err(|errors| RecordError::Invalid { entity: Lead::ENTITY, errors })?;
    let existing = match &normalized.email {
        Some(e) => match crm_records::write::live_with::<Lead>(conn, "email", e, None)? {
            Some(id) => {
                Lead::lock(conn, id)?;
                Lead::find(conn, id)?
            }
            None => None,
        },
        None => None,
    };
    let Some(existing) = existing else {
        let lead = crm_records::create::<Lead>(conn, &system, input)?;
        return Ok(CaptureReceipt { lead_id: lead.id, outcome: CaptureOutcome::Created });
    };
    let fill = |cur: &Option<String>, new: Option<String>| match (cur, new) {
        (None, Some(v)) => Patch::Value(v),
        _ => Patch::Absent,
    };
    match existing.status {
        LeadStatus::Converted => {
            if let Some(contact) = existing.converted_contact_id {
                crm_records::create::<crm_interactions::Interaction>(
                    conn,
                    &system,
                    crm_interactions::InteractionInput {
                        interaction_type: Some(crm_interactions::InteractionType::Web),
                        direction: Some(crm_interactions::Direction::Inbound),
                        channel: Some("web_form".into()),
                        subject: Some("Web form submission".into()),
                        body: input.description,
                        contact_ids: vec![contact],
                        ..Default::default()
                    },
                )?;
            }
            Ok(CaptureReceipt { lead_id: existing.id, outcome: CaptureOutcome::Logged })
        }
        status => {
            let reopen = status == LeadStatus::Disqualified;
            let patch = LeadPatch {
                first_name: fill(&existing.first_name, input.first_name),
                last_name: fill(&existing.last_name, input.last_name),
                phone: fill(&existing.phone, input.phone),
                company: fill(&existing.company, input.company),
                title: fill(&existing.title, input.title),
                website: fill(&existing.website, input.website),
                country: fill(&existing.country, input.country),
                region: fill(&existing.region, input.region),
                description: fill(&existing.description, input.description),
                status: if reopen { Patch::Value(LeadStatus::New) } else { Patch::Absent },
                ..Default::default()
            };
            crm_records::update::<Lead>(conn, &system, existing.id, patch, None)?;
            let outcome = if reopen { CaptureOutcome::Reopened } else { CaptureOutcome::Merged };
            Ok(CaptureReceipt { lead_id: existing.id, outcome })
        }
    }
}

/// The optional opportunity of a conversion.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ConvertOpportunity {
    pub name: Option<String>,
    #[serde(default)]
    pub amount: Option<Money>,
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    #[serde(default)]
    pub stage_id: Option<StageId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub expected_close_date: Option<chrono::NaiveDate>,
}

/// `POST /leads/{id}/convert`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ConvertInput {
    /// Merge into this account instead of matching by domain.
    #[serde(default)]
    pub account_id: Option<AccountId>,
    /// Merge into this contact instead of matching by email.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    #[serde(default)]
    pub opportunity: Option<ConvertOpportunity>,
}

/// What a conversion made or matched.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ConvertResult {
    pub account_id: AccountId,
    pub contact_id: ContactId,
    pub opportunity_id: Option<OpportunityId>,
    /// False when an existing account (same domain) was used.
    pub account_created: bool,
    /// False when an existing contact (same email) was used.
    pub contact_created: bool,
}

/// Public mail providers: their domain says nothing about the lead's company.
const PUBLIC_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "ymail.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "mail.ru",
    "yandex.ru",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "kakao.com",
    "qq.com",
    "163.com",
    "126.com",
    "zoho.com",
    "fastmail.com",
];

fn is_public_mail(domain: &str) -> bool {
    PUBLIC_MAIL.contains(&domain.to_ascii_lowercase().as_str())
}

/// Converts a lead in one transaction: matches or creates the account (by domain, from the
/// website or the email) and the contact (by email), optionally creates an opportunity, and
/// marks the lead converted. Converting twice is `409 LEAD_ALREADY_CONVERTED`.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn convert(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: LeadId,
    input: ConvertInput,
) -> Result<ConvertResult, RecordError> {
    actor.require(Scope::SalesWrite)?;
    actor.require(Scope::AccountsWrite)?;
    actor.require(Scope::ContactsWrite)?;
    // One conversion at a time: a concurrent one waits here, then sees `converted`.
    if !Lead::lock(conn, id)? {
        return Err(RecordError::NotFound { entity: Lead::ENTITY });
    }
    let lead = Lead::find(conn, id)?.ok_or(RecordError::NotFound { entity: Lead::ENTITY })?;
    if lead.status == LeadStatus::Converted {
        return Err(RecordError::Conflict {
            entity: Lead::ENTITY,
            code: "LEAD_ALREADY_CONVERTED",
            reason: format!("converted on {}", lead.converted_at.map(|t| t.to_rfc3339()).unwrap_or_default()),
        });
    }
    if lead.status == LeadStatus::Disqualified || lead.archived_at.is_some() {
        return Err(RecordError::Conflict {
            entity: Lead::ENTITY,
            code: "LEAD_NOT_CONVERTIBLE",
            reason: "reopen a disqualified or archived lead before converting it".into(),
        });
    }

    // The contact: given, or the live contact with the lead's email. Its account is used
    // unless an account is given.
    let known_contact = match input.contact_id {
        Some(c) => Some(c),
        None => match &lead.email {
            Some(e) => crm_contacts::read::live_by_email(conn, e)?,
            None => None,
        },
    };
    let contact_account = match known_contact {
        Some(c) => crm_contacts::read::accounts_of_contacts(conn, Lead::ENTITY, &[c], |_| "contact_id".into())?
            .first()
            .copied()
            .flatten(),
        None => None,
    };

    // The account: given, the contact's, matched by domain (the website's, or the email's
    // unless it is a public mail provider), or new.
    let domain = lead.website.as_deref().and_then(|w| values::parse_domain("website", w).ok()).or_else(|| {
        lead.email
            .as_deref()
            .and_then(|e| e.split_once('@'))
            .map(|(_, d)| d)
            .filter(|d| !is_public_mail(d))
            .and_then(|d| values::parse_domain("email", d).ok())
    });
    let (account_id, account_created) = match input.account_id.or(contact_account) {
        Some(a) => {
            crm_records::check_ref(conn, Lead::ENTITY, "account_id", Some(a))?;
            (a, false)
        }
        None => {
            let found = match &domain {
                Some(d) => crm_accounts::read::live_by_domain(conn, d)?,
                None => None,
            };
            match found {
                Some(a) => (a, false),
                None => {
                    let name = lead.company.clone().unwrap_or_else(|| lead.display_name());
                    let a = crm_records::create::<crm_accounts::Account>(
                        conn,
                        actor,
                        crm_accounts::AccountInput {
                            name,
                            domain: domain.clone(),
                            industry: lead.industry.clone(),
                            country: lead.country.clone(),
                            region: lead.region.clone(),
                            owner_id: lead.owner_id,
                            ..Default::default()
                        },
                    )?;
                    (a.id, true)
                }
            }
        }
    };

    let (contact_id, contact_created) = match known_contact {
        Some(c) => {
            // A contact without an account joins the chosen one.
            if contact_account.is_none() {
                let patch =
                    crm_contacts::ContactPatch { account_id: crm_core::Patch::Value(account_id), ..Default::default() };
                crm_records::update::<crm_contacts::Contact>(conn, actor, c, patch, None)?;
            }
            (c, false)
        }
        None => {
            let c = crm_records::create::<crm_contacts::Contact>(
                conn,
                actor,
                crm_contacts::ContactInput {
                    first_name: lead.first_name.clone(),
                    last_name: lead.last_name.clone().or_else(|| lead.company.clone()),
                    email: lead.email.clone(),
                    phone: lead.phone.clone(),
                    title: lead.title.clone(),
                    account_id: Some(account_id),
                    owner_id: lead.owner_id,
                    country: lead.country.clone(),
                    region: lead.region.clone(),
                    ..Default::default()
                },
            )?;
            (c.id, true)
        }
    };

    let opportunity_id = match input.opportunity {
        Some(o) => {
            let created = crm_records::create::<Opportunity>(
                conn,
                actor,
                OpportunityInput {
                    name: o.name.or_else(|| {
                        Some(format!("{} deal", lead.company.clone().unwrap_or_else(|| lead.display_name())))
                    }),
                    account_id: Some(account_id),
                    contact_id: Some(contact_id),
                    pipeline_id: o.pipeline_id,
                    stage_id: o.stage_id,
                    amount: o.amount,
                    expected_close_date: o.expected_close_date,
                    owner_id: lead.owner_id,
                    lead_id: Some(lead.id),
                    ..Default::default()
                },
            )
            .map_err(|e| e.prefixed("opportunity."))?;
            Some(created.id)
        }
        None => None,
    };

    let now = crm_db::to_utc(crm_db::now());
    crm_records::modify::<Lead>(conn, actor, id, |l| {
        if l.status == LeadStatus::Converted {
            return false;
        }
        l.status = LeadStatus::Converted;
        l.converted_at = Some(now);
        l.converted_account_id = Some(account_id);
        l.converted_contact_id = Some(contact_id);
        l.converted_opportunity_id = opportunity_id;
        true
    })?;
    Ok(ConvertResult { account_id, contact_id, opportunity_id, account_created, contact_created })
}
