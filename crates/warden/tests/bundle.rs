//! Activating a bundle on a running deployment: `warden bundle activate` validates and
//! stores it, an invalid one changes nothing, and every server on one PostgreSQL switches
//! within 5 s — after the command, and after a SIGHUP to one of them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use warden_connect::conformance::target_url;

use support::{PgDb, Server, root, wait_for};

/// A copy of the example bundle in `dir`, with `edit` applied to its catalog.
fn bundle_copy(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let from = root().join("examples/bundle");
    for sub in ["policies", "tests"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let catalog = std::fs::read_to_string(from.join("catalog.toml")).unwrap();
    std::fs::write(dir.join("catalog.toml"), edit(&catalog)).unwrap();
    dir.to_owned()
}

fn disable(catalog: &str, id: &str) -> String {
    catalog.replacen(
        &format!("id = \"{id}\"\n"),
        &format!("id = \"{id}\"\nstatus = \"disabled\"\n"),
        1,
    )
}

/// `dir/warden.toml` on `database` with the bundle at `bundle`.
fn config(dir: &Path, database: &str, bundle: &Path) -> PathBuf {
    let path = dir.join("warden.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[database]\nurl = {database:?}\n\n\
             [bundle]\npath = {:?}\n\n[secrets]\nkey_file = {:?}\n",
            bundle.display().to_string(),
            dir.join("secret.key").display().to_string(),
        ),
    )
    .unwrap();
    path
}

fn warden(config: &Path) -> Command {
    let mut cmd = support::warden(config.parent().unwrap());
    cmd.env("WARDEN_CONFIG", config);
    cmd
}

/// Runs `warden bundle activate [--bundle DIR]`; returns exit code, stdout and stderr.
fn activate(config: &Path, bundle: Option<&Path>) -> (i32, String, String) {
    let mut cmd = warden(config);
    cmd.args(["bundle", "activate"]);
    if let Some(b) = bundle {
        cmd.arg("--bundle").arg(b);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn active_hash(server: &Server, token: &str) -> String {
    server.json("GET", "/v1/bundle", token, "")["hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_invalid_bundle_is_refused_with_its_errors_and_the_active_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("warden.db").display());
    let good = bundle_copy(&dir.path().join("good"), str::to_owned);
    let cfg = config(dir.path(), &db, &good);
    let (code, first, err) = activate(&cfg, None);
    assert_eq!(code, 0, "{err}");
    let hash = first.lines().next().unwrap().to_owned();
    assert!(hash.starts_with("sha256:"), "{first}");
    let (code, again, _) = activate(&cfg, None);
    assert_eq!(code, 0);
    assert!(again.contains("active already"), "{again}");

    let bad = bundle_copy(&dir.path().join("bad"), |c| {
        c.replacen("groups = [\"engineering\"]", "groups = [\"enginering\"]", 1)
    });
    let (code, out, err) = activate(&cfg, Some(&bad));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("catalog.toml:"), "file:line errors: {err}");

    let alice = support::token(warden(&cfg), "alice", &["intake"]);
    let mut server = Server::start(warden(&cfg), &dir.path().join("serve.log"));
    assert_eq!(
        active_hash(&server, &alice),
        hash,
        "the active bundle stayed"
    );
    server.stop();
}

#[test]
fn servers_on_one_postgres_switch_within_five_seconds_and_sighup_activates_the_path() {
    let Some(admin) = target_url("postgres") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pg = PgDb::create(&rt, &admin);
    let dir = tempfile::tempdir().unwrap();
    let path = bundle_copy(&dir.path().join("bundle"), str::to_owned);
    let cfg = config(dir.path(), &pg.url, &path);
    let alice = support::token(warden(&cfg), "alice", &["intake"]);
    let dave = support::token(warden(&cfg), "dave", &["intake"]);
    let mut a = Server::start(warden(&cfg), &dir.path().join("a.log"));
    let mut b = Server::start(warden(&cfg), &dir.path().join("b.log"));
    let start = active_hash(&a, &alice);
    assert_eq!(active_hash(&b, &alice), start);

    // The command, from outside either server.
    let next = bundle_copy(&dir.path().join("next"), |c| disable(c, "dave"));
    let (code, out, err) = activate(&cfg, Some(&next));
    assert_eq!(code, 0, "{err}");
    let hash = out.lines().next().unwrap().to_owned();
    assert_ne!(hash, start);
    for server in [&a, &b] {
        wait_for(
            "the server to switch",
            Duration::from_secs(5),
            Duration::from_millis(100),
            || (active_hash(server, &alice) == hash).then_some(()),
        );
        let (status, body) = server.call("GET", "/v1/bundle", &dave, "");
        assert_eq!(status, 401, "dave is disabled now: {body}");
    }

    // SIGHUP to one server re-reads `bundle.path` (edited in place) and both follow.
    std::fs::write(
        path.join("catalog.toml"),
        disable(
            &std::fs::read_to_string(path.join("catalog.toml")).unwrap(),
            "grace",
        ),
    )
    .unwrap();
    a.signal("HUP");
    let mut hup = String::new();
    wait_for(
        "SIGHUP to activate",
        Duration::from_secs(5),
        Duration::from_millis(100),
        || {
            let h = active_hash(&a, &alice);
            (h != hash && h != start).then(|| hup = h)
        },
    );
    wait_for(
        "the other server to follow",
        Duration::from_secs(5),
        Duration::from_millis(100),
        || (active_hash(&b, &alice) == hup).then_some(()),
    );
    a.stop();
    b.stop();
}
