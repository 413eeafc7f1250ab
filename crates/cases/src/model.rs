//! A support case as clients see it, its workflow, and its comments.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, CaseId, CommentId, ContactId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Timestamp, wire_enum};
use crm_users::Department;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// What the customer came with.
    CaseType {
        Question = "question",
        Complaint = "complaint",
        Claim = "claim",
        Incident = "incident",
        FeatureRequest = "feature_request",
    }
);

wire_enum!(
    /// Urgency; sets the SLA due time.
    Priority {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
);

wire_enum!(
    /// Workflow: `new → open → pending → resolved → closed`, with reopen (see `allowed_next`).
    CaseStatus {
        New = "new",
        Open = "open",
        Pending = "pending",
        Resolved = "resolved",
        Closed = "closed",
    }
);

wire_enum!(
    /// The channel the case came in through.
    CaseOrigin {
        Email = "email",
        Phone = "phone",
        Web = "web",
        Chat = "chat",
        InPerson = "in_person",
        Social = "social",
        Other = "other",
    }
);

wire_enum!(
    /// Who may see a comment: staff only, or the customer too.
    Visibility {
        Internal = "internal",
        Public = "public",
    }
);

impl CaseStatus {
    /// The statuses a case may move to from this one. `resolved` and `closed` reopen to `open`.
    pub fn allowed_next(self) -> &'static [CaseStatus] {
        use CaseStatus::*;
        match self {
            New => &[Open, Pending, Resolved],
            Open => &[Pending, Resolved],
            Pending => &[Open, Resolved],
            Resolved => &[Closed, Open],
            Closed => &[Open],
        }
    }

    /// Whether the case still needs work (counts against its SLA).
    pub fn is_open(self) -> bool {
        matches!(self, CaseStatus::New | CaseStatus::Open | CaseStatus::Pending)
    }
}

/// A customer inquiry, complaint, claim or ticket.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = cases)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "CaseFields", visible = false))]
pub struct Case {
    /// The record's id (UUIDv7: time-ordered).
    pub id: CaseId,
    /// Human-readable and unique, e.g. `CS-000042`; assigned on creation.
    #[filter(upper, sort)]
    pub number: String,
    /// A one-line summary.
    #[filter(sort)]
    pub subject: String,
    /// Free text.
    pub description: Option<String>,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[filter(sort)]
    pub case_type: CaseType,
    #[filter]
    pub priority: Priority,
    #[filter(sort)]
    pub status: CaseStatus,
    #[filter(sort)]
    pub origin: Option<CaseOrigin>,
    /// The contact it concerns.
    #[filter]
    pub contact_id: Option<ContactId>,
    /// The account it belongs to.
    #[filter]
    pub account_id: Option<AccountId>,
    #[filter(relation = "assignee", to = crm_users::USER_CATALOG)]
    pub assignee_id: Option<UserId>,
    /// The team (a name).
    #[filter(sort)]
    pub team: Option<String>,
    /// When the SLA clock started: creation, or the latest reopening.
    #[filter(sort)]
    pub sla_started_at: Option<Timestamp>,
    /// When the case should be resolved: `sla_started_at` plus the priority's target
    /// (recomputed when the priority changes).
    #[filter(sort)]
    pub sla_due_at: Option<Timestamp>,
    /// The first customer-visible answer: a public comment, or an outbound interaction on the
    /// case, or a move to `pending`/`resolved`.
    #[filter(sort)]
    pub first_response_at: Option<Timestamp>,
    /// Set when the case is resolved; cleared when it reopens.
    #[filter(sort)]
    pub resolved_at: Option<Timestamp>,
    /// Set when the case is closed; cleared when it reopens.
    #[filter(sort)]
    pub closed_at: Option<Timestamp>,
    /// Customer satisfaction, 1 to 5.
    #[filter(sort)]
    pub satisfaction: Option<i32>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Custom fields, by name: the fields an administrator defined for cases
    /// (`GET /api/v1/schema/cases/fields`), each value checked against its type.
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

/// A new case, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = CasePatch, record = Case, doc = "Moving `status` follows the workflow; an illegal move is 422 `INVALID_TRANSITION`.")]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CaseInput {
    /// A one-line summary.
    #[cfg_attr(feature = "openapi", schema(example = "Invoice shows the wrong VAT rate"))]
    pub subject: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to `question`.
    #[serde(default, rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub case_type: Option<CaseType>,
    /// Defaults to `normal`.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Defaults to `new`; changes follow the workflow.
    #[serde(default)]
    #[patch(keep_on_null)]
    pub status: Option<CaseStatus>,
    #[serde(default)]
    pub origin: Option<CaseOrigin>,
    /// The contact it concerns.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Defaults to the contact's account.
    #[serde(default)]
    #[patch(follows = contact_id)]
    pub account_id: Option<AccountId>,
    /// An active user.
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    /// The team (a name).
    #[serde(default)]
    pub team: Option<String>,
    /// 1 to 5.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub satisfaction: Option<i32>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Custom fields by name (`GET /api/v1/schema/cases/fields` lists them); a value of each
    /// field's type, `null` to clear one. A patch merges them key by key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[patch(merge)]
    pub custom_fields: Option<serde_json::Value>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl CaseInput {
    /// Validates and normalizes every field, reporting all problems at once.
    pub fn normalize(self) -> Result<CaseInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.subject = opt(i.subject);
        i.team = opt(i.team);
        i.description = i.description.filter(|d| !d.trim().is_empty());
        match &i.subject {
            None => errs.add("subject", "required", "a case needs a subject"),
            Some(s) if s.chars().count() > 300 => errs.add("subject", "too_long", "at most 300 characters"),
            _ => {}
        }
        if i.description.as_ref().is_some_and(|d| d.len() > 100_000) {
            errs.add("description", "too_long", "at most 100000 bytes");
        }
        if i.team.as_ref().is_some_and(|t| t.chars().count() > 100) {
            errs.add("team", "too_long", "at most 100 characters");
        }
        if let Some(s) = i.satisfaction
            && !(1..=5).contains(&s)
        {
            errs.add("satisfaction", "out_of_range", "1 to 5");
        }
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

/// A comment on a case, by anyone in any department.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CaseComment {
    pub id: CommentId,
    /// The support case it belongs to.
    pub case_id: CaseId,
    /// The author's user, when the token's subject has one.
    pub author_id: Option<UserId>,
    /// The token subject that wrote it.
    pub author: String,
    /// The text.
    pub body: String,
    pub visibility: Visibility,
    /// The author's department (defaults to the user's).
    pub department: Option<Department>,
    pub created_at: Timestamp,
}

/// A new comment.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CommentInput {
    /// The text.
    #[cfg_attr(feature = "openapi", schema(example = "Called the customer back; credit note on its way."))]
    pub body: String,
    /// Defaults to `internal`. `public` comments need `cases:write`.
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// The department (a name).
    #[serde(default)]
    pub department: Option<Department>,
}
