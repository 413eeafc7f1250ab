//! Opportunities: deals moving through a pipeline, with line items, stage history (time in
//! stage, the probability at the time) and a health assessment.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, ContactId, LeadId, OpportunityId, PipelineId, ProductId, StageId, UserId};
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Money, Patch, Scope, Timestamp, wire_enum};
use crm_db::schema::{opportunity_lines, opportunity_stage_history};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_products::{LineItem, LineItemInput};
use crm_records::custom::{CustomResource, validated};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::pipelines::{ForecastCategory, Pipeline};

wire_enum!(
    /// Where a deal stands: open, or closed as won or lost (from its stage's forecast category).
    OpportunityStatus {
        Open = "open",
        Won = "won",
        Lost = "lost",
    }
);

/// A deal.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = opportunities)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "OpportunityFields", visible = false)
)]
pub struct Opportunity {
    /// The record's id (UUIDv7: time-ordered).
    pub id: OpportunityId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// The account it belongs to.
    #[filter]
    pub account_id: Option<AccountId>,
    /// The contact it concerns.
    #[filter]
    pub contact_id: Option<ContactId>,
    /// The pipeline it moves through.
    #[filter]
    pub pipeline_id: PipelineId,
    /// The stage it is in.
    #[filter]
    pub stage_id: StageId,
    /// The stage's win probability, 0 to 100 (read-only).
    #[stored(skip)]
    pub probability: i32,
    /// The stage's forecast category (read-only; follows the stage, also when the pipeline's
    /// stage changes category).
    #[filter(sort)]
    pub forecast_category: ForecastCategory,
    /// The total of `line_items` when there are any.
    #[filter(sort)]
    #[stored(currency = "currency")]
    pub amount: Option<Money>,
    #[filter(sort)]
    pub expected_close_date: Option<NaiveDate>,
    /// The user who owns it.
    #[filter(relation = "owner", to = crm_users::USER_CATALOG)]
    pub owner_id: Option<UserId>,
    pub next_step: Option<String>,
    /// Required when the deal is lost.
    pub loss_reason: Option<String>,
    /// Set when the deal enters a closed stage; cleared when it reopens.
    #[filter(sort)]
    pub closed_at: Option<Timestamp>,
    /// True when won, false when lost, null while open.
    #[filter]
    pub won: Option<bool>,
    /// `open`, `won` or `lost` (read-only): whether the stage it is in is a closed one.
    #[filter(sort)]
    pub status: OpportunityStatus,
    #[filter(sort)]
    pub stage_entered_at: Timestamp,
    /// The lead this deal was converted from.
    #[filter]
    pub lead_id: Option<LeadId>,
    #[stored(skip)]
    pub line_items: Vec<LineItem>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Custom fields, by name: the fields an administrator defined for opportunities
    /// (`GET /api/v1/schema/opportunities/fields`), each value checked against its type.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: serde_json::Value,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new opportunity, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = OpportunityPatch, record = Opportunity, doc = "Moving `stage_id` records the stage change.")]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct OpportunityInput {
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "Acme renewal 2027"))]
    pub name: Option<String>,
    /// The account it belongs to.
    #[serde(default)]
    #[patch(follows = contact_id)]
    pub account_id: Option<AccountId>,
    /// The contact it concerns.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Defaults to the default pipeline.
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    /// Defaults to the pipeline's first stage.
    #[serde(default)]
    #[patch(with = stage_after)]
    pub stage_id: Option<StageId>,
    /// Derived from `line_items` when there are any.
    #[serde(default)]
    #[patch(with = amount_after)]
    pub amount: Option<Money>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub expected_close_date: Option<NaiveDate>,
    /// Defaults to the caller's user.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    #[serde(default)]
    pub next_step: Option<String>,
    #[serde(default)]
    pub loss_reason: Option<String>,
    /// The lead it concerns.
    #[serde(default)]
    #[patch(keep)]
    pub lead_id: Option<LeadId>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[patch(with = lines_after)]
    pub line_items: Vec<LineItemInput>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Custom fields by name (`GET /api/v1/schema/opportunities/fields` lists them); a value of each
    /// field's type, `null` to clear one. A patch merges them key by key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[patch(merge)]
    pub custom_fields: Option<serde_json::Value>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// `stage_id` after a patch: a new pipeline without a stage starts at its first stage.
fn stage_after(p: &OpportunityPatch, c: &Opportunity) -> Option<StageId> {
    let live = !c.id.0.is_nil();
    match (&p.pipeline_id, &p.stage_id) {
        (Patch::Value(pipeline), Patch::Absent) if *pipeline != c.pipeline_id => None,
        (_, s) => s.clone().apply_to(live.then_some(c.stage_id)),
    }
}

/// `amount` after a patch: with line items the amount is theirs; without, the stored one stays.
fn amount_after(p: &OpportunityPatch, c: &Opportunity) -> Option<Money> {
    p.amount.clone().apply_to(if c.line_items.is_empty() { c.amount.clone() } else { None })
}

/// `line_items` after a patch: the patch's lines replace the deal's.
fn lines_after(p: &OpportunityPatch, c: &Opportunity) -> Vec<LineItemInput> {
    match &p.line_items {
        Patch::Value(lines) => lines.clone(),
        Patch::Null => Vec::new(),
        Patch::Absent => c.line_items.iter().map(LineItem::as_input).collect(),
    }
}

impl Record for Opportunity {
    type Input = OpportunityInput;
    type Patch = OpportunityPatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: OpportunityId,
        input: OpportunityInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let mut errs = FieldErrors::new();
        let mut i = input;
        i.name = i.name.as_deref().and_then(clean);
        match &i.name {
            None => errs.add("name", "required", "an opportunity needs a name"),
            Some(n) if n.chars().count() > 300 => errs.add("name", "too_long", "at most 300 characters"),
            _ => {}
        }
        i.next_step = i.next_step.as_deref().and_then(clean);
        i.loss_reason = i.loss_reason.as_deref().and_then(clean);
        let tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        let external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        let amount = match i.amount.take() {
            Some(m) => errs.take(m.parse("amount")),
            None => None,
        };
        if amount.as_ref().is_some_and(|m| m.amount_minor.0 < 0) {
            errs.add("amount", "out_of_range", "must not be negative");
        }
        if i.line_items.len() > crm_products::model::MAX_LINES {
            errs.add("line_items", "too_many", format!("at most {} lines", crm_products::model::MAX_LINES));
        }
        let custom = i.custom_fields.take();
        let (_, custom) =
            validated(conn, CustomResource::Opportunities, errs.into_result(), custom, prev.map(|p| &p.custom_fields))?;

        let mut o = prev.cloned().unwrap_or_else(Opportunity::blank);
        o.custom_fields = custom;
        o.id = id;
        o.name = i.name.unwrap_or_default();
        o.next_step = i.next_step;
        o.tags = tags;
        o.external_ids = external_ids;
        o.expected_close_date = i.expected_close_date;
        o.lead_id = i.lead_id;

        // Pipeline and stage.
        let pipeline = match i.pipeline_id {
            Some(p) => Pipeline::find(conn, p)?
                .filter(|p| p.archived_at.is_none() || prev.is_some_and(|x| x.pipeline_id == p.id))
                .ok_or_else(|| RecordError::missing_reference(entity, "pipeline_id", "pipeline", p))?,
            None => crate::pipelines::default_pipeline(conn)?
                .ok_or_else(|| RecordError::invalid(entity, "pipeline_id", "required", "create a pipeline first"))?,
        };
        let stage =
            match i.stage_id {
                Some(s) => pipeline.stage(s).cloned().ok_or_else(|| {
                    RecordError::invalid(
                        entity,
                        "stage_id",
                        "not_found",
                        format!("not a stage of pipeline {}", pipeline.id),
                    )
                })?,
                None => pipeline.stages.first().cloned().ok_or_else(|| {
                    RecordError::invalid(entity, "pipeline_id", "empty", "the pipeline has no stages")
                })?,
            };
        o.pipeline_id = pipeline.id;
        o.probability = stage.probability;
        o.forecast_category = stage.forecast_category;
        if prev.is_none_or(|p| p.stage_id != stage.id) {
            o.stage_id = stage.id;
            o.stage_entered_at = now;
            match stage.forecast_category {
                ForecastCategory::ClosedWon => {
                    o.closed_at = Some(now);
                    o.won = Some(true);
                    o.status = OpportunityStatus::Won;
                }
                ForecastCategory::ClosedLost => {
                    o.closed_at = Some(now);
                    o.won = Some(false);
                    o.status = OpportunityStatus::Lost;
                }
                _ => {
                    o.closed_at = None;
                    o.won = None;
                    o.status = OpportunityStatus::Open;
                }
            }
        }
        o.loss_reason = i.loss_reason;
        if o.won == Some(false) && o.loss_reason.is_none() {
            return Err(RecordError::invalid(entity, "loss_reason", "required", "say why the deal was lost"));
        }

        // Line items decide the amount when present.
        if i.line_items.is_empty() {
            o.line_items = Vec::new();
            o.amount = amount;
        } else {
            if amount.is_some() {
                return Err(RecordError::invalid(
                    entity,
                    "amount",
                    "derived",
                    "the amount is the total of line_items; leave it out",
                ));
            }
            let unchanged: Vec<ProductId> =
                prev.map(|x| x.line_items.iter().map(|l| l.product_id).collect()).unwrap_or_default();
            let (_, lines, total) =
                crm_products::price_lines(conn, entity, "line_items", i.line_items, None, &unchanged)?;
            o.line_items = lines;
            o.amount = Some(total);
        }

        // References.
        let contact_changed = prev.is_none_or(|p| p.contact_id != i.contact_id);
        o.account_id =
            crm_contacts::read::account_for_contact(conn, entity, i.contact_id, contact_changed, i.account_id)?;
        o.contact_id = i.contact_id;
        if prev.is_none_or(|p| p.account_id != o.account_id) {
            crm_records::check_ref(conn, entity, "account_id", o.account_id)?;
        }
        o.owner_id =
            crm_users::assigned_user(conn, actor, entity, "owner_id", i.owner_id, prev.map(|p| p.owner_id), true)?;
        Ok(o)
    }

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none_or(|b| b.line_items != after.line_items) {
            crm_products::replace_lines!(conn, opportunity_lines, opportunity_id, after.id.0, after.line_items);
        }
        // A deal that is or was won: campaigns attribute it (or take it back).
        let conversion =
            |o: &Self| (o.won, o.closed_at, o.amount.clone(), o.contact_id, o.account_id, o.archived_at.is_none());
        let won = |o: &Self| o.won == Some(true);
        if (won(after) || before.is_some_and(won)) && before.is_none_or(|b| conversion(b) != conversion(after)) {
            crm_records::hooks::touched(conn, actor, "opportunity", after.id.0)?;
        }
        // Stage history: the stage as it was when the deal entered it.
        if before.is_none_or(|b| b.stage_id != after.stage_id) {
            let at = after.stage_entered_at.naive_utc();
            diesel::update(
                opportunity_stage_history::table
                    .filter(opportunity_stage_history::opportunity_id.eq(DbUuid(after.id.0)))
                    .filter(opportunity_stage_history::left_at.is_null()),
            )
            .set(opportunity_stage_history::left_at.eq(Some(at)))
            .execute(conn)?;
            let stage_name = Pipeline::find(conn, after.pipeline_id)?
                .and_then(|p| p.stage(after.stage_id).map(|s| s.name.clone()))
                .unwrap_or_default();
            diesel::insert_into(opportunity_stage_history::table)
                .values((
                    opportunity_stage_history::id.eq(DbUuid(uuid::Uuid::now_v7())),
                    opportunity_stage_history::opportunity_id.eq(DbUuid(after.id.0)),
                    opportunity_stage_history::pipeline_id.eq(DbUuid(after.pipeline_id.0)),
                    opportunity_stage_history::stage_id.eq(DbUuid(after.stage_id.0)),
                    opportunity_stage_history::stage_name.eq(stage_name),
                    opportunity_stage_history::probability.eq(i64::from(after.probability)),
                    opportunity_stage_history::forecast_category.eq(after.forecast_category.as_str()),
                    opportunity_stage_history::amount_minor.eq(after.amount.as_ref().map(|m| m.amount_minor.0)),
                    opportunity_stage_history::currency.eq(after.amount.as_ref().map(|m| m.currency.clone())),
                    opportunity_stage_history::entered_at.eq(at),
                    opportunity_stage_history::left_at.eq(None::<NaiveDateTime>),
                    opportunity_stage_history::actor.eq(actor.sub.clone()),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    fn load_children(conn: &mut AnyConnection, items: &mut [Self]) -> QueryResult<()> {
        let keys: Vec<DbUuid> = items.iter().map(|o| DbUuid(o.id.0)).collect();
        let mut lines: HashMap<uuid::Uuid, Vec<LineRow>> = HashMap::new();
        for chunk in keys.chunks(500) {
            let rows: Vec<(DbUuid, i64, DbUuid, i64, i64, i64, i64)> = opportunity_lines::table
                .filter(opportunity_lines::opportunity_id.eq_any(chunk.to_vec()))
                .order((opportunity_lines::opportunity_id, opportunity_lines::line_no))
                .load(conn)?;
            for r in rows {
                lines.entry(r.0.0).or_default().push((r.1, r.2, r.3, r.4, r.5, r.6));
            }
        }
        let stage_ids: Vec<StageId> = items.iter().map(|o| o.stage_id).collect();
        let stages = crate::pipelines::stages_by_id(conn, &stage_ids)?;
        for o in items.iter_mut() {
            let cur = o.amount.as_ref().map(|m| m.currency.clone()).unwrap_or_default();
            o.line_items = lines
                .remove(&o.id.0)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, product, quantity, unit, discount, total)| LineItem {
                    product_id: ProductId(product.0),
                    quantity,
                    unit_price: Money::new(unit, &cur),
                    discount: Money::new(discount, &cur),
                    total: Money::new(total, &cur),
                })
                .collect();
            if let Some((_, s)) = stages.get(&o.stage_id) {
                o.probability = s.probability;
                o.forecast_category = s.forecast_category;
            }
        }
        Ok(())
    }
}

/// line_no, product, quantity, unit price, discount, total.
type LineRow = (i64, DbUuid, i64, i64, i64, i64);

/// One stay of a deal in a stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct StageVisit {
    /// The visit's id (time-ordered).
    pub id: uuid::Uuid,
    /// The deal.
    pub opportunity_id: OpportunityId,
    /// The stage it is in.
    pub stage_id: StageId,
    pub stage_name: String,
    /// The stage's probability when the deal entered it.
    pub probability: i32,
    pub forecast_category: ForecastCategory,
    pub amount: Option<Money>,
    pub entered_at: Timestamp,
    pub left_at: Option<Timestamp>,
    /// Whole days spent (up to now for the current stage).
    pub days_in_stage: i64,
    /// The subject that moved the deal here.
    pub moved_by: String,
}

/// A row of `opportunity_stage_history`, in column order.
pub(crate) type HistoryRow = (
    DbUuid,
    DbUuid,
    DbUuid,
    DbUuid,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    String,
);

/// A deal's stage history, oldest first.
pub fn stage_history(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: OpportunityId,
) -> Result<Vec<StageVisit>, RecordError> {
    crm_records::get::<Opportunity>(conn, actor, id)?;
    let rows: Vec<HistoryRow> = opportunity_stage_history::table
        .filter(opportunity_stage_history::opportunity_id.eq(DbUuid(id.0)))
        .order((opportunity_stage_history::entered_at.asc(), opportunity_stage_history::id.asc()))
        .load(conn)?;
    let now = crm_db::now();
    Ok(rows.into_iter().map(|r| visit_of(r, now)).collect())
}

/// A stage visit from its row; `now` ends the current stay for `days_in_stage`.
pub(crate) fn visit_of(r: HistoryRow, now: NaiveDateTime) -> StageVisit {
    StageVisit {
        id: r.0.0,
        opportunity_id: OpportunityId(r.1.0),
        stage_id: StageId(r.3.0),
        stage_name: r.4,
        probability: i32::try_from(r.5).unwrap_or(0),
        forecast_category: ForecastCategory::parse(&r.6).unwrap_or(ForecastCategory::Pipeline),
        amount: match (r.7, r.8) {
            (Some(a), Some(c)) => Some(Money::new(a, &c)),
            _ => None,
        },
        entered_at: to_utc(r.9),
        left_at: r.10.map(to_utc),
        days_in_stage: (r.10.unwrap_or(now) - r.9).num_days(),
        moved_by: r.11,
    }
}

wire_enum!(
    /// How a deal looks.
    Health {
        Healthy = "healthy",
        AtRisk = "at_risk",
        Stalled = "stalled",
        Closed = "closed",
    }
);

/// The assessment of an open deal: how long it sits in its stage against the stage's norm,
/// whether its close date has passed, and how long since anyone talked to the customer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Assessment {
    /// The opportunity it concerns.
    pub opportunity_id: OpportunityId,
    pub health: Health,
    pub days_in_stage: i64,
    /// The stage's `expected_days`.
    pub expected_days_in_stage: Option<i32>,
    pub close_date_passed: bool,
    /// Since the latest interaction logged on this opportunity (null: none yet).
    pub days_since_last_interaction: Option<i64>,
    /// Why it is not healthy.
    pub reasons: Vec<String>,
}

/// Days without contact after which a deal is at risk.
pub const QUIET_DAYS: i64 = 14;

/// Assessments of several deals at once (three queries however many).
pub fn assess(conn: &mut AnyConnection, actor: &Actor, ids: &[OpportunityId]) -> Result<Vec<Assessment>, RecordError> {
    let opps = crm_records::get_many::<Opportunity>(conn, actor, ids, true)?;
    let stages = crate::pipelines::stages_by_id(conn, &opps.iter().map(|o| o.stage_id).collect::<Vec<_>>())?;
    let last = crm_interactions::read::last_with_opportunities(conn, &opps.iter().map(|o| o.id).collect::<Vec<_>>())?;
    let now = crm_db::now();
    let today = now.date();
    Ok(opps
        .into_iter()
        .map(|o| {
            let expected = stages.get(&o.stage_id).and_then(|(_, s)| s.expected_days);
            let days_in_stage = (now - o.stage_entered_at.naive_utc()).num_days();
            let close_date_passed = o.closed_at.is_none() && o.expected_close_date.is_some_and(|d| d < today);
            let quiet = last.get(&o.id).map(|t| (now - *t).num_days().max(0));
            let mut reasons = Vec::new();
            let mut stalled = false;
            if let Some(e) = expected {
                if days_in_stage > 2 * i64::from(e) {
                    stalled = true;
                    reasons.push(format!("{days_in_stage} days in stage, more than twice the usual {e}"));
                } else if days_in_stage > i64::from(e) {
                    reasons.push(format!("{days_in_stage} days in stage, longer than the usual {e}"));
                }
            }
            if close_date_passed {
                reasons.push("the expected close date has passed".to_string());
            }
            match quiet {
                Some(d) if d > QUIET_DAYS => reasons.push(format!("no interaction for {d} days")),
                None if days_in_stage > QUIET_DAYS => reasons.push("no interaction logged yet".to_string()),
                _ => {}
            }
            let health = if o.closed_at.is_some() {
                reasons.clear();
                Health::Closed
            } else if stalled {
                Health::Stalled
            } else if reasons.is_empty() {
                Health::Healthy
            } else {
                Health::AtRisk
            };
            Assessment {
                opportunity_id: o.id,
                health,
                days_in_stage,
                expected_days_in_stage: expected,
                close_date_passed,
                days_since_last_interaction: quiet,
                reasons,
            }
        })
        .collect())
}
