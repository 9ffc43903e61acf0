//! Fresh stores for tests in this and other crates (cargo feature `testing`): SQLite in a
//! temporary directory always, PostgreSQL when `WARDEN_TEST_POSTGRES_URL` is set.
//!
//! These helpers panic on failure, because a test without its store cannot run.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::Store;

/// The environment variable naming a PostgreSQL server tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "WARDEN_TEST_POSTGRES_URL";

/// The file [`sqlite`] creates inside its directory.
pub const SQLITE_FILE: &str = "warden.db";

/// A migrated store on a new SQLite file ([`SQLITE_FILE`]) in a temporary directory, which
/// is removed when the returned guard drops.
#[expect(clippy::panic, reason = "a test helper fails the test it cannot serve")]
pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("cannot create a temporary directory: {e}"),
    };
    let url = format!("sqlite://{}", dir.path().join(SQLITE_FILE).display());
    match Store::connect(&url).await {
        Ok(store) => (store, dir),
        Err(e) => panic!("cannot open a sqlite store: {}", chain(&e)),
    }
}

/// A migrated store on a new, uniquely named PostgreSQL database, and that database's URL.
///
/// Returns `None` (saying so on stderr) when [`POSTGRES_URL_VAR`] is not set, except under
/// `CI=true`, where a missing database is a failure rather than a skip.
#[expect(clippy::panic, reason = "a test helper fails the test it cannot serve")]
pub async fn postgres() -> Option<(Store, String)> {
    let admin_url = warden_model::testing::service_url("postgres")?;
    // A database per call: tests never see each other's rows and can run in parallel.
    let name = format!("warden_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to {POSTGRES_URL_VAR}: {e}"),
    };
    if let Err(e) = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
    {
        panic!("cannot create database `{name}`: {e}");
    }
    // Closing is best effort: the database exists either way.
    let _closed = admin.close().await;
    let url = with_database(&admin_url, &name);
    match Store::connect(&url).await {
        Ok(store) => Some((store, url)),
        Err(e) => panic!("cannot open a postgres store on `{name}`: {}", chain(&e)),
    }
}

/// A fresh store for a measurement program that takes the backend by name: `sqlite` (with
/// the directory to keep while it runs) or `postgres` (needs [`POSTGRES_URL_VAR`]).
#[expect(
    clippy::panic,
    reason = "a benchmark helper fails the run it cannot serve"
)]
pub async fn named(backend: &str) -> (Store, Option<tempfile::TempDir>) {
    match backend {
        "sqlite" => {
            let (store, dir) = sqlite().await;
            (store, Some(dir))
        }
        "postgres" => match postgres().await {
            Some((store, _)) => (store, None),
            None => panic!("set {POSTGRES_URL_VAR}"),
        },
        other => panic!("`{other}`: expected sqlite or postgres"),
    }
}

/// `url` with its database name replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let host = base.get(..path_start).unwrap_or(base);
    match query {
        Some(q) => format!("{host}/{name}?{q}"),
        None => format!("{host}/{name}"),
    }
}

/// Inserts `total` grants (each with its request) in a few statements, for benchmarks: the
/// first `live` are `active`, `revoking` or `provisioning` in turn (one in ten of them past
/// `expires_at`), the rest `revoked`; `now_ms` is the clock in unix milliseconds. Statistics
/// are refreshed afterwards, as the database's own maintenance would.
#[expect(
    clippy::panic,
    reason = "a benchmark helper fails the run it cannot serve"
)]
pub async fn seed_grants(store: &Store, total: u64, live: u64, now_ms: i64) {
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    let live = i64::try_from(live).unwrap_or(i64::MAX);
    let seq = "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1) ";
    let requests = format!(
        "{seq}INSERT INTO requests (id, source, ticket, requester, subject, system, role, \
         state, request_json, decision_json, outcome, bundle_hash, input_hash, decided_at, \
         created_at, updated_at) \
         SELECT 'seed-r-' || n, 'seed', 'SEED-' || n, 'alice', 'alice', 'session-cache', \
         'session-cache.read', 'approved', '{{}}', '{{}}', 'grant', 'h', 'h', $2, $2, $2 FROM seq"
    );
    let grants = format!(
        "{seq}INSERT INTO grants (id, request_id, subject, system, role, state, \
         duration_seconds, activated_at, expires_at, revoked_at, created_at, updated_at) \
         SELECT 'seed-g-' || n, 'seed-r-' || n, 'alice', 'session-cache', 'session-cache.read', \
         CASE WHEN n > $3 THEN 'revoked' WHEN n % 3 = 0 THEN 'active' \
              WHEN n % 3 = 1 THEN 'revoking' ELSE 'provisioning' END, \
         3600, $2, CASE WHEN n % 10 = 0 THEN $2 - 1000 ELSE $2 + 3600000 END, \
         CASE WHEN n > $3 THEN $2 ELSE NULL END, $2, $2 FROM seq"
    );
    let maintenance = match store.backend() {
        crate::Backend::Sqlite => "ANALYZE",
        crate::Backend::Postgres => "VACUUM ANALYZE",
    };
    let mut conn = store
        .acquire()
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    crate::conn::on_conn!(&mut conn.conn(), c => {
        sqlx::query(AssertSqlSafe(requests))
            .bind(total)
            .bind(now_ms)
            .execute(&mut **c)
            .await
            .unwrap_or_else(|e| panic!("seeding requests: {}", chain(&e)));
        sqlx::query(AssertSqlSafe(grants))
            .bind(total)
            .bind(now_ms)
            .bind(live)
            .execute(&mut **c)
            .await
            .unwrap_or_else(|e| panic!("seeding grants: {}", chain(&e)));
        sqlx::query(maintenance)
            .execute(&mut **c)
            .await
            .unwrap_or_else(|e| panic!("{maintenance}: {}", chain(&e)));
    });
}

/// Runs `sql` on `store` as it is, for tests that edit the store behind the engine's back
/// (a tampered row, a planted self-approval) to show that a check notices.
#[expect(clippy::panic, reason = "a test helper fails the test it cannot serve")]
pub async fn execute(store: &Store, sql: &str) {
    let mut conn = store
        .acquire()
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    crate::conn::on_conn!(&mut conn.conn(), c => {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&mut **c)
            .await
            .unwrap_or_else(|e| panic!("`{sql}`: {}", chain(&e)));
    });
}

/// An error and its causes on one line, so that a failed setup says what went wrong.
use warden_model::chain::chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
