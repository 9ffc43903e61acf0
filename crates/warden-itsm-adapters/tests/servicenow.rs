//! The ServiceNow adapter against recorded, real-shaped Table API answers served locally,
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
use warden_itsm::{ApprovalDecision, Intake, ItsmConfig, ItsmError, map};
use warden_itsm_adapters as adapter;
use warden_model::Timestamp;

const SYS_ID: &str = "1f4c2e6a1b2d3c4d5e6f708192a3b4c5";
const TABLE: &str = "/api/now/table/sc_req_item";

fn config(url: &str) -> ItsmConfig {
    let table = format!(
        r#"
name = "servicenow"
kind = "servicenow"
url = "{url}"
username = "warden"
signature = "hmac-sha256"
revoke_on_close = true
status_field = "u_warden_state"

[fields]
requester = "opened_by.email"
subject = "requested_for.email"
system = "variables.target_system"
needs = "variables.access_level"
purpose = "variables.purpose"
duration = "variables.access_duration"
"#
    );
    support::config(&table, &|k| match k {
        "WARDEN_ITSM_SERVICENOW_PASSWORD" => Some("sn-api-password".into()),
        "WARDEN_ITSM_SERVICENOW_SECRET" => Some("sn-webhook-secret".into()),
        _ => None,
    })
}

fn ritm_route() -> Route {
    Route::new("GET", TABLE, 200, fixture("servicenow/ritm.json")).query("number=RITM0010001")
}

#[tokio::test]
async fn a_requested_item_is_read_and_mapped() {
    let server = serve(vec![ritm_route()]).await;
    let config = config(&server.url);
    let sn = adapter::build(&config).unwrap();
    let ticket = sn.read_ticket("RITM0010001").await.unwrap();
    assert_eq!(ticket.id, "RITM0010001");
    assert!(!ticket.closed);
    assert_eq!(
        ticket.updated_at.unwrap().to_string(),
        "2026-11-29T10:05:00Z"
    );
    let r = map(
        &ticket,
        sn.name(),
        config.fields.as_ref().unwrap(),
        &directory,
    )
    .unwrap();
    assert_eq!(r.source.as_deref(), Some("servicenow"));
    assert_eq!(r.ticket.as_deref(), Some("RITM0010001"));
    assert_eq!(r.requester.as_str(), "alice");
    assert_eq!(r.subject().as_str(), "bob");
    assert_eq!(r.duration.unwrap().seconds(), 8 * 3600);
    assert_eq!(r.needs.unwrap().len(), 2);

    let sent = &server.received()[0];
    assert!(
        sent.query.contains("sysparm_display_value=false"),
        "{}",
        sent.query
    );
    assert!(
        sent.query.contains("variables.access_duration"),
        "{}",
        sent.query
    );
    // Basic auth of warden:sn-api-password
    assert_eq!(
        sent.header("authorization"),
        Some("Basic d2FyZGVuOnNuLWFwaS1wYXNzd29yZA==")
    );
}

#[tokio::test]
async fn an_invalid_variable_is_named_for_the_ticket_comment() {
    let server = serve(vec![
        Route::new(
            "GET",
            TABLE,
            200,
            fixture("servicenow/ritm-incomplete.json"),
        )
        .query("number=RITM0010002"),
    ])
    .await;
    let config = config(&server.url);
    let sn = adapter::build(&config).unwrap();
    let ticket = sn.read_ticket("RITM0010002").await.unwrap();
    let e = map(
        &ticket,
        sn.name(),
        config.fields.as_ref().unwrap(),
        &directory,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("`variables.access_duration` is invalid: invalid duration `eight hours`"),
        "{e}"
    );
}

#[tokio::test]
async fn write_back_patches_work_notes_and_the_status_field_by_sys_id() {
    let patch_path = format!("{TABLE}/{SYS_ID}");
    let server = serve(vec![
        ritm_route(),
        Route::new(
            "PATCH",
            &patch_path,
            200,
            fixture("servicenow/patch-response.json"),
        ),
    ])
    .await;
    let sn = adapter::build(&config(&server.url)).unwrap();
    sn.comment("RITM0010001", "Warden granted this request.")
        .await
        .unwrap();
    sn.set_status_field("RITM0010001", "u_warden_state", "approved")
        .await
        .unwrap();
    let patches: Vec<_> = server
        .received()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2);
    let note: serde_json::Value = serde_json::from_str(&patches[0].body).unwrap();
    assert_eq!(note["work_notes"], "Warden granted this request.");
    let state: serde_json::Value = serde_json::from_str(&patches[1].body).unwrap();
    assert_eq!(state["u_warden_state"], "approved");
}

#[tokio::test]
async fn approvals_come_from_sysapproval_approver() {
    let server = serve(vec![
        ritm_route(),
        Route::new(
            "GET",
            "/api/now/table/sysapproval_approver",
            200,
            fixture("servicenow/approvals.json"),
        )
        .query(&format!("sysapproval={SYS_ID}")),
    ])
    .await;
    let sn = adapter::build(&config(&server.url)).unwrap();
    let a = sn.approvals("RITM0010001").await.unwrap();
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0].approver, "carol@example.com");
    assert_eq!(a[0].decision, ApprovalDecision::Approve);
    assert_eq!(a[0].id, "a1b2c3d4e5f60718293a4b5c6d7e8f90");
    assert_eq!(a[1].approver, "erin");
    assert_eq!(a[1].decision, ApprovalDecision::Reject);
}

#[tokio::test]
async fn polling_returns_items_changed_at_or_after_the_cursor() {
    let server = serve(vec![
        Route::new("GET", TABLE, 200, fixture("servicenow/search.json")).query("sys_updated_on>="),
    ])
    .await;
    let sn = adapter::build(&config(&server.url)).unwrap();
    let cursor = Timestamp::parse("2026-11-29T10:05:00Z").unwrap();
    let refs = sn.updated_since(cursor).await.unwrap();
    let ids: Vec<_> = refs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["RITM0010001", "RITM0010002"]);
    let q = &server.received()[0].query;
    // The query reaches 14 hours back; results are filtered by their UTC times.
    assert!(q.contains("sys_updated_on>=2026-11-28 20:05:00"), "{q}");
}

#[tokio::test]
async fn http_errors_map_to_their_kinds() {
    let server = serve(vec![
        Route::new("GET", TABLE, 401, fixture("servicenow/error-401.json"))
            .query("number=RITM0000401"),
        Route::new("GET", TABLE, 200, fixture("servicenow/empty.json")).query("number=RITM0000404"),
        Route::new("GET", TABLE, 429, fixture("servicenow/error-429.json"))
            .query("number=RITM0000429")
            .header("Retry-After", "7"),
        Route::new("GET", TABLE, 503, fixture("servicenow/error-500.json"))
            .query("number=RITM0000503"),
        Route::new(
            "GET",
            TABLE,
            400,
            r#"{"error":{"message":"Invalid query"}}"#,
        )
        .query("number=RITM0000400"),
    ])
    .await;
    let sn = adapter::build(&config(&server.url)).unwrap();
    assert!(matches!(
        sn.read_ticket("RITM0000401").await,
        Err(ItsmError::Unauthorized { status: 401 })
    ));
    let e = sn.read_ticket("RITM0000404").await.unwrap_err();
    assert!(matches!(e, ItsmError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("`RITM0000404`"), "{e}");
    match sn.read_ticket("RITM0000429").await {
        Err(ItsmError::Transient { retry_after, .. }) => {
            assert_eq!(retry_after, Some(StdDuration::from_secs(7)));
        }
        other => panic!("{other:?}"),
    }
    let e = sn.read_ticket("RITM0000503").await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let e = sn.read_ticket("RITM0000400").await.unwrap_err();
    assert!(matches!(e, ItsmError::Invalid(_)), "{e:?}");
    // No secret ever appears in an error.
    for e in [e.to_string(), format!("{e:?}")] {
        assert!(!e.contains("sn-api-password"), "{e}");
    }
}

#[tokio::test]
async fn a_closed_server_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let sn = adapter::build(&config(&url)).unwrap();
    let e = sn.read_ticket("RITM0010001").await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}

#[test]
fn only_the_number_is_taken_from_a_webhook() {
    let sn = adapter::build(&config("http://127.0.0.1:9")).unwrap();
    let intake = sn
        .ticket_from_webhook(fixture("servicenow/webhook.json").as_bytes())
        .unwrap();
    assert_eq!(intake, Intake::Ticket("RITM0010001".into()));
    let e = sn
        .ticket_from_webhook(br#"{"number":"RITM1^ORnumberISNOTEMPTY"}"#)
        .unwrap_err();
    assert!(matches!(e, ItsmError::Invalid(_)), "{e:?}");
}
