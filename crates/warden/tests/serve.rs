//! `warden serve` end to end: started on port 0 with a fresh SQLite database, driven over
//! real HTTP, and stopped with SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use support::{Server, api, http_head, root};

/// `warden` with a fresh SQLite database and sealing key in `dir`, listening on port 0.
fn warden(dir: &Path) -> Command {
    let mut cmd = support::warden(&root());
    cmd.env(
        "WARDEN_DATABASE_URL",
        format!("sqlite://{}", dir.join("warden.db").display()),
    )
    .env("WARDEN_LISTEN", "127.0.0.1:0")
    .env("WARDEN_SECRET_KEY_FILE", dir.join("secret.key"));
    cmd
}

fn token(dir: &Path, identity: &str, scopes: &[&str]) -> String {
    support::token(warden(dir), identity, scopes)
}

fn start(dir: &Path) -> Server {
    Server::start(warden(dir), &dir.join("serve.log"))
}

#[test]
fn serve_takes_requests_over_http_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let alice = token(dir.path(), "alice", &["intake"]);
    let bob = token(dir.path(), "bob", &["approve"]);
    let carol = token(dir.path(), "carol", &["approve", "audit"]);
    let mut server = start(dir.path());
    let addr = server.addr.clone();

    let (status, body) = api(&addr, "GET", "/healthz", "", "");
    assert_eq!(status, 200, "{body}");

    let request =
        std::fs::read_to_string(root().join("examples/requests/incident-read.json")).unwrap();
    let (status, body) = api(&addr, "POST", "/v1/requests", &alice, &request);
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["state"], "approval_required");
    let id = created["id"].as_str().unwrap().to_owned();

    // A retried webhook gets the same request back, not a second one.
    let (status, again) = api(&addr, "POST", "/v1/requests", &alice, &request);
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again).unwrap()["id"],
        id.as_str()
    );

    // The requester cannot approve; two payments leads can.
    let approve = format!("/v1/requests/{id}/approve");
    let mut body = String::new();
    for (who, expected) in [(&alice, 403), (&bob, 200), (&carol, 200)] {
        let (status, answer) = api(&addr, "POST", &approve, who, "");
        assert_eq!(status, expected, "{answer}");
        body = answer;
    }
    let approved: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(approved["state"], "approved");
    assert!(approved["grant"]["id"].is_string());

    let (status, body) = api(&addr, "GET", "/v1/audit/verify", &carol, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["ok"],
        true
    );

    server.stop();

    // The chain verifies from the command line too, after the server is gone, and so does
    // the checkpoint the server signed as it stopped.
    let out = warden(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains(" checkpoints verified"), "{said}");
    // Every decision the server stored replays byte for byte from its stored inputs.
    assert!(support::replays_identically(warden(dir.path()), None) >= 1);
}

/// The value of cookie `name` set in an answer's head.
fn set_cookie(head: &str, name: &str) -> String {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie: "))
        .filter_map(|l| l.get("set-cookie: ".len()..))
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no cookie {name} in {head}"))
}

#[test]
fn the_console_is_served_and_a_printed_link_signs_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let addr = server.addr.clone();
    let link = |who: &str| {
        warden(dir.path())
            .args(["login-link", "--identity", who])
            .output()
            .unwrap()
    };
    let out = link("bob");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let path = &printed.trim()[printed.find("/ui/login/link?token=wdl_").unwrap()..];
    // A service has no browser; a disabled person gets nothing.
    for who in ["svc-billing", "frank"] {
        assert_eq!(link(who).status.code(), Some(2), "{who} got a link");
    }

    let (status, head, page) = http_head(&addr, "GET", path, &[], "");
    assert_eq!(status, 200, "{page}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(lower.contains("x-frame-options: deny"), "{head}");
    let binding = set_cookie(&head, "warden_login");
    let token = path.split("token=").nth(1).unwrap();
    let form = format!("token={token}&binding={binding}");
    let post = |cookie: String| {
        http_head(
            &addr,
            "POST",
            "/ui/login/link",
            &[
                ("Cookie", cookie),
                ("Content-Type", "application/x-www-form-urlencoded".into()),
            ],
            &form,
        )
    };
    let (status, head, body) = post(format!("warden_login={binding}"));
    assert_eq!(status, 303, "{body}");
    let session = set_cookie(&head, "warden_session");
    let (status, _, inbox) = http_head(
        &addr,
        "GET",
        "/ui/inbox",
        &[("Cookie", format!("warden_session={session}"))],
        "",
    );
    assert_eq!(status, 200, "{inbox}");
    assert!(inbox.contains(">bob<"), "{inbox}");
    // The same link again starts nothing.
    let (status, _, _) = post(format!("warden_login={binding}"));
    assert_eq!(status, 401);
    server.stop();
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let alice = token(dir.path(), "alice", &["intake"]);
    let mut server = start(dir.path());
    let addr = server.addr.clone();
    let body =
        std::fs::read_to_string(root().join("examples/requests/incident-read.json")).unwrap();

    // A request whose headers are sent but whose body is not, yet. `Expect: 100-continue`
    // makes the server say when its handler starts reading the body, so the signal below
    // is sure to arrive while the request is in flight, not before it was read.
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /v1/requests HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.flush().unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed before 100 Continue");
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );

    server.sigterm();
    // Wait (a bounded number of tries) until the server stops accepting new connections.
    let mut tries = 0;
    while TcpStream::connect(&addr).is_ok() {
        tries += 1;
        assert!(tries < 100_000, "still accepting after SIGTERM");
        std::thread::yield_now();
    }

    // The request in flight is still answered in full.
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 201"), "{raw}");
    server.finish();
    assert!(support::replays_identically(warden(dir.path()), None) >= 1);
}

/// `warden` with every default: its data directory is `warden-data` under `dir`.
fn warden_with_defaults(dir: &Path) -> Command {
    let mut cmd = support::warden(dir);
    cmd.env("WARDEN_LISTEN", "127.0.0.1:0")
        .env("WARDEN_BUNDLE", root().join("examples/bundle"))
        .env("WARDEN_AUDIT_CHECKPOINT_EVERY", "1s");
    cmd
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_its_files_are_private_and_an_open_key_stops_the_server() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("warden-data");
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    let alice = support::token(warden_with_defaults(dir.path()), "alice", &["intake"]);
    let mut server = Server::start(
        warden_with_defaults(dir.path()),
        &dir.path().join("serve.log"),
    );
    let request =
        std::fs::read_to_string(root().join("examples/requests/incident-read.json")).unwrap();
    let (status, body) = server.call("POST", "/v1/requests", &alice, &request);
    assert_eq!(status, 201, "{body}");
    // The server is running: the database has its WAL and shared-memory files.
    assert_eq!(mode(""), 0o700, "the data directory");
    for name in [
        "warden.db",
        "warden.db-wal",
        "warden.db-shm",
        "secret.key",
        "audit-checkpoint.key",
    ] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
    // The periodic checkpoint has been written while the server runs.
    support::wait_for(
        "a checkpoint",
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(50),
        || {
            std::fs::read_to_string(data.join("audit-checkpoints.jsonl"))
                .ok()
                .filter(|t| !t.is_empty())
        },
    );
    server.stop();
    support::audit_verifies(warden_with_defaults(dir.path()));
    assert!(support::replays_identically(warden_with_defaults(dir.path()), None) >= 1);

    // A key that group or others can read stops the server before it listens.
    for name in ["secret.key", "audit-checkpoint.key"] {
        let key = data.join(name);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = warden_with_defaults(dir.path())
            .arg("serve")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(out.stdout.is_empty(), "{name}: it listened");
        let err = String::from_utf8_lossy(&out.stderr);
        // Named as configured: relative to the working directory.
        assert!(
            err.contains(&format!("the key file `warden-data/{name}`"))
                && err.contains(&format!("chmod 600 warden-data/{name}")),
            "{name}: {err}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
