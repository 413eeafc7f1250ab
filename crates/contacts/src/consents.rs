//! Consent records: what a person (a contact or a lead) agreed to, or withdrew, for one purpose
//! (marketing, profiling, sharing with third parties) on one channel or all of them, with the
//! source, the time and the version of the text shown. One live record per person, purpose and
//! channel (`key`); every change is an event with field history, so the ledger of who agreed to
//! what, when, is the record's history.
//!
//! Marketing consents keep the contact's own flags in step (`email_consent`, `do_not_call`,
//! `do_not_mail`, `marketing_opt_out`), which campaigns read when they pick and send: granting
//! or withdrawing here is enforced by the next campaign. An unsubscribe link writes here too.

use crm_core::external::parse_external_ids;
use crm_core::ids::{ConsentId, ContactId, EntityId, LeadId};
use crm_core::values::clean;
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_records::visibility;
use crm_records::{Record, RecordError, Stored};
use serde::{Deserialize, Serialize};

use crate::model::{Contact, EmailConsent};

wire_enum!(
    /// What the person's data may be used for.
    ConsentPurpose {
        /// Campaigns and other marketing messages.
        Marketing = "marketing",
        /// Analyses of the person (segments, scores, predictions).
        Profiling = "profiling",
        /// Handing the person's data to other companies.
        ThirdPartySharing = "third_party_sharing",
    }
);

wire_enum!(
    /// How the person may be reached for the purpose.
    ConsentChannel {
        Email = "email",
        Phone = "phone",
        Post = "post",
        Sms = "sms",
    }
);

wire_enum!(
    /// Whether the person agrees.
    ConsentStatus {
        Granted = "granted",
        Withdrawn = "withdrawn",
    }
);

/// What a person agreed to, or withdrew, for one purpose on one channel (or all).
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = consents)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ConsentFields", visible = false))]
pub struct Consent {
    /// The record's id (UUIDv7: time-ordered).
    pub id: ConsentId,
    /// The person, when a contact (else `lead_id`).
    #[filter]
    pub contact_id: Option<ContactId>,
    /// The person, when a lead (else `contact_id`). A lead's consents move to the contact it
    /// converts into.
    #[filter]
    pub lead_id: Option<LeadId>,
    /// `marketing`, `profiling` or `third_party_sharing`.
    #[filter(sort)]
    pub purpose: ConsentPurpose,
    /// `email`, `phone`, `post` or `sms`; null: every channel (and the purposes that have none).
    #[filter(sort)]
    pub channel: Option<ConsentChannel>,
    /// `granted` or `withdrawn`.
    #[filter(sort)]
    pub status: ConsentStatus,
    /// Where it was given or withdrawn: `web_form:newsletter`, `phone_call`, `import:erp`,
    /// `unsubscribe_link`.
    #[filter(sort)]
    pub source: String,
    /// The version of the text the person agreed to (`privacy-notice-2026-03`); required when
    /// granted.
    #[filter]
    pub text_version: Option<String>,
    /// When the person gave or withdrew it (UTC); moves when the status changes.
    #[filter(sort)]
    pub captured_at: Timestamp,
    /// What proves it, for whoever asks later: a form submission's id, a call's reference.
    pub evidence: Option<String>,
    /// What makes it unique: the person, the purpose and the channel (`contact:<id>/marketing/email`,
    /// `…/any` for every channel). Set by the server.
    #[filter(sort)]
    pub key: String,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived (entered by mistake); null while it is live. Archiving does
    /// not change the contact's flags: record a withdrawal for that.
    pub archived_at: Option<Timestamp>,
}

/// A new consent record, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = ConsentPatch, record = Consent)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ConsentInput {
    /// The person, when a contact; it cannot change.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// The person, when a lead; it cannot change.
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    /// The purpose; it cannot change.
    #[serde(default)]
    pub purpose: Option<ConsentPurpose>,
    /// The channel (null: every channel); it cannot change.
    #[serde(default)]
    pub channel: Option<ConsentChannel>,
    /// `granted` or `withdrawn`.
    #[serde(default)]
    pub status: Option<ConsentStatus>,
    /// Where it was given or withdrawn, at most 200 characters.
    #[serde(default)]
    pub source: Option<String>,
    /// The version of the text agreed to, at most 100 characters; required when granted.
    #[serde(default)]
    pub text_version: Option<String>,
    /// When the person gave or withdrew it; defaults to now (and to now again when the status
    /// changes without one); not in the future.
    #[serde(default)]
    pub captured_at: Option<Timestamp>,
    /// What proves it, at most 500 characters.
    #[serde(default)]
    pub evidence: Option<String>,
    /// Ids in other systems, each unique among consent records.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// The one person a record about a person names (`contact_id` or `lead_id`, not both), as
/// `("contact", id)` or `("lead", id)`; a field error when none or both.
pub fn person_of(
    contact: Option<ContactId>,
    lead: Option<LeadId>,
    errs: &mut FieldErrors,
) -> Option<(&'static str, uuid::Uuid)> {
    match (contact, lead) {
        (Some(c), None) => Some(("contact", c.uuid())),
        (None, Some(l)) => Some(("lead", l.uuid())),
        (None, None) => {
            errs.add("contact_id", "required", "the person: `contact_id` or `lead_id`");
            None
        }
        (Some(_), Some(_)) => {
            errs.add("lead_id", "invalid_value", "one person: `contact_id` or `lead_id`, not both");
            None
        }
    }
}

/// How far in the future a `captured_at` may be (clocks disagree).
const SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// A text field: trimmed, at most `max` characters, required when `required`.
fn text(field: &str, raw: Option<&str>, max: usize, required: Option<&str>, errs: &mut FieldErrors) -> Option<String> {
    let v = raw.and_then(clean);
    match (&v, required) {
        (None, Some(why)) => errs.add(field, "required", why),
        (Some(v), _) if v.chars().count() > max => errs.add(field, "too_long", format!("at most {max} characters")),
        _ => {}
    }
    v
}

/// What to do instead of changing whose, what for or on which channel a consent is.
const NEW_INSTEAD: &str = "record a new consent instead";

/// The unique key of a consent: person, purpose, channel.
fn key_of(subject: (&str, uuid::Uuid), purpose: ConsentPurpose, channel: Option<ConsentChannel>) -> String {
    format!("{}:{}/{}/{}", subject.0, subject.1, purpose.as_str(), channel.map_or("any", |c| c.as_str()))
}

impl Record for Consent {
    type Input = ConsentInput;
    type Patch = ConsentPatch;

    const READ: Scope = Scope::ContactsRead;
    // A consent tells of its person: it is seen by whoever sees the contact or the lead.
    const SEEN_THROUGH: &'static [(&'static str, &'static str)] = &[("contact_id", "contact"), ("lead_id", "lead")];
    const WRITE: Scope = Scope::ContactsWrite;
    const DEFAULT_SORT: &'static str = "-captured_at";

    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: ConsentId,
        input: ConsentInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let mut errs = FieldErrors::new();
        let subject = person_of(input.contact_id, input.lead_id, &mut errs);
        errs.immutable("contact_id", prev.map(|p| p.contact_id), input.contact_id, NEW_INSTEAD);
        errs.immutable("lead_id", prev.map(|p| p.lead_id), input.lead_id, NEW_INSTEAD);
        if input.purpose.is_none() {
            errs.add("purpose", "required", "`marketing`, `profiling` or `third_party_sharing`");
        }
        errs.immutable("purpose", prev.map(|p| Some(p.purpose)), input.purpose, NEW_INSTEAD);
        errs.immutable("channel", prev.map(|p| p.channel), input.channel, NEW_INSTEAD);
        if input.status.is_none() {
            errs.add("status", "required", "`granted` or `withdrawn`");
        }
        let source = text("source", input.source.as_deref(), 200, Some("where it was given or withdrawn"), &mut errs);
        let granted = input.status == Some(ConsentStatus::Granted);
        let text_version = text(
            "text_version",
            input.text_version.as_deref(),
            100,
            granted.then_some("the version of the text the person agreed to"),
            &mut errs,
        );
        let evidence = text("evidence", input.evidence.as_deref(), 500, None, &mut errs);
        // A new status is given now unless the caller says when.
        let status_changed = prev.is_some_and(|p| Some(p.status) != input.status);
        let captured_at = match (input.captured_at, prev) {
            (Some(at), Some(p)) if status_changed && at == p.captured_at => now,
            (Some(at), _) => at,
            (None, _) => now,
        };
        if captured_at.0 > now.0 + SKEW {
            errs.add("captured_at", "in_future", "when the person gave or withdrew it: not in the future");
        }
        let external_ids = parse_external_ids("external_ids", input.external_ids, &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        let (Some(subject), Some(purpose), Some(status)) = (subject, input.purpose, input.status) else {
            return Err(RecordError::Invalid { entity: Self::ENTITY, errors: FieldErrors::new() });
        };
        // The person must exist and be one the caller sees (contacts and leads have owners).
        if prev.is_none()
            && let Some(owned) = visibility::owned_entity(subject.0)
            && visibility::sees_raw(conn, actor, owned, subject.1)? != Some(true)
        {
            let field = if subject.0 == "contact" { "contact_id" } else { "lead_id" };
            return Err(RecordError::missing_reference(Self::ENTITY, field, subject.0, subject.1));
        }
        let mut c = prev.cloned().unwrap_or_else(<Consent as Stored>::blank);
        c.id = id;
        c.contact_id = input.contact_id;
        c.lead_id = input.lead_id;
        c.purpose = purpose;
        c.channel = input.channel;
        c.status = status;
        c.source = source.unwrap_or_default();
        c.text_version = text_version;
        c.captured_at = captured_at;
        c.evidence = evidence;
        c.key = key_of(subject, purpose, input.channel);
        c.external_ids = external_ids;
        Ok(c)
    }

    fn unique(&self) -> Vec<(&'static str, &str)> {
        vec![("key", self.key.as_str())]
    }

    const UNIQUE_FIELDS: &'static [&'static str] = &["key"];

    fn after_write(
        conn: &mut AnyConnection,
        actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        sync_contact(conn, actor, before, after)
    }
}

/// Keeps a contact's marketing flags in step with a marketing consent that was given,
/// withdrawn, or moved to it: `email_consent`, `do_not_call`, `do_not_mail`,
/// `marketing_opt_out` (every channel). The contact gets an `updated` event when a flag moves.
fn sync_contact(
    conn: &mut AnyConnection,
    actor: &Actor,
    before: Option<&Consent>,
    after: &Consent,
) -> Result<(), RecordError> {
    let unchanged = before.is_some_and(|b| b.status == after.status && b.contact_id == after.contact_id);
    if after.archived_at.is_some() || unchanged || after.purpose != ConsentPurpose::Marketing {
        return Ok(());
    }
    let Some(contact) = after.contact_id else { return Ok(()) };
    let withdrawn = after.status == ConsentStatus::Withdrawn;
    let at = after.captured_at;
    crm_records::modify::<Contact>(conn, &actor.beyond_visibility(), contact, |c| {
        let before = c.clone();
        match after.channel {
            Some(ConsentChannel::Email) => {
                let next = if withdrawn { EmailConsent::OptedOut } else { EmailConsent::OptedIn };
                if c.email_consent != next {
                    c.email_consent = next;
                    c.email_consent_at = Some(at);
                }
            }
            Some(ConsentChannel::Phone) => c.do_not_call = withdrawn,
            Some(ConsentChannel::Post) => c.do_not_mail = withdrawn,
            Some(ConsentChannel::Sms) => {}
            None => c.marketing_opt_out = withdrawn,
        }
        *c != before
    })?;
    Ok(())
}

/// Records that a contact withdrew its marketing consent on `channel` (an unsubscribe link, a
/// response marked `unsubscribed`): the live consent record for it is updated, or one is made.
/// Written as `actor`, which needs no contact scope: it is the effect of the use case that
/// called (the recipient's own click, a campaign's response).
pub fn withdraw(
    conn: &mut AnyConnection,
    actor: &Actor,
    contact: ContactId,
    channel: ConsentChannel,
    source: &str,
) -> Result<Consent, RecordError> {
    let mut actor = actor.beyond_visibility();
    actor.scopes.insert(Scope::ContactsWrite);
    let key = key_of(("contact", contact.uuid()), ConsentPurpose::Marketing, Some(channel));
    let Some(id) = crm_records::write::live_with::<Consent>(conn, "key", &key, None)? else {
        let input = ConsentInput {
            contact_id: Some(contact),
            purpose: Some(ConsentPurpose::Marketing),
            channel: Some(channel),
            status: Some(ConsentStatus::Withdrawn),
            source: Some(source.to_string()),
            ..Default::default()
        };
        return crm_records::create::<Consent>(conn, &actor, input);
    };
    let now = crm_db::to_utc(crm_db::now());
    let mut before = None;
    let after = crm_records::modify::<Consent>(conn, &actor, id, |c| {
        before = Some(c.clone());
        c.status = ConsentStatus::Withdrawn;
        c.source = source.to_string();
        c.captured_at = now;
        before.as_ref().is_some_and(|b| b.status != ConsentStatus::Withdrawn)
    })?;
    sync_contact(conn, &actor, before.as_ref(), &after)?;
    Ok(after)
}

/// Moves the live consents of `from` (`lead_id` of a converted lead, or `contact_id` of a
/// merged contact) to `contact`. Where the contact already has a live record for the same
/// purpose and channel, the person's latest word (`captured_at`) stays and the other is
/// archived (its history kept). Returns how many records now point at the contact.
pub fn reassign(
    conn: &mut AnyConnection,
    actor: &Actor,
    from: (&'static str, uuid::Uuid),
    contact: ContactId,
) -> Result<usize, RecordError> {
    let actor = actor.beyond_visibility();
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push(from.0).push(" = ").bind(from.1).push(" AND archived_at IS NULL");
    let ids = crm_db::sql::ids_where(conn, Consent::catalog().table, cond)?;
    let mut moved = 0;
    for id in ids.into_iter().map(ConsentId) {
        let consent = crm_records::get::<Consent>(conn, &actor, id)?;
        let key = key_of(("contact", contact.uuid()), consent.purpose, consent.channel);
        if let Some(theirs) = crm_records::write::live_with::<Consent>(conn, "key", &key, None)? {
            let theirs = crm_records::get::<Consent>(conn, &actor, theirs)?;
            if theirs.captured_at >= consent.captured_at {
                crm_records::archive::<Consent>(conn, &actor, id, None)?;
                continue;
            }
            crm_records::archive::<Consent>(conn, &actor, theirs.id, None)?;
        }
        let after = crm_records::modify::<Consent>(conn, &actor, id, |c| {
            c.contact_id = Some(contact);
            c.lead_id = None;
            c.key = key.clone();
            true
        })?;
        sync_contact(conn, &actor, Some(&consent), &after)?;
        moved += 1;
    }
    Ok(moved)
}

/// The contacts whose live consent for `purpose` on every channel is withdrawn (one
/// statement, by the consents' partial index on status): those a use case of that purpose
/// leaves out (profiling: the analyses).
pub fn withdrawn(
    conn: &mut AnyConnection,
    purpose: ConsentPurpose,
) -> diesel::QueryResult<std::collections::HashSet<uuid::Uuid>> {
    use crm_db::schema::consents;
    use diesel::prelude::*;
    let ids: Vec<crm_db::types::DbUuid> = consents::table
        .filter(consents::purpose.eq(purpose.as_str()))
        .filter(consents::channel.is_null())
        .filter(consents::status.eq(ConsentStatus::Withdrawn.as_str()))
        .filter(consents::archived_at.is_null())
        .filter(consents::contact_id.is_not_null())
        .select(consents::contact_id.assume_not_null())
        .load(conn)?;
    Ok(ids.into_iter().map(|u| u.0).collect())
}

/// Whether `contact` withdrew its consent for `purpose` on every channel.
pub fn is_withdrawn(
    conn: &mut AnyConnection,
    contact: ContactId,
    purpose: ConsentPurpose,
) -> Result<bool, RecordError> {
    let key = key_of(("contact", contact.uuid()), purpose, None);
    Ok(match crm_records::write::live_with::<Consent>(conn, "key", &key, None)? {
        Some(id) => Consent::find(conn, id)?.is_some_and(|c| c.status == ConsentStatus::Withdrawn),
        None => false,
    })
}
