//! Batches of creates, updates, upserts and deletes on one resource, each answered on its own or
//! all-or-nothing (see `crm_db::batch`).

use std::collections::HashMap;

use crm_core::external::{BatchOp, BatchOutcome, BatchResults};
use crm_core::ids::EntityId;
use crm_core::{Actor, DomainError, ExternalId, Patch};
use crm_db::AnyConnection;

use crate::write::{create_with, update_with, upsert_with};
use crate::{Record, archive};

/// One batch operation on records of `R`.
pub type Op<R> = BatchOp<<R as Record>::Input, <R as Record>::Patch, <R as crate::Stored>::Id>;

/// Row writes a batch leaves for the end of its group (`Record::DEFER_BATCH_WRITES`): creates,
/// with their external ids, and updates of records read at the start of the batch, each with
/// the version it was read at.
pub struct Pending<R> {
    pub(crate) creates: Vec<R>,
    pub(crate) updates: Vec<(R, i64)>,
}

impl<R> Default for Pending<R> {
    fn default() -> Self {
        Pending { creates: Vec::new(), updates: Vec::new() }
    }
}

impl<R: Record> crm_db::batch::Deferred for Pending<R> {
    fn flush(&mut self, conn: &mut AnyConnection) -> diesel::QueryResult<bool> {
        if self.creates.is_empty() && self.updates.is_empty() {
            return Ok(true);
        }
        let creates = std::mem::take(&mut self.creates);
        let updates = std::mem::take(&mut self.updates);
        let ext: Vec<(uuid::Uuid, &[ExternalId])> = creates.iter().map(|r| (r.id().uuid(), r.external_ids())).collect();
        Ok(R::insert_many(conn, &creates)?
            && crm_db::external_ids::insert_many_new(conn, R::ENTITY, &ext)?
            && R::update_many_if_version(conn, &updates)?)
    }

    fn discard(&mut self) {
        self.creates.clear();
        self.updates.clear();
    }
}

pub(crate) type Deferral<R> = crm_db::batch::Deferral<Pending<R>>;

/// Runs a batch: per-item results, or all-or-nothing. Records the operations update are read
/// up front in set-based queries (a record touched twice re-reads on its second use); with
/// `Record::DEFER_BATCH_WRITES`, creates and updates of those records are written a group at a
/// time, and every other operation first makes the pending writes.
#[tracing::instrument(skip_all, fields(entity = R::ENTITY, actor = %actor.sub, n = ops.len(), atomic))]
pub fn batch<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ops: Vec<Op<R>>,
    atomic: bool,
) -> BatchResults<R, crate::RecordError> {
    actor.require(R::WRITE).map_err(|e| (0, e.into()))?;
    let exts: Vec<ExternalId> = ops
        .iter()
        .filter_map(|op| match op {
            BatchOp::Upsert { external_id, .. } => external_id.clone().parse("external_id").ok(),
            _ => None,
        })
        .collect();
    let (by_ext, mut absent) =
        crm_db::external_ids::prepare_upserts(conn, R::ENTITY, &exts).map_err(|e| (usize::MAX, e.into()))?;
    let mut ids: Vec<R::Id> = ops
        .iter()
        .filter_map(|op| match op {
            BatchOp::Update { id, .. } => Some(*id),
            _ => None,
        })
        .chain(by_ext.values().map(|u| R::Id::from_uuid(*u)))
        .collect();
    ids.sort();
    ids.dedup();
    let mut loaded: HashMap<R::Id, R> =
        R::find_many(conn, &ids, true).map_err(|e| (usize::MAX, e.into()))?.into_iter().map(|r| (r.id(), r)).collect();
    let results = crm_db::batch::run_deferring(conn, ops, atomic, Pending::<R>::default(), |c, op, d| {
        let d = if R::DEFER_BATCH_WRITES { Some(d) } else { None };
        match op {
            BatchOp::Create { mut data } => {
                crm_db::external_ids::no_longer_absent(&mut absent, crate::RecordInput::external_ids(&mut data));
                create_with::<R>(c, actor, data, d).map(BatchOutcome::Created)
            }
            BatchOp::Update { id, mut data, expected_version } => {
                if let Patch::Value(list) = crate::MergePatch::external_ids(&mut data) {
                    crm_db::external_ids::no_longer_absent(&mut absent, list);
                }
                update_with(c, actor, id, data, expected_version, loaded.remove(&id), d).map(BatchOutcome::Updated)
            }
            BatchOp::Upsert { external_id, data } => {
                let parsed = external_id.clone().parse("external_id").ok();
                let known =
                    parsed.as_ref().and_then(|e| by_ext.get(e)).and_then(|u| loaded.remove(&R::Id::from_uuid(*u)));
                // Only the first upsert of an absent id may skip the lookup: a later one sees
                // what the first created.
                let locked_absent = parsed.is_some_and(|e| absent.remove(&e));
                upsert_with(c, actor, external_id, data, known, locked_absent, d)
                    .map(|(x, created)| if created { BatchOutcome::Created(x) } else { BatchOutcome::Updated(x) })
            }
            BatchOp::Delete { id, expected_version } => {
                if let Some(d) = d {
                    d.settle(c)?;
                }
                // A later update of the same record must read it again.
                loaded.remove(&id);
                archive::<R>(c, actor, id, expected_version).map(BatchOutcome::Archived)
            }
        }
    })?;
    let conceal = |o: BatchOutcome<R>| match o {
        BatchOutcome::Created(r) => BatchOutcome::Created(crate::concealed(r, actor)),
        BatchOutcome::Updated(r) => BatchOutcome::Updated(crate::concealed(r, actor)),
        BatchOutcome::Archived(r) => BatchOutcome::Archived(crate::concealed(r, actor)),
    };
    Ok(results.into_iter().map(|r| r.map(conceal)).collect())
}

/// What a batch that may report likely duplicates did: each operation's outcome, in order, and
/// the records it created that the create checks flag (by operation index, each with the
/// check's `POSSIBLE_DUPLICATE` answer and its candidates).
pub type Reported<R> = (Vec<Result<BatchOutcome<R>, crate::RecordError>>, Vec<(usize, crate::RecordError)>);

/// `batch`, then, with `report_duplicates`, the checks a create by hand gets on every record
/// it created. Syncs create without the checks; a batch or an import that asks for them gets
/// the flagged records reported instead of refused: they stay created. Any other failure of a
/// check fails the call.
pub fn batch_reporting<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ops: Vec<Op<R>>,
    atomic: bool,
    report_duplicates: bool,
) -> Result<Reported<R>, (usize, crate::RecordError)> {
    let results = batch::<R>(conn, actor, ops, atomic)?;
    let mut flagged = Vec::new();
    if report_duplicates {
        for (i, r) in results.iter().enumerate() {
            if let Ok(BatchOutcome::Created(x)) = r {
                match crate::hooks::checked(conn, actor, R::ENTITY, x.id().uuid()) {
                    Ok(()) => {}
                    Err(e) if e.code() == "POSSIBLE_DUPLICATE" => flagged.push((i, e)),
                    Err(e) => return Err((i, e)),
                }
            }
        }
    }
    Ok((results, flagged))
}
