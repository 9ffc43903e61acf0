//! The `warden` command as a user runs it: exit codes, output, and clear errors for bad
//! input — never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use support::root;

fn warden(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const REQUEST: &str = r#"{ "source": "servicenow", "ticket": "RITM0010001", "requester": "alice",
  "system": "payments-db", "role": "payments-db.admin", "needs": ["read"],
  "task": "investigate-payment-incident", "purpose": "INC-42 investigation", "duration": "6h",
  "requested_at": "2026-11-29T10:00:00Z" }"#;

#[test]
fn decide_prints_the_decision_and_exits_zero() {
    let out = warden(
        &["decide", "--bundle", "examples/bundle", "--request", "-"],
        REQUEST,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["outcome"], "approval_required");
    assert_eq!(d["role"], "payments-db.read");
    assert_eq!(d["duration_seconds"], 14400);
    assert!(d["bundle_hash"].as_str().unwrap().starts_with("sha256:"));
    assert!(d["input_hash"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn decide_is_byte_identical_across_runs() {
    let a = warden(&["decide", "--request", "-"], REQUEST);
    let b = warden(&["decide", "--request", "-"], REQUEST);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn a_denial_is_a_value_and_exits_zero() {
    let req = r#"{"requester":"mallory","role":"session-cache.read","purpose":"x"}"#;
    let out = warden(
        &["decide", "--request", "-", "--at", "2026-11-29T10:00:00Z"],
        req,
    );
    assert_eq!(out.status.code(), Some(0));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["outcome"], "deny");
    assert_eq!(d["reasons"][0]["code"], "unknown_identity");
}

#[test]
fn active_grants_from_a_file_feed_separation_of_duties() {
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.json");
    std::fs::write(
        &grants,
        r#"[{ "role": "payments-db.refund-approve", "expires_at": "2026-11-29T12:00:00Z" }]"#,
    )
    .unwrap();
    let req = r#"{"requester":"grace","role":"payments-db.write","purpose":"fix"}"#;
    let out = warden(
        &[
            "decide",
            "--request",
            "-",
            "--at",
            "2026-11-29T10:00:00Z",
            "--grants",
            grants.to_str().unwrap(),
        ],
        req,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["reasons"][0]["code"], "sod_conflict");
}

#[test]
fn bad_input_exits_two_naming_the_field() {
    let cases: &[(&str, &str)] = &[
        (r#"{"requester":"alice","role":"#, "malformed JSON"),
        (r#"not json at all"#, "malformed JSON"),
        (
            r#"{"requester":"alice","role":"db.read","purpose":"x","colour":"red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"requester":"alice","role":"db.read","purpose":"x","duration":"6 hours"}"#,
            "`duration`: invalid duration `6 hours`",
        ),
        (
            r#"{"requester":"alice","purpose":"x"}"#,
            "one of `role`, `needs` or `task` is required",
        ),
        (
            r#"{"role":"db.read","purpose":"x"}"#,
            "missing field `requester`",
        ),
        (
            r#"{"requester":"alice","role":"db.read","purpose":"x","emergency":"yes"}"#,
            "`emergency`: invalid type",
        ),
        (
            r#"{"requester":"alice","role":"db.read","purpose":"x","needs":[]}"#,
            "`needs`: must name at least one permission",
        ),
        (
            r#"{"requester":"alice","role":"db read","purpose":"x"}"#,
            "`role`: role id `db read`",
        ),
        (
            r#"{"requester":"alice","role":"db.read","purpose":"   "}"#,
            "`purpose`: must not be empty",
        ),
        ("", "malformed JSON"),
    ];
    for (body, expected) in cases {
        let out = warden(&["decide", "--request", "-"], body);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(
            err.contains(expected),
            "{body}: expected {expected:?} in {err:?}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_bad_instant_or_grants_file_exits_two() {
    let out = warden(&["decide", "--request", "-", "--at", "tomorrow"], REQUEST);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`--at`"));
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("g.json");
    std::fs::write(&grants, r#"[{"role":"x","expires":"soon"}]"#).unwrap();
    let out = warden(
        &[
            "decide",
            "--request",
            "-",
            "--grants",
            grants.to_str().unwrap(),
        ],
        REQUEST,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown field `expires`"),
        "{}",
        text(&out.stderr)
    );
    let out = warden(&["decide", "--request", "/no/such/file.json"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn policy_check_accepts_the_example_and_names_file_and_line_on_error() {
    let out = warden(&["policy", "check", "--bundle", "examples/bundle"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        "[[group]]\nid = \"eng\"\n\n[[identity]]\nid = \"svc\"\nkind = \"service\"\n",
    )
    .unwrap();
    let out = warden(
        &["policy", "check", "--bundle", dir.path().to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("catalog.toml:5: identity `svc`: a service identity needs an `owner`"),
        "{err}"
    );
}

#[test]
fn policy_test_reports_counts_and_fails_on_a_failing_case() {
    let out = warden(&["policy", "test", "--bundle", "examples/bundle"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");

    let dir = tempfile::tempdir().unwrap();
    let src = root().join("examples/bundle");
    std::fs::copy(src.join("catalog.toml"), dir.path().join("catalog.toml")).unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    for f in std::fs::read_dir(src.join("policies")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join("policies").join(f.file_name())).unwrap();
    }
    std::fs::write(
        dir.path().join("tests/wrong.toml"),
        "[[case]]\nname = \"wrong on purpose\"\nat = \"2026-11-29T10:00:00Z\"\nrequest = { requester = \"mallory\", role = \"session-cache.read\", purpose = \"x\" }\nexpect = { outcome = \"grant\" }\n",
    )
    .unwrap();
    let out = warden(
        &["policy", "test", "--bundle", dir.path().to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL  wrong on purpose"), "{stdout}");
    assert!(
        stdout.contains("outcome: expected grant, got deny"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("0 passed, 1 failed"));
}
