//! An interaction (one entry of the contact history) as clients see it.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, CaseId, ContactId, InteractionId, LeadId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Timestamp, wire_enum};
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
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(
    table = interactions,
    has_many(
        name = "contacts",
        column = "interaction_id",
        through = "interaction_contacts",
        far = "contact_id",
        to = crm_contacts::CONTACT_CATALOG
    )
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "InteractionFields", visible = false)
)]
pub struct Interaction {
    /// The record's id (UUIDv7: time-ordered).
    pub id: InteractionId,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    #[filter(sort)]
    pub interaction_type: InteractionType,
    #[filter(sort)]
    pub direction: Option<Direction>,
    /// The medium or tool, e.g. `phone`, `zoom`, `gmail`, `store`.
    #[filter(lower, sort)]
    pub channel: Option<String>,
    /// A one-line summary.
    #[filter(sort)]
    pub subject: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// When it happened (UTC).
    #[filter(sort)]
    pub occurred_at: Timestamp,
    /// How long it lasted, in seconds.
    #[filter(sort)]
    pub duration_seconds: Option<i64>,
    #[filter(sort)]
    pub outcome: Option<Outcome>,
    /// The customer's answer to "how likely are you to recommend us", 0 to 10 (a Net Promoter
    /// Score survey logged with the interaction).
    #[filter(sort)]
    pub nps: Option<i32>,
    /// The people involved (at least one contact or an account).
    #[filter]
    pub contact_ids: Vec<ContactId>,
    /// Defaults to the first contact's account.
    #[filter]
    pub account_id: Option<AccountId>,
    /// The opportunity this contact was about.
    #[filter]
    pub opportunity_id: Option<uuid::Uuid>,
    /// The case this contact was about; an outbound interaction counts as its first response.
    #[filter(relation = "case", to = crm_cases::CASE_CATALOG)]
    pub case_id: Option<CaseId>,
    /// The lead this contact was with (before conversion); counts in the lead's score.
    #[filter]
    pub lead_id: Option<LeadId>,
    /// The user who logged it (defaults to the caller's user).
    #[filter(relation = "author", to = crm_users::USER_CATALOG)]
    pub author_id: Option<UserId>,
    /// The department that had the contact (defaults to the author's).
    #[filter(sort)]
    pub department: Option<Department>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Ids in other systems (a message id, a call id): the same email or call is stored once.
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

/// A new interaction, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = InteractionPatch, record = Interaction)]
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
    /// A one-line summary.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Renewal call"))]
    pub subject: Option<String>,
    /// The text.
    #[serde(default)]
    pub body: Option<String>,
    /// Defaults to now.
    #[serde(default)]
    pub occurred_at: Option<Timestamp>,
    /// How long it lasted, in seconds.
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// "How likely are you to recommend us", 0 to 10.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10))]
    pub nps: Option<i32>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub contact_ids: Vec<ContactId>,
    /// The account it belongs to.
    #[serde(default)]
    #[patch(follows = contact_ids)]
    pub account_id: Option<AccountId>,
    /// The opportunity it concerns.
    #[serde(default)]
    pub opportunity_id: Option<uuid::Uuid>,
    /// The support case it belongs to.
    #[serde(default)]
    pub case_id: Option<CaseId>,
    /// The lead it concerns.
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    #[serde(default)]
    pub author_id: Option<UserId>,
    /// The department (a name).
    #[serde(default)]
    pub department: Option<Department>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
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
        if let Some(n) = i.nps
            && !(0..=10).contains(&n)
        {
            errs.add("nps", "out_of_range", "0 to 10");
        }
        if let Some(e) = values::check_sent("contact_ids", i.contact_ids.len(), MAX_PARTICIPANTS, "contacts").err() {
            errs.0.push(e);
            i.contact_ids.clear();
        }
        i.contact_ids = values::dedup(std::mem::take(&mut i.contact_ids));
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
