//! Every act is bound to its authenticated caller, and the active catalog decides who may
//! still act: requester spoofing, brokers and their bound source, sources reserved for
//! ITSMs, duplicate tickets, who may read a request, and identities disabled by a newly
//! activated bundle.

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

use axum::http::StatusCode;
use common::{Harness, error, harnesses};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden_engine::itsm::{ItsmInstance, Itsms};
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_itsm::{ItsmConfig, Verifier};
use warden_model::Timestamp;

/// A request that needs two approvals from payments leads (bob, carol).
fn payments_read(ticket: &str) -> Value {
    json!({
        "source": "jira",
        "ticket": ticket,
        "role": "payments-db.read",
        "purpose": "INC-42 query plan"
    })
}

async fn request_count(h: &Harness, source: &str, ticket: &str) -> bool {
    h.engine
        .store()
        .request_by_ticket(source, ticket)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_requester_other_than_the_caller_is_refused_and_nothing_is_stored() {
    for h in harnesses().await {
        let grace = h.token("grace", &["intake"]).await;
        let events = h.audit_len().await;
        // dave owns ci-deploy: were his word taken, his consent would be skipped.
        let body = json!({
            "source": "jira", "ticket": "SPOOF-1",
            "requester": "dave", "subject": "ci-deploy",
            "role": "session-cache.read", "purpose": "deploy"
        });
        let m = error(
            &h.post_json("/v1/requests", &grace, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`requester`") && m.contains("`dave`"), "{m}");
        assert!(!request_count(&h, "jira", "SPOOF-1").await, "{}", h.backend);
        assert_eq!(
            h.audit_len().await,
            events,
            "nothing is audited for a refusal"
        );
        // The dry run holds to the same rule.
        let m = error(
            &h.post_json("/v1/decisions", &grace, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`requester`"), "{m}");
    }
}

#[tokio::test]
async fn an_omitted_requester_is_the_caller() {
    for h in harnesses().await {
        let alice = h.token("alice", &["intake"]).await;
        let created = h
            .post_json("/v1/requests", &alice, &payments_read("OMIT-1"))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.body["id"].as_str().unwrap();
        let shown = h.get(&format!("/v1/requests/{id}"), &alice).await;
        assert_eq!(
            shown.body["request"]["requester"], "alice",
            "{}",
            shown.text
        );
    }
}

#[tokio::test]
async fn a_body_without_requester_is_read_whole_and_its_faults_named() {
    for h in harnesses().await {
        let alice = h.token("alice", &["intake"]).await;
        // Read once with the caller filled in: the dry run decides for alice.
        let decided = h
            .post_json("/v1/decisions", &alice, &payments_read("OMIT-2"))
            .await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);
        assert_eq!(
            decided.body["outcome"], "approval_required",
            "{}",
            decided.text
        );
        // Any other fault of such a body is named as it would be with a requester.
        for (field, value, names) in [
            ("duration", json!("6x"), "`duration`"),
            ("colour", json!("red"), "colour"),
            ("purpose", json!(""), "`purpose`"),
        ] {
            let mut body = payments_read("OMIT-3");
            body[field] = value;
            let m = error(
                &h.post_json("/v1/decisions", &alice, &body).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            );
            assert!(m.contains(names), "{field}: {m}");
            assert!(!m.contains("missing field"), "{field}: {m}");
        }
        // A body that is not an object is refused as such, not as lacking a requester.
        let m = error(
            &h.post_json("/v1/decisions", &alice, &json!(["role"])).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
        assert!(!m.is_empty(), "{m}");
    }
}

#[tokio::test]
async fn a_broker_files_for_anyone_but_only_under_its_bound_source() {
    for h in harnesses().await {
        let portal = h.broker_token("grace", "portal").await;
        let mut body = payments_read("BRK-1");
        body["source"] = json!("portal");
        body["requester"] = json!("alice");
        let created = h.post_json("/v1/requests", &portal, &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.body["id"].as_str().unwrap().to_owned();

        let events = h.engine.store().audit_after(0, 10_000).await.unwrap();
        let decided = events
            .iter()
            .find(|e| {
                e.action == "request.decided"
                    && e.request_id.map(|r| r.to_string()) == Some(id.clone())
            })
            .unwrap();
        assert_eq!(decided.actor, "grace", "the broker is the actor");
        assert_eq!(decided.data["requester"], "alice");
        assert_eq!(decided.data["filed_by"], "grace");
        // Every later event of the request names both too.
        let bob = h.token("bob", &["approve"]).await;
        let answered = h.post(&format!("/v1/requests/{id}/approve"), &bob).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
        let events = h.engine.store().audit_after(0, 10_000).await.unwrap();
        let approved = events
            .iter()
            .find(|e| e.action == "request.approve")
            .unwrap();
        assert_eq!(approved.actor, "bob");
        assert_eq!(approved.data["requester"], "alice");
        assert_eq!(approved.data["filed_by"], "grace");

        // Another source is refused; none defaults to the bound one.
        body["source"] = json!("jira");
        body["ticket"] = json!("BRK-2");
        let m = error(
            &h.post_json("/v1/requests", &portal, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`source`") && m.contains("`portal`"), "{m}");
        assert!(!request_count(&h, "jira", "BRK-2").await);
        body.as_object_mut().unwrap().remove("source");
        let created = h.post_json("/v1/requests", &portal, &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert!(request_count(&h, "portal", "BRK-2").await, "{}", h.backend);
    }
}

#[tokio::test]
async fn a_duplicate_ticket_from_someone_else_is_a_conflict_that_tells_nothing() {
    for h in harnesses().await {
        let alice = h.token("alice", &["intake"]).await;
        let dave = h.token("dave", &["intake"]).await;
        let erin = h.token("erin", &["intake", "audit"]).await;
        let first = h
            .post_json("/v1/requests", &alice, &payments_read("DUP-1"))
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let id = first.body["id"].as_str().unwrap();

        let theirs = h
            .post_json("/v1/requests", &dave, &payments_read("DUP-1"))
            .await;
        error(&theirs, StatusCode::CONFLICT, "conflict");
        for secret in [id, "alice", "payments-db", "approval_required"] {
            assert!(
                !theirs.text.contains(secret),
                "{secret} leaked: {}",
                theirs.text
            );
        }
        let again = h
            .post_json("/v1/requests", &alice, &payments_read("DUP-1"))
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body, first.body);
        let auditor = h
            .post_json("/v1/requests", &erin, &payments_read("DUP-1"))
            .await;
        assert_eq!(auditor.status, StatusCode::OK, "{}", auditor.text);
        assert_eq!(auditor.body["id"], first.body["id"]);
    }
}

#[tokio::test]
async fn a_request_is_shown_only_to_those_it_concerns() {
    for h in harnesses().await {
        let alice = h.token("alice", &["intake"]).await;
        let created = h
            .post_json("/v1/requests", &alice, &payments_read("SEE-1"))
            .await;
        let uri = format!("/v1/requests/{}", created.body["id"].as_str().unwrap());
        for (who, scopes, status) in [
            ("alice", &["intake"][..], StatusCode::OK),
            ("bob", &["approve"][..], StatusCode::OK),
            ("carol", &["approve"][..], StatusCode::OK),
            ("erin", &["audit"][..], StatusCode::OK),
            ("dave", &["admin"][..], StatusCode::OK),
            ("dave", &["intake", "approve"][..], StatusCode::NOT_FOUND),
            ("grace", &["approve"][..], StatusCode::NOT_FOUND),
        ] {
            let t = h.token(who, scopes).await;
            let got = h.get(&uri, &t).await;
            assert_eq!(got.status, status, "{who} {scopes:?}: {}", got.text);
        }
    }
}

#[tokio::test]
async fn a_token_of_an_identity_disabled_by_an_activated_bundle_is_refused_at_once() {
    for h in harnesses().await {
        let dave = h.token("dave", &["intake"]).await;
        let before = h.get("/v1/bundle", &dave).await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.text);
        assert_eq!(before.body["hash"], h.engine.bundle().hash());

        let next = warden_policy::testing::with_disabled(&h.engine.bundle(), &["dave"]);
        let hash = next.hash().to_owned();
        h.engine.activate(next, "test").await.unwrap();
        let m = error(
            &h.get("/v1/bundle", &dave).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        assert!(m.contains("`dave` is disabled"), "{m}");
        let alice = h.token("alice", &["intake"]).await;
        let after = h.get("/v1/bundle", &alice).await;
        assert_eq!(after.body["hash"], hash.as_str());
        assert!(after.body["activated_at"].is_string(), "{}", after.text);
    }
}

#[tokio::test]
async fn a_disabled_approver_is_refused_and_approvals_given_before_count_no_more() {
    for h in harnesses().await {
        let alice = h.token("alice", &["intake"]).await;
        let bob = h.token("bob", &["approve"]).await;
        let carol = h.token("carol", &["approve"]).await;
        let created = h
            .post_json("/v1/requests", &alice, &payments_read("OFF-1"))
            .await;
        let id = created.body["id"].as_str().unwrap().to_owned();
        let approve = format!("/v1/requests/{id}/approve");
        let first = h.post(&approve, &bob).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);

        let next = warden_policy::testing::with_disabled(&h.engine.bundle(), &["bob"]);
        h.engine.activate(next, "test").await.unwrap();
        error(
            &h.post(&approve, &bob).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        // Past the token check too: the engine refuses him by the active catalog.
        let other = h
            .post_json("/v1/requests", &alice, &payments_read("OFF-2"))
            .await;
        let refused = h
            .engine
            .answer(
                &"bob".parse().unwrap(),
                other.body["id"].as_str().unwrap(),
                warden_store::ApprovalDecision::Approve,
            )
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("`bob` is disabled"),
            "{refused}"
        );
        // carol's approval alone does not complete two steps: bob's no longer counts.
        let second = h.post(&approve, &carol).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.text);
        assert_eq!(second.body["state"], "approval_required", "{}", second.text);
        assert!(second.body["grant"].is_null());
    }
}

#[tokio::test]
async fn a_source_named_by_an_itsm_adapter_is_reserved_for_it() {
    let mut config: ItsmConfig = toml::from_str(
        r#"
        name = "rt"
        kind = "generic"
        signature = "shared-secret"
        "#,
    )
    .unwrap();
    config.secrets = vec![SecretString::from("a-shared-secret-of-some-length")];
    config.validate().unwrap();
    let mut by_name = HashMap::new();
    by_name.insert(
        "rt".to_owned(),
        ItsmInstance {
            adapter: Arc::from(warden_itsm_adapters::build(&config).unwrap()),
            verifier: Arc::new(Verifier::new(&config).unwrap()),
            config: Arc::new(config),
        },
    );
    let (store, dir) = warden_store::testing::sqlite().await;
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
    let h = Harness::with_engine(engine, clock, Some(dir)).await;
    let grace = h.token("grace", &["intake"]).await;
    let rt_broker = h.broker_token("grace", "rt").await;
    // Filed before the ITSM's own ticket 43 arrives, its approvals would count here.
    let mut body = payments_read("43");
    body["source"] = json!("rt");
    for t in [&grace, &rt_broker] {
        let m = error(
            &h.post_json("/v1/requests", t, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`source`") && m.contains("reserved"), "{m}");
    }
    assert!(!request_count(&h, "rt", "43").await);
}

#[tokio::test]
async fn orphaned_services_and_workloads_are_counted_on_metrics() {
    for h in harnesses().await {
        let gauge = |text: &str| -> i64 {
            text.lines()
                .find(|l| l.starts_with("warden_orphaned_nhis "))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap()
                .parse()
                .unwrap()
        };
        let before = h
            .call(axum::http::Method::GET, "/metrics", None, None)
            .await;
        // The example's svc-legacy-reports is owned by frank, who left.
        assert_eq!(gauge(&before.text), 1, "{}", before.text);
        // alice owns svc-billing: disabling her orphans it.
        let next = warden_policy::testing::with_disabled(&h.engine.bundle(), &["alice"]);
        h.engine.activate(next, "test").await.unwrap();
        let after = h
            .call(axum::http::Method::GET, "/metrics", None, None)
            .await;
        assert_eq!(gauge(&after.text), 2, "{}", after.text);
    }
}
