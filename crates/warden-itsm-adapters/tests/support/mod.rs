//! What the adapter tests share: a tiny local HTTP server (canned answers by method and path,
//! and a log of every request received so tests can check what an adapter sent), the
//! `[[itsm]]` settings they read, and the directory they map people with.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use warden_itsm::ItsmConfig;
use warden_model::IdentityId;

/// An `[[itsm]]` table as the server config holds it, parsed, with its secrets
/// (`WARDEN_ITSM_<NAME>_PASSWORD`, `…_SECRET`) taken from `secret`.
pub fn config(table: &str, secret: &dyn Fn(&str) -> Option<String>) -> ItsmConfig {
    let mut c: ItsmConfig = toml::from_str(table).unwrap();
    c.load_secrets(secret).unwrap();
    c
}

/// The `[[itsm]]` table of the test RT (`scripts/services.d/rt.sh` sets it up) at `url`,
/// signed in as `username`: its queue, custom fields and approval field.
pub fn rt_table(url: &str, username: &str) -> String {
    format!(
        r#"
name = "rt"
kind = "rt"
url = "{url}"
username = "{username}"
signature = "standard-webhooks"
revoke_on_close = true
poll_filter = "Queue = 'Access Requests'"
status_field = "CF.Warden Status"

[fields]
requester = "Requestor"
subject = "CF.Requested For"
system = "CF.Target System"
needs = "CF.Access Level"
task = "CF.Task"
purpose = "CF.Purpose"
duration = "CF.Access Duration"

[approval]
field = "CF.Approval"
"#
    )
}

/// The people the recorded tickets name, by email: alice and bob.
pub fn directory(v: &str) -> Option<IdentityId> {
    match v {
        "alice@example.com" => IdentityId::parse("alice").ok(),
        "bob@example.com" => IdentityId::parse("bob").ok(),
        _ => None,
    }
}

/// One canned answer.
#[derive(Clone)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
    /// A substring the decoded query must hold, when set.
    pub query_has: Option<String>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Route {
    pub fn new(method: &'static str, path: &str, status: u16, body: impl Into<String>) -> Self {
        Self {
            method,
            path: path.to_owned(),
            query_has: None,
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn query(mut self, has: &str) -> Self {
        self.query_has = Some(has.to_owned());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The query, percent-decoded.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Server {
    pub url: String,
    pub log: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

pub async fn serve(routes: Vec<Route>) -> Server {
    serve_on("127.0.0.1:0", routes).await.unwrap()
}

/// Serves on `addr`; `None` when the address is taken.
pub async fn serve_on(addr: &str, routes: Vec<Route>) -> Option<Server> {
    let listener = TcpListener::bind(addr).await.ok()?;
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let log = Arc::clone(&log2);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap().split(' ');
                let method = first.next().unwrap().to_owned();
                let target = first.next().unwrap().to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = buf[head_end + 4..].to_vec();
                while body.len() < len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                let (path, query) = match target.split_once('?') {
                    Some((p, q)) => (p.to_owned(), decode(q)),
                    None => (target.clone(), String::new()),
                };
                let received = Received {
                    method: method.clone(),
                    path: path.clone(),
                    query: query.clone(),
                    headers,
                    body: String::from_utf8_lossy(&body).to_string(),
                };
                log.lock().unwrap().push(received);
                let route = routes.iter().find(|r| {
                    r.method == method
                        && r.path == path
                        && r.query_has
                            .as_ref()
                            .is_none_or(|q| query.contains(q.as_str()))
                });
                let (status, extra, body) = match route {
                    Some(r) => (r.status, r.headers.clone(), r.body.clone()),
                    None => (404, Vec::new(), r#"{"message":"no route"}"#.to_owned()),
                };
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                resp.push_str(&body);
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Some(Server { url, log })
}
