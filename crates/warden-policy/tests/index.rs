//! The scope index must never change an answer: for generated policy sets, every question
//! asked through the index gets the same decision and the same deciding policies as the
//! full set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use proptest::prelude::*;
use warden_model::{IdentityId, RoleId};
use warden_policy::{Action, AuthContext, Bundle, Evaluation, LoadErrors, SourceFile};

const CATALOG: &str = r#"
[[group]]
id = "g1"
[[group]]
id = "g2"
[[group]]
id = "g3"

[[identity]]
id = "i1"
kind = "human"
groups = ["g1"]
[[identity]]
id = "i2"
kind = "human"
groups = ["g1", "g2"]
[[identity]]
id = "i3"
kind = "service"
owner = "i1"
groups = ["g2"]
[[identity]]
id = "i4"
kind = "workload"
owner = "i2"
[[identity]]
id = "i5"
kind = "third_party"
sponsor = "i1"
access_ends = "2030-01-01T00:00:00Z"
groups = ["g3"]

[[system]]
id = "s1"
sensitivity = "high"
environment = "prod"
data_classes = ["pci"]
owner = "g2"
[[system]]
id = "s2"
sensitivity = "low"
environment = "dev"
owner = "g1"

[[role]]
id = "r1"
system = "s1"
permissions = ["read"]
max_duration = "8h"
[[role]]
id = "r2"
system = "s1"
permissions = ["read", "write"]
max_duration = "4h"
[[role]]
id = "r3"
system = "s2"
permissions = ["read"]
max_duration = "8h"
[[role]]
id = "r4"
system = "s2"
permissions = ["read", "write", "admin"]
max_duration = "1h"
"#;

const PRINCIPALS: [&str; 7] = [
    "principal",
    "principal == Warden::Identity::\"i3\"",
    "principal in Warden::Identity::\"i1\"",
    "principal in Warden::Group::\"g1\"",
    "principal in Warden::Group::\"g2\"",
    "principal is Warden::Identity",
    "principal is Warden::Identity in Warden::Group::\"g3\"",
];
const ACTIONS: [&str; 5] = [
    "action",
    "action == Warden::Action::\"request\"",
    "action == Warden::Action::\"provision\"",
    "action in [Warden::Action::\"request\", Warden::Action::\"break_glass\"]",
    "action == Warden::Action::\"approve\"",
];
const RESOURCES: [&str; 6] = [
    "resource",
    "resource == Warden::Role::\"r2\"",
    "resource in Warden::Role::\"r3\"",
    "resource in Warden::System::\"s1\"",
    "resource is Warden::Role",
    "resource is Warden::Role in Warden::System::\"s2\"",
];
/// A product that overflows (an evaluation error) when the duration exceeds 4,611 s.
const OVERFLOWS: &str = "context.duration_seconds * 2000000000000000 > 0";

const CONDITIONS: [&str; 16] = [
    "true",
    "principal.kind == \"human\"",
    "principal.kind != \"service\"",
    "resource.permissions.contains(\"write\")",
    "resource.environment == \"prod\"",
    "resource.data_classes.contains(\"pci\")",
    "context.duration_seconds <= 3600",
    "context.emergency",
    "principal has owner",
    "context.purpose like \"*INC*\"",
    "principal in Warden::Group::\"g2\"",
    // A first test of the kind lets the index skip the policy for other kinds.
    "principal.kind == \"human\" && resource.permissions.contains(\"write\")",
    "\"workload\" == principal.kind && context.emergency",
    // Errors: everywhere, and behind a test of the kind.
    OVERFLOWS,
    "principal.kind != \"human\" && context.duration_seconds * 2000000000000000 > 0",
    "context.emergency && principal.kind == \"service\"",
];

fn policy(n: usize) -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0..PRINCIPALS.len(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        0..CONDITIONS.len(),
        any::<bool>(),
    )
        .prop_map(move |(permit, p, a, r, c, negate)| {
            let effect = if permit { "permit" } else { "forbid" };
            // `unless { true }` can never hold, and Cedar rejects impossible policies.
            let clause = if negate && c != 0 { "unless" } else { "when" };
            format!(
                "@id(\"p{n}\")\n{effect} ({}, {}, {}) {clause} {{ {} }};\n",
                PRINCIPALS[p], ACTIONS[a], RESOURCES[r], CONDITIONS[c]
            )
        })
}

/// The test catalog with `policies` as its one policy file.
fn bundle_of(policies: String) -> Result<Bundle, LoadErrors> {
    Bundle::from_files(vec![
        SourceFile {
            name: "catalog.toml".into(),
            text: CATALOG.into(),
        },
        SourceFile {
            name: "policies/gen.cedar".into(),
            text: policies,
        },
    ])
}

/// A request's context: everything but the duration, the emergency flag and the purpose
/// fixed.
fn context(duration_seconds: i64, emergency: bool, purpose: &str) -> AuthContext<'_> {
    AuthContext {
        duration_seconds,
        emergency,
        purpose,
        ticket: "",
        source: "",
        requester_is_subject: true,
        approvals: 0,
        oidc: None,
    }
}

fn policy_set() -> impl Strategy<Value = String> {
    (1usize..24).prop_flat_map(|n| {
        (0..n)
            .map(policy)
            .collect::<Vec<_>>()
            .prop_map(|ps| ps.concat())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn indexed_answers_equal_full_set_answers(policies in policy_set()) {
        let bundle = match bundle_of(policies.clone()) {
            Ok(b) => b,
            // Strict validation may reject a generated combination as impossible; those
            // are not policies anyone could load.
            Err(_) => { prop_assume!(false); unreachable!() }
        };
        let actions = [Action::Request, Action::BreakGlass, Action::Provision, Action::Approve];
        for identity in ["i1", "i2", "i3", "i4", "i5"] {
            let identity = IdentityId::parse(identity).unwrap();
            for role in ["r1", "r2", "r3", "r4"] {
                let role = RoleId::parse(role).unwrap();
                for action in actions {
                    for (secs, emergency, purpose) in [(600, false, "INC-7"), (7200, true, "routine")] {
                        let ctx = context(secs, emergency, purpose);
                        let indexed = bundle.authorize(&identity, action, &role, &ctx, Evaluation::Indexed);
                        let full = bundle.authorize(&identity, action, &role, &ctx, Evaluation::Full);
                        prop_assert_eq!(&indexed, &full, "{:?} {:?} {:?}\n{}", identity, action, role, policies);
                    }
                }
            }
        }
    }
}

/// The generator must produce loadable sets most of the time, or the property above
/// would pass by rejecting everything.
#[test]
fn generated_policy_sets_mostly_load() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = policy_set();
    let mut loaded = 0;
    let mut allowed_somewhere = 0;
    for _ in 0..100 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        if let Ok(b) = bundle_of(text) {
            loaded += 1;
            let ctx = context(600, false, "INC-1");
            let i = IdentityId::parse("i2").unwrap();
            let r = RoleId::parse("r2").unwrap();
            if b.authorize(&i, Action::Request, &r, &ctx, Evaluation::Full)
                .allowed
            {
                allowed_somewhere += 1;
            }
        }
    }
    assert!(
        loaded >= 60,
        "only {loaded} of 100 generated policy sets loaded"
    );
    assert!(
        allowed_somewhere >= 5,
        "only {allowed_somewhere} sets allowed anything"
    );
}

/// A policy that errors is skipped with its error kept, through the index as in the full
/// set, and one whose first test of the kind fails is never evaluated, so never errors.
#[test]
fn errors_are_the_full_sets_errors() {
    let policies = format!(
        "@id(\"nhi-overflow\")\npermit (principal, action, resource) when {{ principal.kind != \"human\" && {OVERFLOWS} }};\n\
         @id(\"everyone\")\npermit (principal, action, resource);\n"
    );
    let bundle = bundle_of(policies).unwrap();
    let role = RoleId::parse("r1").unwrap();
    let ask = |identity: &str, secs: i64, evaluation: Evaluation| {
        let ctx = context(secs, false, "x");
        let identity = IdentityId::parse(identity).unwrap();
        bundle.authorize(&identity, Action::Request, &role, &ctx, evaluation)
    };
    for (identity, secs, errs) in [("i3", 7200, true), ("i3", 600, false), ("i1", 7200, false)] {
        let indexed = ask(identity, secs, Evaluation::Indexed);
        assert_eq!(
            indexed,
            ask(identity, secs, Evaluation::Full),
            "{identity} {secs}"
        );
        assert!(indexed.allowed, "{identity} {secs}: {indexed:?}");
        assert_eq!(
            !indexed.errors.is_empty(),
            errs,
            "{identity} {secs}: {indexed:?}"
        );
    }
    let errors = ask("i3", 7200, Evaluation::Indexed).errors;
    assert!(
        errors[0].starts_with("error while evaluating policy `nhi-overflow`"),
        "{errors:?}"
    );
}
