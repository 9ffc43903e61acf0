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

/// A loopback listener on a free port, and the console's address on it
/// (`http://127.0.0.1:PORT`), for a harness that serves over real TCP.
#[allow(
    clippy::unwrap_used,
    reason = "test harness: a failed unwrap is a failed test"
)]
pub async fn loopback() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// The test console settings ([`config`]) for a console reached at `public_url`.
pub fn config_at(public_url: &str) -> ConsoleConfig {
    ConsoleConfig {
        public_url: public_url.to_owned(),
        ..config()
    }
}

/// The example bundle with only the systems of connector `name` provisioning through it;
/// every other system records only (its grants go through the lifecycle without a
/// target, instead of failing for want of a configured connector).
#[allow(
    clippy::unwrap_used,
    reason = "test harness: a failed unwrap is a failed test"
)]
pub fn bundle_with_connector(name: &str) -> Bundle {
    let full = Bundle::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"),
    )
    .unwrap();
    let kept = format!("connector = \"{name}\"");
    let files = full
        .files()
        .iter()
        .map(|f| warden_policy::SourceFile {
            name: f.name.clone(),
            text: f
                .text
                .lines()
                .filter(|l| !l.trim_start().starts_with("connector =") || l.trim() == kept)
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect();
    Bundle::from_files(files).unwrap()
}

#[allow(
    clippy::unwrap_used,
    reason = "test harness: a failed unwrap is a failed test"
)]
impl Harness {
    /// The console that `console` makes over an engine with `engine_config` and `bundle`,
    /// with the API beside it, its clock starting at `start`.
    pub async fn with_console(
        engine_config: EngineConfig,
        bundle: Bundle,
        start: Timestamp,
        console: impl FnOnce(Engine) -> Console,
    ) -> Self {
        let (store, dir) = testing::sqlite().await;
        let clock = Arc::new(ManualClock::new(start));
        let engine = Engine::new(store, bundle, clock.clone(), engine_config)
            .await
            .unwrap();
        let api = warden_http::router(warden_http::AppState::new(
            engine.clone(),
            warden_http::DEFAULT_BODY_LIMIT,
        ));
        Self {
            router: api.merge(warden_console::router(console(engine.clone()))),
            engine,
            clock,
            _dir: dir,
        }
    }

    /// Serves the console and the API on `listener` over real HTTP, in a task that ends
    /// with the test's runtime (or when the handle is aborted).
    pub fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let router = self.router.clone();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        })
    }

    /// Runs the engine's worker loop in a task, as `warden serve` does, until the
    /// returned sender says `true` (or the test's runtime ends).
    pub fn spawn_worker(&self) -> tokio::sync::watch::Sender<bool> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let engine = self.engine.clone();
        tokio::spawn(async move {
            engine
                .run_worker(
                    "test-worker".into(),
                    std::time::Duration::from_millis(100),
                    stopped,
                )
                .await;
        });
        stop
    }

    /// Keeps the harness clock at the wall clock (every 50 ms), for tests where a browser
    /// or an identity provider reads the real time: a page's countdown, an ID token's
    /// `iat` and `exp`. Start such a harness at the wall clock ([`wall_clock`]), so that
    /// the clock never goes back. Stops when the handle is aborted.
    pub fn follow_wall_clock(&self) -> tokio::task::JoinHandle<()> {
        let clock = self.clock.clone();
        clock.set(wall_clock());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                clock.set(wall_clock());
            }
        })
    }
}

/// The wall clock now, as the server's clock reads it.
pub fn wall_clock() -> Timestamp {
    use warden_engine::Clock as _;
    warden_engine::SystemClock.now()
}

/// A target held in memory, of kind Redis: provisioning and removal succeed at once and
/// mint no credential, so grants on the systems it serves become `active` and are
/// confirmed `revoked` without a real target.
pub struct MemoryTarget;

type Answer<'a, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<T, warden_connect::ConnectError>> + Send + 'a>,
>;

impl warden_connect::Connector for MemoryTarget {
    fn kind(&self) -> warden_connect::ConnectorKind {
        warden_connect::ConnectorKind::Redis
    }

    fn provision<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _spec: &'life1 warden_connect::Spec,
    ) -> Answer<'async_trait, Option<warden_connect::Credential>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async { Ok(None) })
    }

    fn remove<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _held: &'life1 warden_connect::Held,
    ) -> Answer<'async_trait, ()>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async { Ok(()) })
    }

    fn observe<'life0, 'async_trait>(
        &'life0 self,
    ) -> Answer<'async_trait, Vec<warden_connect::Held>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[allow(
    clippy::unwrap_used,
    reason = "test harness: a failed unwrap is a failed test"
)]
impl Harness {
    /// The console with the example bundle's `session-cache` provisioning on a
    /// [`MemoryTarget`] (connector `cache-redis`); every other system records only.
    pub async fn with_memory_target() -> Self {
        let mut by_name = std::collections::HashMap::new();
        by_name.insert(
            "cache-redis".to_owned(),
            warden_engine::connectors::ConnectorInstance {
                connector: Arc::new(MemoryTarget),
                prefix: warden_connect::Prefix::parse("wmem_").unwrap(),
            },
        );
        let config = EngineConfig {
            connectors: warden_engine::connectors::Connectors::new(by_name),
            reconcile_every: None,
            ..EngineConfig::default()
        };
        Self::with(config, bundle_with_connector("cache-redis")).await
    }
}

/// The console alone, served over real TCP by an engine on the wall clock, for tests that
/// another party takes part in with its own sense of time.
///
/// The engine's clock is `SystemClock`, not the harness's `ManualClock` at [`START`]: a
/// real OIDC provider stamps its ID tokens' `iat` and `exp` with the real time, and the
/// console checks them against the engine's clock, which a clock stopped in the past
/// would refuse as not yet valid.
pub struct LiveConsole {
    /// The engine behind it.
    pub engine: Engine,
    /// Where browsers reach it: `http://127.0.0.1:PORT`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl LiveConsole {
    /// Serves the console that `make` builds from the engine and the console's address.
    pub async fn start(make: impl FnOnce(Engine, &str) -> Console) -> Self {
        let (store, dir) = testing::sqlite().await;
        let wall = Arc::new(warden_engine::SystemClock);
        let engine = Engine::new(store, bundle(), wall, EngineConfig::default())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = warden_console::router(make(engine.clone(), &base));
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            engine,
            base,
            task,
            _dir: dir,
        }
    }
}

impl Drop for LiveConsole {
    fn drop(&mut self) {
        self.task.abort();
    }
}
