//! Per-decision latency percentiles (median, p90, p99, p99.9, max), bundle load time and
//! resident memory for the synthetic bundle of `benches/synthetic`: what criterion's
//! mean and median leave out.
//!
//! `cargo run --release -p warden-policy --example decide_latency [decisions]`
//!
//! For instruction counts, run it under callgrind with collection limited to the timed
//! decisions or to one load (the case selection and the equivalence check also decide):
//! `valgrind --tool=callgrind --toggle-collect='*decide_latency::timed_decisions*'
//! target/release/examples/decide_latency 2000` (or `--toggle-collect='*decide_latency::load*'`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "a measuring program, not library code"
)]

#[allow(dead_code, reason = "shared with the bench, which uses other parts")]
#[path = "../benches/synthetic/mod.rs"]
mod synthetic;

/// The allocator `warden` runs with, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use warden_model::Timestamp;
use warden_policy::{Bundle, DecisionInput, Evaluation};

/// Runs `f` and returns its result with the wall-clock time it took.
#[expect(
    clippy::disallowed_methods,
    reason = "measuring elapsed time is the point of this program; decisions never read a clock"
)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// `VmRSS` and `VmHWM` from `/proc/self/status`, in KiB (zero where unavailable).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One `Bundle::from_files`, kept out of line so callgrind can collect just this.
#[inline(never)]
fn load(files: &[warden_policy::SourceFile]) -> Bundle {
    Bundle::from_files(files.to_vec()).expect("the synthetic bundle loads")
}

/// Decides `cases` cycled `decisions` times, timing each; kept out of line so callgrind
/// can collect just this.
#[inline(never)]
fn timed_decisions<'c>(
    bundle: &Bundle,
    cases: &'c [synthetic::Case],
    decisions: usize,
    at: Timestamp,
) -> (Vec<u64>, BTreeMap<&'c str, Vec<u64>>, Duration) {
    let mut samples: Vec<u64> = Vec::with_capacity(decisions);
    let mut by_category: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let (_, total) = timed(|| {
        for c in cases.iter().cycle().take(decisions) {
            let input = DecisionInput {
                request: &c.request,
                grants: &c.grants,
                open_reviews: &[],
                at,
            };
            let (d, t) = timed(|| bundle.decide(black_box(&input)));
            black_box(d);
            let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
            samples.push(ns);
            by_category.entry(c.category).or_default().push(ns);
        }
    });
    (samples, by_category, total)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The `q`-quantile of sorted `samples` (nearest rank).
fn quantile(samples: &[u64], q: f64) -> u64 {
    let rank = ((samples.len() as f64) * q).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1000.0)
}

fn main() {
    let decisions: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the argument is a number of decisions"))
        .unwrap_or(200_000);
    let loads = if decisions < 10_000 { 1 } else { 7 };

    let (rss_start, _) = memory();
    let world = synthetic::generate(synthetic::SEED);
    let files = world.files.clone();
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    let (rss_before, _) = memory();
    let (bundle, first_load) = timed(|| load(&files));
    let (rss_after, hwm_after) = memory();
    println!(
        "bundle: {} roles, {} policies, {} identities, {} systems, {} groups, {} tasks, {} sod rules; {} files, {:.1} KiB",
        bundle.catalog.roles.len(),
        bundle.policy_ids().len(),
        bundle.catalog.identities.len(),
        bundle.catalog.systems.len(),
        bundle.catalog.groups.len(),
        bundle.catalog.tasks.len(),
        bundle.catalog.sod.len(),
        files.len(),
        bytes as f64 / 1024.0
    );
    println!(
        "memory: VmRSS {} at start, {} with the generated files, {} with the bundle loaded (bundle: +{}); VmHWM {}",
        mib(rss_start),
        mib(rss_before),
        mib(rss_after),
        mib(rss_after.saturating_sub(rss_before)),
        mib(hwm_after)
    );

    let mut load_times = vec![first_load];
    for _ in 1..loads {
        let (b, t) = timed(|| load(&files));
        drop(black_box(b));
        load_times.push(t);
    }
    load_times.sort();
    println!(
        "load (Bundle::from_files: parse, validate, index), {} runs: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        load_times.len(),
        load_times[load_times.len() / 2].as_secs_f64() * 1e3,
        load_times[0].as_secs_f64() * 1e3,
        load_times[load_times.len() - 1].as_secs_f64() * 1e3
    );

    let (cases, prep) = timed(|| world.cases(&bundle, 1_000));
    let mut mix: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *mix.entry(c.category).or_default() += 1;
    }
    println!(
        "requests: {} fixed cases (chosen in {:.1} s): {}",
        cases.len(),
        prep.as_secs_f64(),
        mix.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let at: Timestamp = synthetic::AT.parse().expect("valid instant");
    let decide = |c: &synthetic::Case| {
        bundle.decide(&DecisionInput {
            request: &c.request,
            grants: &c.grants,
            open_reviews: &[],
            at,
        })
    };
    // The scope index must not change a single decision.
    let differ = cases
        .iter()
        .filter(|c| {
            let input = DecisionInput {
                request: &c.request,
                grants: &c.grants,
                open_reviews: &[],
                at,
            };
            bundle.decide(&input) != bundle.decide_with(&input, Evaluation::Full)
        })
        .count();
    assert_eq!(differ, 0, "indexed and full evaluation disagree");
    // Warm up caches and the allocator.
    for c in cases.iter().cycle().take(cases.len() * 2) {
        black_box(decide(c));
    }
    let (mut samples, by_category, total) = timed_decisions(&bundle, &cases, decisions, at);
    samples.sort_unstable();
    println!(
        "decide(), {} decisions in {:.2} s ({:.0}/s on one thread): median {}, p90 {}, p99 {}, p99.9 {}, max {}, mean {}",
        samples.len(),
        total.as_secs_f64(),
        samples.len() as f64 / total.as_secs_f64(),
        us(quantile(&samples, 0.5)),
        us(quantile(&samples, 0.9)),
        us(quantile(&samples, 0.99)),
        us(quantile(&samples, 0.999)),
        us(samples[samples.len() - 1]),
        us(samples.iter().sum::<u64>() / samples.len() as u64)
    );
    println!("by category (median / p99):");
    for (category, mut s) in by_category {
        s.sort_unstable();
        println!(
            "  {category:<32} {:>6} decisions  {:>9} / {:>9}",
            s.len(),
            us(quantile(&s, 0.5)),
            us(quantile(&s, 0.99))
        );
    }
}
