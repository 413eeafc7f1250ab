//! The life cycle every resource shares, written once: reads and lists under scopes, creates,
//! merge-patch updates with optimistic versions, archive and restore, uniqueness among live
//! records, external ids and upserts, batches (with deferred multi-row writes where a resource
//! allows them), bulk imports, events and field history.
//!
//! A resource implements [`Record`] (its domain rules: how an input becomes a record, which
//! references it checks, which of its values are unique) and storage through
//! [`diesel_store!`]; the generic use cases of [`read`] and [`write`] are then its service
//! functions, shared by REST and GraphQL.

pub mod batch;
pub mod error;
pub mod hooks;
pub mod read;
pub mod refs;
pub mod store;
pub mod write;

use crm_core::filter::Catalog;
use crm_core::ids::EntityId;
use crm_core::list::{ListQuery, Page};
use crm_core::{Actor, ExternalId, Patch, Scope, Timestamp};
use crm_db::AnyConnection;
use serde::Serialize;

pub use batch::{Op, batch};
pub use error::RecordError;
pub use read::{
    external_ids_of, get, get_by_external_id, get_many, history, id_by_external_id, list, list_of, list_per_parent,
    require_related_scopes,
};
pub use refs::check_ref;
pub use write::{archive, create, import, modify, restore, update, update_from, upsert};

/// Bookkeeping every record carries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meta {
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// A resource with the write contract. See the crate docs.
pub trait Record: Clone + PartialEq + Serialize + Send + Sync + Sized + 'static {
    type Id: EntityId + From<uuid::Uuid> + Into<uuid::Uuid>;
    /// A new record, or the full writable state of one.
    type Input: Clone + Send + 'static;
    /// A JSON merge patch.
    type Patch: Clone + Send + 'static;

    /// Name in the event log, the external-id table and messages (`interaction`).
    const ENTITY: &'static str = <Self::Id as EntityId>::ENTITY;
    const READ: Scope;
    const WRITE: Scope;
    /// Sort when the caller gives none.
    const DEFAULT_SORT: &'static str = "-created_at";
    /// Batches may leave this resource's row writes for the end of each group of operations
    /// and make them with multi-row statements (see `crm_db::batch::run_deferring`). Only for
    /// resources whose `after_write` does not need the record's row: a deferred write runs
    /// `after_write` before the row exists.
    const DEFER_BATCH_WRITES: bool = false;

    /// What lists filter and sort on.
    fn catalog() -> &'static Catalog;

    fn id(&self) -> Self::Id;
    fn meta(&self) -> Meta;
    fn set_meta(&mut self, meta: Meta);
    fn external_ids(&self) -> &[ExternalId];
    fn external_ids_mut(&mut self) -> &mut Vec<ExternalId>;

    /// The empty record an upsert starts from when it creates.
    fn blank() -> Self;
    /// The full writable state after applying `patch` to `current`.
    fn apply_patch(patch: Self::Patch, current: &Self) -> Self::Input;
    fn patch_external_ids(patch: &mut Self::Patch) -> &mut Patch<Vec<ExternalId>>;
    fn input_external_ids(input: &mut Self::Input) -> &mut Vec<ExternalId>;

    /// Validates and normalizes `input`, resolves and checks its references, enforces the
    /// resource's rules against `prev` (transitions) and builds the record. `now` is the time
    /// of this write (it becomes `updated_at`, and `created_at` on create). The generic code
    /// sets the bookkeeping (`Meta`) afterwards, and checks uniqueness (`unique`).
    fn build(
        conn: &mut AnyConnection,
        actor: &Actor,
        id: Self::Id,
        input: Self::Input,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError>;

    /// The values of this record that no other live record may share, by field (catalog
    /// name): a contact's email, an account's domain. Backed by partial unique indexes; the
    /// generic code checks them on create, on update when they change, and on restore, so a
    /// conflict names the record that holds the value.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }

    /// Checks before an archived record comes back, beyond uniqueness.
    fn check_restore(_conn: &mut AnyConnection, _record: &Self) -> Result<(), RecordError> {
        Ok(())
    }

    /// Turns a failed write into the domain's answer. By default a unique violation (a
    /// concurrent writer took a value between the check and the write) is `Duplicate` on the
    /// first unique value.
    fn write_error(e: diesel::result::Error, record: &Self) -> RecordError {
        write::default_write_error(e, record)
    }

    /// Runs after the record's row was written (created, updated, archived or restored): child
    /// rows, effects on other records.
    fn after_write(
        _conn: &mut AnyConnection,
        _actor: &Actor,
        _before: Option<&Self>,
        _after: &Self,
    ) -> Result<(), RecordError> {
        Ok(())
    }

    /// Loads child rows of loaded records (lines of a purchase); external ids are loaded by
    /// the store.
    fn load_children(_conn: &mut AnyConnection, _items: &mut [Self]) -> diesel::QueryResult<()> {
        Ok(())
    }

    // Storage, usually generated by `diesel_store!`.
    fn find(conn: &mut AnyConnection, id: Self::Id) -> diesel::QueryResult<Option<Self>>;
    /// Records by id (archived included), missing ones skipped; `external_ids: false` leaves
    /// their external ids empty (one query fewer, for readers that do not show them).
    fn find_many(conn: &mut AnyConnection, ids: &[Self::Id], external_ids: bool) -> diesel::QueryResult<Vec<Self>>;
    /// Inserts the record unless a unique value is taken: whether it was inserted. (No failed
    /// statement on a duplicate, so a PostgreSQL transaction carries on.)
    fn insert(conn: &mut AnyConnection, record: &Self) -> diesel::QueryResult<bool>;
    /// Inserts new records unless a unique value is taken (one statement on PostgreSQL, one
    /// per row on SQLite): false when some row was not inserted (the caller rolls back).
    fn insert_many(conn: &mut AnyConnection, records: &[Self]) -> diesel::QueryResult<bool>;
    /// Inserts new records with multi-row statements, failing on any conflict (bulk import).
    fn import_rows(conn: &mut AnyConnection, records: &[Self]) -> diesel::QueryResult<()>;
    fn update_if_version(conn: &mut AnyConnection, record: &Self, expected: i64) -> diesel::QueryResult<bool>;
    /// Writes each record over its row if that row is still at the paired version; false when
    /// some row was not (the caller rolls back). One statement per row unless the resource
    /// has a multi-row form.
    fn update_many_if_version(conn: &mut AnyConnection, items: &[(Self, i64)]) -> diesel::QueryResult<bool> {
        let mut all = true;
        for (r, expected) in items {
            all &= Self::update_if_version(conn, r, *expected)?;
        }
        Ok(all)
    }
    fn list_page(conn: &mut AnyConnection, q: &ListQuery) -> Result<Page<Self>, RecordError>;
    /// The first `q.limit + 1` records matching `q` for each parent whose id is in `column`,
    /// ordered by parent then as the list asks (without external ids and child rows).
    fn list_first_of_each(
        conn: &mut AnyConnection,
        column: &'static str,
        parents: &[uuid::Uuid],
        q: &ListQuery,
    ) -> Result<Vec<Self>, RecordError>;
    /// Takes the record's row lock until the transaction ends (PostgreSQL; SQLite writers are
    /// serialized anyway): for use cases that read, decide and write once (conversions,
    /// completions). False when there is no such record.
    fn lock(conn: &mut AnyConnection, id: Self::Id) -> diesel::QueryResult<bool>;

    /// Whether a record exists (archived included).
    fn exists(conn: &mut AnyConnection, id: Self::Id) -> diesel::QueryResult<bool> {
        crm_db::sql::id_exists(conn, Self::catalog().table, id.uuid())
    }
}

fn not_found<R: Record>() -> RecordError {
    RecordError::NotFound { entity: R::ENTITY }
}
