//! Pipelines and their ordered stages. A stage carries a win probability and a forecast
//! category; opportunities keep a snapshot of both when they enter a stage, so changing a
//! stage later does not rewrite history.

use std::collections::HashMap;

use crm_core::external::parse_external_ids;
use crm_core::ids::{PipelineId, StageId};
use crm_core::values::clean;
use crm_core::{Actor, ExternalId, FieldErrors, Patch, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{opportunities, pipeline_stages, pipelines};
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// Where an opportunity in this stage counts in the forecast.
    ForecastCategory {
        Pipeline = "pipeline",
        BestCase = "best_case",
        Commit = "commit",
        ClosedWon = "closed_won",
        ClosedLost = "closed_lost",
        Omitted = "omitted",
    }
);

impl ForecastCategory {
    pub fn is_closed(self) -> bool {
        matches!(self, ForecastCategory::ClosedWon | ForecastCategory::ClosedLost)
    }
}

/// One stage of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Stage {
    pub id: StageId,
    /// The name people see.
    pub name: String,
    /// Win probability, 0 to 100.
    pub probability: i32,
    pub forecast_category: ForecastCategory,
    /// How many days a deal normally spends here (for the health assessment).
    pub expected_days: Option<i32>,
}

/// A stage in a pipeline input; give the `id` of an existing stage to keep it (and its deals).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct StageInput {
    /// Keeps an existing stage (and its deals) when the list is replaced.
    #[serde(default)]
    pub id: Option<StageId>,
    /// 1 to 100 characters (trimmed), unique within the pipeline.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    /// Percent, 0 to 100.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub probability: i32,
    pub forecast_category: ForecastCategory,
    /// Typical days in the stage, 1 to 3650.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub expected_days: Option<i32>,
}

/// A sales pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = pipelines)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "PipelineFields", visible = false))]
pub struct Pipeline {
    /// The record's id (UUIDv7: time-ordered).
    pub id: PipelineId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// New opportunities without a pipeline go here.
    #[filter]
    pub is_default: bool,
    /// In order.
    #[stored(skip)]
    pub stages: Vec<Stage>,
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

/// A new pipeline, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = PipelinePatch, record = Pipeline, doc = "`stages` replaces the list (keep stages by their `id`).")]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct PipelineInput {
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "New business"))]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
    /// In order; at least one.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[patch(with = stages_after)]
    pub stages: Vec<StageInput>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl Pipeline {
    pub fn stage(&self, id: StageId) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

type StageRow = (DbUuid, DbUuid, i64, String, i64, String, Option<i64>);

fn stage_of(r: StageRow) -> (uuid::Uuid, Stage) {
    (
        r.1.0,
        Stage {
            id: StageId(r.0.0),
            name: r.3,
            probability: i32::try_from(r.4).unwrap_or(0),
            forecast_category: ForecastCategory::parse(&r.5).unwrap_or(ForecastCategory::Pipeline),
            expected_days: r.6.and_then(|d| i32::try_from(d).ok()),
        },
    )
}

/// Stages by id (for opportunities and reports), with their pipeline.
pub fn stages_by_id(conn: &mut AnyConnection, ids: &[StageId]) -> QueryResult<HashMap<StageId, (PipelineId, Stage)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let keys: Vec<DbUuid> = chunk.iter().map(|s| DbUuid(s.0)).collect();
        let rows: Vec<StageRow> = pipeline_stages::table.filter(pipeline_stages::id.eq_any(keys)).load(conn)?;
        for r in rows {
            let (p, s) = stage_of(r);
            out.insert(s.id, (PipelineId(p), s));
        }
    }
    Ok(out)
}

/// The default pipeline (the oldest live one marked default, else the oldest live one).
pub fn default_pipeline(conn: &mut AnyConnection) -> Result<Option<Pipeline>, RecordError> {
    let id: Option<DbUuid> = pipelines::table
        .filter(pipelines::archived_at.is_null())
        .order((pipelines::is_default.desc(), pipelines::created_at.asc(), pipelines::id.asc()))
        .select(pipelines::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => Ok(Pipeline::find(conn, PipelineId(id.0))?),
        None => Ok(None),
    }
}

/// `stages` after a patch: the patch's stages replace the pipeline's (matched by id).
fn stages_after(p: &PipelinePatch, c: &Pipeline) -> Vec<StageInput> {
    match &p.stages {
        Patch::Value(stages) => stages.clone(),
        Patch::Null => Vec::new(),
        Patch::Absent => c
            .stages
            .iter()
            .map(|s| StageInput {
                id: Some(s.id),
                name: s.name.clone(),
                probability: s.probability,
                forecast_category: s.forecast_category,
                expected_days: s.expected_days,
            })
            .collect(),
    }
}

fn normalize(i: PipelineInput) -> Result<PipelineInput, FieldErrors> {
    let mut errs = FieldErrors::new();
    let mut i = i;
    i.name = i.name.as_deref().and_then(clean);
    match &i.name {
        None => errs.add("name", "required", "a pipeline needs a name"),
        Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
        _ => {}
    }
    if i.stages.is_empty() {
        errs.add("stages", "required", "a pipeline has at least one stage");
    } else if i.stages.len() > 50 {
        errs.add("stages", "too_many", "at most 50 stages");
        // Refused as a whole: the stages are not looked at one by one.
        i.stages.clear();
    }
    let mut names: Vec<String> = Vec::new();
    let mut ids: Vec<StageId> = Vec::new();
    for (n, s) in i.stages.iter_mut().enumerate() {
        s.name = s.name.trim().to_string();
        if s.name.is_empty() || s.name.chars().count() > 100 {
            errs.add(&format!("stages[{n}].name"), "invalid", "1 to 100 characters");
        } else if names.contains(&s.name.to_lowercase()) {
            errs.add(&format!("stages[{n}].name"), "duplicate", "stage names are unique within a pipeline");
        }
        names.push(s.name.to_lowercase());
        if !(0..=100).contains(&s.probability) {
            errs.add(&format!("stages[{n}].probability"), "out_of_range", "0 to 100");
        }
        if s.expected_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            errs.add(&format!("stages[{n}].expected_days"), "out_of_range", "1 to 3650");
        }
        if let Some(id) = s.id {
            if ids.contains(&id) {
                errs.add(&format!("stages[{n}].id"), "duplicate", "a stage appears once");
            }
            ids.push(id);
        }
    }
    i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
    errs.into_result().map(|_| i)
}

impl Record for Pipeline {
    type Input = PipelineInput;
    type Patch = PipelinePatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;
    const DEFAULT_SORT: &'static str = "name";

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: PipelineId,
        input: PipelineInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let i = normalize(input).map_err(|errors| RecordError::Invalid { entity, errors })?;
        let mut p = prev.cloned().unwrap_or_else(Pipeline::blank);
        p.id = id;
        p.name = i.name.unwrap_or_default();
        p.description = i.description.filter(|d| !d.trim().is_empty());
        p.is_default = i.is_default.unwrap_or(false);
        p.external_ids = i.external_ids;
        let old: Vec<StageId> = prev.map(|x| x.stages.iter().map(|s| s.id).collect()).unwrap_or_default();
        let mut errs = FieldErrors::new();
        p.stages = i
            .stages
            .into_iter()
            .enumerate()
            .map(|(n, s)| {
                let id = match s.id {
                    Some(id) if old.contains(&id) => id,
                    Some(_) => {
                        errs.add(&format!("stages[{n}].id"), "not_found", "not a stage of this pipeline");
                        StageId::new()
                    }
                    None => StageId::new(),
                };
                Stage {
                    id,
                    name: s.name,
                    probability: s.probability,
                    forecast_category: s.forecast_category,
                    expected_days: s.expected_days,
                }
            })
            .collect();
        // A stage that holds deals keeps whether it is open, won or lost (its deals' `closed_at`
        // and `won` follow from it).
        if let Some(prev) = prev {
            for (n, s) in p.stages.iter().enumerate() {
                if let Some(old) = prev.stage(s.id)
                    && old.forecast_category != s.forecast_category
                    && (old.forecast_category.is_closed() || s.forecast_category.is_closed())
                {
                    let used: i64 = opportunities::table
                        .filter(opportunities::stage_id.eq(DbUuid(s.id.0)))
                        .count()
                        .get_result(conn)?;
                    if used > 0 {
                        errs.add(
                            &format!("stages[{n}].forecast_category"),
                            "in_use",
                            format!("the stage holds {used} opportunities; open and closed categories cannot swap"),
                        );
                    }
                }
            }
        }
        // A stage that still holds deals cannot go.
        for gone in old.iter().filter(|o| !p.stages.iter().any(|s| s.id == **o)) {
            let used: i64 =
                opportunities::table.filter(opportunities::stage_id.eq(DbUuid(gone.0))).count().get_result(conn)?;
            if used > 0 {
                errs.add("stages", "in_use", format!("stage {gone} holds {used} opportunities; move them first"));
            }
        }
        if !errs.0.is_empty() {
            return Err(RecordError::Invalid { entity, errors: errs });
        }
        Ok(p)
    }

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none_or(|b| b.stages != after.stages) {
            let keep: Vec<DbUuid> = after.stages.iter().map(|s| DbUuid(s.id.0)).collect();
            diesel::delete(
                pipeline_stages::table
                    .filter(pipeline_stages::pipeline_id.eq(DbUuid(after.id.0)))
                    .filter(pipeline_stages::id.ne_all(keep)),
            )
            .execute(conn)?;
            for (n, s) in after.stages.iter().enumerate() {
                let values = (
                    pipeline_stages::position.eq(i64::try_from(n).unwrap_or(0)),
                    pipeline_stages::name.eq(s.name.clone()),
                    pipeline_stages::probability.eq(i64::from(s.probability)),
                    pipeline_stages::forecast_category.eq(s.forecast_category.as_str()),
                    pipeline_stages::expected_days.eq(s.expected_days.map(i64::from)),
                );
                let updated = diesel::update(pipeline_stages::table.filter(pipeline_stages::id.eq(DbUuid(s.id.0))))
                    .set(values.clone())
                    .execute(conn)?;
                // The deals in a stage carry its forecast category (lists filter on it).
                let moved = before
                    .and_then(|b| b.stages.iter().find(|o| o.id == s.id))
                    .is_some_and(|o| o.forecast_category != s.forecast_category);
                if moved {
                    diesel::update(opportunities::table.filter(opportunities::stage_id.eq(DbUuid(s.id.0))))
                        .set(opportunities::forecast_category.eq(s.forecast_category.as_str()))
                        .execute(conn)?;
                }
                if updated == 0 {
                    diesel::insert_into(pipeline_stages::table)
                        .values((
                            pipeline_stages::id.eq(DbUuid(s.id.0)),
                            pipeline_stages::pipeline_id.eq(DbUuid(after.id.0)),
                            values,
                        ))
                        .execute(conn)?;
                }
            }
        }
        // One default pipeline.
        if after.is_default && before.is_none_or(|b| !b.is_default) {
            let others: Vec<DbUuid> = pipelines::table
                .filter(pipelines::is_default.eq(true))
                .filter(pipelines::id.ne(DbUuid(after.id.0)))
                .select(pipelines::id)
                .load(conn)?;
            for o in others {
                crm_records::modify::<Pipeline>(conn, actor, PipelineId(o.0), |p| {
                    p.is_default = false;
                    true
                })?;
            }
        }
        Ok(())
    }

    fn load_children(conn: &mut AnyConnection, items: &mut [Self]) -> QueryResult<()> {
        let keys: Vec<DbUuid> = items.iter().map(|p| DbUuid(p.id.0)).collect();
        let mut by: HashMap<uuid::Uuid, Vec<Stage>> = HashMap::new();
        for chunk in keys.chunks(500) {
            let rows: Vec<StageRow> = pipeline_stages::table
                .filter(pipeline_stages::pipeline_id.eq_any(chunk.to_vec()))
                .order((pipeline_stages::pipeline_id, pipeline_stages::position))
                .load(conn)?;
            for r in rows {
                let (p, s) = stage_of(r);
                by.entry(p).or_default().push(s);
            }
        }
        for p in items.iter_mut() {
            p.stages = by.remove(&p.id.0).unwrap_or_default();
        }
        Ok(())
    }
}
