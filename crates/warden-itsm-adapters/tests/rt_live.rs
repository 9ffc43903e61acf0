//! The RT adapter against a real Request Tracker 5 (`scripts/services.d/rt.sh` starts it and sets
//! `WARDEN_TEST_RT_URL`): a requester opens a ticket through REST2, Warden reads and maps it,
//! comments, writes a field back, an approver approves in RT, Warden reads that approval, the
//! poller finds the ticket, and RT's own scrip delivers a webhook that verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code"
)]

mod support;

use std::time::Duration as StdDuration;

use support::{Route, serve_on};
use warden_itsm::{ApprovalDecision, Headers, Intake, ItsmConfig, Verifier, map};
use warden_itsm_adapters as adapter;
use warden_model::{IdentityId, Timestamp};

/// The RT under test from `WARDEN_TEST_RT_URL`: skipped without it, a failure under `CI=true`.
use warden_model::testing::service_url as target_url;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[expect(
    clippy::disallowed_methods,
    reason = "a live test checks freshness against the real clock"
)]
fn now() -> Timestamp {
    Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}

fn config(url: &str) -> ItsmConfig {
    let user = env("WARDEN_TEST_RT_USER", "warden");
    support::config(&support::rt_table(url, &user), &|k| match k {
        "WARDEN_ITSM_RT_PASSWORD" => std::env::var("WARDEN_TEST_RT_PASSWORD").ok(),
        "WARDEN_ITSM_RT_SECRET" => std::env::var("WARDEN_TEST_RT_WEBHOOK_SECRET").ok(),
        _ => None,
    })
}

/// A REST2 call as one of the test users, failing on a non-2xx status.
async fn rest(
    base: &str,
    user: &str,
    password: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}/REST/2.0{path}"))
        .basic_auth(user, Some(password));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{path}: HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn directory(v: &str) -> Option<IdentityId> {
    match v {
        "alice@example.com" | "alice" => IdentityId::parse("alice").ok(),
        "bob@example.com" | "bob" => IdentityId::parse("bob").ok(),
        _ => None,
    }
}

#[tokio::test]
async fn a_real_rt_ticket_round_trips_through_the_adapter() {
    let Some(url) = target_url("rt") else {
        return;
    };
    let base = url
        .trim_end_matches('/')
        .trim_end_matches("/REST/2.0")
        .to_owned();
    let config = config(&base);
    let rt = adapter::build(&config).unwrap();
    let verifier = Verifier::new(&config).unwrap();

    // RT's scrip posts a signed webhook for changes made by people; listen where it posts.
    let hook_url = env(
        "WARDEN_TEST_RT_WEBHOOK_URL",
        "http://127.0.0.1:18080/v1/itsm/rt",
    );
    let (hook_addr, hook_path) = {
        let rest = hook_url.trim_start_matches("http://");
        let (addr, path) = rest.split_once('/').unwrap();
        (addr.to_owned(), format!("/{path}"))
    };
    let receiver = serve_on(&hook_addr, vec![Route::new("POST", &hook_path, 200, "{}")]).await;
    if receiver.is_none() {
        eprintln!("note: {hook_addr} is taken; the live webhook delivery is not checked this run");
    }

    let requester = env("WARDEN_TEST_RT_REQUESTER", "alice");
    let requester_pw = env(
        "WARDEN_TEST_RT_REQUESTER_PASSWORD",
        "alice-rt-test-password",
    );
    let approver = env("WARDEN_TEST_RT_APPROVER", "bob");
    let approver_pw = env("WARDEN_TEST_RT_APPROVER_PASSWORD", "bob-rt-test-password");
    let started = Timestamp::from_unix_seconds(now().unix_seconds() - 1).unwrap();

    // 1. The requester opens a ticket.
    let created = rest(
        &base,
        &requester,
        &requester_pw,
        reqwest::Method::POST,
        "/ticket",
        Some(serde_json::json!({
            "Queue": "Access Requests",
            "Subject": "read access to payments-db (live adapter test)",
            "Requestor": "alice@example.com",
            "CustomFields": {
                "Requested For": "alice@example.com",
                "Target System": "payments-db",
                "Access Level": "read",
                "Purpose": "investigate INC-42",
                "Access Duration": "PT2H"
            }
        })),
    )
    .await;
    let id = created["id"]
        .as_str()
        .map_or_else(|| created["id"].to_string(), str::to_owned);

    // 2. Warden re-reads and maps it.
    let ticket = rt.read_ticket(&id).await.unwrap();
    assert_eq!(ticket.id, id);
    assert!(!ticket.closed);
    let request = map(
        &ticket,
        rt.name(),
        config.fields.as_ref().unwrap(),
        &directory,
    )
    .unwrap();
    assert_eq!(request.ticket.as_deref(), Some(id.as_str()));
    assert_eq!(request.requester.as_str(), "alice");
    assert_eq!(request.system.as_ref().unwrap().as_str(), "payments-db");
    assert_eq!(request.duration.unwrap().seconds(), 7200);

    // 3. Write-back: a comment and the status and approval fields.
    let note = format!("Warden needs approval before granting this request. (ticket {id})");
    rt.comment(&id, &note).await.unwrap();
    rt.set_status_field(&id, "CF.Warden Status", "pending approval")
        .await
        .unwrap();
    rt.set_status_field(&id, "CF.Approval", "pending")
        .await
        .unwrap();
    let reread = rt.read_ticket(&id).await.unwrap();
    assert_eq!(reread.field("CF.Warden Status"), Some("pending approval"));
    assert_eq!(reread.field("CF.Approval"), Some("pending"));
    let history = rest(
        &base,
        &env("WARDEN_TEST_RT_USER", "warden"),
        &std::env::var("WARDEN_TEST_RT_PASSWORD").unwrap(),
        reqwest::Method::GET,
        &format!("/ticket/{id}/history?fields=Type,Creator&per_page=100"),
        None,
    )
    .await;
    let commented = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["Type"] == "Comment");
    assert!(commented, "no comment in the history: {history}");
    // Warden's own `pending` is not an approval.
    assert!(rt.approvals(&id).await.unwrap().is_empty());

    // 4. The approver approves in RT; Warden reads who did.
    rest(
        &base,
        &approver,
        &approver_pw,
        reqwest::Method::PUT,
        &format!("/ticket/{id}"),
        Some(serde_json::json!({ "CustomFields": { "Approval": "approved" } })),
    )
    .await;
    let approvals = rt.approvals(&id).await.unwrap();
    assert_eq!(approvals.len(), 1, "{approvals:?}");
    assert!(
        approvals[0].approver == "bob@example.com" || approvals[0].approver == approver,
        "{approvals:?}"
    );
    assert_eq!(approvals[0].decision, ApprovalDecision::Approve);

    // 5. The poller finds the ticket from a cursor before it was made, not from one after.
    let refs = rt.updated_since(started).await.unwrap();
    assert!(refs.iter().any(|r| r.id == id), "{id} not in {refs:?}");
    let after = Timestamp::from_unix_seconds(now().unix_seconds() + 3600).unwrap();
    assert!(
        !rt.updated_since(after)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == id)
    );

    // 6. The approver resolves the ticket: it reads as closed.
    rest(
        &base,
        &approver,
        &approver_pw,
        reqwest::Method::PUT,
        &format!("/ticket/{id}"),
        Some(serde_json::json!({ "Status": "resolved" })),
    )
    .await;
    assert!(rt.read_ticket(&id).await.unwrap().closed);

    // 7. RT's own deliveries for this ticket verify and name it.
    if let Some(receiver) = receiver {
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(15);
        let mine = loop {
            let mine: Vec<_> = receiver
                .received()
                .into_iter()
                .filter(|r| {
                    matches!(rt.ticket_from_webhook(r.body.as_bytes()), Ok(Intake::Ticket(t)) if t == id)
                })
                .collect();
            if !mine.is_empty() || tokio::time::Instant::now() > deadline {
                break mine;
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        };
        assert!(!mine.is_empty(), "RT delivered no webhook for ticket {id}");
        for d in mine {
            let mut h = Headers::new();
            for (k, v) in &d.headers {
                h.insert(k, v);
            }
            let delivery = verifier.verify(&h, d.body.as_bytes(), now()).unwrap();
            assert!(delivery.0.starts_with(&format!("rt-{id}-")), "{delivery:?}");
        }
    }
}
