//! The console over a real store (SQLite in a temporary directory) and the example bundle,
//! with the JSON API beside it as `warden serve` mounts them, and a `Browser` that keeps
//! its session cookie and posts forms with the page's form token, as a browser would.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use tower::ServiceExt;
use warden_console::{Console, ConsoleConfig};
use warden_engine::session::SessionRules;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::{Duration, GroupId, IdentityId, Timestamp};
use warden_policy::Bundle;
use warden_store::testing;

/// The instant every test starts at.
pub const START: &str = "2026-11-29T10:00:00Z";

/// The console and the API on one engine.
pub struct Harness {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

/// One answer.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    /// The value of the first `<input … name="NAME" value="…">` on the page.
    pub fn input(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self.text.find(&needle)? + needle.len();
        let rest = self.text.get(at..)?;
        Some(rest.get(..rest.find('"')?)?.to_owned())
    }

    /// The page's form token.
    pub fn csrf(&self) -> String {
        self.input("csrf").expect("the page has a form token")
    }

    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// The bundle under test: the example, with no system provisioning through a connector.
pub fn bundle() -> Bundle {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
    warden_policy::testing::record_only(&Bundle::load(&dir).unwrap())
}

/// The console's settings in tests: `security` administers, `billing` audits.
pub fn config() -> ConsoleConfig {
    ConsoleConfig {
        public_url: "http://127.0.0.1:8080".into(),
        session: SessionRules {
            idle: Duration::from_seconds(30 * 60).unwrap(),
            absolute: Duration::from_seconds(12 * 3_600).unwrap(),
        },
        admin_groups: BTreeSet::from([GroupId::parse("security").unwrap()]),
        audit_groups: BTreeSet::from([GroupId::parse("billing").unwrap()]),
    }
}

/// The example's `cache-redis` connector on the Redis at `url`, with a prefix of its own
/// so that concurrent tests never share accounts.
pub async fn redis_connectors(url: &str) -> warden_engine::connectors::Connectors {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    let letters: String = b.iter().map(|x| char::from(b'a' + x % 26)).collect();
    let prefix = warden_connect::Prefix::parse(&format!("wc{letters}_")).unwrap();
    let connector = warden_connect_redis::connect(&warden_connect::Settings {
        name: "cache-redis".into(),
        url: secrecy::SecretString::from(url.to_owned()),
        prefix: prefix.clone(),
        options: std::collections::BTreeMap::new(),
    })
    .await
    .unwrap();
    let mut by_name = std::collections::HashMap::new();
    by_name.insert(
        "cache-redis".to_owned(),
        warden_engine::connectors::ConnectorInstance {
            connector: Arc::new(connector),
            prefix,
        },
    );
    warden_engine::connectors::Connectors::new(by_name)
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(EngineConfig::default(), bundle()).await
    }

    /// The console with the example bundle's `cache-redis` provisioning on the Redis at
    /// `url` (the other systems record only).
    pub async fn with_redis(url: &str) -> Self {
        let full = Bundle::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"),
        )
        .unwrap();
        let config = EngineConfig {
            connectors: redis_connectors(url).await,
            ..EngineConfig::default()
        };
        Self::with(config, full).await
    }

    /// The console over an engine with `config` and `bundle`.
    pub async fn with(engine_config: EngineConfig, bundle: Bundle) -> Self {
        let (store, dir) = testing::sqlite().await;
        let clock = Arc::new(ManualClock::new(Timestamp::parse(START).unwrap()));
        let engine = Engine::new(store, bundle, clock.clone(), engine_config)
            .await
            .unwrap();
        let console = Console::new(engine.clone(), config());
        let api = warden_http::router(warden_http::AppState::new(
            engine.clone(),
            warden_http::DEFAULT_BODY_LIMIT,
        ));
        Self {
            engine,
            clock,
            router: api.merge(warden_console::router(console)),
            _dir: dir,
        }
    }

    /// Runs the worker until every due job is done (at most 50 rounds).
    pub async fn work(&self) {
        for _ in 0..50 {
            if self.engine.run_due_jobs("test-worker").await.unwrap() == 0 {
                return;
            }
        }
    }

    /// Replays every stored decision and fails unless each is byte-identical; returns
    /// how many there were.
    pub async fn replay_all(&self) -> u64 {
        let tally = self.engine.replay_all(100, |_| {}).await.unwrap();
        assert_eq!(tally.different, 0, "a stored decision did not replay");
        tally.identical
    }

    /// A browser with no session.
    pub fn anonymous(&self) -> Browser {
        Browser {
            router: self.router.clone(),
            cookies: Vec::new(),
        }
    }

    /// A browser signed in as `who` through a one-time sign-in link.
    pub async fn sign_in(&self, who: &str) -> Browser {
        let link = self
            .engine
            .create_login_link(
                &IdentityId::parse(who).unwrap(),
                Duration::from_seconds(600).unwrap(),
                "test",
            )
            .await
            .unwrap();
        self.sign_in_with(&link).await
    }

    /// A browser signed in with sign-in link `link`.
    pub async fn sign_in_with(&self, link: &warden_engine::session::Secret) -> Browser {
        let mut b = self.anonymous();
        let page = b
            .get(&format!("/ui/login/link?token={}", link.expose()))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let binding = page.input("binding").unwrap();
        let done = b
            .post_form(
                "/ui/login/link",
                &[("token", link.expose()), ("binding", &binding)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        b
    }

    /// Files a request through the engine as `requester` would through the API.
    pub async fn file(&self, body: serde_json::Value) -> warden_engine::view::RequestView {
        let request: warden_model::Request = serde_json::from_value(body).unwrap();
        let filer = warden_engine::intake::Filer {
            identity: request.requester.clone(),
            broker_source: None,
            reads_all: false,
        };
        self.engine.file(&filer, request).await.unwrap().view
    }
}

/// A browser: its cookies, sent back on every call.
pub struct Browser {
    router: Router,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
    }

    /// Sets cookie `name` as a browser holding it would send it.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(k, _)| k != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    /// Forgets every cookie but `name`.
    pub fn only_cookie(&mut self, name: &str) {
        self.cookies.retain(|(k, _)| k == name);
    }

    /// The session cookie's value, if any.
    pub fn session(&self) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == warden_console::SESSION_COOKIE)
            .map(|(_, v)| v.clone())
    }

    pub async fn call(&mut self, method: Method, path: &str, body: Option<String>) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            req = req.header(header::COOKIE, self.cookie_header());
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        self.keep(&headers);
        let bytes = axum::body::to_bytes(res.into_body(), 10 << 20)
            .await
            .unwrap();
        Page {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.call(Method::GET, path, None).await
    }

    /// POSTs `fields` as a form, exactly as given.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.call(Method::POST, path, Some(body)).await
    }

    /// POSTs `fields` with the form token of the page at `from`, as a browser submitting
    /// that page's form would.
    pub async fn submit(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }
}
