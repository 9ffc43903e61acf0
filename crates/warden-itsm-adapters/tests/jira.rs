//! The Jira Service Management adapter against recorded, real-shaped answers served locally,
//! including its error answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod support;

use std::time::Duration as StdDuration;

use support::{Route, directory, fixture, serve};
use warden_itsm::{
    ApprovalDecision, Headers, Intake, ItsmConfig, ItsmError, SignatureError, Verifier, map,
};
use warden_itsm_adapters as adapter;
use warden_model::Timestamp;

fn config(url: &str) -> ItsmConfig {
    let table = format!(
        r#"
name = "jira"
kind = "jira"
url = "{url}"
username = "warden@example.com"
signature = "hmac-sha256"
poll_filter = "project = ACC"

[fields]
requester = "reporter"
subject = "Requested For"
system = "customfield_10050"
needs = "Access Level"
purpose = "Purpose"
duration = "Access Duration"
"#
    );
    support::config(&table, &|k| match k {
        "WARDEN_ITSM_JIRA_PASSWORD" => Some("jira-api-token".into()),
        "WARDEN_ITSM_JIRA_SECRET" => Some("It's a Secret to Everybody".into()),
        _ => None,
    })
}

#[tokio::test]
async fn a_request_is_read_by_field_id_or_label_and_mapped() {
    let server = serve(vec![Route::new(
        "GET",
        "/rest/servicedeskapi/request/ACC-12",
        200,
        fixture("jira/request.json"),
    )])
    .await;
    let config = config(&server.url);
    let jira = adapter::build(&config).unwrap();
    let t = jira.read_ticket("ACC-12").await.unwrap();
    assert_eq!(t.id, "ACC-12");
    assert_eq!(t.status, "Waiting for approval");
    assert!(!t.closed);
    assert_eq!(t.field("Access Level"), Some("read, explain"));
    assert_eq!(t.field("customfield_10051"), Some("read, explain"));
    assert_eq!(t.created_at.unwrap().to_string(), "2026-11-29T10:00:00Z");
    let r = map(&t, jira.name(), config.fields.as_ref().unwrap(), &directory).unwrap();
    assert_eq!(r.ticket.as_deref(), Some("ACC-12"));
    assert_eq!(r.requester.as_str(), "alice");
    assert_eq!(r.subject().as_str(), "bob");
    assert_eq!(r.system.unwrap().as_str(), "payments-db");
    let needs: Vec<_> = r.needs.unwrap().iter().map(|p| p.to_string()).collect();
    assert_eq!(needs, ["read", "explain"]);
    assert_eq!(r.duration.unwrap().seconds(), 8 * 3600);
}

#[tokio::test]
async fn a_done_request_is_closed_and_one_without_access_level_is_named() {
    let server = serve(vec![Route::new(
        "GET",
        "/rest/servicedeskapi/request/ACC-13",
        200,
        fixture("jira/request-done.json"),
    )])
    .await;
    let config = config(&server.url);
    let jira = adapter::build(&config).unwrap();
    let t = jira.read_ticket("ACC-13").await.unwrap();
    assert!(t.closed);
    let e = map(&t, jira.name(), config.fields.as_ref().unwrap(), &directory).unwrap_err();
    assert!(
        e.to_string().starts_with("`Access Level` is missing"),
        "{e}"
    );
}

#[tokio::test]
async fn comments_are_internal_and_fields_are_set_through_the_issue() {
    let server = serve(vec![
        Route::new(
            "POST",
            "/rest/servicedeskapi/request/ACC-12/comment",
            201,
            fixture("jira/comment-response.json"),
        ),
        Route::new("PUT", "/rest/api/3/issue/ACC-12", 204, ""),
    ])
    .await;
    let jira = adapter::build(&config(&server.url)).unwrap();
    jira.comment(
        "ACC-12",
        "Warden needs approval before granting this request.",
    )
    .await
    .unwrap();
    jira.set_status_field("ACC-12", "customfield_10060", "pending")
        .await
        .unwrap();
    let got = server.received();
    let c: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(c["public"], false);
    assert_eq!(
        c["body"],
        "Warden needs approval before granting this request."
    );
    let f: serde_json::Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(f["fields"]["customfield_10060"], "pending");
    // Jira Cloud: basic auth of email and API token.
    assert!(
        got[0]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
}

#[tokio::test]
async fn approvals_list_each_approver_who_decided() {
    let server = serve(vec![Route::new(
        "GET",
        "/rest/servicedeskapi/request/ACC-12/approval",
        200,
        fixture("jira/approvals.json"),
    )])
    .await;
    let jira = adapter::build(&config(&server.url)).unwrap();
    let a = jira.approvals("ACC-12").await.unwrap();
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0].approver, "carol@example.com");
    assert_eq!(a[0].decision, ApprovalDecision::Approve);
    assert_eq!(a[0].id, "7:5b10a2844c20165700ede23i");
    // No email visible: the account id stands in.
    assert_eq!(a[1].approver, "5b10a2844c20165700ede24j");
    assert_eq!(a[1].decision, ApprovalDecision::Reject);
}

#[tokio::test]
async fn polling_follows_page_tokens_and_filters_by_cursor() {
    let server = serve(vec![
        Route::new(
            "GET",
            "/rest/api/3/search/jql",
            200,
            fixture("jira/search-page2.json"),
        )
        .query("nextPageToken=CAEaAggD"),
        Route::new(
            "GET",
            "/rest/api/3/search/jql",
            200,
            fixture("jira/search.json"),
        ),
    ])
    .await;
    let jira = adapter::build(&config(&server.url)).unwrap();
    let cursor = Timestamp::parse("2026-11-29T10:00:00Z").unwrap();
    let refs = jira.updated_since(cursor).await.unwrap();
    let ids: Vec<_> = refs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ACC-12", "ACC-13"]);
    let q = &server.received()[0].query;
    assert!(
        q.contains(r#"jql=(project = ACC) AND updated >= "2026/11/28 20:00" ORDER BY updated ASC"#),
        "{q}"
    );
}

#[tokio::test]
async fn http_errors_map_to_their_kinds() {
    let server = serve(vec![
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-401",
            401,
            fixture("jira/error-401.json"),
        ),
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-404",
            404,
            fixture("jira/error-404.json"),
        ),
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-429",
            429,
            r#"{"errorMessages":["Rate limit exceeded."]}"#,
        )
        .header("Retry-After", "30"),
        Route::new("GET", "/rest/servicedeskapi/request/ACC-500", 500, "{}"),
    ])
    .await;
    let jira = adapter::build(&config(&server.url)).unwrap();
    assert!(matches!(
        jira.read_ticket("ACC-401").await,
        Err(ItsmError::Unauthorized { status: 401 })
    ));
    assert!(matches!(
        jira.read_ticket("ACC-404").await,
        Err(ItsmError::NotFound { .. })
    ));
    match jira.read_ticket("ACC-429").await {
        Err(ItsmError::Transient { retry_after, .. }) => {
            assert_eq!(retry_after, Some(StdDuration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    let e = jira.read_ticket("ACC-500").await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("jira-api-token"));
}

#[test]
fn a_signed_jira_webhook_yields_only_the_issue_key() {
    let config = config("http://127.0.0.1:9");
    let verifier = Verifier::new(&config).unwrap();
    let body = fixture("jira/webhook.json");
    let sig = {
        use hmac::{KeyInit, Mac};
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"It's a Secret to Everybody")
                .unwrap();
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let mut h = Headers::new();
    h.insert("X-Hub-Signature", format!("sha256={sig}"));
    h.insert("X-Atlassian-Webhook-Identifier", "1795946700000-10120");
    let now = Timestamp::parse("2026-11-29T10:05:00Z").unwrap();
    let id = verifier.verify(&h, body.as_bytes(), now).unwrap();
    // The delivery is named by its body, not by the unsigned identifier header.
    assert!(id.0.starts_with("sha256:"), "{}", id.0);
    assert_eq!(
        verifier.verify(&h, body.replace("ACC-12", "ACC-99").as_bytes(), now),
        Err(SignatureError::BadSignature)
    );
    let jira = adapter::build(&config).unwrap();
    // The payload says `admin`; only the key is taken, the rest is re-read.
    assert_eq!(
        jira.ticket_from_webhook(body.as_bytes()).unwrap(),
        Intake::Ticket("ACC-12".into())
    );
}
