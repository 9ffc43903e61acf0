//! `warden serve` against slow and greedy clients: trickled bodies and heads are cut off by
//! their timeouts while `/healthz` keeps answering, idle keep-alive connections are closed,
//! and the connection and in-flight caps hold. Timeouts are set to a few seconds here; every
//! wait is on a condition with a generous deadline, never a measure of speed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use support::{Server, api, root, wait_for};

/// `warden serve` on port 0 with a fresh SQLite database in `dir` and these `WARDEN_*`
/// settings.
fn start(dir: &Path, vars: &[(&str, &str)]) -> Server {
    let mut cmd = support::warden(&root());
    cmd.env(
        "WARDEN_DATABASE_URL",
        format!("sqlite://{}", dir.join("warden.db").display()),
    )
    .env("WARDEN_LISTEN", "127.0.0.1:0")
    .env("WARDEN_SECRET_KEY_FILE", dir.join("secret.key"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Server::start(cmd, &dir.join("serve.log"))
}

/// A connection that sent `head` and reads without blocking.
fn open(addr: &str, head: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

/// What the server did to a connection: `None` while it stays open and silent, else what
/// it sent before closing (empty when it closed without a word).
fn closed(s: &mut TcpStream, got: &mut Vec<u8>) -> Option<String> {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(_) => return Some(String::from_utf8_lossy(got).into_owned()),
        }
    }
}

/// The head of a webhook whose body (under the 64 KiB limit) would take hours at the pace
/// it is sent.
fn slow_webhook(addr: &str) -> String {
    format!(
        "POST /v1/itsm/rt HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 60000\r\n\r\n{{"
    )
}

#[test]
fn trickled_bodies_are_cut_off_while_healthz_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("WARDEN_BODY_READ_TIMEOUT", "2s")]);
    let addr = server.addr.clone();
    let mut slow: Vec<(TcpStream, Vec<u8>, Option<String>)> = (0..200)
        .map(|_| (open(&addr, &slow_webhook(&addr)), Vec::new(), None))
        .collect();

    let (status, body) = api(&addr, "GET", "/healthz", "", "");
    assert_eq!(status, 200, "{body}");

    // Each round sends every open connection one more byte, as a trickling client does.
    wait_for(
        "the server to close every trickling connection",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            for (s, got, end) in &mut slow {
                if end.is_none() {
                    let _ = s.write_all(b" ");
                    *end = closed(s, got);
                }
            }
            slow.iter().all(|(_, _, end)| end.is_some()).then_some(())
        },
    );
    for (_, _, end) in &slow {
        let answer = end.as_deref().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    let (status, body) = api(&addr, "GET", "/healthz", "", "");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn trickled_heads_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("WARDEN_HEADER_READ_TIMEOUT", "2s"),
            ("WARDEN_IDLE_TIMEOUT", "1h"),
        ],
    );
    let addr = server.addr.clone();
    let mut slow: Vec<(TcpStream, Vec<u8>)> = (0..20)
        .map(|_| (open(&addr, "GET /healthz HTTP/1.1\r\nX-Slow: "), Vec::new()))
        .collect();
    wait_for(
        "the server to close every connection trickling its head",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let mut open = 0;
            for (s, got) in &mut slow {
                let _ = s.write_all(b"a");
                if closed(s, got).is_none() {
                    open += 1;
                }
            }
            (open == 0).then_some(())
        },
    );
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("WARDEN_IDLE_TIMEOUT", "1s"),
            ("WARDEN_HEADER_READ_TIMEOUT", "1h"),
        ],
    );
    let addr = server.addr.clone();
    let mut s = open(
        &addr,
        &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
    );
    let mut got = Vec::new();
    let end = wait_for(
        "the idle connection to be closed after its answer",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || closed(&mut s, &mut got),
    );
    assert!(end.starts_with("HTTP/1.1 200"), "{end}");
    assert!(
        !end.to_ascii_lowercase().contains("connection: close"),
        "the answer kept the connection alive; the idle timeout closed it: {end}"
    );
}

/// Whether `s` has had an answer after waiting up to a second (a bound on a wait that
/// should not end, not a measure of speed).
fn answered_within_a_second(s: &mut TcpStream) -> bool {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut b = [0u8; 1];
    let answered = matches!(s.read(&mut b), Ok(n) if n > 0);
    s.set_nonblocking(true).unwrap();
    answered
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("WARDEN_MAX_CONNECTIONS", "2"),
            ("WARDEN_IDLE_TIMEOUT", "1h"),
            ("WARDEN_HEADER_READ_TIMEOUT", "1h"),
        ],
    );
    let addr = server.addr.clone();
    let held: Vec<TcpStream> = (0..2).map(|_| open(&addr, "")).collect();
    let health = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut third = open(&addr, &health);
    assert!(
        !answered_within_a_second(&mut third),
        "a third connection is served while two hold both slots"
    );
    drop(held);
    let mut got = Vec::new();
    let end = wait_for(
        "the third connection to be served once a slot frees",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || closed(&mut third, &mut got),
    );
    assert!(end.starts_with("HTTP/1.1 200"), "{end}");
}

#[test]
fn requests_beyond_the_in_flight_cap_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("WARDEN_MAX_IN_FLIGHT", "1")]);
    let addr = server.addr.clone();
    // A webhook whose body is still coming holds the only slot.
    let head = format!(
        "POST /v1/itsm/rt HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{"
    );
    let mut busy = open(&addr, &head);
    assert!(
        !answered_within_a_second(&mut busy),
        "the body is not complete"
    );
    let health = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut waiting = open(&addr, &health);
    assert!(
        !answered_within_a_second(&mut waiting),
        "a second request is handled while the first holds the only slot"
    );
    busy.write_all(b"}").unwrap();
    let mut got = Vec::new();
    let end = wait_for(
        "the waiting request to be served once the slot frees",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || closed(&mut waiting, &mut got),
    );
    assert!(end.starts_with("HTTP/1.1 200"), "{end}");
}
