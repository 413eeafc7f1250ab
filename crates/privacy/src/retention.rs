//! Retention policies: which records of a resource go once nobody has touched them for a number
//! of days (`leads` untouched for 730 days, `and(status[in]:unqualified,disqualified)`), and
//! how: archived, or, for people (contacts and leads), erased as a privacy erasure would. A dry
//! run says what a policy would take now, writing nothing; a run is a job; the enabled policies
//! run once a day. People under a legal hold are left alone and counted.

use crm_cases::Case;
use crm_contacts::Contact;
use crm_core::external::parse_external_ids;
use crm_core::ids::{ActivityId, CaseId, ContactId, EntityId, InteractionId, JobId, LeadId, RetentionPolicyId};
use crm_core::values::clean;
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_db::sql::Sql;
use crm_interactions::Interaction;
use crm_records::jobs::{self, Caller, Job};
use crm_records::{Record, RecordError, Stored};
use crm_sales::{Activity, Lead};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The job kind in `jobs`.
pub const KIND: &str = "retention";
/// The fewest days a policy may keep records (a policy is not a way to delete by mistake).
pub const MIN_DAYS: i64 = 30;
/// Records applied per transaction.
const CHUNK: i64 = 200;
/// Ids a dry run shows.
const SAMPLE: i64 = 20;

wire_enum!(
    /// The records a policy applies to.
    RetentionResource {
        Contacts = "contacts",
        Leads = "leads",
        Interactions = "interactions",
        Activities = "activities",
        Cases = "cases",
    }
);

wire_enum!(
    /// What happens to a record the policy takes.
    RetentionAction {
        /// Archived (restorable; its data kept).
        Archive = "archive",
        /// Contacts and leads only: the person's data erased everywhere, as an erasure request
        /// does, and the record archived.
        Erase = "erase",
    }
);

impl RetentionResource {
    fn table(self) -> &'static str {
        match self {
            RetentionResource::Contacts => Contact::catalog().table,
            RetentionResource::Leads => Lead::catalog().table,
            RetentionResource::Interactions => Interaction::catalog().table,
            RetentionResource::Activities => Activity::catalog().table,
            RetentionResource::Cases => Case::catalog().table,
        }
    }

    /// The scope that writes its records.
    fn write(self) -> Scope {
        match self {
            RetentionResource::Contacts => Contact::WRITE,
            RetentionResource::Leads => Lead::WRITE,
            RetentionResource::Interactions => Interaction::WRITE,
            RetentionResource::Activities => Activity::WRITE,
            RetentionResource::Cases => Case::WRITE,
        }
    }

    fn catalog(self) -> &'static crm_core::filter::Catalog {
        match self {
            RetentionResource::Contacts => Contact::catalog(),
            RetentionResource::Leads => Lead::catalog(),
            RetentionResource::Interactions => Interaction::catalog(),
            RetentionResource::Activities => Activity::catalog(),
            RetentionResource::Cases => Case::catalog(),
        }
    }

    /// The person kind of its records, for legal holds and erasure.
    fn person(self) -> Option<&'static str> {
        match self {
            RetentionResource::Contacts => Some("contact"),
            RetentionResource::Leads => Some("lead"),
            _ => None,
        }
    }
}

/// Which records of a resource go once untouched for a number of days, and how.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = retention_policies)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "RetentionPolicyFields", visible = false)
)]
pub struct RetentionPolicy {
    /// The record's id (UUIDv7: time-ordered).
    pub id: RetentionPolicyId,
    /// What it is for (`unqualified leads, 2 years`).
    #[filter(sort)]
    pub name: String,
    /// `contacts`, `leads`, `interactions`, `activities` or `cases`.
    #[filter(sort)]
    pub resource: RetentionResource,
    /// Which of its records, in the list grammar of the resource (`status[in]:unqualified`); all
    /// when null.
    pub filter: Option<String>,
    /// Records not changed for this many days (their `updated_at`) are taken; at least 30.
    #[filter(sort)]
    pub untouched_days: i64,
    /// `archive`, or `erase` (contacts and leads).
    #[filter]
    pub action: RetentionAction,
    /// Whether the daily run applies it (a new policy is off: dry-run it first).
    #[filter]
    pub enabled: bool,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the policy was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new retention policy, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = RetentionPolicyPatch, record = RetentionPolicy)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct RetentionPolicyInput {
    /// What it is for, 1 to 200 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// The resource.
    #[serde(default)]
    pub resource: Option<RetentionResource>,
    /// Which of its records (the resource's list grammar); all when null.
    #[serde(default)]
    pub filter: Option<String>,
    /// Days untouched, 30 to 36500.
    #[serde(default)]
    pub untouched_days: Option<i64>,
    /// `archive` or `erase`.
    #[serde(default)]
    pub action: Option<RetentionAction>,
    /// Default false.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Ids in other systems, each unique among retention policies.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// The filter of a policy, resolved against its resource (custom fields included).
fn resolved(
    conn: &mut AnyConnection,
    resource: RetentionResource,
    text: &str,
) -> Result<crm_core::filter::Resolved, crm_core::filter::FilterError> {
    let parsed = crm_core::filter::parse(text)?;
    let custom = crm_records::custom::filters_of(conn, &parsed).map_err(|e| crm_core::filter::FilterError {
        field: "filter".into(),
        code: "invalid_value",
        message: format!("the custom fields could not be read: {e}"),
    })?;
    crm_core::filter::resolve_with(&parsed, resource.catalog(), &custom)
}

impl Record for RetentionPolicy {
    type Input = RetentionPolicyInput;
    type Patch = RetentionPolicyPatch;

    const READ: Scope = Scope::PrivacyRead;
    const WRITE: Scope = Scope::PrivacyWrite;

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: RetentionPolicyId,
        input: RetentionPolicyInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let mut errs = FieldErrors::new();
        let name = input.name.as_deref().and_then(clean);
        match &name {
            None => errs.add("name", "required", "what the policy is for"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            Some(_) => {}
        }
        match input.untouched_days {
            None => errs.add("untouched_days", "required", "days untouched, 30 to 36500"),
            Some(d) if !(MIN_DAYS..=36_500).contains(&d) => {
                errs.add("untouched_days", "out_of_range", "30 to 36500 days")
            }
            Some(_) => {}
        }
        if input.resource.is_none() {
            errs.add("resource", "required", "`contacts`, `leads`, `interactions`, `activities` or `cases`");
        }
        match (input.action, input.resource) {
            (None, _) => errs.add("action", "required", "`archive` or `erase`"),
            (Some(RetentionAction::Erase), Some(r)) if r.person().is_none() => {
                errs.add("action", "not_applicable", "`erase` applies to people: contacts and leads")
            }
            _ => {}
        }
        let filter = input.filter.as_deref().and_then(clean);
        if let (Some(f), Some(r)) = (&filter, input.resource)
            && let Err(e) = resolved(conn, r, f)
        {
            errs.add("filter", e.code, format!("{}: {}", e.field, e.message));
        }
        let external_ids = parse_external_ids("external_ids", input.external_ids, &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        let (Some(resource), Some(action), Some(days)) = (input.resource, input.action, input.untouched_days) else {
            return Err(RecordError::Invalid { entity: Self::ENTITY, errors: FieldErrors::new() });
        };
        let mut p = prev.cloned().unwrap_or_else(<RetentionPolicy as Stored>::blank);
        p.id = id;
        p.name = name.unwrap_or_default();
        p.resource = resource;
        p.filter = filter;
        p.untouched_days = days;
        p.action = action;
        p.enabled = input.enabled.unwrap_or(false);
        p.external_ids = external_ids;
        Ok(p)
    }
}

/// What a policy takes now: live records untouched since the cutoff, its filter, and not under
/// a legal hold (`held`: only those under one).
fn taken(
    conn: &mut AnyConnection,
    p: &RetentionPolicy,
    cutoff: chrono::NaiveDateTime,
    held: bool,
) -> Result<Sql, RecordError> {
    let backend = conn.backend();
    let mut cond = Sql::new(backend);
    cond.push("archived_at IS NULL AND updated_at < ").bind(cutoff);
    if let Some(f) = &p.filter {
        let r = resolved(conn, p.resource, f)
            .map_err(|e| RecordError::invalid(RetentionPolicy::ENTITY, "filter", e.code, e.message))?;
        cond.and(crm_db::sql::filter(&r, backend));
    }
    if let Some(person) = p.resource.person() {
        let column = if person == "contact" { "contact_id" } else { "lead_id" };
        cond.push(if held { " AND id IN" } else { " AND id NOT IN" })
            .push(&format!(" (SELECT {column} FROM legal_holds WHERE archived_at IS NULL AND {column} IS NOT NULL)"));
    } else if held {
        cond.push(" AND 1=0");
    }
    Ok(cond)
}

/// How many records [`taken`] selects.
fn count_taken(
    conn: &mut AnyConnection,
    p: &RetentionPolicy,
    cutoff: chrono::NaiveDateTime,
    held: bool,
) -> Result<i64, RecordError> {
    let cond = taken(conn, p, cutoff, held)?;
    Ok(crm_db::sql::count_where(conn, p.resource.table(), cond)?)
}

fn cutoff_of(p: &RetentionPolicy) -> chrono::NaiveDateTime {
    crm_db::now() - chrono::Duration::days(p.untouched_days)
}

/// What a policy would do now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RetentionPreview {
    pub policy_id: RetentionPolicyId,
    /// Records last changed before this instant are taken.
    pub cutoff: chrono::DateTime<chrono::Utc>,
    /// Records it would archive or erase.
    pub matching: i64,
    /// Records it would take but leaves alone: under a legal hold.
    pub held: i64,
    /// The first of them (least recently touched first), at most 20.
    pub sample: Vec<uuid::Uuid>,
}

/// Says what a policy would take now, writing nothing (`privacy:read`).
pub fn dry_run(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: RetentionPolicyId,
) -> Result<RetentionPreview, RecordError> {
    let p = crm_records::get::<RetentionPolicy>(conn, actor, id)?;
    let cutoff = cutoff_of(&p);
    let table = p.resource.table();
    let matching = count_taken(conn, &p, cutoff, false)?;
    let held = count_taken(conn, &p, cutoff, true)?;
    let mut first = taken(conn, &p, cutoff, false)?;
    first.push(" ORDER BY updated_at, id LIMIT ").push(&SAMPLE.to_string());
    let sample = crm_db::sql::ids_where(conn, table, first)?;
    Ok(RetentionPreview { policy_id: p.id, cutoff: cutoff.and_utc(), matching, held, sample })
}

/// What a retention job was given: one policy, or every enabled one (the daily run).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetentionParams {
    pub policy_id: Option<RetentionPolicyId>,
    #[serde(flatten)]
    pub caller: Caller,
}

/// Queues a run of one policy now, enabled or not (`privacy:write` and the write scope of its
/// resource); follow it at `/jobs/{id}`.
pub fn start(conn: &mut AnyConnection, actor: &Actor, id: RetentionPolicyId) -> Result<Job, RecordError> {
    actor.require(Scope::PrivacyWrite)?;
    let p = crm_records::get::<RetentionPolicy>(conn, actor, id)?;
    actor.require(p.resource.write())?;
    if p.archived_at.is_some() {
        return Err(RecordError::Conflict {
            entity: RetentionPolicy::ENTITY,
            code: "POLICY_ARCHIVED",
            reason: "the policy is archived: restore it to run it".into(),
        });
    }
    let params = RetentionParams { policy_id: Some(id), caller: Caller::of(actor) };
    jobs::enqueue(conn, actor, KIND, &serde_json::to_value(params).unwrap_or_default())
}

/// Queues the daily run of the enabled policies, unless one ran or was queued in the last day
/// or none is enabled; true when queued.
pub fn schedule(conn: &mut AnyConnection, now: chrono::NaiveDateTime) -> Result<bool, RecordError> {
    let mut enabled = Sql::new(conn.backend());
    enabled.push("archived_at IS NULL AND enabled = TRUE");
    if crm_db::sql::first_id(conn, RetentionPolicy::catalog().table, enabled)?.is_none() {
        return Ok(false);
    }
    if jobs::any_of_kind_since(conn, KIND, now - chrono::Duration::days(1))? {
        return Ok(false);
    }
    let scopes =
        [Scope::PrivacyRead, Scope::ContactsWrite, Scope::SalesWrite, Scope::InteractionsWrite, Scope::CasesWrite];
    let system = Actor::internal("system:retention", scopes.map(Scope::as_str));
    let params = RetentionParams { policy_id: None, caller: Caller::of(&system) };
    jobs::enqueue(conn, &system, KIND, &serde_json::to_value(params).unwrap_or_default())?;
    Ok(true)
}

/// Archives one record of the resource.
fn archive_one(
    conn: &mut AnyConnection,
    actor: &Actor,
    r: RetentionResource,
    id: uuid::Uuid,
) -> Result<(), RecordError> {
    match r {
        RetentionResource::Contacts => {
            crm_records::archive::<Contact>(conn, actor, ContactId::from_uuid(id), None).map(drop)
        }
        RetentionResource::Leads => crm_records::archive::<Lead>(conn, actor, LeadId::from_uuid(id), None).map(drop),
        RetentionResource::Interactions => {
            crm_records::archive::<Interaction>(conn, actor, InteractionId::from_uuid(id), None).map(drop)
        }
        RetentionResource::Activities => {
            crm_records::archive::<Activity>(conn, actor, ActivityId::from_uuid(id), None).map(drop)
        }
        RetentionResource::Cases => crm_records::archive::<Case>(conn, actor, CaseId::from_uuid(id), None).map(drop),
    }
}

/// Applies one policy: its records in chunks, each chunk in a transaction (a record changed
/// since it was picked is picked again or not by the next chunk's query). Returns what it did,
/// or None when the job lost its lease.
fn apply(
    db: &crm_db::Db,
    actor: &Actor,
    job: JobId,
    p: &RetentionPolicy,
    progress: &mut dyn FnMut(i64) -> bool,
) -> Result<Option<Value>, String> {
    let cutoff = cutoff_of(p);
    let table = p.resource.table();
    let held = db.run_sync(|c| count_taken(c, p, cutoff, true)).map_err(|e| e.to_string())?;
    let mut applied = 0i64;
    loop {
        let ids = db
            .run_sync(|c| -> Result<Vec<uuid::Uuid>, RecordError> {
                let mut cond = taken(c, p, cutoff, false)?;
                cond.push(" ORDER BY updated_at, id LIMIT ").push(&CHUNK.to_string());
                Ok(crm_db::sql::ids_where(c, table, cond)?)
            })
            .map_err(|e| e.to_string())?;
        if ids.is_empty() {
            break;
        }
        match (p.action, p.resource.person()) {
            (RetentionAction::Erase, Some(person)) => {
                for id in &ids {
                    let found = [(person, *id)];
                    if crate::erasure::run(db, actor, job, &found, &mut |_, _, _| true)?.is_none() {
                        return Ok(None);
                    }
                }
            }
            _ => db
                .transaction_sync(|c| -> Result<(), RecordError> {
                    for id in &ids {
                        archive_one(c, actor, p.resource, *id)?;
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?,
        }
        applied += ids.len() as i64;
        if !progress(ids.len() as i64) {
            return Ok(None);
        }
    }
    Ok(Some(json!({
        "policy_id": p.id, "resource": p.resource, "action": p.action, "cutoff": cutoff.and_utc(),
        "applied": applied, "held": held,
    })))
}

/// Runs a retention job: one policy, or every enabled one.
pub fn run(db: &crm_db::Db, job: &Job, report: &mut dyn FnMut(i64, i64, i64) -> bool) -> Result<Option<Value>, String> {
    let params: RetentionParams =
        serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
    let actor = params.caller.actor(&job.created_by).beyond_visibility();
    let system = Actor::system();
    let policies: Vec<RetentionPolicy> = db
        .run_sync(|c| -> Result<Vec<RetentionPolicy>, RecordError> {
            let ids: Vec<RetentionPolicyId> = match params.policy_id {
                Some(id) => vec![id],
                None => {
                    let mut enabled = Sql::new(c.backend());
                    enabled.push("archived_at IS NULL AND enabled = TRUE");
                    crm_db::sql::ids_where(c, RetentionPolicy::catalog().table, enabled)?
                        .into_iter()
                        .map(RetentionPolicyId::from_uuid)
                        .collect()
                }
            };
            crm_records::get_many::<RetentionPolicy>(c, &system, &ids, false)
        })
        .map_err(|e| e.to_string())?;
    // The total: what every policy takes now.
    let total = db
        .run_sync(|c| -> Result<i64, RecordError> {
            let mut n = 0;
            for p in &policies {
                n += count_taken(c, p, cutoff_of(p), false)?;
            }
            Ok(n)
        })
        .map_err(|e| e.to_string())?;
    let mut done = 0;
    if !report(total, done, 0) {
        return Ok(None);
    }
    let mut results = Vec::new();
    for p in &policies {
        let outcome = apply(db, &actor, job.id, p, &mut |n| {
            done += n;
            report(total.max(done), done, 0)
        })?;
        match outcome {
            Some(r) => results.push(r),
            None => return Ok(None),
        }
    }
    let details = json!({ "policies": results });
    db.transaction_sync(|c| {
        crm_events::audit::append(c, &actor, "retention.applied", Some(("job", job.id.0)), details.clone())
    })
    .map_err(|e| e.to_string())?;
    Ok(Some(details))
}
