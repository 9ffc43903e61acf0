//! Provision and revoke latency of the connector against the bare statements on the same
//! server, all as the same least-privileged admin. Two kinds of bare rows: the raw ones
//! (`CREATE ROLE` with a verifier computed beforehand, a lone `DROP ROLE`) and the bare
//! equivalents, the least an admin would send by hand for the same guarantee (compute the
//! verifier, then create and grant; lock, terminate the sessions, drop), each as one batch
//! without the connector's checks. Needs `WARDEN_TEST_POSTGRES_URL` (a superuser URL, for
//! the fixture); without it, skips.
//!
//! After criterion's rows, a paired run times each connector operation and its bare
//! counterparts back to back, in alternating order, and prints the medians and the median
//! of the differences: on a shared machine whose load drifts between criterion's rows, the
//! paired difference is the figure to trust for the overhead.
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
use tokio_postgres::Client;
use warden_connect::conformance::{self, Setup};
use warden_connect::{AccountName, Connector};
use warden_connect_postgres::PostgresConnector;

/// Times `f` with the bench's clock (benchmarks are the one place wall time is the point).
#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn timed<F: FnOnce()>(f: F) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// One timed operation, named.
type Row = (&'static str, fn(&World) -> Duration);

/// Everything one timed operation needs.
struct World {
    rt: Runtime,
    connector: PostgresConnector,
    setup: Setup,
    /// The admin role's own session, for the bare statements.
    admin: Client,
    /// The group role every account is made a member of.
    group: String,
    /// A verifier computed once, for the raw `CREATE ROLE` row.
    verifier: String,
}

impl World {
    fn account(&self) -> AccountName {
        self.setup.spec(conformance::now()).account
    }

    fn bare(&self, sql: &str) {
        self.rt.block_on(self.admin.batch_execute(sql)).unwrap();
    }

    fn create_raw(&self, name: &AccountName) -> String {
        format!(
            "CREATE ROLE {name} LOGIN PASSWORD '{}'; GRANT {} TO {name}",
            self.verifier, self.group
        )
    }

    fn connector_provision(&self) -> Duration {
        let spec = self.setup.spec(conformance::now());
        let t = timed(|| {
            black_box(self.rt.block_on(self.connector.provision(&spec)).unwrap());
        });
        self.rt.block_on(self.connector.revoke(&spec)).unwrap();
        t
    }

    fn bare_create(&self) -> Duration {
        let name = self.account();
        let create = self.create_raw(&name);
        let t = timed(|| self.bare(&create));
        self.bare(&format!("DROP ROLE {name}"));
        t
    }

    fn bare_equivalent_provision(&self) -> Duration {
        let name = self.account();
        let password = warden_connect::generate_password().unwrap();
        let t = timed(|| {
            // The verifier computed the way the connector does, so the two rows differ
            // only by the connector's checks and round trips.
            let verifier = warden_connect_postgres::scram_verifier(&password).unwrap();
            self.bare(&format!(
                "CREATE ROLE {name} LOGIN CONNECTION LIMIT 10 PASSWORD '{verifier}' \
                 VALID UNTIL 'infinity'; GRANT {} TO {name}",
                self.group
            ));
        });
        self.bare(&format!("DROP ROLE {name}"));
        t
    }

    fn connector_revoke(&self) -> Duration {
        let spec = self.setup.spec(conformance::now());
        self.rt.block_on(self.connector.provision(&spec)).unwrap();
        timed(|| self.rt.block_on(self.connector.revoke(&spec)).unwrap())
    }

    fn bare_drop(&self) -> Duration {
        let name = self.account();
        self.bare(&self.create_raw(&name));
        let drop = format!("DROP ROLE {name}");
        timed(|| self.bare(&drop))
    }

    fn bare_equivalent_revoke(&self) -> Duration {
        let name = self.account();
        self.bare(&self.create_raw(&name));
        // Lock, end the sessions, drop: one batch, one commit, nothing checked.
        let revoke = format!(
            "ALTER ROLE {name} NOLOGIN; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'; \
             DROP ROLE {name}"
        );
        timed(|| self.bare(&revoke))
    }
}

fn criterion_rows(c: &mut Criterion, w: &World) {
    let mut group = c.benchmark_group("postgres");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    let rows: [Row; 6] = [
        ("connector provision", World::connector_provision),
        ("bare CREATE ROLE", World::bare_create),
        (
            "bare equivalent provision",
            World::bare_equivalent_provision,
        ),
        ("connector revoke", World::connector_revoke),
        ("bare DROP ROLE", World::bare_drop),
        ("bare equivalent revoke", World::bare_equivalent_revoke),
    ];
    for (name, op) in rows {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| op(w)).sum());
        });
    }
    group.bench_function("SCRAM verifier, driver", |b| {
        b.iter(|| postgres_protocol::password::scram_sha_256(black_box(b"0123456789abcdef")));
    });
    let password = warden_connect::generate_password().unwrap();
    group.bench_function("SCRAM verifier, connector", |b| {
        b.iter(|| warden_connect_postgres::scram_verifier(black_box(&password)).unwrap());
    });
    group.finish();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `ours` and each of `bare` back to back `rounds` times, alternating which goes
/// first, and prints the medians and the median paired difference.
fn paired(w: &World, label: &str, ours: fn(&World) -> Duration, bare: &[Row]) {
    const ROUNDS: usize = 150;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut mine = Vec::with_capacity(ROUNDS);
    let mut theirs = vec![Vec::with_capacity(ROUNDS); bare.len()];
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            mine.push(ms(ours(w)));
        }
        for (i, (_, op)) in bare.iter().enumerate() {
            theirs[i].push(ms(op(w)));
        }
        if round % 2 == 1 {
            mine.push(ms(ours(w)));
        }
    }
    eprintln!(
        "paired, {ROUNDS} rounds: {label} median {:.2} ms",
        median(mine.clone())
    );
    for ((name, _), t) in bare.iter().zip(theirs) {
        let diff: Vec<f64> = mine.iter().zip(&t).map(|(a, b)| a - b).collect();
        eprintln!(
            "  {name}: median {:.2} ms; {label} minus it, median of pairs {:.2} ms",
            median(t),
            median(diff)
        );
    }
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
    let w = World {
        rt,
        connector,
        setup,
        admin,
        group: fixture.reader.clone(),
        verifier: postgres_protocol::password::scram_sha_256(b"bench-password-0123456789"),
    };

    criterion_rows(c, &w);
    paired(
        &w,
        "connector provision",
        World::connector_provision,
        &[
            ("bare CREATE ROLE", World::bare_create),
            (
                "bare equivalent provision",
                World::bare_equivalent_provision,
            ),
        ],
    );
    paired(
        &w,
        "connector revoke",
        World::connector_revoke,
        &[
            ("bare DROP ROLE", World::bare_drop),
            ("bare equivalent revoke", World::bare_equivalent_revoke),
        ],
    );

    let World { rt, admin, .. } = w;
    drop(admin);
    rt.block_on(fixture.cleanup());
}

criterion_group!(benches, bench);
criterion_main!(benches);
