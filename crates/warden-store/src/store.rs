//! The [`Store`] handle, its transactions, connecting and migrating.

use std::borrow::Cow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{SqlSafeStr, Transaction};

use crate::conn::{Conn, on_conn};
use crate::error::{StoreError, db_err};
use crate::local::LocalReads;

/// How long a SQLite writer waits for another writer's lock before giving up as
/// [`StoreError::Unavailable`].
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite has one writer at a time, so a larger pool only adds readers.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// A pooled PostgreSQL connection idle this long is pinged before it is used again.
const PING_IF_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// How a [`Store`] connects; [`StoreOptions::default`] suits a single server.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StoreOptions {
    /// The most pooled connections; `None` picks 8 for SQLite and 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long a caller (including the first connect) waits for a connection before
    /// [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The schema, in order. Each text runs unchanged on both backends.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "token expiry",
        include_str!("../migrations/0002_token_expiry.sql"),
    ),
    (
        3,
        "accounts",
        include_str!("../migrations/0003_accounts.sql"),
    ),
    (4, "itsm", include_str!("../migrations/0004_itsm.sql")),
    (
        5,
        "singleton jobs",
        include_str!("../migrations/0005_singleton_jobs.sql"),
    ),
    (
        6,
        "grant end reason",
        include_str!("../migrations/0006_grant_end_reason.sql"),
    ),
    (
        7,
        "caller binding",
        include_str!("../migrations/0007_caller_binding.sql"),
    ),
    (
        8,
        "webhook deliveries",
        include_str!("../migrations/0008_webhook_deliveries.sql"),
    ),
    (
        9,
        "singleton flag",
        include_str!("../migrations/0009_singleton_flag.sql"),
    ),
    (
        10,
        "ticket notes",
        include_str!("../migrations/0010_ticket_notes.sql"),
    ),
    (
        11,
        "job key",
        include_str!("../migrations/0011_job_key.sql"),
    ),
    (
        12,
        "evidence",
        include_str!("../migrations/0012_evidence.sql"),
    ),
    (13, "alerts", include_str!("../migrations/0013_alerts.sql")),
    (
        14,
        "reviews",
        include_str!("../migrations/0014_reviews.sql"),
    ),
    (
        15,
        "console",
        include_str!("../migrations/0015_console.sql"),
    ),
];

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    /// One local file.
    Sqlite,
    /// A PostgreSQL server, possibly shared by several Warden processes.
    Postgres,
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Warden's storage: a cheap-to-clone handle on a connection pool.
///
/// Reads are methods here; every write goes through a [`Tx`] from [`Store::begin`], so that
/// a state change, its audit event and the job it schedules commit together.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// For a SQLite file: connections of its own for point reads on the calling thread.
    local: Option<Arc<LocalReads>>,
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`) and applies any pending
    /// migrations.
    ///
    /// SQLite databases are created if missing (with their directory) and run in WAL mode
    /// with foreign keys on.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        let (pool, file) = match scheme {
            "sqlite" => {
                let (pool, file) = connect_sqlite(url, options).await?;
                (Pool::Sqlite(pool), file)
            }
            "postgres" | "postgresql" => {
                (Pool::Postgres(connect_postgres(url, options).await?), None)
            }
            other => {
                return Err(StoreError::UnsupportedUrl {
                    scheme: other.chars().take(20).collect(),
                });
            }
        };
        let mut store = Store { pool, local: None };
        store.migrate().await?;
        // Only once the file exists with its schema: local reads never create it.
        store.local = file.map(|f| Arc::new(LocalReads::new(&f)));
        Ok(store)
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Starts a write transaction. Dropping the [`Tx`] without [`Tx::commit`] rolls it back.
    ///
    /// On SQLite the transaction is `BEGIN IMMEDIATE`: it takes the write lock up front, so
    /// two writers queue (up to the busy timeout) instead of deadlocking when both try to
    /// upgrade a read lock.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => {
                TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)?)
            }
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await.map_err(db_err)?),
        };
        Ok(Tx {
            inner,
            audit_head: None,
            queued_audit: Vec::new(),
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.acquire().await?;
        on_conn!(&mut c.conn(), c => sqlx::query("SELECT 1").execute(&mut **c).await.map(|_| ()))
            .map_err(db_err)?;
        Ok(())
    }

    /// Closes every pooled connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        if let Some(local) = &self.local {
            local.close();
        }
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect();
        let migrator = Migrator::with_migrations(migrations);
        // On PostgreSQL the migrator holds an advisory lock, so processes starting together
        // apply each migration once.
        let result = match &self.pool {
            Pool::Sqlite(p) => migrator.run(p).await,
            Pool::Postgres(p) => migrator.run(p).await,
        };
        result.map_err(|e| StoreError::Migration { source: e.into() })
    }

    /// Point reads on the calling thread, for a SQLite file (see [`LocalReads`]).
    pub(crate) fn local_reads(&self) -> Option<&LocalReads> {
        self.local.as_deref()
    }

    /// A pooled connection for one read.
    pub(crate) async fn acquire(&self) -> Result<PooledConn, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => PooledConn::Sqlite(p.acquire().await.map_err(db_err)?),
            Pool::Postgres(p) => PooledConn::Postgres(p.acquire().await.map_err(db_err)?),
        })
    }
}

/// The pool, and the database file when there is one (not for an in-memory database,
/// which only the pool's connections share).
async fn connect_sqlite(
    url: &str,
    store: &StoreOptions,
) -> Result<(SqlitePool, Option<PathBuf>), StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|_| StoreError::Invalid("the sqlite database url cannot be parsed".to_owned()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode; only an OS crash can
        // lose the last commits, and it never corrupts the file.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    if let Some(dir) = options.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable { source: e.into() })?;
    }
    // Only a plain `sqlite://PATH` names a file that other connections can open as the
    // pool does: query options (`mode=memory`, `immutable`, a `vfs`) change what the name
    // means, and an in-memory database is shared by the pool's connections alone.
    let plain = !url.contains('?') && !url.contains(":memory:");
    let file = Some(options.get_filename().to_path_buf()).filter(|_| plain);
    let pool = SqlitePoolOptions::new()
        // A connection to a local file cannot have been hung up on: pinging it before each
        // use only costs two hand-offs to its thread.
        .test_before_acquire(false)
        .max_connections(store.max_connections.unwrap_or(SQLITE_MAX_CONNECTIONS))
        .acquire_timeout(store.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(db_err)?;
    // The pool's first connection has created the file by now.
    Ok((pool, file.filter(|f| f.is_file())))
}

async fn connect_postgres(url: &str, store: &StoreOptions) -> Result<PgPool, StoreError> {
    // JIT compilation off for Warden's sessions: its statements are index lookups, and the
    // few that sum many rows (the access gauges, the evidence report's walks) have plan
    // costs that start PostgreSQL's JIT, whose compiling (~100 ms here) costs more than the
    // whole query.
    let options = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Invalid("the postgres database url cannot be parsed".to_owned()))?
        .options([("jit", "off")]);
    PgPoolOptions::new()
        // A round trip before every statement's own would double the cost of most reads:
        // only a connection left idle long enough to have been dropped (a server restart, a
        // proxy's idle timeout) is pinged first, and replaced if it does not answer.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .max_connections(store.max_connections.unwrap_or(POSTGRES_MAX_CONNECTIONS))
        .acquire_timeout(store.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(db_err)
}

/// A connection checked out of the pool.
pub(crate) enum PooledConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl PooledConn {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Sqlite(c) => Conn::Sqlite(c),
            PooledConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A write transaction. Nothing it does is visible to others until [`Tx::commit`];
/// dropping it (or [`Tx::rollback`]) discards everything.
pub struct Tx {
    inner: TxInner,
    /// The audit chain's head as this transaction left it, once it appended: read (and on
    /// PostgreSQL locked) at the first append, advanced in memory by each one, and written
    /// back once at [`Tx::commit`]. While the transaction lives no one else can append, so
    /// the copy cannot go stale, and each event costs one statement instead of three.
    pub(crate) audit_head: Option<AuditHead>,
    /// Events queued by [`Tx::queue_audit`], appended in order at [`Tx::commit`].
    pub(crate) queued_audit: Vec<crate::audit::NewAuditEvent>,
}

/// The audit chain's head held by a [`Tx`]: the last seq and hash, and whether they moved
/// since they were read.
#[derive(Debug)]
pub(crate) struct AuditHead {
    pub(crate) seq: i64,
    pub(crate) hash: String,
    pub(crate) moved: bool,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.inner {
            TxInner::Sqlite(_) => "sqlite",
            TxInner::Postgres(_) => "postgres",
        };
        f.debug_struct("Tx").field("backend", &backend).finish()
    }
}

impl Tx {
    /// Makes every change of this transaction durable and visible.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.append_queued_audit().await?;
        self.write_audit_head().await?;
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await,
            TxInner::Postgres(t) => t.commit().await,
        }
        .map_err(db_err)
    }

    /// Discards every change of this transaction.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await,
            TxInner::Postgres(t) => t.rollback().await,
        }
        .map_err(db_err)
    }

    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Sqlite(t) => Conn::Sqlite(t),
            TxInner::Postgres(t) => Conn::Postgres(t),
        }
    }
}
