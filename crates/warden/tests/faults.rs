//! Provisioning under process-level faults, with `warden serve` as operators run it: a
//! server killed between the target's answer and its commit, two servers sharing one
//! PostgreSQL database, and a full lifecycle whose logs and files are searched for the
//! minted password. Redis is the target (`WARDEN_TEST_REDIS_URL`), looked at directly
//! in RESP, with no client library between the test and the server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test, and a test may say what it saw"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use warden_connect::conformance::target_url;
use warden_connect::proxy::Proxy;

use support::{PgDb, Server, root};

const SESSION_READ: &str = "session-cache.read";

/// `host:port` of a `redis://[user:password@]host:port[/db]` URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    host.split('/').next().unwrap().to_owned()
}

/// The ACL user Warden derives for generation 1 of grant `grant` (a hyphenated UUID).
fn account_of(prefix: &str, grant: &str) -> String {
    format!("{prefix}{}_1", grant.replace('-', ""))
}

/// A prefix no other run shares, so runs never see (or sweep) each other's ACL users.
fn fresh_prefix() -> String {
    support::fresh_prefix("wf")
}

/// Polls `f` until it gives a value, failing after `limit`.
fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    support::wait_for(what, limit, Duration::from_millis(100), f)
}

// --- the target, spoken to directly ------------------------------------------------

/// One RESP reply.
#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<String>),
    Array(Vec<Reply>),
}

/// Reads one reply; `None` when the connection fails or the reply is malformed.
fn read_reply(r: &mut impl BufRead) -> Option<Reply> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let line = line.strip_suffix("\r\n")?;
    let kind = line.get(..1)?;
    let rest = line.get(1..)?;
    Some(match kind {
        "+" => Reply::Simple(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Int(rest.parse().ok()?),
        "$" => {
            let Ok(n) = usize::try_from(rest.parse::<i64>().ok()?) else {
                return Some(Reply::Bulk(None));
            };
            let mut buf = vec![0u8; n + 2];
            r.read_exact(&mut buf).ok()?;
            buf.truncate(n);
            Reply::Bulk(Some(String::from_utf8(buf).ok()?))
        }
        "*" => {
            let n: i64 = rest.parse().ok()?;
            Reply::Array(
                (0..n.max(0))
                    .map(|_| read_reply(r))
                    .collect::<Option<Vec<_>>>()?,
            )
        }
        _ => return None,
    })
}

fn encode(args: &[&str]) -> String {
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    cmd
}

/// Sends one command to Redis at `addr` on a fresh connection and reads its reply;
/// `None` if that fails.
fn try_resp(addr: &str, args: &[&str]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(encode(args).as_bytes()).ok()?;
    read_reply(&mut BufReader::new(s))
}

/// The ACL users on the server whose names start with `prefix`; `None` if Redis does
/// not answer.
fn try_acl_users(addr: &str, prefix: &str) -> Option<Vec<String>> {
    let Reply::Array(users) = try_resp(addr, &["ACL", "USERS"])? else {
        return None;
    };
    Some(
        users
            .into_iter()
            .filter_map(|u| match u {
                Reply::Bulk(Some(name)) if name.starts_with(prefix) => Some(name),
                _ => None,
            })
            .collect(),
    )
}

fn acl_users(addr: &str, prefix: &str) -> Vec<String> {
    try_acl_users(addr, prefix).expect("`ACL USERS` on the test Redis")
}

/// Whether `user`/`password` log in, and may read a session key.
fn logs_in(addr: &str, user: &str, password: &str) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    s.write_all(encode(&["AUTH", user, password]).as_bytes())
        .unwrap();
    if read_reply(&mut r) != Some(Reply::Simple("OK".into())) {
        return false;
    }
    s.write_all(encode(&["GET", "session:warden-fault-test"]).as_bytes())
        .unwrap();
    matches!(read_reply(&mut r), Some(Reply::Bulk(_)))
}

/// Deletes every ACL user with the run's prefix when the test ends, passed or not.
struct Sweep {
    addr: String,
    prefix: String,
}

impl Drop for Sweep {
    fn drop(&mut self) {
        // Best effort and never a panic: this may run while a failed test unwinds.
        for name in try_acl_users(&self.addr, &self.prefix).unwrap_or_default() {
            let _ = try_resp(&self.addr, &["ACL", "DELUSER", &name]);
        }
    }
}

/// The Redis at `url` as one run uses it: its address, a fresh prefix, and the sweep that
/// deletes the prefix's ACL users when the run ends.
fn redis_run(url: &str) -> (String, String, Sweep) {
    let redis = authority(url);
    let prefix = fresh_prefix();
    let sweep = Sweep {
        addr: redis.clone(),
        prefix: prefix.clone(),
    };
    (redis, prefix, sweep)
}

// --- the server ------------------------------------------------------------------------

/// How a test's servers run their workers.
struct Worker {
    lease: &'static str,
    batch: u32,
}

/// Writes `dir/warden.toml`: the example bundle, `database`, one Redis connector at
/// `redis` with `prefix`, the `worker` settings, and a sealing key in `key_dir`.
fn write_config(
    dir: &Path,
    database: &str,
    redis: &str,
    prefix: &str,
    worker: &Worker,
    key_dir: &Path,
) -> PathBuf {
    let path = dir.join("warden.toml");
    let bundle = root().join("examples/bundle");
    std::fs::write(
        &path,
        format!(
            r#"[server]
listen = "127.0.0.1:0"

[database]
url = {database:?}

[bundle]
path = {bundle:?}

[worker]
poll_every = "1s"
lease = {lease:?}
batch = {batch}

[secrets]
key_file = {key:?}

[[connector]]
name = "cache-redis"
kind = "redis"
url = {redis:?}
prefix = {prefix:?}
"#,
            bundle = bundle.display().to_string(),
            lease = worker.lease,
            batch = worker.batch,
            key = key_dir.join("secret.key").display().to_string(),
        ),
    )
    .unwrap();
    path
}

/// `warden` with `--config`-only configuration: no `WARDEN_*` or `RUST_LOG` from outside.
fn warden(config: &Path) -> Command {
    let mut cmd = support::warden(config.parent().unwrap());
    cmd.env("WARDEN_CONFIG", config);
    cmd
}

fn token(config: &Path, identity: &str, scopes: &[&str]) -> String {
    support::token(warden(config), identity, scopes)
}

fn audit_verifies(config: &Path) {
    support::audit_verifies(warden(config));
}

/// `warden decide --replay --all --config FILE`: every stored decision replays identically.
fn replays_identically(config: &Path) -> u64 {
    support::replays_identically(support::warden(config.parent().unwrap()), Some(config))
}

/// Starts `warden serve` on `config`, its stderr going to `log`.
fn serve(config: &Path, log: &Path) -> Server {
    Server::start(warden(config), log)
}

/// What the tests ask of a running server beyond single calls.
impl Server {
    fn grant_state(&self, token: &str, grant: &str) -> String {
        self.json("GET", &format!("/v1/grants/{grant}"), token, "")["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every audit event, page by page.
    fn audit(&self, token: &str) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let after = all.last().map_or(0, |e| e["seq"].as_u64().unwrap());
            let page = self.json(
                "GET",
                &format!("/v1/audit?after={after}&limit=1000"),
                token,
                "",
            );
            let page = page.as_array().unwrap().clone();
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    /// Intake of `session-cache.read` for `requester`; returns the grant's id.
    fn request_read(&self, token: &str, requester: &str, ticket: &str, duration: &str) -> String {
        let body = format!(
            r#"{{"source":"rt","ticket":"{ticket}","requester":"{requester}","role":"{SESSION_READ}","duration":"{duration}","purpose":"fault test"}}"#
        );
        let (status, text) = self.call("POST", "/v1/requests", token, &body);
        assert_eq!(status, 201, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["state"], "approved", "{text}");
        v["grant"]["id"].as_str().unwrap().to_owned()
    }
}

/// An `accounts` row: name, generation, and when it was provisioned, delivered, removed.
type AccountRow = (String, i64, Option<i64>, Option<i64>, Option<i64>);

fn count(events: &[Value], action: &str, grant: &str) -> usize {
    events
        .iter()
        .filter(|e| e["action"] == action && e["grant_id"] == grant)
        .count()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

// --- the tests -------------------------------------------------------------------------

/// A server stopped dead between the target's answer and its commit: its grant's
/// `ACL SETUSER` ran on Redis, the reply was held back by the proxy, and the process
/// was then killed with SIGKILL. The proxy is released again.
struct Crashed {
    rt: tokio::runtime::Runtime,
    _proxy: Proxy,
    redis: String,
    prefix: String,
    db: String,
    config: PathBuf,
    alice: String,
    erin: String,
    grant: String,
    account: String,
    dir: tempfile::TempDir,
    _sweep: Sweep,
}

/// Runs a server up to its grant's target call, then acts `meanwhile` on it (the API
/// still answers while the worker waits for Redis) and kills it.
fn crash_mid_provisioning(url: &str, meanwhile: impl FnOnce(&Server, &str, &str)) -> Crashed {
    let (redis, prefix, sweep) = redis_run(url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(&redis)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("warden.db").display());
    let config = write_config(
        dir.path(),
        &db,
        &format!("redis://{}", proxy.addr()),
        &prefix,
        &Worker {
            lease: "2s",
            batch: 100,
        },
        dir.path(),
    );
    let alice = token(&config, "alice", &["intake"]);
    let erin = token(&config, "erin", &["admin", "audit"]);

    let mut first = serve(&config, &dir.path().join("first.log"));
    // The start-up reconciliation also talks to Redis through the proxy; it must be done
    // before replies are held, or the worker would sit on its held answer instead of
    // provisioning. It has run once the drift gauge names the connector.
    wait_for(
        "the start-up reconciliation",
        Duration::from_secs(30),
        || {
            let (_, metrics) = first.call("GET", "/metrics", "", "");
            metrics.contains("connector=\"cache-redis\"").then_some(())
        },
    );
    proxy.hold();
    let grant = first.request_read(&alice, "alice", "F-1", "1h");
    let account = account_of(&prefix, &grant);

    // Redis ran `ACL SETUSER`; its reply is held, so Warden has not committed.
    wait_for("the ACL user on Redis", Duration::from_secs(30), || {
        acl_users(&redis, &prefix).contains(&account).then_some(())
    });
    assert_eq!(first.grant_state(&erin, &grant), "provisioning");
    meanwhile(&first, &erin, &grant);
    first.kill();
    proxy.release();
    Crashed {
        rt,
        _proxy: proxy,
        redis,
        prefix,
        db,
        config,
        alice,
        erin,
        grant,
        account,
        dir,
        _sweep: sweep,
    }
}

impl Crashed {
    /// The `accounts` rows of the grant, read from the SQLite file.
    fn accounts(&self) -> Vec<AccountRow> {
        self.sql(
            "SELECT name, generation, provisioned_at, delivered_at, removed_at \
             FROM accounts WHERE grant_id = $1",
        )
    }

    /// The grant's provisioning job: its state and how often it was claimed.
    fn provision_job(&self) -> (String, i64) {
        self.rt.block_on(async {
            let pool = sqlx::SqlitePool::connect(&self.db).await.unwrap();
            let job = sqlx::query_as(
                "SELECT state, attempts FROM jobs WHERE kind = 'provision' AND job_key = $1",
            )
            .bind(&self.grant)
            .fetch_one(&pool)
            .await
            .unwrap();
            pool.close().await;
            job
        })
    }

    fn sql(&self, query: &'static str) -> Vec<AccountRow> {
        self.rt.block_on(async {
            let pool = sqlx::SqlitePool::connect(&self.db).await.unwrap();
            let rows = sqlx::query_as(query)
                .bind(&self.grant)
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            rows
        })
    }

    fn restart(&self) -> Server {
        serve(&self.config, &self.dir.path().join("second.log"))
    }

    /// Waits until the grant reaches `state`, failing if it reaches any state outside
    /// `allowed`.
    fn wait_state(&self, server: &Server, state: &str, allowed: &[&str]) {
        wait_for(
            &format!("the grant to become {state}"),
            Duration::from_secs(60),
            || {
                let now = server.grant_state(&self.erin, &self.grant);
                assert!(allowed.contains(&now.as_str()), "grant went {now}");
                (now == state).then_some(())
            },
        );
    }
}

#[test]
fn killed_between_target_call_and_commit_leaves_no_orphan_and_loses_no_grant() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let c = crash_mid_provisioning(&url, |_, _, _| {});
    let (grant, account) = (&c.grant, &c.account);

    // The account's intent row was committed before Redis was asked.
    let rows = c.accounts();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1), (account.as_str(), 1));
    assert!(
        rows[0].2.is_none(),
        "provisioned before the commit: {rows:?}"
    );

    let mut second = c.restart();
    c.wait_state(&second, "active", &["provisioning", "active"]);
    assert_eq!(
        acl_users(&c.redis, &c.prefix),
        vec![account.clone()],
        "exactly the grant's one ACL user"
    );

    // The credential the second server minted (over the first one's) is the one that
    // works, and it is delivered once.
    let path = format!("/v1/grants/{grant}/credential");
    let cred = second.json("GET", &path, &c.alice, "");
    assert_eq!(cred["username"], account.as_str());
    let password = cred["password"].as_str().unwrap();
    assert!(logs_in(&c.redis, account, password));
    let (status, _) = second.call("GET", &path, &c.alice, "");
    assert_eq!(status, 410);

    let events = second.audit(&c.erin);
    assert_eq!(count(&events, "grant.activated", grant), 1);
    assert!(
        !events
            .iter()
            .any(|e| e["action"].as_str().unwrap().starts_with("alert.")),
        "{events:#?}"
    );
    second.stop();

    // One account row, provisioned and its credential taken; the job ran twice, once
    // per server, and finished.
    let rows = c.accounts();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (name, generation, provisioned, delivered, removed) = &rows[0];
    assert_eq!((name.as_str(), *generation), (account.as_str(), 1));
    assert!(provisioned.is_some() && delivered.is_some() && removed.is_none());
    assert_eq!(c.provision_job(), ("done".to_owned(), 2));
    audit_verifies(&c.config);
    assert!(replays_identically(&c.config) >= 1);
}

#[test]
fn killed_mid_provisioning_and_revoked_meanwhile_removes_the_account_it_made() {
    let Some(url) = target_url("redis") else {
        return;
    };
    // Revoked while the first server waits for Redis: it never learns the account was
    // made, so only the intent row tells the second server to remove it.
    let c = crash_mid_provisioning(&url, |first, erin, grant| {
        let g = first.json("POST", &format!("/v1/grants/{grant}/revoke"), erin, "");
        assert_eq!(g["state"], "revoking");
    });
    let mut second = c.restart();
    c.wait_state(&second, "revoked", &["revoking", "revoked"]);
    assert_eq!(acl_users(&c.redis, &c.prefix), Vec::<String>::new());
    let events = second.audit(&c.erin);
    assert_eq!(count(&events, "grant.revoked", &c.grant), 1);
    assert_eq!(count(&events, "grant.activated", &c.grant), 0);
    second.stop();
    let rows = c.accounts();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].4.is_some(),
        "account row not marked removed: {rows:?}"
    );
    audit_verifies(&c.config);
    assert!(replays_identically(&c.config) >= 1);
}

#[test]
fn two_servers_on_one_postgres_never_provision_or_revoke_a_grant_twice() {
    const N: usize = 40;
    let Some(url) = target_url("redis") else {
        return;
    };
    let Some(admin) = target_url("postgres") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = PgDb::create(&rt, &admin);
    let db = pg.url.clone();
    let (redis, prefix, _sweep) = redis_run(&url);
    let dir = tempfile::tempdir().unwrap();
    // Small batches, so both workers take part in provisioning too, not only the one
    // that wakes first.
    let worker = Worker {
        lease: "10s",
        batch: 4,
    };
    let config = write_config(dir.path(), &db, &url, &prefix, &worker, dir.path());
    let tokens: BTreeMap<&str, String> = ["alice", "dave"]
        .into_iter()
        .map(|who| (who, token(&config, who, &["intake"])))
        .collect();
    let erin = token(&config, "erin", &["admin", "audit"]);
    let mut servers = [
        serve(&config, &dir.path().join("a.log")),
        serve(&config, &dir.path().join("b.log")),
    ];

    // Requests alternate between the servers, and between two requesters.
    let mut grants: BTreeMap<String, &str> = BTreeMap::new();
    for i in 0..N {
        let who = if (i / 2) % 2 == 0 { "alice" } else { "dave" };
        let grant = servers[i % 2].request_read(&tokens[who], who, &format!("F2-{i}"), "45s");
        grants.insert(grant, who);
    }
    let states = |s: &Server| -> BTreeMap<String, String> {
        let list = s.json(
            "GET",
            "/v1/grants?system=session-cache&limit=1000",
            &erin,
            "",
        );
        list.as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["id"].as_str().unwrap().to_owned(),
                    g["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let all_in =
        |m: &BTreeMap<String, String>, state: &str| m.len() == N && m.values().all(|s| s == state);
    wait_for(
        "every grant to become active",
        Duration::from_secs(60),
        || {
            let m = states(&servers[0]);
            assert!(!m.values().any(|s| s == "failed"), "{m:?}");
            all_in(&m, "active").then_some(())
        },
    );
    // A grant active before and after the count was active during it, so its ACL user
    // was there; states never go back, so the check is sound whenever it applies.
    let users = acl_users(&redis, &prefix);
    if all_in(&states(&servers[1]), "active") {
        assert_eq!(users.len(), N, "one ACL user per active grant");
    } else {
        eprintln!("a grant expired during the ACL count; the count was not checked");
    }

    // Every credential works: had two workers provisioned one grant, the later reset
    // would have changed the password behind the sealed one.
    for (i, (grant, who)) in grants.iter().enumerate() {
        let server = &servers[i % 2];
        let cred = server.json(
            "GET",
            &format!("/v1/grants/{grant}/credential"),
            &tokens[who],
            "",
        );
        let password = cred["password"].as_str().unwrap();
        let works = logs_in(&redis, &account_of(&prefix, grant), password);
        assert!(
            works || server.grant_state(&erin, grant) != "active",
            "the delivered credential of active grant {grant} does not log in"
        );
    }

    // Each grant expires after 45 s; both workers expire and revoke them.
    wait_for(
        "every grant to be revoked",
        Duration::from_secs(180),
        || {
            let m = states(&servers[1]);
            assert!(!m.values().any(|s| s == "failed"), "{m:?}");
            all_in(&m, "revoked").then_some(())
        },
    );
    assert_eq!(acl_users(&redis, &prefix), Vec::<String>::new());

    let events = servers[0].audit(&erin);
    for grant in grants.keys() {
        for action in ["grant.activated", "grant.expired", "grant.revoked"] {
            assert_eq!(count(&events, action, grant), 1, "{action} of {grant}");
        }
    }
    let alerts: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("alert."))
        .collect();
    assert!(alerts.is_empty(), "{alerts:#?}");

    // Whether the work was shared depends on which worker wakes first; it is reported,
    // not asserted.
    let mut by_worker: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for e in &events {
        let action = e["action"].as_str().unwrap();
        if let Some(w) = e["actor"].as_str().unwrap().strip_prefix("worker:")
            && action.starts_with("grant.")
        {
            *by_worker
                .entry(w.to_owned())
                .or_default()
                .entry(action.to_owned())
                .or_default() += 1;
        }
    }
    eprintln!("transitions by worker: {by_worker:?}");
    let reconcile_chains = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'reconcile' AND state = 'pending'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        n
    });
    eprintln!("pending reconciliation jobs for the one connector: {reconcile_chains}");
    let workers: BTreeSet<&String> = by_worker.keys().collect();
    assert!(!workers.is_empty());

    for s in &mut servers {
        s.stop();
    }
    audit_verifies(&config);
    assert!(replays_identically(&config) >= N as u64);
}

#[test]
fn secret_never_reaches_logs_or_database() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let (redis, prefix, _sweep) = redis_run(&url);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = format!("sqlite://{}", data.join("warden.db").display());
    let worker = Worker {
        lease: "30s",
        batch: 100,
    };
    let config = write_config(dir.path(), &db, &url, &prefix, &worker, &data);
    let alice = token(&config, "alice", &["intake"]);
    let erin = token(&config, "erin", &["admin", "audit"]);
    let log = dir.path().join("serve.log");
    // Everything at trace: Warden's crates, and the HTTP server, database driver and
    // runtime beneath them, any of which could echo a value it handles.
    let filter = "trace";
    let mut cmd = warden(&config);
    cmd.env("RUST_LOG", filter);
    let mut server = Server::start(cmd, &log);

    let grant = server.request_read(&alice, "alice", "F3-1", "1h");
    wait_for(
        "the grant to become active",
        Duration::from_secs(30),
        || (server.grant_state(&erin, &grant) == "active").then_some(()),
    );
    let cred = server.json("GET", &format!("/v1/grants/{grant}/credential"), &alice, "");
    let user = cred["username"].as_str().unwrap().to_owned();
    let password = cred["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 16, "a real password to look for");
    assert!(logs_in(&redis, &user, &password));

    server.json(
        "POST",
        &format!("/v1/grants/{grant}/revoke"),
        &erin,
        r#"{"reason":"fault test done"}"#,
    );
    wait_for("the grant to be revoked", Duration::from_secs(30), || {
        (server.grant_state(&erin, &grant) == "revoked").then_some(())
    });
    assert!(!logs_in(&redis, &user, &password));
    let audit = serde_json::to_string(&server.audit(&erin)).unwrap();
    assert!(audit.contains("credential.delivered"));

    // The data directory while the server runs (its WAL still there), and after.
    let stored = |what: &str| {
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, &password),
                "password in {} ({what})",
                path.display()
            );
        }
    };
    stored("running");
    let stdout = server.stop();
    stored("stopped");

    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("TRACE") && stderr.contains("DEBUG"),
        "the log is not verbose enough to prove anything:\n{stderr}"
    );
    assert!(!stderr.contains(&password), "password in stderr");
    assert!(!stdout.contains(&password), "password in stdout");
    assert!(!audit.contains(&password), "password in the audit trail");
    assert!(replays_identically(&config) >= 1);
}
