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
//!
//! A read that every decision makes again for the same key (the subject's grants) is kept
//! in a [`Memo`] with the [`Stamp`] of the WAL index it was read under, and answered from
//! there while the stamp has not moved: no transaction, no lock, one `pread` of the
//! index's header. Any commit, by this process or another (the CLI), moves the stamp.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::conn::row_ext;
use crate::error::StoreError;
use crate::grant::Held;
use crate::memo::Memo;
use crate::wal_index::{Stamp, WalIndex};

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
    /// The WAL index, and the connection that holds it open for as long as its stamps are
    /// used (see [`crate::wal_index`]); `None` when the file is not in WAL mode, and once
    /// the store is closed.
    wal: Mutex<Option<Wal>>,
    /// The grants each subject holds, by subject.
    pub(crate) held: Memo<Held>,
}

/// A WAL index and its holder.
struct Wal {
    index: Arc<WalIndex>,
    _holder: Connection,
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
            wal: Mutex::new(hold_wal_index(path)),
            held: Memo::default(),
        }
    }

    /// [`LocalReads::query`] for `key`, answered from `memo` while the database has not
    /// changed since the rows were read.
    pub(crate) fn query_memo<T>(
        &self,
        memo: &Memo<T>,
        key: &str,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Option<Arc<[T]>> {
        // Taken before the read, so that a commit between the two moves the stamp away from
        // the one the rows are kept with: they are read again next time, never given stale.
        let stamp = self.stamp();
        if let Some(now) = stamp
            && let Some(rows) = memo.get(key, now)
        {
            return Some(rows);
        }
        let rows: Arc<[T]> = self.query(sql, params, map)?.into();
        if let Some(stamp) = stamp {
            memo.put(key, stamp, Arc::clone(&rows));
        }
        Some(rows)
    }

    /// The WAL index's stamp now, while the index is held open.
    fn stamp(&self) -> Option<Stamp> {
        let index = self
            .wal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|w| Arc::clone(&w.index))?;
        index.stamp()
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
        *self.wal.lock().unwrap_or_else(PoisonError::into_inner) = None;
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

/// The WAL index of the file at `path` and a connection that holds it open: one that has
/// read the database, which maps the index for as long as it is open. `None` when the
/// file is not in WAL mode or the index cannot be read.
fn hold_wal_index(path: &Path) -> Option<Wal> {
    let holder = open(path).ok()?;
    let mode: String = holder
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .ok()?;
    // Only a file in WAL mode has an index; its `-shm` descriptor is kept for good once
    // opened, so none is opened for another.
    if !mode.eq_ignore_ascii_case("wal") {
        return None;
    }
    holder
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |row| {
            row.get::<_, i64>(0)
        })
        .ok()?;
    let index = WalIndex::open(path)?;
    Some(Wal {
        index: Arc::new(index),
        _holder: holder,
    })
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

    /// Where [`write_as_another_process`] writes, when this test binary runs it.
    const WRITE_TO: &str = "WARDEN_STORE_TEST_WRITE_TO";

    const SCRATCH: &str = "SELECT COUNT(*) AS n FROM scratch WHERE k = $1";

    /// A store on a file with a table `scratch`, and a connection of another's to it.
    async fn scratch() -> (crate::Store, tempfile::TempDir, Connection) {
        let (store, dir) = crate::testing::sqlite().await;
        let other = Connection::open(dir.path().join(crate::testing::SQLITE_FILE)).unwrap();
        other.execute("CREATE TABLE scratch (k TEXT)", []).unwrap();
        (store, dir, other)
    }

    /// Bob's rows in `scratch`, through `memo`.
    fn bobs(local: &LocalReads, memo: &Memo<i64>) -> Option<Arc<[i64]>> {
        local.query_memo(memo, "bob", SCRATCH, ["bob"], count)
    }

    #[tokio::test]
    async fn a_read_is_kept_until_anything_commits() {
        let (store, _dir, other) = scratch().await;
        let local = store.local_reads().unwrap();
        let memo = Memo::default();
        let first = bobs(local, &memo).unwrap();
        assert_eq!(*first, [0]);
        let again = bobs(local, &memo).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "nothing committed: kept");

        // Reading, by anyone, changes nothing.
        let _: i64 = other
            .query_row("SELECT COUNT(*) FROM scratch", [], |r| r.get(0))
            .unwrap();
        let again = bobs(local, &memo).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "a read is no change");

        // A commit by another connection, even one that touches another key, is read anew.
        other
            .execute("INSERT INTO scratch VALUES ('bob')", [])
            .unwrap();
        assert_eq!(*bobs(local, &memo).unwrap(), [1]);
        other
            .execute("INSERT INTO scratch VALUES ('eve')", [])
            .unwrap();
        let after = bobs(local, &memo).unwrap();
        assert_eq!(*after, [1]);
        assert!(!Arc::ptr_eq(&first, &after));

        // The store's own writes move the stamp too.
        let mut tx = store.begin().await.unwrap();
        crate::conn::on_conn!(&mut tx.conn(), c => {
            sqlx::query("INSERT INTO scratch VALUES ('bob')").execute(&mut **c).await.unwrap();
        });
        tx.commit().await.unwrap();
        assert_eq!(*bobs(local, &memo).unwrap(), [2]);

        store.close().await;
        assert!(
            bobs(local, &memo).is_none(),
            "closed: kept rows are not given either"
        );
    }

    #[tokio::test]
    async fn a_commit_by_another_process_is_seen() {
        let (store, dir, _other) = scratch().await;
        let local = store.local_reads().unwrap();
        let memo = Memo::default();
        let first = bobs(local, &memo).unwrap();
        assert_eq!(*first, [0]);
        let kept = bobs(local, &memo).unwrap();
        assert!(
            Arc::ptr_eq(&first, &kept),
            "kept before the other process writes"
        );

        let test = "local::tests::write_as_another_process";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--ignored", "--nocapture"])
            .env(WRITE_TO, dir.path().join(crate::testing::SQLITE_FILE))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && said.contains("1 passed"), "{said}");

        assert_eq!(*bobs(local, &memo).unwrap(), [1]);
    }

    /// The other process of [`a_commit_by_another_process_is_seen`]: it fails unless it is
    /// told where to write.
    #[test]
    #[ignore = "run by a_commit_by_another_process_is_seen, as a process of its own"]
    fn write_as_another_process() {
        let path = std::env::var_os(WRITE_TO).unwrap();
        let conn = Connection::open(path).unwrap();
        conn.execute("INSERT INTO scratch VALUES ('bob')", [])
            .unwrap();
    }

    #[tokio::test]
    async fn an_in_memory_store_has_no_file_to_read_here() {
        let store = crate::Store::connect("sqlite::memory:").await.unwrap();
        assert!(store.local_reads().is_none());
    }
}
