//! Criterion benchmarks of `decide()` and of bundle loading, over the synthetic bundle of
//! `benches/synthetic` (1,000 roles, 500 policies, 10,000 identities).
//!
//! `cargo bench -p warden-policy --bench decide`. For p99 and memory, see the
//! `decide_latency` example.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "a benchmark, not library code; criterion's macros generate undocumented items"
)]

#[allow(dead_code, reason = "shared with the example, which uses other parts")]
mod synthetic;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use warden_model::Timestamp;
use warden_policy::{Bundle, DecisionInput};

/// Requests in the fixed mix.
const CASES: usize = 1_000;

fn decisions(c: &mut Criterion) {
    let world = synthetic::generate(synthetic::SEED);
    let bundle = Bundle::from_files(world.files.clone()).expect("the synthetic bundle loads");
    let cases = world.cases(&bundle, CASES);
    let at: Timestamp = synthetic::AT.parse().expect("valid instant");

    let mut group = c.benchmark_group("decide");
    // One iteration is one decision; the whole mix cycles through.
    let mut run = |name: &str, selected: Vec<&synthetic::Case>| {
        assert!(!selected.is_empty(), "no cases for {name}");
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                let case = selected[i % selected.len()];
                i += 1;
                black_box(bundle.decide(&DecisionInput {
                    request: black_box(&case.request),
                    grants: &case.grants,
                    open_reviews: &[],
                    at,
                }))
            });
        });
    };
    run("mix", cases.iter().collect());
    for category in [
        "grant",
        "approval_required+second_check",
        "right_sized",
        "break_glass",
        "deny:not_permitted",
        "deny:second_check_failed",
        "deny:third_party_expired",
    ] {
        run(
            category,
            cases.iter().filter(|c| c.category == category).collect(),
        );
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let files = synthetic::bundle_files();
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("from_files", |b| {
        b.iter_batched(
            || files.clone(),
            |f| Bundle::from_files(f).expect("the synthetic bundle loads"),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, decisions, load);
criterion_main!(benches);
