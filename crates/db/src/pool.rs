//! The connection pool and the one async boundary (`Db::run` / `Db::transaction`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::conn::{AnyConnection, Backend};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Storage failures, as callers need to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had (database down, pool exhausted): 503 to clients.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The blocking task died.
    #[error("database task failed: {0}")]
    Task(String),
}

/// Opens connections by URL scheme so that the real driver error reaches the logs
/// (the derived MultiConnection reports every failure as "invalid connection url").
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    statements: Arc<AtomicU64>,
}

/// Counts statements sent on a connection (for tests that pin the number of queries).
struct StatementCounter(Arc<AtomicU64>);

impl diesel::connection::Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match Backend::of_url(&self.url) {
            Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(&self.url)?;
                c.set_instrumentation(StatementCounter(self.statements.clone()));
                Ok(AnyConnection::Postgresql(c))
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut c = diesel::SqliteConnection::establish(path)?;
                c.set_instrumentation(StatementCounter(self.statements.clone()));
                c.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        // A panic mid-transaction, or a dead server connection, must not go back to the pool.
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// The database handle: a pool plus what the backend needs to behave.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    statements: Arc<AtomicU64>,
    /// SQLite has one writer at a time; serializing our own write transactions in-process
    /// avoids SQLITE_BUSY on lock upgrade (which busy_timeout cannot retry).
    write_lock: Arc<Mutex<()>>,
    /// At most one blocking task per connection: requests beyond that wait here, on the async
    /// side, instead of each parking a blocking thread (threads and their allocator arenas are
    /// what grow memory under load).
    permits: Arc<tokio::sync::Semaphore>,
}

/// Pool settings.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_size: 16, connect_timeout: Duration::from_secs(5) }
    }
}

impl Db {
    /// Opens a pool; fails with the driver's own message when the database is unreachable.
    pub fn connect(url: &str, opts: PoolOptions) -> Result<Db, DbError> {
        let backend = Backend::of_url(url);
        let statements = Arc::new(AtomicU64::new(0));
        let manager = Manager { url: url.to_string(), statements: statements.clone() };
        // Try once by hand to surface the real error instead of r2d2's timeout.
        r2d2::ManageConnection::connect(&manager).map_err(|e| DbError::Unavailable(e.to_string()))?;
        let pool = r2d2::Pool::builder()
            .max_size(opts.max_size)
            .min_idle(Some(1))
            .connection_timeout(opts.connect_timeout)
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let permits = Arc::new(tokio::sync::Semaphore::new(opts.max_size as usize));
        Ok(Db { pool, backend, statements, write_lock: Arc::new(Mutex::new(())), permits })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection, for synchronous callers (CLI, tests). Async code uses `run`.
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool.get().map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Applies pending migrations for this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.get()?;
        let source = match self.backend {
            Backend::Postgres => PG_MIGRATIONS,
            Backend::Sqlite => SQLITE_MIGRATIONS,
        };
        let done = conn.run_pending_migrations(source).map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(done.len())
    }

    /// Runs `f` with a pooled connection on the blocking pool. The whole unit of work, from
    /// checkout to return, happens off the async workers.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let permit = self.permit().await?;
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.get().map_err(|e| E::from(DbError::Unavailable(e.to_string())))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs `f` in one transaction on the blocking pool: commit on `Ok`, roll back on `Err`.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let permit = self.permit().await?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            db.transaction_sync(f)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// The synchronous form of `transaction`, for the CLI and for code already off the async workers.
    pub fn transaction_sync<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    {
        // The writer lock first, then a connection: queued writers do not hold connections.
        let _guard = self.writer_guard();
        let mut conn = self.get().map_err(E::from)?;
        let c: &mut AnyConnection = &mut conn;
        crate::outbox::begin();
        let result = c.transaction(|c| {
            let value = f(c)?;
            crate::outbox::flush(c)?;
            Ok(value)
        });
        crate::outbox::end();
        result
    }

    /// On SQLite, the lock every writer of this process holds (one writer at a time anyway).
    fn writer_guard(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        }
    }

    /// Runs a write outside a transaction (autocommit statements) on the blocking pool, under
    /// the SQLite writer lock like every other write.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let permit = self.permit().await?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _guard = db.writer_guard();
            let mut conn = db.get().map_err(E::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// The synchronous form of `run`, for the CLI.
    pub fn run_sync<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    {
        let mut conn = self.get().map_err(E::from)?;
        f(&mut conn)
    }

    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, DbError> {
        self.permits.clone().acquire_owned().await.map_err(|e| DbError::Task(e.to_string()))
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|c| c.batch_execute("SELECT 1").map_err(DbError::from)).await
    }

    /// Statements sent to the database by this pool so far.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Pool statistics: (connections, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }
}

impl crm_core::DomainError for DbError {
    fn class(&self) -> crm_core::ErrorClass {
        match self {
            DbError::Unavailable(_) => crm_core::ErrorClass::Unavailable,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UnableToSendCommand
                | diesel::result::DatabaseErrorKind::ClosedConnection,
                _,
            )) => crm_core::ErrorClass::Unavailable,
            _ => crm_core::ErrorClass::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match crm_core::DomainError::class(self) {
            crm_core::ErrorClass::Unavailable => "DATABASE_UNAVAILABLE",
            _ => "INTERNAL",
        }
    }
}

/// True when a query failed on a unique index (a concurrent duplicate).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
