//! The Request Tracker adapter against answers and webhook deliveries captured from a real RT 5
//! (`scripts/itsm/rt/capture-fixtures.sh`), served locally.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod support;

use support::{Route, directory, fixture, serve};
use warden_itsm::{
    ApprovalDecision, Headers, Intake, ItsmConfig, ItsmError, SignatureError, Verifier, map,
};
use warden_itsm_adapters as adapter;
use warden_model::Timestamp;

/// The test RT's webhook secret (scripts/services.d/rt.sh).
const SECRET: &str = "whsec_d2FyZGVuLXJ0LXdlYmhvb2stdGVzdC1zZWNyZXQtMzI=";

fn config(url: &str) -> ItsmConfig {
    support::config(&support::rt_table(url, "warden"), &|k| match k {
        "WARDEN_ITSM_RT_PASSWORD" => Some("warden-rt-test-password".into()),
        "WARDEN_ITSM_RT_SECRET" => Some(SECRET.into()),
        _ => None,
    })
}

const ALICE: &str =
    r#"{"Name":"alice","EmailAddress":"alice@example.com","RealName":"Alice","Privileged":0}"#;

#[tokio::test]
async fn a_real_ticket_is_read_with_custom_fields_and_mapped() {
    let server = serve(vec![
        Route::new("GET", "/REST/2.0/ticket/1", 200, fixture("rt/ticket.json")),
        Route::new("GET", "/REST/2.0/user/alice", 200, ALICE),
    ])
    .await;
    let config = config(&server.url);
    let rt = adapter::build(&config).unwrap();
    let t = rt.read_ticket("1").await.unwrap();
    assert_eq!(t.id, "1");
    assert_eq!(t.status, "resolved");
    assert!(t.closed);
    assert_eq!(t.requester.as_deref(), Some("alice@example.com"));
    assert_eq!(t.field("CF.Access Duration"), Some("2h"));
    assert_eq!(t.field("CF.Task"), None);
    assert_eq!(t.updated_at.unwrap().to_string(), "2026-11-29T12:58:45Z");
    let r = map(&t, rt.name(), config.fields.as_ref().unwrap(), &directory).unwrap();
    assert_eq!(r.ticket.as_deref(), Some("1"));
    assert_eq!(r.source.as_deref(), Some("rt"));
    assert_eq!(r.requester.as_str(), "alice");
    assert_eq!(r.system.unwrap().as_str(), "payments-db");
    assert_eq!(r.duration.unwrap().seconds(), 7200);
    let auth = server.received()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_eq!(auth, "Basic d2FyZGVuOndhcmRlbi1ydC10ZXN0LXBhc3N3b3Jk");
}

#[tokio::test]
async fn approvals_are_the_approval_field_changes_and_their_authors() {
    let server = serve(vec![
        Route::new("GET", "/REST/2.0/ticket/1", 200, fixture("rt/ticket.json")),
        Route::new(
            "GET",
            "/REST/2.0/ticket/1/history",
            200,
            fixture("rt/history.json"),
        ),
    ])
    .await;
    let rt = adapter::build(&config(&server.url)).unwrap();
    let a = rt.approvals("1").await.unwrap();
    // Warden's own `pending` and the status field's changes are not approvals.
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].approver, "bob@example.com");
    assert_eq!(a[0].decision, ApprovalDecision::Approve);
    assert_eq!(a[0].id, "58");
    assert_eq!(a[0].at.unwrap().to_string(), "2026-11-29T12:58:44Z");
    let history = server
        .received()
        .into_iter()
        .find(|r| r.path.ends_with("/history"))
        .unwrap();
    assert!(
        history.query.contains("fields[Creator]=Name,EmailAddress"),
        "{}",
        history.query
    );
}

#[tokio::test]
async fn comments_are_plain_text_and_custom_fields_are_set_by_name() {
    let server = serve(vec![
        Route::new(
            "POST",
            "/REST/2.0/ticket/1/comment",
            201,
            fixture("rt/comment-response.json"),
        ),
        Route::new(
            "PUT",
            "/REST/2.0/ticket/1",
            200,
            fixture("rt/update-response.json"),
        ),
    ])
    .await;
    let rt = adapter::build(&config(&server.url)).unwrap();
    rt.comment("1", "Warden needs approval before granting this request.\n")
        .await
        .unwrap();
    rt.set_status_field("1", "CF.Warden Status", "pending approval")
        .await
        .unwrap();
    let got = server.received();
    assert!(
        got[0]
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        got[0].body,
        "Warden needs approval before granting this request.\n"
    );
    let put: serde_json::Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(put["CustomFields"]["Warden Status"], "pending approval");
}

#[tokio::test]
async fn a_refused_field_update_is_an_error_not_a_silent_success() {
    let server = serve(vec![Route::new(
        "PUT",
        "/REST/2.0/ticket/1",
        200,
        fixture("rt/update-denied-response.json"),
    )])
    .await;
    let rt = adapter::build(&config(&server.url)).unwrap();
    let e = rt
        .set_status_field("1", "CF.Warden Status", "approved")
        .await
        .unwrap_err();
    assert!(matches!(e, ItsmError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("Permission Denied"), "{e}");
}

#[tokio::test]
async fn polling_uses_ticketsql_and_keeps_changes_from_the_cursor_on() {
    let server = serve(vec![Route::new(
        "GET",
        "/REST/2.0/tickets",
        200,
        fixture("rt/search.json"),
    )])
    .await;
    let rt = adapter::build(&config(&server.url)).unwrap();
    let at = Timestamp::parse("2026-11-29T12:58:45Z").unwrap();
    let refs = rt.updated_since(at).await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].id, "1");
    let later = Timestamp::parse("2026-11-29T12:58:46Z").unwrap();
    assert!(rt.updated_since(later).await.unwrap().is_empty());
    let q = &server.received()[0].query;
    assert!(
        q.contains("query=(Queue = 'Access Requests') AND LastUpdated >= '2026-11-28 22:58:45'"),
        "{q}"
    );
}

#[tokio::test]
async fn http_errors_map_to_their_kinds() {
    let server = serve(vec![
        Route::new(
            "GET",
            "/REST/2.0/ticket/401",
            401,
            r#"{"message":"Unauthorized"}"#,
        ),
        Route::new(
            "GET",
            "/REST/2.0/ticket/404",
            404,
            r#"{"message":"Not Found"}"#,
        ),
        Route::new("GET", "/REST/2.0/ticket/429", 429, "{}").header("Retry-After", "3"),
        Route::new("GET", "/REST/2.0/ticket/502", 502, "bad gateway"),
    ])
    .await;
    let rt = adapter::build(&config(&server.url)).unwrap();
    assert!(matches!(
        rt.read_ticket("401").await,
        Err(ItsmError::Unauthorized { status: 401 })
    ));
    assert!(matches!(
        rt.read_ticket("404").await,
        Err(ItsmError::NotFound { .. })
    ));
    assert!(matches!(
        rt.read_ticket("429").await,
        Err(ItsmError::Transient { retry_after: Some(d), .. }) if d.as_secs() == 3
    ));
    assert!(rt.read_ticket("502").await.unwrap_err().is_transient());
    assert!(matches!(
        rt.read_ticket("../user/root").await,
        Err(ItsmError::Invalid(_))
    ));
}

fn delivery(name: &str) -> (Headers, String, Timestamp) {
    let d: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
    let mut h = Headers::new();
    for (k, v) in d["headers"].as_object().unwrap() {
        h.insert(k, v.as_str().unwrap());
    }
    let ts: i64 = d["headers"]["Webhook-Timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (
        h,
        d["raw_body"].as_str().unwrap().to_owned(),
        Timestamp::from_unix_seconds(ts).unwrap(),
    )
}

#[test]
fn real_rt_deliveries_verify_and_yield_only_the_ticket_id() {
    let config = config("http://127.0.0.1:9");
    let verifier = Verifier::new(&config).unwrap();
    let rt = adapter::build(&config).unwrap();
    for name in [
        "rt/webhook-delivery-create.json",
        "rt/webhook-delivery.json",
        "rt/webhook-delivery-status.json",
    ] {
        let (headers, body, sent_at) = delivery(name);
        let id = verifier.verify(&headers, body.as_bytes(), sent_at).unwrap();
        assert!(id.0.starts_with("rt-1-txn-"), "{id:?}");
        assert_eq!(
            rt.ticket_from_webhook(body.as_bytes()).unwrap(),
            Intake::Ticket("1".into())
        );
        let late = Timestamp::from_unix_seconds(sent_at.unix_seconds() + 301).unwrap();
        assert!(matches!(
            verifier.verify(&headers, body.as_bytes(), late),
            Err(SignatureError::Stale(_))
        ));
        let tampered = body.replace("\"read\"", "\"admin\"");
        assert_eq!(
            verifier.verify(&headers, tampered.as_bytes(), sent_at),
            Err(SignatureError::BadSignature)
        );
    }
}
