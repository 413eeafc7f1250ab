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

/// The reactions of every domain, by entity.
#[derive(Clone, Default)]
pub struct Hooks(Vec<(&'static str, Hook)>);

impl Hooks {
    pub fn new() -> Hooks {
        Hooks::default()
    }

    /// Adds `hook` for records of `entity`.
    pub fn on(mut self, entity: &'static str, hook: Hook) -> Hooks {
        self.0.push((entity, hook));
        self
    }

    /// These hooks and `other`'s.
    pub fn and(mut self, other: Hooks) -> Hooks {
        self.0.extend(other.0);
        self
    }
}

/// Runs the hooks of `entity` for the record `id`, in the caller's transaction.
pub fn touched(conn: &mut AnyConnection, actor: &Actor, entity: &str, id: uuid::Uuid) -> Result<(), RecordError> {
    let hooks = crm_db::pool::context::<Hooks>().ok_or_else(|| {
        RecordError::Db(DbError::Task(
            "this database handle has no domain hooks: build it through the application".into(),
        ))
    })?;
    for (_, hook) in hooks.0.iter().filter(|(e, _)| *e == entity) {
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
