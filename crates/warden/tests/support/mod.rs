//! What the end-to-end tests share: the `warden` command with only the test's own
//! configuration, tokens minted through it, a `warden serve` child process stopped with
//! SIGTERM, HTTP/1.1 spoken directly, and polling with a deadline.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code shared by test binaries that each use part of it"
)]

pub mod faults;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// The workspace root, where `examples/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `warden` run in `dir` with no `WARDEN_*` or `RUST_LOG` variables from outside, so only
/// what the test sets configures it.
pub fn warden(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (var, _) in std::env::vars() {
        if var.starts_with("WARDEN_") {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// Mints a token for `identity` with `scopes` through `warden token create` run as `cmd`.
pub fn token(mut cmd: Command, identity: &str, scopes: &[&str]) -> String {
    cmd.args(["token", "create", "--identity", identity]);
    for s in scopes {
        cmd.args(["--scope", s]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

/// Runs `warden audit verify` as `cmd` and fails unless the chain verifies.
pub fn audit_verifies(mut cmd: Command) {
    let out = cmd.args(["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `warden decide --replay --all [--config FILE]` as `cmd` and fails unless every
/// stored decision replays byte for byte; returns how many did.
pub fn replays_identically(mut cmd: Command, config: Option<&Path>) -> u64 {
    cmd.args(["decide", "--replay", "--all"]);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "decide --replay --all: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let counts = last
        .strip_suffix(" identical, 0 different")
        .unwrap_or_else(|| panic!("decide --replay --all: {stdout}"));
    counts.parse().unwrap()
}

/// A prefix starting with `tag` that no other run shares, so runs never see (or sweep)
/// each other's accounts.
pub fn fresh_prefix(tag: &str) -> String {
    let mut b = [0u8; 5];
    getrandom::fill(&mut b).unwrap();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{tag}{hex}_")
}

/// Polls `f` every `pause` until it gives a value, failing after `limit`.
#[expect(
    clippy::disallowed_methods,
    reason = "a deadline on polling a condition"
)]
pub fn wait_for<T>(
    what: &str,
    limit: Duration,
    pause: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(pause);
    }
}

// --- HTTP, spoken directly ---------------------------------------------------------------

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&rest[..end]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[end + 2..end + 2 + size]);
        rest = &rest[end + 2 + size + 2..];
    }
}

/// One HTTP/1.1 exchange on a fresh connection; returns the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_head(addr, method, path, headers, body);
    (status, body)
}

/// [`http`], also returning the answer's head as sent.
pub fn http_head(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP head in the answer"));
    let original = String::from_utf8_lossy(&raw[..split]).into_owned();
    let head = original.to_ascii_lowercase();
    let status: u16 = head[9..12].parse().unwrap();
    let body = &raw[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, original, String::from_utf8(body).unwrap())
}

/// One call of Warden's API with bearer `token` (empty for none) and a JSON `body`;
/// returns the status and the body.
pub fn api(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    http(
        addr,
        method,
        path,
        &[
            ("Authorization", format!("Bearer {token}")),
            ("Content-Type", "application/json".to_owned()),
        ],
        body,
    )
}

// --- the server ----------------------------------------------------------------------------

/// A running `warden serve`, killed when dropped so a failed test leaves no process; a
/// failed test also prints the end of its log.
pub struct Server {
    pub child: Child,
    pub addr: String,
    stdout: BufReader<ChildStdout>,
    pub log: PathBuf,
}

impl Server {
    /// Starts `cmd serve`, its stderr going to `log`, and waits until it says where it
    /// listens.
    pub fn start(mut cmd: Command, log: &Path) -> Server {
        let mut child = cmd
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "unexpected first line {line:?}; stderr:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        Server {
            addr: addr.to_owned(),
            child,
            stdout,
            log: log.to_owned(),
        }
    }

    /// Sends SIGTERM, and returns at once.
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Sends signal `name` (`TERM`, `HUP`, …), and returns at once.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([&format!("-{name}"), &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the server to exit, fails unless it exits cleanly, and returns what it
    /// printed on stdout after its first line.
    pub fn finish(&mut self) -> String {
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "{status:?}; stderr:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        rest
    }

    /// SIGTERM, then [`Server::finish`].
    pub fn stop(&mut self) -> String {
        self.sigterm();
        self.finish()
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// One API call; see [`api`].
    pub fn call(&self, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
        api(&self.addr, method, path, token, body)
    }

    /// One API call that must answer 2xx; returns its JSON body.
    pub fn json(&self, method: &str, path: &str, token: &str, body: &str) -> Value {
        let (status, text) = self.call(method, path, token, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- warden serve, last lines ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- a database of the test's own --------------------------------------------------

/// A fresh, migrated PostgreSQL database, dropped when the test ends. It is named
/// `warden_f_…`, not `warden_t_…`: `scripts/services` drops every `warden_t_` database
/// whenever it is sourced, and would pull this one from under two running servers.
pub struct PgDb {
    admin: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl PgDb {
    /// Creates and migrates it on the server `admin` points at.
    pub fn create(rt: &tokio::runtime::Runtime, admin: &str) -> PgDb {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let name = format!(
            "warden_f_{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        );
        let base = admin.split_once('?').map_or(admin, |(b, _)| b);
        let authority_end = base
            .find("://")
            .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(base.len());
        let url = format!("{}/{name}", &base[..authority_end]);
        rt.block_on(async {
            let mut c = PgConnection::connect(admin).await.unwrap();
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            // Migrated once here, so the two servers start on the same schema.
            warden_store::Store::connect(&url)
                .await
                .unwrap()
                .close()
                .await;
        });
        PgDb {
            admin: admin.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Best effort and never a panic: this may run while a failed test unwinds.
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(mut c) = PgConnection::connect(&self.admin).await {
                let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut c).await;
                let _ = c.close().await;
            }
        });
    }
}
