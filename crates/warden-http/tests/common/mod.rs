//! A router over a real store (SQLite always, PostgreSQL when configured), tokens minted
//! straight into the store, and a helper that calls the router once.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_http::{AppState, DEFAULT_BODY_LIMIT, router};
use warden_model::{IdentityId, Timestamp};
use warden_policy::Bundle;
use warden_store::{Store, TokenId, TokenRecord, testing, token_hash};

/// The instant every test starts at.
pub const START: &str = "2026-11-29T10:00:00Z";

/// One backend under test.
pub struct Harness {
    pub backend: &'static str,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub router: Router,
    pub url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// The answer to one call.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

pub fn bundle() -> Bundle {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
    // The API on its own: no system provisions through a connector here.
    warden_policy::testing::record_only(&Bundle::load(&dir).unwrap())
}

pub async fn engine_on(store: Store) -> (Engine, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::parse(START).unwrap()));
    let engine = Engine::new(store, bundle(), clock.clone(), EngineConfig::default())
        .await
        .unwrap();
    (engine, clock)
}

impl Harness {
    pub async fn on(
        backend: &'static str,
        store: Store,
        url: Option<String>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let (engine, clock) = engine_on(store).await;
        let router = router(AppState::new(engine.clone(), DEFAULT_BODY_LIMIT));
        Self {
            backend,
            engine,
            clock,
            router,
            url,
            _dir: dir,
        }
    }

    /// A harness around an engine the test built itself.
    #[allow(dead_code, reason = "not every test file builds its own engine")]
    pub async fn with_engine(
        engine: Engine,
        clock: Arc<ManualClock>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let router = router(AppState::new(engine.clone(), DEFAULT_BODY_LIMIT));
        Self {
            backend: "sqlite",
            engine,
            clock,
            router,
            url: None,
            _dir: dir,
        }
    }

    /// Mints a token for `identity` with `scopes`; returns its secret.
    pub async fn token(&self, identity: &str, scopes: &[&str]) -> String {
        self.token_record(identity, scopes, None).await
    }

    pub async fn token_record(
        &self,
        identity: &str,
        scopes: &[&str],
        revoked_at: Option<Timestamp>,
    ) -> String {
        self.token_with(identity, scopes, revoked_at, None).await
    }

    /// Mints a `broker` token for `identity` bound to `source`.
    pub async fn broker_token(&self, identity: &str, source: &str) -> String {
        self.token_with(identity, &["broker"], None, Some(source))
            .await
    }

    async fn token_with(
        &self,
        identity: &str,
        scopes: &[&str],
        revoked_at: Option<Timestamp>,
        source: Option<&str>,
    ) -> String {
        let id = TokenId::new();
        let secret = format!("wt_{identity}_{id}");
        let mut tx = self.engine.store().begin().await.unwrap();
        tx.insert_token(&TokenRecord {
            id,
            identity: IdentityId::parse(identity).unwrap(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            hash: token_hash(&secret),
            created_at: self.engine.now(),
            revoked_at,
            expires_at: Some(
                self.engine
                    .now()
                    .plus(warden_model::Duration::parse("1d").unwrap()),
            ),
            source: source.map(str::to_owned),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        secret
    }

    /// Calls the router once.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some((content_type, bytes)) => req
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(bytes)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, uri: &str, token: &str) -> Answer {
        self.call(Method::GET, uri, Some(token), None).await
    }

    pub async fn post_json(&self, uri: &str, token: &str, body: &Value) -> Answer {
        self.call(
            Method::POST,
            uri,
            Some(token),
            Some(("application/json", serde_json::to_vec(body).unwrap())),
        )
        .await
    }

    pub async fn post(&self, uri: &str, token: &str) -> Answer {
        self.call(Method::POST, uri, Some(token), None).await
    }

    /// Every stored audit event's data, as one JSON text.
    #[allow(dead_code, reason = "not every test file reads it")]
    pub async fn audit_text(&self) -> String {
        let events = self.engine.store().audit_after(0, 100_000).await.unwrap();
        serde_json::to_string(&events.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap()
    }

    /// Fails unless every stored decision replays byte for byte; returns how many did.
    pub async fn replays_identically(&self) -> u64 {
        let mut different = Vec::new();
        let tally = self
            .engine
            .replay_all(warden_engine::replay::REPLAY_PAGE, |v| {
                if !v.identical {
                    different.push((v.request_id.clone(), v.problem.clone()));
                }
            })
            .await
            .unwrap();
        assert!(
            different.is_empty(),
            "{}: decisions that do not replay: {different:?}",
            self.backend
        );
        tally.identical
    }

    /// How many audit events are stored.
    pub async fn audit_len(&self) -> usize {
        self.engine
            .store()
            .audit_after(0, 100_000)
            .await
            .unwrap()
            .len()
    }
}

/// A harness per available backend: SQLite always, PostgreSQL when configured.
pub async fn harnesses() -> Vec<Harness> {
    let (store, dir) = testing::sqlite().await;
    let mut out = vec![Harness::on("sqlite", store, None, Some(dir)).await];
    if let Some((store, url)) = testing::postgres().await {
        out.push(Harness::on("postgres", store, Some(url), None).await);
    }
    out
}

/// Asserts the error shape and code, and returns the message.
#[track_caller]
pub fn error(a: &Answer, status: StatusCode, code: &str) -> String {
    assert_eq!(a.status, status, "body: {}", a.text);
    assert_eq!(a.body["error"]["code"], code, "body: {}", a.text);
    let message = a.body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

/// The example bundle's `cache-redis` connector on the Redis at `url`, under a fresh
/// prefix starting with `tag` so tests running at once never touch each other's users.
pub async fn redis_connectors(url: &str, tag: &str) -> warden_engine::connectors::Connectors {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    let letters: String = b.iter().map(|x| char::from(b'a' + x % 26)).collect();
    let prefix = warden_connect::Prefix::parse(&format!("{tag}{letters}_")).unwrap();
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
