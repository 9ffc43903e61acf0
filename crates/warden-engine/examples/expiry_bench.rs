//! Expiry-worker benchmark: seeds a million active grants, then measures start-up time,
//! resident memory and the lag between a grant's `expires_at` and its `revoked_at`.
//!
//! ```text
//! cargo run --release -p warden-engine --example expiry_bench -- \
//!     [--url URL] [--phase all|seed|startup] [--grants 1000000] [--chunk 10000] \
//!     [--seed-tasks N] [--lag-grants 1000] [--workers 1,2]
//! ```
//!
//! `--phase all` (the default) seeds, then runs `--phase startup` as a fresh process so that
//! the seeding's memory does not count. `--phase startup` connects, builds the engine, runs
//! one round, then for each entry of `--workers` adds `--lag-grants` grants that all expire
//! at the same instant and waits for that many workers to revoke them. Without `--url` the
//! database is a new SQLite file in a temporary directory, removed at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a measurement program: it times with Instant, reads the wall clock, prints, and \
              fails loudly on any error"
)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use warden_engine::job::JobKind;
use warden_engine::{Clock, Engine, EngineConfig, SystemClock};
use warden_model::{
    Duration, GrantState, IdentityId, Outcome, RequestState, RoleId, SystemId, Timestamp,
};
use warden_policy::Bundle;
use warden_store::{Backend, GrantId, GrantRecord, RequestId, RequestRecord, Store, Tx};

struct Args {
    url: Option<String>,
    phase: String,
    grants: u64,
    chunk: u64,
    seed_tasks: Option<u64>,
    lag_grants: u64,
    workers: Vec<usize>,
}

fn parse_args() -> Args {
    let mut a = Args {
        url: None,
        phase: "all".into(),
        grants: 1_000_000,
        chunk: 10_000,
        seed_tasks: None,
        lag_grants: 1_000,
        workers: vec![1],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "--url" => a.url = Some(value()),
            "--phase" => a.phase = value(),
            "--grants" => a.grants = value().parse().unwrap(),
            "--chunk" => a.chunk = value().parse().unwrap(),
            "--seed-tasks" => a.seed_tasks = Some(value().parse().unwrap()),
            "--lag-grants" => a.lag_grants = value().parse().unwrap(),
            "--workers" => {
                a.workers = value().split(',').map(|w| w.parse().unwrap()).collect();
            }
            other => panic!("unknown argument `{other}`"),
        }
    }
    a
}

fn bundle() -> Bundle {
    Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap()
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// One active grant, its request and its pending `expire` job, as intake, approval and
/// provisioning would have left them.
async fn insert_active_grant(
    tx: &mut Tx,
    n: u64,
    ticket: String,
    bundle_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> GrantId {
    let subject = ["alice", "bob", "carol", "dave", "erin", "grace"][(n % 6) as usize];
    let role = "payments-db.read";
    let request_id = RequestId::new();
    let request = serde_json::json!({
        "source": "bench", "ticket": ticket, "requester": subject, "role": role,
        "duration": "8h", "purpose": "expiry benchmark",
    });
    let decision = serde_json::json!({
        "outcome": "grant", "role": role, "system": "payments-db", "duration": "8h",
        "reasons": [{ "code": "permitted", "policies": ["engineers-read"] }],
        "bundle_hash": bundle_hash,
    });
    let inserted = tx
        .insert_request(&RequestRecord {
            id: request_id,
            source: "bench".into(),
            ticket,
            requester: IdentityId::parse(subject).unwrap(),
            subject: IdentityId::parse(subject).unwrap(),
            system: Some(SystemId::parse("payments-db").unwrap()),
            role: Some(RoleId::parse(role).unwrap()),
            state: RequestState::Approved,
            request,
            decision,
            outcome: Outcome::Grant,
            bundle_hash: bundle_hash.to_owned(),
            input_hash: "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
                .to_owned(),
            decided_at: now,
            approval_expires_at: None,
            created_at: now,
            updated_at: now,
            filed_by: "alice".to_owned(),
        })
        .await
        .unwrap();
    assert!(inserted, "the ticket exists already");
    let grant_id = GrantId::new();
    tx.insert_grant(&GrantRecord {
        id: grant_id,
        request_id,
        subject: IdentityId::parse(subject).unwrap(),
        system: SystemId::parse("payments-db").unwrap(),
        role: RoleId::parse(role).unwrap(),
        state: GrantState::Active,
        duration: Duration::from_seconds(8 * 3_600).unwrap(),
        activated_at: Some(now),
        expires_at: Some(expires_at),
        revoked_at: None,
        created_at: now,
        updated_at: now,
    })
    .await
    .unwrap();
    tx.schedule_job(
        JobKind::Expire.as_str(),
        &grant_id.to_string(),
        expires_at,
        now,
    )
    .await
    .unwrap();
    grant_id
}

async fn seed(url: &str, args: &Args) {
    let started = Instant::now();
    let store = Store::connect(url).await.unwrap();
    // Stores the bundle, as a server that took these requests in would have.
    let engine = Engine::new(
        store.clone(),
        bundle(),
        Arc::new(SystemClock),
        EngineConfig::default(),
    )
    .await
    .unwrap();
    let bundle_hash = engine.bundle().hash().to_owned();
    drop(engine);
    let tasks = args.seed_tasks.unwrap_or(match store.backend() {
        // One writer at a time on SQLite.
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    });
    let now = SystemClock.now();
    let chunks = args.grants.div_ceil(args.chunk);
    println!(
        "seed: {} grants in {chunks} transactions of {} (each grant: request + grant + expire job), \
         {tasks} concurrent transaction(s), load {}",
        args.grants,
        args.chunk,
        load_average()
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (store, next, hash) = (store.clone(), Arc::clone(&next), bundle_hash.clone());
        let (total, chunk) = (args.grants, args.chunk);
        set.spawn(async move {
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                let first = c * chunk;
                if first >= total {
                    return;
                }
                let t = Instant::now();
                let mut tx = store.begin().await.unwrap();
                for n in first..(first + chunk).min(total) {
                    // Spread over a day, 30 days ahead: nothing falls due during the run.
                    let expires =
                        now.plus(Duration::from_seconds(30 * 86_400 + n % 86_400).unwrap());
                    insert_active_grant(&mut tx, n, format!("BENCH-{n}"), &hash, now, expires)
                        .await;
                }
                tx.commit().await.unwrap();
                if c % 10 == 0 {
                    println!(
                        "  chunk {c}: {:.0} ms, {:.1} s elapsed",
                        ms(t.elapsed()),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    store.close().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seed: done in {secs:.1} s ({:.0} grants/s), load {}",
        args.grants as f64 / secs,
        load_average()
    );
}

async fn startup(url: &str, args: &Args) {
    let (rss0, _) = memory();
    println!(
        "startup: load {}, VmRSS before connect {rss0:.1} MiB",
        load_average()
    );
    let t0 = Instant::now();
    let store = Store::connect(url).await.unwrap();
    let t_connect = t0.elapsed();
    let b = bundle();
    let t_bundle = t0.elapsed();
    let engine = Engine::new(store, b, Arc::new(SystemClock), EngineConfig::default())
        .await
        .unwrap();
    let t_engine = t0.elapsed();
    let claimed = engine.run_due_jobs("bench-1").await.unwrap();
    let t_round = t0.elapsed();
    assert_eq!(claimed, 0, "nothing should be due at start-up");
    let next_due = engine.store().next_job_due().await.unwrap();
    let t_next = t0.elapsed();
    let (rss, hwm) = memory();
    println!(
        "startup: connect+migrate {:.1} ms, bundle load {:.1} ms, Engine::new {:.1} ms, first \
         run_due_jobs {:.1} ms => total {:.1} ms; next_job_due {:.1} ms (next due {})",
        ms(t_connect),
        ms(t_bundle - t_connect),
        ms(t_engine - t_bundle),
        ms(t_round - t_engine),
        ms(t_round),
        ms(t_next - t_round),
        next_due.map_or("none".into(), |t| t.to_string()),
    );
    println!("startup: after start-up VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");

    for (round, &workers) in args.workers.iter().enumerate() {
        if args.lag_grants > 0 {
            lag_round(url, &engine, args.lag_grants, workers, round).await;
            let (rss, hwm) = memory();
            println!("lag: after the round VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
        }
    }
    let t = Instant::now();
    let counts = engine.store().grant_counts().await.unwrap();
    println!(
        "grants by state {counts:?} (GROUP BY over the table: {:.0} ms)",
        ms(t.elapsed())
    );
    let (rss, hwm) = memory();
    println!(
        "end: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB, load {}",
        load_average()
    );
}

async fn lag_round(url: &str, engine: &Engine, count: u64, workers: usize, round: usize) {
    let mut engines = vec![engine.clone()];
    for _ in 1..workers {
        // Another process's engine: its own pool on the same database.
        let store = Store::connect(url).await.unwrap();
        engines.push(
            Engine::new(
                store,
                bundle(),
                Arc::new(SystemClock),
                EngineConfig::default(),
            )
            .await
            .unwrap(),
        );
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = tokio::task::JoinSet::new();
    for (i, e) in engines.iter().enumerate() {
        let (e, rx) = (e.clone(), stopped.clone());
        running.spawn(async move {
            e.run_worker(
                format!("bench-r{round}-w{i}"),
                StdDuration::from_secs(1),
                rx,
            )
            .await;
        });
    }
    // Let the workers settle into their idle pause (1 s poll, nothing due for 30 days).
    tokio::time::sleep(StdDuration::from_millis(1_500)).await;

    let store = engine.store().clone();
    let audit_from = store
        .audit_after(0, u32::MAX)
        .await
        .unwrap()
        .last()
        .map_or(0, |e| e.seq);
    let now = SystemClock.now();
    // A whole second at least 3 s ahead: every grant expires at the same instant.
    let due = Timestamp::from_unix_millis((now.unix_millis() / 1_000 + 4) * 1_000).unwrap();
    let t = Instant::now();
    let mut tx = store.begin().await.unwrap();
    let mut ids = HashSet::new();
    for i in 0..count {
        let ticket = format!("LAG-{}-{i}", due.unix_millis());
        let g = insert_active_grant(&mut tx, i, ticket, engine.bundle().hash(), now, due).await;
        ids.insert(g);
    }
    tx.commit().await.unwrap();
    println!(
        "lag: round {round}, {workers} worker(s): {count} grants expiring at {due} inserted in \
         {:.0} ms, load {}",
        ms(t.elapsed()),
        load_average()
    );

    // Follow the audit chain (cheap reads by seq) until every grant is revoked.
    let deadline = Instant::now() + StdDuration::from_secs(600);
    let mut after = audit_from;
    let mut revoked = 0;
    let mut first_expired: Option<Timestamp> = None;
    let mut by_worker = std::collections::BTreeMap::<String, u64>::new();
    while revoked < count {
        assert!(
            Instant::now() < deadline,
            "only {revoked} of {count} revoked in time"
        );
        let events = store.audit_after(after, 5_000).await.unwrap();
        if events.is_empty() {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            continue;
        }
        for e in &events {
            after = e.seq;
            if !e.grant_id.is_some_and(|g| ids.contains(&g)) {
                continue;
            }
            match e.action.as_str() {
                "grant.expired" => {
                    first_expired.get_or_insert(e.at);
                }
                "grant.revoked" => {
                    revoked += 1;
                    *by_worker.entry(e.actor.clone()).or_default() += 1;
                }
                _ => {}
            }
        }
    }
    let _sent = stop.send(true);
    while let Some(r) = running.join_next().await {
        r.unwrap();
    }

    let mut lags = Vec::with_capacity(ids.len());
    let mut last_revoked = due;
    for id in &ids {
        let g = store.grant(*id).await.unwrap().unwrap();
        assert_eq!(g.state, GrantState::Revoked);
        let revoked_at = g.revoked_at.unwrap();
        last_revoked = last_revoked.max(revoked_at);
        lags.push(g.expires_at.unwrap().millis_until(revoked_at));
    }
    lags.sort_unstable();
    let pct = |p: usize| lags[(lags.len() * p).div_ceil(100).max(1) - 1];
    println!(
        "lag: round {round}, {workers} worker(s): revoked_at - expires_at over {} grants: \
         p50 {} ms, p90 {} ms, p99 {} ms, max {} ms, min {} ms",
        lags.len(),
        pct(50),
        pct(90),
        pct(99),
        lags[lags.len() - 1],
        lags[0],
    );
    println!(
        "lag: first grant.expired {} ms after expires_at; last revoked {} ms after; {:.0} grants/s \
         (one expire job each); revoked by {by_worker:?}; load {}",
        first_expired.map_or(-1, |t| due.millis_until(t)),
        due.millis_until(last_revoked),
        count as f64
            / (first_expired
                .unwrap_or(due)
                .millis_until(last_revoked)
                .max(1) as f64
                / 1_000.0),
        load_average()
    );
    for e in engines.iter().skip(1) {
        e.store().close().await;
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    println!(
        "machine: {} cores, load {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load_average()
    );
    let mut dir = None;
    let url = args.url.clone().unwrap_or_else(|| {
        let d = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", d.path().join("bench.db").display());
        dir = Some(d);
        url
    });
    println!("database: {url}");
    match args.phase.as_str() {
        "seed" => seed(&url, &args).await,
        "startup" => startup(&url, &args).await,
        "all" => {
            seed(&url, &args).await;
            let workers: Vec<String> = args.workers.iter().map(ToString::to_string).collect();
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--phase", "startup", "--url", &url])
                .args(["--lag-grants", &args.lag_grants.to_string()])
                .args(["--workers", &workers.join(",")])
                .status()
                .unwrap();
            assert!(status.success(), "the start-up phase failed");
        }
        other => panic!("unknown phase `{other}`"),
    }
    if let Some(d) = dir {
        d.close().unwrap();
    }
}
