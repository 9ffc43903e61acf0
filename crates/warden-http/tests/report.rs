//! `GET /v1/report`: only `audit` and `admin` tokens get the evidence report, in the format
//! asked for; every other caller is refused and bad parameters are named. `/metrics` shows
//! the report's instant figures as `warden_access_*` gauges, equal to the report's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::{Method, StatusCode, header};
use serde_json::json;
use warden_model::Duration;

use common::{error, harnesses};

#[tokio::test]
async fn only_audit_and_admin_tokens_get_the_report() {
    for h in harnesses().await {
        let b = h.backend;
        let audit = h.token("erin", &["audit"]).await;
        let admin = h.token("erin", &["admin"]).await;
        for token in [&audit, &admin] {
            let a = h.get("/v1/report", token).await;
            assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.text);
            assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
            assert_eq!(a.body["metrics"].as_object().unwrap().len(), 16, "{b}");
        }
        for scopes in [&["intake"][..], &["approve"], &["intake", "approve"]] {
            let t = h.token("erin", scopes).await;
            let a = h.get("/v1/report", &t).await;
            error(&a, StatusCode::FORBIDDEN, "forbidden");
            assert!(
                a.text.contains("`audit`") && a.text.contains("`admin`"),
                "{}",
                a.text
            );
        }
        let broker = h.broker_token("erin", "jira").await;
        error(
            &h.get("/v1/report", &broker).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        let none = h.call(Method::GET, "/v1/report", None, None).await;
        error(&none, StatusCode::UNAUTHORIZED, "unauthorized");
        error(
            &h.get("/v1/report", "wdn_not-a-token").await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        // A token whose identity the active catalog disabled is refused, scope or not.
        let frank = h.token("frank", &["audit"]).await;
        error(
            &h.get("/v1/report", &frank).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
}

#[tokio::test]
async fn the_report_comes_in_each_format_over_the_window_asked_for() {
    for h in harnesses().await {
        let b = h.backend;
        let alice = h.token("alice", &["intake"]).await;
        let body = json!({ "role": "session-cache.read", "duration": "1h", "purpose": "debug" });
        let a = h.post_json("/v1/requests", &alice, &body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{b}: {}", a.text);
        while h.engine.run_due_jobs("w").await.unwrap() > 0 {}
        let audit = h.token("erin", &["audit"]).await;

        let a = h
            .get(
                "/v1/report?since=2026-11-29T00:00:00Z&until=2026-11-30T00:00:00Z",
                &audit,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{b}: {}", a.text);
        assert_eq!(a.body["window"]["since"], "2026-11-29T00:00:00Z");
        assert_eq!(a.body["metrics"]["decisions"]["detail"]["total"], 1, "{b}");
        assert_eq!(a.body["metrics"]["expiry_coverage"]["numerator"], 1, "{b}");
        assert_eq!(a.body["metrics"]["traceability"]["value"], 1, "{b}");
        // A window that ends before the request saw none of it.
        let a = h
            .get(
                "/v1/report?since=2026-11-01T00:00:00Z&until=2026-11-29T09:00:00Z",
                &audit,
            )
            .await;
        assert_eq!(a.body["metrics"]["decisions"]["detail"]["total"], 0, "{b}");
        assert_eq!(
            a.body["metrics"]["expiry_coverage"]["denominator"], 0,
            "{b}"
        );

        let a = h.get("/v1/report?format=csv", &audit).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(a.text.lines().count(), 17, "{}", a.text);
        let a = h.get("/v1/report?format=html", &audit).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            a.headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; style-src 'unsafe-inline'"
        );
        assert!(a.text.starts_with("<!DOCTYPE html>"));

        for (query, named) in [
            ("format=pdf", "`format`"),
            ("since=last-week", "`since`"),
            ("until=2026-13-01T00:00:00Z", "`until`"),
            (
                "since=2026-11-30T00:00:00Z&until=2026-11-29T00:00:00Z",
                "`since`",
            ),
            ("window=30d", "`window`"),
            ("format=csv&format=json", "`format`"),
        ] {
            let a = h.get(&format!("/v1/report?{query}"), &audit).await;
            error(&a, StatusCode::BAD_REQUEST, "invalid_query");
            assert!(a.text.contains(named), "{query}: {}", a.text);
        }
    }
}

#[tokio::test]
async fn the_access_gauges_show_the_reports_instant_figures() {
    for h in harnesses().await {
        let b = h.backend;
        let alice = h.token("alice", &["intake"]).await;
        for ticket in ["G-1", "G-2"] {
            let body = json!({ "source": "jira", "ticket": ticket, "role": "session-cache.read", "duration": "1h", "purpose": "debug" });
            assert_eq!(
                h.post_json("/v1/requests", &alice, &body).await.status,
                StatusCode::CREATED
            );
        }
        while h.engine.run_due_jobs("w").await.unwrap() > 0 {}
        // An hour and ten minutes on, with no worker running, both are overdue by 10 min.
        h.clock.advance(Duration::from_seconds(4_200).unwrap());
        let a = h.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(a.status, StatusCode::OK);
        for line in [
            "warden_access_live_grants 2",
            "warden_access_overdue_grants 2",
            "warden_access_overdue_oldest_seconds 600",
            "warden_access_expiry_coverage 1.0",
            "warden_access_standing_privilege 0",
            "warden_access_sod_violations 0",
            "warden_access_orphaned_nhis 1",
        ] {
            assert!(a.text.contains(line), "{b}: `{line}` in {}", a.text);
        }
        let audit = h.token("erin", &["audit"]).await;
        let r = h.get("/v1/report", &audit).await;
        assert_eq!(r.body["metrics"]["overdue_grants"]["value"], 2, "{b}");
        assert_eq!(
            r.body["metrics"]["overdue_grants"]["detail"]["oldest_age_seconds"],
            600
        );
        assert_eq!(r.body["metrics"]["expiry_coverage"]["denominator"], 2);
    }
}

/// The value of gauge `name` in exposition `text`.
fn gauge<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no `{name}` in {text}"))
}

#[tokio::test]
async fn the_access_gauges_are_recomputed_in_the_background_once_old() {
    for h in harnesses().await {
        let b = h.backend;
        let first = h.call(Method::GET, "/metrics", None, None).await.text;
        assert_eq!(gauge(&first, "warden_access_live_grants"), "0", "{b}");
        let computed = gauge(&first, "warden_access_computed_timestamp_seconds").to_owned();

        let alice = h.token("alice", &["intake"]).await;
        let body = json!({ "source": "jira", "ticket": "BG-1", "role": "session-cache.read", "duration": "1h", "purpose": "debug" });
        assert_eq!(
            h.post_json("/v1/requests", &alice, &body).await.status,
            StatusCode::CREATED
        );
        while h.engine.run_due_jobs("w").await.unwrap() > 0 {}

        // Younger than ACCESS_EVERY: the figures kept, and when they were computed.
        let young = h.call(Method::GET, "/metrics", None, None).await.text;
        assert_eq!(gauge(&young, "warden_access_live_grants"), "0", "{b}");
        let at = gauge(&young, "warden_access_computed_timestamp_seconds");
        assert_eq!(at, computed, "{b}");
        // The live grant states are read at every scrape.
        assert!(
            young.contains(r#"warden_grants{state="active"} 1"#),
            "{b}: {young}"
        );

        // Older: a scrape answers with what it has and has them recomputed; a later one
        // shows the new figures.
        h.clock.advance(Duration::from_seconds(16).unwrap());
        let stale = h.call(Method::GET, "/metrics", None, None).await.text;
        assert_eq!(gauge(&stale, "warden_access_live_grants"), "0", "{b}");
        let mut seen = String::new();
        for _ in 0..200 {
            seen = h.call(Method::GET, "/metrics", None, None).await.text;
            if gauge(&seen, "warden_access_live_grants") == "1" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(gauge(&seen, "warden_access_live_grants"), "1", "{b}");
        let at = gauge(&seen, "warden_access_computed_timestamp_seconds");
        assert_ne!(at, computed, "{b}");
    }
}
