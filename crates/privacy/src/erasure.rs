//! Erasure: the person's data removed everywhere it is kept, while the records that refer to
//! them and the figures counted from them stay (a contact's purchases still add up to its
//! account's revenue, a campaign still counts the message it sent).
//!
//! - The person's contacts and leads keep their ids, links, stage and figures; names, email
//!   addresses, phones, title, department, street, city, postal code, coordinates, tags, custom
//!   fields, a lead's company, website, description and disqualification reason are cleared,
//!   and the records are archived.
//! - Records about them: the subject and body of interactions whose every participant is the
//!   person; the subject, description, tags and custom fields of their cases, and their cases'
//!   comments; the subject and description of their activities; the evidence of their consents
//!   (the consents themselves stay: they prove what the person agreed to).
//! - Every earlier event of those records (the change feed, the field history) and the payloads
//!   of their webhook deliveries, scrubbed of those fields (`crm_records::erase`); their
//!   external ids; the addresses campaign messages were sent to; their web visitors and web
//!   activity; cached answers of idempotent requests that mention them; duplicate candidates
//!   that name them; earlier access bundles about them; the email address in privacy requests;
//!   files of finished jobs (exports, other access bundles) that hold one of their ids or
//!   addresses; import error reports and webhook receivers' answers that quote them.
//! - Kept: the audit trail (which names no one) with the erasure in it, and aggregates.

use std::collections::BTreeSet;

use crm_cases::Case;
use crm_contacts::{Consent, Contact};
use crm_core::Actor;
use crm_core::ids::{ActivityId, CaseId, ConsentId, ContactId, InteractionId, JobId, LeadId};
use crm_db::AnyConnection;
use crm_db::schema::{
    campaign_sends, case_comments, duplicate_candidates, idempotency_keys, import_errors, job_files, jobs, web_events,
    web_visitors, webhook_attempts,
};
use crm_db::types::DbUuid;
use crm_interactions::Interaction;
use crm_records::erase::{Erased, erase, scrub};
use crm_records::{RecordError, Stored};
use crm_sales::{Activity, Lead};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::people::{self, Person};

/// What replaces a text that cannot be empty (a case's subject).
pub const ERASED: &str = "[erased]";

/// What an erasure did.
#[derive(Clone, Debug, Default, serde::Serialize)]
struct Outcome {
    /// The person's own records (contacts and leads).
    person_records: Erased,
    /// Records about them (interactions, cases, activities, consents, case comments).
    related: Erased,
    web_visitors: usize,
    web_events: usize,
    campaign_addresses: usize,
    idempotency_keys: usize,
    duplicate_candidates: usize,
    bundles: usize,
    requests: usize,
    /// Files of finished jobs (exports, access bundles of others) that held them.
    job_files: usize,
    import_errors: usize,
    webhook_answers: usize,
}

fn ids_where(
    conn: &mut AnyConnection,
    table: &'static str,
    cond: crm_db::sql::Sql,
) -> Result<Vec<uuid::Uuid>, RecordError> {
    Ok(crm_db::sql::ids_where(conn, table, cond)?)
}

fn any(conn: &AnyConnection, column: &str, ids: &[uuid::Uuid]) -> crm_db::sql::Sql {
    crm_db::sql::in_ids(column, ids.iter().copied(), conn.backend())
}

fn add(total: &mut Erased, one: Option<Erased>) {
    if let Some(e) = one {
        total.add(&e);
    }
}

/// Erases one contact.
fn contact(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid) -> Result<Option<Erased>, RecordError> {
    erase::<Contact>(conn, actor, ContactId(id), true, |c| {
        c.first_name = None;
        c.last_name = None;
        c.email = None;
        c.emails.clear();
        c.phone = None;
        c.phones.clear();
        c.title = None;
        c.department = None;
        c.street = None;
        c.city = None;
        c.postal_code = None;
        c.latitude = None;
        c.longitude = None;
        c.location_source = None;
        c.location_accuracy = None;
        c.tags.clear();
        c.custom_fields = json!({});
        vec![
            "first_name",
            "last_name",
            "email",
            "emails",
            "phone",
            "phones",
            "title",
            "department",
            "street",
            "city",
            "postal_code",
            "latitude",
            "longitude",
            "location_source",
            "location_accuracy",
            "tags",
            "custom_fields",
        ]
    })
}

/// Erases one lead.
fn lead(conn: &mut AnyConnection, actor: &Actor, id: uuid::Uuid) -> Result<Option<Erased>, RecordError> {
    erase::<Lead>(conn, actor, LeadId(id), true, |l| {
        l.first_name = None;
        l.last_name = None;
        l.email = None;
        l.phone = None;
        l.company = None;
        l.title = None;
        l.website = None;
        l.street = None;
        l.city = None;
        l.postal_code = None;
        l.latitude = None;
        l.longitude = None;
        l.location_source = None;
        l.location_accuracy = None;
        l.description = None;
        l.disqualify_reason = None;
        l.tags.clear();
        l.custom_fields = json!({});
        vec![
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "title",
            "website",
            "street",
            "city",
            "postal_code",
            "latitude",
            "longitude",
            "location_source",
            "location_accuracy",
            "description",
            "disqualify_reason",
            "tags",
            "custom_fields",
        ]
    })
}

/// Erases what records about the person say of them.
fn related(conn: &mut AnyConnection, actor: &Actor, found: &[Person]) -> Result<Erased, RecordError> {
    let contacts = people::of(found, "contact");
    let leads = people::of(found, "lead");
    let mine: BTreeSet<uuid::Uuid> = contacts.iter().copied().collect();
    let mut out = Erased::default();
    // Interactions whose every participant is the person.
    let mut cond = any(conn, "lead_id", &leads);
    cond.push(" OR id IN (SELECT interaction_id FROM interaction_contacts WHERE ");
    cond.append(any(conn, "contact_id", &contacts));
    cond.push(")");
    for id in ids_where(conn, "interactions", cond)? {
        let Some(i) = Interaction::find(conn, InteractionId(id))? else { continue };
        let others =
            i.contact_ids.iter().any(|c| !mine.contains(&c.0)) || i.lead_id.is_some_and(|l| !leads.contains(&l.0));
        if others {
            continue;
        }
        add(
            &mut out,
            erase::<Interaction>(conn, actor, InteractionId(id), false, |i| {
                i.subject = None;
                i.body = None;
                i.tags.clear();
                vec!["subject", "body", "tags"]
            })?,
        );
    }
    // Their cases, and the cases' comments.
    for id in ids_where(conn, "cases", any(conn, "contact_id", &contacts))? {
        add(
            &mut out,
            erase::<Case>(conn, actor, CaseId(id), false, |c| {
                c.subject = ERASED.to_string();
                c.description = None;
                c.tags.clear();
                c.custom_fields = json!({});
                vec!["subject", "description", "tags", "custom_fields"]
            })?,
        );
        let comments: Vec<DbUuid> =
            case_comments::table.filter(case_comments::case_id.eq(DbUuid(id))).select(case_comments::id).load(conn)?;
        for comment in comments {
            let n = diesel::update(case_comments::table.filter(case_comments::id.eq(comment)))
                .filter(case_comments::body.ne(ERASED))
                .set(case_comments::body.eq(ERASED))
                .execute(conn)?;
            let (events, deliveries) = scrub(conn, "case_comment", comment.0, &["body"], &json!({ "body": ERASED }))?;
            out.add(&Erased { records: n, events, deliveries, external_ids: 0 });
        }
    }
    // Their activities.
    let mut cond = any(conn, "contact_id", &contacts);
    cond.push(" OR ");
    cond.append(any(conn, "lead_id", &leads));
    for id in ids_where(conn, "activities", cond)? {
        add(
            &mut out,
            erase::<Activity>(conn, actor, ActivityId(id), false, |a| {
                a.subject = ERASED.to_string();
                a.description = None;
                vec!["subject", "description"]
            })?,
        );
    }
    // The evidence of their consents.
    let mut cond = any(conn, "contact_id", &contacts);
    cond.push(" OR ");
    cond.append(any(conn, "lead_id", &leads));
    for id in ids_where(conn, Consent::catalog().table, cond)? {
        add(
            &mut out,
            erase::<Consent>(conn, actor, ConsentId(id), false, |c| {
                c.evidence = None;
                vec!["evidence"]
            })?,
        );
    }
    Ok(out)
}

/// What identifies the person in text kept outside records: its records' ids and its email
/// addresses.
fn needles_of(found: &[Person], emails: &BTreeSet<String>) -> Vec<String> {
    found.iter().map(|p| p.1.to_string()).chain(emails.iter().cloned()).collect()
}

/// The finished jobs (other than `request`) whose files hold a needle: exports, access bundles.
/// Read chunk by chunk, outside the erasure's write transaction, keeping the end of each chunk
/// so that a needle cut across two chunks is found. Case is ignored (an export writes addresses
/// as stored, lower case; a needle is lower case).
fn files_mentioning(conn: &mut AnyConnection, needles: &[String], request: JobId) -> Result<Vec<JobId>, RecordError> {
    let with_files: Vec<DbUuid> = job_files::table
        .inner_join(jobs::table.on(jobs::id.eq(job_files::job_id)))
        .filter(jobs::status.eq("succeeded"))
        .filter(jobs::id.ne(DbUuid(request.0)))
        .select(job_files::job_id)
        .distinct()
        .load(conn)?;
    let longest = needles.iter().map(String::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for job in with_files {
        let mut carry: Vec<u8> = Vec::new();
        for seq in 0.. {
            let Some(chunk) = crm_records::jobs::files::chunk(conn, JobId(job.0), seq)? else { break };
            carry.extend(chunk.iter().map(u8::to_ascii_lowercase));
            let text = String::from_utf8_lossy(&carry);
            if needles.iter().any(|n| text.contains(n.as_str())) {
                out.push(JobId(job.0));
                break;
            }
            let keep = carry.len().min(longest.saturating_sub(1));
            carry.drain(..carry.len() - keep);
        }
    }
    Ok(out)
}

/// Removes what is kept about the person outside records.
fn traces(
    conn: &mut AnyConnection,
    found: &[Person],
    emails: &BTreeSet<String>,
    request: JobId,
    files: &[JobId],
    out: &mut Outcome,
) -> Result<(), RecordError> {
    let contacts: Vec<DbUuid> = people::of(found, "contact").into_iter().map(DbUuid).collect();
    let all: Vec<uuid::Uuid> = found.iter().map(|p| p.1).collect();
    out.campaign_addresses = diesel::update(campaign_sends::table.filter(campaign_sends::contact_id.eq_any(&contacts)))
        .filter(campaign_sends::to_address.ne(""))
        .set(campaign_sends::to_address.eq(""))
        .execute(conn)?;
    let visitors: Vec<String> = web_visitors::table
        .filter(web_visitors::contact_id.eq_any(&contacts))
        .select(web_visitors::visitor_id)
        .load(conn)?;
    out.web_events =
        diesel::delete(web_events::table.filter(web_events::visitor_id.eq_any(&visitors))).execute(conn)?;
    out.web_visitors =
        diesel::delete(web_visitors::table.filter(web_visitors::visitor_id.eq_any(&visitors))).execute(conn)?;
    let ids: Vec<DbUuid> = all.iter().copied().map(DbUuid).collect();
    out.duplicate_candidates = diesel::delete(
        duplicate_candidates::table
            .filter(duplicate_candidates::a_id.eq_any(&ids).or(duplicate_candidates::b_id.eq_any(&ids))),
    )
    .execute(conn)?;
    // Cached answers of idempotent requests that carried the person (by id or address), import
    // error messages that quote a refused value, and webhook receivers' answers that echo a
    // payload.
    let needles = needles_of(found, emails);
    for needle in &needles {
        // `_` is common in addresses and a wildcard in LIKE: matched as itself.
        let like = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        out.idempotency_keys +=
            diesel::delete(idempotency_keys::table.filter(idempotency_keys::response_body.like(&like).escape('\\')))
                .execute(conn)?;
        out.import_errors +=
            diesel::update(import_errors::table.filter(import_errors::message.like(&like).escape('\\')))
                .set(import_errors::message.eq(ERASED))
                .execute(conn)?;
        out.webhook_answers +=
            diesel::update(webhook_attempts::table.filter(webhook_attempts::response_excerpt.like(&like).escape('\\')))
                .set(webhook_attempts::response_excerpt.eq(ERASED))
                .execute(conn)?;
    }
    // Earlier privacy requests about the person: their bundles go, their email address too.
    let requests: Vec<(DbUuid, String, Option<String>)> = jobs::table
        .filter(jobs::kind.eq(crate::requests::KIND))
        .select((jobs::id, jobs::params, jobs::result))
        .load(conn)?;
    for (id, params, result) in requests {
        let mentions = |text: &str| needles.iter().any(|n| text.contains(n.as_str()));
        let about = id.0 == request.0 || mentions(&params) || result.as_deref().is_some_and(mentions);
        if !about {
            continue;
        }
        out.bundles +=
            usize::from(diesel::delete(job_files::table.filter(job_files::job_id.eq(id))).execute(conn)? > 0);
        let mut doc: Value = serde_json::from_str(&params).unwrap_or_default();
        if doc["request"]["email"].is_string() {
            doc["request"]["email"] = Value::Null;
            diesel::update(jobs::table.filter(jobs::id.eq(id))).set(jobs::params.eq(doc.to_string())).execute(conn)?;
            out.requests += 1;
        }
    }
    // Other files that hold them (an export, another person's access bundle), found before the
    // transaction; those of the person's own requests went above.
    for job in files {
        out.job_files += usize::from(crm_records::jobs::files::withdraw(conn, *job)?);
    }
    Ok(())
}

/// The email addresses the person's records hold (before they are cleared).
fn addresses(conn: &mut AnyConnection, found: &[Person]) -> Result<BTreeSet<String>, RecordError> {
    let mut out = BTreeSet::new();
    let contacts: Vec<ContactId> = people::of(found, "contact").into_iter().map(ContactId).collect();
    for c in Contact::find_many(conn, &contacts, false)? {
        out.extend(c.email.into_iter().chain(c.emails).map(|e| e.to_lowercase()));
    }
    let leads: Vec<LeadId> = people::of(found, "lead").into_iter().map(LeadId).collect();
    for l in Lead::find_many(conn, &leads, false)? {
        out.extend(l.email.map(|e| e.to_lowercase()));
    }
    Ok(out)
}

/// Runs an erasure: refused (the job fails) while a legal hold is live on the person; each of
/// the person's records is erased in its own transaction, then what refers to them in one.
pub fn run(
    db: &crm_db::Db,
    actor: &Actor,
    request: JobId,
    found: &[Person],
    report: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<Value>, String> {
    let total = found.len() as i64 + 1;
    let emails = db
        .run_sync(|c| -> Result<BTreeSet<String>, RecordError> {
            let holds = crate::holds::live_on(c, found)?;
            if let Some(h) = holds.first() {
                return Err(RecordError::Conflict {
                    entity: "privacy_request",
                    code: "LEGAL_HOLD",
                    reason: format!("legal hold {} ({}) placed since the request", h.id, h.reason),
                });
            }
            addresses(c, found)
        })
        .map_err(|e| e.to_string())?;
    let mut out = Outcome::default();
    let mut done = 0;
    if !report(total, done, 0) {
        return Ok(None);
    }
    for p in found {
        let one = db
            .transaction_sync(|c| match p.0 {
                "contact" => contact(c, actor, p.1),
                _ => lead(c, actor, p.1),
            })
            .map_err(|e| e.to_string())?;
        add(&mut out.person_records, one);
        done += 1;
        if !report(total, done, 0) {
            return Ok(None);
        }
    }
    out.related = db.transaction_sync(|c| related(c, actor, found)).map_err(|e| e.to_string())?;
    let needles = needles_of(found, &emails);
    let files = db.run_sync(|c| files_mentioning(c, &needles, request)).map_err(|e| e.to_string())?;
    db.transaction_sync(|c| traces(c, found, &emails, request, &files, &mut out)).map_err(|e| e.to_string())?;
    report(total, total, 0);
    Ok(Some(serde_json::to_value(out).unwrap_or_default()))
}
