//! The ITSM flow through the engine, against a Jira Service Management served locally from
//! recorded, real-shaped answers: a signed webhook queues a re-read (a repeat is ignored),
//! the re-read ticket is taken in, the decision is written back as a comment, approvals
//! from the ticket count only through Warden's rules (an unknown approver is answered with
//! a comment), a 429 on write-back is retried without touching the decision, and closing
//! the ticket revokes its grant.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

#[path = "../../warden-itsm-adapters/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use support::{Route, Server, serve};
use warden_engine::itsm::{Delivery, ItsmInstance, Itsms};
use warden_engine::{Engine, EngineConfig, EngineError, ManualClock};
use warden_itsm::{Headers, ItsmConfig, Verifier};
use warden_model::{Duration, GrantState, Request, RequestState, Timestamp};
use warden_policy::Bundle;
use warden_store::testing;

const SECRET: &str = "jira-webhook-secret";

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../warden-itsm-adapters/tests/fixtures/jira")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

/// Jira's webhook for a later event on the same ticket: only its `timestamp` differs, so it
/// is a new delivery rather than a replay of the first.
fn webhook_at(millis: u64) -> String {
    let body = fixture("webhook.json");
    assert!(body.contains("\"timestamp\": 1795946700000"));
    body.replace(
        "\"timestamp\": 1795946700000",
        &format!("\"timestamp\": {millis}"),
    )
}

fn config(url: &str) -> ItsmConfig {
    config_with(url, "revoke_on_close = true")
}

fn config_with(url: &str, extra: &str) -> ItsmConfig {
    let text = format!(
        r#"
name = "jira"
kind = "jira"
url = "{url}"
username = "warden@example.com"
signature = "hmac-sha256"
{extra}
[fields]
requester = "reporter"
subject = "Requested For"
system = "customfield_10050"
needs = "Access Level"
purpose = "Purpose"
duration = "Access Duration"
"#
    );
    let mut c: ItsmConfig = toml::from_str(&text).unwrap();
    c.load_secrets(&|k| match k {
        "WARDEN_ITSM_JIRA_PASSWORD" => Some("jira-api-token".into()),
        "WARDEN_ITSM_JIRA_SECRET" => Some(SECRET.into()),
        _ => None,
    })
    .unwrap();
    c
}

struct Env {
    engine: Engine,
    clock: Arc<ManualClock>,
    jira: Server,
    _dir: tempfile::TempDir,
}

/// The ticket as Jira answers it: `request.json`, with the subject and the access level
/// changed to a request the example bundle grants after one approval.
fn ticket(done: bool) -> String {
    let raw = fixture(if done {
        "request-done.json"
    } else {
        "request.json"
    });
    let mut v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    for f in v["requestFieldValues"].as_array_mut().unwrap() {
        match f["fieldId"].as_str().unwrap() {
            "customfield_10051" => f["value"] = serde_json::json!([{ "value": "read" }]),
            "customfield_10054" => {
                f["value"] = serde_json::json!({ "emailAddress": "alice@example.com" })
            }
            _ => {}
        }
    }
    v.to_string()
}

async fn engine_on(store: warden_store::Store, jira_url: &str, clock: Arc<ManualClock>) -> Engine {
    engine_with(store, config(jira_url), clock).await
}

async fn engine_with(store: warden_store::Store, c: ItsmConfig, clock: Arc<ManualClock>) -> Engine {
    let mut by_name = HashMap::new();
    by_name.insert(
        "jira".to_owned(),
        ItsmInstance {
            adapter: Arc::from(warden_itsm_adapters::build(&c).unwrap()),
            verifier: Arc::new(Verifier::new(&c).unwrap()),
            config: Arc::new(c),
        },
    );
    let bundle = warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    );
    Engine::new(
        store,
        bundle,
        clock,
        EngineConfig {
            itsms: Itsms::new(by_name),
            retry_base: std::time::Duration::from_secs(1),
            retry_max: std::time::Duration::from_secs(2),
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap()
}

async fn env(routes: Vec<Route>) -> Env {
    let jira = serve(routes).await;
    let (store, dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2026-11-29T10:05:00Z").unwrap(),
    ));
    let engine = engine_on(store, &jira.url, clock.clone()).await;
    Env {
        engine,
        clock,
        jira,
        _dir: dir,
    }
}

async fn drain(engine: &Engine) {
    while engine.run_due_jobs("w").await.unwrap() > 0 {}
}

fn comments(server: &Server) -> Vec<String> {
    server
        .received()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/comment"))
        .map(|r| r.body)
        .collect()
}

fn signed(body: &[u8], delivery: &str) -> Headers {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let mut h = Headers::new();
    h.insert(
        "x-hub-signature",
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
    );
    h.insert("x-atlassian-webhook-identifier", delivery);
    h
}

impl Env {
    async fn drain(&self) {
        drain(&self.engine).await;
    }

    fn comments(&self) -> Vec<String> {
        comments(&self.jira)
    }
}

/// `approvals.json` (carol approved, an approver with no email declined, erin pending) with
/// bob's approval added: payments-db is highly sensitive, so two from payments-leads.
fn approvals() -> String {
    let mut v: serde_json::Value = serde_json::from_str(&fixture("approvals.json")).unwrap();
    v["values"][0]["approvers"].as_array_mut().unwrap().push(serde_json::json!({
        "approver": { "accountId": "5b10a2844c20165700ede22h", "emailAddress": "bob@example.com" },
        "approverDecision": "approved"
    }));
    v.to_string()
}

fn routes(approvals: &str, comment_status: u16) -> Vec<Route> {
    routes_after(approvals, comment_status, "1")
}

fn routes_after(approvals: &str, comment_status: u16, retry_after: &str) -> Vec<Route> {
    vec![
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-12",
            200,
            ticket(false),
        ),
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-12/approval",
            200,
            approvals.to_owned(),
        ),
        Route::new(
            "POST",
            "/rest/servicedeskapi/request/ACC-12/comment",
            comment_status,
            fixture("comment-response.json"),
        )
        .header("Retry-After", retry_after),
    ]
}

#[tokio::test]
async fn jira_ticket_is_taken_in_answered_and_written_back() {
    let env = env(routes(&approvals(), 201)).await;
    let body = fixture("webhook.json");

    // A forged delivery is refused and leaves nothing behind.
    let mut forged = signed(body.as_bytes(), "d-0");
    forged.insert("x-hub-signature", "sha256=00");
    let e = env
        .engine
        .itsm_webhook("jira", &forged, body.as_bytes())
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::Unauthorized(_)), "{e:?}");

    let first = env
        .engine
        .itsm_webhook("jira", &signed(body.as_bytes(), "d-1"), body.as_bytes())
        .await
        .unwrap();
    assert!(
        matches!(first, Delivery::Queued { ref ticket } if ticket == "ACC-12"),
        "{first:?}"
    );
    let again = env
        .engine
        .itsm_webhook("jira", &signed(body.as_bytes(), "d-1"), body.as_bytes())
        .await
        .unwrap();
    assert!(matches!(again, Delivery::Duplicate), "{again:?}");
    env.drain().await;

    // Taken in from the re-read ticket (not the payload, which asked for admin).
    let stored = env
        .engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap()
        .unwrap();
    let view = env.engine.request(&stored.id.to_string()).await.unwrap();
    assert_eq!(
        view.decision.role.as_ref().unwrap().as_str(),
        "payments-db.read"
    );
    // carol and bob approved on the ticket and Warden's rules accept them; the request is
    // approved and, with no connector, its grant is active at once.
    assert_eq!(view.state, RequestState::Approved, "{:?}", view.approvals);
    let mut approvers: Vec<&str> = view.approvals.iter().map(|a| a.approver.as_str()).collect();
    approvers.sort_unstable();
    assert_eq!(approvers, ["bob", "carol"]);
    let grant = view.grant.unwrap();
    assert_eq!(
        env.engine.grant(&grant.id).await.unwrap().state,
        GrantState::Active
    );

    let comments = env.comments().join("\n");
    assert!(
        comments.contains("needs approval"),
        "decision written back: {comments}"
    );
    assert!(
        comments.contains("ignored the approval"),
        "an approver Warden does not know is answered: {comments}"
    );
    assert!(
        comments.contains("payments-db.read"),
        "activation written back: {comments}"
    );
    assert!(!comments.contains("jira-api-token") && !comments.contains(SECRET));
}

#[tokio::test]
async fn write_back_429_is_retried_and_never_undoes_the_decision() {
    let no_approvals = r#"{"size":0,"start":0,"limit":50,"isLastPage":true,"values":[]}"#;
    let env = env(routes_after(no_approvals, 429, "30")).await;
    let body = fixture("webhook.json");
    env.engine
        .itsm_webhook("jira", &signed(body.as_bytes(), "d-2"), body.as_bytes())
        .await
        .unwrap();
    env.drain().await;
    let stored = env
        .engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.state,
        RequestState::ApprovalRequired,
        "the decision stands"
    );
    let tried = env.comments().len();
    assert!(tried >= 1);
    let events = env.engine.store().audit_after(0, 1_000).await.unwrap();
    assert!(
        events.iter().any(
            |e| e.action == "target.retry" && e.data["error"].as_str().unwrap().contains("429")
        )
    );
    // Not before Jira's Retry-After (30 s), though the backoff alone would allow 2 s.
    env.clock.advance(Duration::from_seconds(2).unwrap());
    env.drain().await;
    assert_eq!(env.comments().len(), tried, "retried before Retry-After");
    env.clock.advance(Duration::from_seconds(28).unwrap());
    env.drain().await;
    assert!(
        env.comments().len() > tried,
        "the write-back was not retried"
    );
}

#[tokio::test]
async fn closing_the_ticket_revokes_its_grant() {
    let env = env(routes(&approvals(), 201)).await;
    let body = fixture("webhook.json");
    env.engine
        .itsm_webhook("jira", &signed(body.as_bytes(), "d-3"), body.as_bytes())
        .await
        .unwrap();
    env.drain().await;
    let stored = env
        .engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap()
        .unwrap();
    let grant = env
        .engine
        .store()
        .grant_by_request(stored.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.state, GrantState::Active);

    // The ticket is resolved in Jira; the next delivery re-reads it closed. (A second
    // engine on the same database stands for Jira's answer having changed.)
    let closed = serve(vec![
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-12",
            200,
            ticket(true),
        ),
        Route::new(
            "POST",
            "/rest/servicedeskapi/request/ACC-12/comment",
            201,
            fixture("comment-response.json"),
        ),
    ])
    .await;
    let url = format!(
        "sqlite://{}",
        env._dir.path().join(testing::SQLITE_FILE).display()
    );
    let later = engine_on(
        warden_store::Store::connect(&url).await.unwrap(),
        &closed.url,
        env.clock.clone(),
    )
    .await;
    let done = webhook_at(1_795_946_760_000);
    later
        .itsm_webhook("jira", &signed(done.as_bytes(), "d-4"), done.as_bytes())
        .await
        .unwrap();
    drain(&later).await;
    let grant = later.store().grant(grant.id).await.unwrap().unwrap();
    assert_eq!(grant.state, GrantState::Revoked);
    let written = comments(&closed).join("\n");
    assert!(
        written.contains("revoked") && written.contains("(the ticket was closed)"),
        "revocation written back: {written}"
    );
    let events = later.store().audit_after(0, 1_000).await.unwrap();
    let asked = events
        .iter()
        .find(|e| e.action == "grant.revoke_requested")
        .unwrap();
    assert_eq!(asked.actor, "itsm:jira");
}

#[tokio::test]
async fn the_poller_finds_a_ticket_whose_webhook_was_lost_and_never_duplicates_it() {
    let mut r = routes(
        r#"{"size":0,"start":0,"limit":50,"isLastPage":true,"values":[]}"#,
        201,
    );
    r.insert(
        0,
        Route::new(
            "GET",
            "/rest/api/3/search/jql",
            200,
            fixture("search-page2.json"),
        )
        .query("nextPageToken"),
    );
    r.insert(
        1,
        Route::new("GET", "/rest/api/3/search/jql", 200, fixture("search.json")),
    );
    let jira = serve(r).await;
    let (store, _dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2026-11-29T10:05:00Z").unwrap(),
    ));
    let engine = engine_with(
        store,
        config_with(&jira.url, r#"poll_every = "1m""#),
        clock.clone(),
    )
    .await;
    engine.schedule_polling().await.unwrap();
    engine.schedule_polling().await.unwrap();
    drain(&engine).await;
    // No webhook came; the poll found ACC-12 (changed at or after its cursor) and took it in.
    let stored = engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap();
    assert!(stored.is_some(), "the poller missed the ticket");
    assert!(
        engine
            .store()
            .request_by_ticket("jira", "ACC-10")
            .await
            .unwrap()
            .is_none(),
        "a ticket from before the cursor"
    );
    // The cursor is the latest change seen, on both pages (ACC-13 on page two, which Jira
    // then answers 404: the re-read fails for good and says so).
    assert_eq!(
        engine.store().itsm_cursor("jira").await.unwrap(),
        Some(Timestamp::parse("2026-11-29T12:00:00Z").unwrap())
    );
    let events = engine.store().audit_after(0, 1_000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "alert.target_failed" && e.data["kind"] == "itsm_sync")
    );

    // The next poll sees the same ticket again (the cursor is inclusive): still one request.
    clock.advance(Duration::from_seconds(60).unwrap());
    drain(&engine).await;
    let events = engine.store().audit_after(0, 1_000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "request.decided")
            .count(),
        1
    );
    let polls = jira
        .received()
        .iter()
        .filter(|r| r.path == "/rest/api/3/search/jql" && !r.query.contains("nextPageToken"))
        .count();
    assert_eq!(
        polls, 2,
        "one poll per period, however often polling was scheduled"
    );
}

#[tokio::test]
async fn a_ticket_that_does_not_map_is_answered_once_and_grants_nothing() {
    let mut v: serde_json::Value = serde_json::from_str(&ticket(false)).unwrap();
    v["requestFieldValues"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["fieldId"] != "customfield_10052");
    let env = env(vec![
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-12",
            200,
            v.to_string(),
        ),
        Route::new(
            "POST",
            "/rest/servicedeskapi/request/ACC-12/comment",
            201,
            fixture("comment-response.json"),
        ),
    ])
    .await;
    let body = fixture("webhook.json");
    let later = webhook_at(1_795_946_760_000);
    for (delivery, body) in [("m-1", &body), ("m-2", &later)] {
        let d = env
            .engine
            .itsm_webhook("jira", &signed(body.as_bytes(), delivery), body.as_bytes())
            .await
            .unwrap();
        assert!(matches!(d, Delivery::Queued { .. }), "{d:?}");
        env.drain().await;
    }
    assert!(
        env.engine
            .store()
            .request_by_ticket("jira", "ACC-12")
            .await
            .unwrap()
            .is_none()
    );
    let comments = env.comments();
    assert_eq!(comments.len(), 1, "the same complaint twice: {comments:?}");
    assert!(
        comments[0].contains("Purpose") && comments[0].contains("missing"),
        "{}",
        comments[0]
    );
}

#[tokio::test]
async fn closing_revokes_only_the_roles_and_tasks_configured() {
    let jira = serve(routes(&approvals(), 201)).await;
    let (store, dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2026-11-29T10:05:00Z").unwrap(),
    ));
    let only_writes = r#"revoke_on_close = ["payments-db.write", "deploy-hotfix"]"#;
    let engine = engine_with(store, config_with(&jira.url, only_writes), clock.clone()).await;
    let body = fixture("webhook.json");
    engine
        .itsm_webhook("jira", &signed(body.as_bytes(), "o-1"), body.as_bytes())
        .await
        .unwrap();
    drain(&engine).await;
    let stored = engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap()
        .unwrap();
    let grant = engine
        .store()
        .grant_by_request(stored.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grant.state, GrantState::Active);

    let closed = serve(vec![
        Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-12",
            200,
            ticket(true),
        ),
        Route::new(
            "POST",
            "/rest/servicedeskapi/request/ACC-12/comment",
            201,
            fixture("comment-response.json"),
        ),
    ])
    .await;
    let url = format!(
        "sqlite://{}",
        dir.path().join(testing::SQLITE_FILE).display()
    );
    let later = engine_with(
        warden_store::Store::connect(&url).await.unwrap(),
        config_with(&closed.url, only_writes),
        clock,
    )
    .await;
    let closing = webhook_at(1_795_946_760_000);
    later
        .itsm_webhook(
            "jira",
            &signed(closing.as_bytes(), "o-2"),
            closing.as_bytes(),
        )
        .await
        .unwrap();
    drain(&later).await;
    let grant = later.store().grant(grant.id).await.unwrap().unwrap();
    assert_eq!(
        grant.state,
        GrantState::Active,
        "a payments-db.read grant is not revoked on close"
    );
}

#[tokio::test]
async fn approvals_on_a_ticket_count_only_for_the_request_the_adapter_took_in() {
    let env = env(routes(&approvals(), 201)).await;
    // grace's request sits under the ticket's `(source, ticket)` before the ITSM's own
    // intake (filed some other way than through the adapter).
    let planted = r#"{"source":"jira","ticket":"ACC-12","requester":"grace","role":"payments-db.write","purpose":"pre-empt"}"#;
    let taken = env
        .engine
        .intake("grace", Request::from_json(planted.as_bytes()).unwrap())
        .await
        .unwrap();
    assert_eq!(taken.view.state, RequestState::ApprovalRequired);
    let body = fixture("webhook.json");
    env.engine
        .itsm_webhook("jira", &signed(body.as_bytes(), "d-pre"), body.as_bytes())
        .await
        .unwrap();
    env.drain().await;

    // carol's and bob's approvals on ACC-12 are not grace's: nothing was counted, nothing
    // was written on the ticket about grace's request.
    let view = env.engine.request(&taken.view.id).await.unwrap();
    assert_eq!(view.state, RequestState::ApprovalRequired);
    assert!(view.approvals.is_empty(), "{:?}", view.approvals);
    assert!(view.grant.is_none());
    assert!(env.comments().is_empty(), "{:?}", env.comments());
}

/// How many deliveries of `body` to adapter `jira` were not refused.
async fn taken(engine: &Engine, headers: &[Headers], body: &str) -> usize {
    let mut n = 0;
    for h in headers {
        match engine
            .itsm_webhook("jira", h, body.as_bytes())
            .await
            .unwrap()
        {
            Delivery::Duplicate => {}
            other => {
                assert!(matches!(other, Delivery::Queued { .. }), "{other:?}");
                n += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn a_replayed_hmac_body_is_refused_for_a_day_whatever_its_identifier_says() {
    let env = env(routes(&approvals(), 201)).await;
    let body = fixture("webhook.json");
    assert_eq!(
        taken(&env.engine, &[signed(body.as_bytes(), "r-1")], &body).await,
        1
    );
    env.drain().await;
    let events = env
        .engine
        .store()
        .audit_after(0, 10_000)
        .await
        .unwrap()
        .len();

    // The same signed body with a fresh identifier header, or none: nothing is queued.
    let mut bare = signed(body.as_bytes(), "r-2");
    bare.remove("x-atlassian-webhook-identifier");
    let replays = [signed(body.as_bytes(), "r-2"), bare];
    assert_eq!(taken(&env.engine, &replays, &body).await, 0);
    assert!(
        !env.engine
            .store()
            .job_pending(
                warden_engine::job::JobKind::ItsmSync.as_str(),
                "jira:ACC-12"
            )
            .await
            .unwrap(),
        "a replay queues no re-read"
    );
    env.drain().await;
    assert_eq!(
        env.engine
            .store()
            .audit_after(0, 10_000)
            .await
            .unwrap()
            .len(),
        events,
        "a replay stores nothing"
    );

    // Still refused 23 hours on; after a day the first delivery is forgotten (deleted as a
    // new one arrives).
    env.clock
        .advance(Duration::from_seconds(23 * 3_600).unwrap());
    assert_eq!(taken(&env.engine, &replays, &body).await, 0);
    assert_eq!(env.engine.store().delivery_count("jira").await.unwrap(), 1);
    env.clock
        .advance(Duration::from_seconds(2 * 3_600).unwrap());
    let next = webhook_at(1_795_946_760_000);
    assert_eq!(
        taken(&env.engine, &[signed(next.as_bytes(), "r-3")], &next).await,
        1
    );
    assert_eq!(
        env.engine.store().delivery_count("jira").await.unwrap(),
        1,
        "the day-old delivery was deleted"
    );
}

#[tokio::test]
async fn a_replayed_shared_secret_body_is_refused() {
    let jira = serve(routes(&approvals(), 201)).await;
    let (store, _dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2026-11-29T10:05:00Z").unwrap(),
    ));
    let mut c = config(&jira.url);
    c.signature = warden_itsm::SignatureKind::SharedSecret;
    let engine = engine_with(store, c, clock).await;
    let body = fixture("webhook.json");
    let with_secret = |id: &str| {
        let mut h = Headers::new();
        h.insert("x-warden-secret", SECRET);
        h.insert("x-atlassian-webhook-identifier", id);
        h
    };
    assert_eq!(taken(&engine, &[with_secret("s-1")], &body).await, 1);
    assert_eq!(
        taken(&engine, &[with_secret("s-1"), with_secret("s-2")], &body).await,
        0,
        "a repeat and a replay under a new identifier are both refused"
    );
    let next = webhook_at(1_795_946_760_000);
    assert_eq!(taken(&engine, &[with_secret("s-3")], &next).await, 1);
}

/// The ticket and approvals as Jira Data Center answers them, where users also have a
/// `name` (their login): alice asks; carol approves; bob approves under an email no identity
/// has. Matched by login, both approvals count; by email, bob's does not.
fn login_routes() -> Vec<Route> {
    let mut t: serde_json::Value = serde_json::from_str(&ticket(false)).unwrap();
    t["reporter"]["name"] = "alice".into();
    for f in t["requestFieldValues"].as_array_mut().unwrap() {
        if f["fieldId"] == "customfield_10054" {
            f["value"] = serde_json::json!({
                "accountId": "a-alice",
                "name": "alice",
                "emailAddress": "alice@example.com"
            });
        }
    }
    let approvals = serde_json::json!({
        "size": 1, "start": 0, "limit": 50, "isLastPage": true,
        "values": [{
            "id": "7",
            "approvers": [
                { "approver": { "accountId": "a-carol", "name": "carol", "emailAddress": "carol@example.com" }, "approverDecision": "approved" },
                { "approver": { "accountId": "a-bob", "name": "bob", "emailAddress": "robert@elsewhere.example" }, "approverDecision": "approved" }
            ],
            "createdDate": { "iso8601": "2026-11-29T10:05:00+0000" }
        }]
    });
    let mut r = routes(&approvals.to_string(), 201);
    if let Some(first) = r.first_mut() {
        *first = Route::new(
            "GET",
            "/rest/servicedeskapi/request/ACC-12",
            200,
            t.to_string(),
        );
    }
    r
}

async fn login_flow(extra: &str) -> (Env, RequestState, Vec<String>) {
    let jira = serve(login_routes()).await;
    let (store, dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse("2026-11-29T10:05:00Z").unwrap(),
    ));
    let engine = engine_with(
        store,
        config_with(&jira.url, &format!("revoke_on_close = true\n{extra}")),
        clock.clone(),
    )
    .await;
    let env = Env {
        engine,
        clock,
        jira,
        _dir: dir,
    };
    let body = fixture("webhook.json");
    assert_eq!(
        taken(&env.engine, &[signed(body.as_bytes(), "l-1")], &body).await,
        1
    );
    env.drain().await;
    let stored = env
        .engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap()
        .expect("the ticket maps to a request");
    let view = env.engine.request(&stored.id.to_string()).await.unwrap();
    let mut approvers: Vec<String> = view
        .approvals
        .iter()
        .map(|a| a.approver.to_string())
        .collect();
    approvers.sort_unstable();
    (env, view.state, approvers)
}

#[tokio::test]
async fn identities_are_matched_by_login_when_configured() {
    let (_env, state, approvers) = login_flow("[identity]\nmatch = \"login\"").await;
    assert_eq!(approvers, ["bob", "carol"]);
    assert_eq!(state, RequestState::Approved);
}

#[tokio::test]
async fn identities_are_matched_by_email_by_default_with_no_fallback_to_login() {
    let (env, state, approvers) = login_flow("").await;
    assert_eq!(
        approvers,
        ["carol"],
        "bob's login is never tried in place of his email"
    );
    assert_eq!(state, RequestState::ApprovalRequired);
    let comments = env.comments().join("\n");
    assert!(
        comments.contains("robert@elsewhere.example")
            && comments.contains("matches no active identity"),
        "the unmatched approver is answered: {comments}"
    );
}

#[tokio::test]
async fn an_approver_without_the_attribute_counts_for_nothing_and_is_answered() {
    // The stock fixture's Dave has an account id and no email: by email he is nobody, even
    // though his account id could be taken for a login.
    let mut v: serde_json::Value = serde_json::from_str(&approvals()).unwrap();
    v["values"][0]["approvers"][1]["approver"]["accountId"] = "dave".into();
    v["values"][0]["approvers"][1]["approverDecision"] = "approved".into();
    let env = env(routes(&v.to_string(), 201)).await;
    let body = fixture("webhook.json");
    assert_eq!(
        taken(&env.engine, &[signed(body.as_bytes(), "n-1")], &body).await,
        1
    );
    env.drain().await;
    let stored = env
        .engine
        .store()
        .request_by_ticket("jira", "ACC-12")
        .await
        .unwrap()
        .unwrap();
    let view = env.engine.request(&stored.id.to_string()).await.unwrap();
    assert!(
        view.approvals.iter().all(|a| a.approver.as_str() != "dave"),
        "{:?}",
        view.approvals
    );
    let comments = env.comments().join("\n");
    assert!(comments.contains("has no email"), "{comments}");
}
