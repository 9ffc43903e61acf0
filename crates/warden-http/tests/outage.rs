//! A database that goes away: the API answers 503 `unavailable` with a generic message,
//! and nothing partial is left once the database is back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{Harness, error};
use serde_json::{Value, json};
use warden_connect::proxy::Proxy;
use warden_store::{Store, StoreOptions, testing};

fn request(ticket: &str) -> Value {
    json!({
        "source": "jira",
        "ticket": ticket,
        "requester": "alice",
        "role": "session-cache.read",
        "purpose": "debug login loop"
    })
}

#[tokio::test]
async fn a_closed_sqlite_store_answers_503_unavailable() {
    let (store, dir) = testing::sqlite().await;
    let h = Harness::on("sqlite", store, None, Some(dir)).await;
    let t = h.token("alice", &["intake"]).await;
    h.engine.store().close().await;

    let a = h.post_json("/v1/requests", &t, &request("OUT-1")).await;
    let m = error(&a, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(!m.contains("sqlite") && !m.contains("pool"), "generic: {m}");
    let health = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    let metrics = h.call(Method::GET, "/metrics", None, None).await;
    error(&metrics, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

/// The `host:port` that `url` names, and `url` with it replaced by `addr`.
fn redirect(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    let upstream = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (upstream, format!("{scheme}://{user}{addr}{path}"))
}

#[tokio::test]
async fn postgres_going_away_answers_503_and_leaves_nothing_partial() {
    let Some((direct, url)) = testing::postgres().await else {
        return;
    };
    direct.close().await;
    let (upstream, _) = redirect(&url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(&upstream).await.unwrap();
    let (_, proxied_url) = redirect(&url, proxy.addr());
    let store = Store::connect_with(
        &proxied_url,
        &StoreOptions {
            max_connections: Some(2),
            acquire_timeout: Duration::from_secs(2),
        },
    )
    .await
    .unwrap();
    let h = Harness::on("postgres", store, Some(url.clone()), None).await;
    let t = h.token("alice", &["intake"]).await;
    let ok = h.post_json("/v1/requests", &t, &request("OUT-1")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let events = h.audit_len().await;

    proxy.cut();
    let a = h.post_json("/v1/requests", &t, &request("OUT-2")).await;
    let m = error(&a, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(
        !m.contains("postgres") && !m.contains("127.0.0.1"),
        "generic: {m}"
    );
    let health = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body, json!({ "status": "unavailable" }));

    proxy.restore();
    let health = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(
        h.audit_len().await,
        events,
        "nothing was appended during the outage"
    );
    assert!(
        h.engine
            .store()
            .request_by_ticket("jira", "OUT-2")
            .await
            .unwrap()
            .is_none()
    );
    let retried = h.post_json("/v1/requests", &t, &request("OUT-2")).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
    let verify = h.engine.store().verify_audit().await.unwrap();
    assert!(verify.first_broken.is_none());
}
