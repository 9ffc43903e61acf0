//! Offboarding on activation, on both stores, with a real Redis (`WARDEN_TEST_REDIS_URL`):
//! a bundle that disables alice revokes her live ACL user (confirmed on the target),
//! revokes her tokens and withdraws her pending requests; a grant she is about to receive
//! never becomes active; her credential can no longer be fetched; and a service whose
//! owner is gone raises `alert.owner_missing`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use warden_connect::Held;
use warden_connect::conformance::target_url;
use warden_engine::connectors::{ConnectorInstance, Connectors};
use warden_engine::{Engine, EngineConfig, EngineError, ManualClock};
use warden_model::{GrantState, Request, RequestState, Timestamp};
use warden_policy::Bundle;
use warden_store::{TokenId, TokenRecord, token_hash};

use common::{fresh_prefix, redis, stores};

fn bundle() -> Bundle {
    Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap()
}

async fn drain(engine: &Engine) {
    while engine.run_due_jobs("w1").await.unwrap() > 0 {}
}

fn request(ticket: &str, role: &str) -> Request {
    let json = format!(
        r#"{{"source":"jira","ticket":"{ticket}","requester":"alice","role":"{role}","duration":"1h","purpose":"debug"}}"#
    );
    Request::from_json(json.as_bytes()).unwrap()
}

/// Mints a token for `identity`; returns its secret's hash.
async fn token(engine: &Engine, identity: &str) -> String {
    let id = TokenId::new();
    let hash = token_hash(&format!("secret-{id}"));
    let mut tx = engine.store().begin().await.unwrap();
    tx.insert_token(&TokenRecord {
        id,
        identity: identity.parse().unwrap(),
        scopes: vec!["intake".into()],
        hash: hash.clone(),
        created_at: engine.now(),
        revoked_at: None,
        expires_at: None,
        source: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    hash
}

async fn actions(engine: &Engine) -> Vec<warden_store::AuditEvent> {
    engine.store().audit_after(0, 10_000).await.unwrap()
}

#[tokio::test]
async fn activating_a_bundle_that_disables_alice_removes_her_access_everywhere() {
    let Some(url) = target_url("redis") else {
        return;
    };
    for (backend, store, _dir) in stores().await {
        let prefix = fresh_prefix("wo");
        let mut by_name = HashMap::new();
        by_name.insert(
            "cache-redis".to_owned(),
            ConnectorInstance {
                connector: redis(&url, &prefix).await,
                prefix: prefix.clone(),
            },
        );
        let observer = redis(&url, &prefix).await;
        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2026-11-29T10:00:00Z").unwrap(),
        ));
        let engine = Engine::new(
            store,
            bundle(),
            clock.clone(),
            EngineConfig {
                connectors: Connectors::new(by_name),
                ..EngineConfig::default()
            },
        )
        .await
        .unwrap();
        drain(&engine).await;

        // alice holds a live Redis user, a token and a request waiting for approvals; a
        // second grant is decided but not yet provisioned when the bundle changes.
        let live = engine
            .intake("alice", request("OB-1", "session-cache.read"))
            .await
            .unwrap();
        let gid = live.view.grant.unwrap().id;
        drain(&engine).await;
        assert_eq!(
            engine.grant(&gid).await.unwrap().state,
            GrantState::Active,
            "{backend}"
        );
        let ours = |held: Vec<Held>| {
            held.into_iter()
                .filter(|h| matches!(h, Held::Account(n) if prefix.owns(n)))
                .count()
        };
        assert_eq!(ours(observer.observe().await.unwrap()), 1, "{backend}");
        let pending = engine
            .intake("alice", request("OB-2", "payments-db.read"))
            .await
            .unwrap();
        assert_eq!(pending.view.state, RequestState::ApprovalRequired);
        let token = token(&engine, "alice").await;
        let queued = engine
            .intake("alice", request("OB-3", "session-cache.read"))
            .await
            .unwrap();
        let queued_grant = queued.view.grant.unwrap().id;

        let next = warden_policy::testing::with_disabled(&engine.bundle(), &["alice"]);
        let done = engine.activate(next, "test").await.unwrap();
        assert!(done.changed);

        // Before the worker runs, the active catalog already refuses her.
        let refused = engine.credential("alice", &gid).await.unwrap_err();
        assert!(
            matches!(refused, EngineError::Forbidden(_)),
            "{backend}: {refused:?}"
        );

        drain(&engine).await;
        let g = engine.grant(&gid).await.unwrap();
        assert_eq!(g.state, GrantState::Revoked, "{backend}");
        assert_eq!(
            ours(observer.observe().await.unwrap()),
            0,
            "{backend}: removed on the target"
        );
        assert_eq!(
            engine
                .store()
                .grant_end_reason(gid.parse().unwrap())
                .await
                .unwrap()
                .as_deref(),
            Some("offboarded")
        );
        assert_eq!(
            engine.request(&pending.view.id).await.unwrap().state,
            RequestState::Withdrawn,
            "{backend}"
        );
        assert_eq!(
            engine.grant(&queued_grant).await.unwrap().state,
            GrantState::Failed,
            "{backend}: a grant for an offboarded subject is never made"
        );
        let events = actions(&engine).await;
        let offboarded: Vec<_> = events
            .iter()
            .filter(|e| e.action == "identity.offboarded")
            .collect();
        assert_eq!(offboarded.len(), 1, "{backend}: one event for alice");
        assert_eq!(offboarded[0].data["identity"], "alice");
        assert_eq!(offboarded[0].data["reason"], "identity_disabled");
        assert_eq!(offboarded[0].data["tokens_revoked"], 1);
        assert!(events.iter().any(|e| e.action == "bundle.activated"));
        // Her token is revoked in the store, not only refused at the door.
        let stored = engine.store().token_by_hash(&token).await.unwrap().unwrap();
        assert!(stored.revoked_at.is_some(), "{backend}");
        assert!(
            engine
                .store()
                .holders()
                .await
                .unwrap()
                .iter()
                .all(|h| h.as_str() != "alice"),
            "{backend}"
        );
        // svc-billing is owned by alice: it is orphaned now and raised an alert.
        assert!(
            events
                .iter()
                .any(|e| e.action == "alert.owner_missing" && e.data["identity"] == "svc-billing"),
            "{backend}"
        );
        // Activating the same bundle again changes nothing and offboards nobody twice.
        let same = Bundle::from_files(engine.bundle().files().to_vec()).unwrap();
        assert!(!engine.activate(same, "test").await.unwrap().changed);
        drain(&engine).await;
        let count = actions(&engine)
            .await
            .iter()
            .filter(|e| e.action == "identity.offboarded")
            .count();
        assert_eq!(count, 1, "{backend}");

        // Every stored decision still replays byte for byte.
        for e in actions(&engine)
            .await
            .iter()
            .filter(|e| e.action == "request.decided")
        {
            let id = e.request_id.unwrap().to_string();
            assert!(
                engine.replay(&id).await.unwrap().identical,
                "{backend}: {id}"
            );
        }
    }
}
