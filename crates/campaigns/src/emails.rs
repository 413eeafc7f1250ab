//! One-to-one email: a rep writes to a contact (a follow-up, a quote) through the same SMTP
//! server and templates as campaigns, and the message is logged as an outbound email
//! interaction carrying its `Message-ID`; replies handed in by the mail system are matched by
//! `In-Reply-To`/`References` (to a logged email or a campaign message), else by the sender's
//! address, and logged as inbound interactions. A reply to a campaign message is the member's
//! response (`responded`, `replied`).

use crm_accounts::Account;
use crm_contacts::{Contact, EmailConsent};
use crm_core::ids::{CampaignId, CaseId, ContactId, EmailTemplateId, InteractionId, OpportunityId};
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::campaign_sends;
use crm_db::types::DbUuid;
use crm_interactions::{Direction, Interaction, InteractionInput, InteractionType};
use crm_records::{RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::members::{MemberStatus, ResponseInput, ResponseType};
use crate::templates::{Check, EmailTemplate};

/// The external id source under which email interactions carry their `Message-ID` (without
/// the angle brackets): `GET /interactions/by-external-id/message-id/{id}`.
pub const MESSAGE_ID: &str = "message-id";

/// An email from the caller to one contact: a template rendered for the contact, or a subject
/// and text (and HTML) written here, which may use the same merge fields.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct DirectEmailInput {
    /// A template to render for the contact (then leave `subject`, `text` and `html` out).
    #[serde(default)]
    pub template_id: Option<EmailTemplateId>,
    /// The subject (up to 500 characters).
    #[serde(default)]
    pub subject: Option<String>,
    /// The plain text (required without a template).
    #[serde(default)]
    pub text: Option<String>,
    /// An HTML part beside the text.
    #[serde(default)]
    pub html: Option<String>,
    /// The deal it is about (logged on the interaction).
    #[serde(default)]
    pub opportunity_id: Option<OpportunityId>,
    /// The support case it answers (logged on the interaction: a first response).
    #[serde(default)]
    pub case_id: Option<CaseId>,
}

/// A one-to-one email ready for the SMTP server.
#[derive(Clone, Debug)]
pub struct DirectMail {
    pub contact_id: ContactId,
    pub to: String,
    /// The sender's display name: the caller's user name.
    pub from_name: Option<String>,
    /// Where replies go: the caller's own address, when their user has one.
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Without the angle brackets.
    pub message_id: String,
    input: DirectEmailInput,
}

impl DirectMail {
    /// The MIME message: from the configured address under the caller's name, replies to the
    /// caller, its `Message-ID`; text and/or HTML. No `List-Unsubscribe`: it is not bulk mail.
    pub fn message(&self, default_from: &lettre::message::Mailbox) -> Result<lettre::Message, String> {
        use lettre::message::{Mailbox, MultiPart, SinglePart};
        let from =
            Mailbox::new(self.from_name.clone().or_else(|| default_from.name.clone()), default_from.email.clone());
        let to: Mailbox = self.to.parse().map_err(|e| format!("the address {}: {e}", self.to))?;
        let mut b = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .message_id(Some(format!("<{}>", self.message_id)));
        if let Some(r) = &self.reply_to
            && let Ok(r) = r.parse::<Mailbox>()
        {
            b = b.reply_to(r);
        }
        let built = match (&self.text, &self.html) {
            (Some(t), Some(h)) => b.multipart(MultiPart::alternative_plain_html(t.clone(), h.clone())),
            (None, Some(h)) => b.singlepart(SinglePart::html(h.clone())),
            (Some(t), None) => b.singlepart(SinglePart::plain(t.clone())),
            (None, None) => b.singlepart(SinglePart::plain(String::new())),
        };
        built.map_err(|e| e.to_string())
    }
}

/// Longest subject and text written by hand, as on interactions.
const MAX_SUBJECT: usize = 500;
const MAX_TEXT: usize = 256 * 1024;

/// Checks and renders a one-to-one email for `contact` from the caller; nothing is sent or
/// written. `domain` is the sender's domain (the right side of the `Message-ID`).
pub fn compose(
    conn: &mut AnyConnection,
    actor: &Actor,
    contact: ContactId,
    input: DirectEmailInput,
    domain: &str,
) -> Result<DirectMail, RecordError> {
    actor.require(Scope::InteractionsWrite)?;
    let entity = "email";
    let person = crm_records::get::<Contact>(conn, actor, contact)?;
    if person.archived_at.is_some() {
        return Err(RecordError::Conflict {
            entity,
            code: "CONTACT_ARCHIVED",
            reason: "the contact is archived; restore it to write to it".into(),
        });
    }
    let Some(to) = person.email.clone() else {
        return Err(RecordError::invalid(entity, "contact_id", "no_address", "the contact has no email address"));
    };
    if person.email_consent == EmailConsent::OptedOut {
        return Err(RecordError::Conflict {
            entity,
            code: "EMAIL_CONSENT_WITHDRAWN",
            reason: "the contact opted out of email; it is not written to on this channel".into(),
        });
    }
    let mut errs = FieldErrors::new();
    let written = input.subject.is_some() || input.text.is_some() || input.html.is_some();
    let template = match input.template_id {
        Some(_) if written => {
            errs.add("template_id", "conflict", "send a template or a subject and text, not both");
            None
        }
        Some(id) => Some(crm_records::get::<EmailTemplate>(conn, actor, id)?),
        None => {
            let subject = input.subject.as_deref().map(str::trim).filter(|s| !s.is_empty());
            match subject {
                None => errs.add("subject", "required", "an email needs a subject (or a template)"),
                Some(s) if s.chars().count() > MAX_SUBJECT => errs.add("subject", "too_long", "at most 500 characters"),
                _ => {}
            }
            match input.text.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => errs.add("text", "required", "an email needs its text (or a template)"),
                Some(t) if t.len() > MAX_TEXT => errs.add("text", "too_large", "at most 256 KiB"),
                _ => {}
            }
            if input.html.as_ref().is_some_and(|h| h.len() > MAX_TEXT) {
                errs.add("html", "too_large", "at most 256 KiB");
            }
            None
        }
    };
    if let Some(o) = input.opportunity_id {
        crm_records::check_ref(conn, entity, "opportunity_id", Some(o))?;
    }
    if let Some(c) = input.case_id {
        crm_records::check_ref(conn, entity, "case_id", Some(c))?;
    }
    errs.into_result().map_err(|errors| RecordError::Invalid { entity, errors })?;
    let account = match person.account_id {
        Some(a) => Account::find(conn, a)?,
        None => None,
    };
    let data = json!({
        "contact": person,
        "account": account,
        "campaign": null,
        "unsubscribe_url": "",
        "response_url": "",
    });
    let invalid = |field: &str, m: String| RecordError::invalid(entity, field, "invalid_template", m);
    let (subject, text, html) = match &template {
        Some(t) => {
            let r = crate::templates::render(t, &data, None, None).map_err(|m| invalid("template_id", m))?;
            (r.subject, r.text, Some(r.html))
        }
        None => {
            // Checked against every field a contact and an account have (a typo is refused),
            // then rendered for this contact (a value it lacks is empty), as templates are.
            let sample = crate::templates::sample_data(conn)?;
            let part = |field: &str, source: &str, html: bool| {
                crate::templates::render_part(source, html, Check::Strict, &sample).map_err(|m| invalid(field, m))?;
                crate::templates::render_part(source, html, Check::Lenient, &data).map_err(|m| invalid(field, m))
            };
            let subject = part("subject", input.subject.as_deref().unwrap_or_default().trim(), false)?;
            let text = part("text", input.text.as_deref().unwrap_or_default(), false)?;
            let html = input.html.as_deref().map(|h| part("html", h, true)).transpose()?;
            (subject.replace(['\r', '\n'], " ").trim().to_string(), Some(text), html)
        }
    };
    let me = crm_users::current_user(conn, actor)?;
    Ok(DirectMail {
        contact_id: person.id,
        to,
        from_name: me.as_ref().map(|u| u.name.clone()),
        reply_to: me.and_then(|u| u.email),
        subject,
        text,
        html,
        message_id: format!("{}@{domain}", uuid::Uuid::now_v7()),
        input,
    })
}

/// Logs a one-to-one email the SMTP server accepted: an outbound email interaction on the
/// contact (and its account, deal or case), by the caller, carrying the `Message-ID`.
pub fn log_sent(conn: &mut AnyConnection, actor: &Actor, mail: &DirectMail) -> Result<Interaction, RecordError> {
    let person = Contact::find(conn, mail.contact_id)?;
    crm_records::create::<Interaction>(
        conn,
        actor,
        InteractionInput {
            interaction_type: Some(InteractionType::Email),
            direction: Some(Direction::Outbound),
            channel: Some("email".into()),
            subject: Some(mail.subject.chars().take(MAX_SUBJECT).collect()),
            body: mail.text.clone().or_else(|| mail.html.clone()),
            contact_ids: vec![mail.contact_id],
            account_id: person.and_then(|p| p.account_id),
            opportunity_id: mail.input.opportunity_id.map(|o| o.0),
            case_id: mail.input.case_id,
            external_ids: vec![ExternalId::new(MESSAGE_ID, &mail.message_id)],
            ..Default::default()
        },
    )
}

/// An email received, as the mail system hands it over (an inbound webhook of the mail
/// provider, or a script reading a mailbox): enough to match and log it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct InboundEmail {
    /// Its `Message-ID` (angle brackets optional): handing the same message in again changes
    /// nothing.
    pub message_id: String,
    /// The sender's address.
    pub from: String,
    #[serde(default)]
    pub subject: Option<String>,
    /// The plain text (or the HTML below).
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    /// Its `In-Reply-To` header.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// Its `References` header, as a list of message ids.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub references: Vec<String>,
    /// When it arrived (default now).
    #[serde(default)]
    pub received_at: Option<Timestamp>,
}

crm_core::wire_enum!(
    /// What an inbound email was matched to.
    InboundMatch {
        /// A reply to a one-to-one email logged here.
        Reply = "reply",
        /// A reply to a campaign message this server sent: also the member's response.
        CampaignReply = "campaign_reply",
        /// Not a reply to anything known, but from a contact's address.
        Sender = "sender",
        /// Nothing known: not logged.
        None = "none",
    }
);

/// What receiving an email did.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct InboundResult {
    pub matched: InboundMatch,
    /// The inbound interaction logged (or logged before, for a message handed in again).
    pub interaction_id: Option<InteractionId>,
    /// The campaign whose message it answers.
    pub campaign_id: Option<CampaignId>,
    /// The contact it was logged on.
    pub contact_id: Option<ContactId>,
}

/// A message id without brackets or surrounding space.
fn bare(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim()
}

/// What an inbound email answers, and whom it concerns.
struct Thread {
    matched: InboundMatch,
    contacts: Vec<ContactId>,
    account: Option<crm_core::ids::AccountId>,
    opportunity: Option<uuid::Uuid>,
    case: Option<CaseId>,
    campaign: Option<CampaignId>,
}

/// The message `id` refers to: an email interaction logged here, or a campaign message (whose
/// `Message-ID` is its send id at the sender's domain).
fn thread_of(conn: &mut AnyConnection, id: &str) -> Result<Option<Thread>, RecordError> {
    let ext = ExternalId::new(MESSAGE_ID, id);
    if let Some(i) = crm_records::id_by_external_id::<InteractionId>(conn, &ext)?
        && let Some(i) = Interaction::find(conn, i)?
    {
        return Ok(Some(Thread {
            matched: InboundMatch::Reply,
            contacts: i.contact_ids,
            account: i.account_id,
            opportunity: i.opportunity_id,
            case: i.case_id,
            campaign: None,
        }));
    }
    let Some(send) = id.split_once('@').and_then(|(local, _)| uuid::Uuid::parse_str(local).ok()) else {
        return Ok(None);
    };
    let found: Option<(DbUuid, DbUuid)> = campaign_sends::table
        .filter(campaign_sends::id.eq(DbUuid(send)))
        .select((campaign_sends::campaign_id, campaign_sends::contact_id))
        .first(conn)
        .optional()?;
    let Some((campaign, contact)) = found else { return Ok(None) };
    let account = Contact::find(conn, ContactId(contact.0))?.and_then(|c| c.account_id);
    Ok(Some(Thread {
        matched: InboundMatch::CampaignReply,
        contacts: vec![ContactId(contact.0)],
        account,
        opportunity: None,
        case: None,
        campaign: Some(CampaignId(campaign.0)),
    }))
}

/// Receives an email: matched by `In-Reply-To`, then `References` (newest first), then the
/// sender's address; logged as an inbound email interaction on the contact(s) of what it
/// answers, with its deal or case; a reply to a campaign message records the member's
/// response. Idempotent by `message_id`.
pub fn receive(conn: &mut AnyConnection, actor: &Actor, input: InboundEmail) -> Result<InboundResult, RecordError> {
    actor.require(Scope::InteractionsWrite)?;
    let entity = "email";
    let mut errs = FieldErrors::new();
    let message_id = bare(&input.message_id).to_string();
    if message_id.is_empty() || message_id.chars().count() > 255 || message_id.chars().any(char::is_control) {
        errs.add("message_id", "invalid_value", "a message id is 1 to 255 printable characters");
    }
    let from = input.from.trim().to_lowercase();
    if from.parse::<lettre::Address>().is_err() {
        errs.add("from", "invalid_email", "the sender's address, like ann@example.com");
    }
    let now = crm_db::to_utc(crm_db::now());
    if input.received_at.is_some_and(|t| t.0 > now.0 + chrono::Duration::minutes(5)) {
        errs.add("received_at", "in_future", "an email received already");
    }
    if input.references.len() > 100 {
        errs.add("references", "too_many", "at most 100 message ids");
    }
    errs.into_result().map_err(|errors| RecordError::Invalid { entity, errors })?;

    let none = InboundResult { matched: InboundMatch::None, interaction_id: None, campaign_id: None, contact_id: None };
    // Handed in before: what was logged then.
    let ext = ExternalId::new(MESSAGE_ID, &message_id);
    if let Some(id) = crm_records::id_by_external_id::<InteractionId>(conn, &ext)?
        && let Some(i) = Interaction::find(conn, id)?
    {
        return Ok(InboundResult {
            matched: if i.direction == Some(Direction::Inbound) { InboundMatch::Reply } else { InboundMatch::None },
            interaction_id: Some(i.id),
            campaign_id: None,
            contact_id: i.contact_ids.first().copied(),
        });
    }
    let mut thread = None;
    let refs = input.in_reply_to.iter().chain(input.references.iter().rev());
    for r in refs.map(|r| bare(r)).filter(|r| !r.is_empty()) {
        if let Some(t) = thread_of(conn, r)? {
            thread = Some(t);
            break;
        }
    }
    if thread.is_none()
        && let Some(c) = crm_contacts::read::live_by_email(conn, &from)?
    {
        let account = Contact::find(conn, c)?.and_then(|p| p.account_id);
        thread = Some(Thread {
            matched: InboundMatch::Sender,
            contacts: vec![c],
            account,
            opportunity: None,
            case: None,
            campaign: None,
        });
    }
    let Some(t) = thread else { return Ok(none) };
    // The contacts as they are now: archived or removed ones are left off.
    let mut contacts = Vec::new();
    for c in &t.contacts {
        if Contact::find(conn, *c)?.is_some_and(|p| p.archived_at.is_none()) {
            contacts.push(*c);
        }
    }
    if contacts.is_empty() {
        return Ok(none);
    }
    let at = input.received_at.unwrap_or(now);
    let subject = input.subject.as_deref().map(|s| s.chars().take(MAX_SUBJECT).collect::<String>());
    let mut body = input.text.clone().filter(|s| !s.trim().is_empty()).or(input.html.clone());
    if let Some(b) = &mut body
        && b.len() > 1_000_000
    {
        let mut end = 1_000_000;
        while !b.is_char_boundary(end) {
            end -= 1;
        }
        b.truncate(end);
    }
    let logged = crm_records::create::<Interaction>(
        conn,
        &Actor::system(),
        InteractionInput {
            interaction_type: Some(InteractionType::Email),
            direction: Some(Direction::Inbound),
            channel: Some("email".into()),
            subject: subject.clone(),
            body,
            occurred_at: Some(at),
            contact_ids: contacts.clone(),
            account_id: t.account,
            opportunity_id: t.opportunity,
            case_id: t.case,
            external_ids: vec![ext],
            ..Default::default()
        },
    )?;
    if let Some(campaign) = t.campaign {
        let r = ResponseInput {
            contact_id: contacts[0],
            status: MemberStatus::Responded,
            response_type: Some(ResponseType::Replied),
            bounce_kind: None,
            at: Some(at),
            note: Some(format!("reply: {}", subject.unwrap_or_default()).chars().take(1000).collect()),
        };
        match crate::members::record_for(conn, &Actor::system(), campaign, vec![r]) {
            Ok(_) | Err(RecordError::Invalid { .. } | RecordError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(InboundResult {
        matched: t.matched,
        interaction_id: Some(logged.id),
        campaign_id: t.campaign,
        contact_id: Some(contacts[0]),
    })
}
