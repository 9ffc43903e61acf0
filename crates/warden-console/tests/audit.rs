//! The audit trail, its verification and the evidence report: for administrators and
//! auditors only; paged, filtered, and verified on a page of its own that names a break.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::{StatusCode, header};
use common::Harness;

/// Files a request that waits for approval: its events are `request.decided`, by alice.
async fn some_events(h: &Harness) -> String {
    h.file(serde_json::json!({
        "requester": "alice", "role": "payments-db.admin", "needs": ["read"],
        "purpose": "INC-42", "source": "api", "ticket": "T-1"
    }))
    .await
    .id
}

/// The `href` of the link whose text is `text`, decoded.
fn link(page: &str, text: &str) -> Option<String> {
    let at = page.find(&format!("\">{text}"))?;
    let start = page.get(..at)?.rfind("href=\"")? + 6;
    let rest = page.get(start..)?;
    let href = rest.get(..rest.find('"')?)?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test]
async fn only_admins_and_auditors_read_the_trail_evidence_and_verification() {
    let h = Harness::new().await;
    some_events(&h).await;
    let mut bob = h.sign_in("bob").await;
    for path in [
        "/ui/audit",
        "/ui/audit/verify",
        "/ui/evidence",
        "/ui/evidence/report?format=csv",
    ] {
        let page = bob.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.text.contains("request.decided"), "{path}");
    }
    // Making the report again is a form for readers only, with the session's token.
    let refused = bob
        .submit("/ui/inbox", "/ui/evidence", &[("from", ""), ("to", "")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let mut grace = h.sign_in("grace").await;
    let forged = grace
        .post_form("/ui/evidence", &[("from", ""), ("to", "")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let again = grace
        .submit("/ui/inbox", "/ui/evidence", &[("from", ""), ("to", "")])
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    for who in ["grace", "carol"] {
        let mut b = h.sign_in(who).await;
        for path in ["/ui/audit", "/ui/audit/verify", "/ui/evidence"] {
            assert_eq!(b.get(path).await.status, StatusCode::OK, "{who} {path}");
        }
    }
}

#[tokio::test]
async fn the_trail_pages_newest_first_or_in_chain_order_and_filters() {
    let h = Harness::new().await;
    let request = some_events(&h).await;
    let mut grace = h.sign_in("grace").await;
    let all = h.engine.audit_page(0, 1_000).await.unwrap();
    let head = all.last().unwrap().seq;
    assert!(head >= 5, "{head}");

    let page = grace.get("/ui/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("request.decided"), "{}", page.text);
    assert!(page.text.contains(&request), "{}", page.text);
    assert!(page.text.contains(&format!("{head} events in the chain")));
    // Newest first: the last event comes before the first.
    let newest = page
        .text
        .find(&format!("<th scope=\"row\">{head}</th>"))
        .unwrap();
    let first = page.text.find("<th scope=\"row\">1</th>").unwrap();
    assert!(newest < first);

    // Two at a time, newest first: the older link goes on below them.
    let page = grace.get("/ui/audit?limit=2").await;
    assert!(
        page.text.contains(&format!("Events {}–{head}.", head - 1)),
        "{}",
        page.text
    );
    let older = link(&page.text, "Older events").expect("an older link");
    assert_eq!(
        older,
        format!("/ui/audit?order=newest&limit=2&before={}", head - 1)
    );
    let next = grace.get(&older).await;
    assert!(
        next.text
            .contains(&format!("Events {}–{}.", head - 3, head - 2)),
        "{}",
        next.text
    );
    let newer = link(&next.text, "← Newer events").expect("a newer link");
    let back = grace.get(&newer).await;
    assert!(back.text.contains(&format!("Events {}–{head}.", head - 1)));

    // Chain order from the start.
    let chain = grace.get("/ui/audit?order=chain&limit=1").await;
    assert!(chain.text.contains("Events 1–1."), "{}", chain.text);
    assert!(chain.text.contains(&all[0].action), "{}", chain.text);
    assert_eq!(
        link(&chain.text, "Later events →").as_deref(),
        Some("/ui/audit?order=chain&limit=1&after=1")
    );

    // Filtered by action prefix and by actor: the page says what it searched.
    let sessions = grace.get("/ui/audit?action=session.").await;
    assert!(
        sessions.text.contains("session.started"),
        "{}",
        sessions.text
    );
    assert!(
        !sessions.text.contains("request.decided"),
        "{}",
        sessions.text
    );
    assert!(
        sessions
            .text
            .contains("Filters apply to the events this page read"),
        "{}",
        sessions.text
    );
    let alices = grace.get("/ui/audit?actor=alice").await;
    assert!(alices.text.contains("request.decided"), "{}", alices.text);
    assert!(!alices.text.contains("session.started"), "{}", alices.text);
    let nobody = grace.get("/ui/audit?actor=mallory").await;
    assert!(nobody.text.contains("No event matches in this span."));

    // Bad parameters are named.
    for (query, field) in [
        ("limit=0", "`limit`"),
        ("limit=many", "`limit`"),
        ("before=x", "`before`"),
        ("order=random", "`order`"),
        ("action=%3Cscript%3E", "`action`"),
    ] {
        let bad = grace.get(&format!("/ui/audit?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(bad.text.contains(field), "{query}: {}", bad.text);
        assert!(!bad.text.contains("<script>"), "{query}");
    }
}

#[tokio::test]
async fn verification_says_ok_then_names_the_first_altered_event() {
    let h = Harness::new().await;
    some_events(&h).await;
    let mut grace = h.sign_in("grace").await;
    let (head, hash) = h.engine.audit_head().await.unwrap();
    let page = grace.get("/ui/audit/verify").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text
            .contains("Chain: <span class=\"state state-ok\">ok</span>"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&hash), "{}", page.text);
    assert!(page.text.contains("not checked here"), "{}", page.text);
    // The trail page itself does not walk the chain: it links to this page.
    assert!(
        grace
            .get("/ui/audit")
            .await
            .text
            .contains("/ui/audit/verify")
    );

    warden_store::testing::execute(
        h.engine.store(),
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
    )
    .await;
    let page = grace.get("/ui/audit/verify").await;
    assert!(
        page.text
            .contains("Chain: <span class=\"state state-broken\">broken</span>"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("event 2: hash does not match the event&#39;s contents"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<dd>1</dd>"),
        "one event checked: {}",
        page.text
    );
    assert!(head >= 2);
}

#[tokio::test]
async fn the_evidence_report_shows_its_figures_and_downloads() {
    let h = Harness::new().await;
    some_events(&h).await;
    let mut grace = h.sign_in("grace").await;
    // The first visit starts the report and says so; the page reloads until it is made.
    let first = grace.get("/ui/evidence").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.text.contains("being made"), "{}", first.text);
    assert!(first.text.contains("Look again"), "{}", first.text);
    let page = made(&mut grace, "/ui/evidence").await;
    assert!(page.text.contains("Make it again"), "{}", page.text);
    for shown in [
        "expiry_coverage",
        "audit_integrity",
        "AC-2(2)",
        // The default window: the 30 days up to the harness clock.
        "after 2026-10-30T10:00:00Z up to 2026-11-29T10:00:00Z",
    ] {
        assert!(page.text.contains(shown), "{shown}: {}", page.text);
    }
    assert!(!page.text.contains(" style=\""), "no inline style");
    assert!(!page.text.contains("<style"), "no inline style sheet");

    let window = made(&mut grace, "/ui/evidence?from=2026-11-01&to=2026-11-28").await;
    assert_eq!(window.status, StatusCode::OK);
    assert!(
        window
            .text
            .contains("after 2026-11-01T00:00:00Z up to 2026-11-29T00:00:00Z"),
        "{}",
        window.text
    );
    for (query, field) in [
        ("from=yesterday", "`from`"),
        ("to=2026-13-45", "`to`"),
        ("from=2026-11-20&to=2026-11-10", "`from`"),
    ] {
        let bad = grace.get(&format!("/ui/evidence?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(bad.text.contains(field), "{query}: {}", bad.text);
    }

    let csv = grace.get("/ui/evidence/report?format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        csv.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"warden-evidence-2026-11-29.csv\""
    );
    assert!(csv.text.contains("expiry_coverage"), "{}", csv.text);
    let html = grace.get("/ui/evidence/report?format=html").await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text.contains("Access evidence report"));
    assert!(
        html.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let bad = grace.get("/ui/evidence/report?format=pdf").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("`format`"));
}

/// The evidence page at `path` once its report is made (it is made in the background).
async fn made(b: &mut common::Browser, path: &str) -> common::Page {
    for _ in 0..400 {
        let page = b.get(path).await;
        if !page.text.contains("being made") {
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the report of {path} was not made within 10 s");
}
