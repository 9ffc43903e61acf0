//! Evidence-report benchmark: a month with a million grants — every one decided, activated,
//! expired and confirmed removed inside the window, except the live ones of the last hour —
//! then times the `warden_access_*` gauges' figures (`Engine::access_now`) and the whole
//! report over that month.
//!
//! ```text
//! cargo run --release -p warden-engine --example report_bench -- [sqlite|postgres] [GRANTS] [LIVE] [REPORTS]
//! ```
//!
//! Defaults: `sqlite`, 1,000,000 grants of which 10,000 live, 3 timed reports. Every stored
//! decision is a real one of the example bundle (so decisions parse and the live grants'
//! decisions replay for `traceability`). `postgres` needs `WARDEN_TEST_POSTGRES_URL` and
//! creates a fresh database.

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

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use warden_engine::report::{Goals, MetricId, Window};
use warden_engine::{Engine, EngineConfig, ManualClock, StoredInput};
use warden_model::{Request, Timestamp};
use warden_policy::{Bundle, DecisionInput};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = args.first().map_or("sqlite", String::as_str).to_owned();
    let arg = |i: usize, default: u64| args.get(i).map_or(default, |s| s.parse().unwrap());
    let (total, live, reports) = (arg(1, 1_000_000), arg(2, 10_000), arg(3, 3));

    let (store, _dir) = warden_store::testing::named(&backend).await;
    let now = Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
    let t = Instant::now();
    let bundle = warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    );
    // One real decision, stored for every seeded request: alice's hour of session-cache.read.
    let request = Request::from_json(
        br#"{"source":"seed","ticket":"SEED","requester":"alice","role":"session-cache.read","duration":"1h","purpose":"bench"}"#,
    )
    .unwrap();
    // The live grants' requests were decided at this instant (see `seed`), so they replay.
    let decided_at = Timestamp::from_unix_millis(now.unix_millis() - 1_801_000).unwrap();
    let decision = bundle.decide(&DecisionInput {
        request: &request,
        grants: &[],
        open_reviews: &[],
        at: decided_at,
    });
    let input = StoredInput {
        request,
        active_grants: Vec::new(),
        open_reviews: Vec::new(),
    };
    let engine = Engine::new(
        store,
        bundle,
        Arc::new(ManualClock::new(now)),
        EngineConfig::default(),
    )
    .await
    .unwrap();
    seed(&engine, now, total, live, &input, &decision).await;
    println!(
        "{backend}: seeded {total} grants ({live} live) over a month in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let now_figures = engine.access_now().await.unwrap();
    println!("access now: {now_figures:?}");
    for _ in 0..5 {
        engine.access_now().await.unwrap();
    }
    let mut ms: Vec<f64> = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        engine.access_now().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{backend}: access gauges (one walk of {live} live grants), 100 runs: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );

    let window = Window::month_to(now);
    for i in 0..reports {
        let t = Instant::now();
        let r = engine.report(window, &Goals::default()).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        let d = &r.metrics[&MetricId::Decisions];
        let ttr = &r.metrics[&MetricId::TimeToRevoke];
        let tr = &r.metrics[&MetricId::Traceability];
        println!(
            "{backend}: report {} over the month: {secs:.1} s (decisions {}, removals timed {}, traceability {:?}/{:?})",
            i + 1,
            d.detail["total"],
            ttr.detail.get("count").cloned().unwrap_or_default(),
            tr.numerator,
            tr.denominator,
        );
    }
}

/// Inserts `total` grants, each with its request, in two `INSERT … SELECT` statements. The
/// first `live` are live now (`active`, `revoking` and `provisioning` in turn; one in ten
/// past its expiry); the rest were activated evenly over the 30 days before `now`, lasted an
/// hour and were removed 30 s after expiry. Ids are UUIDs, as the store writes them.
async fn seed(
    engine: &Engine,
    now: Timestamp,
    total: u64,
    live: u64,
    input: &StoredInput,
    decision: &warden_model::Decision,
) {
    let now = now.unix_millis();
    let month: i64 = 30 * 86_400_000;
    let start = now - month;
    let step = (month - 7_200_000) / i64::try_from(total).unwrap().max(1);
    let id = |kind: &str| match engine.store().backend() {
        warden_store::Backend::Sqlite => format!("printf('00000000-0000-7000-{kind}-%012d', n)"),
        warden_store::Backend::Postgres => {
            format!("'00000000-0000-7000-{kind}-' || lpad(n::text, 12, '0')")
        }
    };
    let (rid, gid) = (id("8000"), id("9000"));
    let seq = format!(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {total}) "
    );
    let json = |v: String| v.replace('\'', "''");
    let at = format!(
        "CASE WHEN n <= {live} THEN {now} - 1800000 ELSE {start} + CAST(n AS BIGINT) * {step} END"
    );
    let requests = format!(
        "{seq}INSERT INTO requests (id, source, ticket, requester, subject, system, role, \
         state, request_json, decision_json, outcome, bundle_hash, input_hash, decided_at, \
         created_at, updated_at, filed_by) \
         SELECT {rid}, 'seed', 'SEED-' || n, 'alice', 'alice', 'session-cache', \
         'session-cache.read', 'approved', '{input}', '{decision}', 'grant', '{hash}', 'h', \
         {at} - 1000, {at} - 1000, {at} - 1000, 'alice' FROM seq",
        input = json(serde_json::to_string(input).unwrap()),
        decision = json(serde_json::to_string(decision).unwrap()),
        hash = engine.bundle().hash(),
    );
    let ended = format!("n > {live}");
    let grants = format!(
        "{seq}INSERT INTO grants (id, request_id, subject, system, role, state, \
         duration_seconds, activated_at, expires_at, revoked_at, revoking_at, end_reason, \
         created_at, updated_at) \
         SELECT {gid}, {rid}, 'alice', 'session-cache', 'session-cache.read', \
         CASE WHEN {ended} THEN 'revoked' WHEN n % 3 = 0 THEN 'active' \
              WHEN n % 3 = 1 THEN 'revoking' ELSE 'provisioning' END, 3600, \
         CASE WHEN n % 3 = 2 AND NOT ({ended}) THEN NULL ELSE {at} END, \
         CASE WHEN {ended} THEN {at} + 3600000 WHEN n % 3 = 2 THEN NULL \
              WHEN n % 10 = 0 THEN {now} - 1000 ELSE {now} + 1800000 END, \
         CASE WHEN {ended} THEN {at} + 3630000 ELSE NULL END, \
         CASE WHEN {ended} THEN {at} + 3600000 WHEN n % 3 = 1 THEN {now} - 1000 ELSE NULL END, \
         CASE WHEN {ended} THEN 'it expired' ELSE NULL END, {at}, {at} FROM seq"
    );
    warden_store::testing::execute(engine.store(), &requests).await;
    warden_store::testing::execute(engine.store(), &grants).await;
    let analyze = match engine.store().backend() {
        warden_store::Backend::Sqlite => "ANALYZE",
        warden_store::Backend::Postgres => "VACUUM ANALYZE",
    };
    warden_store::testing::execute(engine.store(), analyze).await;
}
