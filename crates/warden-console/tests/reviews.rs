//! Reviews in the console: who sees a review and its items, who may close a break-glass
//! review or decide a campaign item, and forms without the session's token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::StatusCode;
use common::Harness;

/// Dave breaks the glass on payments-db: a grant at once, and its review opened.
async fn emergency(h: &Harness) -> String {
    let view = h
        .file(serde_json::json!({
            "requester": "dave", "role": "payments-db.write", "purpose": "INC-9 payments down",
            "emergency": true, "source": "api", "ticket": "E-1"
        }))
        .await;
    assert!(view.grant.is_some(), "{view:?}");
    let all = warden_engine::review::Viewer {
        identity: warden_model::IdentityId::parse("erin").unwrap(),
        reads_all: true,
    };
    let reviews = h.engine.reviews(&all, true, 10).await.unwrap();
    assert_eq!(reviews.len(), 1);
    reviews[0].id.clone()
}

#[tokio::test]
async fn a_break_glass_review_is_seen_and_closed_only_by_whom_it_concerns() {
    let h = Harness::new().await;
    let id = emergency(&h).await;
    let path = format!("/ui/reviews/{id}");
    let close = format!("{path}/close");

    // Bob owns payments-db: he sees it and may close it.
    let mut bob = h.sign_in("bob").await;
    let list = bob.get("/ui/reviews?state=open").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains(&id), "{}", list.text);
    assert!(
        list.text.contains("dave&#39;s emergency grant"),
        "{}",
        list.text
    );
    let page = bob.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains(&format!("action=\"{close}\"")),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("grant.created"),
        "the grant's events: {}",
        page.text
    );

    // Alice reviews nothing here, and dave never reviews his own emergency: to them it
    // does not exist.
    for who in ["alice", "dave"] {
        let mut b = h.sign_in(who).await;
        assert!(!b.get("/ui/reviews").await.text.contains(&id), "{who}");
        assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{who}");
    }
    let mut dave = h.sign_in("dave").await;
    let own = dave
        .submit("/ui/reviews", &close, &[("outcome", "justified")])
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.text);
    assert!(own.text.contains("own access"), "{}", own.text);

    // The auditor reads it, is offered no form, and may not close it.
    let mut grace = h.sign_in("grace").await;
    let seen = grace.get(&path).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        !seen.text.contains(&format!("action=\"{close}\"")),
        "{}",
        seen.text
    );
    assert!(seen.text.contains("not named a reviewer"), "{}", seen.text);
    let refused = grace
        .submit(&path, &close, &[("outcome", "justified")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Without the form token, or with a bad outcome: nothing changes.
    let forged = bob.post_form(&close, &[("outcome", "justified")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let bad = bob.submit(&path, &close, &[("outcome", "fine")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("`outcome`"), "{}", bad.text);
    assert!(grace.get(&path).await.text.contains("state-open"));

    // Bob closes it as justified, with a comment.
    let closed = bob
        .submit(
            &path,
            &close,
            &[("outcome", "justified"), ("comment", "INC-9 was real")],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.text);
    assert_eq!(closed.location(), format!("{path}?done=closed"));
    let after = bob.get(closed.location()).await;
    assert!(
        after.text.contains("The review is closed."),
        "{}",
        after.text
    );
    assert!(after.text.contains("<dd>justified</dd>"), "{}", after.text);
    assert!(
        after
            .text
            .contains("by bob at 2026-11-29 10:00 UTC: “INC-9 was real”"),
        "{}",
        after.text
    );
    assert!(!after.text.contains(&format!("action=\"{close}\"")));
    let again = bob.submit(&path, &close, &[("outcome", "justified")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let events = h.engine.audit_page(0, 1_000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "review.closed" && e.actor == "bob")
    );
}

#[tokio::test]
async fn a_campaign_item_is_decided_by_its_reviewer_only() {
    // The CI workload holds a cache grant its owner (dave) consented to in advance.
    let h = Harness::with_memory_target().await;
    let smoke = warden_model::Request::from_json(
        br#"{"requester":"ci-deploy","role":"session-cache.read","purpose":"smoke test"}"#,
    )
    .unwrap();
    let grant = h
        .engine
        .intake("ci-deploy", smoke)
        .await
        .unwrap()
        .view
        .grant
        .expect("granted at once")
        .id;
    h.work().await;
    let run = h
        .engine
        .start_campaign("nhi-quarterly", "test")
        .await
        .unwrap();
    let path = format!("/ui/reviews/{}", run.id);

    // Dave owns ci-deploy: he sees the run, the grant's item and its form.
    let mut dave = h.sign_in("dave").await;
    let list = dave.get("/ui/reviews").await;
    assert!(list.text.contains(&run.id), "{}", list.text);
    assert!(
        list.text.contains("campaign nhi-quarterly"),
        "{}",
        list.text
    );
    let page = dave.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&grant), "{}", page.text);
    assert!(
        page.text.contains("session-cache.read on session-cache"),
        "{}",
        page.text
    );
    let at = page
        .text
        .find(&format!("grant <code>{grant}</code>"))
        .unwrap();
    let rest = &page.text[at..];
    let rest = &rest[rest.find("/items/").expect("a decide form") + "/items/".len()..];
    let item = rest[..rest.find('/').unwrap()].to_owned();
    let decide = format!("{path}/items/{item}/decide");

    // Bob reviews nothing in it; the auditor reads every item but decides none.
    let mut bob = h.sign_in("bob").await;
    assert!(!bob.get("/ui/reviews").await.text.contains(&run.id));
    assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND);
    let mut grace = h.sign_in("grace").await;
    let all = grace.get(&path).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.text.contains(&grant), "{}", all.text);
    assert!(!all.text.contains("/decide"), "{}", all.text);
    let refused = grace.submit(&path, &decide, &[("decision", "keep")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    // No token, or a bad decision: nothing recorded.
    let forged = dave.post_form(&decide, &[("decision", "revoke")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let bad = dave.submit(&path, &decide, &[("decision", "maybe")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("`decision`"));
    assert_eq!(
        h.engine.grant(&grant).await.unwrap().state,
        warden_model::GrantState::Active
    );

    // Dave revokes it, with a comment: recorded, and the grant's revocation starts.
    let revoked = dave
        .submit(
            &path,
            &decide,
            &[("decision", "revoke"), ("comment", "smoke tests moved")],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text);
    assert_eq!(revoked.location(), format!("{path}?done=decided"));
    let after = dave.get(revoked.location()).await;
    assert!(after.text.contains("Your decision is recorded."));
    assert!(
        after.text.contains("revoke</span> by dave") && after.text.contains("“smoke tests moved”"),
        "{}",
        after.text
    );
    assert!(
        !after.text.contains(&format!("/items/{item}/decide")),
        "decided once: {}",
        after.text
    );
    assert_eq!(
        h.engine.grant(&grant).await.unwrap().state,
        warden_model::GrantState::Revoking
    );
    let twice = dave.submit(&path, &decide, &[("decision", "keep")]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
}
