//! Measures the RabbitMQ connector against the bare management API calls it is built on:
//! per-call latency of provision and revoke, and revocations per second.
//!
//! `cargo run --release -p warden-connect-rabbitmq --example latency -- [ACCOUNTS] [URL]`
//! (defaults: 200 accounts, `$WARDEN_TEST_RABBITMQ_URL` or
//! `http://guest:guest@127.0.0.1:15672`).
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark program"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::task::JoinSet;
use warden_connect::{AccountName, Connector, Prefix, Settings, Spec};
use warden_model::{IdentityId, Timestamp};

const GRANT: &str = r"vhost=/ configure=^warden-bench\. write=^warden-bench\. read=^warden-bench\.";
const CONCURRENCY: usize = 8;

#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn now() -> Instant {
    Instant::now()
}

fn spec(prefix: &Prefix) -> Spec {
    Spec {
        account: AccountName::derive(prefix, uuid::Uuid::new_v4(), 1),
        subject: IdentityId::parse("bench").unwrap(),
        grants: vec![GRANT.to_owned()],
        valid_until: Timestamp::parse("2099-01-01T00:00:00Z").unwrap(),
    }
}

fn report(what: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let q = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "| {what} | {} | {:.1} | {:.1} | {:.0} | {:.0} |",
        samples.len(),
        q(0.5).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3,
        samples.len() as f64 / total.as_secs_f64(),
        total.as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(200, |a| a.parse().expect("ACCOUNTS is a number"));
    let url = args
        .next()
        .or_else(|| std::env::var("WARDEN_TEST_RABBITMQ_URL").ok())
        .unwrap_or_else(|| "http://guest:guest@127.0.0.1:15672".into());
    let prefix = Prefix::parse("wbench_").unwrap();
    let settings = Settings {
        name: "bench".into(),
        url: SecretString::from(url.clone()),
        prefix: prefix.clone(),
        options: BTreeMap::new(),
    };
    let c = Arc::new(warden_connect_rabbitmq::connect(&settings).await.unwrap());
    let base = reqwest::Url::parse(&url).unwrap();
    let (user, password) = (
        base.username().to_owned(),
        base.password().map(str::to_owned),
    );
    let api = |path: &str| {
        let mut u = base.join(&format!("/api/{path}")).unwrap();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u
    };
    let http = reqwest::Client::new();

    println!("| operation ({n} accounts) | calls | p50 ms | p99 ms | per second | total ms |");
    println!("|---|---|---|---|---|---|");

    // The bare calls, one at a time: PUT user and PUT permissions, then DELETE user.
    let names: Vec<_> = (0..n).map(|_| spec(&prefix)).collect();
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &names {
        let t = now();
        let name = s.account.as_str();
        let body = serde_json::json!({ "password": "bench-password", "tags": "" });
        let r = http
            .put(api(&format!("users/{name}")))
            .basic_auth(&user, password.as_deref())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let body = serde_json::json!({ "configure": "^warden-bench\\.", "write": "^warden-bench\\.", "read": "^warden-bench\\." });
        let r = http
            .put(api(&format!("permissions/%2F/{name}")))
            .basic_auth(&user, password.as_deref())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        lat.push(t.elapsed());
    }
    report("bare PUT user + PUT permissions", lat, start.elapsed());
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &names {
        let t = now();
        let r = http
            .delete(api(&format!("users/{}", s.account)))
            .basic_auth(&user, password.as_deref())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        lat.push(t.elapsed());
    }
    report("bare DELETE user (unconfirmed)", lat, start.elapsed());

    let specs: Vec<_> = (0..n).map(|_| spec(&prefix)).collect();
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &specs {
        let t = now();
        c.provision(s).await.unwrap();
        lat.push(t.elapsed());
    }
    report("connector provision", lat, start.elapsed());
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &specs {
        let t = now();
        c.revoke(s).await.unwrap();
        lat.push(t.elapsed());
    }
    report(
        "connector revoke (confirmed, no session)",
        lat,
        start.elapsed(),
    );

    let specs: Vec<_> = (0..n).map(|_| spec(&prefix)).collect();
    for s in &specs {
        c.provision(s).await.unwrap();
    }
    let queue = Arc::new(tokio::sync::Mutex::new(specs));
    let start = now();
    let mut workers = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (c, queue) = (Arc::clone(&c), Arc::clone(&queue));
        workers.spawn(async move {
            let mut lat = Vec::new();
            loop {
                // Popped in its own statement so the lock is not held across the revoke.
                let next = queue.lock().await.pop();
                let Some(s) = next else { break };
                let t = now();
                c.revoke(&s).await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut lat = Vec::with_capacity(n);
    while let Some(part) = workers.join_next().await {
        lat.extend(part.unwrap());
    }
    report(
        &format!("connector revoke, {CONCURRENCY} concurrent"),
        lat,
        start.elapsed(),
    );

    let left = c.observe().await.unwrap();
    assert!(
        left.is_empty(),
        "the benchmark left {} accounts",
        left.len()
    );
}
