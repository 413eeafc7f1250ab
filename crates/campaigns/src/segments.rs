//! Segments: target groups of contacts. A segment's members are the live contacts that match
//! its `criteria` (the filter language over [`crate::catalog::CRITERIA`]) or belong to one of
//! its `include_segment_ids`, minus the members of its `exclude_segment_ids`. A dynamic
//! segment is evaluated whenever it is read or used; a snapshot segment keeps the membership
//! it had when it was taken (`snapshot_at`), until it is taken again.

use crm_core::filter::{FilterError, Resolved};
use crm_core::ids::{ContactId, SegmentId};
use crm_core::list::Page;
use crm_core::values::clean;
use crm_core::{Actor, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{contacts, segment_members};
use crm_db::sql::Sql;
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalog::CRITERIA;
use crate::dedup;

wire_enum!(
    /// How a segment keeps its members.
    SegmentKind {
        /// Evaluated whenever the segment is read or used.
        Dynamic = "dynamic",
        /// Frozen when taken (`snapshot_at`); taken again on request or when its definition changes.
        Snapshot = "snapshot",
    }
);

/// A target group of contacts.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = segments)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "SegmentFields", visible = false))]
pub struct Segment {
    /// The record's id (UUIDv7: time-ordered).
    pub id: SegmentId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Dynamic or snapshot.
    #[filter(sort)]
    pub kind: SegmentKind,
    /// The criterion, in the filter language of lists over contacts, their account, owner,
    /// purchases (and their lines and products), interactions and campaign memberships (see
    /// docs/CAMPAIGNS.md); empty for none.
    pub criteria: String,
    /// Members of these segments are members too.
    pub include_segment_ids: Vec<SegmentId>,
    /// Members of these segments are not members.
    pub exclude_segment_ids: Vec<SegmentId>,
    /// When a snapshot segment's membership was taken (read-only).
    #[filter(sort)]
    pub snapshot_at: Option<Timestamp>,
    /// How many members a snapshot segment holds (read-only; null for dynamic segments, whose
    /// count is `GET /segments/{id}/members` or the preview).
    pub member_count: Option<i64>,
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

/// A new segment, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = SegmentPatch, record = Segment)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct SegmentInput {
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "Gold decision makers in Seoul"))]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to `dynamic`.
    #[serde(default)]
    pub kind: Option<SegmentKind>,
    /// The criterion (empty or absent for none).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "and(title[contains]:director,account(tier[in]:[gold,platinum],city[eq]:Seoul))")
    )]
    pub criteria: Option<String>,
    /// Members of these segments are members too.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub include_segment_ids: Vec<SegmentId>,
    /// Members of these segments are not members.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub exclude_segment_ids: Vec<SegmentId>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Ids in other systems, each unique among segments.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<crm_core::ExternalId>,
}

/// A segment definition to evaluate without saving it (the preview).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct SegmentDraft {
    /// The criterion (empty or absent for none).
    #[serde(default)]
    pub criteria: Option<String>,
    /// Members of these segments are members too.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub include_segment_ids: Vec<SegmentId>,
    /// Members of these segments are not members.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub exclude_segment_ids: Vec<SegmentId>,
}

/// How many contacts a definition selects, and the first of them.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentPreview {
    /// Members now.
    pub count: i64,
    /// The first members, in id order (`next_cursor` continues them through the members list
    /// once the segment is saved).
    pub data: Vec<crm_contacts::Contact>,
}

/// Most segments one definition includes or excludes, how deep segments may nest, how many
/// segment definitions one evaluation may expand in all (a segment named twice counts twice),
/// and most values one evaluation may bind (under both databases' limits).
pub const MAX_REFERENCES: usize = 50;
pub const MAX_NESTING: usize = 8;
pub const MAX_EXPANSIONS: usize = 64;
pub const MAX_BINDS: usize = 20_000;

/// Where an evaluation is: the segments on the way down (for cycles) and how many it expanded.
struct Walk {
    path: Vec<SegmentId>,
    expanded: usize,
}

impl Record for Segment {
    type Input = SegmentInput;
    type Patch = SegmentPatch;

    const READ: Scope = Scope::CampaignsRead;
    const WRITE: Scope = Scope::CampaignsWrite;
    const DEFAULT_SORT: &'static str = "name";

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: SegmentId,
        input: SegmentInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let mut errs = FieldErrors::new();
        let name = input.name.as_deref().and_then(clean);
        match &name {
            None => errs.add("name", "required", "a segment needs a name"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            _ => {}
        }
        if input.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
            errs.add("description", "too_long", "at most 2000 characters");
        }
        let draft = SegmentDraft {
            criteria: input.criteria.clone(),
            include_segment_ids: dedup(input.include_segment_ids),
            exclude_segment_ids: dedup(input.exclude_segment_ids),
        };
        let tags = errs.take(crm_core::values::parse_tags("tags", &input.tags)).unwrap_or_default();
        let external_ids = crm_core::external::parse_external_ids("external_ids", input.external_ids, &mut errs);
        if !errs.0.is_empty() {
            return Err(RecordError::Invalid { entity, errors: errs });
        }
        // The definition must evaluate: a valid criterion, segments that exist, no cycle.
        let cond = condition(conn, actor, &draft, Some(id))?;
        // Margins come from unit costs: grouping customers by one needs the scope that reads it.
        let new_criteria = draft.criteria.as_deref().map(str::trim).unwrap_or("");
        if !actor.has(crm_core::Scope::ProductsCost)
            && prev.is_none_or(|p| p.criteria != new_criteria)
            && criterion(conn, entity, draft.criteria.as_deref())?.is_some_and(|c| compares(&c, "margin_minor"))
        {
            return Err(RecordError::invalid(
                entity,
                "criteria",
                "not_granted",
                "comparing margins (`margin_minor`) needs the `products:cost` scope",
            ));
        }
        let kind = input.kind.unwrap_or(SegmentKind::Dynamic);
        let mut s = prev.cloned().unwrap_or_else(Segment::blank);
        let criteria = draft.criteria.as_deref().map(str::trim).unwrap_or("").to_string();
        let redefined = prev.is_none_or(|p| {
            p.kind != kind
                || p.criteria != criteria
                || p.include_segment_ids != draft.include_segment_ids
                || p.exclude_segment_ids != draft.exclude_segment_ids
        });
        s.id = id;
        s.name = name.unwrap_or_default();
        s.description = input.description.filter(|d| !d.trim().is_empty());
        s.kind = kind;
        s.criteria = criteria;
        s.include_segment_ids = draft.include_segment_ids;
        s.exclude_segment_ids = draft.exclude_segment_ids;
        s.tags = tags;
        s.external_ids = external_ids;
        match kind {
            SegmentKind::Dynamic => (s.snapshot_at, s.member_count) = (None, None),
            // Taken now (the rows are written by `after_write`, in the same transaction).
            SegmentKind::Snapshot if redefined => {
                s.snapshot_at = Some(now);
                s.member_count = Some(crm_db::sql::count_where(conn, "contacts", cond)?);
            }
            SegmentKind::Snapshot => {}
        }
        Ok(s)
    }

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        let retaken = after.snapshot_at.is_some() && before.is_none_or(|b| b.snapshot_at != after.snapshot_at);
        let dropped = after.kind == SegmentKind::Dynamic && before.is_some_and(|b| b.kind == SegmentKind::Snapshot);
        if retaken || dropped {
            diesel::delete(segment_members::table.filter(segment_members::segment_id.eq(DbUuid(after.id.0))))
                .execute(conn)?;
        }
        if retaken {
            let cond = condition(conn, actor, &after.draft(), Some(after.id))?;
            write_snapshot(conn, after.id, cond)?;
        }
        Ok(())
    }
}

impl Segment {
    /// The segment's definition.
    pub fn draft(&self) -> SegmentDraft {
        SegmentDraft {
            criteria: Some(self.criteria.clone()),
            include_segment_ids: self.include_segment_ids.clone(),
            exclude_segment_ids: self.exclude_segment_ids.clone(),
        }
    }
}

/// Copies the contacts matching `cond` into the snapshot table.
fn write_snapshot(conn: &mut AnyConnection, id: SegmentId, cond: Sql) -> Result<(), RecordError> {
    let ids: Vec<DbUuid> = contacts::table.filter(cond).select(contacts::id).load(conn)?;
    let seg = DbUuid(id.0);
    for chunk in ids.chunks(5000) {
        let rows: Vec<_> =
            chunk.iter().map(|c| (segment_members::segment_id.eq(seg), segment_members::contact_id.eq(*c))).collect();
        match conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(segment_members::table).values(&rows).execute(c)?,
            AnyConnection::Sqlite(c) => diesel::insert_into(segment_members::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}

/// Whether a criterion compares a field of this name, at any depth.
fn compares(r: &Resolved, name: &str) -> bool {
    match r {
        Resolved::And(all) | Resolved::Or(all) => all.iter().any(|x| compares(x, name)),
        Resolved::Not(x) | Resolved::Related { inner: x, .. } => compares(x, name),
        Resolved::Cond { field, .. } => field.name == name,
        Resolved::Geo(_) => false,
    }
}

/// The criterion, type-checked; field errors name `criteria`.
fn criterion(
    conn: &mut AnyConnection,
    entity: &'static str,
    raw: Option<&str>,
) -> Result<Option<Resolved>, RecordError> {
    let text = raw.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(None);
    }
    // NUL is refused by the grammar (a syntax error) and by value checking (`invalid_value`).
    let bad = |e: FilterError| RecordError::invalid(entity, "criteria", e.code, e.message);
    let parsed = crm_core::filter::parse(text).map_err(bad)?;
    let custom = crm_records::custom::filters_of(conn, &parsed)?;
    Ok(Some(crm_core::filter::resolve_with(&parsed, &CRITERIA, &custom).map_err(bad)?))
}

/// The condition over `contacts` that selects a definition's members: live contacts matching
/// the criterion or in an included segment, and in no excluded one. Checks the caller may read
/// contacts and whatever the criterion follows, that the segments it names exist, and that
/// none of them leads back to `this` (a segment being saved).
pub fn condition(
    conn: &mut AnyConnection,
    actor: &Actor,
    draft: &SegmentDraft,
    this: Option<SegmentId>,
) -> Result<Sql, RecordError> {
    actor.require(Scope::ContactsRead)?;
    let mut walk = Walk { path: this.into_iter().collect(), expanded: 0 };
    let cond = condition_at(conn, actor, draft, &mut walk)?;
    if cond.bind_count() > MAX_BINDS {
        return Err(RecordError::invalid(
            Segment::ENTITY,
            "criteria",
            "too_complex",
            format!("the definition and the segments it names bind more than {MAX_BINDS} values"),
        ));
    }
    Ok(cond)
}

/// A criterion's related scopes: what it follows, the caller must be allowed to read.
fn require_related(actor: &Actor, criterion: &Resolved) -> Result<(), RecordError> {
    for resource in criterion.related_resources() {
        if let Some(scope) = Scope::read_of(resource) {
            actor.require(scope)?;
        }
    }
    Ok(())
}

fn condition_at(
    conn: &mut AnyConnection,
    actor: &Actor,
    draft: &SegmentDraft,
    walk: &mut Walk,
) -> Result<Sql, RecordError> {
    let entity = Segment::ENTITY;
    let backend = conn.backend();
    let criterion = criterion(conn, entity, draft.criteria.as_deref())?;
    if let Some(c) = &criterion {
        require_related(actor, c)?;
    }
    for (field, ids) in
        [("include_segment_ids", &draft.include_segment_ids), ("exclude_segment_ids", &draft.exclude_segment_ids)]
    {
        if ids.len() > MAX_REFERENCES {
            return Err(RecordError::invalid(entity, field, "too_many", format!("at most {MAX_REFERENCES} segments")));
        }
    }
    let mut cond = Sql::new(backend);
    cond.push("archived_at IS NULL");
    let mut any = Sql::new(backend);
    let mut parts = 0;
    if let Some(c) = &criterion {
        any.push("(").append(crm_db::sql::filter(c, backend)).push(")");
        parts += 1;
    }
    for id in &draft.include_segment_ids {
        if parts > 0 {
            any.push(" OR ");
        }
        any.push("id IN (").append(members_of(conn, actor, *id, "include_segment_ids", walk)?).push(")");
        parts += 1;
    }
    if parts > 0 {
        cond.push(" AND (").append(any).push(")");
    }
    for id in &draft.exclude_segment_ids {
        cond.push(" AND NOT COALESCE(id IN (")
            .append(members_of(conn, actor, *id, "exclude_segment_ids", walk)?)
            .push("), FALSE)");
    }
    Ok(cond)
}

/// `SELECT` of the contact ids of a referenced segment: its snapshot, or its definition.
fn members_of(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: SegmentId,
    field: &str,
    walk: &mut Walk,
) -> Result<Sql, RecordError> {
    let entity = Segment::ENTITY;
    if walk.path.contains(&id) {
        return Err(RecordError::invalid(entity, field, "cycle", format!("segment {id} leads back to this one")));
    }
    if walk.path.len() > MAX_NESTING {
        return Err(RecordError::invalid(
            entity,
            field,
            "too_deep",
            format!("segments nest at most {MAX_NESTING} deep"),
        ));
    }
    walk.expanded += 1;
    if walk.expanded > MAX_EXPANSIONS {
        return Err(RecordError::invalid(
            entity,
            field,
            "too_complex",
            format!("one evaluation expands at most {MAX_EXPANSIONS} segment definitions"),
        ));
    }
    let seg = Segment::find(conn, id)?
        .filter(|s| s.archived_at.is_none())
        .ok_or_else(|| RecordError::missing_reference(entity, field, "live segment", id))?;
    let mut out = Sql::new(conn.backend());
    if seg.kind == SegmentKind::Snapshot {
        // Frozen rows, but read through the criterion's relations all the same.
        if let Some(c) = criterion(conn, entity, Some(&seg.criteria))? {
            require_related(actor, &c)?;
        }
        out.push("SELECT contact_id FROM segment_members WHERE segment_id = ").bind(id.0);
        return Ok(out);
    }
    walk.path.push(id);
    let inner = condition_at(conn, actor, &seg.draft(), walk)?;
    walk.path.pop();
    out.push("SELECT id FROM contacts WHERE ").append(inner);
    Ok(out)
}

/// One page of contacts matching `cond`, in id order after `after`.
fn page_of(
    conn: &mut AnyConnection,
    mut cond: Sql,
    after: Option<ContactId>,
    limit: u32,
) -> Result<Page<crm_contacts::Contact>, RecordError> {
    if let Some(a) = after {
        cond.push(" AND id > ").bind(a.0);
    }
    let limit = crate::check_limit(limit)?;
    let mut ids: Vec<DbUuid> =
        contacts::table.filter(cond).select(contacts::id).order(contacts::id).limit(i64::from(limit) + 1).load(conn)?;
    let more = ids.len() > limit as usize;
    ids.truncate(limit as usize);
    let ids: Vec<ContactId> = ids.into_iter().map(|u| ContactId(u.0)).collect();
    let mut found = crm_contacts::Contact::find_many(conn, &ids, true)?;
    found.sort_by_key(|c| c.id);
    let next_cursor = if more { found.last().map(|c| c.id.to_string()) } else { None };
    Ok(Page { data: found, next_cursor, total: None })
}

/// The count and first members of a definition, without saving it.
pub fn preview(
    conn: &mut AnyConnection,
    actor: &Actor,
    draft: SegmentDraft,
    limit: u32,
) -> Result<SegmentPreview, RecordError> {
    actor.require(Scope::CampaignsRead)?;
    crate::check_limit(limit)?;
    let cond = condition(conn, actor, &draft, None)?;
    let count = crm_db::sql::count_where(conn, "contacts", cond.clone())?;
    let first = page_of(conn, cond, None, limit)?;
    Ok(SegmentPreview { count, data: first.data })
}

/// One page of a segment's members (its snapshot, or its definition now), in id order;
/// `total` is the number of members.
pub fn members(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: SegmentId,
    after: Option<ContactId>,
    limit: u32,
) -> Result<Page<crm_contacts::Contact>, RecordError> {
    crate::check_limit(limit)?;
    let seg = crm_records::get::<Segment>(conn, actor, id)?;
    let cond = member_condition(conn, actor, &seg)?;
    let total = crm_db::sql::count_where(conn, "contacts", cond.clone())?;
    let mut page = page_of(conn, cond, after, limit)?;
    page.total = Some(total);
    Ok(page)
}

/// The condition over `contacts` that selects a saved segment's members now.
pub fn member_condition(conn: &mut AnyConnection, actor: &Actor, seg: &Segment) -> Result<Sql, RecordError> {
    actor.require(Scope::ContactsRead)?;
    if seg.kind == SegmentKind::Snapshot {
        // The snapshot's members were chosen through its criterion's relations: the caller
        // must be allowed to read those, as for a dynamic segment.
        if let Some(c) = criterion(conn, Segment::ENTITY, Some(&seg.criteria))? {
            require_related(actor, &c)?;
        }
        let mut cond = Sql::new(conn.backend());
        cond.push("id IN (SELECT contact_id FROM segment_members WHERE segment_id = ").bind(seg.id.0).push(")");
        return Ok(cond);
    }
    condition(conn, actor, &seg.draft(), Some(seg.id))
}

/// Takes a snapshot segment's membership again (`snapshot_at` becomes now).
pub fn retake_snapshot(conn: &mut AnyConnection, actor: &Actor, id: SegmentId) -> Result<Segment, RecordError> {
    actor.require(Scope::CampaignsWrite)?;
    let seg = crm_records::get::<Segment>(conn, actor, id)?;
    if seg.kind != SegmentKind::Snapshot {
        return Err(RecordError::Conflict {
            entity: Segment::ENTITY,
            code: "SEGMENT_NOT_SNAPSHOT",
            reason: "only a snapshot segment is taken; a dynamic one is evaluated on every use".into(),
        });
    }
    let cond = condition(conn, actor, &seg.draft(), Some(id))?;
    let count = crm_db::sql::count_where(conn, "contacts", cond.clone())?;
    diesel::delete(segment_members::table.filter(segment_members::segment_id.eq(DbUuid(id.0)))).execute(conn)?;
    write_snapshot(conn, id, cond)?;
    let now = crm_db::to_utc(crm_db::now());
    crm_records::modify::<Segment>(conn, actor, id, |s| {
        s.snapshot_at = Some(now);
        s.member_count = Some(count);
        true
    })
}
