//! What a transaction reads once and keeps until it ends: definitions that every record of a
//! batch is checked against (custom fields), read for the first record and reused by the
//! others. Scoped like the event buffer (`crate::outbox`): one unit of work runs on one
//! thread, and `Db::transaction` begins and ends the memo around it. Outside a transaction
//! nothing is kept.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

type Entries = HashMap<String, Arc<dyn Any + Send + Sync>>;

thread_local! {
    static MEMO: RefCell<Option<Entries>> = const { RefCell::new(None) };
}

pub(crate) fn begin() {
    MEMO.with(|m| *m.borrow_mut() = Some(HashMap::new()));
}

pub(crate) fn end() {
    MEMO.with(|m| *m.borrow_mut() = None);
}

/// The value kept under `key` in this transaction, or what `load` reads (kept for the rest of
/// the transaction).
pub fn get_or_load<T: Any + Send + Sync, E>(key: &str, load: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
    let kept = MEMO.with(|m| m.borrow().as_ref().and_then(|e| e.get(key).cloned()));
    if let Some(v) = kept.and_then(|v| v.downcast::<T>().ok()) {
        return Ok(v);
    }
    let v = Arc::new(load()?);
    MEMO.with(|m| {
        if let Some(e) = m.borrow_mut().as_mut() {
            e.insert(key.to_string(), v.clone());
        }
    });
    Ok(v)
}

/// Drops what this transaction kept under keys starting with `prefix` (what it just changed).
pub fn forget(prefix: &str) {
    MEMO.with(|m| {
        if let Some(e) = m.borrow_mut().as_mut() {
            e.retain(|k, _| !k.starts_with(prefix));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_within_a_transaction_only() {
        let loads = std::cell::Cell::new(0);
        let load = || -> Result<i32, ()> {
            loads.set(loads.get() + 1);
            Ok(7)
        };
        assert_eq!(*get_or_load("k", load).unwrap(), 7);
        assert_eq!(*get_or_load("k", load).unwrap(), 7);
        assert_eq!(loads.get(), 2, "outside a transaction nothing is kept");
        begin();
        get_or_load("k", load).unwrap();
        get_or_load("k", load).unwrap();
        assert_eq!(loads.get(), 3);
        forget("k");
        get_or_load("k", load).unwrap();
        assert_eq!(loads.get(), 4);
        end();
        get_or_load("k", load).unwrap();
        assert_eq!(loads.get(), 5);
    }
}
