//! Running a batch of operations: each with its own outcome (one bad item does not fail the
//! others), or all-or-nothing.

use crate::conn::AnyConnection;
use diesel::{Connection, QueryResult};

/// Operations run together under one savepoint while they succeed.
const GROUP: usize = 64;

/// Writes that the operations of a group leave pending, to be made together at the end of the
/// group in fewer statements than one per operation.
pub trait Deferred {
    /// Makes the pending writes and forgets them. `Ok(false)`: a row changed since it was read,
    /// so not every write was made.
    fn flush(&mut self, conn: &mut AnyConnection) -> QueryResult<bool>;
    /// Forgets the pending writes (their savepoint was rolled back).
    fn discard(&mut self);
}

/// Nothing is ever deferred.
impl Deferred for () {
    fn flush(&mut self, _: &mut AnyConnection) -> QueryResult<bool> {
        Ok(true)
    }
    fn discard(&mut self) {}
}

/// What an operation of a batch may defer, handed to it by [`run_deferring`].
pub struct Deferral<W> {
    writes: W,
    enabled: bool,
    /// A flush failed in the current group: it runs again without deferring.
    stale: bool,
}

impl<W: Deferred> Deferral<W> {
    /// Where to leave a write for the end of the group, when this run allows it (`None`: write
    /// now, after [`settle`](Self::settle)).
    pub fn writes(&mut self) -> Option<&mut W> {
        self.enabled.then_some(&mut self.writes)
    }

    /// Makes the pending writes now. An operation that does not defer calls this before it
    /// reads or writes anything a pending write may touch, so that it sees them.
    pub fn settle(&mut self, conn: &mut AnyConnection) -> QueryResult<()> {
        match self.writes.flush(conn) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.stale = true;
                Err(diesel::result::Error::RollbackTransaction)
            }
            Err(e) => {
                self.stale = true;
                Err(e)
            }
        }
    }
}

/// Why a group of operations stopped.
enum GroupFailure<E> {
    /// The operation at this offset in the group failed.
    Item(usize, E),
    /// The savepoint itself could not be taken or released.
    Savepoint(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for GroupFailure<E> {
    fn from(e: diesel::result::Error) -> Self {
        GroupFailure::Savepoint(e)
    }
}

/// Runs `ops` in order inside the caller's transaction (see [`run_deferring`]; nothing here
/// is deferred).
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
    run_deferring(conn, ops, atomic, (), |c, op, _| apply(c, op))
}

/// Runs `ops` in order inside the caller's transaction.
///
/// Operations run in groups of up to 64 under one savepoint (two round trips per group instead
/// of two per operation). An operation may leave some of its writes in `writes`
/// ([`Deferral::writes`]); they are made at the end of its group, before the savepoint is
/// released, or earlier by an operation that calls [`Deferral::settle`]. When a flush finds a
/// row changed underneath, the group rolls back and runs again with every operation writing
/// as it goes, so what it reports is what it would have reported without deferring.
///
/// Atomic: the first failure stops the batch and is returned with its index (the caller's
/// transaction then rolls back everything).
///
/// Non-atomic: every operation reports its own result, and a failed one leaves nothing behind.
/// When one fails, its group is rolled back, the operations before it run again as a group,
/// and the failed one runs alone in its own savepoint so that its own outcome is reported.
/// Operations are therefore written to be re-runnable after a rollback: whatever they cache
/// outside the database may only be a hint.
pub fn run_deferring<Op, T, E, W>(
    conn: &mut AnyConnection,
    ops: Vec<Op>,
    atomic: bool,
    writes: W,
    mut apply: impl FnMut(&mut AnyConnection, Op, &mut Deferral<W>) -> Result<T, E>,
) -> Result<Vec<Result<T, E>>, (usize, E)>
where
    Op: Clone,
    E: From<diesel::result::Error>,
    W: Deferred,
{
    let mut results = Vec::with_capacity(ops.len());
    let mut d = Deferral { writes, enabled: true, stale: false };
    let (mut start, mut size, mut alone_next) = (0, GROUP, false);
    while start < ops.len() {
        let end = (start + size).min(ops.len());
        let mark = crate::outbox::mark();
        if end - start == 1 && !atomic {
            // Alone: its savepoint's outcome is the operation's.
            d.enabled = false;
            let r = conn.transaction(|c| apply(c, ops[start].clone(), &mut d));
            if r.is_err() {
                crate::outbox::truncate(mark);
            }
            results.push(r);
            // A lone known-good operation (the failure came right after it) is followed by the
            // failed one, alone too.
            (start, size, alone_next) = (start + 1, if alone_next { 1 } else { GROUP }, false);
            d.enabled = true;
            continue;
        }
        let group = conn.transaction(|c| {
            let mut done = Vec::with_capacity(end - start);
            for (k, op) in ops[start..end].iter().enumerate() {
                done.push(apply(c, op.clone(), &mut d).map_err(|e| GroupFailure::Item(k, e))?);
            }
            d.settle(c)?;
            Ok::<_, GroupFailure<E>>(done)
        });
        match group {
            Ok(done) => {
                results.extend(done.into_iter().map(Ok));
                start = end;
                // After the operations before a failure, the failed one runs alone.
                size = if alone_next { 1 } else { GROUP };
                alone_next = false;
                d.enabled = true;
            }
            Err(failure) => {
                // The savepoint rolled back: so do the events the group appended and the
                // writes it left pending.
                crate::outbox::truncate(mark);
                d.writes.discard();
                if std::mem::take(&mut d.stale) && d.enabled {
                    // Same operations again, writing as they go.
                    tracing::debug!(start, end, "a deferred write found a row changed; the group runs again");
                    d.enabled = false;
                    continue;
                }
                if atomic && d.enabled && matches!(failure, GroupFailure::Item(..)) {
                    // A deferred write before the failed operation may have failed first: find
                    // the first failure by running the group again, writing as it goes.
                    d.enabled = false;
                    continue;
                }
                match failure {
                    GroupFailure::Item(k, e) if atomic => return Err((start + k, e)),
                    GroupFailure::Savepoint(e) if atomic => return Err((start, e.into())),
                    GroupFailure::Item(k, _) if k > 0 => (size, alone_next) = (k, true),
                    _ => (size, alone_next) = (1, false),
                }
            }
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;
    use crate::{DbError, next_counter};

    /// Pending operations; the flushes numbered in `stale_on` (from 1) find a row changed.
    #[derive(Default)]
    struct Log {
        pending: Vec<usize>,
        flushes: usize,
        stale_on: Vec<usize>,
    }

    impl Deferred for Log {
        fn flush(&mut self, _: &mut AnyConnection) -> QueryResult<bool> {
            if self.pending.is_empty() {
                return Ok(true);
            }
            self.flushes += 1;
            if self.stale_on.contains(&self.flushes) {
                return Ok(false);
            }
            self.pending.clear();
            Ok(true)
        }
        fn discard(&mut self) {
            self.pending.clear();
        }
    }

    #[derive(Debug, PartialEq)]
    enum Failed {
        Odd(usize),
        Db,
    }

    impl From<diesel::result::Error> for Failed {
        fn from(_: diesel::result::Error) -> Self {
            Failed::Db
        }
    }

    type Outcome = Result<Vec<Result<usize, Failed>>, (usize, Failed)>;

    /// Runs `n` operations: each bumps a counter (so rolled-back work is visible), defers
    /// itself when it may, and fails when `fails(i, deferring)`. Returns the results, the
    /// operations that wrote directly, and how many counter bumps were kept.
    fn exercise(
        n: usize,
        atomic: bool,
        stale_on: Vec<usize>,
        fails: impl Fn(usize, bool) -> bool,
    ) -> (Outcome, Vec<usize>, i64) {
        let (_t, db) = TestDatabase::migrated().expect("test database");
        let mut direct = Vec::new();
        let log = Log { stale_on, ..Log::default() };
        let results = db
            .transaction_sync::<_, DbError, _>(|conn| {
                let r = run_deferring(conn, (0..n).collect(), atomic, log, |c, i, d| {
                    next_counter(c, "batch-test")?;
                    if fails(i, d.writes().is_some()) {
                        return Err(Failed::Odd(i));
                    }
                    match d.writes() {
                        Some(w) => w.pending.push(i),
                        None => {
                            d.settle(c)?;
                            direct.push(i);
                        }
                    }
                    Ok(i)
                });
                Ok(r)
            })
            .expect("transaction");
        let counter = db.run_sync::<_, DbError, _>(|c| Ok(next_counter(c, "batch-test")? - 1)).expect("counter");
        (results, direct, counter)
    }

    #[test]
    fn a_stale_flush_runs_its_group_again_writing_as_it_goes() {
        let (results, direct, counter) = exercise(100, false, vec![1], |_, _| false);
        let results = results.expect("non-atomic");
        assert_eq!(results, (0..100).map(Ok).collect::<Vec<_>>());
        // The first group's flush found a row changed: the group ran again without deferring.
        assert_eq!(direct, (0..64).collect::<Vec<_>>());
        // Only the successful runs are left: one counter bump per operation.
        assert_eq!(counter, 100);
    }

    #[test]
    fn failures_still_answer_per_operation_when_writes_are_deferred() {
        let (results, direct, counter) = exercise(130, false, vec![], |i, _| i == 10 || i == 64);
        let results = results.expect("non-atomic");
        for (i, r) in results.iter().enumerate() {
            if i == 10 || i == 64 {
                assert_eq!(r, &Err(Failed::Odd(i)));
            } else {
                assert_eq!(r, &Ok(i));
            }
        }
        // Operations that run alone write directly: the failed ones (which leave nothing) and
        // the last, a group of one.
        assert_eq!(direct, vec![129]);
        assert_eq!(counter, 128);
    }

    #[test]
    fn atomic_batches_defer_and_report_the_first_failure() {
        let (results, direct, _) = exercise(100, true, vec![2], |_, _| false);
        assert_eq!(results.expect("atomic, all good"), (0..100).map(Ok).collect::<Vec<_>>());
        // The second group's flush was stale: only that group wrote directly.
        assert_eq!(direct, (64..100).collect::<Vec<_>>());
        let (results, _, _) = exercise(100, true, vec![], |i, _| i == 70);
        assert_eq!(results.expect_err("atomic, one bad"), (70, Failed::Odd(70)));
    }

    #[test]
    fn atomic_batches_report_a_deferred_failure_before_a_later_one() {
        // Operation 3's write would fail when made (a value taken) but is deferred; operation 5
        // fails at once. The batch must answer with operation 3, as it would without deferring.
        let (results, _, _) = exercise(10, true, vec![], |i, deferring| i == 5 || (i == 3 && !deferring));
        assert_eq!(results.expect_err("atomic"), (3, Failed::Odd(3)));
    }
}
