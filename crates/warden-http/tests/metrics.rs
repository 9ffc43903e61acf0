//! `GET /metrics`: open unless `server.metrics_token` is set, then only with that bearer
//! token; grants are shown for the live states only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::SecretString;
use tower::ServiceExt as _;
use warden_http::{AppState, router};

const TOKEN: &str = "metrics-token-0123456789abcdef";

async fn scrape(state: &AppState, authorization: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get("/metrics");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = router(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn without_a_metrics_token_the_endpoint_is_open_and_shows_live_states_only() {
    let (store, _dir) = warden_store::testing::sqlite().await;
    let (engine, _clock) = common::engine_on(store).await;
    let state = AppState::new(engine, 64 * 1024);
    let (status, text) = scrape(&state, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    for live in ["provisioning", "active", "revoking"] {
        assert!(
            text.contains(&format!("warden_grants{{state=\"{live}\"}} 0")),
            "{text}"
        );
    }
    // Ended grants only grow: they are counters, never a count over the whole table.
    assert!(!text.contains("warden_grants{state=\"revoked\"}"), "{text}");
    assert!(text.contains("warden_grants_revoked_total 0"), "{text}");
}

#[tokio::test]
async fn with_a_metrics_token_only_that_bearer_token_is_let_in() {
    let (store, _dir) = warden_store::testing::sqlite().await;
    let (engine, _clock) = common::engine_on(store).await;
    let state = AppState::new(engine, 64 * 1024).with_metrics_token(SecretString::from(TOKEN));
    for refused in [
        None,
        Some("Bearer wrong-token-0123456789abcdef"),
        Some("Bearer metrics-token-0123456789abcdeF"),
        Some("Bearer "),
        Some(TOKEN),
        Some("Basic bWV0cmljczp4"),
    ] {
        let (status, text) = scrape(&state, refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused:?}: {text}");
        assert!(!text.contains(TOKEN), "the token is never echoed");
    }
    let (status, text) = scrape(&state, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("warden_grants_overdue"), "{text}");
}
