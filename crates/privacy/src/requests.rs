//! Data-subject requests (`POST /privacy/requests`): access, erasure, restriction of processing
//! and its lifting, each a background job with status and progress, audit-logged when asked and
//! when done. A request names the person by a contact, a lead or an email address; the person
//! is every record that is them (see [`crate::people`]).

use crm_core::ids::{ContactId, JobId, LeadId};
use crm_core::{Actor, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_records::RecordError;
use crm_records::jobs::{self, Caller, Job, JobStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::people::{self, Person};

/// The job kind in `jobs`.
pub const KIND: &str = "privacy";
const ENTITY: &str = "privacy_request";
/// Days an access request's bundle is kept for download (a month: the time the law gives to
/// answer).
pub const KEEP_BUNDLE_DAYS: i64 = 30;

wire_enum!(
    /// What the person asked for.
    RequestType {
        /// A copy of everything held about them, as one JSON bundle.
        Access = "access",
        /// Their data erased everywhere it is kept; figures counted from it and the audit trail
        /// stay. Refused while a legal hold is live on them.
        Erasure = "erasure",
        /// Their data kept but no longer processed: left out of campaigns and analyses.
        Restriction = "restriction",
        /// The restriction ended.
        LiftRestriction = "lift_restriction",
    }
);

/// A data-subject request: what the person asked for and who they are (one of `contact_id`,
/// `lead_id`, `email`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "PrivacyRequestInput"))]
pub struct PrivacyRequestInput {
    /// `access`, `erasure`, `restriction` or `lift_restriction`.
    #[serde(rename = "type", default)]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub kind: Option<RequestType>,
    /// The person, as a contact (with the leads converted into it and the contacts merged into it).
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// The person, as a lead (with the contact it converted into).
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    /// The person, as every contact and lead with this email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Why, or the request's reference in the data-protection officer's register (at most 500
    /// characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a privacy job was given.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestParams {
    pub request: PrivacyRequestInput,
    #[serde(flatten)]
    pub caller: Caller,
}

/// A data-subject request and how far it got.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct PrivacyRequest {
    pub id: JobId,
    /// `access`, `erasure`, `restriction` or `lift_restriction`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub kind: RequestType,
    /// The person as named in the request.
    pub contact_id: Option<ContactId>,
    pub lead_id: Option<LeadId>,
    /// The email address named (null once the person is erased).
    pub email: Option<String>,
    pub reason: Option<String>,
    pub status: JobStatus,
    /// Steps to go through, once known, and steps done.
    pub total: Option<i64>,
    pub done: i64,
    pub percent: Option<f64>,
    /// What it found and did, once it succeeded: the people (`contact`/`lead` ids) and counts.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<Value>,
    /// Why it failed (a legal hold placed after the request, …).
    pub error: Option<String>,
    /// The subject that made the request.
    pub requested_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// An access request's bundle, once it succeeded (and until the person is erased).
    pub bundle_url: Option<String>,
}

fn view(job: Job) -> Result<PrivacyRequest, RecordError> {
    let params: RequestParams = serde_json::from_value(job.params.clone())
        .map_err(|e| RecordError::Db(crm_db::DbError::Task(format!("privacy request {}: {e}", job.id))))?;
    let r = params.request;
    let kind = r.kind.unwrap_or(RequestType::Access);
    let bundle = job.result.as_ref().and_then(|v| v.get("bundle_bytes")).is_some();
    let bundle_url = (kind == RequestType::Access && job.status == JobStatus::Succeeded && bundle)
        .then(|| format!("/api/v1/privacy/requests/{}/bundle", job.id));
    Ok(PrivacyRequest {
        id: job.id,
        kind,
        contact_id: r.contact_id,
        lead_id: r.lead_id,
        email: r.email,
        reason: r.reason,
        status: job.status,
        total: job.total,
        done: job.done,
        percent: job.percent,
        result: job.result,
        error: job.error,
        requested_by: job.created_by,
        created_at: job.created_at,
        finished_at: job.finished_at,
        bundle_url,
    })
}

/// Checks a request: its type, exactly one way of naming the person, the reason's length; the
/// email is normalized (trimmed, lower case).
fn checked(mut input: PrivacyRequestInput) -> Result<PrivacyRequestInput, RecordError> {
    let mut errs = crm_core::FieldErrors::new();
    if input.kind.is_none() {
        errs.add("type", "required", "`access`, `erasure`, `restriction` or `lift_restriction`");
    }
    input.email = input.email.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
    if let Some(e) = &input.email
        && (e.len() > 320 || !e.contains('@'))
    {
        errs.add("email", "invalid_format", "an email address");
    }
    let named = [input.contact_id.is_some(), input.lead_id.is_some(), input.email.is_some()];
    match named.iter().filter(|n| **n).count() {
        0 => errs.add("contact_id", "required", "the person: `contact_id`, `lead_id` or `email`"),
        1 => {}
        _ => {
            errs.add("contact_id", "invalid_value", "one way of naming the person: `contact_id`, `lead_id` or `email`")
        }
    }
    input.reason = input.reason.as_deref().and_then(crm_core::values::clean);
    if input.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        errs.add("reason", "too_long", "at most 500 characters");
    }
    errs.into_result().map_err(|errors| RecordError::Invalid { entity: ENTITY, errors })?;
    Ok(input)
}

/// Refuses an erasure while a legal hold is live on one of the people.
fn refuse_held(conn: &mut AnyConnection, people: &[Person]) -> Result<(), RecordError> {
    let holds = crate::holds::live_on(conn, people)?;
    if holds.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = holds.iter().map(|h| format!("{} ({})", h.id, h.reason)).collect();
    Err(RecordError::Conflict {
        entity: ENTITY,
        code: "LEGAL_HOLD",
        reason: format!("the person's data is under legal hold: {}; release the hold first", list.join("; ")),
    })
}

/// Queues a request (`privacy:write`): the person must exist when named by a contact or a lead
/// (an email address that matches nobody is answered too: an access request then says nothing
/// is held); an erasure of a person under legal hold is refused at once (`409 LEGAL_HOLD`).
pub fn start(
    conn: &mut AnyConnection,
    actor: &Actor,
    input: PrivacyRequestInput,
) -> Result<PrivacyRequest, RecordError> {
    actor.require(Scope::PrivacyWrite)?;
    let input = checked(input)?;
    let found = people::resolve(conn, &input)?;
    if input.kind == Some(RequestType::Erasure) {
        refuse_held(conn, &found)?;
    }
    let params = RequestParams { request: input.clone(), caller: Caller::of(actor) };
    let job = jobs::enqueue(conn, actor, KIND, &serde_json::to_value(&params).unwrap_or_default())?;
    let kind = input.kind.map_or("access", RequestType::as_str);
    crm_events::audit::append(
        conn,
        actor,
        &format!("privacy.{kind}.requested"),
        Some(("job", job.id.0)),
        serde_json::json!({
            "type": kind,
            "contact_id": input.contact_id,
            "lead_id": input.lead_id,
            "by_email": input.email.is_some(),
            "people": found.len(),
        }),
    )?;
    view(job)
}

/// The caller as the jobs module sees it: whoever holds `privacy:read` reads every privacy
/// request, not only those it made (jobs are otherwise their creator's and admins').
fn reader(actor: &Actor) -> Actor {
    let mut reader = actor.clone();
    reader.roles.insert(crm_core::Role::Admin);
    reader
}

/// A request (`privacy:read`).
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: JobId) -> Result<PrivacyRequest, RecordError> {
    actor.require(Scope::PrivacyRead)?;
    let job = jobs::get(conn, &reader(actor), id)?;
    if job.kind != KIND {
        return Err(RecordError::NotFound { entity: ENTITY });
    }
    view(job)
}

/// The newest requests (`privacy:read`), at most `limit` (1 to 100, default 20).
pub fn list(conn: &mut AnyConnection, actor: &Actor, limit: Option<u32>) -> Result<Vec<PrivacyRequest>, RecordError> {
    actor.require(Scope::PrivacyRead)?;
    jobs::list(conn, &reader(actor), Some(KIND), limit)?.into_iter().map(view).collect()
}

/// An access request's bundle, for download: the request must have succeeded and its bundle
/// still be kept (an erasure of the person drops it). The download is audit-logged.
pub fn open_bundle(conn: &mut AnyConnection, actor: &Actor, id: JobId) -> Result<PrivacyRequest, RecordError> {
    let request = get(conn, actor, id)?;
    if request.kind != RequestType::Access {
        return Err(RecordError::NotFound { entity: "privacy_bundle" });
    }
    if request.status != JobStatus::Succeeded {
        return Err(RecordError::Conflict {
            entity: ENTITY,
            code: "BUNDLE_NOT_READY",
            reason: format!("the request is {}", request.status.as_str()),
        });
    }
    if request.bundle_url.is_none() || jobs::files::chunk(conn, id, 0)?.is_none() {
        return Err(RecordError::Conflict {
            entity: ENTITY,
            code: "BUNDLE_GONE",
            reason: "the bundle is no longer kept: the person's data was erased since".into(),
        });
    }
    crm_events::audit::append(conn, actor, "privacy.bundle.downloaded", Some(("job", id.0)), serde_json::json!({}))?;
    Ok(request)
}

/// Runs a privacy job: its result, or None when it lost its lease.
pub fn run(db: &crm_db::Db, job: &Job, report: &mut dyn FnMut(i64, i64, i64) -> bool) -> Result<Option<Value>, String> {
    let params: RequestParams =
        serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
    let actor = params.caller.actor(&job.created_by).beyond_visibility();
    let input = params.request;
    let found = db.run_sync(|c| people::resolve(c, &input)).map_err(|e| e.to_string())?;
    let kind = input.kind.unwrap_or(RequestType::Access);
    let mut result = match kind {
        RequestType::Access => match crate::access::run(db, job.id, &found, report)? {
            Some(r) => r,
            None => return Ok(None),
        },
        RequestType::Erasure => match crate::erasure::run(db, &actor, job.id, &found, report)? {
            Some(r) => r,
            None => return Ok(None),
        },
        RequestType::Restriction | RequestType::LiftRestriction => {
            let restrict = kind == RequestType::Restriction;
            let (reason, id) = (input.reason.clone(), job.id.0);
            let changed = db
                .transaction_sync(|c| -> Result<usize, crm_db::DbError> {
                    let now = crm_db::now();
                    let mut n = 0;
                    for p in &found {
                        let done = match restrict {
                            true => crm_contacts::restrictions::restrict(c, *p, id, reason.as_deref(), now)?,
                            false => crm_contacts::restrictions::lift(c, *p)?,
                        };
                        n += usize::from(done);
                    }
                    Ok(n)
                })
                .map_err(|e| e.to_string())?;
            report(found.len() as i64, found.len() as i64, 0);
            serde_json::json!({ "changed": changed })
        }
    };
    result["people"] = people::to_json(&found);
    let details = serde_json::json!({ "type": kind.as_str(), "people": found.len(), "result": result.clone() });
    db.transaction_sync(|c| {
        crm_events::audit::append(
            c,
            &actor,
            &format!("privacy.{}.done", kind.as_str()),
            Some(("job", job.id.0)),
            details,
        )
    })
    .map_err(|e| e.to_string())?;
    Ok(Some(result))
}

/// The restrictions of processing in force, newest first (`privacy:read`), at most `limit` (1
/// to 100, default 20).
pub fn restrictions(
    conn: &mut AnyConnection,
    actor: &Actor,
    limit: Option<u32>,
) -> Result<Vec<crm_contacts::restrictions::Restriction>, RecordError> {
    actor.require(Scope::PrivacyRead)?;
    let limit = crm_core::list::page_size(limit.unwrap_or(20), 100)?;
    Ok(crm_contacts::restrictions::list(conn, i64::from(limit))?)
}
