//! The email outbox: one message per targeted member of an email campaign with a template,
//! queued when the campaign launches and sent by the application's mail worker.
//!
//! The worker claims a batch of due messages with a lease (`crm_db::claim`: two instances never
//! take the same one) and, in the same transaction, renders each for its recipient and marks it
//! `sending`; it then hands the batch to the SMTP server and records each outcome (`sent`,
//! `bounced`, queued again after a temporary failure) in one more transaction. A crash can leave
//! only the batch being handed over in doubt: those messages are marked `unknown` when their
//! lease runs out and are not sent again (no one gets a campaign twice; `POST
//! /campaigns/{id}/sends/retry-unknown` sends them again on purpose). Consent is checked again
//! when a message is claimed: a contact who opted out or was archived since the launch is
//! `skipped`.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use crm_accounts::Account;
use crm_contacts::{Contact, EmailConsent};
use crm_core::ids::{CampaignId, ContactId, EntityId};
use crm_core::list::Page;
use crm_core::{Actor, Timestamp, wire_enum};
use crm_db::schema::campaign_sends;
use crm_db::sql::Sql;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;
use serde::Serialize;

use crate::campaigns::{Campaign, CampaignStatus};
use crate::members::{BounceKind, MemberStatus, ResponseInput};
use crate::templates::{EmailTemplate, render};
use crate::tracking::{Kind, Tokens};

wire_enum!(
    /// Where a campaign message stands.
    SendStatus {
        /// Waiting to be sent (again, after a temporary failure).
        Queued = "queued",
        /// Being handed to the SMTP server.
        Sending = "sending",
        /// The SMTP server took it.
        Sent = "sent",
        /// The SMTP server refused the address for good (a hard bounce).
        Bounced = "bounced",
        /// Temporary failures until the attempts ran out (a soft bounce), or a template that
        /// does not render for this recipient.
        Failed = "failed",
        /// Not sent: the contact opted out, lost its address or was archived after the launch.
        Skipped = "skipped",
        /// An instance stopped (or the SMTP server went silent) while handing it over: it may
        /// or may not have gone out.
        Unknown = "unknown",
    }
);

/// Marks the application puts on its database handle when it can send email (`CRM_SMTP_URL`):
/// an email campaign with a template launches only then.
#[derive(Clone, Copy, Debug, Default)]
pub struct MailerReady;

/// Attempts of a message before it fails (temporary failures).
pub const MAX_ATTEMPTS: i64 = 5;
/// Seconds to wait after the n-th temporary failure.
const RETRY: [i64; 4] = [60, 300, 1800, 7200];

/// Queues one message per targeted member with an email address (at launch). Returns how many.
pub(crate) fn queue(conn: &mut AnyConnection, c: &Campaign) -> Result<usize, RecordError> {
    use crm_db::schema::{campaign_members, contacts};
    let key = DbUuid(c.id.0);
    let rows: Vec<(DbUuid, Option<String>)> = campaign_members::table
        .inner_join(contacts::table.on(contacts::id.eq(campaign_members::contact_id)))
        .filter(campaign_members::campaign_id.eq(key))
        .filter(campaign_members::status.eq(MemberStatus::Targeted.as_str()))
        .select((campaign_members::contact_id, contacts::email))
        .load(conn)?;
    let now = crm_db::now();
    let mut n = 0;
    for chunk in rows.chunks(2000) {
        let values: Vec<_> = chunk
            .iter()
            .filter_map(|(contact, email)| {
                Some((
                    campaign_sends::id.eq(DbUuid(uuid::Uuid::now_v7())),
                    campaign_sends::campaign_id.eq(key),
                    campaign_sends::contact_id.eq(*contact),
                    campaign_sends::to_address.eq(email.clone()?),
                    campaign_sends::status.eq(SendStatus::Queued.as_str()),
                    campaign_sends::next_attempt_at.eq(now),
                    campaign_sends::created_at.eq(now),
                ))
            })
            .collect();
        n += match conn {
            AnyConnection::Postgresql(pg) => {
                diesel::insert_into(campaign_sends::table).values(&values).on_conflict_do_nothing().execute(pg)?
            }
            AnyConnection::Sqlite(lite) => {
                diesel::insert_into(campaign_sends::table).values(&values).on_conflict_do_nothing().execute(lite)?
            }
        };
    }
    Ok(n)
}

/// A message to hand to the SMTP server, rendered for its recipient.
#[derive(Clone, Debug)]
pub struct Mail {
    pub send_id: uuid::Uuid,
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub to: String,
    pub from_name: Option<String>,
    pub from_email: Option<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub html: String,
    pub text: Option<String>,
    /// `List-Unsubscribe` (RFC 2369) and its one-click form (RFC 8058).
    pub unsubscribe_url: String,
    /// The attempt this is.
    pub attempt: i64,
}

impl Mail {
    /// The MIME message: the template's sender (or `default_from`), `List-Unsubscribe` with its
    /// one-click form (RFC 8058), a `Message-ID` made of the message's id, and the text part
    /// beside the HTML one when the template has it.
    pub fn message(&self, default_from: &lettre::message::Mailbox) -> Result<lettre::Message, String> {
        use lettre::message::header::{HeaderName, HeaderValue};
        use lettre::message::{Mailbox, MultiPart, SinglePart};
        let from = match &self.from_email {
            Some(email) => Mailbox::new(
                self.from_name.clone().or_else(|| default_from.name.clone()),
                email.parse().map_err(|e| format!("from_email: {e}"))?,
            ),
            None => {
                Mailbox::new(self.from_name.clone().or_else(|| default_from.name.clone()), default_from.email.clone())
            }
        };
        let domain = from.email.domain().to_string();
        let to: Mailbox = self.to.parse().map_err(|e| format!("the address {}: {e}", self.to))?;
        let mut b = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", self.send_id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", self.unsubscribe_url),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.parse().map_err(|e| format!("reply_to: {e}"))?);
        }
        let built = match &self.text {
            Some(text) => b.multipart(MultiPart::alternative_plain_html(text.clone(), self.html.clone())),
            None => b.singlepart(SinglePart::html(self.html.clone())),
        };
        built.map_err(|e| e.to_string())
    }
}

/// Why a claimed message is not sent, if it is not: consent is checked again at send time.
fn skip_reason(person: Option<&Contact>, restricted: &HashSet<uuid::Uuid>) -> Option<&'static str> {
    let Some(p) = person else { return Some("the contact no longer exists") };
    if restricted.contains(&p.id.0) {
        Some("the processing of the contact's data is restricted")
    } else if p.archived_at.is_some() {
        Some("the contact was archived")
    } else if p.marketing_opt_out || p.email_consent == EmailConsent::OptedOut {
        Some("the contact opted out")
    } else if p.email.is_none() {
        Some("the contact has no email address")
    } else {
        None
    }
}

/// Claims up to `limit` due messages of running campaigns for `owner`, renders them for their
/// recipients and marks them `sending`, all in the caller's transaction. A message whose
/// recipient may no longer be contacted is `skipped`; one whose template does not render for
/// its recipient `failed`. `base` is the public URL tracking links start with.
pub fn claim(
    conn: &mut AnyConnection,
    owner: &str,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
    base: &str,
) -> Result<Vec<Mail>, RecordError> {
    let mut eligible = Sql::new(conn.backend());
    eligible
        .push("c.status = 'queued' AND c.next_attempt_at <= ")
        .bind(now)
        .push(" AND EXISTS (SELECT 1 FROM campaigns k WHERE k.id = c.campaign_id AND k.status = 'running')");
    let lease = crm_db::claim::Lease { owner, now, until: now + lease };
    let ids = crm_db::claim::claim(conn, "campaign_sends", eligible, "c.next_attempt_at, c.id", limit, lease)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(DbUuid, DbUuid, DbUuid, i64)> = campaign_sends::table
        .filter(crm_db::sql::in_ids("id", ids, conn.backend()))
        .select((campaign_sends::id, campaign_sends::campaign_id, campaign_sends::contact_id, campaign_sends::attempts))
        .order(campaign_sends::id)
        .load(conn)?;
    let system = Actor::system();
    let tokens = Tokens::load(conn)?;
    let contact_ids: Vec<ContactId> = rows.iter().map(|r| ContactId(r.2.0)).collect();
    let people: HashMap<ContactId, Contact> =
        crm_records::get_many::<Contact>(conn, &system, &contact_ids, false)?.into_iter().map(|c| (c.id, c)).collect();
    let restricted = crm_contacts::restrictions::restricted_contacts(conn)?;
    let account_ids: Vec<_> = people.values().filter_map(|c| c.account_id).collect();
    let accounts: HashMap<_, _> =
        crm_records::get_many::<Account>(conn, &system, &account_ids, false)?.into_iter().map(|a| (a.id, a)).collect();
    let mut campaigns: HashMap<uuid::Uuid, (Campaign, Option<EmailTemplate>)> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (id, campaign, contact, attempts) in rows {
        let (c, t) = match campaigns.entry(campaign.0) {
            std::collections::hash_map::Entry::Occupied(e) => &*e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let c = crm_records::get::<Campaign>(conn, &system, CampaignId(campaign.0))?;
                let t = match c.email_template_id {
                    Some(t) => Some(crm_records::get::<EmailTemplate>(conn, &system, t)?),
                    None => None,
                };
                &*e.insert((c, t))
            }
        };
        let person = people.get(&ContactId(contact.0));
        let rendered = match (skip_reason(person, &restricted), t) {
            (Some(reason), _) => Err((SendStatus::Skipped, reason.to_string())),
            (None, None) => Err((SendStatus::Skipped, "the campaign has no template".to_string())),
            (None, Some(t)) => {
                let account = person.and_then(|p| p.account_id).and_then(|a| accounts.get(&a));
                let url =
                    |kind: Kind, index: u16| format!("{base}/t/{}/{}", kind.path(), tokens.sign(id.0, kind, index));
                let unsubscribe_url = url(Kind::Unsubscribe, 0);
                let data = serde_json::json!({
                    "contact": person,
                    "account": account,
                    "campaign": {"id": c.id, "name": c.name, "type": c.campaign_type},
                    "unsubscribe_url": unsubscribe_url,
                    "response_url": url(Kind::Respond, 0),
                });
                let click = |i: usize| url(Kind::Click, u16::try_from(i).unwrap_or(u16::MAX));
                render(t, &data, Some(&click), Some(&url(Kind::Open, 0)))
                    .map(|r| (t, r, unsubscribe_url))
                    .map_err(|e| (SendStatus::Failed, format!("the template does not render for this contact: {e}")))
            }
        };
        let row = campaign_sends::table.filter(campaign_sends::id.eq(id));
        match rendered {
            Ok((t, r, unsubscribe_url)) => {
                let to = person.and_then(|p| p.email.clone()).unwrap_or_default();
                diesel::update(row)
                    .set((
                        campaign_sends::status.eq(SendStatus::Sending.as_str()),
                        campaign_sends::to_address.eq(&to),
                        campaign_sends::links.eq(DbJson(serde_json::json!(r.links))),
                    ))
                    .execute(conn)?;
                out.push(Mail {
                    send_id: id.0,
                    campaign_id: c.id,
                    contact_id: ContactId(contact.0),
                    to,
                    from_name: t.from_name.clone(),
                    from_email: t.from_email.clone(),
                    reply_to: t.reply_to.clone(),
                    subject: r.subject,
                    html: r.html,
                    text: r.text,
                    unsubscribe_url,
                    attempt: attempts + 1,
                });
            }
            Err((status, reason)) => {
                diesel::update(row)
                    .set((
                        campaign_sends::status.eq(status.as_str()),
                        campaign_sends::last_error.eq(reason),
                        campaign_sends::lease_owner.eq(None::<String>),
                        campaign_sends::lease_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(out)
}

/// What the SMTP server made of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It took it.
    Accepted,
    /// It refused the address for good (550, 551, 553): a hard bounce.
    Rejected(String),
    /// It could not take this message now (4xx) or refused its content: try again later,
    /// counting the attempt.
    Deferred(String),
    /// The server could not be used at all (no connection, TLS, authentication): the message
    /// goes back to the queue without counting an attempt.
    Unavailable(String),
    /// The server went silent after the message was handed over: it may have gone out.
    InDoubt(String),
}

/// Records what became of a batch of messages, on each message and on its member (`sent`,
/// `bounced`), with the members' events and history. `retry_scale` multiplies the waits (1;
/// tests less).
pub fn finish(
    conn: &mut AnyConnection,
    owner: &str,
    results: &[(Mail, Outcome)],
    now: NaiveDateTime,
    retry_scale: f64,
) -> Result<(), RecordError> {
    let mut responses: HashMap<CampaignId, Vec<ResponseInput>> = HashMap::new();
    for (mail, outcome) in results {
        let row = campaign_sends::table
            .filter(campaign_sends::id.eq(DbUuid(mail.send_id)))
            .filter(campaign_sends::lease_owner.eq(owner));
        let attempt = match outcome {
            Outcome::Unavailable(_) => mail.attempt - 1,
            _ => mail.attempt,
        };
        let (status, member) = match outcome {
            Outcome::Accepted => (SendStatus::Sent, Some((MemberStatus::Sent, None))),
            Outcome::Rejected(_) => (SendStatus::Bounced, Some((MemberStatus::Bounced, Some(BounceKind::Hard)))),
            Outcome::Deferred(_) if attempt >= MAX_ATTEMPTS => {
                (SendStatus::Failed, Some((MemberStatus::Bounced, Some(BounceKind::Soft))))
            }
            Outcome::Deferred(_) | Outcome::Unavailable(_) => (SendStatus::Queued, None),
            Outcome::InDoubt(_) => (SendStatus::Unknown, None),
        };
        let error = match outcome {
            Outcome::Accepted => None,
            Outcome::Rejected(e) | Outcome::Deferred(e) | Outcome::Unavailable(e) | Outcome::InDoubt(e) => {
                Some(e.chars().take(500).collect::<String>())
            }
        };
        let wait = match outcome {
            Outcome::Unavailable(_) => 30,
            _ => RETRY.get(usize::try_from(attempt - 1).unwrap_or(0)).copied().unwrap_or(7200),
        };
        let next = now + Duration::milliseconds((wait as f64 * 1000.0 * retry_scale.clamp(0.0, 1.0)) as i64);
        diesel::update(row)
            .set((
                campaign_sends::status.eq(status.as_str()),
                campaign_sends::attempts.eq(attempt),
                campaign_sends::last_error.eq(error),
                campaign_sends::sent_at.eq((status == SendStatus::Sent).then_some(now)),
                campaign_sends::next_attempt_at.eq(next),
                campaign_sends::lease_owner.eq(None::<String>),
                campaign_sends::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        if let Some((status, bounce_kind)) = member {
            responses.entry(mail.campaign_id).or_default().push(ResponseInput {
                contact_id: mail.contact_id,
                status,
                response_type: None,
                bounce_kind,
                at: Some(to_utc(now)),
                note: None,
            });
        }
    }
    let system = Actor::system();
    for (campaign, batch) in responses {
        match crate::members::record_responses(conn, &system, campaign, batch.clone()) {
            Ok(_) => {}
            // Cancelled while its messages were out: the messages' fate is kept, not the members'.
            Err(RecordError::Conflict { code: "CAMPAIGN_NOT_RUNNING", .. }) => {}
            // A member that cannot take it (removed meanwhile) must not lose the others'.
            Err(RecordError::Invalid { .. }) => {
                for r in batch {
                    match crate::members::record_responses(conn, &system, campaign, vec![r]) {
                        Ok(_) | Err(RecordError::Invalid { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Messages an instance was handing over when it stopped (their lease ran out while `sending`)
/// become `unknown`: they may have gone out, and are not sent twice. Returns how many.
pub fn sweep(conn: &mut AnyConnection, now: NaiveDateTime) -> Result<usize, RecordError> {
    Ok(diesel::update(
        campaign_sends::table
            .filter(campaign_sends::status.eq(SendStatus::Sending.as_str()))
            .filter(campaign_sends::lease_until.lt(now)),
    )
    .set((
        campaign_sends::status.eq(SendStatus::Unknown.as_str()),
        campaign_sends::last_error.eq("the instance sending it stopped while handing it over"),
        campaign_sends::lease_owner.eq(None::<String>),
        campaign_sends::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?)
}

/// How a campaign's messages stand, with the pace they go out at.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct SendProgress {
    /// Every message of the campaign (one per member with an address at launch).
    pub total: i64,
    /// Waiting to be sent (again).
    pub queued: i64,
    /// Being handed to the SMTP server now.
    pub sending: i64,
    /// Taken by the SMTP server.
    pub sent: i64,
    /// Refused for good (hard bounces).
    pub bounced: i64,
    /// Out of attempts, or a template that did not render for the recipient.
    pub failed: i64,
    /// Not sent: the recipient opted out or was archived after the launch.
    pub skipped: i64,
    /// In doubt after an instance stopped mid-send (not sent again unless asked).
    pub unknown: i64,
    /// Messages sent in the last minute.
    pub sent_last_minute: i64,
    /// Seconds until the queue is empty at the last minute's pace; null when nothing is queued
    /// or nothing went out in the last minute.
    pub eta_seconds: Option<i64>,
}

/// Campaign messages waiting to be sent, over every campaign (for `/metrics`).
pub fn backlog(conn: &mut AnyConnection) -> diesel::QueryResult<i64> {
    campaign_sends::table.filter(campaign_sends::status.eq(SendStatus::Queued.as_str())).count().get_result(conn)
}

/// The count of a campaign's messages by status.
pub fn progress(conn: &mut AnyConnection, actor: &Actor, id: CampaignId) -> Result<SendProgress, RecordError> {
    crm_records::get::<Campaign>(conn, actor, id)?;
    let key = DbUuid(id.uuid());
    let rows: Vec<(String, i64)> = campaign_sends::table
        .filter(campaign_sends::campaign_id.eq(key))
        .group_by(campaign_sends::status)
        .select((campaign_sends::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut p = SendProgress::default();
    for (status, n) in rows {
        p.total += n;
        match SendStatus::parse(&status) {
            Some(SendStatus::Queued) => p.queued = n,
            Some(SendStatus::Sending) => p.sending = n,
            Some(SendStatus::Sent) => p.sent = n,
            Some(SendStatus::Bounced) => p.bounced = n,
            Some(SendStatus::Failed) => p.failed = n,
            Some(SendStatus::Skipped) => p.skipped = n,
            Some(SendStatus::Unknown) => p.unknown = n,
            None => {}
        }
    }
    let since = crm_db::now() - Duration::seconds(60);
    p.sent_last_minute = campaign_sends::table
        .filter(campaign_sends::campaign_id.eq(key))
        .filter(campaign_sends::status.eq(SendStatus::Sent.as_str()))
        .filter(campaign_sends::sent_at.ge(since))
        .count()
        .get_result(conn)?;
    p.eta_seconds = (p.queued + p.sending > 0 && p.sent_last_minute > 0)
        .then(|| ((p.queued + p.sending) * 60 + p.sent_last_minute - 1) / p.sent_last_minute);
    Ok(p)
}

/// Sends the campaign's `unknown` messages again, on purpose (the operator checked that they
/// did not go out). Returns how many were queued.
pub fn retry_unknown(conn: &mut AnyConnection, actor: &Actor, id: CampaignId) -> Result<usize, RecordError> {
    actor.require(Campaign::WRITE)?;
    let c = crm_records::get::<Campaign>(conn, actor, id)?;
    if c.status != CampaignStatus::Running {
        return Err(RecordError::Conflict {
            entity: Campaign::ENTITY,
            code: "CAMPAIGN_NOT_RUNNING",
            reason: format!("messages go out while a campaign runs; it is {}", c.status.as_str()),
        });
    }
    Ok(diesel::update(
        campaign_sends::table
            .filter(campaign_sends::campaign_id.eq(DbUuid(id.uuid())))
            .filter(campaign_sends::status.eq(SendStatus::Unknown.as_str())),
    )
    .set((
        campaign_sends::status.eq(SendStatus::Queued.as_str()),
        campaign_sends::next_attempt_at.eq(crm_db::now()),
        campaign_sends::last_error.eq(None::<String>),
    ))
    .execute(conn)?)
}

/// One message of a campaign, as the operator sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CampaignMessage {
    /// The message's id (also the local part of its `Message-ID`).
    pub id: uuid::Uuid,
    /// The member it goes to.
    pub contact_id: ContactId,
    /// The address it was (or will be) sent to.
    pub to_address: String,
    pub status: SendStatus,
    /// Attempts made (temporary failures are retried up to 5 times).
    pub attempts: i64,
    /// What went wrong last (the SMTP server's answer, or why it was skipped).
    pub last_error: Option<String>,
    /// When the SMTP server took it.
    pub sent_at: Option<Timestamp>,
    /// When it was queued (the launch).
    pub created_at: Timestamp,
}

/// A campaign's messages in contact id order, optionally of one status, `limit` at a time
/// after the contact `after`.
pub fn messages(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    status: Option<SendStatus>,
    after: Option<ContactId>,
    limit: u32,
) -> Result<Page<CampaignMessage>, RecordError> {
    crm_records::get::<Campaign>(conn, actor, id)?;
    let limit = crate::check_limit(limit)?;
    let key = DbUuid(id.0);
    let mut q = campaign_sends::table.filter(campaign_sends::campaign_id.eq(key)).into_boxed();
    if let Some(s) = status {
        q = q.filter(campaign_sends::status.eq(s.as_str()));
    }
    if let Some(a) = after {
        q = q.filter(campaign_sends::contact_id.gt(DbUuid(a.0)));
    }
    type Row = (DbUuid, DbUuid, String, String, i64, Option<String>, Option<NaiveDateTime>, NaiveDateTime);
    let mut rows: Vec<Row> = q
        .select((
            campaign_sends::id,
            campaign_sends::contact_id,
            campaign_sends::to_address,
            campaign_sends::status,
            campaign_sends::attempts,
            campaign_sends::last_error,
            campaign_sends::sent_at,
            campaign_sends::created_at,
        ))
        .order(campaign_sends::contact_id)
        .limit(i64::from(limit) + 1)
        .load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<CampaignMessage> = rows
        .into_iter()
        .map(|(id, contact, to, status, attempts, last_error, sent_at, created_at)| CampaignMessage {
            id: id.0,
            contact_id: ContactId(contact.0),
            to_address: to,
            status: SendStatus::parse(&status).unwrap_or(SendStatus::Unknown),
            attempts,
            last_error,
            sent_at: sent_at.map(to_utc),
            created_at: to_utc(created_at),
        })
        .collect();
    let next_cursor = if more { data.last().map(|m| m.contact_id.to_string()) } else { None };
    Ok(Page { data, next_cursor, total: None })
}
