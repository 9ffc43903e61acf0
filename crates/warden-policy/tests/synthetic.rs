//! The 1,000 decisions of the synthetic bundle (`benches/synthetic`: 1,000 roles, 500
//! policies, 10,000 identities) are pinned byte for byte: the SHA-256 of each decision's
//! canonical JSON is kept as a snapshot, so any change to how decisions are computed — an
//! index, a cache, a rewritten step — that alters a single field of a single decision fails
//! here and names the request.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

#[allow(
    dead_code,
    reason = "shared with the bench and the example, which use other parts"
)]
#[path = "../benches/synthetic/mod.rs"]
mod synthetic;

use std::fmt::Write as _;

use warden_model::{Timestamp, canonical};
use warden_policy::{Bundle, DecisionInput, Evaluation};

#[test]
fn synthetic_decisions_are_unchanged() {
    let world = synthetic::generate(synthetic::SEED);
    let bundle = Bundle::from_files(world.files.clone()).expect("the synthetic bundle loads");
    let cases = world.cases(&bundle, 1_000);
    assert_eq!(cases.len(), 1_000);
    let at: Timestamp = synthetic::AT.parse().unwrap();
    let mut text = format!("bundle {}\n", bundle.hash());
    for (n, c) in cases.iter().enumerate() {
        let input = DecisionInput {
            request: &c.request,
            grants: &c.grants,
            open_reviews: &[],
            at,
        };
        let decision = bundle.decide(&input);
        assert_eq!(
            decision,
            bundle.decide_with(&input, Evaluation::Full),
            "case {n}: the index changed the decision"
        );
        let hash = canonical::hash_of(&decision).unwrap();
        writeln!(text, "{n:04} {:<32} {hash}", c.category).unwrap();
    }
    insta::assert_snapshot!("synthetic_decisions", text);
}
