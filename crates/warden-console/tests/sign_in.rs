//! Signing in with a one-time link, sessions, and what every page and form refuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use axum::http::{Method, StatusCode, header};
use common::Harness;
use warden_model::{Duration, IdentityId};

fn id(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

#[tokio::test]
async fn a_link_signs_in_once_and_pages_carry_the_security_headers() {
    let h = Harness::new().await;
    let link = h
        .engine
        .create_login_link(&id("bob"), Duration::from_seconds(600).unwrap(), "test")
        .await
        .unwrap();
    let mut b = h.anonymous();
    let page = b
        .get(&format!("/ui/login/link?token={}", link.expose()))
        .await;
    // Opening the link spends nothing: a link scanner's GET must not burn it.
    let binding = page.input("binding").unwrap();
    let done = b
        .post_form(
            "/ui/login/link",
            &[("token", link.expose()), ("binding", &binding)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let cookie = done
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.starts_with("warden_session=wds_"), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");

    let inbox = b.get("/ui/inbox").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.text.contains(">bob<"), "{}", inbox.text);
    let csp = inbox.headers.get(header::CONTENT_SECURITY_POLICY).unwrap();
    let csp = csp.to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(inbox.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    assert_eq!(
        inbox.headers.get(header::REFERRER_POLICY).unwrap(),
        "no-referrer"
    );
    assert_eq!(
        inbox.headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    assert!(!inbox.text.contains("<script>"), "no inline script");
    assert!(!inbox.text.contains(" style=\""), "no inline style");

    // The same link a second time, even with a fresh binding, starts nothing.
    let mut other = h.anonymous();
    let page = other
        .get(&format!("/ui/login/link?token={}", link.expose()))
        .await;
    let binding = page.input("binding").unwrap();
    let again = other
        .post_form(
            "/ui/login/link",
            &[("token", link.expose()), ("binding", &binding)],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.text);
    assert!(other.session().is_none());

    let events = h.engine.audit_page(0, 100).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"login_link.created"), "{actions:?}");
    assert!(actions.contains(&"session.started"), "{actions:?}");
    let text = serde_json::to_string(&events.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(
        !text.contains(link.expose()),
        "the link's secret reached the audit trail"
    );
    assert!(
        !text.contains("wds_"),
        "a session secret reached the audit trail"
    );
}

#[tokio::test]
async fn a_sign_in_form_posted_from_elsewhere_is_refused() {
    let h = Harness::new().await;
    let link = h
        .engine
        .create_login_link(&id("bob"), Duration::from_seconds(600).unwrap(), "test")
        .await
        .unwrap();
    // A third-party page posting the link without the binding cookie (login CSRF).
    let mut b = h.anonymous();
    let page = b
        .post_form(
            "/ui/login/link",
            &[("token", link.expose()), ("binding", "forged")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // The link was not spent by the refused attempt.
    let ok = h.sign_in_with(&link).await;
    assert!(ok.session().is_some());
}

#[tokio::test]
async fn links_are_only_for_people_with_standing_and_expire() {
    let h = Harness::new().await;
    let ten_minutes = Duration::from_seconds(600).unwrap();
    for who in ["svc-billing", "ci-deploy", "frank", "nobody"] {
        let refused = h
            .engine
            .create_login_link(&id(who), ten_minutes, "test")
            .await;
        assert!(refused.is_err(), "{who} got a sign-in link");
    }
    let link = h
        .engine
        .create_login_link(&id("bob"), ten_minutes, "test")
        .await
        .unwrap();
    h.clock.advance(ten_minutes);
    let mut b = h.anonymous();
    let binding = b
        .get(&format!("/ui/login/link?token={}", link.expose()))
        .await
        .input("binding")
        .unwrap();
    let late = b
        .post_form(
            "/ui/login/link",
            &[("token", link.expose()), ("binding", &binding)],
        )
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_session_pages_send_to_sign_in_and_forms_are_refused() {
    let h = Harness::new().await;
    let mut b = h.anonymous();
    let page = b.get("/ui/inbox").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/ui/login?next=%2Fui%2Finbox");
    let login = b.get("/ui/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text.contains("warden login-link --identity"));
    let post = b
        .post_form(
            "/ui/requests/x/answer",
            &[("decision", "approve"), ("csrf", "x")],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    b.set_cookie(warden_console::SESSION_COOKIE, "wds_made-up");
    let forged = b.call(Method::GET, "/ui/inbox", None).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_post_needs_the_sessions_form_token() {
    let h = Harness::new().await;
    let request = h
        .file(serde_json::json!({
            "requester": "alice", "role": "payments-db.admin", "needs": ["read"],
            "purpose": "INC-42", "source": "api", "ticket": "T-1"
        }))
        .await;
    let mut bob = h.sign_in("bob").await;
    let path = format!("/ui/requests/{}/answer", request.id);
    let none = bob.post_form(&path, &[("decision", "approve")]).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN, "{}", none.text);
    let wrong = bob
        .post_form(&path, &[("decision", "approve"), ("csrf", "not-the-token")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Another person's token is not this session's.
    let mut carol = h.sign_in("carol").await;
    let carols = carol.get("/ui/inbox").await.csrf();
    let swapped = bob
        .post_form(&path, &[("decision", "approve"), ("csrf", &carols)])
        .await;
    assert_eq!(swapped.status, StatusCode::FORBIDDEN);
    let view = h.engine.request(&request.id).await.unwrap();
    assert!(
        view.approvals.is_empty(),
        "a refused form changed something"
    );
    let out = bob.submit("/ui/inbox", "/ui/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn signing_out_ends_the_session_everywhere_and_a_barred_identity_is_signed_out() {
    let h = Harness::new().await;
    let mut bob = h.sign_in("bob").await;
    let secret = bob.session().unwrap();
    let out = bob.submit("/ui/inbox", "/ui/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The old cookie, replayed, is dead: the session ended in the store, not just in the
    // browser.
    let mut replay = h.anonymous();
    replay.set_cookie(warden_console::SESSION_COOKIE, &secret);
    let page = replay.get("/ui/inbox").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "a signed-out cookie still works"
    );

    // Signing in again in the same browser ends the session it held.
    let mut dave = h.sign_in("dave").await;
    let first = dave.session().unwrap();
    let link = h
        .engine
        .create_login_link(&id("dave"), Duration::from_seconds(600).unwrap(), "test")
        .await
        .unwrap();
    let binding = dave
        .get(&format!("/ui/login/link?token={}", link.expose()))
        .await
        .input("binding")
        .unwrap();
    dave.post_form(
        "/ui/login/link",
        &[("token", link.expose()), ("binding", &binding)],
    )
    .await;
    assert_ne!(dave.session().unwrap(), first);
    let mut stale = h.anonymous();
    stale.set_cookie(warden_console::SESSION_COOKIE, &first);
    assert_eq!(stale.get("/ui/inbox").await.status, StatusCode::SEE_OTHER);

    // Idle for longer than the idle timeout: signed out.
    let mut carol = h.sign_in("carol").await;
    h.clock.advance(Duration::from_seconds(31 * 60).unwrap());
    assert_eq!(carol.get("/ui/inbox").await.status, StatusCode::SEE_OTHER);
}
