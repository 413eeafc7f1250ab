//! Target account selling: named lists of accounts with a plan (goal, period) and their
//! coverage; and quotas per owner or team and period, for the forecast.

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::{Catalog, FieldDef, FieldKind};
use crm_core::ids::{AccountId, QuotaId, TargetListId, UserId};
use crm_core::values::clean;
use crm_core::{Actor, FieldErrors, Money, Scope, Timestamp};
use crm_db::schema::{opportunities, pipeline_stages, quotas, target_lists};
use crm_db::sql::SearchIndex;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::reports::{Period, weighted};

/// A named list of target accounts with a goal for a period.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "TargetListFields", visible = false)
)]
pub struct TargetList {
    pub id: TargetListId,
    pub name: String,
    pub owner_id: Option<UserId>,
    pub team: Option<String>,
    /// What the list should win in the period.
    pub goal: Option<Money>,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub account_ids: Vec<AccountId>,
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct TargetListInput {
    pub name: Option<String>,
    #[serde(default)]
    pub owner_id: Option<UserId>,
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
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct TargetListPatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub name: crm_core::Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub owner_id: crm_core::Patch<UserId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub team: crm_core::Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Money>))]
    pub goal: crm_core::Patch<Money>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub period_start: crm_core::Patch<NaiveDate>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub period_end: crm_core::Patch<NaiveDate>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<uuid::Uuid>>))]
    pub account_ids: crm_core::Patch<Vec<AccountId>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: crm_core::Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<crm_core::ExternalId>>))]
    pub external_ids: crm_core::Patch<Vec<crm_core::ExternalId>>,
}

impl TargetListPatch {
    pub fn apply(self, c: &TargetList) -> TargetListInput {
        let c = c.clone();
        let blank = c.id.0.is_nil();
        TargetListInput {
            name: self.name.apply_to(Some(c.name).filter(|n| !n.is_empty())),
            owner_id: self.owner_id.apply_to(c.owner_id),
            team: self.team.apply_to(c.team),
            goal: self.goal.apply_to(c.goal),
            period_start: self.period_start.apply_to((!blank).then_some(c.period_start)),
            period_end: self.period_end.apply_to((!blank).then_some(c.period_end)),
            account_ids: self.account_ids.apply_to(Some(c.account_ids)).unwrap_or_default(),
            tags: self.tags.apply_to(Some(c.tags)).unwrap_or_default(),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
}

impl TargetList {
    pub fn blank() -> TargetList {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        TargetList {
            id: TargetListId(uuid::Uuid::nil()),
            name: String::new(),
            owner_id: None,
            team: None,
            goal: None,
            period_start: NaiveDate::MIN,
            period_end: NaiveDate::MIN,
            account_ids: Vec::new(),
            tags: Vec::new(),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}

pub static TARGET_LIST_CATALOG: Catalog = Catalog {
    resource: "target_lists",
    table: "target_lists",
    fields: &[
        FieldDef { name: "id", column: "id", kind: FieldKind::Uuid, nullable: false, sortable: false },
        FieldDef { name: "name", column: "name", kind: FieldKind::Text, nullable: false, sortable: true },
        FieldDef { name: "owner_id", column: "owner_id", kind: FieldKind::Uuid, nullable: true, sortable: false },
        FieldDef { name: "team", column: "team", kind: FieldKind::Text, nullable: true, sortable: true },
        FieldDef {
            name: "period_start",
            column: "period_start",
            kind: FieldKind::Date,
            nullable: false,
            sortable: true,
        },
        FieldDef { name: "period_end", column: "period_end", kind: FieldKind::Date, nullable: false, sortable: true },
        FieldDef {
            name: "account_ids",
            column: "account_ids",
            kind: FieldKind::Tags,
            nullable: false,
            sortable: false,
        },
        FieldDef { name: "tags", column: "tags", kind: FieldKind::Tags, nullable: false, sortable: false },
        FieldDef {
            name: "external_id",
            column: "target_list",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
        },
        FieldDef {
            name: "created_at",
            column: "created_at",
            kind: FieldKind::Timestamp,
            nullable: false,
            sortable: true,
        },
        FieldDef {
            name: "updated_at",
            column: "updated_at",
            kind: FieldKind::Timestamp,
            nullable: false,
            sortable: true,
        },
        FieldDef {
            name: "archived_at",
            column: "archived_at",
            kind: FieldKind::Timestamp,
            nullable: true,
            sortable: true,
        },
    ],
    relations: &[],
};

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = target_lists, treat_none_as_null = true)]
pub struct TargetListRow {
    id: DbUuid,
    name: String,
    owner_id: Option<DbUuid>,
    team: Option<String>,
    goal_minor: Option<i64>,
    currency: Option<String>,
    period_start: NaiveDate,
    period_end: NaiveDate,
    account_ids: DbJson,
    tags: DbJson,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

impl From<TargetListRow> for TargetList {
    fn from(r: TargetListRow) -> TargetList {
        TargetList {
            id: TargetListId(r.id.0),
            name: r.name,
            owner_id: r.owner_id.map(|u| UserId(u.0)),
            team: r.team,
            goal: match (r.goal_minor, r.currency) {
                (Some(a), Some(c)) => Some(Money::new(a, &c)),
                _ => None,
            },
            period_start: r.period_start,
            period_end: r.period_end,
            account_ids: serde_json::from_value(r.account_ids.0).unwrap_or_default(),
            tags: serde_json::from_value(r.tags.0).unwrap_or_default(),
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&TargetList> for TargetListRow {
    fn from(t: &TargetList) -> TargetListRow {
        TargetListRow {
            id: DbUuid(t.id.0),
            name: t.name.clone(),
            owner_id: t.owner_id.map(|u| DbUuid(u.0)),
            team: t.team.clone(),
            goal_minor: t.goal.as_ref().map(|m| m.amount_minor.0),
            currency: t.goal.as_ref().map(|m| m.currency.clone()),
            period_start: t.period_start,
            period_end: t.period_end,
            account_ids: DbJson(serde_json::json!(t.account_ids)),
            tags: DbJson(serde_json::json!(t.tags)),
            version: t.version,
            created_at: t.created_at.naive_utc(),
            updated_at: t.updated_at.naive_utc(),
            archived_at: t.archived_at.map(|x| x.naive_utc()),
        }
    }
}

impl Record for TargetList {
    type Id = TargetListId;
    type Input = TargetListInput;
    type Patch = TargetListPatch;

    const ENTITY: &'static str = "target_list";
    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    crm_records::record_basics!(catalog: TARGET_LIST_CATALOG);

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
        let owner = match (input.owner_id, prev) {
            (Some(u), _) => Some(u),
            (None, None) => crm_users::current_user_id(conn, actor)?,
            (None, Some(_)) => None,
        };
        if prev.is_none_or(|p| p.owner_id != owner) {
            crm_users::check_user(conn, entity, "owner_id", owner, false)?;
        }
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

    crm_records::diesel_store!(table: target_lists, row: TargetListRow, search: SearchIndex {
        pg_column: "search_tsv",
        sqlite_table: "target_lists_fts"
    });
}

crm_records::batch_record!(TargetList);

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

/// Coverage of a target list.
pub fn coverage(conn: &mut AnyConnection, actor: &Actor, id: TargetListId) -> Result<Coverage, RecordError> {
    actor.require(Scope::SalesRead)?;
    let t = TargetList::find(conn, id)?.ok_or(RecordError::NotFound { entity: TargetList::ENTITY })?;
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "QuotaFields", visible = false))]
pub struct Quota {
    pub id: QuotaId,
    /// Exactly one of `owner_id` and `team`.
    pub owner_id: Option<UserId>,
    pub team: Option<String>,
    /// `2026-Q4`, `2026-11` or `2026`.
    pub period: String,
    pub amount: Money,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<crm_core::ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct QuotaInput {
    #[serde(default)]
    pub owner_id: Option<UserId>,
    #[serde(default)]
    pub team: Option<String>,
    pub period: Option<String>,
    pub amount: Option<Money>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct QuotaPatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub owner_id: crm_core::Patch<UserId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub team: crm_core::Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub period: crm_core::Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Money>))]
    pub amount: crm_core::Patch<Money>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<crm_core::ExternalId>>))]
    pub external_ids: crm_core::Patch<Vec<crm_core::ExternalId>>,
}

impl QuotaPatch {
    pub fn apply(self, c: &Quota) -> QuotaInput {
        let c = c.clone();
        let blank = c.id.0.is_nil();
        QuotaInput {
            owner_id: self.owner_id.apply_to(c.owner_id),
            team: self.team.apply_to(c.team),
            period: self.period.apply_to((!blank).then_some(c.period)),
            amount: self.amount.apply_to((!blank).then_some(c.amount)),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
}

impl Quota {
    pub fn blank() -> Quota {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        Quota {
            id: QuotaId(uuid::Uuid::nil()),
            owner_id: None,
            team: None,
            period: String::new(),
            amount: Money::new(0, "XXX"),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}

pub static QUOTA_CATALOG: Catalog = Catalog {
    resource: "quotas",
    table: "quotas",
    fields: &[
        FieldDef { name: "id", column: "id", kind: FieldKind::Uuid, nullable: false, sortable: false },
        FieldDef { name: "owner_id", column: "owner_id", kind: FieldKind::Uuid, nullable: true, sortable: false },
        FieldDef { name: "team", column: "team", kind: FieldKind::Text, nullable: true, sortable: true },
        FieldDef { name: "period", column: "period", kind: FieldKind::Text, nullable: false, sortable: true },
        FieldDef {
            name: "external_id",
            column: "quota",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
        },
        FieldDef {
            name: "created_at",
            column: "created_at",
            kind: FieldKind::Timestamp,
            nullable: false,
            sortable: true,
        },
        FieldDef {
            name: "updated_at",
            column: "updated_at",
            kind: FieldKind::Timestamp,
            nullable: false,
            sortable: true,
        },
        FieldDef {
            name: "archived_at",
            column: "archived_at",
            kind: FieldKind::Timestamp,
            nullable: true,
            sortable: true,
        },
    ],
    relations: &[],
};

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = quotas, treat_none_as_null = true)]
pub struct QuotaRow {
    id: DbUuid,
    owner_id: Option<DbUuid>,
    team: Option<String>,
    period: String,
    amount_minor: i64,
    currency: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

impl From<QuotaRow> for Quota {
    fn from(r: QuotaRow) -> Quota {
        Quota {
            id: QuotaId(r.id.0),
            owner_id: r.owner_id.map(|u| UserId(u.0)),
            team: r.team,
            period: r.period,
            amount: Money::new(r.amount_minor, &r.currency),
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&Quota> for QuotaRow {
    fn from(q: &Quota) -> QuotaRow {
        QuotaRow {
            id: DbUuid(q.id.0),
            owner_id: q.owner_id.map(|u| DbUuid(u.0)),
            team: q.team.clone(),
            period: q.period.clone(),
            amount_minor: q.amount.amount_minor.0,
            currency: q.amount.currency.clone(),
            version: q.version,
            created_at: q.created_at.naive_utc(),
            updated_at: q.updated_at.naive_utc(),
            archived_at: q.archived_at.map(|x| x.naive_utc()),
        }
    }
}

impl Record for Quota {
    type Id = QuotaId;
    type Input = QuotaInput;
    type Patch = QuotaPatch;

    const ENTITY: &'static str = "quota";
    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    crm_records::record_basics!(catalog: QUOTA_CATALOG);

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

    crm_records::diesel_store!(table: quotas, row: QuotaRow, search: SearchIndex {
        pg_column: "search_tsv",
        sqlite_table: "quotas_fts"
    });
}

crm_records::batch_record!(Quota);

/// Quotas of a period, for the forecast.
pub(crate) fn quotas_of(conn: &mut AnyConnection, period: &str) -> QueryResult<Vec<Quota>> {
    let rows: Vec<QuotaRow> = quotas::table
        .filter(quotas::period.eq(period))
        .filter(quotas::archived_at.is_null())
        .select(quotas::all_columns)
        .load(conn)?;
    Ok(rows.into_iter().map(Quota::from).collect())
}
