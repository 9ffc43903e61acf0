//! Provisioning under process-level faults, with `warden serve` as operators run it: a
//! server killed between the target's answer and its commit, two servers sharing one
//! PostgreSQL database, and a full lifecycle whose logs and files are searched for the
//! minted password. Redis is the target (`WARDEN_TEST_REDIS_URL`), looked at directly
//! in RESP, with no client library between the test and the server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test, and a test may say what it saw"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use warden_connect::conformance::target_url;

use support::faults::*;
use support::{PgDb, Server};

#[test]
fn killed_between_target_call_and_commit_leaves_no_orphan_and_loses_no_grant() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let c = crash_mid_provisioning(&url, |_, _, _| {});
    let (grant, account) = (&c.grant, &c.account);

    // The account's intent row was committed before Redis was asked.
    let rows = c.accounts();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1), (account.as_str(), 1));
    assert!(
        rows[0].2.is_none(),
        "provisioned before the commit: {rows:?}"
    );

    let mut second = c.restart();
    c.wait_state(&second, "active", &["provisioning", "active"]);
    assert_eq!(
        acl_users(&c.redis, &c.prefix),
        vec![account.clone()],
        "exactly the grant's one ACL user"
    );

    // The credential the second server minted (over the first one's) is the one that
    // works, and it is delivered once.
    let path = format!("/v1/grants/{grant}/credential");
    let cred = second.json("GET", &path, &c.alice, "");
    assert_eq!(cred["username"], account.as_str());
    let password = cred["password"].as_str().unwrap();
    assert!(logs_in(&c.redis, account, password));
    let (status, _) = second.call("GET", &path, &c.alice, "");
    assert_eq!(status, 410);

    let events = second.audit(&c.erin);
    assert_eq!(count(&events, "grant.activated", grant), 1);
    assert!(
        !events
            .iter()
            .any(|e| e["action"].as_str().unwrap().starts_with("alert.")),
        "{events:#?}"
    );
    second.stop();

    // One account row, provisioned and its credential taken; the job ran twice, once
    // per server, and finished.
    let rows = c.accounts();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (name, generation, provisioned, delivered, removed) = &rows[0];
    assert_eq!((name.as_str(), *generation), (account.as_str(), 1));
    assert!(provisioned.is_some() && delivered.is_some() && removed.is_none());
    assert_eq!(c.provision_job(), ("done".to_owned(), 2));
    audit_verifies(&c.config);
    assert!(replays_identically(&c.config) >= 1);
}

#[test]
fn killed_mid_provisioning_and_revoked_meanwhile_removes_the_account_it_made() {
    let Some(url) = target_url("redis") else {
        return;
    };
    // Revoked while the first server waits for Redis: it never learns the account was
    // made, so only the intent row tells the second server to remove it.
    let c = crash_mid_provisioning(&url, |first, erin, grant| {
        let g = first.json("POST", &format!("/v1/grants/{grant}/revoke"), erin, "");
        assert_eq!(g["state"], "revoking");
    });
    let mut second = c.restart();
    c.wait_state(&second, "revoked", &["revoking", "revoked"]);
    assert_eq!(acl_users(&c.redis, &c.prefix), Vec::<String>::new());
    let events = second.audit(&c.erin);
    assert_eq!(count(&events, "grant.revoked", &c.grant), 1);
    assert_eq!(count(&events, "grant.activated", &c.grant), 0);
    second.stop();
    let rows = c.accounts();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].4.is_some(),
        "account row not marked removed: {rows:?}"
    );
    audit_verifies(&c.config);
    assert!(replays_identically(&c.config) >= 1);
}

#[test]
fn two_servers_on_one_postgres_never_provision_or_revoke_a_grant_twice() {
    const N: usize = 40;
    let Some(url) = target_url("redis") else {
        return;
    };
    let Some(admin) = target_url("postgres") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = PgDb::create(&rt, &admin);
    let db = pg.url.clone();
    let (redis, prefix, _sweep) = redis_run(&url);
    let dir = tempfile::tempdir().unwrap();
    // Small batches, so both workers take part in provisioning too, not only the one
    // that wakes first.
    let worker = Worker {
        lease: "10s",
        batch: 4,
    };
    let config = write_config(dir.path(), &db, &url, &prefix, &worker, dir.path());
    let tokens: BTreeMap<&str, String> = ["alice", "dave"]
        .into_iter()
        .map(|who| (who, token(&config, who, &["intake"])))
        .collect();
    let erin = token(&config, "erin", &["admin", "audit"]);
    let mut servers = [
        serve(&config, &dir.path().join("a.log")),
        serve(&config, &dir.path().join("b.log")),
    ];

    // Requests alternate between the servers, and between two requesters.
    let mut grants: BTreeMap<String, &str> = BTreeMap::new();
    for i in 0..N {
        let who = if (i / 2) % 2 == 0 { "alice" } else { "dave" };
        let grant = servers[i % 2].request_read(&tokens[who], who, &format!("F2-{i}"), "45s");
        grants.insert(grant, who);
    }
    let states = |s: &Server| -> BTreeMap<String, String> {
        let list = s.json(
            "GET",
            "/v1/grants?system=session-cache&limit=1000",
            &erin,
            "",
        );
        list.as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["id"].as_str().unwrap().to_owned(),
                    g["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let all_in =
        |m: &BTreeMap<String, String>, state: &str| m.len() == N && m.values().all(|s| s == state);
    wait_for(
        "every grant to become active",
        Duration::from_secs(60),
        || {
            let m = states(&servers[0]);
            assert!(!m.values().any(|s| s == "failed"), "{m:?}");
            all_in(&m, "active").then_some(())
        },
    );
    // A grant active before and after the count was active during it, so its ACL user
    // was there; states never go back, so the check is sound whenever it applies.
    let users = acl_users(&redis, &prefix);
    if all_in(&states(&servers[1]), "active") {
        assert_eq!(users.len(), N, "one ACL user per active grant");
    } else {
        eprintln!("a grant expired during the ACL count; the count was not checked");
    }

    // Every credential works: had two workers provisioned one grant, the later reset
    // would have changed the password behind the sealed one.
    for (i, (grant, who)) in grants.iter().enumerate() {
        let server = &servers[i % 2];
        let cred = server.json(
            "GET",
            &format!("/v1/grants/{grant}/credential"),
            &tokens[who],
            "",
        );
        let password = cred["password"].as_str().unwrap();
        let works = logs_in(&redis, &account_of(&prefix, grant), password);
        assert!(
            works || server.grant_state(&erin, grant) != "active",
            "the delivered credential of active grant {grant} does not log in"
        );
    }

    // Each grant expires after 45 s; both workers expire and revoke them.
    wait_for(
        "every grant to be revoked",
        Duration::from_secs(180),
        || {
            let m = states(&servers[1]);
            assert!(!m.values().any(|s| s == "failed"), "{m:?}");
            all_in(&m, "revoked").then_some(())
        },
    );
    assert_eq!(acl_users(&redis, &prefix), Vec::<String>::new());

    let events = servers[0].audit(&erin);
    for grant in grants.keys() {
        for action in ["grant.activated", "grant.expired", "grant.revoked"] {
            assert_eq!(count(&events, action, grant), 1, "{action} of {grant}");
        }
    }
    let alerts: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("alert."))
        .collect();
    assert!(alerts.is_empty(), "{alerts:#?}");

    // Whether the work was shared depends on which worker wakes first; it is reported,
    // not asserted.
    let mut by_worker: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for e in &events {
        let action = e["action"].as_str().unwrap();
        if let Some(w) = e["actor"].as_str().unwrap().strip_prefix("worker:")
            && action.starts_with("grant.")
        {
            *by_worker
                .entry(w.to_owned())
                .or_default()
                .entry(action.to_owned())
                .or_default() += 1;
        }
    }
    eprintln!("transitions by worker: {by_worker:?}");
    let reconcile_chains = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'reconcile' AND state = 'pending'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        n
    });
    eprintln!("pending reconciliation jobs for the one connector: {reconcile_chains}");
    let workers: BTreeSet<&String> = by_worker.keys().collect();
    assert!(!workers.is_empty());

    for s in &mut servers {
        s.stop();
    }
    audit_verifies(&config);
    assert!(replays_identically(&config) >= N as u64);
}

#[test]
fn secret_never_reaches_logs_or_database() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let (redis, prefix, _sweep) = redis_run(&url);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = format!("sqlite://{}", data.join("warden.db").display());
    let worker = Worker {
        lease: "30s",
        batch: 100,
    };
    let config = write_config(dir.path(), &db, &url, &prefix, &worker, &data);
    let alice = token(&config, "alice", &["intake"]);
    let erin = token(&config, "erin", &["admin", "audit"]);
    let log = dir.path().join("serve.log");
    // Everything at trace: Warden's crates, and the HTTP server, database driver and
    // runtime beneath them, any of which could echo a value it handles.
    let filter = "trace";
    let mut cmd = warden(&config);
    cmd.env("RUST_LOG", filter);
    let mut server = Server::start(cmd, &log);

    let grant = server.request_read(&alice, "alice", "F3-1", "1h");
    wait_for(
        "the grant to become active",
        Duration::from_secs(30),
        || (server.grant_state(&erin, &grant) == "active").then_some(()),
    );
    let cred = server.json("GET", &format!("/v1/grants/{grant}/credential"), &alice, "");
    let user = cred["username"].as_str().unwrap().to_owned();
    let password = cred["password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 16, "a real password to look for");
    assert!(logs_in(&redis, &user, &password));

    server.json(
        "POST",
        &format!("/v1/grants/{grant}/revoke"),
        &erin,
        r#"{"reason":"fault test done"}"#,
    );
    wait_for("the grant to be revoked", Duration::from_secs(30), || {
        (server.grant_state(&erin, &grant) == "revoked").then_some(())
    });
    assert!(!logs_in(&redis, &user, &password));
    let audit = serde_json::to_string(&server.audit(&erin)).unwrap();
    assert!(audit.contains("credential.delivered"));

    // The data directory while the server runs (its WAL still there), and after.
    let stored = |what: &str| {
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, &password),
                "password in {} ({what})",
                path.display()
            );
        }
    };
    stored("running");
    let stdout = server.stop();
    stored("stopped");

    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("TRACE") && stderr.contains("DEBUG"),
        "the log is not verbose enough to prove anything:\n{stderr}"
    );
    assert!(!stderr.contains(&password), "password in stderr");
    assert!(!stdout.contains(&password), "password in stdout");
    assert!(!audit.contains(&password), "password in the audit trail");
    assert!(replays_identically(&config) >= 1);
}
