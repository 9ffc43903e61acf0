//! Offboarding benchmark: the time from a bundle activation that disables identities to the
//! confirmed removal of their grants on a real Redis.
//!
//! ```text
//! cargo run --release -p warden-engine --example offboarding_bench -- \
//!     [--url DATABASE_URL] [--redis REDIS_URL] [--identities 50] [--grants-per 20]
//! ```
//!
//! The example bundle gains `--identities` engineers, each granted `session-cache.read`
//! `--grants-per` times and provisioned as Redis ACL users. Then one activation disables
//! all of them, one worker runs, and the program prints the time from the activation to
//! each grant's confirmed revocation (p50, p99, max) and to the last one. Without `--url`
//! the store is a new SQLite file in a temporary directory.

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

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;
use warden_connect::{Prefix, Settings};
use warden_engine::connectors::{ConnectorInstance, Connectors};
use warden_engine::{Engine, EngineConfig, SystemClock};
use warden_model::{GrantState, Request};
use warden_policy::{Bundle, SourceFile};
use warden_store::Store;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The example bundle with `n` more engineers, all active or all disabled.
fn bundle(n: usize, disabled: bool) -> Bundle {
    let base =
        Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap();
    let files = base
        .files()
        .iter()
        .map(|f| {
            let mut text = f.text.clone();
            if f.name == "catalog.toml" {
                for i in 0..n {
                    text.push_str(&format!(
                        "\n[[identity]]\nid = \"bench-{i}\"\nkind = \"human\"\ngroups = [\"engineering\"]\n{}",
                        if disabled { "status = \"disabled\"\n" } else { "" }
                    ));
                }
            }
            SourceFile {
                name: f.name.clone(),
                text,
            }
        })
        .collect();
    Bundle::from_files(files).unwrap()
}

#[tokio::main]
async fn main() {
    let identities: usize = arg("--identities").map_or(50, |v| v.parse().unwrap());
    let per: usize = arg("--grants-per").map_or(20, |v| v.parse().unwrap());
    let redis_url = arg("--redis")
        .or_else(|| std::env::var("WARDEN_TEST_REDIS_URL").ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let dir = tempfile::tempdir().unwrap();
    let url = arg("--url")
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::connect(&url).await.unwrap();

    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    let tag: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let prefix = Prefix::parse(&format!(
        "wb{}_",
        tag.replace(|c: char| c.is_ascii_digit(), "a")
    ))
    .unwrap();
    let connector = warden_connect_redis::connect(&Settings {
        name: "cache-redis".into(),
        url: SecretString::from(redis_url),
        prefix: prefix.clone(),
        options: BTreeMap::new(),
    })
    .await
    .unwrap();
    let mut targets = HashMap::new();
    targets.insert(
        "cache-redis".to_owned(),
        ConnectorInstance {
            connector: Arc::new(connector),
            prefix,
        },
    );
    let engine = Engine::new(
        store,
        bundle(identities, false),
        Arc::new(SystemClock),
        EngineConfig {
            connectors: Connectors::new(targets),
            reconcile_every: None,
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();

    let mut grants = Vec::new();
    for i in 0..identities {
        for k in 0..per {
            let json = format!(
                r#"{{"source":"bench","ticket":"{tag}-{i}-{k}","requester":"bench-{i}","role":"session-cache.read","duration":"1h","purpose":"bench"}}"#
            );
            let taken = engine
                .intake(
                    &format!("bench-{i}"),
                    Request::from_json(json.as_bytes()).unwrap(),
                )
                .await
                .unwrap();
            grants.push(taken.view.grant.expect("granted outright").id);
        }
    }
    while engine.run_due_jobs("bench").await.unwrap() > 0 {}
    for g in &grants {
        assert_eq!(engine.grant(g).await.unwrap().state, GrantState::Active);
    }

    let started = Instant::now();
    let activated = engine.now();
    engine
        .activate(bundle(identities, true), "bench")
        .await
        .unwrap();
    while engine.run_due_jobs("bench").await.unwrap() > 0 {}
    let total = started.elapsed();
    let mut lags: Vec<i64> = Vec::new();
    for g in &grants {
        let v = engine.grant(g).await.unwrap();
        assert_eq!(
            v.state,
            GrantState::Revoked,
            "grant {g} not confirmed removed"
        );
        lags.push(activated.millis_until(v.revoked_at.unwrap()));
    }
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{} identities x {} grants = {} grants on Redis ({})",
        identities,
        per,
        grants.len(),
        if url.starts_with("postgres") {
            "PostgreSQL store"
        } else {
            "SQLite store"
        }
    );
    println!(
        "activation to confirmed removal: p50 {} ms, p99 {} ms, max {} ms; all done in {} ms",
        pct(0.5),
        pct(0.99),
        lags.last().unwrap(),
        total.as_millis()
    );
}
