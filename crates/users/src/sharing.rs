//! Who sees which record: sharing rules (a resource's level, set by an administrator) and
//! shares (one record made visible to a user or a team). Both are records, so every change is
//! an event with history. What the levels mean and how they are enforced is in
//! `crm_records::visibility`.

use crm_core::external::parse_external_ids;
use crm_core::ids::{ShareId, SharingRuleId, UserId};
use crm_core::values::clean;
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_records::visibility::{self, SharingLevel};
use crm_records::{Record, RecordError, Stored};
use serde::{Deserialize, Serialize};

/// How widely the records of one resource are seen: overrides the resource's default level.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = sharing_rules)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "SharingRuleFields", visible = false)
)]
pub struct SharingRule {
    /// The record's id (UUIDv7: time-ordered).
    pub id: SharingRuleId,
    /// The resource, by its entity name: `account`, `contact`, `case`, `lead`, `opportunity`,
    /// `activity`, `target_list`, `quota`, `campaign` or `share`. One live rule each.
    #[filter(sort)]
    pub entity: String,
    /// `public`, `team` or `private`.
    #[filter(sort)]
    pub level: SharingLevel,
    /// Why, for the next administrator.
    pub note: Option<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the rule was archived (the resource is back at its default level); null while it
    /// is live.
    pub archived_at: Option<Timestamp>,
}

/// A new sharing rule, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = SharingRulePatch, record = SharingRule)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct SharingRuleInput {
    /// The resource (entity name); it cannot change.
    #[cfg_attr(feature = "openapi", schema(example = "opportunity"))]
    pub entity: Option<String>,
    /// `public`, `team` or `private`.
    #[serde(default)]
    pub level: Option<SharingLevel>,
    /// Free text, at most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
    /// Ids in other systems, each unique among sharing rules.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// The entity names a rule or a share may name.
fn entities(except: &str) -> String {
    visibility::OWNED.iter().map(|o| o.entity).filter(|e| *e != except).collect::<Vec<_>>().join(", ")
}

/// A note: trimmed, at most 500 characters.
fn note(raw: Option<String>, errs: &mut FieldErrors) -> Option<String> {
    let n = raw.as_deref().and_then(clean);
    if n.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errs.add("note", "too_long", "at most 500 characters");
    }
    n
}

/// What to do instead of changing a field that cannot change.
const ARCHIVE_INSTEAD: &str = "archive this record and make another";

impl Record for SharingRule {
    type Input = SharingRuleInput;
    type Patch = SharingRulePatch;

    const READ: Scope = Scope::UsersRead;
    const WRITE: Scope = Scope::SharingWrite;
    const DEFAULT_SORT: &'static str = "entity";

    fn build(
        _conn: &mut AnyConnection,
        _actor: &Actor,
        id: SharingRuleId,
        input: SharingRuleInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let mut errs = FieldErrors::new();
        let entity = input.entity.as_deref().map(str::trim).unwrap_or_default().to_string();
        if entity.is_empty() {
            errs.add("entity", "required", format!("name the resource: {}", entities("")));
        } else if visibility::owned_entity(&entity).is_none() {
            errs.add(
                "entity",
                "invalid_value",
                format!("`{entity}` has no owner to share by; one of: {}", entities("")),
            );
        }
        errs.immutable("entity", prev.map(|p| &p.entity), &entity, ARCHIVE_INSTEAD);
        if input.level.is_none() {
            errs.add("level", "required", "`public`, `team` or `private`");
        }
        let note = note(input.note, &mut errs);
        let external_ids = parse_external_ids("external_ids", input.external_ids, &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        let mut r = prev.cloned().unwrap_or_else(<SharingRule as Stored>::blank);
        r.id = id;
        r.entity = entity;
        r.level = input.level.unwrap_or(SharingLevel::Public);
        r.note = note;
        r.external_ids = external_ids;
        Ok(r)
    }

    fn unique(&self) -> Vec<(&'static str, &str)> {
        vec![("entity", self.entity.as_str())]
    }

    const UNIQUE_FIELDS: &'static [&'static str] = &["entity"];
}

/// One record made visible to a user or to the members of a team, beyond its resource's
/// sharing level. Archiving a share revokes it.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = record_shares)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ShareFields", visible = false))]
pub struct Share {
    /// The record's id (UUIDv7: time-ordered).
    pub id: ShareId,
    /// The shared record's resource, by entity name (`opportunity`).
    #[filter(sort)]
    pub entity: String,
    /// The shared record's id.
    #[filter]
    pub record_id: uuid::Uuid,
    /// The user it is shared with.
    #[filter]
    pub user_id: Option<UserId>,
    /// The team it is shared with (everyone whose `team` is this name).
    #[filter(sort)]
    pub team: Option<String>,
    /// Who shared it (set by the server: the caller's user).
    #[filter]
    pub granted_by: Option<UserId>,
    /// Why, for whoever reads it later.
    pub note: Option<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the share was revoked (archived); null while it is in force.
    pub archived_at: Option<Timestamp>,
}

/// A new share, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = SharePatch, record = Share)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ShareInput {
    /// The shared record's resource (entity name); it cannot change.
    #[cfg_attr(feature = "openapi", schema(example = "opportunity"))]
    pub entity: Option<String>,
    /// The shared record: one the caller sees and may write. It cannot change.
    #[serde(default)]
    pub record_id: Option<uuid::Uuid>,
    /// The user to share with (or `team`, or both).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// The team to share with, by name.
    #[serde(default)]
    pub team: Option<String>,
    /// Free text, at most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
    /// Ids in other systems, each unique among shares.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl Record for Share {
    type Input = ShareInput;
    type Patch = SharePatch;

    const READ: Scope = Scope::UsersRead;
    const WRITE: Scope = Scope::SharesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.granted_by.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: ShareId,
        input: ShareInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let mut errs = FieldErrors::new();
        let entity = input.entity.as_deref().map(str::trim).unwrap_or_default().to_string();
        let owned = visibility::owned_entity(&entity).filter(|o| o.entity != Self::ENTITY);
        if entity.is_empty() {
            errs.add("entity", "required", format!("name the shared record's resource: {}", entities("share")));
        } else if owned.is_none() {
            errs.add("entity", "invalid_value", format!("`{entity}` cannot be shared; one of: {}", entities("share")));
        }
        errs.immutable("entity", prev.map(|p| &p.entity), &entity, ARCHIVE_INSTEAD);
        if input.record_id.is_none() {
            errs.add("record_id", "required", "the id of the record to share");
        }
        let record_id = input.record_id.unwrap_or_default();
        errs.immutable("record_id", prev.map(|p| &p.record_id), &record_id, ARCHIVE_INSTEAD);
        let team = input.team.as_deref().and_then(clean);
        if team.as_ref().is_some_and(|t| t.chars().count() > 200) {
            errs.add("team", "too_long", "at most 200 characters");
        }
        if input.user_id.is_none() && team.is_none() {
            errs.add("user_id", "required", "share with a user (`user_id`), a team (`team`), or both");
        }
        let note = note(input.note, &mut errs);
        let external_ids = parse_external_ids("external_ids", input.external_ids, &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        if let Some(owned) = owned
            && prev.is_none()
        {
            // Sharing a record is writing to who sees it: it takes the scope that writes it,
            // and a record the caller does not see does not exist for it.
            actor.require(owned.write)?;
            if visibility::sees_raw(conn, actor, owned, record_id)? != Some(true) {
                return Err(RecordError::missing_reference(Self::ENTITY, "record_id", &entity, record_id));
            }
        }
        if prev.is_none_or(|p| p.user_id != input.user_id) {
            crate::check_user(conn, Self::ENTITY, "user_id", input.user_id, true)?;
        }
        let mut s = prev.cloned().unwrap_or_else(<Share as Stored>::blank);
        if prev.is_none() {
            s.granted_by = crate::current_user_id(conn, actor)?;
        }
        s.id = id;
        s.entity = entity;
        s.record_id = record_id;
        s.user_id = input.user_id;
        s.team = team;
        s.note = note;
        s.external_ids = external_ids;
        Ok(s)
    }
}
