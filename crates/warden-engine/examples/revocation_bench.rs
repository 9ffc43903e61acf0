//! Revocation on real connectors: how many grants per second the worker provisions and then
//! revokes (confirmed gone) when 10,000 fall due together, and how long after `expires_at`
//! removal is confirmed when the worker runs on the wall clock.
//!
//! ```text
//! cargo run --release -p warden-engine --example revocation_bench -- \
//!     --target redis|postgres [--store URL] [--mode throughput|lag|both|instances] \
//!     [--grants 10000] [--parallelism 1,8,32,64] [--batch 100,500] \
//!     [--lag-grants 1000] [--spread 0,60] [--lead 20]
//! ```
//!
//! The target's admin URL comes from `WARDEN_TEST_REDIS_URL` or `WARDEN_TEST_POSTGRES_URL`
//! (`. scripts/services`). Redis grants use the example bundle's `session-cache.read`
//! (`~session:*`, `+@read`, `+@connection`), PostgreSQL ones `payments-db.read`
//! (`pg_read_all_data`). Without `--store` each run gets a new SQLite file in a temporary
//! directory. Grants are seeded straight into the store as approved requests with their
//! `provision` job (as intake and approval leave them), so every grant gets a real account
//! on the target from the engine's own provisioning step.
//!
//! Throughput (`--mode throughput`), for each `batch` × `parallelism`: the engine's clock
//! is stopped while the grants are provisioned, so every grant gets the same `expires_at`;
//! then the clock jumps to that instant and runs on with the wall clock, and one worker
//! (`run_due_jobs` in a loop) runs until every grant is `revoked`.
//!
//! Lag (`--mode lag`), for each `spread`: `--lag-grants` grants are provisioned with
//! `expires_at` `--lead` seconds ahead (all at one instant for spread 0, otherwise spread
//! evenly over that many whole seconds); a worker on `SystemClock` (`run_worker`, 1 s
//! poll, default batch and parallelism) revokes them; the lag is `revoked_at − expires_at`.
//!
//! Instances (`--mode instances`), for each `parallelism` k: `--lag-grants` accounts are
//! provisioned, then removed, straight through k connector instances at once (no engine),
//! to see whether a connector with more than one admin session would go faster.
//!
//! Each phase also splits the worker's time: the connector is wrapped so every target call
//! is timed, and each round's wall time is divided into the act phase (claim, store reads,
//! target calls: until the last target call of the round returns) and the apply phase (the
//! one transaction after it). At the end of each run the target is checked for accounts
//! with the run's prefix; any left are removed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines,
    reason = "a measurement program: it times with Instant, reads the wall clock, prints, and \
              fails loudly on any error"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;
use warden_connect::{
    ConnectError, Connector, ConnectorKind, Credential, Held, Prefix, Settings, Spec,
};
use warden_engine::connectors::{ConnectorInstance, Connectors};
use warden_engine::job::JobKind;
use warden_engine::{Clock, Engine, EngineConfig, ManualClock, SystemClock};
use warden_model::{
    Duration, GrantState, IdentityId, Outcome, RequestState, RoleId, SystemId, Timestamp,
};
use warden_policy::Bundle;
use warden_store::{GrantId, GrantRecord, RequestId, RequestRecord, Store};

// ---------------------------------------------------------------------------------------
// Arguments

struct Args {
    target: String,
    store: Option<String>,
    mode: String,
    grants: u64,
    parallelism: Vec<usize>,
    batch: Vec<u32>,
    lag_grants: u64,
    spread: Vec<u64>,
    lead: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        target: "redis".into(),
        store: None,
        mode: "both".into(),
        grants: 10_000,
        parallelism: vec![1, 8, 32, 64],
        batch: vec![100, 500],
        lag_grants: 1_000,
        spread: vec![0, 60],
        lead: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "--target" => a.target = value(),
            "--store" => a.store = Some(value()),
            "--mode" => a.mode = value(),
            "--grants" => a.grants = value().parse().unwrap(),
            "--parallelism" => a.parallelism = list(&value()),
            "--batch" => a.batch = list(&value()),
            "--lag-grants" => a.lag_grants = value().parse().unwrap(),
            "--spread" => a.spread = list(&value()),
            "--lead" => a.lead = value().parse().unwrap(),
            other => panic!("unknown argument `{other}`"),
        }
    }
    a
}

fn list<T: std::str::FromStr>(s: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    s.split(',').map(|v| v.trim().parse().unwrap()).collect()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn secs(n: u64) -> Duration {
    Duration::from_seconds(n).unwrap()
}

fn bundle() -> Bundle {
    Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap()
}

// ---------------------------------------------------------------------------------------
// The target, and a connector wrapper that times every call

/// Where grants of the benchmark go: the connector name, system and role of the example
/// bundle, and the admin URL.
struct Place {
    kind: &'static str,
    connector: &'static str,
    system: &'static str,
    role: &'static str,
    url: String,
}

fn place(target: &str) -> Place {
    let url = |name: &str| {
        let var = format!("WARDEN_TEST_{}_URL", name.to_uppercase());
        std::env::var(&var).unwrap_or_else(|_| panic!("`{var}` is not set (. scripts/services)"))
    };
    match target {
        "redis" => Place {
            kind: "redis",
            connector: "cache-redis",
            system: "session-cache",
            role: "session-cache.read",
            url: url("redis"),
        },
        "postgres" => Place {
            kind: "postgres",
            connector: "pg-payments",
            system: "payments-db",
            role: "payments-db.read",
            url: url("postgres"),
        },
        other => panic!("unknown target `{other}`: redis or postgres"),
    }
}

/// A prefix no other run shares.
fn fresh_prefix() -> Prefix {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Prefix::parse(&format!("wb{hex}_")).unwrap()
}

async fn raw_connector(p: &Place, prefix: &Prefix) -> Arc<dyn Connector> {
    let settings = Settings {
        name: p.connector.into(),
        url: SecretString::from(p.url.clone()),
        prefix: prefix.clone(),
        options: BTreeMap::new(),
    };
    match p.kind {
        "redis" => Arc::new(warden_connect_redis::connect(&settings).await.unwrap()),
        _ => Arc::new(warden_connect_postgres::connect(&settings).await.unwrap()),
    }
}

/// One target call: when it started and ended, and whether it failed.
#[derive(Clone, Copy)]
struct Call {
    start: Instant,
    end: Instant,
    ok: bool,
}

/// The real connector, with every `provision` and `remove` timed.
struct Timed {
    inner: Arc<dyn Connector>,
    calls: Mutex<Vec<Call>>,
}

impl Timed {
    fn record(&self, start: Instant, ok: bool) {
        let end = Instant::now();
        self.calls.lock().unwrap().push(Call { start, end, ok });
    }

    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait]
impl Connector for Timed {
    fn kind(&self) -> ConnectorKind {
        self.inner.kind()
    }

    fn check_grants(&self, grants: &[String]) -> Result<(), ConnectError> {
        self.inner.check_grants(grants)
    }

    fn holds(&self, spec: &Spec) -> Vec<Held> {
        self.inner.holds(spec)
    }

    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError> {
        let start = Instant::now();
        let r = self.inner.provision(spec).await;
        self.record(start, r.is_ok());
        r
    }

    async fn remove(&self, held: &Held) -> Result<(), ConnectError> {
        let start = Instant::now();
        let r = self.inner.remove(held).await;
        self.record(start, r.is_ok());
        r
    }

    async fn observe(&self) -> Result<Vec<Held>, ConnectError> {
        self.inner.observe().await
    }
}

// ---------------------------------------------------------------------------------------
// A clock that can be stopped, then jump and run on with the wall clock

/// Stopped at an instant, or running from an instant since a wall-clock moment.
struct BenchClock(Mutex<(Timestamp, Option<Instant>)>);

impl BenchClock {
    fn stopped(at: Timestamp) -> Self {
        Self(Mutex::new((at, None)))
    }

    /// From now on the clock reads `at` plus the wall time elapsed since this call.
    fn run_from(&self, at: Timestamp) {
        *self.0.lock().unwrap() = (at, Some(Instant::now()));
    }
}

impl Clock for BenchClock {
    fn now(&self) -> Timestamp {
        let (at, since) = *self.0.lock().unwrap();
        match since {
            None => at,
            Some(s) => Timestamp::from_unix_millis(
                at.unix_millis() + i64::try_from(s.elapsed().as_millis()).unwrap(),
            )
            .unwrap(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Seeding

/// Approved requests and their `provision` jobs for `count` grants, as intake and approval
/// leave them; `duration(i)` is grant `i`'s duration.
async fn seed(
    store: &Store,
    p: &Place,
    count: u64,
    bundle_hash: &str,
    now: Timestamp,
    duration: impl Fn(u64) -> Duration,
) -> Vec<GrantId> {
    let mut ids = Vec::with_capacity(count as usize);
    let run = RequestId::new();
    let mut tx = store.begin().await.unwrap();
    for n in 0..count {
        if n > 0 && n % 1_000 == 0 {
            tx.commit().await.unwrap();
            tx = store.begin().await.unwrap();
        }
        let subject = ["alice", "bob", "carol", "dave", "erin", "grace"][(n % 6) as usize];
        let request_id = RequestId::new();
        let ticket = format!("RB-{run}-{n}");
        let d = duration(n);
        let decision = serde_json::json!({
            "outcome": "grant", "role": p.role, "system": p.system,
            "duration": d.to_string(),
            "reasons": [{ "code": "permitted", "policies": ["bench"] }],
            "bundle_hash": bundle_hash,
        });
        let inserted = tx
            .insert_request(&RequestRecord {
                id: request_id,
                source: "bench".into(),
                ticket: ticket.clone(),
                requester: IdentityId::parse(subject).unwrap(),
                subject: IdentityId::parse(subject).unwrap(),
                system: Some(SystemId::parse(p.system).unwrap()),
                role: Some(RoleId::parse(p.role).unwrap()),
                state: RequestState::Approved,
                request: serde_json::json!({
                    "source": "bench", "ticket": ticket, "requester": subject,
                    "role": p.role, "purpose": "revocation benchmark",
                }),
                decision,
                outcome: Outcome::Grant,
                bundle_hash: bundle_hash.to_owned(),
                input_hash:
                    "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
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
        let id = GrantId::new();
        tx.insert_grant(&GrantRecord {
            id,
            request_id,
            subject: IdentityId::parse(subject).unwrap(),
            system: SystemId::parse(p.system).unwrap(),
            role: RoleId::parse(p.role).unwrap(),
            state: GrantState::Provisioning,
            duration: d,
            activated_at: None,
            expires_at: None,
            revoked_at: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
        tx.schedule_job(JobKind::Provision.as_str(), &id.to_string(), now, now)
            .await
            .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    ids
}

// ---------------------------------------------------------------------------------------
// Rounds and the act/apply split

/// One `run_due_jobs` call: when it started and ended, and how many jobs it claimed.
struct Round {
    start: Instant,
    end: Instant,
    claimed: usize,
}

/// Where one phase's wall time went.
#[derive(Default)]
struct Split {
    rounds: usize,
    /// Rounds with at least one target call: from the round's start to its last target
    /// call's end (claim, store reads, intent rows, target calls).
    act: StdDuration,
    /// The same rounds, from the last target call's end to the round's end (the batch's
    /// one transaction).
    apply: StdDuration,
    /// Rounds without a target call (`expire` jobs only: all store work).
    store_only: StdDuration,
    calls: usize,
    failed: usize,
    /// Summed time inside target calls, and their latencies.
    call_total: StdDuration,
    call_ms: Vec<f64>,
}

fn split(rounds: &[Round], calls: &[Call]) -> Split {
    let mut s = Split {
        rounds: rounds.len(),
        calls: calls.len(),
        failed: calls.iter().filter(|c| !c.ok).count(),
        ..Split::default()
    };
    for c in calls {
        s.call_total += c.end - c.start;
        s.call_ms.push(ms(c.end - c.start));
    }
    s.call_ms.sort_by(f64::total_cmp);
    for r in rounds {
        let last = calls
            .iter()
            .filter(|c| c.start >= r.start && c.end <= r.end)
            .map(|c| c.end)
            .max();
        match last {
            Some(last) => {
                s.act += last - r.start;
                s.apply += r.end - last;
            }
            None => s.store_only += r.end - r.start,
        }
    }
    s
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(sorted.len() * p).div_ceil(100).max(1) - 1]
}

fn describe(name: &str, s: &Split, jobs: usize) {
    println!(
        "  {name}: {} rounds, {jobs} jobs; act {:.0} ms, apply {:.0} ms, store-only rounds {:.0} ms; \
         {} target calls ({} failed), {:.0} ms inside them (p50 {:.1} / p99 {:.1} / max {:.1} ms)",
        s.rounds,
        ms(s.act),
        ms(s.apply),
        ms(s.store_only),
        s.calls,
        s.failed,
        ms(s.call_total),
        pct(&s.call_ms, 50),
        pct(&s.call_ms, 99),
        s.call_ms.last().copied().unwrap_or(f64::NAN),
    );
}

/// Runs `run_due_jobs` until no grant is in any of `states`; returns the rounds.
async fn drain(engine: &Engine, worker: &str, states: &[GrantState]) -> Vec<Round> {
    let mut rounds = Vec::new();
    let deadline = Instant::now() + StdDuration::from_secs(1_800);
    loop {
        assert!(
            Instant::now() < deadline,
            "the worker did not finish in time"
        );
        let start = Instant::now();
        let claimed = engine.run_due_jobs(worker).await.unwrap();
        let end = Instant::now();
        if claimed > 0 {
            rounds.push(Round {
                start,
                end,
                claimed,
            });
            continue;
        }
        // Nothing due: done, unless a grant still waits (for a retry, say).
        let counts = engine.store().grant_counts().await.unwrap();
        if !counts.iter().any(|(s, n)| *n > 0 && states.contains(s)) {
            return rounds;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// Accounts with `prefix` on the target; any found are removed (and counted).
async fn leftovers(raw: &Arc<dyn Connector>, prefix: &Prefix) -> usize {
    let ours: Vec<Held> = raw
        .observe()
        .await
        .unwrap()
        .into_iter()
        .filter(|h| matches!(h, Held::Account(n) if prefix.owns(n)))
        .collect();
    for h in &ours {
        raw.remove(h).await.unwrap();
    }
    ours.len()
}

async fn count_on_target(raw: &Arc<dyn Connector>, prefix: &Prefix) -> usize {
    raw.observe()
        .await
        .unwrap()
        .into_iter()
        .filter(|h| matches!(h, Held::Account(n) if prefix.owns(n)))
        .count()
}

/// A fresh store: the `--store` URL, or a new SQLite file in `dir`.
async fn open_store(args: &Args, dir: &tempfile::TempDir, tag: &str) -> (Store, String) {
    let url = args.store.clone().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            dir.path().join(format!("{tag}.db")).display()
        )
    });
    let kind = url.split_once(':').map_or("?", |(s, _)| s).to_owned();
    (Store::connect(&url).await.unwrap(), kind)
}

fn targets(p: &Place, connector: Arc<dyn Connector>, prefix: &Prefix) -> Connectors {
    let mut by_name = HashMap::new();
    by_name.insert(
        p.connector.to_owned(),
        ConnectorInstance {
            connector,
            prefix: prefix.clone(),
        },
    );
    Connectors::new(by_name)
}

// ---------------------------------------------------------------------------------------
// Throughput: 10,000 grants falling due together

struct Row {
    batch: u32,
    parallelism: usize,
    provision_per_s: f64,
    revoke_per_s: f64,
    lag_p50: i64,
    lag_p99: i64,
    lag_max: i64,
    load: String,
}

async fn throughput(
    args: &Args,
    p: &Place,
    dir: &tempfile::TempDir,
    batch: u32,
    parallelism: usize,
) -> Row {
    let prefix = fresh_prefix();
    let raw = raw_connector(p, &prefix).await;
    let timed = Arc::new(Timed {
        inner: Arc::clone(&raw),
        calls: Mutex::new(Vec::new()),
    });
    let (store, store_kind) = open_store(args, dir, &format!("tp-{batch}-{parallelism}")).await;
    let t0 = Timestamp::from_unix_millis(SystemClock.now().unix_millis() / 1_000 * 1_000).unwrap();
    let clock = Arc::new(BenchClock::stopped(t0));
    let engine = Engine::new(
        store.clone(),
        bundle(),
        clock.clone(),
        EngineConfig {
            batch,
            act_parallelism: parallelism,
            connectors: targets(p, timed.clone(), &prefix),
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let hash = engine.bundle().hash().to_owned();
    let n = args.grants;
    let load0 = load_average();
    println!(
        "throughput: {} on {store_kind}, batch {batch}, parallelism {parallelism}, {n} grants, \
         prefix {}, load {load0}",
        p.kind,
        prefix.as_str()
    );

    // Every grant lasts one hour from an activation at the stopped instant t0.
    let t = Instant::now();
    let ids = seed(&store, p, n, &hash, t0, |_| secs(3_600)).await;
    println!("  seeded in {:.0} ms", ms(t.elapsed()));

    let t = Instant::now();
    let rounds = drain(&engine, "bench", &[GrantState::Provisioning]).await;
    let provision_s = t.elapsed().as_secs_f64();
    let calls = timed.take();
    let on_target = count_on_target(&raw, &prefix).await;
    assert_eq!(on_target as u64, n, "one account per grant on the target");
    let jobs: usize = rounds.iter().map(|r| r.claimed).sum();
    println!(
        "  provisioned {n} in {provision_s:.2} s ({:.0} grants/s), {on_target} accounts on the \
         target, load {}",
        n as f64 / provision_s,
        load_average()
    );
    describe("provision", &split(&rounds, &calls), jobs);

    // All fall due together: the clock jumps to t0 + 1 h and runs on.
    let due = t0.plus(secs(3_600));
    let t = Instant::now();
    clock.run_from(due);
    let rounds = drain(
        &engine,
        "bench",
        &[GrantState::Active, GrantState::Revoking],
    )
    .await;
    let revoke_s = t.elapsed().as_secs_f64();
    let calls = timed.take();
    let jobs: usize = rounds.iter().map(|r| r.claimed).sum();
    let mut lags = Vec::with_capacity(ids.len());
    for id in &ids {
        let g = store.grant(*id).await.unwrap().unwrap();
        assert_eq!(g.state, GrantState::Revoked, "grant {id} is {:?}", g.state);
        assert_eq!(g.expires_at, Some(due));
        lags.push(due.millis_until(g.revoked_at.unwrap()));
    }
    lags.sort_unstable();
    let lag = |q: usize| lags[(lags.len() * q).div_ceil(100).max(1) - 1];
    let left = leftovers(&raw, &prefix).await;
    let load1 = load_average();
    println!(
        "  revoked {n} in {revoke_s:.2} s ({:.0} grants/s); revoked_at - expires_at p50 {} / \
         p99 {} / max {} ms; {left} accounts left on the target; retries {}; load {load1}",
        n as f64 / revoke_s,
        lag(50),
        lag(99),
        lags[lags.len() - 1],
        engine.metrics().job_retries.get(),
    );
    describe("revoke", &split(&rounds, &calls), jobs);
    assert_eq!(left, 0, "accounts were left on the target");
    store.close().await;
    Row {
        batch,
        parallelism,
        provision_per_s: n as f64 / provision_s,
        revoke_per_s: n as f64 / revoke_s,
        lag_p50: lag(50),
        lag_p99: lag(99),
        lag_max: lags[lags.len() - 1],
        load: format!("{load0} → {load1}"),
    }
}

// ---------------------------------------------------------------------------------------
// Lag: the worker on the wall clock

async fn lag(args: &Args, p: &Place, dir: &tempfile::TempDir, spread: u64) {
    let prefix = fresh_prefix();
    let raw = raw_connector(p, &prefix).await;
    let timed = Arc::new(Timed {
        inner: Arc::clone(&raw),
        calls: Mutex::new(Vec::new()),
    });
    let (store, store_kind) = open_store(args, dir, &format!("lag-{spread}")).await;
    let n = args.lag_grants;
    let tg = targets(p, timed.clone(), &prefix);
    // Provisioning runs on a stopped clock at the next whole second, so grant i expires
    // exactly `lead + i·spread/n` whole seconds after it.
    let start =
        Timestamp::from_unix_millis((SystemClock.now().unix_millis() / 1_000 + 1) * 1_000).unwrap();
    let provisioner = Engine::new(
        store.clone(),
        bundle(),
        Arc::new(ManualClock::new(start)),
        EngineConfig {
            connectors: tg.clone(),
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let hash = provisioner.bundle().hash().to_owned();
    let lead = args.lead;
    let offset = move |i: u64| lead + i * spread / n.max(1);
    println!(
        "lag: {} on {store_kind}, {n} grants, spread {spread} s, prefix {}, load {}",
        p.kind,
        prefix.as_str(),
        load_average()
    );
    let ids = seed(&store, p, n, &hash, start, |i| secs(offset(i))).await;
    let t = Instant::now();
    drain(&provisioner, "provisioner", &[GrantState::Provisioning]).await;
    let _ = timed.take();
    let first_due = start.plus(secs(lead));
    let margin = SystemClock.now().millis_until(first_due);
    println!(
        "  provisioned in {:.2} s; the first grant falls due {margin} ms from now",
        t.elapsed().as_secs_f64()
    );
    assert!(
        margin > 1_500,
        "provisioning took too long for --lead {lead}: raise it"
    );

    // The worker on the wall clock, as `warden serve` runs it.
    let worker = Engine::new(
        store.clone(),
        bundle(),
        Arc::new(SystemClock),
        EngineConfig {
            connectors: tg,
            ..EngineConfig::default()
        },
    )
    .await
    .unwrap();
    let audit_from = store
        .audit_after(0, u32::MAX)
        .await
        .unwrap()
        .last()
        .map_or(0, |e| e.seq);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = {
        let w = worker.clone();
        tokio::spawn(async move {
            w.run_worker("bench-worker".into(), StdDuration::from_secs(1), stopped)
                .await;
        })
    };
    let wanted: HashSet<GrantId> = ids.iter().copied().collect();
    let deadline = Instant::now() + StdDuration::from_secs(lead + spread + 600);
    let mut after = audit_from;
    let mut revoked = 0;
    let mut lag_ms_events = Vec::new();
    while revoked < n {
        assert!(
            Instant::now() < deadline,
            "only {revoked} of {n} revoked in time"
        );
        let events = store.audit_after(after, 5_000).await.unwrap();
        if events.is_empty() {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            continue;
        }
        for e in &events {
            after = e.seq;
            if e.action == "grant.revoked" && e.grant_id.is_some_and(|g| wanted.contains(&g)) {
                revoked += 1;
                if let Some(l) = e.data.get("lag_ms").and_then(serde_json::Value::as_i64) {
                    lag_ms_events.push(l);
                }
            }
        }
    }
    let _sent = stop.send(true);
    running.await.unwrap();
    let calls = timed.take();

    let mut lags = Vec::with_capacity(ids.len());
    for id in &ids {
        let g = store.grant(*id).await.unwrap().unwrap();
        assert_eq!(g.state, GrantState::Revoked);
        lags.push(g.expires_at.unwrap().millis_until(g.revoked_at.unwrap()));
    }
    lags.sort_unstable();
    lag_ms_events.sort_unstable();
    assert_eq!(lags, lag_ms_events, "the store and the audit events agree");
    let q = |p: usize| lags[(lags.len() * p).div_ceil(100).max(1) - 1];
    let left = leftovers(&raw, &prefix).await;
    let mut call_ms: Vec<f64> = calls.iter().map(|c| ms(c.end - c.start)).collect();
    call_ms.sort_by(f64::total_cmp);
    println!(
        "  lag over {} grants (spread {spread} s): p50 {} ms, p90 {} ms, p99 {} ms, max {} ms, \
         min {} ms; {} removals (p50 {:.1} / p99 {:.1} ms); {left} accounts left; retries {}; \
         load {}",
        lags.len(),
        q(50),
        q(90),
        q(99),
        lags[lags.len() - 1],
        lags[0],
        calls.len(),
        pct(&call_ms, 50),
        pct(&call_ms, 99),
        worker.metrics().job_retries.get(),
        load_average()
    );
    assert_eq!(left, 0, "accounts were left on the target");
    store.close().await;
}

// ---------------------------------------------------------------------------------------
// Connector instances side by side: whether more admin sessions would add throughput

/// Provisions then removes `count` accounts straight through the connector, split over
/// `instances` connector instances (each with its own admin session) working at once.
async fn instances(p: &Place, count: u64, instances: usize) {
    let prefix = fresh_prefix();
    let mut connectors = Vec::new();
    for _ in 0..instances {
        connectors.push(raw_connector(p, &prefix).await);
    }
    let until = SystemClock.now().plus(secs(3_600));
    let specs: Vec<Spec> = (0..count)
        .map(|_| Spec {
            account: warden_connect::AccountName::derive(&prefix, GrantId::new().as_uuid(), 1),
            subject: IdentityId::parse("alice").unwrap(),
            grants: vec![match p.kind {
                "redis" => "+@read".to_owned(),
                _ => "pg_read_all_data".to_owned(),
            }],
            valid_until: until,
        })
        .collect();
    let specs = Arc::new(specs);
    for phase in ["provision", "remove"] {
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for (i, c) in connectors.iter().enumerate() {
            let (c, specs) = (Arc::clone(c), Arc::clone(&specs));
            set.spawn(async move {
                for spec in specs.iter().skip(i).step_by(instances) {
                    if phase == "provision" {
                        c.provision(spec).await.unwrap();
                    } else {
                        c.remove(&Held::Account(spec.account.as_str().to_owned()))
                            .await
                            .unwrap();
                    }
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "instances: {} {phase} {count} accounts with {instances} instance(s) at once: \
             {s:.2} s ({:.0}/s), load {}",
            p.kind,
            count as f64 / s,
            load_average()
        );
    }
    let left = leftovers(&connectors[0], &prefix).await;
    assert_eq!(left, 0, "accounts were left on the target");
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let p = place(&args.target);
    println!(
        "machine: {} cores, load {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load_average()
    );
    let dir = tempfile::tempdir().unwrap();
    if matches!(args.mode.as_str(), "throughput" | "both") {
        let mut rows = Vec::new();
        for &batch in &args.batch {
            for &parallelism in &args.parallelism {
                rows.push(throughput(&args, &p, &dir, batch, parallelism).await);
            }
        }
        println!(
            "\n| target | batch | act_parallelism | provision grants/s | revoke grants/s | \
             lag p50 / p99 / max (ms) | load |"
        );
        println!("|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.0} | {:.0} | {} / {} / {} | {} |",
                p.kind,
                r.batch,
                r.parallelism,
                r.provision_per_s,
                r.revoke_per_s,
                r.lag_p50,
                r.lag_p99,
                r.lag_max,
                r.load
            );
        }
    }
    if matches!(args.mode.as_str(), "lag" | "both") {
        for &spread in &args.spread {
            lag(&args, &p, &dir, spread).await;
        }
    }
    if args.mode == "instances" {
        for &k in &args.parallelism {
            instances(&p, args.lag_grants, k).await;
        }
    }
    dir.close().unwrap();
}
