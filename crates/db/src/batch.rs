//! Running a batch of operations: each with its own outcome (one bad item does not fail the
//! others), or all-or-nothing.

use crate::conn::AnyConnection;
use diesel::Connection;

/// Operations run together under one savepoint while they succeed.
const GROUP: usize = 64;

/// Why a group of operations stopped.
enum GroupFailure<E> {
    /// The operation at this offset in the group failed.
    Item(usize, E),
    /// The savepoint itself could not be taken or released (the operations then run one by
    /// one, and each reports what it meets).
    Savepoint,
}

impl<E> From<diesel::result::Error> for GroupFailure<E> {
    fn from(_: diesel::result::Error) -> Self {
        GroupFailure::Savepoint
    }
}

/// Runs `ops` in order inside the caller's transaction.
///
/// Atomic: the first failure stops the batch and is returned with its index (the caller's
/// transaction then rolls back everything).
///
/// Non-atomic: every operation reports its own result, and a failed one leaves nothing behind.
/// Operations run in groups of up to 64 under one savepoint (two round trips per group instead
/// of two per operation). When one fails, its group is rolled back, the operations before it
/// run again as a group, and the failed one runs alone in its own savepoint so that its own
/// outcome is reported. Operations are therefore written to be re-runnable after a rollback:
/// whatever they cache outside the database may only be a hint.
pub fn run<Op, T, E>(
    conn: &mut AnyConnection,
    ops: Vec<Op>,
    atomic: bool,
    mut apply: impl FnMut(&mut AnyConnection, Op) -> Result<T, E>,
) -> Result<Vec<Result<T, E>>, (usize, E)>
where
    Op: Clone,
    E: From<diesel::result::Error>,
{
    let mut results = Vec::with_capacity(ops.len());
    if atomic {
        for (i, op) in ops.into_iter().enumerate() {
            match apply(conn, op) {
                Ok(v) => results.push(Ok(v)),
                Err(e) => return Err((i, e)),
            }
        }
        return Ok(results);
    }
    let (mut start, mut size, mut alone_next) = (0, GROUP, false);
    while start < ops.len() {
        let end = (start + size).min(ops.len());
        let mark = crate::outbox::mark();
        if end - start == 1 {
            // Alone: its savepoint's outcome is the operation's.
            let r = conn.transaction(|c| apply(c, ops[start].clone()));
            if r.is_err() {
                crate::outbox::truncate(mark);
            }
            results.push(r);
            // A lone known-good operation (the failure came right after it) is followed by the
            // failed one, alone too.
            (start, size, alone_next) = (start + 1, if alone_next { 1 } else { GROUP }, false);
            continue;
        }
        let group = conn.transaction(|c| {
            let mut done = Vec::with_capacity(end - start);
            for (k, op) in ops[start..end].iter().enumerate() {
                done.push(apply(c, op.clone()).map_err(|e| GroupFailure::Item(k, e))?);
            }
            Ok::<_, GroupFailure<E>>(done)
        });
        match group {
            Ok(done) => {
                results.extend(done.into_iter().map(Ok));
                start = end;
                // After the operations before a failure, the failed one runs alone.
                size = if alone_next { 1 } else { GROUP };
                alone_next = false;
            }
            Err(failure) => {
                // The savepoint rolled back: so do the events the group appended.
                crate::outbox::truncate(mark);
                match failure {
                    GroupFailure::Item(k, _) if k > 0 => (size, alone_next) = (k, true),
                    _ => (size, alone_next) = (1, false),
                }
            }
        }
    }
    Ok(results)
}
