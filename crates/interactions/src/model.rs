//! An interaction (one entry of the contact history) as clients see it.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, CaseId, ContactId, InteractionId, LeadId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Patch, Timestamp, wire_enum};
use crm_users::Department;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// What kind of contact this was.
    InteractionType {
        Call = "call",
        Email = "email",
        Meeting = "meeting",
        Note = "note",
        Visit = "visit",
        Sms = "sms",
        Chat = "chat",
        Web = "web",
    }
);

wire_enum!(
    /// Who reached out.
    Direction {
        Inbound = "inbound",
        Outbound = "outbound",
    }
);

wire_enum!(
    /// How it went.
    Outcome {
        Connected = "connected",
        Voicemail = "voicemail",
        NoAnswer = "no_answer",
        Busy = "busy",
        WrongNumber = "wrong_number",
        Interested = "interested",
        NotInterested = "not_interested",
        FollowUp = "follow_up",
        Completed = "completed",
        Replied = "replied",
        Bounced = "bounced",
    }
);

/// A call, email, meeting, note, visit, SMS, chat or web visit with one or more contacts
/// and/or an account.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "InteractionFields", visible = false)
)]
pub struct Interaction {
    pub id: InteractionId,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub interaction_type: InteractionType,
    pub direction: Option<Direction>,
    /// The medium or tool, e.g. `phone`, `zoom`, `gmail`, `store`.
    pub channel: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub occurred_at: Timestamp,
    pub duration_seconds: Option<i64>,
    pub outcome: Option<Outcome>,
    /// The people involved (at least one contact or an account).
    pub contact_ids: Vec<ContactId>,
    /// Defaults to the first contact's account.
    pub account_id: Option<AccountId>,
    /// The opportunity this contact was about.
    pub opportunity_id: Option<uuid::Uuid>,
    /// The case this contact was about; an outbound interaction counts as its first response.
    pub case_id: Option<CaseId>,
    /// The lead this contact was with (before conversion); counts in the lead's score.
    pub lead_id: Option<LeadId>,
    /// The user who logged it (defaults to the caller's user).
    pub author_id: Option<UserId>,
    /// The department that had the contact (defaults to the author's).
    pub department: Option<Department>,
    pub tags: Vec<String>,
    /// Ids in other systems (a message id, a call id): the same email or call is stored once.
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// A new interaction, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct InteractionInput {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub interaction_type: Option<InteractionType>,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Renewal call"))]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Defaults to now.
    #[serde(default)]
    pub occurred_at: Option<Timestamp>,
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub contact_ids: Vec<ContactId>,
    #[serde(default)]
    pub account_id: Option<AccountId>,
    #[serde(default)]
    pub opportunity_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub case_id: Option<CaseId>,
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    #[serde(default)]
    pub author_id: Option<UserId>,
    #[serde(default)]
    pub department: Option<Department>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// A JSON merge patch of an interaction.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct InteractionPatch {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<InteractionType>))]
    pub interaction_type: Patch<InteractionType>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Direction>))]
    pub direction: Patch<Direction>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub channel: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub subject: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub body: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub occurred_at: Patch<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub duration_seconds: Patch<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Outcome>))]
    pub outcome: Patch<Outcome>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<uuid::Uuid>>))]
    pub contact_ids: Patch<Vec<ContactId>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub account_id: Patch<AccountId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub opportunity_id: Patch<uuid::Uuid>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub case_id: Patch<CaseId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub lead_id: Patch<LeadId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub author_id: Patch<UserId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Department>))]
    pub department: Patch<Department>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ExternalId>>))]
    pub external_ids: Patch<Vec<ExternalId>>,
}

impl InteractionPatch {
    pub fn apply(self, c: &Interaction) -> InteractionInput {
        let c = c.clone();
        let blank = c.id.0.is_nil();
        InteractionInput {
            interaction_type: self.interaction_type.apply_to((!blank).then_some(c.interaction_type)),
            direction: self.direction.apply_to(c.direction),
            channel: self.channel.apply_to(c.channel),
            subject: self.subject.apply_to(c.subject),
            body: self.body.apply_to(c.body),
            occurred_at: self.occurred_at.apply_to((!blank).then_some(c.occurred_at)),
            duration_seconds: self.duration_seconds.apply_to(c.duration_seconds),
            outcome: self.outcome.apply_to(c.outcome),
            // New participants without an account in the patch bring the first one's account.
            account_id: match (&self.contact_ids, self.account_id) {
                (Patch::Absent, a) => a.apply_to(c.account_id),
                (_, Patch::Absent) => None,
                (_, a) => a.apply_to(c.account_id),
            },
            contact_ids: self.contact_ids.apply_to(Some(c.contact_ids)).unwrap_or_default(),
            opportunity_id: self.opportunity_id.apply_to(c.opportunity_id),
            case_id: self.case_id.apply_to(c.case_id),
            lead_id: self.lead_id.apply_to(c.lead_id),
            author_id: self.author_id.apply_to(c.author_id),
            department: self.department.apply_to(c.department),
            tags: self.tags.apply_to(Some(c.tags)).unwrap_or_default(),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
}

/// Most contacts on one interaction.
pub const MAX_PARTICIPANTS: usize = 100;

impl InteractionInput {
    /// Validates and normalizes every field, reporting all problems at once.
    pub fn normalize(self) -> Result<InteractionInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.channel = opt(i.channel).map(|c| c.to_lowercase());
        i.subject = opt(i.subject);
        i.body = i.body.filter(|b| !b.trim().is_empty());
        if i.interaction_type.is_none() {
            errs.add("type", "required", "an interaction needs a type");
        }
        if i.subject.as_ref().is_some_and(|s| s.chars().count() > 500) {
            errs.add("subject", "too_long", "at most 500 characters");
        }
        if i.channel.as_ref().is_some_and(|s| s.chars().count() > 50) {
            errs.add("channel", "too_long", "at most 50 characters");
        }
        if i.body.as_ref().is_some_and(|b| b.len() > 1_000_000) {
            errs.add("body", "too_long", "at most 1000000 bytes");
        }
        if let Some(d) = i.duration_seconds
            && !(0..=7 * 24 * 3600).contains(&d)
        {
            errs.add("duration_seconds", "out_of_range", "0 to 604800 seconds");
        }
        let mut seen = Vec::with_capacity(i.contact_ids.len());
        for c in std::mem::take(&mut i.contact_ids) {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
        i.contact_ids = seen;
        if i.contact_ids.len() > MAX_PARTICIPANTS {
            errs.add("contact_ids", "too_many", format!("at most {MAX_PARTICIPANTS} contacts"));
        }
        if i.contact_ids.is_empty() && i.account_id.is_none() && i.lead_id.is_none() {
            errs.add("contact_ids", "required", "an interaction involves at least one contact, an account or a lead");
        }
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

impl Interaction {
    pub fn blank() -> Interaction {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        Interaction {
            id: InteractionId(uuid::Uuid::nil()),
            interaction_type: InteractionType::Note,
            direction: None,
            channel: None,
            subject: None,
            body: None,
            occurred_at: epoch,
            duration_seconds: None,
            outcome: None,
            contact_ids: Vec::new(),
            account_id: None,
            opportunity_id: None,
            case_id: None,
            lead_id: None,
            author_id: None,
            department: None,
            tags: Vec::new(),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}
