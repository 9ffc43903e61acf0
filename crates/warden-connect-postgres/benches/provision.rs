//! Provision and revoke latency of the connector against the bare `CREATE ROLE` and
//! `DROP ROLE` statements on the same server, both as the same least-privileged admin.
//! Needs `WARDEN_TEST_POSTGRES_URL` (a superuser URL, for the fixture); without it, skips.
//!
//! `cargo bench -p warden-connect-postgres --bench provision`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    missing_docs,
    reason = "benchmark code"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use warden_connect::Connector;
use warden_connect::conformance::{self, Setup};

/// Times `f` with the bench's clock (benchmarks are the one place wall time is the point).
#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn timed<F: FnOnce()>(f: F) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        eprintln!("skipped: WARDEN_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = Runtime::new().unwrap();
    let fixture = rt.block_on(support::Fixture::new(&url));
    let connector = rt.block_on(fixture.connector());
    let setup: Setup = fixture.setup(&[&fixture.reader]);
    // The bare statements run as the same admin role, on its own session.
    let admin = rt.block_on(async {
        let mut config = tokio_postgres::Config::from_str(&url).unwrap();
        config.user(&fixture.admin);
        support::open(&config).await.unwrap()
    });
    let verifier = postgres_protocol::password::scram_sha_256(b"bench-password-0123456789");

    let mut group = c.benchmark_group("postgres");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));

    group.bench_function("connector provision", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let spec = setup.spec(conformance::now());
                total += timed(|| {
                    black_box(rt.block_on(connector.provision(&spec)).unwrap());
                });
                rt.block_on(connector.revoke(&spec)).unwrap();
            }
            total
        });
    });

    group.bench_function("connector revoke", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let spec = setup.spec(conformance::now());
                rt.block_on(connector.provision(&spec)).unwrap();
                total += timed(|| rt.block_on(connector.revoke(&spec)).unwrap());
            }
            total
        });
    });

    group.bench_function("bare CREATE ROLE", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let name = setup.spec(conformance::now()).account;
                let create = format!(
                    "CREATE ROLE {name} LOGIN PASSWORD '{verifier}'; GRANT {} TO {name}",
                    fixture.reader
                );
                total += timed(|| rt.block_on(admin.batch_execute(&create)).unwrap());
                rt.block_on(admin.batch_execute(&format!("DROP ROLE {name}")))
                    .unwrap();
            }
            total
        });
    });

    group.bench_function("bare DROP ROLE", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let name = setup.spec(conformance::now()).account;
                let create = format!(
                    "CREATE ROLE {name} LOGIN PASSWORD '{verifier}'; GRANT {} TO {name}",
                    fixture.reader
                );
                rt.block_on(admin.batch_execute(&create)).unwrap();
                total += timed(|| {
                    rt.block_on(admin.batch_execute(&format!("DROP ROLE {name}")))
                        .unwrap();
                });
            }
            total
        });
    });

    group.bench_function("SCRAM verifier", |b| {
        b.iter(|| postgres_protocol::password::scram_sha_256(black_box(b"0123456789abcdef")));
    });
    group.finish();

    drop(admin);
    rt.block_on(fixture.cleanup());
}

criterion_group!(benches, bench);
criterion_main!(benches);
