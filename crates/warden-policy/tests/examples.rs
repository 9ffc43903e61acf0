//! The example bundle's policy tests, run as part of the suite, with every decision kept
//! as a snapshot so a change in any field shows up in review.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::BTreeSet;
use std::path::Path;

use warden_model::ReasonCode;
use warden_policy::{Bundle, DecisionInput, case};

fn example_bundle() -> Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle");
    Bundle::load(&dir).unwrap()
}

#[test]
fn every_example_case_passes() {
    let bundle = example_bundle();
    let results = case::run_all(&bundle).unwrap();
    assert!(results.len() >= 30, "only {} cases", results.len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{} ({}): {:?}", r.name, r.location, r.mismatches))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn example_cases_cover_every_reason_code() {
    let bundle = example_bundle();
    let mut seen = BTreeSet::new();
    for file in bundle.test_files() {
        for (_, c) in case::parse(file).unwrap() {
            let d = bundle.decide(&DecisionInput {
                request: &c.request,
                grants: &c.grants,
                open_reviews: &c.open_reviews,
                at: c.at,
            });
            seen.extend(d.reasons.iter().map(|r| r.code));
        }
    }
    let missing: Vec<ReasonCode> = ReasonCode::ALL
        .into_iter()
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(missing.is_empty(), "no example case yields {missing:?}");
}

#[test]
fn example_decisions_match_their_snapshot() {
    let bundle = example_bundle();
    let mut all = serde_json::Map::new();
    for file in bundle.test_files() {
        for (_, c) in case::parse(file).unwrap() {
            let d = bundle.decide(&DecisionInput {
                request: &c.request,
                grants: &c.grants,
                open_reviews: &c.open_reviews,
                at: c.at,
            });
            let mut v = serde_json::to_value(&d).unwrap();
            // The bundle hash changes with any edit to the bundle; the rest must not.
            v["bundle_hash"] = "<bundle>".into();
            all.insert(c.name.clone(), v);
        }
    }
    insta::assert_json_snapshot!("example_decisions", all);
}
