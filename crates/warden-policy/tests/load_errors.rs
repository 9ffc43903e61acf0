//! Bundles with one thing wrong: each load fails with `file:line: message` naming it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use warden_policy::{Bundle, SourceFile};

const CATALOG: &str = r#"[[group]]
id = "eng"

[[identity]]
id = "alice"
kind = "human"
groups = ["eng"]

[[system]]
id = "db"
sensitivity = "low"
environment = "dev"
owner = "eng"

[[role]]
id = "db.read"
system = "db"
permissions = ["read"]
max_duration = "8h"
"#;

fn load(policies: &str) -> Result<Bundle, String> {
    Bundle::from_files(vec![
        SourceFile {
            name: "catalog.toml".into(),
            text: CATALOG.into(),
        },
        SourceFile {
            name: "policies/main.cedar".into(),
            text: policies.into(),
        },
    ])
    .map_err(|e| e.to_string())
}

const OK: &str = "@id(\"ok\")\npermit (principal, action, resource);\n";

#[test]
fn a_valid_policy_loads() {
    load(OK).unwrap();
}

#[test]
fn each_policy_error_names_file_line_and_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "permit (principal, action, resource);",
            "policies/main.cedar:3: every policy needs an `@id(\"…\")` annotation",
        ),
        (
            "@id(\"ok\")\nforbid (principal, action, resource) when { context.emergency };",
            "policies/main.cedar:3: duplicate policy id `ok`",
        ),
        (
            "@id(\"x\")\n@max_duration(\"forever\")\npermit (principal, action, resource);",
            "policies/main.cedar:3: policy `x`: `@max_duration`: invalid duration `forever`",
        ),
        (
            "@id(\"x\")\n@approvals(\"two\")\npermit (principal, action, resource);",
            "policies/main.cedar:3: policy `x`: `@approvals`: `two` is not a whole number",
        ),
        (
            "@id(\"x\")\n@approvals(\"99\")\npermit (principal, action, resource);",
            "policies/main.cedar:3: policy `x`: `@approvals`: `99` is not a whole number from 0 to 10",
        ),
        (
            "@id(\"x\")\n@max_duraton(\"4h\")\npermit (principal, action, resource);",
            "policies/main.cedar:3: unknown annotation `@max_duraton`",
        ),
        (
            "@id(\"x\")\n@max_duration(\"4h\")\nforbid (principal, action, resource);",
            "policies/main.cedar:3: policy `x`: `@max_duration` and `@approvals` only shape permits",
        ),
        (
            "@id(\"x\")\npermit (principal, action, resource)\nwhen { resource.permission == \"read\" };",
            "policies/main.cedar:5: for policy `x`, attribute `permission` on entity type `Warden::Role` not found",
        ),
        (
            "@id(\"x\")\npermit (principal in Warden::Group::\"engineering\", action, resource);",
            "policies/main.cedar:4:",
        ),
        (
            "@id(\"x\")\npermit (principal, action, resource == Warden::Role::\"db.wrte\");",
            "policies/main.cedar:3: policy `x` names role `db.wrte`, which the catalog does not define",
        ),
        (
            "@id(\"x\")\npermit (principal == ?principal, action, resource);",
            "policies/main.cedar:4:",
        ),
        (
            "@id(\"x\")\npermit (principal, action, resource) when { principal.kind == };",
            "policies/main.cedar:4:",
        ),
        (
            "@id(\"x\")\npermit (principal, action, resource)",
            "policies/main.cedar:4: unexpected end of input",
        ),
    ];
    for (extra, expected) in cases {
        let err = load(&format!("{OK}{extra}\n")).expect_err(extra);
        assert!(
            err.lines().any(|l| l.starts_with(expected)),
            "expected a line starting {expected:?}, got:\n{err}"
        );
    }
}

#[test]
fn a_bundle_without_a_catalog_is_rejected() {
    let err = Bundle::from_files(vec![]).unwrap_err().to_string();
    assert!(err.contains("the bundle has no catalog"), "{err}");
}

// The catalog and the policies are read at the same time, and then the policies are
// validated while the entity store is built: errors still come in one order — the
// catalog's alone when it is broken, then the policies' parse errors, then validation.
#[test]
fn errors_come_in_the_same_order_whatever_is_read_at_once() {
    let broken_catalog = CATALOG.replace("kind = \"human\"", "kind = \"robot\"");
    let load_with = |catalog: &str, policies: &str| {
        Bundle::from_files(vec![
            SourceFile {
                name: "catalog.toml".into(),
                text: catalog.into(),
            },
            SourceFile {
                name: "policies/main.cedar".into(),
                text: policies.into(),
            },
        ])
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let unparsable = "@id(\"x\")\npermit (principal, action, resource) when { ;\n";
    let invalid = "@id(\"x\")\npermit (principal, action, resource) when { context.nope };\n";

    let both = load_with(&broken_catalog, unparsable).unwrap_err();
    assert!(both.starts_with("catalog.toml"), "{both}");
    assert!(!both.contains("policies/main.cedar"), "{both}");

    let parse = load_with(CATALOG, unparsable).unwrap_err();
    assert!(parse.starts_with("policies/main.cedar"), "{parse}");

    let validation = load_with(CATALOG, invalid).unwrap_err();
    assert!(
        validation.starts_with("policies/main.cedar"),
        "{validation}"
    );
    assert!(validation.contains("nope"), "{validation}");
}
