//! The connection pool and the one async boundary (`Db::run` / `Db::transaction`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    metrics: crate::metrics::DbMetrics,
    /// PostgreSQL's `statement_timeout` for the connection's session; on SQLite, the limit its
    /// progress handler enforces (see `SqliteClock`).
    statement_timeout: Option<Duration>,
}

/// How often SQLite calls the progress handler, in virtual machine instructions: about every
/// 0.1 ms of work, so a statement stops within a millisecond of its limit for the cost of a
/// clock read per call.
const SQLITE_PROGRESS_STEPS: u32 = 10_000;

/// The statement timeout on SQLite, which has no setting for it: the connection's
/// instrumentation notes when each statement starts and ends, and a progress handler that
/// SQLite calls while a statement runs interrupts it once it has run longer than the limit
/// (`SQLITE_INTERRUPT`, which `DbError::is_statement_timeout` reads as the timeout). Long work
/// lifts it for its unit (`Db::unbounded`), as on PostgreSQL.
#[derive(Debug, Default)]
struct SqliteClock {
    /// When the statement under way started, in nanoseconds since `clock_base()` (0: none).
    started: AtomicU64,
    /// The connection serves long work: no limit until it goes back to the pool.
    lifted: AtomicBool,
}

/// The instant statement start times count from.
fn clock_base() -> std::time::Instant {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(std::time::Instant::now)
}

fn clock_now() -> u64 {
    u64::try_from(clock_base().elapsed().as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl SqliteClock {
    /// Installs the limit on a connection: the handler reads this clock.
    fn install(c: &mut diesel::SqliteConnection, limit: Duration) -> Arc<SqliteClock> {
        let clock = Arc::new(SqliteClock::default());
        let seen = clock.clone();
        let limit = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        let every = std::num::NonZeroU32::new(SQLITE_PROGRESS_STEPS).unwrap_or(std::num::NonZeroU32::MIN);
        c.on_progress(every, move || {
            let started = seen.started.load(Ordering::Relaxed);
            if started != 0 && !seen.lifted.load(Ordering::Relaxed) && clock_now().saturating_sub(started) > limit {
                diesel::sqlite::ProgressDecision::Interrupt
            } else {
                diesel::sqlite::ProgressDecision::Continue
            }
        });
        clock
    }
}

/// SQLite's memory for the whole process (page caches, sorters, the rowid sets of a full-text
/// match), in bytes. Above it SQLite recycles its own cached pages instead of allocating more.
/// Without it every connection keeps a main and a temporary page cache of up to 2 MB each, plus
/// what its statements last held: measured on 100k contacts, 22.5 MB stayed allocated after the
/// search scenario; with the limit the peak was 9.7 MB and 8.0 MB stayed, at the same req/s for search and list (the file's pages
/// are still in the operating system's cache). Process-wide: every connection sets the same value.
pub const SQLITE_SOFT_HEAP_LIMIT: u64 = 8 * 1024 * 1024;

/// Counts statements sent on a connection (for tests that pin the number of queries).
/// Counts a connection's statements, and notes when its server connection is gone.
struct StatementCounter {
    statements: Arc<AtomicU64>,
    metrics: crate::metrics::DbMetrics,
    /// When the statement under way started.
    started: Option<std::time::Instant>,
    /// A statement failed because the connection is closed (the server cut it: a restart, a
    /// failover, an idle timeout). diesel's own check (`is_broken`) only looks at the
    /// transaction state, so without this the dead connection would go back to the pool and
    /// fail every request that gets it.
    dead: bool,
    /// SQLite's statement timeout reads the statements' start from here.
    clock: Option<Arc<SqliteClock>>,
}

impl StatementCounter {
    fn new(statements: Arc<AtomicU64>, metrics: crate::metrics::DbMetrics) -> StatementCounter {
        StatementCounter { statements, metrics, started: None, dead: false, clock: None }
    }

    fn with_clock(mut self, clock: Option<Arc<SqliteClock>>) -> StatementCounter {
        self.clock = clock;
        self
    }

    fn finished(&mut self) {
        if let Some(at) = self.started.take() {
            self.metrics.statement_seconds.observe(at.elapsed().as_secs_f64());
        }
        if let Some(c) = &self.clock {
            c.started.store(0, Ordering::Relaxed);
        }
    }
}

impl diesel::connection::Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent as E;
        use diesel::result::{DatabaseErrorKind as K, Error};
        match event {
            E::StartQuery { .. } => {
                self.statements.fetch_add(1, Ordering::Relaxed);
                self.started = Some(std::time::Instant::now());
                if let Some(c) = &self.clock {
                    c.started.store(clock_now(), Ordering::Relaxed);
                }
            }
            E::FinishQuery {
                error: Some(Error::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _)),
                ..
            } => {
                self.finished();
                self.dead = true;
            }
            E::FinishQuery { .. } => self.finished(),
            _ => {}
        }
    }
}

/// The SQLite statement clock of a connection, when it has a statement timeout.
fn sqlite_clock(conn: &mut AnyConnection) -> Option<Arc<SqliteClock>> {
    match conn {
        AnyConnection::Sqlite(c) => c.instrumentation().downcast_ref::<StatementCounter>()?.clock.clone(),
        AnyConnection::Postgresql(_) => None,
    }
}

/// Whether a statement on the connection found its server connection gone.
fn found_dead(conn: &mut AnyConnection) -> bool {
    let instrumentation = match conn {
        AnyConnection::Postgresql(c) => c.instrumentation(),
        AnyConnection::Sqlite(c) => c.instrumentation(),
    };
    instrumentation.downcast_ref::<StatementCounter>().is_some_and(|s| s.dead)
}

diesel::define_sql_function! {
    /// The great-circle distance in metres between two points given in degrees
    /// (`crm_core::geo::distance_m`); NULL when a coordinate is. PostgreSQL has the same
    /// function from a migration.
    fn crm_distance_m(
        lat1: diesel::sql_types::Nullable<diesel::sql_types::Double>,
        lng1: diesel::sql_types::Nullable<diesel::sql_types::Double>,
        lat2: diesel::sql_types::Nullable<diesel::sql_types::Double>,
        lng2: diesel::sql_types::Nullable<diesel::sql_types::Double>
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Double>;
}

/// The SQL functions SQLite lacks and the lists use.
fn register_functions(c: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
    crm_distance_m_utils::register_impl(
        c,
        |lat1: Option<f64>, lng1: Option<f64>, lat2: Option<f64>, lng2: Option<f64>| {
            let a = crm_core::geo::GeoPoint { lat: lat1?, lng: lng1? };
            let b = crm_core::geo::GeoPoint { lat: lat2?, lng: lng2? };
            Some(crm_core::geo::distance_m(a, b))
        },
    )
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match Backend::of_url(&self.url) {
            Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(&self.url)?;
                if let Some(t) = self.statement_timeout {
                    c.batch_execute(&format!("SET statement_timeout = {}", t.as_millis().max(1)))
                        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                }
                c.set_instrumentation(StatementCounter::new(self.statements.clone(), self.metrics.clone()));
                Ok(AnyConnection::Postgresql(c))
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut c = diesel::SqliteConnection::establish(path)?;
                c.batch_execute(&format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA soft_heap_limit = {SQLITE_SOFT_HEAP_LIMIT};"
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                register_functions(&mut c).map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                let clock = self.statement_timeout.map(|t| SqliteClock::install(&mut c, t));
                // Counted from here on, as PostgreSQL's connection setup is not: a pool that
                // opens a connection mid-request must not change the statements a request counts.
                c.set_instrumentation(
                    StatementCounter::new(self.statements.clone(), self.metrics.clone()).with_clock(clock),
                );
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        // A panic mid-transaction, or a dead server connection, must not go back to the pool.
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn) || found_dead(conn)
    }
}

/// What a unit of work reaches besides its connection: values the application put on its
/// `Db` when it built it (the domains' reactions to each other's writes), by type. Each `Db`
/// has its own; the unit of work that runs on a database thread sees the context of the `Db`
/// that runs it (the same scoping as the event buffer of `crate::outbox`), so two applications
/// in one process (the tests) never see each other's.
#[derive(Clone, Default)]
pub struct Context(Arc<std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>);

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Context>> = const { std::cell::RefCell::new(None) };
}

/// The value of type `T` in the context of the unit of work running on this thread, if its
/// `Db` has one.
pub fn context<T: std::any::Any + Send + Sync>() -> Option<Arc<T>> {
    CURRENT.with(|c| {
        let c = c.borrow();
        let any = c.as_ref()?.0.get(&std::any::TypeId::of::<T>())?.clone();
        any.downcast::<T>().ok()
    })
}

/// Makes `ctx` the context of this thread until dropped (then the previous one again).
struct Entered(Option<Context>);

impl Entered {
    fn new(ctx: &Context) -> Entered {
        Entered(CURRENT.with(|c| c.replace(Some(ctx.clone()))))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let prev = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
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
    /// The threads that run database work, one per connection.
    workers: Workers,
    /// Admission to bulk work (`bulk_transaction`): half the connections, at least one.
    bulk: Arc<tokio::sync::Semaphore>,
    /// What units of work reach besides their connection (see `Context`).
    context: Context,
    /// Statement and checkout times, for `/metrics`.
    metrics: crate::metrics::DbMetrics,
    /// PostgreSQL's statement timeout of every connection (None: none).
    statement_timeout: Option<Duration>,
    /// This handle's units of work run without the statement timeout (`Db::unbounded`).
    unbounded: bool,
}

/// A pooled connection. On a handle for long work (`Db::unbounded`) the statement timeout is
/// lifted while it is out, and put back when it returns to the pool.
pub struct Checkout {
    conn: r2d2::PooledConnection<Manager>,
    lifted: Option<Lifted>,
}

/// A statement timeout lifted for one checkout.
enum Lifted {
    /// PostgreSQL's, to be set back to this.
    Postgres(Duration),
    /// SQLite's clock, to be armed again.
    Sqlite(Arc<SqliteClock>),
}

impl std::ops::Deref for Checkout {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        match self.lifted.take() {
            Some(Lifted::Postgres(t)) => {
                if let Err(e) = self.conn.batch_execute(&format!("SET statement_timeout = {}", t.as_millis().max(1))) {
                    // Only a connection the server closed fails here; the pool drops it (`has_broken`).
                    tracing::warn!(error = %e, "could not put the statement timeout back");
                }
            }
            Some(Lifted::Sqlite(clock)) => clock.lifted.store(false, Ordering::Relaxed),
            None => {}
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads, as many as connections, that take database work in arrival order.
///
/// Not tokio's blocking pool: that one grows to hundreds of threads and hands each task to
/// whichever thread is free, so every connection's memory (page cache, statements, result
/// rows) ends up spread over as many allocator arenas as there were threads, each keeping its
/// high-water mark. Here work beyond the pool size waits in the queue, not on a thread.
/// The threads end when the last `Db` clone is dropped.
#[derive(Clone)]
struct Workers {
    queue: std::sync::mpsc::Sender<Job>,
}

impl Workers {
    fn start(n: u32) -> Result<Workers, DbError> {
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..n.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("crm-db-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take a job, not to run it.
                        let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            // A panic fails that job's caller (its reply channel drops), not the thread.
                            Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                            Err(_) => break,
                        }
                    }
                })
                .map_err(|e| DbError::Unavailable(format!("cannot start database threads: {e}")))?;
        }
        Ok(Workers { queue })
    }

    /// Runs `f` on one of the threads and waits for it without blocking the async worker.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, DbError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .send(Box::new(move || {
                // A caller that went away while queued (request cancelled, client timed out)
                // needs no work done.
                if !reply.is_closed() {
                    let _ = reply.send(f());
                }
            }))
            .map_err(|_| DbError::Task("database threads stopped".into()))?;
        answer.await.map_err(|_| DbError::Task("database work panicked".into()))
    }
}

/// Pool settings.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
    /// Statements running longer are cancelled (PostgreSQL's `statement_timeout`; on SQLite a
    /// progress handler, see `SqliteClock`): the unit of work fails with a `DbError` whose
    /// `is_statement_timeout` is true (`STATEMENT_TIMEOUT`, 503) and the connection stays
    /// usable. None: no limit.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_size: 16, connect_timeout: Duration::from_secs(5), statement_timeout: None }
    }
}

impl PoolOptions {
    /// The pool size that serves best on this machine when none is configured: two connections
    /// per core, at least 4 and at most 16, on both backends.
    ///
    /// Each connection has its own database thread, and each busy connection keeps a CPU busy:
    /// SQLite runs queries on that thread, and a local PostgreSQL runs them in a server process
    /// on the same cores. Connections beyond two per core only queue on the CPU. They add no
    /// throughput and lengthen the slowest answers. Measured on 2 cores:
    /// - SQLite: 16 connections gave the same req/s as 4, twice the p99 and 50 MB more memory.
    /// - PostgreSQL: 16 connections gave lower req/s than 4 or 8, and a p99 two to three times
    ///   as long (get by id 21–33 ms against 7–10 ms; create 103–123 ms against 49–66 ms).
    ///
    /// A PostgreSQL across a network with a noticeable round trip may want more
    /// (`CRM_DB_POOL_SIZE`). Small pools also keep instances × pool under PostgreSQL's
    /// `max_connections` when the service scales out.
    pub fn default_size() -> u32 {
        Self::size_for_cores(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    fn size_for_cores(cores: usize) -> u32 {
        u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).clamp(4, 16)
    }
}

impl Db {
    /// Opens a pool; fails with the driver's own message when the database is unreachable.
    pub fn connect(url: &str, opts: PoolOptions) -> Result<Db, DbError> {
        let backend = Backend::of_url(url);
        let statements = Arc::new(AtomicU64::new(0));
        let metrics = crate::metrics::DbMetrics::default();
        let manager = Manager {
            url: url.to_string(),
            statements: statements.clone(),
            metrics: metrics.clone(),
            statement_timeout: opts.statement_timeout,
        };
        // Try once by hand to surface the real error instead of r2d2's timeout.
        r2d2::ManageConnection::connect(&manager).map_err(|e| DbError::Unavailable(e.to_string()))?;
        let pool = r2d2::Pool::builder()
            .max_size(opts.max_size)
            .min_idle(Some(1))
            .connection_timeout(opts.connect_timeout)
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let workers = Workers::start(opts.max_size)?;
        let bulk = Arc::new(tokio::sync::Semaphore::new(bulk_lanes(opts.max_size)));
        Ok(Db {
            pool,
            backend,
            statements,
            write_lock: Arc::new(Mutex::new(())),
            workers,
            bulk,
            context: Context::default(),
            metrics,
            statement_timeout: opts.statement_timeout,
            unbounded: false,
        })
    }

    /// This handle with `value` in the context of its units of work (replacing one of the same
    /// type). Set once, when the application builds its database handle.
    /// The value of type `T` this handle carries (`with_context`), read outside a unit of work
    /// (work that must not hold a connection while it waits, such as an HTTP call).
    pub fn context_of<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.context.0.get(&std::any::TypeId::of::<T>())?.clone().downcast::<T>().ok()
    }

    pub fn with_context<T: std::any::Any + Send + Sync>(mut self, value: T) -> Db {
        let mut map = (*self.context.0).clone();
        map.insert(std::any::TypeId::of::<T>(), Arc::new(value));
        self.context = Context(Arc::new(map));
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection, for synchronous callers (CLI, tests). Async code uses `run`.
    pub fn get(&self) -> Result<Checkout, DbError> {
        let started = std::time::Instant::now();
        let conn = self.pool.get().map_err(|e| DbError::Unavailable(e.to_string()));
        self.metrics.pool_wait_seconds.observe(started.elapsed().as_secs_f64());
        let mut conn = conn?;
        // The handle of long work lifts the timeout for its unit, and puts it back after.
        let lifted = match (self.unbounded, self.statement_timeout, &mut *conn) {
            (true, Some(t), AnyConnection::Postgresql(_)) => {
                conn.batch_execute("SET statement_timeout = 0")?;
                Some(Lifted::Postgres(t))
            }
            (true, Some(_), AnyConnection::Sqlite(_)) => sqlite_clock(&mut conn).map(|clock| {
                clock.lifted.store(true, Ordering::Relaxed);
                Lifted::Sqlite(clock)
            }),
            _ => None,
        };
        Ok(Checkout { conn, lifted })
    }

    /// This handle, for long work (background jobs, maintenance): its units of work run without
    /// the statement timeout.
    pub fn unbounded(&self) -> Db {
        Db { unbounded: true, ..self.clone() }
    }

    /// Statement and checkout times, for `/metrics`.
    pub fn metrics(&self) -> &crate::metrics::DbMetrics {
        &self.metrics
    }

    /// Applies pending migrations for this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        // A migration rewrites whole tables: long work.
        let mut conn = self.unbounded().get()?;
        let source = match self.backend {
            Backend::Postgres => PG_MIGRATIONS,
            Backend::Sqlite => SQLITE_MIGRATIONS,
        };
        let done = conn.run_pending_migrations(source).map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(done.len())
    }

    /// Runs `f` with a pooled connection on the database threads. The whole unit of work, from
    /// checkout to return, happens off the async workers.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let (db, ctx) = (self.clone(), self.context.clone());
        self.workers
            .run(move || {
                let _ctx = Entered::new(&ctx);
                let mut conn = db.get().map_err(E::from)?;
                f(&mut conn)
            })
            .await?
    }

    /// Runs `f` with this handle on a blocking thread of the runtime, not on the database
    /// threads: for use cases that wait on something else than the database between their
    /// units of work (an HTTP call), which they open themselves (`run_sync`,
    /// `transaction_sync`).
    pub async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Db) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db)).await.map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs `f` in one transaction on the database threads: commit on `Ok`, roll back on `Err`.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        self.workers.run(move || db.transaction_sync(f)).await?
    }

    /// `transaction` for bulk work (batches of up to 1000 operations, about 0.2 s each): at most
    /// half the connections, at least one, run bulk work at once; further bulk calls wait for a
    /// lane without holding a database thread.
    ///
    /// Without it, as many concurrent batch clients as connections took every database thread,
    /// and short requests queued behind them: on PostgreSQL with a pool of 4, four clients
    /// looping batches while wrk read contacts by id left the reads at 880–1280 req/s with a
    /// p99 of 146–177 ms, against 2640–3050 req/s and 35–38 ms with the lanes
    /// (docs/PERFORMANCE.md has the measurement).
    pub async fn bulk_transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let lane =
            self.bulk.clone().acquire_owned().await.map_err(|_| E::from(DbError::Task("database closed".into())))?;
        let db = self.clone();
        self.workers
            .run(move || {
                // Held until the work is done, even when the caller has stopped waiting.
                let _lane = lane;
                db.bulk_transaction_sync(f)
            })
            .await?
    }

    /// The synchronous form of `bulk_transaction` (an import's chunk), without the lanes. On
    /// SQLite its statement and savepoint journals stay in memory (`temp_store = MEMORY` for
    /// the transaction): a batch writes its rows in groups under savepoints, and each group
    /// first copies every page it changes into the savepoint's journal, which otherwise spills
    /// to a temporary file past 64 KiB. Measured on an import of 100,000 contacts, those
    /// writes were about nine in ten of the process's `pwrite` calls (docs/PERFORMANCE.md).
    /// The journal holds the pages one group changes: a few MB.
    pub fn bulk_transaction_sync<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    {
        self.transaction_on(true, f)
    }

    /// The synchronous form of `transaction`, for the CLI and for code already off the async workers.
    pub fn transaction_sync<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    {
        self.transaction_on(false, f)
    }

    fn transaction_on<T, E, F>(&self, bulk: bool, f: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    {
        let _ctx = Entered::new(&self.context);
        // The writer lock first, then a connection: queued writers do not hold connections.
        let _guard = self.writer_guard();
        let mut conn = self.get().map_err(E::from)?;
        let c: &mut AnyConnection = &mut conn;
        /// Ends the event buffer (and the memo) however the transaction ends, a panic
        /// included: the thread lives on and must not buffer a later job's events.
        struct Buffering;
        impl Drop for Buffering {
            fn drop(&mut self) {
                crate::outbox::end();
                crate::memo::end();
            }
        }
        crate::outbox::begin();
        crate::memo::begin();
        let _buffering = Buffering;
        // Read when the write transaction begins, so set before it.
        let memory_journals = bulk && matches!(c, AnyConnection::Sqlite(_));
        if memory_journals {
            c.batch_execute("PRAGMA temp_store = MEMORY")?;
        }
        let out = write_transaction(c, |c| {
            let value = f(c)?;
            crate::outbox::flush(c)?;
            Ok(value)
        });
        if memory_journals && let Err(e) = c.batch_execute("PRAGMA temp_store = DEFAULT") {
            // Worth knowing: this connection's later journals stay in memory too.
            tracing::warn!(error = %e, "could not reset temp_store after a bulk transaction");
        }
        out
    }

    /// On SQLite, the lock every writer of this process holds (one writer at a time anyway).
    /// Writers of other processes on the same file are ordered by the file lock, which a write
    /// transaction takes when it begins (`write_transaction`).
    fn writer_guard(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        }
    }

    /// Runs a write outside a transaction (autocommit statements) on the database threads, under
    /// the SQLite writer lock like every other write.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        self.workers
            .run(move || {
                let _ctx = Entered::new(&db.context);
                let _guard = db.writer_guard();
                let mut conn = db.get().map_err(E::from)?;
                f(&mut conn)
            })
            .await?
    }

    /// The synchronous form of `run`, for the CLI.
    pub fn run_sync<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    {
        let _ctx = Entered::new(&self.context);
        let mut conn = self.get().map_err(E::from)?;
        f(&mut conn)
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
            e if e.is_statement_timeout() => crm_core::ErrorClass::Unavailable,
            _ => crm_core::ErrorClass::Internal,
        }
    }
    fn code(&self) -> &'static str {
        match crm_core::DomainError::class(self) {
            _ if self.is_statement_timeout() => "STATEMENT_TIMEOUT",
            crm_core::ErrorClass::Unavailable => "DATABASE_UNAVAILABLE",
            _ => "INTERNAL",
        }
    }
}

impl DbError {
    /// The statement ran past the statement timeout: PostgreSQL cancelled it (SQLSTATE 57014;
    /// diesel gives the message only, which the server writes in English unless `lc_messages`
    /// says otherwise), or SQLite's progress handler interrupted it (`SQLITE_INTERRUPT`, which
    /// nothing else here causes).
    pub fn is_statement_timeout(&self) -> bool {
        matches!(self, DbError::Query(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("statement timeout") || info.message() == "interrupted")
    }
}

/// True when a query failed on a unique index (a concurrent duplicate).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

/// How many bulk calls may run at once on a pool of `max_size` connections.
fn bulk_lanes(max_size: u32) -> usize {
    usize::try_from(max_size / 2).unwrap_or(1).max(1)
}

/// `Connection::transaction`, except that on SQLite it begins `IMMEDIATE`: it takes the file's
/// write lock first, waiting up to `busy_timeout` for another process's writer. A deferred
/// transaction would read first and then fail with SQLITE_BUSY when upgrading to write while
/// another process wrote (a lock upgrade is never retried). Savepoints inside work as usual.
pub fn write_transaction<T, E, F>(c: &mut AnyConnection, f: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <AnyConnection as diesel::Connection>::TransactionManager;
    match c {
        AnyConnection::Sqlite(sqlite) => AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?,
        AnyConnection::Postgresql(_) => Manager::begin_transaction(c)?,
    }
    match f(c) {
        Ok(value) => {
            Manager::commit_transaction(c)?;
            Ok(value)
        }
        // As diesel's `transaction`: a failed rollback reports itself, unless the manager is
        // already broken (then the caller's error says more).
        Err(e) => match Manager::rollback_transaction(c) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pool_is_two_connections_per_core_within_4_to_16() {
        let sizes: Vec<u32> = [1, 2, 3, 5, 8, 9, 64, usize::MAX].map(PoolOptions::size_for_cores).to_vec();
        assert_eq!(sizes, vec![4, 4, 6, 10, 16, 16, 16, 16]);
        assert!((4..=16).contains(&PoolOptions::default_size()));
    }

    #[tokio::test]
    async fn database_threads_are_fixed_and_survive_a_panicking_job() {
        let workers = Workers::start(2).expect("threads");
        let names: Vec<String> = futures_join(&workers, 8).await;
        assert!(names.iter().all(|n| n == "crm-db-0" || n == "crm-db-1"), "{names:?}");
        let failed = workers.run(|| -> u32 { panic!("boom") }).await;
        assert!(matches!(failed, Err(DbError::Task(_))));
        // Both threads still take work.
        assert_eq!(workers.run(|| 7).await.expect("after a panic"), 7);
        assert_eq!(futures_join(&workers, 4).await.len(), 4);
    }

    #[test]
    fn bulk_transactions_keep_sqlite_journals_in_memory_only_while_they_run() {
        #[derive(diesel::QueryableByName)]
        struct TempStore {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            temp_store: i32,
        }
        let t = crate::testing::TestDatabase::create().expect("database");
        let db = Db::connect(&t.url, PoolOptions { max_size: 1, ..Default::default() }).expect("pool");
        let read = |c: &mut AnyConnection| -> Result<i32, DbError> {
            Ok(match c {
                AnyConnection::Sqlite(s) => {
                    diesel::sql_query("PRAGMA temp_store").get_result::<TempStore>(s)?.temp_store
                }
                AnyConnection::Postgresql(_) => -1,
            })
        };
        let inside = db.bulk_transaction_sync(read).expect("bulk");
        let after = db.transaction_sync(read).expect("plain");
        if db.backend() == Backend::Sqlite {
            // 2 is MEMORY, 0 the default (files); one connection, so the same one both times.
            assert_eq!((inside, after), (2, 0));
        }
    }
    #[test]
    fn a_slow_statement_is_cancelled_and_its_connection_serves_on() {
        let t = crate::testing::TestDatabase::create().expect("database");
        let opts =
            PoolOptions { max_size: 1, statement_timeout: Some(Duration::from_millis(200)), ..Default::default() };
        let db = Db::connect(&t.url, opts).expect("pool");
        // A statement that runs about `secs` seconds: PostgreSQL sleeps; SQLite counts (its
        // progress handler sees work, not sleep), about a million rows per second or more, so
        // "0.4" runs well past the 200 ms limit and "2" is sure to reach it.
        let sleep = |secs: &'static str| {
            move |c: &mut AnyConnection| {
                let stmt = match c {
                    AnyConnection::Postgresql(_) => format!("SELECT pg_sleep({secs})"),
                    AnyConnection::Sqlite(_) => {
                        let rows = match secs {
                            "0" => 1,
                            "0.4" => 5_000_000,
                            _ => 1_000_000_000,
                        };
                        format!(
                            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {rows}) \
                             SELECT count(*) FROM n"
                        )
                    }
                };
                c.batch_execute(&stmt).map_err(DbError::from)
            }
        };
        let e = db.run_sync(sleep("2")).expect_err("cancelled");
        assert!(e.is_statement_timeout(), "{e}");
        assert_eq!(crm_core::DomainError::code(&e), "STATEMENT_TIMEOUT");
        assert_eq!(crm_core::DomainError::class(&e), crm_core::ErrorClass::Unavailable);
        // The pool's one connection serves on, in and out of transactions.
        db.run_sync(sleep("0")).expect("after a cancelled statement");
        let e = db.transaction_sync(sleep("2")).expect_err("cancelled in a transaction");
        assert!(e.is_statement_timeout(), "{e}");
        db.transaction_sync(sleep("0")).expect("after a cancelled transaction");
        // Long work lifts the limit for its own unit only.
        db.unbounded().run_sync(sleep("0.4")).expect("unbounded");
        db.unbounded().transaction_sync(sleep("0.4")).expect("unbounded transaction");
        assert!(db.run_sync(sleep("0.4")).expect_err("bounded again").is_statement_timeout());
    }

    #[tokio::test]
    async fn bulk_work_leaves_half_the_database_threads_to_other_requests() {
        let t = crate::testing::TestDatabase::create().expect("database");
        let db = Db::connect(&t.url, PoolOptions { max_size: 4, ..Default::default() }).expect("pool");
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let entered = Arc::new(AtomicU64::new(0));
        let bulk: Vec<_> = (0..4)
            .map(|_| {
                let (db, gate, entered) = (db.clone(), gate.clone(), entered.clone());
                tokio::spawn(async move {
                    db.bulk_transaction(move |_| -> Result<(), DbError> {
                        entered.fetch_add(1, Ordering::SeqCst);
                        let (open, opened) = &*gate;
                        let closed = open.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = opened.wait_timeout_while(closed, Duration::from_secs(10), |open| !*open);
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Four bulk calls are pending on a pool of four; short work still gets a thread.
        let ping = db.run(|c| c.batch_execute("SELECT 1").map_err(DbError::from));
        let ping = tokio::time::timeout(Duration::from_secs(5), ping).await;
        assert!(matches!(ping, Ok(Ok(()))), "a read waited behind bulk work: {ping:?}");
        assert!(entered.load(Ordering::SeqCst) <= 2, "more bulk calls ran than lanes");

        *gate.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        gate.1.notify_all();
        for call in bulk {
            call.await.expect("task").expect("bulk call");
        }
        assert_eq!(entered.load(Ordering::SeqCst), 4, "every bulk call ran once a lane was free");
        assert_eq!([1, 2, 4, 5, 16].map(bulk_lanes), [1, 1, 2, 2, 8]);
    }

    #[tokio::test]
    async fn units_of_work_see_their_own_database_handles_context() {
        #[derive(Debug, PartialEq)]
        struct Marker(u32);
        let t = crate::testing::TestDatabase::create().expect("database");
        let plain = Db::connect(&t.url, PoolOptions { max_size: 2, ..Default::default() }).expect("pool");
        let marked = plain.clone().with_context(Marker(7));
        let read = |db: &Db| {
            let db = db.clone();
            async move { db.run(|_| Ok::<_, DbError>(context::<Marker>().map(|m| m.0))).await.expect("run") }
        };
        assert_eq!(read(&marked).await, Some(7));
        // The same threads serve the handle without it: nothing leaks from one job to the next.
        assert_eq!(read(&plain).await, None);
        assert_eq!(
            marked.transaction_sync(|_| Ok::<_, DbError>(context::<Marker>().map(|m| m.0))).expect("tx"),
            Some(7)
        );
        assert_eq!(plain.run_sync(|_| Ok::<_, DbError>(context::<Marker>().map(|m| m.0))).expect("sync"), None);
        assert!(context::<Marker>().is_none(), "outside a unit of work there is no context");
    }

    /// Runs `n` jobs at once and returns the names of the threads that ran them.
    async fn futures_join(workers: &Workers, n: usize) -> Vec<String> {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let w = workers.clone();
                tokio::spawn(async move {
                    w.run(|| {
                        std::thread::sleep(Duration::from_millis(5));
                        std::thread::current().name().unwrap_or_default().to_string()
                    })
                    .await
                })
            })
            .collect();
        let mut names = Vec::new();
        for h in handles {
            names.push(h.await.expect("task").expect("job ran"));
        }
        names
    }
}
