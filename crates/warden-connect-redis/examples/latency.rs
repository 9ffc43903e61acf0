//! Measures the Redis connector against bare ACL commands: per-call latency of provision
//! and revoke, and sustained revocations per second over many accounts.
//!
//! `cargo run --release -p warden-connect-redis --example latency -- [ACCOUNTS] [URL]`
//! (defaults: 1000 accounts, `$WARDEN_TEST_REDIS_URL` or `redis://127.0.0.1:6379`).
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

const GRANTS: [&str; 3] = ["~warden-bench:*", "+@read", "+@connection"];
const CONCURRENCY: usize = 16;

#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn now() -> Instant {
    Instant::now()
}

fn spec(prefix: &Prefix) -> Spec {
    Spec {
        account: AccountName::derive(prefix, uuid::Uuid::new_v4(), 1),
        subject: IdentityId::parse("bench").unwrap(),
        grants: GRANTS.map(String::from).to_vec(),
        valid_until: Timestamp::parse("2099-01-01T00:00:00Z").unwrap(),
    }
}

fn report(what: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let q = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "| {what} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
        samples.len(),
        q(0.5).as_secs_f64() * 1e6,
        q(0.99).as_secs_f64() * 1e6,
        samples.len() as f64 / total.as_secs_f64(),
        total.as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(1000, |a| a.parse().expect("ACCOUNTS is a number"));
    let url = args
        .next()
        .or_else(|| std::env::var("WARDEN_TEST_REDIS_URL").ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let prefix = Prefix::parse("wbench_").unwrap();
    let settings = Settings {
        name: "bench".into(),
        url: SecretString::from(url.clone()),
        prefix: prefix.clone(),
        options: BTreeMap::new(),
    };
    let c = Arc::new(warden_connect_redis::connect(&settings).await.unwrap());
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    println!("| operation ({n} accounts) | calls | p50 µs | p99 µs | per second | total ms |");
    println!("|---|---|---|---|---|---|");

    // Bare commands on one connection, one at a time: the floor the connector adds to.
    let names: Vec<_> = (0..n).map(|_| spec(&prefix)).collect();
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &names {
        let t = now();
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg(s.account.as_str())
            .arg("reset")
            .arg("on")
            .arg(">bench-password");
        cmd.arg(&GRANTS[..]);
        cmd.query_async::<()>(&mut admin).await.unwrap();
        lat.push(t.elapsed());
    }
    report("bare `ACL SETUSER`", lat, start.elapsed());
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &names {
        let t = now();
        redis::cmd("ACL")
            .arg("DELUSER")
            .arg(s.account.as_str())
            .query_async::<u64>(&mut admin)
            .await
            .unwrap();
        lat.push(t.elapsed());
    }
    report("bare `ACL DELUSER`", lat, start.elapsed());

    // The connector, one call at a time.
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
    report("connector revoke (confirmed)", lat, start.elapsed());

    // Sustained revocations: many accounts revoked by concurrent workers on the
    // connector's one admin connection.
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

    // Revocation of accounts that each have a client logged in: the removal now has a
    // session to end and confirm gone.
    let specs: Vec<_> = (0..n).map(|_| spec(&prefix)).collect();
    let info = redis::IntoConnectionInfo::into_connection_info(url.as_str()).unwrap();
    let mut sessions = Vec::with_capacity(n);
    for s in &specs {
        let cred = c.provision(s).await.unwrap().unwrap();
        let redis = info
            .redis_settings()
            .clone()
            .set_username(&cred.username)
            .set_password(cred.password());
        let client = redis::Client::open(info.clone().set_redis_settings(redis)).unwrap();
        sessions.push(client.get_multiplexed_async_connection().await.unwrap());
    }
    let (mut lat, start) = (Vec::with_capacity(n), now());
    for s in &specs {
        let t = now();
        c.revoke(s).await.unwrap();
        lat.push(t.elapsed());
    }
    report(
        "connector revoke, one open session each",
        lat,
        start.elapsed(),
    );
    for mut session in sessions {
        let still = redis::cmd("PING").query_async::<String>(&mut session).await;
        assert!(still.is_err(), "a session outlived its revocation");
    }

    let left = c.observe().await.unwrap();
    assert!(
        left.is_empty(),
        "the benchmark left {} accounts",
        left.len()
    );
}
