//! A support case as clients see it, its workflow, and its comments.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, CaseId, CommentId, ContactId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Patch, Timestamp, wire_enum};
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "CaseFields", visible = false))]
pub struct Case {
    pub id: CaseId,
    /// Human-readable and unique, e.g. `CS-000042`; assigned on creation.
    pub number: String,
    pub subject: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub case_type: CaseType,
    pub priority: Priority,
    pub status: CaseStatus,
    pub origin: Option<CaseOrigin>,
    pub contact_id: Option<ContactId>,
    pub account_id: Option<AccountId>,
    pub assignee_id: Option<UserId>,
    pub team: Option<String>,
    /// When the SLA clock started: creation, or the latest reopening.
    pub sla_started_at: Option<Timestamp>,
    /// When the case should be resolved: `sla_started_at` plus the priority's target
    /// (recomputed when the priority changes).
    pub sla_due_at: Option<Timestamp>,
    /// The first customer-visible answer: a public comment, or an outbound interaction on the
    /// case, or a move to `pending`/`resolved`.
    pub first_response_at: Option<Timestamp>,
    /// Set when the case is resolved; cleared when it reopens.
    pub resolved_at: Option<Timestamp>,
    /// Set when the case is closed; cleared when it reopens.
    pub closed_at: Option<Timestamp>,
    /// Customer satisfaction, 1 to 5.
    pub satisfaction: Option<i32>,
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// A new case, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CaseInput {
    #[cfg_attr(feature = "openapi", schema(example = "Invoice shows the wrong VAT rate"))]
    pub subject: Option<String>,
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
    pub status: Option<CaseStatus>,
    #[serde(default)]
    pub origin: Option<CaseOrigin>,
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Defaults to the contact's account.
    #[serde(default)]
    pub account_id: Option<AccountId>,
    /// An active user.
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    #[serde(default)]
    pub team: Option<String>,
    /// 1 to 5.
    #[serde(default)]
    pub satisfaction: Option<i32>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// A JSON merge patch of a case. Moving `status` follows the workflow; an illegal move is 422
/// `INVALID_TRANSITION`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CasePatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub subject: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Patch<String>,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<CaseType>))]
    pub case_type: Patch<CaseType>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Priority>))]
    pub priority: Patch<Priority>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<CaseStatus>))]
    pub status: Patch<CaseStatus>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<CaseOrigin>))]
    pub origin: Patch<CaseOrigin>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub contact_id: Patch<ContactId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub account_id: Patch<AccountId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub assignee_id: Patch<UserId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub team: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>))]
    pub satisfaction: Patch<i32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ExternalId>>))]
    pub external_ids: Patch<Vec<ExternalId>>,
}

impl CasePatch {
    pub fn apply(self, c: &Case) -> CaseInput {
        let c = c.clone();
        CaseInput {
            subject: self.subject.apply_to(Some(c.subject).filter(|s| !s.is_empty())),
            description: self.description.apply_to(c.description),
            case_type: Some(self.case_type.apply_to(Some(c.case_type)).unwrap_or(CaseType::Question)),
            priority: Some(self.priority.apply_to(Some(c.priority)).unwrap_or(Priority::Normal)),
            // `null` is not a status: it keeps the current one.
            status: Some(self.status.apply_to(Some(c.status)).unwrap_or(c.status)),
            origin: self.origin.apply_to(c.origin),
            // A new contact without an account in the patch brings its own account.
            account_id: match (&self.contact_id, self.account_id) {
                (Patch::Absent, a) => a.apply_to(c.account_id),
                (_, Patch::Absent) => None,
                (_, a) => a.apply_to(c.account_id),
            },
            contact_id: self.contact_id.apply_to(c.contact_id),
            assignee_id: self.assignee_id.apply_to(c.assignee_id),
            team: self.team.apply_to(c.team),
            satisfaction: self.satisfaction.apply_to(c.satisfaction),
            tags: self.tags.apply_to(Some(c.tags)).unwrap_or_default(),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
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

impl Case {
    pub fn blank() -> Case {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        Case {
            id: CaseId(uuid::Uuid::nil()),
            number: String::new(),
            subject: String::new(),
            description: None,
            case_type: CaseType::Question,
            priority: Priority::Normal,
            status: CaseStatus::New,
            origin: None,
            contact_id: None,
            account_id: None,
            assignee_id: None,
            team: None,
            sla_started_at: None,
            sla_due_at: None,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            satisfaction: None,
            tags: Vec::new(),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}

/// A comment on a case, by anyone in any department.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CaseComment {
    pub id: CommentId,
    pub case_id: CaseId,
    /// The author's user, when the token's subject has one.
    pub author_id: Option<UserId>,
    /// The token subject that wrote it.
    pub author: String,
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
    #[cfg_attr(feature = "openapi", schema(example = "Called the customer back; credit note on its way."))]
    pub body: String,
    /// Defaults to `internal`. `public` comments need `cases:write`.
    #[serde(default)]
    pub visibility: Option<Visibility>,
    #[serde(default)]
    pub department: Option<Department>,
}
