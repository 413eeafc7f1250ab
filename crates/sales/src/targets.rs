//! Target account selling: named lists of accounts with a plan (goal, period) and their
//! coverage; and quotas per owner or team and period, for the forecast.

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::ids::{AccountId, QuotaId, TargetListId, UserId};
use crm_core::values::clean;
use crm_core::{Actor, FieldErrors, Money, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::{opportunities, pipeline_stages, quotas};
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::period::{Period, weighted};

/// A named list of target accounts with a goal for a period.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = target_lists)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "TargetListFields", visible = false)
)]
pub struct TargetList {
    /// The record's id (UUIDv7: time-ordered).
    pub id: TargetListId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// The user who owns it.
    #[filter]
    pub owner_id: Option<UserId>,
    /// The team (a name).
    #[filter(sort)]
    pub team: Option<String>,
    /// What the list should win in the period.
    #[stored(currency = "currency")]
    pub goal: Option<Money>,
    #[filter(sort)]
    pub period_start: NaiveDate,
    #[filter(sort)]
    pub period_end: NaiveDate,
    #[filter]
    pub account_ids: Vec<AccountId>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new target list, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = TargetListPatch, record = TargetList)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct TargetListInput {
    /// The name people see.
    pub name: Option<String>,
    /// The user who owns it.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// The team (a name).
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub goal: Option<Money>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub period_start: Option<NaiveDate>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub period_end: Option<NaiveDate>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub account_ids: Vec<AccountId>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

impl Record for TargetList {
    type Input = TargetListInput;
    type Patch = TargetListPatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: TargetListId,
        input: TargetListInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let mut errs = FieldErrors::new();
        let name = input.name.as_deref().and_then(clean);
        if name.is_none() {
            errs.add("name", "required", "a list needs a name");
        }
        let goal = match input.goal {
            Some(m) => errs.take(m.parse("goal")),
            None => None,
        };
        match (input.period_start, input.period_end) {
            (Some(s), Some(e)) if s > e => errs.add("period_end", "before_start", "the period ends after it starts"),
            (None, _) => errs.add("period_start", "required", "a plan has a period"),
            (_, None) => errs.add("period_end", "required", "a plan has a period"),
            _ => {}
        }
        let mut accounts = Vec::new();
        for a in input.account_ids {
            if !accounts.contains(&a) {
                accounts.push(a);
            }
        }
        if accounts.len() > 5000 {
            errs.add("account_ids", "too_many", "at most 5000 accounts");
        }
        let tags = errs.take(crm_core::values::parse_tags("tags", &input.tags)).unwrap_or_default();
        let external_ids = crm_core::external::parse_external_ids("external_ids", input.external_ids, &mut errs);
        if !errs.0.is_empty() {
            return Err(RecordError::Invalid { entity, errors: errs });
        }
        if prev.is_none_or(|p| p.account_ids != accounts) {
            for (n, a) in accounts.iter().enumerate() {
                crm_records::check_ref(conn, entity, &format!("account_ids[{n}]"), Some(*a))?;
            }
        }
        let owner =
            crm_users::assigned_user(conn, actor, entity, "owner_id", input.owner_id, prev.map(|p| p.owner_id), false)?;
        let mut t = prev.cloned().unwrap_or_else(TargetList::blank);
        t.id = id;
        t.name = name.unwrap_or_default();
        t.owner_id = owner;
        t.team = input.team.as_deref().and_then(clean);
        t.goal = goal;
        t.period_start = input.period_start.unwrap_or(NaiveDate::MIN);
        t.period_end = input.period_end.unwrap_or(NaiveDate::MIN);
        t.account_ids = accounts;
        t.tags = tags;
        t.external_ids = external_ids;
        Ok(t)
    }
}

/// How well a target list's pipeline covers its goal.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Coverage {
    pub target_list_id: TargetListId,
    pub goal: Option<Money>,
    /// Open deals on the listed accounts closing in the period, in the goal's currency (without
    /// a goal, the smallest currency code among the deals that count; null when there is
    /// neither a goal nor such a deal).
    pub open_pipeline: Option<Money>,
    /// The same weighted by stage probability (rounded half up to the minor unit).
    pub weighted_pipeline: Option<Money>,
    /// Won in the period.
    pub won: Option<Money>,
    /// `(won + open_pipeline) / goal` in basis points (10000 = 100 %); null without a goal.
    pub coverage_bp: Option<i64>,
    pub accounts: i64,
    /// Listed accounts with an open deal closing in the period (in the currency).
    pub accounts_with_pipeline: i64,
    /// Deals that would count (open closing in the period, or won in it) but are in another
    /// currency: left out, counted here.
    pub other_currency_deals: i64,
}

/// account, amount, currency, expected close, closed at, won, stage probability.
type CoverageRow =
    (Option<DbUuid>, Option<i64>, Option<String>, Option<NaiveDate>, Option<NaiveDateTime>, Option<bool>, i64);

/// Coverage of a target list, counting the deals the caller sees.
pub fn coverage(conn: &mut AnyConnection, actor: &Actor, id: TargetListId) -> Result<Coverage, RecordError> {
    actor.require(Scope::SalesRead)?;
    // A target list the caller does not see does not exist for it; a merged one answers as a get.
    let t = crm_records::read::get::<TargetList>(conn, actor, id)?;
    // Only the deals the caller sees count, as in forecasts.
    let seen = crm_records::visibility::of::<crate::Opportunity>(conn, actor)?.sql(
        "opportunities.owner_id",
        "opportunities.id",
        conn.backend(),
    );
    let currency = t.goal.as_ref().map(|g| g.currency.clone());
    let period = Period { start: t.period_start, end_exclusive: t.period_end.succ_opt().unwrap_or(t.period_end) };
    let keys: Vec<DbUuid> = t.account_ids.iter().map(|a| DbUuid(a.0)).collect();
    let mut rows: Vec<CoverageRow> = Vec::new();
    for chunk in keys.chunks(500) {
        rows.extend(
            opportunities::table
                .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(opportunities::stage_id)))
                .filter(opportunities::account_id.eq_any(chunk.to_vec()))
                .filter(opportunities::archived_at.is_null())
                .filter(seen.clone())
                .select((
                    opportunities::account_id,
                    opportunities::amount_minor,
                    opportunities::currency,
                    opportunities::expected_close_date,
                    opportunities::closed_at,
                    opportunities::won,
                    pipeline_stages::probability,
                ))
                .load::<CoverageRow>(conn)?,
        );
    }
    let counts = |r: &CoverageRow| match (r.4, r.5) {
        (None, _) => r.3.is_some_and(|d| period.contains_date(d)),
        (Some(at), Some(true)) => period.contains_date(at.date()),
        _ => false,
    };
    // Without a goal, the smallest currency code among the deals that count (stable).
    let cur = currency.clone().or_else(|| rows.iter().filter(|r| counts(r)).filter_map(|r| r.2.clone()).min());
    let (mut open, mut weighted_sum, mut won, mut other) = (0i128, 0i128, 0i128, 0i64);
    let mut with_pipeline: Vec<uuid::Uuid> = Vec::new();
    for row in rows {
        let counted = counts(&row);
        let (acc, amount, c, close, closed_at, is_won, p) = row;
        let Some(amount) = amount else { continue };
        if c != cur {
            if counted {
                other += 1;
            }
            continue;
        }
        match (closed_at, is_won) {
            (None, _) if close.is_some_and(|d| period.contains_date(d)) => {
                open += i128::from(amount);
                weighted_sum += i128::from(amount) * i128::from(p);
                if let Some(a) = acc
                    && !with_pipeline.contains(&a.0)
                {
                    with_pipeline.push(a.0);
                }
            }
            (Some(at), Some(true)) if period.contains_date(at.date()) => won += i128::from(amount),
            _ => {}
        }
    }
    let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    let coverage_bp = t
        .goal
        .as_ref()
        .filter(|g| g.amount_minor.0 > 0)
        .map(|g| clamp(((won + open) * 10_000 + i128::from(g.amount_minor.0) / 2) / i128::from(g.amount_minor.0)));
    Ok(Coverage {
        target_list_id: t.id,
        goal: t.goal,
        open_pipeline: cur.as_deref().map(|c| Money::new(clamp(open), c)),
        weighted_pipeline: cur.as_deref().map(|c| Money::new(weighted(weighted_sum), c)),
        won: cur.as_deref().map(|c| Money::new(clamp(won), c)),
        coverage_bp,
        accounts: i64::try_from(t.account_ids.len()).unwrap_or(0),
        accounts_with_pipeline: i64::try_from(with_pipeline.len()).unwrap_or(0),
        other_currency_deals: other,
    })
}

// ---------------------------------------------------------------------------------------------
// Quotas

/// What an owner or a team should close in a period.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = quotas)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "QuotaFields", visible = false))]
pub struct Quota {
    /// The record's id (UUIDv7: time-ordered).
    pub id: QuotaId,
    /// Exactly one of `owner_id` and `team`.
    #[filter]
    pub owner_id: Option<UserId>,
    /// The team (a name).
    #[filter(sort)]
    pub team: Option<String>,
    /// `2026-Q4`, `2026-11` or `2026`.
    #[filter(sort)]
    pub period: String,
    #[stored(currency = "currency")]
    pub amount: Money,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new quota, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = QuotaPatch, record = Quota)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct QuotaInput {
    /// The user who owns it.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// The team (a name).
    #[serde(default)]
    pub team: Option<String>,
    /// A quarter (`2026-Q4`), month (`2026-11`) or year (`2026`); stored in that spelling
    /// (`2026-Q04` becomes `2026-Q4`).
    pub period: Option<String>,
    pub amount: Option<Money>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

impl Record for Quota {
    type Input = QuotaInput;
    type Patch = QuotaPatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: QuotaId,
        input: QuotaInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let mut errs = FieldErrors::new();
        let team = input.team.as_deref().and_then(clean);
        if input.owner_id.is_some() == team.is_some() {
            errs.add("owner_id", "required", "give exactly one of owner_id or team");
        }
        let period = match input.period.as_deref().map(str::trim) {
            Some(p) if Period::parse(p).is_some() => Period::canonical(p),
            Some(_) => {
                errs.add("period", "invalid_value", "2026-Q4, 2026-11 or 2026");
                None
            }
            None => {
                errs.add("period", "required", "a quota has a period");
                None
            }
        };
        let amount = match input.amount {
            Some(m) => errs.take(m.parse("amount")),
            None => {
                errs.add("amount", "required", "a quota has an amount");
                None
            }
        };
        let external_ids = crm_core::external::parse_external_ids("external_ids", input.external_ids, &mut errs);
        if !errs.0.is_empty() {
            return Err(RecordError::Invalid { entity, errors: errs });
        }
        if prev.is_none_or(|p| p.owner_id != input.owner_id) {
            crm_users::check_user(conn, entity, "owner_id", input.owner_id, false)?;
        }
        let mut q = prev.cloned().unwrap_or_else(Quota::blank);
        q.id = id;
        q.owner_id = input.owner_id;
        q.team = team;
        q.period = period.unwrap_or_default();
        q.amount = amount.unwrap_or_else(|| Money::new(0, "XXX"));
        q.external_ids = external_ids;
        Ok(q)
    }
}

/// The live quotas of a period (its canonical spelling).
pub fn quotas_of(conn: &mut AnyConnection, period: &str) -> QueryResult<Vec<Quota>> {
    let rows: Vec<QuotaRow> = quotas::table
        .filter(quotas::period.eq(period))
        .filter(quotas::archived_at.is_null())
        .select(quotas::all_columns)
        .load(conn)?;
    Ok(rows.into_iter().map(Quota::from).collect())
}
