//! `/metrics` benchmark: seeds a million grants (most of them ended, as in a store that has
//! run for years), then times `GET /metrics` through the router, token check included.
//!
//! ```text
//! cargo run --release -p warden-http --example metrics_bench -- [sqlite|postgres] [GRANTS] [LIVE] [SCRAPES]
//! ```
//!
//! Defaults: `sqlite`, 1,000,000 grants of which 10,000 live, 200 timed scrapes after 10
//! untimed ones. `postgres` needs `WARDEN_TEST_POSTGRES_URL` and creates a fresh database.
//!
//! The engine's clock moves one second per timed scrape, so the `warden_access_*` figures
//! fall due for recomputation every 15 scrapes and the scrapes after it run while it does
//! (a scrape a second: fifteen times Prometheus's usual rate). Then 20 first scrapes, each
//! through a new server state, which compute those figures before answering: what the
//! first scrape after start-up, or after a new bundle, costs.

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

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_http::{AppState, router};
use warden_model::Timestamp;
use warden_policy::Bundle;

const TOKEN: &str = "metrics-bench-token-0123456789";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = args.first().map_or("sqlite", String::as_str).to_owned();
    let arg = |i: usize, default: u64| args.get(i).map_or(default, |s| s.parse().unwrap());
    let (total, live, scrapes) = (arg(1, 1_000_000), arg(2, 10_000), arg(3, 200));

    let (store, _dir) = warden_store::testing::named(&backend).await;
    let now = Timestamp::parse("2026-11-29T10:00:00Z").unwrap();
    let t = Instant::now();
    warden_store::testing::seed_grants(&store, total, live, now.unix_millis()).await;
    println!(
        "{backend}: seeded {total} grants ({live} live) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let bundle = warden_policy::testing::record_only(
        &Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle"))
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(now));
    let engine = Engine::new(store, bundle, clock.clone(), EngineConfig::default())
        .await
        .unwrap();
    let state = || AppState::new(engine.clone(), 64 * 1024).with_metrics_token(TOKEN.into());
    let app = router(state());
    let scrape_on = |app: axum::Router| async move {
        let req = Request::get("/metrics")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let scrape = || scrape_on(app.clone());
    let text = scrape().await;
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    println!(
        "{} | {} | {} | {}",
        line("warden_grants{state=\"active\"}"),
        line("warden_grants{state=\"revoking\"}"),
        line("warden_grants{state=\"provisioning\"}"),
        line("warden_grants_overdue")
    );
    for _ in 0..10 {
        scrape().await;
    }
    let mut ms: Vec<f64> = Vec::new();
    for _ in 0..scrapes {
        clock.advance(warden_model::Duration::from_seconds(1).unwrap());
        let t = Instant::now();
        scrape().await;
        ms.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    summary(
        &format!("{backend}: GET /metrics over {total} grants, {scrapes} scrapes"),
        ms,
    );
    let mut first: Vec<f64> = Vec::new();
    for _ in 0..20 {
        let fresh = router(state());
        let t = Instant::now();
        scrape_on(fresh).await;
        first.push(t.elapsed().as_secs_f64() * 1_000.0);
    }
    summary(
        &format!("{backend}: first GET /metrics of a server over {total} grants, 20 servers"),
        first,
    );
}

fn summary(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
