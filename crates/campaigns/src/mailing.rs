//! Post waves and uploaded outcomes: the mailing list of a post campaign (the members who may
//! receive it, with complete postal addresses, sorted for the post office: country, postal
//! code, name), marking the letters posted, and responses and returns uploaded as CSV (for any
//! channel: a returns file from the printer, a call list worked through in a spreadsheet).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::ids::{CampaignId, ContactId};
use crm_core::{Actor, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::{campaign_members, contacts};
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError};
use diesel::prelude::*;
use serde::Serialize;

use crate::campaigns::{Campaign, CampaignStatus, Channel};
use crate::members::{BounceKind, MAX_RESPONSES, MemberStatus, ResponseInput, ResponseType, Responses};

/// One letter of a post wave.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct MailingAddress {
    pub contact_id: ContactId,
    /// The name on the envelope: first and last name.
    pub name: String,
    pub title: Option<String>,
    /// The contact's account.
    pub company: Option<String>,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The member's status now.
    pub status: MemberStatus,
}

/// Members read per round.
const CHUNK: usize = 1000;

fn post_campaign(conn: &mut AnyConnection, actor: &Actor, id: CampaignId) -> Result<Campaign, RecordError> {
    let c = crm_records::get::<Campaign>(conn, actor, id)?;
    if c.channel != Channel::Post {
        return Err(RecordError::Conflict {
            entity: Campaign::ENTITY,
            code: "NOT_A_POST_CAMPAIGN",
            reason: format!("only post campaigns have a mailing; this one is {}", c.channel.as_str()),
        });
    }
    Ok(c)
}

/// A contact's address when it is complete (street, postal code, city and country).
fn address_of(p: &Contact, company: Option<String>, status: MemberStatus) -> Option<MailingAddress> {
    let name = [p.first_name.as_deref(), p.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    Some(MailingAddress {
        contact_id: p.id,
        name,
        title: p.title.clone(),
        company,
        street: p.street.clone()?,
        postal_code: p.postal_code.clone()?,
        city: p.city.clone()?,
        region: p.region.clone(),
        country: p.country.clone()?,
        status,
    })
}

/// The letters of a post wave: its members who may receive it (not excluded, bounced or
/// unsubscribed) whose contact is live and has a complete address now, sorted by country,
/// postal code and name. Needs `campaigns:read` and `contacts:read`.
pub fn mailing(conn: &mut AnyConnection, actor: &Actor, id: CampaignId) -> Result<Vec<MailingAddress>, RecordError> {
    actor.require(Scope::ContactsRead)?;
    post_campaign(conn, actor, id)?;
    let rows: Vec<(DbUuid, String)> = campaign_members::table
        .filter(campaign_members::campaign_id.eq(DbUuid(id.0)))
        .filter(campaign_members::status.ne_all(["excluded", "bounced", "unsubscribed"]))
        .select((campaign_members::contact_id, campaign_members::status))
        .order(campaign_members::contact_id)
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let ids: Vec<ContactId> = chunk.iter().map(|(c, _)| ContactId(c.0)).collect();
        let people: HashMap<ContactId, Contact> =
            crm_records::get_many::<Contact>(conn, actor, &ids, false)?.into_iter().map(|p| (p.id, p)).collect();
        let account_ids: Vec<_> = people.values().filter_map(|p| p.account_id).collect();
        let accounts: HashMap<_, _> = crm_records::get_many::<Account>(conn, &Actor::system(), &account_ids, false)?
            .into_iter()
            .map(|a| (a.id, a.name))
            .collect();
        for (contact, status) in chunk {
            let Some(p) = people.get(&ContactId(contact.0)).filter(|p| p.archived_at.is_none()) else { continue };
            let company = p.account_id.and_then(|a| accounts.get(&a).cloned());
            let status = MemberStatus::parse(status).unwrap_or(MemberStatus::Targeted);
            out.extend(address_of(p, company, status));
        }
    }
    out.sort_by(|a, b| {
        (&a.country, &a.postal_code, &a.name, a.contact_id.0).cmp(&(
            &b.country,
            &b.postal_code,
            &b.name,
            b.contact_id.0,
        ))
    });
    Ok(out)
}

/// Marks the letters of a running post wave posted (`sent`, at `at` or now): every member still
/// `targeted` on its mailing list. Returns what changed.
pub fn mark_posted(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    at: Option<Timestamp>,
) -> Result<Responses, RecordError> {
    actor.require(Scope::CampaignsWrite)?;
    let c = post_campaign(conn, actor, id)?;
    if !matches!(c.status, CampaignStatus::Running | CampaignStatus::Completed) {
        return Err(RecordError::Conflict {
            entity: Campaign::ENTITY,
            code: "CAMPAIGN_NOT_RUNNING",
            reason: format!("letters are posted once the campaign runs; it is {}", c.status.as_str()),
        });
    }
    let letters = mailing(conn, actor, id)?;
    let mut total = Responses::default();
    let posted: Vec<ResponseInput> = letters
        .into_iter()
        .filter(|l| l.status == MemberStatus::Targeted)
        .map(|l| ResponseInput {
            contact_id: l.contact_id,
            status: MemberStatus::Sent,
            response_type: None,
            bounce_kind: None,
            at,
            note: Some("posted".into()),
        })
        .collect();
    for chunk in posted.chunks(MAX_RESPONSES) {
        let r = crate::members::record_responses(conn, actor, id, chunk.to_vec())?;
        total.changed += r.changed;
        total.unchanged += r.unchanged;
    }
    Ok(total)
}

/// Records responses uploaded as CSV (UTF-8, a header row, comma-separated): `status` and one
/// of `contact_id` or `email` name a member; `response_type`, `bounce_kind`, `at` (RFC 3339 or
/// a date) and `note` are optional; other columns are ignored, and a row without a status is
/// skipped, so the mailing list exported with a `status` column added comes back as it is.
/// All or none, as `record_responses`: an error names its row (`rows[2].status`, the first
/// data row being 1).
pub fn import_responses(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    text: &str,
) -> Result<Responses, RecordError> {
    actor.require(Scope::CampaignsWrite)?;
    let entity = "campaign_member";
    let invalid = |errors: FieldErrors| RecordError::Invalid { entity, errors };
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim_start_matches('\u{feff}').to_ascii_lowercase()).collect(),
        Err(e) => return Err(RecordError::invalid(entity, "file", "invalid_csv", e.to_string())),
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut errs = FieldErrors::new();
    if col("status").is_none() {
        errs.add("file", "missing_column", "the file needs a `status` column");
    }
    if col("contact_id").is_none() && col("email").is_none() {
        errs.add("file", "missing_column", "the file needs a `contact_id` or an `email` column");
    }
    if !errs.0.is_empty() {
        return Err(invalid(errs));
    }
    // Members by email, for files that name them so.
    let by_email: HashMap<String, ContactId> = if col("email").is_some() {
        campaign_members::table
            .inner_join(contacts::table.on(contacts::id.eq(campaign_members::contact_id)))
            .filter(campaign_members::campaign_id.eq(DbUuid(id.0)))
            .select((contacts::email, campaign_members::contact_id))
            .load::<(Option<String>, DbUuid)>(conn)?
            .into_iter()
            .filter_map(|(e, c)| Some((e?.to_lowercase(), ContactId(c.0))))
            .collect()
    } else {
        HashMap::new()
    };
    let mut responses = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let line = n + 1;
        let f = |x: &str| format!("rows[{line}].{x}");
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                errs.add(&f("row"), "invalid_csv", e.to_string());
                continue;
            }
        };
        let get = |name: &str| col(name).and_then(|i| row.get(i)).filter(|v| !v.is_empty());
        let Some(status) = get("status") else { continue };
        if responses.len() + errs.0.len() >= MAX_RESPONSES {
            errs.add("file", "too_many", format!("at most {MAX_RESPONSES} responses per file"));
            break;
        }
        let contact = match (get("contact_id"), get("email")) {
            (Some(c), _) => match uuid::Uuid::parse_str(c) {
                Ok(u) => Some(ContactId(u)),
                Err(_) => {
                    errs.add(&f("contact_id"), "invalid_id", "not a contact id");
                    None
                }
            },
            (None, Some(e)) => match by_email.get(&e.to_lowercase()) {
                Some(c) => Some(*c),
                None => {
                    errs.add(&f("email"), "not_found", format!("no member has the email {e}"));
                    None
                }
            },
            (None, None) => {
                errs.add(&f("contact_id"), "required", "a row names its member by contact_id or email");
                None
            }
        };
        let status = MemberStatus::parse(&status.to_ascii_lowercase());
        if status.is_none() {
            errs.add(
                &f("status"),
                "invalid_value",
                "sent, delivered, bounced, opened, clicked, responded, converted or unsubscribed",
            );
        }
        let response_type = match get("response_type") {
            Some(v) => {
                let t = ResponseType::parse(&v.to_ascii_lowercase());
                if t.is_none() {
                    errs.add(&f("response_type"), "invalid_value", "replied, registered, requested_call or complaint");
                }
                t
            }
            None => None,
        };
        let bounce_kind = match get("bounce_kind") {
            Some(v) => {
                let k = BounceKind::parse(&v.to_ascii_lowercase());
                if k.is_none() {
                    errs.add(&f("bounce_kind"), "invalid_value", "hard or soft");
                }
                k
            }
            None => None,
        };
        let at = match get("at") {
            Some(v) => {
                let t = DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|t| t.and_utc())
                });
                if t.is_none() {
                    errs.add(&f("at"), "invalid_value", "an RFC 3339 time or a date (2027-03-04)");
                }
                t.map(Timestamp)
            }
            None => None,
        };
        if let (Some(contact_id), Some(status)) = (contact, status) {
            responses.push((
                line,
                ResponseInput {
                    contact_id,
                    status,
                    response_type,
                    bounce_kind,
                    at,
                    note: get("note").map(str::to_string),
                },
            ));
        }
    }
    if !errs.0.is_empty() {
        return Err(invalid(errs));
    }
    if responses.is_empty() {
        return Err(RecordError::invalid(entity, "file", "empty", "no row has a status"));
    }
    let lines: Vec<usize> = responses.iter().map(|(l, _)| *l).collect();
    let responses: Vec<ResponseInput> = responses.into_iter().map(|(_, r)| r).collect();
    // Errors name rows of the file, not positions in the batch.
    crate::members::record_responses(conn, actor, id, responses).map_err(|e| match e {
        RecordError::Invalid { entity, errors } => RecordError::Invalid {
            entity,
            errors: FieldErrors(
                errors
                    .0
                    .into_iter()
                    .map(|mut fe| {
                        if let Some(rest) = fe.field.strip_prefix("responses[")
                            && let Some((i, tail)) = rest.split_once(']')
                            && let Some(line) = i.parse::<usize>().ok().and_then(|i| lines.get(i))
                        {
                            fe.field = format!("rows[{line}]{tail}");
                        }
                        fe
                    })
                    .collect(),
            ),
        },
        e => e,
    })
}
