//! Outbound alerts end to end: audit events matched by an `[[alert]]` are POSTed to a local
//! receiver that checks every Standard Webhooks signature with Warden's own verifier (not
//! the signer). Through an outage (503s and a 429 with `Retry-After`) and a restart of the
//! engine every event arrives with a 2xx exactly once per `webhook-id`; a delivery that
//! fails for a day ends with `alert.undeliverable`, which is never sent to the alert it is
//! about; and an alert opens a ticket in a real RT. Time is a manual clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use warden_alert::AlertConfig;
use warden_engine::alert::{AlertInstance, Alerts};
use warden_engine::{Clock as _, Engine, EngineConfig, ManualClock};
use warden_itsm::{Headers, SignatureKind, Verifier};
use warden_model::{Duration, Timestamp};
use warden_policy::Bundle;
use warden_store::{AuditEvent, NewAuditEvent, Store};

const SECRET: &str = "whsec_YWxlcnRzLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5";

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Down,
    Up,
}

struct Seen {
    mode: Mode,
    /// Answer the next delivery with 429 and `Retry-After: 120`.
    throttle_once: bool,
    clock: Arc<ManualClock>,
    verifier: Verifier,
    /// Every attempt: its `webhook-id`, when, and the status answered.
    attempts: Vec<(String, Timestamp, u16)>,
    /// 2xx answers per `webhook-id`, and the body of each.
    delivered: HashMap<String, u32>,
    bodies: HashMap<String, serde_json::Value>,
    bad_signatures: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

async fn hook(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = seen.lock().unwrap();
    let mut h = Headers::new();
    for (name, value) in &headers {
        h.append(name.as_str(), value.as_bytes());
    }
    let now = s.clock.now();
    let id = match s.verifier.verify(&h, &body, now) {
        Ok(d) => d.0,
        Err(e) => {
            s.bad_signatures.push(e.to_string());
            return StatusCode::UNAUTHORIZED.into_response();
        }
    };
    if s.throttle_once {
        s.throttle_once = false;
        s.attempts.push((id, now, 429));
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "120")]).into_response();
    }
    if s.mode == Mode::Down {
        s.attempts.push((id, now, 503));
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    s.attempts.push((id.clone(), now, 200));
    *s.delivered.entry(id.clone()).or_default() += 1;
    s.bodies
        .insert(id, serde_json::from_slice(&body).unwrap_or_default());
    StatusCode::OK.into_response()
}

/// A receiver on a free local port; its URL and what it saw.
async fn receiver(clock: Arc<ManualClock>) -> (String, Shared) {
    let verifier = Verifier::from_parts(
        SignatureKind::StandardWebhooks,
        "",
        &[SecretString::from(SECRET)],
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Seen {
        mode: Mode::Down,
        throttle_once: false,
        clock,
        verifier,
        attempts: Vec::new(),
        delivered: HashMap::new(),
        bodies: HashMap::new(),
        bad_signatures: Vec::new(),
    }));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

fn secret_file(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let file = dir.join("alert.secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    file
}

fn alerts(configs: Vec<AlertConfig>) -> Alerts {
    let mut by_name = BTreeMap::new();
    for c in configs {
        let sender = c.sender().unwrap().map(Arc::new);
        by_name.insert(
            c.name.clone(),
            AlertInstance {
                config: Arc::new(c),
                sender,
            },
        );
    }
    Alerts::new(by_name, Duration::parse("24h").unwrap())
}

fn secops(url: &str, secret: &Path) -> AlertConfig {
    toml::from_str(&format!(
        "name = \"secops\"\nurl = \"{url}\"\nsecret_file = \"{}\"\nevents = [\"alert.*\"]\n",
        secret.display()
    ))
    .unwrap()
}

fn bundle() -> Bundle {
    warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    )
}

async fn engine(store: Store, clock: Arc<ManualClock>, config: EngineConfig) -> Engine {
    let e = Engine::new(store, bundle(), clock, config).await.unwrap();
    e.schedule_alert_scans().await.unwrap();
    e
}

/// Appends an audit event as any part of Warden would.
async fn emit(store: &Store, at: Timestamp, action: &str) -> AuditEvent {
    let mut tx = store.begin().await.unwrap();
    let e = tx
        .append_audit(&NewAuditEvent {
            at,
            actor: "worker:test".into(),
            action: action.into(),
            request_id: None,
            grant_id: None,
            before_state: None,
            after_state: None,
            bundle_hash: None,
            data: serde_json::json!({ "connector": "cache-redis", "error": "HTTP 500" }),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e
}

/// `rounds` times: the clock moves on by `step`, then every due job runs.
async fn drive(engine: &Engine, clock: &ManualClock, step: &str, rounds: u32) {
    let step = Duration::parse(step).unwrap();
    for _ in 0..rounds {
        clock.advance(step);
        while engine.run_due_jobs("w1").await.unwrap() > 0 {}
    }
}

fn id_of(e: &AuditEvent) -> String {
    format!("evt_{}", e.hash.trim_start_matches("sha256:"))
}

async fn events(store: &Store, action: &str) -> Vec<AuditEvent> {
    store
        .audit_after(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}

fn start() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::parse("2026-03-02T09:00:00Z").unwrap(),
    ))
}

#[tokio::test]
async fn every_event_arrives_once_through_an_outage_and_a_429() {
    for (backend, store, _dir) in common::stores().await {
        let clock = start();
        let dir = tempfile::tempdir().unwrap();
        let (url, seen) = receiver(Arc::clone(&clock)).await;
        let config = EngineConfig {
            alerts: alerts(vec![secops(&url, &secret_file(dir.path()))]),
            ..EngineConfig::default()
        };
        let engine = engine(store.clone(), Arc::clone(&clock), config).await;
        let now = clock.now();
        let wanted = [
            emit(&store, now, "alert.target_failed").await,
            emit(&store, now, "alert.break_glass").await,
            emit(&store, now, "alert.owner_missing").await,
        ];
        let unwanted = emit(&store, now, "grant.activated").await;
        seen.lock().unwrap().throttle_once = true;

        drive(&engine, &clock, "30s", 20).await;
        {
            let s = seen.lock().unwrap();
            assert!(s.delivered.is_empty(), "{backend}");
            assert!(s.attempts.len() > wanted.len(), "{backend}: retried");
            // The 429 asked for two minutes: its delivery waited at least that long.
            let (id, at, _) = s.attempts.iter().find(|a| a.2 == 429).unwrap().clone();
            let next = s.attempts.iter().find(|a| a.0 == id && a.1 > at).unwrap();
            assert!(at.seconds_until(next.1) >= 120, "{backend}: Retry-After");
        }
        seen.lock().unwrap().mode = Mode::Up;
        drive(&engine, &clock, "30s", 30).await;
        // Neither the retries nor the deliveries wrote audit events of their own.
        assert!(events(&store, "target.retry").await.is_empty(), "{backend}");
        assert!(
            events(&store, "alert.undeliverable").await.is_empty(),
            "{backend}"
        );

        let s = seen.lock().unwrap();
        assert!(
            s.bad_signatures.is_empty(),
            "{backend}: {:?}",
            s.bad_signatures
        );
        let want: HashMap<String, u32> = wanted.iter().map(|e| (id_of(e), 1)).collect();
        assert_eq!(s.delivered, want, "{backend}: each event once, none lost");
        assert!(
            !s.attempts.iter().any(|a| a.0 == id_of(&unwanted)),
            "{backend}"
        );
        let body = &s.bodies[&id_of(&wanted[1])];
        assert_eq!(body["type"], "alert.break_glass");
        assert_eq!(body["timestamp"], "2026-03-02T09:00:00Z");
        assert_eq!(body["data"]["seq"], wanted[1].seq);
        assert_eq!(body["data"]["hash"], wanted[1].hash.as_str());
        assert_eq!(body["data"]["data"]["connector"], "cache-redis");
    }
}

#[tokio::test]
async fn deliveries_survive_a_restart_and_history_is_not_replayed() {
    for (backend, store, _dir) in common::stores().await {
        let clock = start();
        let dir = tempfile::tempdir().unwrap();
        let (url, seen) = receiver(Arc::clone(&clock)).await;
        // History from before the alert existed stays where it is.
        let old = emit(&store, clock.now(), "alert.target_failed").await;
        let config = || EngineConfig {
            alerts: alerts(vec![secops(&url, &secret_file(dir.path()))]),
            ..EngineConfig::default()
        };
        let first = engine(store.clone(), Arc::clone(&clock), config()).await;
        let a = emit(&store, clock.now(), "alert.break_glass").await;
        let b = emit(&store, clock.now(), "alert.owner_missing").await;
        drive(&first, &clock, "20s", 6).await;
        assert!(seen.lock().unwrap().delivered.is_empty(), "{backend}");
        drop(first);

        let second = engine(store.clone(), Arc::clone(&clock), config()).await;
        let c = emit(&store, clock.now(), "alert.target_failed").await;
        seen.lock().unwrap().mode = Mode::Up;
        drive(&second, &clock, "30s", 30).await;

        let s = seen.lock().unwrap();
        assert!(s.bad_signatures.is_empty(), "{backend}");
        let want: HashMap<String, u32> = [&a, &b, &c].iter().map(|e| (id_of(e), 1)).collect();
        assert_eq!(s.delivered, want, "{backend}");
        assert!(!s.attempts.iter().any(|x| x.0 == id_of(&old)), "{backend}");
    }
}

#[tokio::test]
async fn a_delivery_failing_for_a_day_ends_undeliverable_and_is_not_sent_back() {
    for (backend, store, _dir) in common::stores().await {
        let clock = start();
        let dir = tempfile::tempdir().unwrap();
        let (url, seen) = receiver(Arc::clone(&clock)).await;
        let mut alert = secops(&url, &secret_file(dir.path()));
        // Subscribed to everything, its own undeliverable event included.
        alert.events = vec![warden_alert::EventPattern::All];
        let config = EngineConfig {
            alerts: alerts(vec![alert]),
            ..EngineConfig::default()
        };
        let engine = engine(store.clone(), Arc::clone(&clock), config).await;
        let lost = emit(&store, clock.now(), "alert.break_glass").await;

        drive(&engine, &clock, "5m", 23 * 12).await;
        assert!(
            events(&store, "alert.undeliverable").await.is_empty(),
            "{backend}: still retrying within the day"
        );
        drive(&engine, &clock, "5m", 2 * 12).await;
        let given_up = events(&store, "alert.undeliverable").await;
        assert_eq!(given_up.len(), 1, "{backend}");
        let d = &given_up[0].data;
        assert_eq!(d["alert"], "secops");
        assert_eq!(d["seq"], lost.seq);
        assert_eq!(d["action"], "alert.break_glass");
        assert_eq!(d["via"], "webhook");
        assert!(d["attempts"].as_u64().unwrap() > 10, "{d}");
        assert_eq!(
            d["last_error"],
            "alert delivery failed: the receiver answered HTTP 503"
        );
        assert!(
            !store
                .job_pending("alert_deliver", &format!("secops:{}", lost.seq))
                .await
                .unwrap()
        );

        // The receiver comes back: the dead delivery stays dead, and the event saying so is
        // not sent to the alert it is about.
        let before = seen.lock().unwrap().attempts.len();
        seen.lock().unwrap().mode = Mode::Up;
        drive(&engine, &clock, "30s", 20).await;
        let s = seen.lock().unwrap();
        assert_eq!(s.attempts.len(), before, "{backend}: nothing more was sent");
        assert!(s.delivered.is_empty(), "{backend}");
        assert!(!s.attempts.iter().any(|a| a.0 == id_of(&given_up[0])));
    }
}

#[tokio::test]
async fn an_alert_opens_a_ticket_in_a_real_rt() {
    let Some(url) = warden_model::testing::service_url("rt") else {
        return;
    };
    let base = url.trim_end_matches('/').trim_end_matches("/REST/2.0");
    let user = std::env::var("WARDEN_TEST_RT_USER").unwrap_or_else(|_| "warden".into());
    let password = std::env::var("WARDEN_TEST_RT_PASSWORD").unwrap();
    let mut rt: warden_itsm::ItsmConfig = toml::from_str(&format!(
        r#"
name = "rt"
kind = "rt"
url = "{base}"
username = "{user}"
signature = "standard-webhooks"
queue = "Access Requests"
[fields]
requester = "Requestor"
needs = "CF.Access Level"
purpose = "CF.Purpose"
"#
    ))
    .unwrap();
    rt.load_secrets(&|k| match k {
        "WARDEN_ITSM_RT_PASSWORD" => Some(password.clone()),
        "WARDEN_ITSM_RT_SECRET" => Some(SECRET.into()),
        _ => None,
    })
    .unwrap();
    let mut itsms = HashMap::new();
    itsms.insert(
        "rt".to_owned(),
        warden_engine::itsm::ItsmInstance {
            adapter: Arc::from(warden_itsm_adapters::build(&rt).unwrap()),
            verifier: Arc::new(Verifier::new(&rt).unwrap()),
            config: Arc::new(rt),
        },
    );
    let alert: AlertConfig =
        toml::from_str("name = \"sec-rt\"\nitsm = \"rt\"\nevents = [\"alert.*\"]\n").unwrap();
    let (store, _dir) = warden_store::testing::sqlite().await;
    let clock = start();
    let engine = engine(
        store.clone(),
        Arc::clone(&clock),
        EngineConfig {
            itsms: warden_engine::itsm::Itsms::new(itsms),
            alerts: alerts(vec![alert]),
            ..EngineConfig::default()
        },
    )
    .await;
    // An action no earlier run used, so the ticket found below is this run's.
    let marker = format!("alert.rt_test_{}", uuid::Uuid::new_v4().simple());
    let event = emit(&store, clock.now(), &marker).await;
    drive(&engine, &clock, "2s", 3).await;

    let subject = format!("Warden alert: {marker}");
    let found: serde_json::Value = reqwest_json(
        base,
        &user,
        &password,
        &format!("/tickets?query=Subject='{subject}'&fields=Subject,Queue"),
    )
    .await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let attachments = reqwest_json(
        base,
        &user,
        &password,
        &format!("/ticket/{id}/attachments?fields=Content"),
    )
    .await;
    use base64::Engine as _;
    let text: String = attachments["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["Content"].as_str())
        // RT sends text attachments as they are, and binary ones in base64.
        .map(
            |c| match base64::engine::general_purpose::STANDARD.decode(c) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => c.to_owned(),
            },
        )
        .collect();
    assert!(
        text.contains(&event.hash),
        "the ticket names the event: {text}"
    );
    assert!(text.contains("cache-redis"), "and its data: {text}");
    assert!(events(&store, "alert.undeliverable").await.is_empty());
}

/// A REST2 GET as the API account.
async fn reqwest_json(base: &str, user: &str, password: &str, path: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .get(format!("{base}/REST/2.0{path}"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{path}: HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The break-glass loop end to end: the emergency's alert and its review's opening reach
/// a receiver that verifies their signatures; a second emergency is denied while the
/// review is open; an owner closes it; the next emergency is granted, and alerted too.
#[tokio::test]
async fn a_break_glass_is_alerted_signed_and_its_review_gates_the_next_one() {
    for (backend, store, _dir) in common::stores().await {
        let clock = start();
        let dir = tempfile::tempdir().unwrap();
        let (url, seen) = receiver(Arc::clone(&clock)).await;
        seen.lock().unwrap().mode = Mode::Up;
        let config: AlertConfig = toml::from_str(&format!(
            "name = \"secops\"\nurl = \"{url}\"\nsecret_file = \"{}\"\n\
             events = [\"alert.break_glass\", \"review.*\"]\n",
            secret_file(dir.path()).display()
        ))
        .unwrap();
        let engine = engine(
            store,
            Arc::clone(&clock),
            EngineConfig {
                alerts: alerts(vec![config]),
                ..EngineConfig::default()
            },
        )
        .await;
        let emergency = |purpose: &str| {
            warden_model::Request::from_json(
                format!(
                    r#"{{"requester":"dave","role":"payments-db.write","purpose":"{purpose}","emergency":true}}"#
                )
                .as_bytes(),
            )
            .unwrap()
        };
        let first = engine.intake("dave", emergency("INC-1")).await.unwrap();
        assert_eq!(
            first.view.decision.outcome,
            warden_model::Outcome::Grant,
            "{backend}"
        );
        drive(&engine, &clock, "2s", 3).await;

        let glass = events(engine.store(), "alert.break_glass").await;
        let opened = events(engine.store(), "review.opened").await;
        assert_eq!((glass.len(), opened.len()), (1, 1), "{backend}");
        {
            let s = seen.lock().unwrap();
            assert!(
                s.bad_signatures.is_empty(),
                "{backend}: {:?}",
                s.bad_signatures
            );
            for e in [&glass[0], &opened[0]] {
                assert_eq!(
                    s.delivered.get(&id_of(e)),
                    Some(&1),
                    "{backend}: {}",
                    e.action
                );
                assert_eq!(s.bodies[&id_of(e)]["type"], e.action.as_str());
            }
            assert_eq!(
                s.delivered.len(),
                2,
                "{backend}: only the subscribed events"
            );
        }
        let review = opened[0].data["review"].as_str().unwrap().to_owned();

        let second = engine.intake("dave", emergency("INC-2")).await.unwrap();
        assert_eq!(second.view.decision.outcome, warden_model::Outcome::Deny);
        assert_eq!(
            second.view.decision.reasons[0].code,
            warden_model::ReasonCode::BreakGlassReviewOpen
        );
        let bob = warden_engine::review::Viewer {
            identity: warden_model::IdentityId::parse("bob").unwrap(),
            reads_all: false,
        };
        engine
            .close_review(
                &bob,
                &review,
                warden_engine::review::Closing::Justified,
                None,
            )
            .await
            .unwrap();
        let third = engine.intake("dave", emergency("INC-3")).await.unwrap();
        assert_eq!(
            third.view.decision.outcome,
            warden_model::Outcome::Grant,
            "{backend}"
        );
        drive(&engine, &clock, "2s", 3).await;
        let s = seen.lock().unwrap();
        // Two emergencies, two reviews opened, one decided and closed: six events, each once.
        assert_eq!(s.delivered.len(), 6, "{backend}: {:?}", s.delivered);
        assert!(s.delivered.values().all(|n| *n == 1));
    }
}
