//! Derived data across domains without a dependency cycle: a lower domain says it touched a
//! record of another entity (an interaction with a lead), and the domain that owns the
//! derivation (sales rescores the lead) registers what to do. Registered once at start-up.

use std::sync::RwLock;

use crm_core::Actor;
use crm_db::AnyConnection;

use crate::RecordError;

/// What to run when a record of an entity was touched.
pub type Hook = fn(&mut AnyConnection, &Actor, uuid::Uuid) -> Result<(), RecordError>;

static HOOKS: RwLock<Vec<(&'static str, Hook)>> = RwLock::new(Vec::new());

/// Registers `hook` for `entity` (idempotent: the same pair is kept once).
pub fn register(entity: &'static str, hook: Hook) {
    if let Ok(mut h) = HOOKS.write()
        && !h.iter().any(|(e, f)| *e == entity && std::ptr::fn_addr_eq(*f, hook))
    {
        h.push((entity, hook));
    }
}

/// Runs the hooks of `entity` for the record `id`, in the caller's transaction.
pub fn touched(conn: &mut AnyConnection, actor: &Actor, entity: &str, id: uuid::Uuid) -> Result<(), RecordError> {
    let hooks: Vec<Hook> = match HOOKS.read() {
        Ok(h) => h.iter().filter(|(e, _)| *e == entity).map(|(_, f)| *f).collect(),
        Err(_) => Vec::new(),
    };
    for hook in hooks {
        hook(conn, actor, id)?;
    }
    Ok(())
}
