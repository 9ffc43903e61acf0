//! Measures the connector's add (provision) and remove (revoke, confirmed) latency against
//! the test directory: `cargo run --release -p warden-connect-ldap --example ldap_latency [N]`
//! with `WARDEN_TEST_LDAP_URL` set (`. scripts/services`). Compare with bare `ldapmodify`
//! as in `docs/connectors/ldap.md`.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a measuring tool, not library code"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use warden_connect::conformance::{Setup, now};
use warden_connect::{Connector, Prefix, Settings};
use warden_model::IdentityId;

#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time"
)]
fn instant() -> Instant {
    Instant::now()
}

fn summary(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    let mean = d.iter().sum::<Duration>().as_secs_f64() * 1e3 / d.len() as f64;
    println!(
        "{name:<28} n={:<5} mean {mean:.3} ms  p50 {:.3} ms  p95 {:.3} ms  max {:.3} ms",
        d.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

#[tokio::main]
async fn main() {
    let url = std::env::var("WARDEN_TEST_LDAP_URL").expect("WARDEN_TEST_LDAP_URL is not set");
    let n: usize = std::env::args()
        .nth(1)
        .map_or(500, |a| a.parse().expect("N is a number"));
    let group = std::env::var("LDAP_GROUP")
        .unwrap_or_else(|_| "cn=payments,ou=groups,dc=warden,dc=test".into());
    let settings = Settings {
        name: "latency".into(),
        url: SecretString::from(url),
        prefix: Prefix::default(),
        options: BTreeMap::from([
            (
                "users".into(),
                "uid={subject},ou=people,dc=warden,dc=test".into(),
            ),
            ("groups_base".into(), "ou=groups,dc=warden,dc=test".into()),
        ]),
    };
    let c = warden_connect_ldap::connect(&settings)
        .await
        .expect("connect");
    let setup = Setup {
        prefix: Prefix::default(),
        subject: IdentityId::parse("bob").expect("subject"),
        grants: vec![group],
    };
    let spec = setup.spec(now());
    // The first call connects and binds; it is timed on its own.
    let t = instant();
    c.provision(&spec).await.expect("provision");
    let first = t.elapsed();
    c.revoke(&spec).await.expect("revoke");
    let (mut add, mut remove) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = instant();
        c.provision(&spec).await.expect("provision");
        add.push(t.elapsed());
        let t = instant();
        c.revoke(&spec).await.expect("revoke");
        remove.push(t.elapsed());
    }
    println!(
        "first provision (connect + bind + add): {:.3} ms",
        first.as_secs_f64() * 1e3
    );
    summary("provision (lookup + add)", add);
    summary("revoke (delete + confirm)", remove);
}
