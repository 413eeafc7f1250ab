//! Background jobs: long work (a bulk geocoding; imports and exports next) queued by a request
//! and run by one instance at a time, with its progress readable while it runs (status,
//! counts, percent and an estimate of the time left).
//!
//! A job is claimed with a lease (`crm_db::claim`) that its runner extends at every progress
//! report. A runner that loses its lease stops; a job whose instance died is claimed again
//! when the lease runs out and starts over (job kinds are written to be run again safely).
//! A job is visible to the subject that started it and to admins.

use chrono::NaiveDateTime;
use crm_core::ids::JobId;
use crm_core::{Actor, Role, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::jobs;
use crm_db::sql::Sql;
use crm_db::types::DbUuid;
use diesel::prelude::*;
use serde::Serialize;

use crate::RecordError;

/// Who a job acts as: the subject that started it, with the scopes and roles it held then, and
/// whether it was an integration (an API key). A job writes and reads what that caller could,
/// records it may not see included (administrators and integrations see every record).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Caller {
    /// Its scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Its roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether it was an integration.
    #[serde(default)]
    pub integration: bool,
}

impl Caller {
    pub fn of(actor: &Actor) -> Caller {
        Caller {
            scopes: actor.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            roles: actor.roles.iter().map(|r| r.as_str().to_string()).collect(),
            integration: actor.integration,
        }
    }

    /// The actor the job acts as, named `created_by`: exactly the scopes it held.
    pub fn actor(&self, created_by: &str) -> Actor {
        let mut actor = Actor::new(created_by, self.roles.iter().map(String::as_str), []);
        actor.scopes = self.scopes.iter().filter_map(|s| crm_core::Scope::parse(s)).collect();
        actor.integration = self.integration;
        actor
    }
}

wire_enum!(
    /// Where a job stands.
    JobStatus {
        /// Waiting for an instance to take it.
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Stopped at its owner's request (what it committed stays).
        Cancelled = "cancelled",
    }
);

/// A job and its progress.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Job {
    pub id: JobId,
    /// What it does (`geocode`).
    pub kind: String,
    pub status: JobStatus,
    /// What it was asked to do.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: serde_json::Value,
    /// How many items it will go through, once it knows.
    pub total: Option<i64>,
    /// Items gone through so far (in this run: a job taken over after an instance died starts
    /// over).
    pub done: i64,
    /// Of those, the items that failed.
    pub failed: i64,
    /// `done` over `total`, 0 to 100.
    pub percent: Option<f64>,
    /// Seconds left at the pace so far, while it runs.
    pub eta_seconds: Option<i64>,
    /// What it did, once it succeeded.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// The subject that started it.
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When its current run began.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it last reported progress.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

type Row = (
    DbUuid,
    String,
    String,
    String,
    Option<i64>,
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

macro_rules! columns {
    () => {
        (
            jobs::id,
            jobs::kind,
            jobs::status,
            jobs::params,
            jobs::total,
            jobs::done,
            jobs::failed,
            jobs::result,
            jobs::error,
            jobs::created_by,
            jobs::created_at,
            jobs::started_at,
            jobs::updated_at,
            jobs::finished_at,
        )
    };
}

fn job_of(r: Row, now: NaiveDateTime) -> Job {
    let status = JobStatus::parse(&r.2).unwrap_or(JobStatus::Failed);
    let json = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    let (total, done) = (r.4, r.5);
    let percent = total.map(|t| if t <= 0 { 100.0 } else { (done as f64 * 1000.0 / t as f64).round() / 10.0 });
    let eta_seconds = match (status, total, r.11) {
        (JobStatus::Running, Some(t), Some(started)) if done > 0 => {
            let elapsed = (now - started).num_milliseconds().max(0) as f64 / 1000.0;
            Some(((t - done).max(0) as f64 * elapsed / done as f64).ceil() as i64)
        }
        _ => None,
    };
    Job {
        id: JobId(r.0.0),
        kind: r.1,
        status,
        params: json(&r.3),
        total,
        done,
        failed: r.6,
        percent,
        eta_seconds,
        result: r.7.as_deref().map(json),
        error: r.8,
        created_by: r.9,
        created_at: r.10.and_utc(),
        started_at: r.11.map(|t| t.and_utc()),
        updated_at: r.12.and_utc(),
        finished_at: r.13.map(|t| t.and_utc()),
    }
}

fn find(conn: &mut AnyConnection, id: JobId) -> QueryResult<Option<Job>> {
    let row: Option<Row> = jobs::table.filter(jobs::id.eq(DbUuid(id.0))).select(columns!()).first(conn).optional()?;
    Ok(row.map(|r| job_of(r, crm_db::now())))
}

/// Queues a job of `kind`; the caller has checked the scopes its work needs.
pub fn enqueue(
    conn: &mut AnyConnection,
    actor: &Actor,
    kind: &str,
    params: &serde_json::Value,
) -> Result<Job, RecordError> {
    enqueue_as(conn, actor, JobId::new(), kind, params)
}

/// [`enqueue`] under an id chosen beforehand (the id its uploaded file was stored under).
pub fn enqueue_as(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: JobId,
    kind: &str,
    params: &serde_json::Value,
) -> Result<Job, RecordError> {
    let now = crm_db::now();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(DbUuid(id.0)),
            jobs::kind.eq(kind),
            jobs::status.eq(JobStatus::Queued.as_str()),
            jobs::params.eq(params.to_string()),
            jobs::created_by.eq(&actor.sub),
            jobs::created_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, id)?.ok_or(RecordError::NotFound { entity: "job" })
}

/// A job, for the subject that started it or an admin (404 for others).
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: JobId) -> Result<Job, RecordError> {
    find(conn, id)?
        .filter(|j| j.created_by == actor.sub || actor.roles.contains(&Role::Admin))
        .ok_or(RecordError::NotFound { entity: "job" })
}

/// Cancels a queued or running job of `kind` (for the subject that started it or an admin): a
/// running one stops at its next checkpoint, keeping what it committed. A job that already
/// ended is answered as it is.
pub fn cancel(conn: &mut AnyConnection, actor: &Actor, id: JobId, kind: &str) -> Result<Job, RecordError> {
    let job = get(conn, actor, id)?;
    if job.kind != kind {
        return Err(RecordError::NotFound { entity: "job" });
    }
    let now = crm_db::now();
    diesel::update(
        jobs::table
            .filter(jobs::id.eq(DbUuid(id.0)))
            .filter(jobs::status.eq_any([JobStatus::Queued.as_str(), JobStatus::Running.as_str()])),
    )
    .set((
        jobs::status.eq(JobStatus::Cancelled.as_str()),
        jobs::updated_at.eq(now),
        jobs::finished_at.eq(Some(now)),
        jobs::lease_owner.eq(None::<String>),
        jobs::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    find(conn, id)?.ok_or(RecordError::NotFound { entity: "job" })
}

/// A job's checkpoint: what a resumable job committed so far (its own JSON).
pub fn checkpoint(conn: &mut AnyConnection, id: JobId) -> QueryResult<Option<serde_json::Value>> {
    let raw: Option<Option<String>> =
        jobs::table.filter(jobs::id.eq(DbUuid(id.0))).select(jobs::checkpoint).first(conn).optional()?;
    Ok(raw.flatten().and_then(|s| serde_json::from_str(&s).ok()))
}

/// Saves a checkpoint with the progress it stands for and extends the lease, in the caller's
/// transaction (the one that committed the work it counts); false when `owner` no longer
/// holds the running job (cancelled, or taken over): the caller rolls back and stops.
pub fn save_checkpoint(
    conn: &mut AnyConnection,
    id: JobId,
    owner: &str,
    checkpoint: &serde_json::Value,
    counts: (Option<i64>, i64, i64),
    until: NaiveDateTime,
) -> QueryResult<bool> {
    if !report(conn, id, owner, counts, until)? {
        return Ok(false);
    }
    diesel::update(jobs::table.filter(jobs::id.eq(DbUuid(id.0))))
        .set(jobs::checkpoint.eq(Some(checkpoint.to_string())))
        .execute(conn)?;
    Ok(true)
}

/// Files of jobs (an import's upload), stored in the database in numbered chunks so that any
/// instance can run the job.
pub mod files {
    use crm_core::ids::JobId;
    use crm_db::AnyConnection;
    use crm_db::schema::{job_files, jobs};
    use crm_db::types::DbUuid;
    use diesel::prelude::*;

    /// Stores chunk `seq` of a job's file.
    pub fn append(conn: &mut AnyConnection, job: JobId, seq: i32, data: &[u8]) -> QueryResult<()> {
        diesel::insert_into(job_files::table)
            .values((
                job_files::job_id.eq(DbUuid(job.0)),
                job_files::seq.eq(seq),
                job_files::data.eq(data),
                job_files::created_at.eq(crm_db::now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Chunk `seq` of a job's file; None past its end.
    pub fn chunk(conn: &mut AnyConnection, job: JobId, seq: i32) -> QueryResult<Option<Vec<u8>>> {
        job_files::table
            .filter(job_files::job_id.eq(DbUuid(job.0)))
            .filter(job_files::seq.eq(seq))
            .select(job_files::data)
            .first(conn)
            .optional()
    }

    /// Drops a job's file.
    pub fn delete(conn: &mut AnyConnection, job: JobId) -> QueryResult<usize> {
        diesel::delete(job_files::table.filter(job_files::job_id.eq(DbUuid(job.0)))).execute(conn)
    }

    /// Drops a finished job's file before its time (it held a person since erased) and notes
    /// it in the job's result (`withdrawn`), so an export no longer offers it for download.
    /// False when it had no file left.
    pub fn withdraw(conn: &mut AnyConnection, job: JobId) -> QueryResult<bool> {
        if delete(conn, job)? == 0 {
            return Ok(false);
        }
        let key = DbUuid(job.0);
        let result: Option<String> =
            jobs::table.filter(jobs::id.eq(key)).select(jobs::result).first(conn).optional()?.flatten();
        let mut doc: serde_json::Value =
            result.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_else(|| serde_json::json!({}));
        if let Some(o) = doc.as_object_mut() {
            o.insert("withdrawn".into(), serde_json::Value::Bool(true));
            diesel::update(jobs::table.filter(jobs::id.eq(key)))
                .set(jobs::result.eq(Some(doc.to_string())))
                .execute(conn)?;
        }
        Ok(true)
    }

    /// Drops chunks older than `before` that no job needs: an upload that was cut off or
    /// refused, the file of an import that ended (its runner drops it at once; this catches a
    /// runner that died first), and the files of jobs of each kind in `kept` (an export, a
    /// privacy access bundle) that succeeded longer ago than the time it is kept.
    pub fn purge_orphans(
        conn: &mut AnyConnection,
        before: chrono::NaiveDateTime,
        kept: &[(&str, chrono::Duration)],
    ) -> QueryResult<usize> {
        let open = ["queued", "running"];
        let mut keep: Vec<DbUuid> = Vec::new();
        for (kind, time) in kept {
            let after = crm_db::now() - *time;
            keep.extend(
                jobs::table
                    .filter(jobs::kind.eq(*kind))
                    .filter(jobs::status.eq("succeeded"))
                    .filter(jobs::finished_at.gt(after))
                    .select(jobs::id)
                    .load::<DbUuid>(conn)?,
            );
        }
        let running = jobs::table.filter(jobs::id.eq(job_files::job_id)).filter(jobs::status.eq_any(open));
        diesel::delete(
            job_files::table
                .filter(job_files::created_at.lt(before))
                .filter(diesel::dsl::not(diesel::dsl::exists(running)))
                .filter(diesel::dsl::not(job_files::job_id.eq_any(keep))),
        )
        .execute(conn)
    }

    /// A job's file read chunk by chunk as it is consumed (one chunk in memory at a time, each
    /// read on a connection of the pool taken for that read).
    pub struct Reader<'a> {
        db: &'a crm_db::Db,
        job: JobId,
        seq: i32,
        buf: Vec<u8>,
        pos: usize,
        ended: bool,
    }

    impl<'a> Reader<'a> {
        pub fn new(db: &'a crm_db::Db, job: JobId) -> Reader<'a> {
            Reader { db, job, seq: 0, buf: Vec::new(), pos: 0, ended: false }
        }
    }

    impl std::io::Read for Reader<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            while self.pos >= self.buf.len() {
                if self.ended {
                    return Ok(0);
                }
                let (job, seq) = (self.job, self.seq);
                let next = self.db.run_sync(|c| chunk(c, job, seq).map_err(crm_db::DbError::from));
                match next.map_err(std::io::Error::other)? {
                    Some(data) => {
                        self.buf = data;
                        self.pos = 0;
                        self.seq += 1;
                    }
                    None => self.ended = true,
                }
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
}

/// The newest jobs (at most `limit`, 1 to 100, default 20) the caller may see, optionally of
/// one kind.
pub fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    kind: Option<&str>,
    limit: Option<u32>,
) -> Result<Vec<Job>, RecordError> {
    let limit = crm_core::list::page_size(limit.unwrap_or(20), 100)?;
    let mut q = jobs::table.select(columns!()).order(jobs::created_at.desc()).limit(i64::from(limit)).into_boxed();
    if !actor.roles.contains(&Role::Admin) {
        q = q.filter(jobs::created_by.eq(actor.sub.clone()));
    }
    if let Some(k) = kind {
        q = q.filter(jobs::kind.eq(k.to_string()));
    }
    let now = crm_db::now();
    Ok(q.load::<Row>(conn)?.into_iter().map(|r| job_of(r, now)).collect())
}

/// Jobs waiting for an instance and jobs running (for `/metrics`).
pub fn backlog(conn: &mut AnyConnection) -> QueryResult<(i64, i64)> {
    let count = |conn: &mut AnyConnection, status: JobStatus| {
        jobs::table.filter(jobs::status.eq(status.as_str())).count().get_result::<i64>(conn)
    };
    Ok((count(conn, JobStatus::Queued)?, count(conn, JobStatus::Running)?))
}

/// Whether some job is waiting to be taken (a read: instances look every second, and most
/// seconds there is nothing, which then costs no write).
pub fn any_due(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<bool> {
    let found: Option<DbUuid> = jobs::table
        .filter(jobs::status.eq_any([JobStatus::Queued.as_str(), JobStatus::Running.as_str()]))
        .filter(jobs::lease_until.is_null().or(jobs::lease_until.lt(now)))
        .select(jobs::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Whether a job of `kind` is queued or running, or was created after `since` (a scheduler's
/// check before it queues another).
pub fn any_of_kind_since(conn: &mut AnyConnection, kind: &str, since: NaiveDateTime) -> QueryResult<bool> {
    let open = [JobStatus::Queued.as_str(), JobStatus::Running.as_str()];
    let found: Option<DbUuid> = jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::status.eq_any(open).or(jobs::created_at.gt(since)))
        .select(jobs::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Takes the oldest job that is queued, or running under a lease that ran out, for `owner`
/// until `until`; it starts (over) as running.
pub fn claim(
    conn: &mut AnyConnection,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Option<Job>, RecordError> {
    let mut eligible = Sql::new(conn.backend());
    eligible.push("c.status IN ('queued', 'running')");
    let lease = crm_db::claim::Lease { owner, now, until };
    let Some(id) = crm_db::claim::claim(conn, "jobs", eligible, "c.created_at", 1, lease)?.into_iter().next() else {
        return Ok(None);
    };
    diesel::update(jobs::table.filter(jobs::id.eq(DbUuid(id))))
        .set((
            jobs::status.eq(JobStatus::Running.as_str()),
            jobs::started_at.eq(Some(now)),
            jobs::updated_at.eq(now),
            jobs::total.eq(None::<i64>),
            jobs::done.eq(0),
            jobs::failed.eq(0),
        ))
        .execute(conn)?;
    Ok(find(conn, JobId(id))?)
}

/// Hands a running job back (its owner is stopping): its lease ends now, so any instance may
/// take it at once and resume it from its checkpoint. False when `owner` no longer held it.
pub fn release(conn: &mut AnyConnection, id: JobId, owner: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(jobs::table.filter(jobs::id.eq(DbUuid(id.0))).filter(jobs::lease_owner.eq(owner)))
        .set((jobs::lease_until.eq(Some(now)), jobs::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Takes one queued job for `owner` (a CLI that queued it to run it itself); None when an
/// instance took it first.
pub fn claim_one(
    conn: &mut AnyConnection,
    id: JobId,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Option<Job>, RecordError> {
    let n = diesel::update(
        jobs::table.filter(jobs::id.eq(DbUuid(id.0))).filter(jobs::status.eq(JobStatus::Queued.as_str())),
    )
    .set((
        jobs::status.eq(JobStatus::Running.as_str()),
        jobs::started_at.eq(Some(now)),
        jobs::updated_at.eq(now),
        jobs::lease_owner.eq(Some(owner)),
        jobs::lease_until.eq(Some(until)),
    ))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(find(conn, id)?)
}

/// Records a job that ended as it began (a streamed export in the audit log): succeeded,
/// with `total` items done.
pub fn finish_now(conn: &mut AnyConnection, id: JobId, total: i64, result: &serde_json::Value) -> QueryResult<()> {
    let now = crm_db::now();
    diesel::update(jobs::table.filter(jobs::id.eq(DbUuid(id.0))))
        .set((
            jobs::status.eq(JobStatus::Succeeded.as_str()),
            jobs::total.eq(Some(total)),
            jobs::done.eq(total),
            jobs::result.eq(Some(result.to_string())),
            jobs::started_at.eq(Some(now)),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A job's status.
pub fn status_of(conn: &mut AnyConnection, id: JobId) -> QueryResult<Option<JobStatus>> {
    let s: Option<String> =
        jobs::table.filter(jobs::id.eq(DbUuid(id.0))).select(jobs::status).first(conn).optional()?;
    Ok(s.and_then(|s| JobStatus::parse(&s)))
}

/// Records progress and extends the lease; false when `owner` no longer holds the job (the
/// runner then stops).
pub fn report(
    conn: &mut AnyConnection,
    id: JobId,
    owner: &str,
    (total, done, failed): (Option<i64>, i64, i64),
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        jobs::table
            .filter(jobs::id.eq(DbUuid(id.0)))
            .filter(jobs::lease_owner.eq(owner))
            .filter(jobs::status.eq(JobStatus::Running.as_str())),
    )
    .set((
        jobs::total.eq(total),
        jobs::done.eq(done),
        jobs::failed.eq(failed),
        jobs::updated_at.eq(crm_db::now()),
        jobs::lease_until.eq(Some(until)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Ends the job: its result, or why it failed.
pub fn finish(
    conn: &mut AnyConnection,
    id: JobId,
    owner: &str,
    outcome: Result<serde_json::Value, String>,
) -> QueryResult<bool> {
    let now = crm_db::now();
    let (status, result, error) = match outcome {
        Ok(r) => (JobStatus::Succeeded, Some(r.to_string()), None),
        Err(e) => (JobStatus::Failed, None, Some(e)),
    };
    let n = diesel::update(jobs::table.filter(jobs::id.eq(DbUuid(id.0))).filter(jobs::lease_owner.eq(owner)))
        .set((
            jobs::status.eq(status.as_str()),
            jobs::result.eq(result),
            jobs::error.eq(error),
            jobs::updated_at.eq(now),
            jobs::finished_at.eq(Some(now)),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(n == 1)
}
