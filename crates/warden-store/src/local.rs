//! Point reads of a SQLite store on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a statement is handed to that
//! thread and its rows handed back, and the pool pings the connection on that thread again
//! when it is released. For a read by index, those hand-offs (futex wake-ups, channel
//! traffic) cost several times the query itself, and on the API's hot path (the subject's
//! active grants, read for every decision) they were most of what a dry run cost beyond
//! the decision. [`LocalReads`] keeps a few connections of its own to the same file and
//! runs such reads directly on the caller's thread.
//!
//! Only short reads by index belong here: the caller's thread is an async worker, which a
//! long query would hold up. Everything else, and every write, goes through the pool.
//!
//! In WAL mode a reader never waits for a writer, so a read here does not block on the
//! server's own transactions; the one wait left (another process recovering the WAL
//! index) is bounded by [`LOCAL_BUSY_TIMEOUT`]. A failed read here is never the answer:
//! the caller reads again through the pool ([`crate::Store`] does so), which has the full
//! busy timeout and the usual error sorting.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::conn::row_ext;
use crate::error::StoreError;

/// How long a read here waits on a locked database before giving up (and the caller
/// reading through the pool instead).
const LOCAL_BUSY_TIMEOUT: Duration = Duration::from_millis(50);

/// Idle connections kept: one per thread that reads at the same time is enough; more are
/// opened when needed and closed after use.
const MAX_IDLE: usize = 8;

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 16;

/// Connections to one SQLite file, used on the calling thread.
pub(crate) struct LocalReads {
    path: PathBuf,
    /// `None` once the store is closed: no read is served here after that.
    idle: Mutex<Option<Vec<Connection>>>,
}

impl std::fmt::Debug for LocalReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalReads")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalReads {
    /// Reads on the file at `path`, which the pool has already created and migrated.
    pub(crate) fn new(path: &Path) -> Self {
        LocalReads {
            path: path.to_path_buf(),
            idle: Mutex::new(Some(Vec::new())),
        }
    }

    /// Runs `sql` with `params` and maps each row with `map`, on this thread. `None` when
    /// it could not be done here (closed, busy, or any other failure): read through the
    /// pool instead, which reports the failure properly if it persists.
    pub(crate) fn query<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Option<Vec<T>> {
        let conn = self.take()?;
        let rows = run(&conn, sql, params, map);
        self.give_back(conn);
        rows
    }

    /// Stops serving reads and closes the idle connections.
    pub(crate) fn close(&self) {
        *self.idle() = None;
    }

    /// The idle connections. A panic while they were held cannot leave them half-changed
    /// (a push or a pop), so a poisoned lock is taken as it is.
    fn idle(&self) -> MutexGuard<'_, Option<Vec<Connection>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> Option<Connection> {
        // Two statements: the lock is let go before a new connection is opened.
        let pooled = self.idle().as_mut()?.pop();
        pooled.or_else(|| open(&self.path).ok())
    }

    fn give_back(&self, conn: Connection) {
        if let Some(idle) = self.idle().as_mut()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }
}

/// A read-only connection to the existing file at `path` (never creating it).
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Read-write at the file level (WAL readers need the shared-memory index), but no
    // statement on this connection may change anything.
    conn.pragma_update(None, "query_only", true)?;
    conn.busy_timeout(LOCAL_BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The rows, or `None` at the first failure (the statement, a step, or `map`): what went
/// wrong is not kept, as the pool reads it again and reports it.
fn run<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Option<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).ok()?;
    let mut rows = statement.query(params).ok()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().ok()? {
        out.push(map(row).ok()?);
    }
    Some(out)
}

row_ext!(rusqlite::Row<'_>, get, corrupt);

fn corrupt(e: rusqlite::Error) -> StoreError {
    StoreError::corrupt("a row does not have the expected shape", e)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;
    use crate::conn::RowExt;

    fn count(row: &rusqlite::Row<'_>) -> Result<i64, StoreError> {
        row.int("n")
    }

    #[tokio::test]
    async fn a_store_on_a_file_reads_it_here_until_it_is_closed() {
        let (store, _dir) = crate::testing::sqlite().await;
        let local = store.local_reads().unwrap();
        let sql = "SELECT COUNT(*) AS n FROM grants WHERE subject = $1";
        assert_eq!(local.query(sql, ["bob"], count), Some(vec![0]));
        store.close().await;
        assert_eq!(
            local.query(sql, ["bob"], count),
            None,
            "closed: read nowhere"
        );
    }

    #[tokio::test]
    async fn nothing_is_written_here_and_a_failure_is_no_answer() {
        let (store, _dir) = crate::testing::sqlite().await;
        let local = store.local_reads().unwrap();
        let nothing = |_: &rusqlite::Row<'_>| Ok(());
        assert_eq!(local.query("DELETE FROM grants", [], nothing), None);
        assert_eq!(
            local.query("SELECT * FROM no_such_table", [], nothing),
            None
        );
        // A row that does not decode is no answer either: the pool reads it again.
        assert_eq!(local.query("SELECT 'x' AS n", [], count), None);
        // The connections that failed are still good for the next read.
        assert_eq!(local.query("SELECT 1 AS n", [], count), Some(vec![1]));
    }

    #[tokio::test]
    async fn an_in_memory_store_has_no_file_to_read_here() {
        let store = crate::Store::connect("sqlite::memory:").await.unwrap();
        assert!(store.local_reads().is_none());
    }
}
