//! The `/v1` API over a real store: intake and dry runs, bad bodies, auth, approvals,
//! grants, the audit trail, metrics and the OpenAPI description.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::{Method, StatusCode, header};
use common::{Harness, error, harnesses};
use serde_json::{Value, json};

/// A request granted outright (no approvals).
fn cache_read(ticket: &str) -> Value {
    json!({
        "source": "jira",
        "ticket": ticket,
        "requester": "alice",
        "system": "session-cache",
        "needs": ["read"],
        "duration": "3h",
        "purpose": "debug login loop"
    })
}

/// A request that needs approvals from payments leads.
fn payments_read(ticket: &str) -> Value {
    json!({
        "source": "jira",
        "ticket": ticket,
        "requester": "alice",
        "role": "payments-db.read",
        "purpose": "INC-42 query plan"
    })
}

#[tokio::test]
async fn intake_creates_once_and_answers_a_duplicate_with_the_same_request() {
    for h in harnesses().await {
        let t = h.token("alice", &["intake"]).await;
        let first = h.post_json("/v1/requests", &t, &cache_read("OPS-1")).await;
        assert_eq!(
            first.status,
            StatusCode::CREATED,
            "{}: {}",
            h.backend,
            first.text
        );
        let id = first.body["id"].as_str().unwrap().to_owned();
        assert_eq!(first.body["state"], "approved");
        assert_eq!(first.body["decision"]["outcome"], "grant");
        assert_eq!(first.body["grant"]["state"], "provisioning");
        assert_eq!(first.body["grant"]["role"], "session-cache.read");
        let events = h.audit_len().await;

        let again = h.post_json("/v1/requests", &t, &cache_read("OPS-1")).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body, first.body);
        assert_eq!(h.audit_len().await, events, "a duplicate appends nothing");

        let shown = h.get(&format!("/v1/requests/{id}"), &t).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
        assert_eq!(shown.body["id"], id);
        assert_eq!(shown.body["approvals"], json!([]));
        assert_eq!(shown.body["grant"]["id"], first.body["grant"]["id"]);
        assert_eq!(shown.body["ticket"], "OPS-1");
        assert_eq!(shown.body["request"]["purpose"], "debug login loop");
        // Every decision stored above replays byte for byte.
        assert!(h.replays_identically().await >= 1);
    }
}

#[tokio::test]
async fn dry_run_decides_and_stores_nothing() {
    for h in harnesses().await {
        let t = h.token("alice", &["intake"]).await;
        let events = h.audit_len().await;
        let a = h
            .post_json("/v1/decisions", &t, &payments_read("DRY-1"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}: {}", h.backend, a.text);
        assert_eq!(a.body["outcome"], "approval_required");
        assert_eq!(a.body["role"], "payments-db.read");
        assert!(
            a.body["bundle_hash"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        assert_eq!(
            h.audit_len().await,
            events,
            "a dry run appends no audit event"
        );
        assert!(
            h.engine
                .store()
                .request_by_ticket("jira", "DRY-1")
                .await
                .unwrap()
                .is_none(),
            "a dry run stores no request"
        );
        h.replays_identically().await;
    }
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_named_and_nothing_stored() {
    for h in harnesses().await {
        let t = h.token("svc-billing", &["intake"]).await;
        let before = h.audit_len().await;
        for uri in ["/v1/requests", "/v1/decisions"] {
            let json_body = |s: &str| Some(("application/json", s.as_bytes().to_vec()));
            let malformed = h
                .call(Method::POST, uri, Some(&t), json_body("{\"requester\": "))
                .await;
            let m = error(&malformed, StatusCode::BAD_REQUEST, "invalid_request");
            assert!(m.contains("malformed JSON"), "{m}");

            let mut unknown = cache_read("BAD-1");
            unknown["colour"] = json!("blue");
            let m = error(
                &h.post_json(uri, &t, &unknown).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            );
            assert!(m.contains("colour"), "{m}");

            let mut wrong_type = cache_read("BAD-2");
            wrong_type["emergency"] = json!("yes");
            let m = error(
                &h.post_json(uri, &t, &wrong_type).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            );
            assert!(m.contains("`emergency`"), "{m}");

            let mut missing = cache_read("BAD-3");
            missing.as_object_mut().unwrap().remove("purpose");
            let m = error(
                &h.post_json(uri, &t, &missing).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            );
            assert!(m.contains("purpose"), "{m}");

            let mut empty_purpose = cache_read("BAD-4");
            empty_purpose["purpose"] = json!("  ");
            let m = error(
                &h.post_json(uri, &t, &empty_purpose).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            );
            assert!(m.contains("`purpose`"), "{m}");

            let mut huge = cache_read("BAD-5");
            huge["purpose"] = json!("x".repeat(warden_http::DEFAULT_BODY_LIMIT + 1));
            error(
                &h.post_json(uri, &t, &huge).await,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            );

            let as_text = h
                .call(
                    Method::POST,
                    uri,
                    Some(&t),
                    Some((
                        "text/plain",
                        serde_json::to_vec(&cache_read("BAD-6")).unwrap(),
                    )),
                )
                .await;
            error(
                &as_text,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            );
            let no_type = h.call(Method::POST, uri, Some(&t), None).await;
            error(
                &no_type,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            );
        }
        assert_eq!(h.audit_len().await, before, "{}: nothing stored", h.backend);
        for n in 1..=6 {
            assert!(
                h.engine
                    .store()
                    .request_by_ticket("jira", &format!("BAD-{n}"))
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        h.replays_identically().await;
    }
}

#[tokio::test]
async fn missing_unknown_or_revoked_tokens_are_unauthorized_and_wrong_scopes_forbidden() {
    for h in harnesses().await {
        let body = cache_read("AUTH-1");
        let none = h
            .call(
                Method::POST,
                "/v1/requests",
                None,
                Some(("application/json", serde_json::to_vec(&body).unwrap())),
            )
            .await;
        error(&none, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(none.headers[header::WWW_AUTHENTICATE], "Bearer");

        let unknown = h.post_json("/v1/requests", "wt_made_up", &body).await;
        let m = error(&unknown, StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(!m.contains("wt_made_up"), "the token is never echoed: {m}");
        assert_eq!(unknown.headers[header::WWW_AUTHENTICATE], "Bearer");

        let revoked = h
            .token_record("svc-billing", &["intake"], Some(h.engine.now()))
            .await;
        error(
            &h.post_json("/v1/requests", &revoked, &body).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );

        let basic = h.call(Method::GET, "/v1/grants", None, None).await;
        error(&basic, StatusCode::UNAUTHORIZED, "unauthorized");

        let audit_only = h.token("erin", &["audit"]).await;
        let m = error(
            &h.post_json("/v1/requests", &audit_only, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`intake`"), "{m}");
        let m = error(
            &h.post(&format!("/v1/grants/{}/revoke", "x"), &audit_only)
                .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`admin`"), "{m}");
        let intake_only = h.token("svc-billing", &["intake"]).await;
        let m = error(
            &h.get("/v1/audit", &intake_only).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`audit`"), "{m}");
        assert_eq!(
            h.engine
                .store()
                .request_by_ticket("jira", "AUTH-1")
                .await
                .unwrap(),
            None
        );
        h.replays_identically().await;
    }
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    for h in harnesses().await {
        let token = h.token("alice", &["intake"]).await;
        let body = cache_read("EXP-1");
        h.clock
            .advance(warden_model::Duration::parse("2d").unwrap());
        error(
            &h.post_json("/v1/requests", &token, &body).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        h.replays_identically().await;
    }
}

#[tokio::test]
async fn approvals_count_once_per_eligible_approver_and_the_last_one_grants() {
    for h in harnesses().await {
        let intake = h.token("alice", &["intake", "approve"]).await;
        let bob = h.token("bob", &["approve"]).await;
        let carol = h.token("carol", &["approve"]).await;
        let grace = h.token("grace", &["approve"]).await;

        let created = h
            .post_json("/v1/requests", &intake, &payments_read("APR-1"))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert_eq!(created.body["state"], "approval_required");
        let needed: u64 = created.body["decision"]["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].as_u64().unwrap())
            .sum();
        assert_eq!(needed, 2, "{}", created.text);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let approve = format!("/v1/requests/{id}/approve");

        let m = error(
            &h.post(&approve, &intake).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`alice`") && m.contains("cannot approve"), "{m}");
        let m = error(
            &h.post(&approve, &grace).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert!(m.contains("`grace`"), "{m}");

        let first = h.post(&approve, &bob).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        assert_eq!(first.body["state"], "approval_required");
        assert_eq!(first.body["approvals"].as_array().unwrap().len(), 1);
        assert_eq!(first.body["approvals"][0]["approver"], "bob");
        assert_eq!(first.body["approvals"][0]["decision"], "approve");

        let twice = h.post(&approve, &bob).await;
        assert_eq!(twice.status, StatusCode::OK, "{}", twice.text);
        assert_eq!(twice.body["state"], "approval_required");
        assert_eq!(twice.body["approvals"].as_array().unwrap().len(), 1);

        let last = h.post(&approve, &carol).await;
        assert_eq!(last.status, StatusCode::OK, "{}", last.text);
        assert_eq!(last.body["state"], "approved");
        assert_eq!(last.body["approvals"].as_array().unwrap().len(), 2);
        assert_eq!(last.body["grant"]["state"], "provisioning");
        assert_eq!(last.body["grant"]["role"], "payments-db.read");

        let shown = h.get(&format!("/v1/requests/{id}"), &bob).await;
        assert_eq!(shown.body["state"], "approved");
        assert_eq!(shown.body["approvals"][1]["approver"], "carol");

        let other = h
            .post_json("/v1/requests", &intake, &payments_read("APR-2"))
            .await;
        let other_id = other.body["id"].as_str().unwrap();
        let rejected = h
            .post(&format!("/v1/requests/{other_id}/reject"), &bob)
            .await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
        assert_eq!(rejected.body["state"], "denied");
        assert_eq!(rejected.body["grant"], Value::Null);
        let late = h
            .post(&format!("/v1/requests/{other_id}/approve"), &carol)
            .await;
        error(&late, StatusCode::CONFLICT, "conflict");

        error(
            &h.post("/v1/requests/not-an-id/approve", &bob).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        error(
            &h.get("/v1/requests/0190c7a4-0000-7000-8000-000000000000", &bob)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        // Every decision stored above replays byte for byte.
        assert!(h.replays_identically().await >= 1);
    }
}

async fn grant_for(h: &Harness, token: &str, ticket: &str, body: Value) -> String {
    let mut body = body;
    body["ticket"] = json!(ticket);
    let a = h.post_json("/v1/requests", token, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["grant"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn grants_are_listed_with_filters_and_revoked_through_revoking() {
    for h in harnesses().await {
        let intake = h.token("alice", &["intake"]).await;
        let admin = h.token("erin", &["admin"]).await;
        let auditor = h.token("carol", &["audit"]).await;
        let cache = grant_for(&h, &intake, "G-1", cache_read("")).await;
        let events = grant_for(
            &h,
            &intake,
            "G-2",
            json!({
                "requester": "alice",
                "subject": "svc-billing",
                "role": "events-broker.consume",
                "purpose": "invoice events"
            }),
        )
        .await;

        let all = h.get("/v1/grants", &auditor).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text);
        assert_eq!(all.body.as_array().unwrap().len(), 2);

        let by_subject = h.get("/v1/grants?subject=svc-billing", &admin).await;
        let ids: Vec<&str> = by_subject
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [events.as_str()]);
        let by_system = h
            .get("/v1/grants?system=session-cache&state=provisioning", &admin)
            .await;
        assert_eq!(by_system.body.as_array().unwrap().len(), 1);
        assert_eq!(by_system.body[0]["id"], cache);
        let limited = h.get("/v1/grants?limit=1", &admin).await;
        assert_eq!(limited.body.as_array().unwrap().len(), 1);
        let none = h.get("/v1/grants?state=revoked", &admin).await;
        assert_eq!(none.body, json!([]));

        let m = error(
            &h.get("/v1/grants?colour=blue", &admin).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
        assert!(m.contains("`colour`"), "{m}");
        let m = error(
            &h.get("/v1/grants?state=gone", &admin).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
        assert!(m.contains("`state`") && m.contains("`gone`"), "{m}");
        error(
            &h.get("/v1/grants?limit=0", &admin).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );

        // Let the worker activate both grants, then revoke one.
        h.engine.run_due_jobs("w").await.unwrap();
        let active = h.get(&format!("/v1/grants/{cache}"), &admin).await;
        assert_eq!(active.body["state"], "active", "{}", active.text);
        assert!(active.body["expires_at"].is_string());

        let revoking = h
            .post_json(
                &format!("/v1/grants/{cache}/revoke"),
                &admin,
                &json!({ "reason": "incident closed" }),
            )
            .await;
        assert_eq!(revoking.status, StatusCode::OK, "{}", revoking.text);
        assert_eq!(revoking.body["state"], "revoking");
        let again = h.post(&format!("/v1/grants/{cache}/revoke"), &admin).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["state"], "revoking");
        error(
            &h.post_json(
                &format!("/v1/grants/{events}/revoke"),
                &admin,
                &json!({ "why": "x" }),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );

        h.engine.run_due_jobs("w").await.unwrap();
        let revoked = h.get(&format!("/v1/grants/{cache}"), &auditor).await;
        assert_eq!(revoked.body["state"], "revoked", "{}", revoked.text);
        assert!(revoked.body["revoked_at"].is_string());
        let still = h.get(&format!("/v1/grants/{events}"), &auditor).await;
        assert_eq!(still.body["state"], "active");

        error(
            &h.get("/v1/grants/nope", &admin).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let trail = h.engine.store().audit_after(0, 1_000).await.unwrap();
        let revoke = trail
            .iter()
            .find(|e| e.action == "grant.revoke_requested")
            .unwrap();
        assert_eq!(revoke.actor, "erin");
        assert_eq!(revoke.data["reason"], "incident closed");
        // Every decision stored above replays byte for byte.
        assert!(h.replays_identically().await >= 1);
    }
}

#[tokio::test]
async fn audit_is_listed_in_order_and_verifies() {
    for h in harnesses().await {
        let intake = h.token("alice", &["intake"]).await;
        let auditor = h.token("erin", &["audit"]).await;
        h.post_json("/v1/requests", &intake, &cache_read("AUD-1"))
            .await;
        h.post_json("/v1/requests", &intake, &payments_read("AUD-2"))
            .await;

        let all = h.get("/v1/audit", &auditor).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text);
        let events = all.body.as_array().unwrap();
        assert!(events.len() >= 4, "{}", all.text);
        for pair in events.windows(2) {
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
            assert!(pair[1]["seq"].as_u64() > pair[0]["seq"].as_u64());
        }
        let decided = events
            .iter()
            .find(|e| e["action"] == "request.decided")
            .unwrap();
        for key in [
            "seq",
            "at",
            "actor",
            "action",
            "request_id",
            "grant_id",
            "before_state",
            "after_state",
            "bundle_hash",
            "data",
            "prev_hash",
            "hash",
        ] {
            assert!(decided.get(key).is_some(), "missing `{key}`");
        }
        assert_eq!(decided["actor"], "alice");

        let first = events[0]["seq"].as_u64().unwrap();
        let page = h
            .get(&format!("/v1/audit?after={first}&limit=2"), &auditor)
            .await;
        let page = page.body.as_array().unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page[0]["seq"], events[1]["seq"]);

        error(
            &h.get("/v1/audit?after=-1", &auditor).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
        error(
            &h.get("/v1/audit?since=1", &auditor).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );

        let verify = h.get("/v1/audit/verify", &auditor).await;
        assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
        assert_eq!(
            verify.body,
            json!({ "ok": true, "checked": events.len(), "first_broken": null })
        );
        h.replays_identically().await;
    }
}

#[tokio::test]
async fn health_metrics_and_unknown_routes_answer_without_a_token() {
    for h in harnesses().await {
        let health = h.call(Method::GET, "/healthz", None, None).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.body, json!({ "status": "ok" }));

        let intake = h.token("alice", &["intake"]).await;
        h.post_json("/v1/requests", &intake, &cache_read("MET-1"))
            .await;
        h.post_json("/v1/decisions", &intake, &payments_read("MET-2"))
            .await;
        h.call(Method::GET, "/v1/grants", None, None).await;

        let metrics = h.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(metrics.status, StatusCode::OK);
        let text = &metrics.text;
        for name in [
            "warden_decisions_total",
            "warden_decision_seconds",
            "warden_http_requests_total",
            "warden_grants",
            "warden_grants_overdue",
            "warden_expiry_lag_seconds",
            "warden_job_retries_total",
        ] {
            assert!(text.contains(name), "`{name}` missing from:\n{text}");
        }
        assert!(
            text.contains(r#"warden_http_requests_total{route="/v1/requests",status="2xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"warden_http_requests_total{route="/v1/grants",status="4xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"warden_grants{state="provisioning"} 1"#),
            "{text}"
        );
        assert!(text.contains("warden_grants_revoked_total 0"), "{text}");
        assert!(text.contains("warden_grants_overdue 0"), "{text}");
        assert!(
            text.contains(r#"warden_decisions_total{outcome="approval_required"} 1"#),
            "{text}"
        );

        let missing = h.call(Method::GET, "/v2/nothing", None, None).await;
        error(&missing, StatusCode::NOT_FOUND, "not_found");
        let wrong_method = h.call(Method::DELETE, "/v1/requests", None, None).await;
        error(
            &wrong_method,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
        h.replays_identically().await;
    }
}

#[tokio::test]
async fn overdue_grants_are_counted_at_scrape_time() {
    let (store, _dir) = warden_store::testing::sqlite().await;
    let h = Harness::on("sqlite", store, None, None).await;
    let intake = h.token("alice", &["intake"]).await;
    h.post_json("/v1/requests", &intake, &cache_read("OVR-1"))
        .await;
    h.engine.run_due_jobs("w").await.unwrap();
    // Past expiry, but the worker has not run: the grant is overdue.
    h.clock
        .advance(warden_model::Duration::from_seconds(4 * 3_600).unwrap());
    let text = h.call(Method::GET, "/metrics", None, None).await.text;
    assert!(text.contains("warden_grants_overdue 1"), "{text}");
    assert!(
        text.contains(r#"warden_grants{state="active"} 1"#),
        "{text}"
    );
    // Every decision stored above replays byte for byte.
    assert!(h.replays_identically().await >= 1);
}

#[tokio::test]
async fn openapi_is_generated_and_lists_every_path() {
    let (store, _dir) = warden_store::testing::sqlite().await;
    let h = Harness::on("sqlite", store, None, None).await;
    let a = h.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    let paths = a.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/decisions", "post"),
        ("/v1/requests", "post"),
        ("/v1/requests/{id}", "get"),
        ("/v1/requests/{id}/approve", "post"),
        ("/v1/requests/{id}/reject", "post"),
        ("/v1/grants", "get"),
        ("/v1/grants/{id}", "get"),
        ("/v1/grants/{id}/revoke", "post"),
        ("/v1/audit", "get"),
        ("/v1/audit/verify", "get"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "`{method} {path}` missing"
        );
    }
    assert_eq!(
        a.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|p| p.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "operation ids are unique: {ids:?}");
}

/// The keys of `schema`'s properties in the generated description.
fn properties(doc: &Value, schema: &str) -> Vec<String> {
    let mut keys: Vec<String> = doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema `{schema}`"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn described_shapes_match_what_is_served() {
    let (store, _dir) = warden_store::testing::sqlite().await;
    let h = Harness::on("sqlite", store, None, None).await;
    let doc = serde_json::to_value(warden_http::openapi()).unwrap();

    // A request with every field, as the model serialises it.
    let full = json!({
        "source": "jira", "ticket": "DOC-1", "requester": "alice", "subject": "alice",
        "system": "payments-db", "role": "payments-db.read", "needs": ["read"],
        "task": "investigate-payment-incident", "purpose": "p", "duration": "1h",
        "emergency": true, "requested_at": "2026-11-29T09:00:00Z"
    });
    let parsed = warden_model::Request::from_json(&serde_json::to_vec(&full).unwrap()).unwrap();
    assert_eq!(
        properties(&doc, "RequestDoc"),
        keys(&serde_json::to_value(&parsed).unwrap())
    );

    let intake = h.token("alice", &["intake"]).await;
    let decision = h
        .post_json("/v1/decisions", &intake, &payments_read("DOC-2"))
        .await;
    assert_eq!(properties(&doc, "DecisionDoc"), keys(&decision.body));

    let created = h
        .post_json("/v1/requests", &intake, &cache_read("DOC-3"))
        .await;
    assert_eq!(properties(&doc, "RequestSummary"), keys(&created.body));
    assert_eq!(properties(&doc, "Grant"), keys(&created.body["grant"]));
    let id = created.body["id"].as_str().unwrap();
    let shown = h.get(&format!("/v1/requests/{id}"), &intake).await;
    assert_eq!(properties(&doc, "RequestDetail"), keys(&shown.body));

    let states = doc["components"]["schemas"]["GrantStateDoc"]["enum"]
        .as_array()
        .unwrap();
    for s in states {
        warden_model::GrantState::parse(s.as_str().unwrap()).unwrap();
    }
    assert_eq!(states.len(), 5);
    for s in doc["components"]["schemas"]["RequestStateDoc"]["enum"]
        .as_array()
        .unwrap()
    {
        warden_model::RequestState::parse(s.as_str().unwrap()).unwrap();
    }
    h.replays_identically().await;
}
