//! Derived data across domains without a dependency cycle: a lower domain says it touched a
//! record of another entity (an interaction with a lead), and the domain that owns the
//! derivation (sales rescores the lead) says what to do. The application builds the `Hooks`
//! once and puts them on its database handle (`crm_db::Db::with_context`); a unit of work on a
//! handle without them fails instead of silently skipping a derivation.

use crm_core::Actor;
use crm_db::{AnyConnection, DbError};

use crate::RecordError;

/// What to run when a record of an entity was touched.
pub type Hook = fn(&mut AnyConnection, &Actor, uuid::Uuid) -> Result<(), RecordError>;

/// What a domain does when records of an entity are merged: points its own records that
/// reference a loser (`losers`) at the survivor, and says how many it moved.
pub type MergeHook = fn(&mut AnyConnection, &Actor, &[uuid::Uuid], uuid::Uuid) -> Result<Vec<Moved>, RecordError>;

/// Records of one kind that a merge pointed at the survivor.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Moved {
    /// The table (`interactions`).
    pub resource: &'static str,
    /// The reference that moved (`contact_ids`).
    pub field: &'static str,
    pub count: usize,
}

/// The reactions of every domain, by entity.
#[derive(Clone, Default)]
pub struct Hooks {
    /// To a record touched (`touched`).
    touched: Vec<(&'static str, Hook)>,
    /// To a merge (`merged`).
    merges: Vec<(&'static str, MergeHook)>,
    /// The checks of a new record (`checked`).
    create_checks: Vec<(&'static str, Hook)>,
}

impl Hooks {
    pub fn new() -> Hooks {
        Hooks::default()
    }

    /// Adds `hook` for records of `entity`.
    pub fn on(mut self, entity: &'static str, hook: Hook) -> Hooks {
        self.touched.push((entity, hook));
        self
    }

    /// Adds `hook` for merges of records of `entity`.
    pub fn on_merge(mut self, entity: &'static str, hook: MergeHook) -> Hooks {
        self.merges.push((entity, hook));
        self
    }

    /// Adds `check` for new records of `entity` (a likely duplicate), which a caller may skip.
    pub fn on_create_check(mut self, entity: &'static str, check: Hook) -> Hooks {
        self.create_checks.push((entity, check));
        self
    }

    /// These hooks and `other`'s.
    pub fn and(mut self, other: Hooks) -> Hooks {
        self.touched.extend(other.touched);
        self.merges.extend(other.merges);
        self.create_checks.extend(other.create_checks);
        self
    }
}

fn installed() -> Result<std::sync::Arc<Hooks>, RecordError> {
    crm_db::pool::context::<Hooks>().ok_or_else(|| {
        RecordError::Db(DbError::Task(
            "this database handle has no domain hooks: build it through the application".into(),
        ))
    })
}

/// Runs the checks of a new record of `entity` (written in the caller's transaction, which
/// rolls back when one fails).
pub fn checked(conn: &mut AnyConnection, actor: &Actor, entity: &str, id: uuid::Uuid) -> Result<(), RecordError> {
    let hooks = installed()?;
    for (_, check) in hooks.create_checks.iter().filter(|(e, _)| *e == entity) {
        check(conn, actor, id)?;
    }
    Ok(())
}

/// Runs every domain's merge hook of `entity`, in the caller's transaction: what they moved
/// from `losers` to `survivor`, the kinds that moved nothing left out.
pub fn merged(
    conn: &mut AnyConnection,
    actor: &Actor,
    entity: &str,
    losers: &[uuid::Uuid],
    survivor: uuid::Uuid,
) -> Result<Vec<Moved>, RecordError> {
    let hooks = installed()?;
    let mut moved = Vec::new();
    for (_, hook) in hooks.merges.iter().filter(|(e, _)| *e == entity) {
        moved.extend(hook(conn, actor, losers, survivor)?.into_iter().filter(|m| m.count > 0));
    }
    Ok(moved)
}

/// Runs the hooks of `entity` for the record `id`, in the caller's transaction.
pub fn touched(conn: &mut AnyConnection, actor: &Actor, entity: &str, id: uuid::Uuid) -> Result<(), RecordError> {
    let hooks = installed()?;
    for (_, hook) in hooks.touched.iter().filter(|(e, _)| *e == entity) {
        hook(conn, actor, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count(_: &mut AnyConnection, _: &Actor, _: uuid::Uuid) -> Result<(), RecordError> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[test]
    fn hooks_run_for_their_entity_and_a_handle_without_them_fails() {
        let (_t, db) = crm_db::testing::TestDatabase::migrated().expect("database");
        let actor = Actor::system();
        let id = uuid::Uuid::now_v7();
        let missing = db.run_sync(|c| touched(c, &actor, "lead", id));
        assert!(matches!(missing, Err(RecordError::Db(DbError::Task(_)))), "{missing:?}");
        let db = db.with_context(Hooks::new().on("lead", count).and(Hooks::new().on("case", count)));
        let before = CALLS.load(Ordering::SeqCst);
        db.run_sync(|c| touched(c, &actor, "lead", id)).expect("lead hook");
        db.run_sync(|c| touched(c, &actor, "account", id)).expect("no hook for accounts");
        assert_eq!(CALLS.load(Ordering::SeqCst) - before, 1);
    }
}
