//! Asking for access in the console: the decision previewed before anything is filed, the
//! request filed as the signed-in person, a second person approving from the inbox with a
//! comment, and a credential fetched once.

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
use warden_model::IdentityId;

fn id(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

const ASK: &[(&str, &str)] = &[
    ("system", "payments-db"),
    ("role", "payments-db.admin"),
    ("needs", "read"),
    ("duration", "6h"),
    ("purpose", "INC-42 investigation"),
];

#[tokio::test]
async fn a_request_is_previewed_then_filed_then_approved_from_the_inbox() {
    let h = Harness::new().await;
    let mut alice = h.sign_in("alice").await;
    let form = alice.get("/ui/access/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let ticket = form.input("ticket").unwrap();
    let csrf = form.csrf();
    let mut fields = vec![("csrf", csrf.as_str()), ("ticket", ticket.as_str())];
    fields.extend_from_slice(ASK);

    // The preview decides and explains, and stores nothing.
    let preview = alice.post_form("/ui/access/preview", &fields).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert!(
        preview.text.contains("Needs 2 approvals"),
        "{}",
        preview.text
    );
    assert!(
        preview
            .text
            .contains("Asked for payments-db.admin and got payments-db.read"),
        "{}",
        preview.text
    );
    assert!(
        preview.text.contains("Asked for 6h and got 4h"),
        "{}",
        preview.text
    );
    assert!(
        h.engine
            .requests_of(&id("alice"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A bad field is named, and nothing is filed.
    let mut bad = fields.clone();
    bad.retain(|(k, _)| *k != "duration");
    bad.push(("duration", "forever"));
    let refused = alice.post_form("/ui/access/new", &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("`duration`"), "{}", refused.text);
    assert!(
        h.engine
            .requests_of(&id("alice"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Filed: the request page, as the signed-in person, under source `console`.
    let filed = alice.post_form("/ui/access/new", &fields).await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text);
    let path = filed.location().to_owned();
    let rid = path.trim_start_matches("/ui/requests/").to_owned();
    let view = h.engine.request(&rid).await.unwrap();
    assert_eq!(view.request.requester, id("alice"));
    assert_eq!(view.source, "console");
    // Submitting the same form twice files once.
    let again = alice.post_form("/ui/access/new", &fields).await;
    assert_eq!(again.location(), path);
    assert_eq!(
        h.engine.requests_of(&id("alice"), 10).await.unwrap().len(),
        1
    );
    let mine = alice.get("/ui/access").await;
    assert!(mine.text.contains(&rid), "{}", mine.text);

    // Alice may not approve her own request; the page says why.
    let own = alice.get(&path).await;
    assert!(own.text.contains("You may not answer"), "{}", own.text);
    assert!(!alice.get("/ui/inbox").await.text.contains(&rid));
    let self_approve = alice
        .submit(&path, &format!("{path}/answer"), &[("decision", "approve")])
        .await;
    assert_eq!(self_approve.status, StatusCode::FORBIDDEN);

    // Bob sees it in his inbox and approves with a comment; Grace (billing) never sees it.
    let mut bob = h.sign_in("bob").await;
    assert!(bob.get("/ui/inbox").await.text.contains(&rid));
    let mut grace = h.sign_in("grace").await;
    assert!(!grace.get("/ui/inbox").await.text.contains(&rid));
    let page = bob.get(&path).await;
    assert!(
        page.text.contains("Who still may: bob, carol."),
        "{}",
        page.text
    );
    assert!(page.text.contains("You may answer"), "{}", page.text);
    let answered = bob
        .submit(
            &path,
            &format!("{path}/answer"),
            &[
                ("decision", "approve"),
                ("comment", "checked INC-42 <b>ok</b>"),
            ],
        )
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.text);
    let after = bob.get(&path).await;
    // The comment is shown, escaped.
    assert!(
        after
            .text
            .contains("checked INC-42 &#60;b&#62;ok&#60;/b&#62;")
            && !after.text.contains("<b>ok"),
        "{}",
        after.text
    );
    assert!(
        after.text.contains("Who still may: carol."),
        "{}",
        after.text
    );
    let mut carol = h.sign_in("carol").await;
    carol
        .submit(&path, &format!("{path}/answer"), &[("decision", "approve")])
        .await;
    let done = h.engine.request(&rid).await.unwrap();
    assert_eq!(done.state.as_str(), "approved");
    assert_eq!(
        done.approvals.first().and_then(|a| a.comment.as_deref()),
        Some("checked INC-42 <b>ok</b>")
    );
    assert_eq!(h.replay_all().await, 1);
}

#[tokio::test]
async fn a_credential_is_shown_once_to_its_subject_only() {
    let Some(url) = warden_model::testing::service_url("redis") else {
        return;
    };
    let h = Harness::with_redis(&url).await;
    let mut alice = h.sign_in("alice").await;
    let form = alice.get("/ui/access/new").await;
    let ticket = form.input("ticket").unwrap();
    let csrf = form.csrf();
    let filed = alice
        .post_form(
            "/ui/access/new",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("role", "session-cache.read"),
                ("purpose", "debug a cache miss"),
            ],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text);
    h.work().await;
    let rid = filed
        .location()
        .trim_start_matches("/ui/requests/")
        .to_owned();
    let grant = h.engine.request(&rid).await.unwrap().grant.unwrap();
    assert_eq!(grant.state.as_str(), "active");
    let access = alice.get("/ui/access").await;
    assert!(access.text.contains("Fetch credential"), "{}", access.text);
    assert!(access.text.contains("data-expires=\""), "{}", access.text);

    let path = format!("/ui/grants/{}/credential", grant.id);
    let mut bob = h.sign_in("bob").await;
    let refused = bob.submit("/ui/access", &path, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let shown = alice.submit("/ui/access", &path, &[]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert_eq!(shown.headers["cache-control"], "no-store");
    let password = shown
        .text
        .split("id=\"password\" class=\"secret\">")
        .nth(1)
        .unwrap();
    let password = &password[..password.find('<').unwrap()];
    assert_eq!(password.len(), 32, "{password}");
    // The password really works on the target, as the username shown.
    let username = shown.text.split("id=\"username\">").nth(1).unwrap();
    let username = &username[..username.find('<').unwrap()];
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let who: String = redis::cmd("AUTH")
        .arg(username)
        .arg(password)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(who, "OK");

    let twice = alice.submit("/ui/access", &path, &[]).await;
    assert_eq!(twice.status, StatusCode::GONE);
    assert!(!twice.text.contains(password));
    let access = alice.get("/ui/access").await;
    assert!(
        access.text.contains("gone (fetched once)"),
        "{}",
        access.text
    );
    assert!(!access.text.contains(password));
    // The delivery is audited without the secret.
    let events = h.engine.audit_page(0, 1_000).await.unwrap();
    assert!(events.iter().any(|e| e.action == "credential.delivered"));
    let all = serde_json::to_string(&events.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(password));
    h.engine
        .revoke("erin", &grant.id, "test over")
        .await
        .unwrap();
    h.work().await;
    assert_eq!(h.replay_all().await, 1);
}
