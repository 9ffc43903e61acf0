//! `POST /v1/itsm/{name}`: a delivery proves itself by its signature over the raw body
//! before anything is stored; a bad or stale one is 401 with nothing written, and a
//! repeated delivery is acknowledged and ignored.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt as _;
use warden_engine::itsm::{ItsmInstance, Itsms};
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_http::{AppState, router};
use warden_itsm::{ItsmConfig, Verifier};
use warden_model::Timestamp;
use warden_store::testing;

const SECRET: &str = "whsec_d2FyZGVuLWdlbmVyaWMtd2ViaG9vay1zZWNyZXQtMzI=";

struct Hook {
    engine: Engine,
    clock: Arc<ManualClock>,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

async fn hook() -> Hook {
    let mut config: ItsmConfig = toml::from_str(
        r#"
        name = "intake"
        kind = "generic"
        signature = "standard-webhooks"
        "#,
    )
    .unwrap();
    config.secrets = vec![SecretString::from(SECRET)];
    config.validate().unwrap();
    let mut by_name = HashMap::new();
    by_name.insert(
        "intake".to_owned(),
        ItsmInstance {
            adapter: Arc::from(warden_itsm_adapters::build(&config).unwrap()),
            verifier: Arc::new(Verifier::new(&config).unwrap()),
            config: Arc::new(config),
        },
    );
    let (store, dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(Timestamp::parse(common::START).unwrap()));
    let engine = Engine::new(
        store,
        common::bundle(),
        clock.clone(),
        EngineConfig {
            itsms: Itsms::new(by_name),
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let router = router(AppState::new(engine.clone(), 64 * 1024));
    Hook {
        engine,
        clock,
        router,
        _dir: dir,
    }
}

fn sign(id: &str, ts: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl Hook {
    async fn post(&self, id: &str, ts: i64, signature: &str, body: &[u8]) -> (StatusCode, Value) {
        let req = Request::post("/v1/itsm/intake")
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(Body::from(body.to_vec()))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn events(&self) -> usize {
        self.engine
            .store()
            .audit_after(0, 10_000)
            .await
            .unwrap()
            .len()
    }

    fn now(&self) -> i64 {
        self.engine.now().unix_seconds()
    }
}

const BODY: &[u8] =
    br#"{"ticket":"GEN-1","requester":"alice","role":"session-cache.read","purpose":"debug"}"#;

#[tokio::test]
async fn signed_delivery_is_taken_once_and_a_repeat_is_ignored() {
    let h = hook().await;
    let ts = h.now();
    let (status, body) = h.post("msg_1", ts, &sign("msg_1", ts, BODY), BODY).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "taken");
    assert_eq!(body["request"]["state"], "approved", "{body}");
    // The source is the adapter, whatever the body says.
    let stored = h
        .engine
        .store()
        .request_by_ticket("intake", "GEN-1")
        .await
        .unwrap();
    assert!(stored.is_some());

    let events = h.events().await;
    let (status, body) = h.post("msg_1", ts, &sign("msg_1", ts, BODY), BODY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "duplicate");
    assert_eq!(h.events().await, events, "a repeat wrote nothing");
}

#[tokio::test]
async fn bad_or_stale_signatures_are_401_and_store_nothing() {
    let h = hook().await;
    let ts = h.now();
    let events = h.events().await;
    let tampered =
        br#"{"ticket":"GEN-1","requester":"alice","role":"session-cache.admin","purpose":"debug"}"#;
    let cases: Vec<(&str, i64, String, &[u8])> = vec![
        ("tampered body", ts, sign("m", ts, BODY), tampered),
        ("wrong id", ts, sign("other", ts, BODY), BODY),
        ("stale", ts - 301, sign("m", ts - 301, BODY), BODY),
        ("from the future", ts + 301, sign("m", ts + 301, BODY), BODY),
        ("no signature", ts, String::new(), BODY),
        (
            "not v1",
            ts,
            sign("m", ts, BODY).replace("v1,", "v2,"),
            BODY,
        ),
    ];
    for (what, at, sig, body) in cases {
        let (status, answer) = h.post("m", at, &sig, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized", "{what}");
        assert!(
            !answer.to_string().contains("whsec_"),
            "{what}: the secret leaked"
        );
    }
    assert_eq!(h.events().await, events, "nothing was written");
    assert!(
        h.engine
            .store()
            .request_by_ticket("intake", "GEN-1")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn unknown_adapter_is_404() {
    let h = hook().await;
    let req = Request::post("/v1/itsm/nope")
        .header("content-type", "application/json")
        .body(Body::from(BODY.to_vec()))
        .unwrap();
    let resp = h.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_standard_webhooks_replay_is_refused_for_as_long_as_its_signature_is_fresh() {
    let h = hook().await;
    let ts = h.now();
    let signature = sign("msg_9", ts, BODY);
    let (status, body) = h.post("msg_9", ts, &signature, BODY).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = h.events().await;
    // Four minutes on, the timestamp is still within tolerance: the id refuses the replay.
    h.clock
        .advance(warden_model::Duration::from_seconds(240).unwrap());
    let (status, body) = h.post("msg_9", ts, &signature, BODY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "duplicate");
    // Past the tolerance, the timestamp refuses it.
    h.clock
        .advance(warden_model::Duration::from_seconds(120).unwrap());
    let (status, body) = h.post("msg_9", ts, &signature, BODY).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(h.events().await, events, "no replay wrote anything");
}
