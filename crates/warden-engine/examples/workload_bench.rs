//! Workload sign-in latency: verifying a CI job's OIDC token (RS256 and ES256), finding
//! the one workload that pins its claims, and deciding its request against the example
//! bundle — each iteration with its own freshly signed token. Prints p50, p90, p99 and max
//! for the whole path and for `decide()` alone. Keys are cached after the first token, as
//! in a running server; the key set is read from a file, so no network is timed.
//!
//! `cargo run --release -p warden-engine --example workload_bench [iterations]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "a measuring program, not library code"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration as StdDuration;

use serde_json::json;
use warden_engine::workload::{WorkloadAsk, request_of};
use warden_model::{Duration, RoleId, Timestamp};
use warden_oidc::testing::{Signer, jwks};
use warden_oidc::{IssuerConfig, Verifier};
use warden_policy::{Bundle, DecisionInput};

const ISSUER: &str = "https://token.actions.githubusercontent.com";

#[expect(
    clippy::disallowed_methods,
    reason = "measuring elapsed time is the point of this program"
)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

fn percentiles(label: &str, mut samples: Vec<StdDuration>) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1e6
    };
    println!(
        "{label:<28} n={:<6} p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().expect("iterations is a number"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bundle =
        Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap();
    let rsa = Signer::rs256();
    let ec = Signer::es256("ec-1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, jwks(&[&rsa, &ec])).unwrap();
    let verifier = Verifier::new(vec![IssuerConfig {
        issuer: ISSUER.into(),
        jwks_url: None,
        jwks_file: Some(file),
        audience: "warden".into(),
        max_token_age: Duration::parse("10m").unwrap(),
    }])
    .unwrap();
    let at = Timestamp::parse("2026-11-29T10:00:00Z").unwrap();
    let t = at.unix_seconds();
    let role = RoleId::parse("session-cache.read").unwrap();

    for (name, signer) in [("RS256", &rsa), ("ES256", &ec)] {
        // Signing is the platform's work, not Warden's: done before the clock starts.
        let tokens: Vec<String> = (0..iterations)
            .map(|i| {
                signer.sign(&json!({
                    "iss": ISSUER, "aud": "warden", "jti": format!("{name}-{i}"),
                    "sub": "repo:northwind/payments:environment:prod",
                    "iat": t, "nbf": t, "exp": t + 300,
                    "repository": "northwind/payments", "ref": "refs/heads/main",
                    "environment": "prod", "workflow": "release",
                }))
            })
            .collect();
        // Warm the key cache, as the first token of a running server does.
        runtime.block_on(verifier.verify(&tokens[0], at)).unwrap();
        let mut whole = Vec::with_capacity(iterations);
        let mut decide_only = Vec::with_capacity(iterations);
        for token in &tokens {
            let start = now();
            let verified = runtime
                .block_on(verifier.verify(black_box(token), at))
                .unwrap();
            let pinned = bundle.catalog.workloads_pinned(
                &verified.issuer,
                &verified.subject,
                &verified.claims,
            );
            let workload = pinned[0].id.clone();
            let request = request_of(
                &workload,
                &verified,
                WorkloadAsk {
                    role: Some(role.clone()),
                    purpose: "smoke test".into(),
                    ..WorkloadAsk::default()
                },
            )
            .unwrap();
            let decided = now();
            let d = bundle.decide(&DecisionInput {
                request: &request,
                grants: &[],
                open_reviews: &[],
                at,
            });
            let end = now();
            assert_eq!(d.outcome.as_str(), "grant");
            whole.push(end - start);
            decide_only.push(end - decided);
        }
        percentiles(&format!("{name} verify+match+decide"), whole);
        percentiles(&format!("{name} decide alone"), decide_only);
    }
}
