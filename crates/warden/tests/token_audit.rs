//! `warden token` and `warden audit verify` as an operator runs them, through a config file,
//! against a real store: SQLite always, PostgreSQL when `WARDEN_TEST_POSTGRES_URL` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use sqlx::{AssertSqlSafe, PgPool, Row as _, SqlitePool};
use tempfile::TempDir;
use warden_store::testing::{self, SQLITE_FILE};
use warden_store::{Store, token_hash};

use support::root;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `warden` in `dir` with no `WARDEN_*` or `RUST_LOG` variables but `env`.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    support::warden(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Direct SQL access, to look behind the store's back.
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One database to run a test against, with a config file pointing at it.
struct Db {
    backend: &'static str,
    store: Store,
    raw: Raw,
    dir: TempDir,
    config: PathBuf,
}

/// A fresh SQLite database, and a fresh PostgreSQL one when the server is configured.
async fn databases() -> Vec<Db> {
    let mut out = Vec::new();
    let (store, dir) = testing::sqlite().await;
    let url = format!("sqlite://{}", dir.path().join(SQLITE_FILE).display());
    let raw = Raw::Sqlite(SqlitePool::connect(&url).await.unwrap());
    out.push(Db::new("sqlite", store, raw, dir, &url));
    if let Some((store, url)) = testing::postgres().await {
        let raw = Raw::Postgres(PgPool::connect(&url).await.unwrap());
        out.push(Db::new(
            "postgres",
            store,
            raw,
            tempfile::tempdir().unwrap(),
            &url,
        ));
    }
    out
}

impl Db {
    fn new(backend: &'static str, store: Store, raw: Raw, dir: TempDir, url: &str) -> Db {
        let config = dir.path().join("warden.toml");
        let bundle = root().join("examples/bundle");
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = '{url}'\n\n[bundle]\npath = '{}'\n",
                bundle.display()
            ),
        )
        .unwrap();
        Db {
            backend,
            store,
            raw,
            dir,
            config,
        }
    }

    fn warden(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        let config = self.config.to_str().unwrap();
        all.extend(["--config", config]);
        run(self.dir.path(), &all, &[])
    }

    /// Mints a token for `alice` and returns the secret and the printed id.
    fn create(&self) -> (String, String) {
        let out = self.warden(&[
            "token",
            "create",
            "--identity",
            "alice",
            "--scope",
            "intake",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        let id = lines[2]
            .strip_prefix("id ")
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        (lines[0].to_owned(), id.to_owned())
    }

    /// Every (table, column) of a text type.
    async fn text_columns(&self) -> Vec<(String, String)> {
        match &self.raw {
            Raw::Sqlite(p) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(p)
                .await
                .unwrap();
                let mut out = Vec::new();
                for t in tables {
                    let rows = sqlx::query("SELECT name, type FROM pragma_table_info($1)")
                        .bind(&t)
                        .fetch_all(p)
                        .await
                        .unwrap();
                    for r in rows {
                        let ty: String = r.get("type");
                        if ty.eq_ignore_ascii_case("text") || ty.eq_ignore_ascii_case("blob") {
                            out.push((t.clone(), r.get("name")));
                        }
                    }
                }
                out
            }
            Raw::Postgres(p) => sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' \
                 AND data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb')",
            )
            .fetch_all(p)
            .await
            .unwrap(),
        }
    }

    /// How many values of text column `table.column` contain `needle`.
    async fn count_containing(&self, table: &str, column: &str, needle: &str) -> i64 {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS TEXT), $1) > 0"
            )))
            .bind(needle)
            .fetch_one(p)
            .await
            .unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM \"{table}\" WHERE strpos(\"{column}\"::text, $1) > 0"
            )))
            .bind(needle)
            .fetch_one(p)
            .await
            .unwrap(),
        }
    }

    async fn execute(&self, sql: &'static str) -> u64 {
        match &self.raw {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.unwrap().rows_affected(),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.unwrap().rows_affected(),
        }
    }

    /// Every place in the database holding `needle`, as `table.column`.
    async fn places_holding(&self, needle: &str) -> Vec<String> {
        let columns = self.text_columns().await;
        assert!(
            columns.len() >= 20,
            "{}: only {} text columns found",
            self.backend,
            columns.len()
        );
        let mut found = Vec::new();
        for (table, column) in columns {
            if self.count_containing(&table, &column, needle).await > 0 {
                found.push(format!("{table}.{column}"));
            }
        }
        found
    }
}

#[tokio::test]
async fn token_create_prints_the_token_once_and_stores_only_its_hash() {
    for db in databases().await {
        let out = db.warden(&[
            "token",
            "create",
            "--identity",
            "alice",
            "--scope",
            "approve",
            "--scope",
            "intake",
            "--scope",
            "approve",
            "--ttl",
            "30d",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        let secret = lines[0];
        let body = secret.strip_prefix("wdn_").unwrap();
        assert_eq!(body.len(), 43, "{secret}");
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(lines[1].contains("shown once"), "{stdout}");
        assert_eq!(stdout.matches(body).count(), 1, "{stdout}");
        assert!(!text(&out.stderr).contains(body), "{}", text(&out.stderr));

        let record = db
            .store
            .token_by_hash(&token_hash(secret))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.identity.as_str(), "alice");
        assert_eq!(record.scopes, ["intake", "approve"]);
        assert_eq!(record.revoked_at, None);
        assert!(
            lines[2].starts_with(&format!("id {},", record.id)),
            "{stdout}"
        );

        // The secret (or its random part) is nowhere; its hash is where it belongs.
        assert_eq!(db.places_holding(body).await, Vec::<String>::new());
        assert_eq!(
            db.places_holding(&token_hash(secret)).await,
            ["tokens.hash"],
            "{}",
            db.backend
        );
        if let Raw::Sqlite(_) = db.raw {
            for entry in std::fs::read_dir(db.dir.path()).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                assert!(!bytes.windows(body.len()).any(|w| w == body.as_bytes()));
            }
        }

        let events = db.store.audit_after(0, 10).await.unwrap();
        assert_eq!(events.len(), 1, "{}", db.backend);
        let e = &events[0];
        assert_eq!(
            (e.actor.as_str(), e.action.as_str()),
            ("cli", "token.created")
        );
        assert_eq!(e.data["identity"], "alice");
        assert_eq!(e.data["scopes"], serde_json::json!(["intake", "approve"]));
        assert_eq!(e.data["token_id"], record.id.to_string());
        assert_eq!(e.data["ttl"], "30d");
        let expires = e.data["expires_at"].as_str().unwrap();
        assert!(stdout.contains(expires), "{stdout}");
        assert!(e.bundle_hash.as_deref().unwrap().starts_with("sha256:"));
    }
}

#[tokio::test]
async fn unknown_scope_or_identity_exits_2_and_stores_nothing() {
    for db in databases().await {
        let out = db.warden(&["token", "create", "--identity", "alice", "--scope", "root"]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains("`root` is not a scope"), "{err}");
        assert!(
            err.contains("`intake`, `approve`, `admin`, `audit` or `broker`"),
            "{err}"
        );

        let out = db.warden(&[
            "token",
            "create",
            "--identity",
            "mallory",
            "--scope",
            "intake",
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains("identity `mallory` is not in the catalog"),
            "{err}"
        );

        let out = db.warden(&[
            "token",
            "create",
            "--identity",
            "frank",
            "--scope",
            "intake",
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains("identity `frank` is disabled"), "{err}");

        let out = db.warden(&["token", "create", "--identity", "alice"]);
        assert_eq!(out.status.code(), Some(2), "a scope is required");

        assert!(out.stdout.is_empty());
        assert_eq!(db.store.audit_after(0, 10).await.unwrap(), []);
        assert_eq!(db.places_holding("alice").await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn revoke_revokes_once_and_is_audited() {
    for db in databases().await {
        let (secret, id) = db.create();
        let out = db.warden(&["token", "revoke", "--id", &id]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("revoked token `{id}`\n"));
        let record = db
            .store
            .token_by_hash(&token_hash(&secret))
            .await
            .unwrap()
            .unwrap();
        assert!(record.revoked_at.is_some());

        let again = db.warden(&["token", "revoke", "--id", &id]);
        assert_eq!(again.status.code(), Some(1));
        assert!(text(&again.stderr).contains(&format!("no token `{id}` is live")));

        let bad = db.warden(&["token", "revoke", "--id", "not-an-id"]);
        assert_eq!(bad.status.code(), Some(2));

        let events = db.store.audit_after(0, 10).await.unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["token.created", "token.revoked"],
            "{}",
            db.backend
        );
        assert_eq!(events[1].data["token_id"], id);
    }
}

#[tokio::test]
async fn audit_verify_reports_ok_then_names_a_tampered_event() {
    for db in databases().await {
        let out = db.warden(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "ok: 0 events verified\n");

        db.create();
        db.create();
        db.create();
        let out = db.warden(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "ok: 3 events verified\n");

        let changed = db
            .execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
            .await;
        assert_eq!(changed, 1);
        let out = db.warden(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1), "{}", db.backend);
        assert!(out.stdout.is_empty());
        let err = text(&out.stderr);
        assert!(
            err.contains("broken at event 2: hash does not match"),
            "{}: {err}",
            db.backend
        );
    }
}

#[test]
fn a_bad_configuration_exits_2_naming_the_key_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["audit", "verify"],
        &[("WARDEN_WORKER_BATCH", "lots")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`WARDEN_WORKER_BATCH`: `lots` is not a whole number"),
        "{}",
        text(&out.stderr)
    );

    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:1\"\n\n[databse]\n").unwrap();
    let out = run(
        dir.path(),
        &["audit", "verify", "--config", config.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("warden.toml:4: "), "{err}");
    assert!(err.contains("`databse`"), "{err}");
    assert!(!dir.path().join("warden-data").exists());
}

#[test]
fn without_a_config_the_database_is_created_under_warden_data() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let out = run(
        dir.path(),
        &["token", "create", "--identity", "bob", "--scope", "audit"],
        &[("WARDEN_BUNDLE", bundle.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("warden-data/warden.db").is_file());
    let out = run(dir.path(), &["audit", "verify"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok: 1 events verified\n");
}

#[tokio::test]
async fn replay_reports_an_identical_decision_and_catches_an_altered_one() {
    for db in databases().await {
        let bundle = warden_policy::Bundle::load(&root().join("examples/bundle")).unwrap();
        let engine = warden_engine::Engine::new(
            db.store.clone(),
            bundle,
            std::sync::Arc::new(warden_engine::ManualClock::new(
                warden_model::Timestamp::parse("2026-11-29T10:00:00Z").unwrap(),
            )),
            warden_engine::EngineConfig::default(),
        )
        .await
        .unwrap();
        let request = warden_model::Request::from_json(
            br#"{"requester":"alice","role":"payments-db.admin","needs":["read"],"purpose":"INC-42"}"#,
        )
        .unwrap();
        let id = engine.intake("alice", request).await.unwrap().view.id;

        let out = db.warden(&["decide", "--replay", &id]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            db.backend,
            text(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["identical"], true);
        assert_eq!(report["replayed"]["role"], "payments-db.read");
        let out = db.warden(&["decide", "--replay", "--all"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1 identical, 0 different\n");

        // Someone edits the stored decision: replay no longer matches it.
        let changed = db
            .execute("UPDATE requests SET decision_json = REPLACE(decision_json, '7200', '28800')")
            .await;
        assert_eq!(changed, 1);
        let out = db.warden(&["decide", "--replay", &id]);
        assert_eq!(out.status.code(), Some(1), "{}", db.backend);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["identical"], false);
        let out = db.warden(&["decide", "--replay", "--all"]);
        assert_eq!(out.status.code(), Some(1), "{}", db.backend);
        assert_eq!(
            text(&out.stdout),
            format!("different: {id}\n0 identical, 1 different\n")
        );
        for args in [
            &["decide", "--replay"][..],
            &["decide", "--replay", &id, "--all"][..],
        ] {
            let out = db.warden(args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(
                text(&out.stderr).contains("`--replay`"),
                "{}",
                text(&out.stderr)
            );
        }

        let out = db.warden(&["decide", "--replay", "0190f5c2-0000-7000-8000-000000000000"]);
        assert_eq!(out.status.code(), Some(2), "{}", db.backend);
    }
}

impl Db {
    /// `warden audit verify`: its exit code and what it printed (stdout, then stderr).
    fn verify(&self) -> (Option<i32>, String) {
        let out = self.warden(&["audit", "verify"]);
        (
            out.status.code(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        )
    }

    fn checkpoint(&self) -> String {
        let out = self.warden(&["audit", "checkpoint"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    }

    fn checkpoint_file(&self) -> PathBuf {
        self.dir.path().join("warden-data/audit-checkpoints.jsonl")
    }
}

#[tokio::test]
async fn checkpoints_are_signed_private_and_verify() {
    for db in databases().await {
        assert_eq!(db.checkpoint(), "no audit events yet: nothing to sign\n");
        assert!(!db.checkpoint_file().exists());
        db.create();
        db.create();
        let out = db.checkpoint();
        assert!(out.starts_with("checkpoint at event 2 (sha256:"), "{out}");
        db.create();
        db.checkpoint();
        let out = db.warden(&["audit", "verify"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(
            said.starts_with(
                "ok: 3 events verified, 2 checkpoints verified, the last at event 3 signed 20"
            ),
            "{said}"
        );

        let lines = std::fs::read_to_string(db.checkpoint_file()).unwrap();
        let lines: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["seq"], 2);
        assert_eq!(lines[1]["seq"], 3);
        let head = db.store.audit_head().await.unwrap();
        assert_eq!(lines[1]["hash"], head.1);
        let public = std::fs::read_to_string(
            db.dir
                .path()
                .join("warden-data/audit-checkpoints.jsonl.pub"),
        )
        .unwrap();
        assert_eq!(lines[1]["key"], public.trim());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &str| {
                std::fs::metadata(db.dir.path().join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("warden-data/audit-checkpoint.key"), 0o600);
            assert_eq!(mode("warden-data"), 0o700);
        }
        // The private key is nowhere but its own file.
        let key = std::fs::read_to_string(db.dir.path().join("warden-data/audit-checkpoint.key"))
            .unwrap();
        assert!(!lines.iter().any(|l| l.to_string().contains(key.trim())));
        assert_eq!(db.places_holding(key.trim()).await, Vec::<String>::new());
    }
}

/// The reproduced bug: deleting the newest events and moving the head back verified `ok`.
#[tokio::test]
async fn truncating_the_chain_and_moving_its_head_back_fails_against_a_checkpoint() {
    for db in databases().await {
        db.create();
        db.create();
        db.create();
        db.checkpoint();
        assert_eq!(db.verify().0, Some(0), "{}", db.backend);

        assert_eq!(
            db.execute("DELETE FROM audit_events WHERE seq > 1").await,
            2
        );
        db.execute(
            "UPDATE audit_head SET seq = 1, \
             hash = (SELECT hash FROM audit_events WHERE seq = 1) WHERE id = 1",
        )
        .await;
        let (code, out) = db.verify();
        assert_eq!(code, Some(1), "{}: {out}", db.backend);
        assert!(
            out.contains("the chain ends at event 1 but checkpoint on line 1 (event 3, signed "),
            "{}: {out}",
            db.backend
        );
        assert!(out.contains("events were removed"), "{out}");
    }
}

#[tokio::test]
async fn altering_or_deleting_an_event_before_a_checkpoint_names_the_checkpoint() {
    for db in databases().await {
        db.create();
        db.create();
        db.checkpoint();
        db.create();
        db.checkpoint();
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
            .await;
        let (code, out) = db.verify();
        assert_eq!(code, Some(1), "{}: {out}", db.backend);
        assert!(
            out.contains("broken at event 2: hash does not match")
                && out.contains("; checkpoint on line 1 (event 2, signed "),
            "{}: {out}",
            db.backend
        );
    }
    for db in databases().await {
        db.create();
        db.create();
        db.create();
        db.checkpoint();
        db.execute("DELETE FROM audit_events WHERE seq = 2").await;
        let (code, out) = db.verify();
        assert_eq!(code, Some(1), "{}: {out}", db.backend);
        assert!(
            out.contains("broken at event 2: event 2 is missing")
                && out.contains("checkpoint on line 1 (event 3, signed "),
            "{}: {out}",
            db.backend
        );
    }
}

/// A chain rebuilt from scratch is sound on its own; only the checkpoint knows better.
#[tokio::test]
async fn a_rewritten_chain_does_not_match_its_checkpoint() {
    for db in databases().await {
        db.create();
        db.create();
        db.checkpoint();
        db.execute("DELETE FROM audit_events").await;
        db.execute(
            "UPDATE audit_head SET seq = 0, \
             hash = 'sha256:0000000000000000000000000000000000000000000000000000000000000000'",
        )
        .await;
        db.create();
        db.create();
        assert_eq!(db.store.verify_audit().await.unwrap().first_broken, None);
        let (code, out) = db.verify();
        assert_eq!(code, Some(1), "{}: {out}", db.backend);
        assert!(
            out.contains("checkpoint on line 1 (event 2, signed ")
                && out.contains("does not match the chain: event 2 was altered or replaced"),
            "{}: {out}",
            db.backend
        );
    }
}

#[tokio::test]
async fn an_edited_or_foreign_checkpoint_fails_its_signature() {
    for db in databases().await {
        db.create();
        db.create();
        db.checkpoint();
        let file = db.checkpoint_file();
        let good = std::fs::read_to_string(&file).unwrap();
        // Moved back to match a truncated chain: the signature no longer covers it.
        std::fs::write(&file, good.replace("\"seq\":2", "\"seq\":1")).unwrap();
        let (code, out) = db.verify();
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("checkpoint on line 1 (event 1, signed ")
                && out.contains("the signature does not verify"),
            "{out}"
        );
        // Signed by another key: a second data directory's.
        std::fs::write(&file, &good).unwrap();
        let other = tempfile::tempdir().unwrap();
        let config = other.path().join("warden.toml");
        let url = match db.backend {
            "sqlite" => format!("sqlite://{}", db.dir.path().join(SQLITE_FILE).display()),
            _ => std::fs::read_to_string(&db.config)
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("url = '"))
                .unwrap()
                .trim_end_matches('\'')
                .to_owned(),
        };
        std::fs::write(
            &config,
            format!(
                "[database]\nurl = '{url}'\n[bundle]\npath = '{}'\n",
                root().join("examples/bundle").display()
            ),
        )
        .unwrap();
        let out = run(
            other.path(),
            &["audit", "checkpoint", "--config", config.to_str().unwrap()],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let foreign =
            std::fs::read_to_string(other.path().join("warden-data/audit-checkpoints.jsonl"))
                .unwrap();
        std::fs::write(&file, format!("{good}{foreign}")).unwrap();
        let (code, out) = db.verify();
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("checkpoint on line 2 (event 2, signed ")
                && out.contains("signed by another key"),
            "{out}"
        );
        // A line that is not a checkpoint is named.
        std::fs::write(&file, format!("{good}not json\n")).unwrap();
        let (code, out) = db.verify();
        assert_eq!(code, Some(2), "{out}");
        assert!(
            out.contains("audit-checkpoints.jsonl:2: not a checkpoint"),
            "{out}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_checkpoint_key_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    for db in databases().await {
        db.create();
        db.checkpoint();
        let key = db.dir.path().join("warden-data/audit-checkpoint.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = db.warden(&["audit", "checkpoint"]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains(
                "the key file `warden-data/audit-checkpoint.key` is open to group or others"
            ) && err.contains("chmod 600 warden-data/audit-checkpoint.key"),
            "{err}"
        );
    }
}
