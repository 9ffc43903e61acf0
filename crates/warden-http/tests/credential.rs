//! A minted credential over HTTP, and bulk revocation: on a real Redis
//! (`WARDEN_TEST_REDIS_URL`), the subject fetches the credential once (`no-store`), anyone
//! else is refused, a second fetch is 410; `POST /v1/revocations` ends everything an
//! identity holds and reports each grant confirmed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::json;
use warden_connect::conformance::target_url;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::Timestamp;
use warden_store::testing;

#[tokio::test]
async fn credential_is_delivered_once_and_bulk_revocation_confirms_each_grant() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let connectors = common::redis_connectors(&url, "wh").await;
    let (store, dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(Timestamp::parse(common::START).unwrap()));
    let bundle = warden_policy::Bundle::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"),
    )
    .unwrap();
    let engine = Engine::new(
        store,
        bundle,
        clock.clone(),
        EngineConfig {
            connectors,
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let h = common::Harness::with_engine(engine.clone(), clock, Some(dir)).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = {
        let e = engine.clone();
        tokio::spawn(async move {
            e.run_worker("w".into(), std::time::Duration::from_millis(50), stopped)
                .await;
        })
    };

    let alice = h.token("alice", &["intake"]).await;
    let bob = h.token("bob", &["admin"]).await;
    let admin = h.token("erin", &["admin"]).await;
    let mut grants = Vec::new();
    for t in ["C-1", "C-2"] {
        let a = h
            .post_json(
                "/v1/requests",
                &alice,
                &json!({"source":"api","ticket":t,"requester":"alice","role":"session-cache.read","purpose":"debug"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        grants.push(a.body["grant"]["id"].as_str().unwrap().to_owned());
    }
    // Wait (with a deadline) for the worker to provision both.
    let mut tries = 0;
    for g in &grants {
        while engine.grant(g).await.unwrap().state != warden_model::GrantState::Active {
            tries += 1;
            assert!(tries < 400, "grant {g} was not provisioned within 10 s");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
    let path = format!("/v1/grants/{}/credential", grants[0]);
    let refused = h.call(Method::GET, &path, Some(&bob), None).await;
    common::error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let first = h.call(Method::GET, &path, Some(&alice), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.headers["cache-control"], "no-store");
    let password = first.body["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    assert!(first.body["username"].as_str().unwrap().ends_with("_1"));
    let again = h.call(Method::GET, &path, Some(&alice), None).await;
    common::error(&again, StatusCode::GONE, "gone");

    let none = h.post_json("/v1/revocations", &admin, &json!({})).await;
    assert_eq!(
        none.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        none.text
    );
    let r = h
        .post_json(
            "/v1/revocations",
            &admin,
            &json!({"identity":"alice","reason":"offboarding","wait":"20s"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["confirmed"], 2, "{}", r.text);
    for g in r.body["grants"].as_array().unwrap() {
        assert_eq!(g["state"], "revoked");
        assert!(g["revoked_at"].is_string());
    }
    // By ticket, then by system.
    for t in ["C-3", "C-4"] {
        let a = h
            .post_json(
                "/v1/requests",
                &alice,
                &json!({"source":"api","ticket":t,"requester":"alice","role":"session-cache.read","purpose":"debug"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let by_ticket = h
        .post_json(
            "/v1/revocations",
            &admin,
            &json!({"ticket":"C-3","source":"api","reason":"done","wait":"20s"}),
        )
        .await;
    assert_eq!(by_ticket.body["confirmed"], 1, "{}", by_ticket.text);
    assert_eq!(by_ticket.body["grants"].as_array().unwrap().len(), 1);
    let by_system = h
        .post_json(
            "/v1/revocations",
            &admin,
            &json!({"system":"session-cache","reason":"incident","wait":"20s"}),
        )
        .await;
    let ended: Vec<&str> = by_system.body["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        ended,
        ["revoked"],
        "only C-4 was still live: {}",
        by_system.text
    );
    assert!(
        !h.audit_text().await.contains(&password),
        "the password is in the audit trail"
    );
    let _ = stop.send(true);
    worker.await.unwrap();
}
