//! The grants page: administrators and auditors list and filter every grant; only
//! administrators revoke, one grant or in bulk after confirming; forms without the
//! session's token change nothing.

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
use warden_model::GrantState;

/// Files a request granted at once on the in-memory target and lets the worker activate
/// it; returns the grant's id.
async fn active_grant(h: &Harness, requester: &str, ticket: &str) -> String {
    let view = h
        .file(serde_json::json!({
            "requester": requester, "role": "session-cache.read",
            "purpose": "debug a cache miss", "source": "api", "ticket": ticket
        }))
        .await;
    let id = view.grant.expect("granted at once").id;
    h.work().await;
    assert_eq!(h.engine.grant(&id).await.unwrap().state, GrantState::Active);
    id
}

async fn state(h: &Harness, id: &str) -> GrantState {
    h.engine.grant(id).await.unwrap().state
}

#[tokio::test]
async fn admins_and_auditors_list_grants_and_only_admins_revoke_one() {
    let h = Harness::with_memory_target().await;
    let grant = active_grant(&h, "alice", "T-1").await;
    let revoke = format!("/ui/grants/{grant}/revoke");

    // Neither admin nor auditor: refused.
    let mut bob = h.sign_in("bob").await;
    let refused = bob.get("/ui/grants").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(!refused.text.contains(&grant));

    // The auditor reads every grant, with its countdown, and sees no revoke form.
    let mut grace = h.sign_in("grace").await;
    let page = grace.get("/ui/grants").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&grant), "{}", page.text);
    assert!(page.text.contains("session-cache.read"), "{}", page.text);
    assert!(page.text.contains(">alice<"), "{}", page.text);
    assert!(
        page.text.contains("data-expires=\"2026-11-29T14:00:00Z\""),
        "{}",
        page.text
    );
    assert!(!page.text.contains(&revoke), "{}", page.text);
    assert!(!page.text.contains("/ui/revocations"), "{}", page.text);
    // Her POST, even with her own form token, is refused.
    let theirs = grace
        .submit("/ui/grants", &revoke, &[("reason", "audit")])
        .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{}", theirs.text);
    assert_eq!(state(&h, &grant).await, GrantState::Active);

    // The administrator sees the form; without the token nothing changes.
    let mut carol = h.sign_in("carol").await;
    let page = carol.get("/ui/grants").await;
    assert!(page.text.contains(&revoke), "{}", page.text);
    assert!(page.text.contains("Revoke in bulk"), "{}", page.text);
    let forged = carol.post_form(&revoke, &[("reason", "x")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = carol
        .post_form(&revoke, &[("reason", "x"), ("csrf", "not-it")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(state(&h, &grant).await, GrantState::Active);

    // Revoked with a reason: back to the list with a notice, audited as carol's.
    let done = carol
        .submit("/ui/grants", &revoke, &[("reason", "INC-7 contained")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location(), "/ui/grants?done=revoked");
    let notice = carol.get(done.location()).await;
    assert!(notice.text.contains("is being revoked"), "{}", notice.text);
    assert_eq!(state(&h, &grant).await, GrantState::Revoking);
    let events = h.engine.audit_page(0, 1_000).await.unwrap();
    let asked = events
        .iter()
        .find(|e| e.action == "grant.revoke_requested")
        .expect("the revocation is audited");
    assert_eq!(asked.actor, "carol");
    assert_eq!(asked.data["reason"], "INC-7 contained");
    h.work().await;
    assert_eq!(state(&h, &grant).await, GrantState::Revoked);
    // A grant no longer live has no revoke button.
    let after = carol.get("/ui/grants").await;
    assert!(!after.text.contains(&revoke), "{}", after.text);

    // An unknown grant is not found.
    let missing = carol
        .submit("/ui/grants", "/ui/grants/not-a-grant/revoke", &[])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_filter_narrows_the_list_and_names_a_bad_field() {
    let h = Harness::with_memory_target().await;
    let alices = active_grant(&h, "alice", "T-1").await;
    let daves = active_grant(&h, "dave", "T-2").await;
    let mut grace = h.sign_in("grace").await;

    let page = grace.get("/ui/grants?subject=dave").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(&daves) && !page.text.contains(&alices));
    let page = grace
        .get("/ui/grants?system=session-cache&state=active")
        .await;
    assert!(page.text.contains(&daves) && page.text.contains(&alices));
    assert!(
        page.text
            .contains("<option value=\"active\" selected>active</option>"),
        "{}",
        page.text
    );
    let page = grace.get("/ui/grants?state=revoked").await;
    assert!(!page.text.contains(&daves) && !page.text.contains(&alices));
    assert!(page.text.contains("No grant matches."), "{}", page.text);
    let page = grace.get("/ui/grants?system=payments-db").await;
    assert!(!page.text.contains(&daves), "{}", page.text);

    for (query, field) in [
        ("subject=Not%20Valid", "`subject`"),
        ("system=%2Fetc", "`system`"),
        ("state=gone", "`state`"),
    ] {
        let bad = grace.get(&format!("/ui/grants?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(bad.text.contains(field), "{query}: {}", bad.text);
        assert!(!bad.text.contains(&alices), "{query}");
    }
}

#[tokio::test]
async fn bulk_revocation_needs_an_admin_a_criterion_and_a_confirmation() {
    let h = Harness::with_memory_target().await;
    let alices = active_grant(&h, "alice", "T-1").await;
    let daves = active_grant(&h, "dave", "T-2").await;
    let henrys = active_grant(&h, "henry", "T-3").await;
    let mut carol = h.sign_in("carol").await;

    // Not confirmed: refused, naming the box; nothing revoked.
    let unconfirmed = carol
        .submit(
            "/ui/grants",
            "/ui/revocations",
            &[("system", "session-cache"), ("reason", "incident")],
        )
        .await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert!(
        unconfirmed.text.contains("`confirm`"),
        "{}",
        unconfirmed.text
    );
    // The form keeps what was typed.
    assert!(
        unconfirmed.text.contains("value=\"session-cache\""),
        "{}",
        unconfirmed.text
    );
    // No criterion, or a bad one: named.
    let none = carol
        .submit("/ui/grants", "/ui/revocations", &[("confirm", "yes")])
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(
        none.text.contains("`identity`, `system` or `ticket`"),
        "{}",
        none.text
    );
    let bad = carol
        .submit(
            "/ui/grants",
            "/ui/revocations",
            &[("identity", "Not Valid"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("`identity`"), "{}", bad.text);
    // Without the form token, or from an auditor: refused.
    let forged = carol
        .post_form(
            "/ui/revocations",
            &[("system", "session-cache"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let mut grace = h.sign_in("grace").await;
    let auditor = grace
        .submit(
            "/ui/grants",
            "/ui/revocations",
            &[("system", "session-cache"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(auditor.status, StatusCode::FORBIDDEN);
    for g in [&alices, &daves, &henrys] {
        assert_eq!(state(&h, g).await, GrantState::Active);
    }

    // By ticket: only what that ticket gave.
    let by_ticket = carol
        .submit(
            "/ui/grants",
            "/ui/revocations",
            &[
                ("ticket", "T-2"),
                ("source", "api"),
                ("reason", "ticket closed"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(
        by_ticket.status,
        StatusCode::SEE_OTHER,
        "{}",
        by_ticket.text
    );
    assert_eq!(
        by_ticket.location(),
        "/ui/grants?done=bulk&count=1&confirmed=0"
    );
    assert_eq!(state(&h, &daves).await, GrantState::Revoking);
    assert_eq!(state(&h, &alices).await, GrantState::Active);

    // By system: every live grant on it (the one already revoking counts again).
    let by_system = carol
        .submit(
            "/ui/grants",
            "/ui/revocations",
            &[
                ("system", "session-cache"),
                ("reason", "incident 12"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(
        by_system.status,
        StatusCode::SEE_OTHER,
        "{}",
        by_system.text
    );
    assert_eq!(
        by_system.location(),
        "/ui/grants?done=bulk&count=3&confirmed=0"
    );
    let shown = carol.get(by_system.location()).await;
    assert!(
        shown
            .text
            .contains("3 grants matched and are being revoked; 0 confirmed removed so far."),
        "{}",
        shown.text
    );
    h.work().await;
    for g in [&alices, &daves, &henrys] {
        assert_eq!(state(&h, g).await, GrantState::Revoked);
    }
    let events = h.engine.audit_page(0, 1_000).await.unwrap();
    let incident: Vec<_> = events
        .iter()
        .filter(|e| e.action == "grant.revoke_requested" && e.data["reason"] == "incident 12")
        .collect();
    assert_eq!(incident.len(), 2, "the third was revoking already");
    assert!(incident.iter().all(|e| e.actor == "carol"));
}
