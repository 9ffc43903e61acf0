//! The fault tests' harness: Redis spoken to directly in RESP (no client library between
//! the test and the server), a run's ACL users swept when it ends, `warden serve` configured
//! for one run, and a server stopped dead between its target's answer and its commit.

use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use warden_connect::proxy::Proxy;

use super::{Server, root};

pub const SESSION_READ: &str = "session-cache.read";
/// `host:port` of a `redis://[user:password@]host:port[/db]` URL.
pub fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    host.split('/').next().unwrap().to_owned()
}

/// The ACL user Warden derives for generation 1 of grant `grant` (a hyphenated UUID).
pub fn account_of(prefix: &str, grant: &str) -> String {
    format!("{prefix}{}_1", grant.replace('-', ""))
}

/// A prefix no other run shares, so runs never see (or sweep) each other's ACL users.
pub fn fresh_prefix() -> String {
    super::fresh_prefix("wf")
}

/// Polls `f` until it gives a value, failing after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    super::wait_for(what, limit, Duration::from_millis(100), f)
}

// --- the target, spoken to directly ------------------------------------------------

/// One RESP reply.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<String>),
    Array(Vec<Reply>),
}

/// Reads one reply; `None` when the connection fails or the reply is malformed.
pub fn read_reply(r: &mut impl BufRead) -> Option<Reply> {
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

pub fn encode(args: &[&str]) -> String {
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    cmd
}

/// Sends one command to Redis at `addr` on a fresh connection and reads its reply;
/// `None` if that fails.
pub fn try_resp(addr: &str, args: &[&str]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(encode(args).as_bytes()).ok()?;
    read_reply(&mut BufReader::new(s))
}

/// The ACL users on the server whose names start with `prefix`; `None` if Redis does
/// not answer.
pub fn try_acl_users(addr: &str, prefix: &str) -> Option<Vec<String>> {
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

pub fn acl_users(addr: &str, prefix: &str) -> Vec<String> {
    try_acl_users(addr, prefix).expect("`ACL USERS` on the test Redis")
}

/// Whether `user`/`password` log in, and may read a session key.
pub fn logs_in(addr: &str, user: &str, password: &str) -> bool {
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
pub struct Sweep {
    pub addr: String,
    pub prefix: String,
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
pub fn redis_run(url: &str) -> (String, String, Sweep) {
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
pub struct Worker {
    pub lease: &'static str,
    pub batch: u32,
}

/// Writes `dir/warden.toml`: the example bundle, `database`, one Redis connector at
/// `redis` with `prefix`, the `worker` settings, and a sealing key in `key_dir`.
pub fn write_config(
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
pub fn warden(config: &Path) -> Command {
    let mut cmd = super::warden(config.parent().unwrap());
    cmd.env("WARDEN_CONFIG", config);
    cmd
}

pub fn token(config: &Path, identity: &str, scopes: &[&str]) -> String {
    super::token(warden(config), identity, scopes)
}

pub fn audit_verifies(config: &Path) {
    super::audit_verifies(warden(config));
}

/// `warden decide --replay --all --config FILE`: every stored decision replays identically.
pub fn replays_identically(config: &Path) -> u64 {
    super::replays_identically(super::warden(config.parent().unwrap()), Some(config))
}

/// Starts `warden serve` on `config`, its stderr going to `log`.
pub fn serve(config: &Path, log: &Path) -> Server {
    Server::start(warden(config), log)
}

/// What the tests ask of a running server beyond single calls.
impl Server {
    pub fn grant_state(&self, token: &str, grant: &str) -> String {
        self.json("GET", &format!("/v1/grants/{grant}"), token, "")["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every audit event, page by page.
    pub fn audit(&self, token: &str) -> Vec<Value> {
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
    pub fn request_read(
        &self,
        token: &str,
        requester: &str,
        ticket: &str,
        duration: &str,
    ) -> String {
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
pub type AccountRow = (String, i64, Option<i64>, Option<i64>, Option<i64>);

pub fn count(events: &[Value], action: &str, grant: &str) -> usize {
    events
        .iter()
        .filter(|e| e["action"] == action && e["grant_id"] == grant)
        .count()
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A server stopped dead between the target's answer and its commit: its grant's
/// `ACL SETUSER` ran on Redis, the reply was held back by the proxy, and the process
/// was then killed with SIGKILL. The proxy is released again.
pub struct Crashed {
    pub rt: tokio::runtime::Runtime,
    pub _proxy: Proxy,
    pub redis: String,
    pub prefix: String,
    pub db: String,
    pub config: PathBuf,
    pub alice: String,
    pub erin: String,
    pub grant: String,
    pub account: String,
    pub dir: tempfile::TempDir,
    pub _sweep: Sweep,
}

/// Runs a server up to its grant's target call, then acts `meanwhile` on it (the API
/// still answers while the worker waits for Redis) and kills it.
pub fn crash_mid_provisioning(url: &str, meanwhile: impl FnOnce(&Server, &str, &str)) -> Crashed {
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
    pub fn accounts(&self) -> Vec<AccountRow> {
        self.sql(
            "SELECT name, generation, provisioned_at, delivered_at, removed_at \
             FROM accounts WHERE grant_id = $1",
        )
    }

    /// The grant's provisioning job: its state and how often it was claimed.
    pub fn provision_job(&self) -> (String, i64) {
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

    pub fn sql(&self, query: &'static str) -> Vec<AccountRow> {
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

    pub fn restart(&self) -> Server {
        serve(&self.config, &self.dir.path().join("second.log"))
    }

    /// Waits until the grant reaches `state`, failing if it reaches any state outside
    /// `allowed`.
    pub fn wait_state(&self, server: &Server, state: &str, allowed: &[&str]) {
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
