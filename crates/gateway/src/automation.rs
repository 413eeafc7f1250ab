//! The automation engine, on every instance that runs it (`CRM_AUTOMATION_INTERVAL`): it fires
//! the schedule and relative rules due, matches new events to rules and executes the runs due, each run in its own transaction. Instances
//! share the work through the runs' leases (`crm_db::claim`) and, on PostgreSQL, the rules' row
//! locks while matching: each run is executed by one instance, and its effects commit once.

use std::time::Duration;

use crm_automation::engine::{self, Settings};
use crm_db::Db;

/// Runs claimed at a time.
const BATCH: i64 = 64;
/// Events matched at a time.
const MATCH_BATCH: u32 = 1000;
/// How long a claimed run is this instance's.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Starts the engine (nothing when `every` is zero).
pub fn spawn(db: Db, settings: Settings, every: Duration) {
    if every.is_zero() {
        return;
    }
    actix_web::rt::spawn(async move {
        let owner = format!("automation-{}", uuid::Uuid::now_v7());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = round(&db, settings, &owner).await {
                tracing::warn!(error = %e, "automation engine failed; trying again");
            }
        }
    });
}

/// Fires the clock rules due, matches until the log is read, then executes what is due until
/// nothing is: the runs executed.
pub async fn round(db: &Db, settings: Settings, owner: &str) -> Result<usize, String> {
    round_at(db, settings, owner, None).await
}

/// `round` on a given clock (`None`: the real one), as tests drive schedules.
pub async fn round_at(
    db: &Db,
    settings: Settings,
    owner: &str,
    clock: Option<chrono::NaiveDateTime>,
) -> Result<usize, String> {
    let now = move || clock.unwrap_or_else(crm_db::now);
    let mut executed = 0;
    db.transaction(move |c| engine::fire_due(c, now())).await.map_err(|e: crm_records::RecordError| e.to_string())?;
    loop {
        let matched = db
            .transaction(move |c| engine::match_events(c, MATCH_BATCH, settings))
            .await
            .map_err(|e: crm_records::RecordError| e.to_string())?;
        let more_events = matched.events as u32 == MATCH_BATCH;
        let o = owner.to_string();
        let due = db
            .transaction(move |c| engine::claim_due(c, &o, now(), LEASE, BATCH))
            .await
            .map_err(|e: crm_records::RecordError| e.to_string())?;
        // Claimed runs may free later ones (a rule's next run on the same record waits for the
        // one before): claim again until nothing is due.
        let claimed = !due.is_empty();
        for id in due {
            let o = owner.to_string();
            match db.transaction(move |c| engine::execute(c, &o, id, settings)).await {
                Ok(_) => executed += 1,
                // Another instance took it over, or the database failed: the lease runs out and
                // the run is due again; nothing of this attempt was committed.
                Err(e) => tracing::warn!(run = %id, error = %e, "automation run not executed"),
            }
        }
        if !claimed && !more_events {
            return Ok(executed);
        }
    }
}
