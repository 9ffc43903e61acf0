//! Console page benchmark: each page's server time with a store holding many requests.
//!
//! ```text
//! cargo run --release -p warden-console --example pages_bench -- [REQUESTS] [EVENTS] [RUNS]
//! ```
//!
//! Defaults: 100,000 requests, 300,000 audit events, 100 timed renders per page after 5
//! untimed ones. The store is SQLite (the embedded default) in a temporary directory.
//!
//! Seeding: a handful of real requests are filed through the engine (so their JSON, their
//! decisions and their grants are what Warden writes), the worker settles their grants, and
//! then SQL copies them up to `REQUESTS` rows with fresh ids and tickets, older than the
//! real ones: 1 % stay waiting for approval by `payments-leads` (the inbox's worst case:
//! hundreds of candidates to check), the rest ended. `EVENTS` audit events are appended
//! through the store's own chain append, so the chain verifies. Statistics are refreshed
//! (`ANALYZE`) as the database's maintenance would.
//!
//! Each page is rendered through the console's router in process, session check included,
//! timed with `Instant` around the whole call (the server time; no network).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a measurement program: it times with Instant, prints, and fails loudly"
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;
use warden_console::{Console, ConsoleConfig};
use warden_engine::intake::Filer;
use warden_engine::session::SessionRules;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::{Duration, GroupId, IdentityId, Timestamp};
use warden_policy::Bundle;
use warden_store::NewAuditEvent;

fn id(s: &str) -> IdentityId {
    IdentityId::parse(s).unwrap()
}

/// The real requests the copies are made from: who asks for what.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "alice",
        r#"{"requester":"alice","role":"payments-db.admin","needs":["read"],"purpose":"INC-42 investigation","duration":"6h"}"#,
    ),
    (
        "alice",
        r#"{"requester":"alice","role":"session-cache.read","purpose":"debug a cache miss"}"#,
    ),
    (
        "dave",
        r#"{"requester":"dave","role":"session-cache.read","purpose":"on-call check"}"#,
    ),
    (
        "grace",
        r#"{"requester":"grace","role":"payments-db.read","purpose":"month-end reconciliation"}"#,
    ),
    (
        "frank",
        r#"{"requester":"frank","role":"session-cache.read","purpose":"left the company"}"#,
    ),
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).map_or(default, |s| s.parse().unwrap());
    let (total, events, runs) = (arg(0, 100_000), arg(1, 300_000), arg(2, 100));

    let (store, _dir) = warden_store::testing::named("sqlite").await;
    let now = Timestamp::parse("2026-11-29T10:00:00Z").unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let bundle = warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    );
    let engine = Engine::new(
        store.clone(),
        bundle,
        clock.clone(),
        EngineConfig::default(),
    )
    .await
    .unwrap();

    let t = Instant::now();
    let mut real = Vec::new();
    for (i, (who, body)) in TEMPLATES.iter().enumerate() {
        let mut request: warden_model::Request = serde_json::from_str(body).unwrap();
        request.source = Some("api".into());
        request.ticket = Some(format!("T-{i}"));
        let filer = Filer {
            identity: id(who),
            broker_source: None,
            reads_all: false,
        };
        real.push(engine.file(&filer, request).await.unwrap().view);
    }
    while engine.run_due_jobs("bench").await.unwrap() > 0 {}
    let pending = real[0].id.clone();
    let copies = total.saturating_sub(TEMPLATES.len() as u64);
    // Copies: ids `00000000-0000-7000-8000-<n>`, older than every real request; one in a
    // hundred copies the pending request (and stays pending), the others the ended ones.
    let sql = format!(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {copies}), \
         tpl(id, k) AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 FROM requests \
                        WHERE source = 'api' AND id <> '{pending}' \
                        UNION ALL SELECT '{pending}', -1) \
         INSERT INTO requests (id, source, ticket, requester, subject, system, role, state, \
           request_json, decision_json, outcome, bundle_hash, input_hash, decided_at, \
           approval_expires_at, created_at, updated_at, filed_by) \
         SELECT printf('00000000-0000-7000-8000-%012d', n), 'bench', 'B-' || n, r.requester, \
           r.subject, r.system, r.role, r.state, r.request_json, r.decision_json, r.outcome, \
           r.bundle_hash, r.input_hash, r.decided_at - n * 1000, r.approval_expires_at, \
           r.created_at - n * 1000, r.updated_at - n * 1000, r.filed_by \
         FROM seq JOIN tpl t ON t.k = CASE WHEN n % 100 = 0 THEN -1 ELSE n % {others} END \
         JOIN requests r ON r.id = t.id",
        others = TEMPLATES.len() - 1,
    );
    warden_store::testing::execute(&store, &sql).await;
    // Their grants, ended, for the requests that were granted.
    let sql = "WITH tg AS MATERIALIZED (SELECT r2.requester, r2.role, g.subject, g.system, \
           g.duration_seconds FROM requests r2 JOIN grants g ON g.request_id = r2.id \
           WHERE r2.source = 'api') \
         INSERT INTO grants (id, request_id, subject, system, role, state, duration_seconds, \
           activated_at, expires_at, revoked_at, created_at, updated_at) \
         SELECT '00000000-0000-7000-9000-' || substr(r.id, 25), r.id, tg.subject, tg.system, \
           tg.role, 'revoked', tg.duration_seconds, r.created_at, r.created_at + 3600000, \
           r.created_at + 3600000, r.created_at, r.created_at \
         FROM requests r JOIN tg ON tg.requester = r.requester AND tg.role = r.role \
         WHERE r.source = 'bench' AND r.state <> 'approval_required'";
    warden_store::testing::execute(&store, sql).await;
    let seeded = t.elapsed();

    let t = Instant::now();
    let mut left = events;
    while left > 0 {
        let n = left.min(5_000);
        let mut tx = store.begin().await.unwrap();
        for i in 0..n {
            tx.append_audit(&NewAuditEvent {
                at: now,
                actor: "bench".into(),
                action: if i % 3 == 0 {
                    "request.created"
                } else {
                    "grant.expired"
                }
                .into(),
                request_id: None,
                grant_id: None,
                before_state: None,
                after_state: None,
                bundle_hash: None,
                data: serde_json::json!({ "n": left - i }),
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        left -= n;
    }
    warden_store::testing::execute(&store, "ANALYZE").await;
    println!(
        "seeded {total} requests in {:.1} s and {events} audit events in {:.1} s",
        seeded.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );

    let console = Console::new(
        engine.clone(),
        ConsoleConfig {
            public_url: "http://127.0.0.1:8080".into(),
            session: SessionRules {
                idle: Duration::from_seconds(3_600).unwrap(),
                absolute: Duration::from_seconds(12 * 3_600).unwrap(),
            },
            admin_groups: BTreeSet::from([GroupId::parse("security").unwrap()]),
            audit_groups: BTreeSet::from([GroupId::parse("security").unwrap()]),
        },
    );
    let app = warden_console::router(console);
    let session = |who: &'static str| {
        let engine = engine.clone();
        async move {
            let link = engine
                .create_login_link(&id(who), Duration::from_seconds(600).unwrap(), "bench")
                .await
                .unwrap();
            let rules = SessionRules {
                idle: Duration::from_seconds(3_600).unwrap(),
                absolute: Duration::from_seconds(12 * 3_600).unwrap(),
            };
            engine
                .sign_in_with_link(link.expose(), rules)
                .await
                .unwrap()
                .secret
                .expose()
                .to_owned()
        }
    };
    let alice = session("alice").await;
    let bob = session("bob").await;
    let carol = session("carol").await;
    let pages: Vec<(&str, String, String)> = vec![
        ("inbox (bob)", bob.clone(), "/ui/inbox".into()),
        (
            "request (bob)",
            bob.clone(),
            format!("/ui/requests/{pending}"),
        ),
        ("my access (alice)", alice.clone(), "/ui/access".into()),
        ("ask form (alice)", alice.clone(), "/ui/access/new".into()),
        ("grants (carol, admin)", carol.clone(), "/ui/grants".into()),
        (
            "grants by subject (carol)",
            carol.clone(),
            "/ui/grants?subject=alice".into(),
        ),
        ("audit (carol)", carol.clone(), "/ui/audit".into()),
        (
            "explorer (alice)",
            alice.clone(),
            "/ui/explorer?identity=alice&system=payments-db".into(),
        ),
        ("reviews (carol)", carol.clone(), "/ui/reviews".into()),
        ("evidence (carol)", carol.clone(), "/ui/evidence".into()),
    ];
    println!("| page | median | p90 | p99 | max | target |");
    println!("|---|---|---|---|---|---|");
    for (name, secret, path) in &pages {
        match time(&app, secret, path, runs).await {
            Some(mut ms) => {
                ms.sort_by(f64::total_cmp);
                let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
                let verdict = if at(0.99) <= 50.0 { "met" } else { "missed" };
                println!(
                    "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | ≤ 50 ms: {verdict} |",
                    at(0.5),
                    at(0.9),
                    at(0.99),
                    ms[ms.len() - 1]
                );
            }
            None => println!("| {name} | not served (`{path}`) | | | | |"),
        }
    }
}

/// `runs` timed renders of `path` as the session `secret`, after five untimed ones (and,
/// for a page whose work is done in the background, once that work is done); `None` when
/// the page does not answer 200.
async fn time(app: &Router, secret: &str, path: &str, runs: u64) -> Option<Vec<f64>> {
    let call = || async {
        let req = Request::get(path)
            .header(header::COOKIE, format!("warden_session={secret}"))
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            String::from_utf8_lossy(&body).contains("being made"),
        )
    };
    let started = Instant::now();
    loop {
        let (status, waiting) = call().await;
        if status != StatusCode::OK {
            println!("`{path}` answered {status}");
            return None;
        }
        if !waiting {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let waited = started.elapsed().as_secs_f64();
    if waited > 1.0 {
        println!("`{path}`: its background work took {waited:.1} s");
    }
    for _ in 0..5 {
        call().await;
    }
    let mut ms = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        assert_eq!(call().await.0, StatusCode::OK);
        ms.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    Some(ms)
}
