//! Reviews on both stores: the break-glass loop (an emergency grant opens a review, the
//! next emergency is denied while it is open, it is closed by an owner and never by its
//! subject), and a campaign over real Redis grants (`WARDEN_TEST_REDIS_URL`): a `revoke`
//! removes the ACL user, silence revokes at the deadline, and nobody reviews their own
//! access. Each test ends by replaying every stored decision.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use warden_connect::Held;
use warden_connect::conformance::target_url;
use warden_engine::connectors::{ConnectorInstance, Connectors};
use warden_engine::review::{Closing, ItemDecision, ReviewView, Viewer};
use warden_engine::{Engine, EngineConfig, EngineError, ManualClock};
use warden_model::{GrantState, IdentityId, Outcome, ReasonCode, Request, Timestamp};
use warden_policy::Bundle;
use warden_store::{AuditEvent, Store};

use common::{fresh_prefix, redis, stores};

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn id(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

fn example() -> Bundle {
    Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap()
}

/// The example bundle with its campaign due ten minutes after it starts.
fn short_campaign() -> Bundle {
    let mut files = example().files().to_vec();
    for f in &mut files {
        if f.name == "catalog.toml" {
            assert!(f.text.contains("due_within = \"14d\""));
            f.text = f
                .text
                .replace("due_within = \"14d\"", "due_within = \"10m\"");
        }
    }
    Bundle::from_files(files).unwrap()
}

/// A reviewer calling with an `approve` token: sees what they review.
fn reviewer(who: &str) -> Viewer {
    Viewer {
        identity: id(who),
        reads_all: false,
    }
}

fn all() -> Viewer {
    Viewer {
        identity: id("erin"),
        reads_all: true,
    }
}

async fn events(engine: &Engine, action: &str) -> Vec<AuditEvent> {
    let all = engine.store().audit_after(0, 10_000).await.unwrap();
    all.into_iter().filter(|e| e.action == action).collect()
}

async fn replay_all(engine: &Engine, backend: &str) {
    let tally = engine.replay_all(50, |_| {}).await.unwrap();
    assert_eq!(
        tally.different, 0,
        "{backend}: a stored decision did not replay"
    );
    assert!(tally.identical > 0, "{backend}: nothing was replayed");
}

async fn engine(
    store: Store,
    bundle: Bundle,
    clock: Arc<ManualClock>,
    connectors: Connectors,
) -> Engine {
    Engine::new(
        store,
        bundle,
        clock,
        EngineConfig {
            connectors,
            reconcile_every: None,
            retry_base: std::time::Duration::from_secs(1),
            retry_max: std::time::Duration::from_secs(2),
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap()
}

async fn drain(engine: &Engine) {
    while engine.run_due_jobs("w1").await.unwrap() > 0 {}
}

fn emergency(purpose: &str) -> Request {
    Request::from_json(
        format!(
            r#"{{"requester":"dave","role":"payments-db.write","purpose":"{purpose}","emergency":true}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

fn forbidden(r: Result<ReviewView, EngineError>, says: &str) {
    match r {
        Err(EngineError::Forbidden(m)) => assert!(m.contains(says), "{m}"),
        other => panic!("expected 403 saying `{says}`, got {other:?}"),
    }
}

#[tokio::test]
async fn break_glass_opens_a_review_that_closes_the_emergency_path_until_an_owner_closes_it() {
    for (backend, store, _dir) in stores().await {
        let clock = Arc::new(ManualClock::new(at("2026-12-01T03:00:00Z")));
        let engine = engine(store, example(), clock.clone(), Connectors::default()).await;

        // Dave breaks glass on the payments database: granted at once, and reviewed.
        let first = engine.intake("dave", emergency("INC-99")).await.unwrap();
        assert_eq!(first.view.decision.outcome, Outcome::Grant, "{backend}");
        assert!(first.view.decision.break_glass);
        let grant = first.view.grant.clone().unwrap().id;
        let reviews = engine.reviews(&all(), true, 10).await.unwrap();
        assert_eq!(reviews.len(), 1, "{backend}");
        let review = &reviews[0];
        assert_eq!(review.kind, "break_glass");
        assert_eq!(review.subject, Some(id("dave")));
        assert_eq!(review.grant.as_deref(), Some(grant.as_str()));
        assert_eq!(
            review.due_at,
            at("2026-12-02T03:00:00Z"),
            "[break_glass] review_within = 24h"
        );
        let opened = events(&engine, "review.opened").await;
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].data["review"], review.id.as_str());
        assert_eq!(
            opened[0].data["reviewers"]["groups"],
            serde_json::json!(["payments-leads"])
        );

        // The next emergency is denied, naming the open review.
        clock.set(at("2026-12-01T05:00:00Z"));
        let second = engine.intake("dave", emergency("INC-100")).await.unwrap();
        assert_eq!(second.view.decision.outcome, Outcome::Deny, "{backend}");
        let reason = &second.view.decision.reasons[0];
        assert_eq!(reason.code, ReasonCode::BreakGlassReviewOpen);
        assert!(
            reason.message.as_deref().unwrap().contains(&review.id),
            "{reason:?}"
        );

        // Past its due date the review is overdue, raises an alert, and still blocks.
        clock.set(at("2026-12-02T03:00:01Z"));
        drain(&engine).await;
        assert_eq!(
            events(&engine, "review.reminder").await.len(),
            1,
            "{backend}"
        );
        let overdue = events(&engine, "alert.review_overdue").await;
        assert_eq!(overdue.len(), 1, "{backend}");
        let still = engine.review_for(&all(), &review.id).await.unwrap();
        assert!(still.overdue && still.state == "open");
        let third = engine.intake("dave", emergency("INC-101")).await.unwrap();
        assert_eq!(third.view.decision.outcome, Outcome::Deny, "{backend}");

        // Nobody closes their own emergency's review; only its system's owners may.
        let close = |who: &str, how: Closing| {
            let (engine, review, who) = (&engine, review.id.clone(), reviewer(who));
            async move {
                engine
                    .close_review(&who, &review, how, Some("INC-99 was real"))
                    .await
            }
        };
        forbidden(close("dave", Closing::Justified).await, "own access");
        forbidden(close("alice", Closing::Justified).await, "not a reviewer");
        forbidden(close("nobody", Closing::Justified).await, "not an identity");
        // An owner's approve-scoped view shows the grant's audit trail.
        let seen = engine
            .review_for(
                &Viewer {
                    identity: id("bob"),
                    reads_all: false,
                },
                &review.id,
            )
            .await
            .unwrap();
        let actions: Vec<&str> = seen
            .events
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.action.as_str())
            .collect();
        assert!(
            actions.contains(&"grant.created") && actions.contains(&"alert.break_glass"),
            "{actions:?}"
        );
        // Dave sees nothing to review.
        let dave = Viewer {
            identity: id("dave"),
            reads_all: false,
        };
        assert!(engine.reviews(&dave, false, 10).await.unwrap().is_empty());
        assert!(matches!(
            engine.review_for(&dave, &review.id).await,
            Err(EngineError::NotFound(_))
        ));

        let closed = close("bob", Closing::Justified).await.unwrap();
        assert_eq!(closed.state, "closed");
        assert_eq!(closed.outcome.as_deref(), Some("justified"));
        assert!(matches!(
            close("carol", Closing::Justified).await,
            Err(EngineError::Conflict(_))
        ));

        // The path is open again; the new emergency opens a new review, and an
        // unjustified close raises an alert.
        let fourth = engine.intake("dave", emergency("INC-102")).await.unwrap();
        assert_eq!(fourth.view.decision.outcome, Outcome::Grant, "{backend}");
        let open = engine.reviews(&all(), true, 10).await.unwrap();
        assert_eq!(open.len(), 1);
        engine
            .close_review(
                &reviewer("carol"),
                &open[0].id,
                Closing::Unjustified,
                Some("no incident"),
            )
            .await
            .unwrap();
        let alerts = events(&engine, "alert.break_glass_unjustified").await;
        assert_eq!(alerts.len(), 1, "{backend}");
        assert_eq!(alerts[0].actor, "carol");

        replay_all(&engine, backend).await;
    }
}

#[tokio::test]
async fn a_campaign_over_redis_grants_revokes_on_decision_and_on_silence() {
    let Some(url) = target_url("redis") else {
        return;
    };
    for (backend, store, _dir) in stores().await {
        let prefix = fresh_prefix("wr");
        let observer = redis(&url, &prefix).await;
        let mut by_name = HashMap::new();
        by_name.insert(
            "cache-redis".to_owned(),
            ConnectorInstance {
                connector: redis(&url, &prefix).await,
                prefix: prefix.clone(),
            },
        );
        let clock = Arc::new(ManualClock::new(at("2026-12-01T10:00:00Z")));
        let engine = engine(
            store,
            short_campaign(),
            clock.clone(),
            Connectors::new(by_name),
        )
        .await;
        let smoke =
            r#"{"requester":"ci-deploy","role":"session-cache.read","purpose":"smoke test"}"#;
        let mut grants = Vec::new();
        for _ in 0..2 {
            let done = engine
                .intake("ci-deploy", Request::from_json(smoke.as_bytes()).unwrap())
                .await
                .unwrap();
            assert_eq!(
                done.view.decision.outcome,
                Outcome::Grant,
                "{backend}: {:?}",
                done.view.decision
            );
            grants.push(done.view.grant.unwrap().id);
        }
        drain(&engine).await;
        for g in &grants {
            assert_eq!(
                engine.grant(g).await.unwrap().state,
                GrantState::Active,
                "{backend}"
            );
        }
        let accounts = || async {
            observer
                .observe()
                .await
                .unwrap()
                .into_iter()
                .filter(|h| matches!(h, Held::Account(n) if prefix.owns(n)))
                .count()
        };
        assert_eq!(
            accounts().await,
            2,
            "{backend}: both grants hold an ACL user"
        );

        clock.set(at("2026-12-01T10:01:00Z"));
        let run = engine
            .start_campaign("nhi-quarterly", "test")
            .await
            .unwrap();
        assert_eq!(run.due_at, at("2026-12-01T10:11:00Z"));
        let full = engine.review_for(&all(), &run.id).await.unwrap();
        let items = full.items.unwrap();
        // Two grant items and one "is ci-deploy still needed?" item.
        assert_eq!(items.len(), 3, "{backend}: {items:?}");
        let item_of = |g: &str| {
            items
                .iter()
                .find(|i| i.grant.as_deref() == Some(g))
                .unwrap()
                .id
                .clone()
        };
        let identity_item = items.iter().find(|i| i.grant.is_none()).unwrap().id.clone();
        assert_eq!(items[0].reviewers.groups, vec!["sre".parse().unwrap()]);
        assert_eq!(
            items[0].reviewers.identities,
            vec![id("dave")],
            "the workload's owner"
        );

        // Nobody reviews their own access; outsiders are not reviewers.
        let decide = |who: &str, item: String, d: ItemDecision| {
            let engine = &engine;
            let run = run.id.clone();
            let who = reviewer(who);
            async move {
                engine
                    .decide_review_item(&who, &run, &item, d, Some("checked"))
                    .await
            }
        };
        forbidden(
            decide("ci-deploy", item_of(&grants[0]), ItemDecision::Keep).await,
            "own access",
        );
        forbidden(
            decide("bob", item_of(&grants[0]), ItemDecision::Keep).await,
            "not a reviewer",
        );

        // The owner revokes one grant: its ACL user is removed, confirmed, reason `review`.
        decide("dave", item_of(&grants[0]), ItemDecision::Revoke)
            .await
            .unwrap();
        assert!(matches!(
            decide("dave", item_of(&grants[0]), ItemDecision::Keep).await,
            Err(EngineError::Conflict(_))
        ));
        drain(&engine).await;
        assert_eq!(
            engine.grant(&grants[0]).await.unwrap().state,
            GrantState::Revoked,
            "{backend}"
        );
        assert_eq!(accounts().await, 1, "{backend}");
        let asked = events(&engine, "grant.revoke_requested").await;
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].data["reason"], "review");
        decide("dave", identity_item, ItemDecision::Keep)
            .await
            .unwrap();

        // Nobody answers for the other grant: at the deadline silence revokes it.
        clock.set(at("2026-12-01T10:11:00Z"));
        drain(&engine).await;
        assert_eq!(
            engine.grant(&grants[1]).await.unwrap().state,
            GrantState::Revoked,
            "{backend}"
        );
        assert_eq!(
            accounts().await,
            0,
            "{backend}: silence removed the last ACL user"
        );
        let done = engine.review_for(&all(), &run.id).await.unwrap();
        assert_eq!(done.state, "closed");
        assert_eq!(done.outcome.as_deref(), Some("completed"));
        let silent = done
            .items
            .unwrap()
            .into_iter()
            .find(|i| i.grant.as_deref() == Some(grants[1].as_str()))
            .unwrap();
        assert_eq!(silent.decision.as_deref(), Some("revoke"));
        assert_eq!(silent.decided_by.as_deref(), Some("no_answer"));
        assert_eq!(events(&engine, "grant.revoke_requested").await.len(), 2);
        let completion = engine
            .store()
            .review_completion(at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(
            completion,
            (2, 3),
            "{backend}: two of three items decided by a reviewer in time"
        );

        // The next run is scheduled a period later; a manual start counts as the run.
        replay_all(&engine, backend).await;
    }
}
