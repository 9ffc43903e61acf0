//! The decision core against bare Cedar, in the same run: `decide()` over the synthetic
//! bundle's 1,000 requests against `cedar_policy::Authorizer::is_authorized` asking the same
//! questions over the same entities, and `Bundle::from_files` against Cedar alone parsing,
//! strictly validating and loading the same policies, schema and entities.
//!
//! `cargo run --release -p warden-policy --example core_bench -- decide|load [--quick]`
//! (`scripts/bench` runs both and prints one table).
//!
//! Besides free text, it prints one `ROW|measure|warden|bare|ratio|target|verdict` line per
//! figure for `scripts/bench` to gather.
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

/// The allocator `warden` runs with, so the figures are the server's; bare Cedar, in the
/// same process, runs with it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use warden_model::Timestamp;
use warden_policy::bare::{BareLoad, Over, Questions};
use warden_policy::{Bundle, DecisionInput};

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

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The `q`-quantile of sorted `samples` (nearest rank).
fn quantile(samples: &[u64], q: f64) -> u64 {
    let rank = ((samples.len() as f64) * q).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn mean(samples: &[u64]) -> f64 {
    samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64
}

fn median_f(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn us(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

fn ms(ns: f64) -> String {
    format!("{:.1} ms", ns / 1e6)
}

/// One line for `scripts/bench`'s table.
fn row(measure: &str, warden: &str, bare: &str, ratio: &str, target: &str, met: Option<bool>) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "",
    };
    println!("ROW|{measure}|{warden}|{bare}|{ratio}|{target}|{verdict}");
}

/// Runs `one` for each of `0..n`, timing each call into `samples`; returns the total in ns.
fn pass(n: usize, samples: &mut Vec<u64>, mut one: impl FnMut(usize)) -> u64 {
    let mut total = 0;
    for i in 0..n {
        let ((), t) = timed(|| one(i));
        samples.push(ns(t));
        total += ns(t);
    }
    total
}

fn decide(quick: bool) {
    let rounds = if quick { 6 } else { 30 };
    let world = synthetic::generate(synthetic::SEED);
    let bundle = Bundle::from_files(world.files.clone()).expect("the synthetic bundle loads");
    let cases = world.cases(&bundle, 1_000);
    let at: Timestamp = synthetic::AT.parse().expect("valid instant");
    let inputs: Vec<DecisionInput<'_>> = cases
        .iter()
        .map(|c| DecisionInput {
            request: &c.request,
            grants: &c.grants,
            open_reviews: &[],
            at,
        })
        .collect();
    let questions = Questions::record(&bundle, &inputs);
    println!(
        "decide: {} decisions asking {} Cedar questions ({:.2} per decision; slices of {:.1} policies on average, {} in the full set), {rounds} rounds",
        questions.cases(),
        questions.count(),
        questions.count() as f64 / questions.cases() as f64,
        questions.mean_slice(),
        bundle.policy_ids().len(),
    );
    // Warm-up: caches, the allocator, the branch predictors.
    for (n, input) in inputs.iter().enumerate() {
        black_box(bundle.decide(input));
        black_box(questions.ask(n, Over::Full));
        black_box(questions.ask(n, Over::Slice));
    }
    let mut warden = Vec::with_capacity(rounds * inputs.len());
    let mut bare_full = Vec::with_capacity(rounds * inputs.len());
    let mut bare_slice = Vec::with_capacity(rounds * inputs.len());
    let mut ratios_full = Vec::with_capacity(rounds);
    let mut ratios_slice = Vec::with_capacity(rounds);
    // Each round runs three passes over the 1,000 inputs, one per side, in an order that
    // turns from round to round, so that no side always follows another. A pass asks one
    // side the 1,000 questions in a row, as a server deciding requests would: interleaving
    // the sides per decision made each decision follow a full-set evaluation that had
    // pushed the bundle out of the caches, and let each slice question follow the decision
    // that had just warmed them.
    for round in 0..rounds {
        let (mut w, mut f, mut s) = (0u64, 0u64, 0u64);
        for side in 0..3 {
            match (round + side) % 3 {
                0 => {
                    w += pass(inputs.len(), &mut warden, |n| {
                        black_box(bundle.decide(black_box(&inputs[n])));
                    });
                }
                1 => {
                    f += pass(inputs.len(), &mut bare_full, |n| {
                        black_box(questions.ask(black_box(n), Over::Full));
                    });
                }
                _ => {
                    s += pass(inputs.len(), &mut bare_slice, |n| {
                        black_box(questions.ask(black_box(n), Over::Slice));
                    });
                }
            }
        }
        ratios_full.push(w as f64 / f.max(1) as f64);
        ratios_slice.push(w as f64 / s.max(1) as f64);
    }
    let (min_f, max_f) = ratios_full
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let (min_s, max_s) = ratios_slice
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let ratio_full = median_f(&mut ratios_full);
    let ratio_slice = median_f(&mut ratios_slice);
    let (mw, mf, ms_) = (mean(&warden), mean(&bare_full), mean(&bare_slice));
    warden.sort_unstable();
    bare_full.sort_unstable();
    bare_slice.sort_unstable();
    row(
        "decision, mean (vs bare Cedar, full policy set)",
        &us(mw),
        &us(mf),
        &format!("{ratio_full:.2}× (rounds {min_f:.2}–{max_f:.2})"),
        "≤ 3×",
        Some(ratio_full <= 3.0),
    );
    row(
        "decision, mean (vs bare Cedar, same slices)",
        &us(mw),
        &us(ms_),
        &format!("{ratio_slice:.2}× (rounds {min_s:.2}–{max_s:.2})"),
        "≤ 3×",
        Some(ratio_slice <= 3.0),
    );
    let p50 = quantile(&warden, 0.5) as f64;
    let p99 = quantile(&warden, 0.99) as f64;
    row(
        "decision, p50",
        &us(p50),
        &format!(
            "{} / {}",
            us(quantile(&bare_full, 0.5) as f64),
            us(quantile(&bare_slice, 0.5) as f64)
        ),
        "",
        "≤ 20 µs",
        Some(p50 <= 20_000.0),
    );
    row(
        "decision, p99",
        &us(p99),
        &format!(
            "{} / {}",
            us(quantile(&bare_full, 0.99) as f64),
            us(quantile(&bare_slice, 0.99) as f64)
        ),
        "",
        "≤ 50 µs",
        Some(p99 <= 50_000.0),
    );
}

fn load(quick: bool) {
    let runs = if quick { 3 } else { 11 };
    let files = synthetic::bundle_files();
    let bundle = Bundle::from_files(files.clone()).expect("the synthetic bundle loads");
    let bare = BareLoad::of(&bundle).expect("the bundle converts to Cedar's formats");
    drop(bundle);
    let mut warden = Vec::with_capacity(runs);
    let mut cedar = Vec::with_capacity(runs);
    let mut ratios = Vec::with_capacity(runs);
    for _ in 0..runs {
        let input = files.clone();
        let (b, t) = timed(|| Bundle::from_files(input).expect("the synthetic bundle loads"));
        drop(black_box(b));
        let (n, c) = timed(|| bare.run().expect("Cedar loads the same bundle"));
        black_box(n);
        warden.push(ns(t));
        cedar.push(ns(c));
        ratios.push(ns(t) as f64 / ns(c).max(1) as f64);
    }
    println!("load: {runs} runs of each, alternating");
    warden.sort_unstable();
    cedar.sort_unstable();
    let median = |v: &[u64]| v[v.len() / 2] as f64;
    let ratio = median_f(&mut ratios);
    row(
        "bundle load, median (vs Cedar parse + strict validation + entities)",
        &format!("{} (min {})", ms(median(&warden)), ms(warden[0] as f64)),
        &format!("{} (min {})", ms(median(&cedar)), ms(cedar[0] as f64)),
        &format!("{ratio:.2}×"),
        "≤ 150 ms",
        Some(median(&warden) <= 150e6),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    match args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
    {
        Some("decide") => decide(quick),
        Some("load") => load(quick),
        _ => panic!("usage: core_bench decide|load [--quick]"),
    }
}
