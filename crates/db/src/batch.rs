//! Running a batch of operations: each in a savepoint (one bad item does not fail the others),
//! or all-or-nothing.

use crate::conn::AnyConnection;
use diesel::Connection;

/// Runs `ops` in order inside the caller's transaction. Non-atomic: every operation runs in
/// its own savepoint and reports its own result. Atomic: the first failure stops the batch and
/// is returned with its index (the caller's transaction then rolls back everything).
pub fn run<Op, T, E>(
    conn: &mut AnyConnection,
    ops: Vec<Op>,
    atomic: bool,
    mut apply: impl FnMut(&mut AnyConnection, Op) -> Result<T, E>,
) -> Result<Vec<Result<T, E>>, (usize, E)>
where
    E: From<diesel::result::Error>,
{
    let mut results = Vec::with_capacity(ops.len());
    for (i, op) in ops.into_iter().enumerate() {
        if atomic {
            match apply(conn, op) {
                Ok(v) => results.push(Ok(v)),
                Err(e) => return Err((i, e)),
            }
        } else {
            let mark = crate::outbox::mark();
            let r = conn.transaction(|c| apply(c, op));
            if r.is_err() {
                // The savepoint rolled back: so do the events it appended.
                crate::outbox::truncate(mark);
            }
            results.push(r);
        }
    }
    Ok(results)
}
