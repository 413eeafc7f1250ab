//! The background job runner: every instance takes queued jobs one at a time
//! (`crm_records::jobs`) and runs them on a blocking thread, reporting progress (at most once a
//! second, and at the end) under a lease it extends as it goes.

use std::time::{Duration, Instant};

use crm_db::Db;
use crm_records::jobs::{self, Job};

/// How long a job stays this instance's without a progress report.
const LEASE: Duration = Duration::from_secs(60);
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How often the runner looks whether a scheduled job is due (the analytics refresh, the
/// retention policies).
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

/// Queues the jobs that run on a schedule and are due.
fn schedule(db: &Db) -> Result<(), String> {
    let now = crm_db::now();
    let queued = db.transaction_sync(|c| crm_analytics::refresh::schedule(c, now)).map_err(|e| e.to_string())?;
    if queued {
        tracing::info!("analytics refresh scheduled");
    }
    let queued = db.transaction_sync(|c| crm_privacy::retention::schedule(c, now)).map_err(|e| e.to_string())?;
    if queued {
        tracing::info!("retention policies scheduled");
    }
    Ok(())
}

/// Looks for a job every `every` (zero: this instance runs none) until the instance drains;
/// the task ends after the job it runs has handed itself back.
pub fn spawn(
    db: Db,
    every: Duration,
    geocoder: Option<std::sync::Arc<crm_geo::remote::RemoteGeocoder>>,
    draining: crate::app::Draining,
) -> Option<actix_web::rt::task::JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    let owner = format!("jobs-{}", uuid::Uuid::now_v7());
    Some(actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut scheduled: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = draining.wait() => break,
            }
            if scheduled.is_none_or(|t| t.elapsed() >= SCHEDULE_EVERY) {
                scheduled = Some(Instant::now());
                let db = db.clone();
                match tokio::task::spawn_blocking(move || schedule(&db)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "scheduling jobs failed"),
                    Err(e) => tracing::warn!(error = %e, "scheduling jobs panicked"),
                }
            }
            let (db, owner, geocoder, draining) = (db.clone(), owner.clone(), geocoder.clone(), draining.clone());
            match tokio::task::spawn_blocking(move || run_next(&db, &owner, geocoder.as_deref(), &draining)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "job runner failed"),
                Err(e) => tracing::warn!(error = %e, "job runner panicked"),
            }
        }
    }))
}

fn lease_end() -> chrono::NaiveDateTime {
    crm_db::now() + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(1))
}

/// Claims and runs the oldest job due; false when there was none.
///
/// When the instance starts draining, the job stops at its next progress report (after the
/// chunk it is writing) and is handed back for another instance to resume.
pub fn run_next(
    db: &Db,
    owner: &str,
    geocoder: Option<&crm_geo::remote::RemoteGeocoder>,
    draining: &crate::app::Draining,
) -> Result<bool, String> {
    if draining.is_set() {
        return Ok(false);
    }
    let now = crm_db::now();
    if !db.run_sync(|c| jobs::any_due(c, now).map_err(crm_db::DbError::from)).map_err(|e| e.to_string())? {
        return Ok(false);
    }
    let until = lease_end();
    let claimed = db.transaction_sync(|c| jobs::claim(c, owner, now, until)).map_err(|e| e.to_string())?;
    let Some(job) = claimed else { return Ok(false) };
    tracing::info!(job = %job.id, kind = %job.kind, "job started");
    let started = Instant::now();
    let mut counts = (None, 0, 0);
    let mut last = Instant::now();
    // Progress and the lease, through the writer lock (on SQLite writes take turns). A report
    // that fails for the database's sake is tried again at the next one; only a lost lease
    // stops the run.
    let mut report = |total: i64, done: i64, failed: i64| -> bool {
        counts = (Some(total), done, failed);
        if draining.is_set() {
            return false;
        }
        if last.elapsed() < REPORT_EVERY {
            return true;
        }
        last = Instant::now();
        match db
            .transaction_sync(|c| jobs::report(c, job.id, owner, counts, lease_end()).map_err(crm_db::DbError::from))
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e, "reporting a job's progress failed");
                true
            }
        }
    };
    let outcome = run(db, &job, owner, geocoder, &mut report);
    let (total, done, failed) = counts;
    let outcome = match outcome {
        Ok(None) if draining.is_set() => {
            let handed =
                db.transaction_sync(|c| jobs::release(c, job.id, owner, crm_db::now()).map_err(crm_db::DbError::from));
            tracing::info!(job = %job.id, done = counts.1, handed_back = ?handed, "job stopped: this instance is draining; another resumes it");
            return Ok(true);
        }
        Ok(None) => {
            tracing::warn!(job = %job.id, "job taken over by another instance");
            return Ok(true);
        }
        Ok(Some(result)) => Ok(result),
        Err(e) => Err(e),
    };
    let finished = db
        .transaction_sync(|c| -> Result<bool, crm_db::DbError> {
            Ok(jobs::report(c, job.id, owner, (total, done, failed), lease_end())?
                && jobs::finish(c, job.id, owner, outcome.clone())?)
        })
        .map_err(|e| e.to_string())?;
    match (&outcome, finished) {
        (_, false) => tracing::warn!(job = %job.id, "job taken over by another instance"),
        (Ok(_), true) => tracing::info!(job = %job.id, done, seconds = started.elapsed().as_secs_f64(), "job done"),
        (Err(e), true) => tracing::warn!(job = %job.id, error = %e, "job failed"),
    }
    Ok(true)
}

/// Runs a job by its kind: its result, None when it stopped because it lost its lease.
fn run(
    db: &Db,
    job: &Job,
    owner: &str,
    geocoder: Option<&crm_geo::remote::RemoteGeocoder>,
    report: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<serde_json::Value>, String> {
    match job.kind.as_str() {
        crm_geo::geocoding::KIND => {
            let input: crm_geo::geocoding::GeocodeInput =
                serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
            let actor = input.actor(&job.created_by);
            let outcome = crm_geo::geocoding::run(db, &actor, &input, geocoder, &mut |total, done, failed| {
                report(total, done, failed)
            })
            .map_err(|e| e.to_string())?;
            Ok(outcome.map(|o| serde_json::to_value(o).unwrap_or_default()))
        }
        crm_analytics::refresh::KIND => {
            let input: crm_analytics::RefreshInput =
                serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
            let outcome =
                crm_analytics::refresh::run(db, &input, &mut |total, done, failed| report(total, done, failed))
                    .map_err(|e| e.to_string())?;
            Ok(outcome.map(|o| serde_json::to_value(o).unwrap_or_default()))
        }
        crm_records::imports::KIND => crate::imports::run_job(db, job, owner, &lease_end, report),
        crm_records::exports::KIND => crate::exports::run_job(db, job, report),
        crm_privacy::requests::KIND => crm_privacy::requests::run(db, job, report),
        crm_privacy::retention::KIND => crm_privacy::retention::run(db, job, report),
        crm_quality::scan::KIND => {
            let input: crm_quality::scan::ScanInput =
                serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
            let outcome = crm_quality::scan::run(db, &input, report).map_err(|e| e.to_string())?;
            Ok(outcome.map(|o| serde_json::to_value(o).unwrap_or_default()))
        }
        other => Err(format!("unknown job kind `{other}`")),
    }
}
