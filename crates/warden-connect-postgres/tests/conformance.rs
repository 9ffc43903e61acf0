//! The shared conformance suite and PostgreSQL's own traps, against the server of
//! `WARDEN_TEST_POSTGRES_URL`, with the connector logged in as a least-privileged admin
//! (`CREATEROLE`, `pg_signal_backend`, `ADMIN OPTION` on the test's group roles).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;
use support::{PgProbe, with_fixture};
use tokio::task::JoinSet;
use warden_connect::conformance::{self, Probe};
use warden_connect::{Connector, Held, Prefix, Settings};

#[tokio::test]
async fn conformance_suite_passes_as_a_least_privileged_admin() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        conformance::run(&c, &f.probe(), &f.setup(&[&f.reader])).await;
    })
    .await;
}

#[tokio::test]
async fn session_that_set_role_to_the_group_is_ended_by_revocation() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let probe: PgProbe = f.probe();
        let setup = f.setup(&[&f.reader]);

        // The trap: revoking the membership does not reach a session that already
        // switched to the group, so revocation cannot stop at `REVOKE`.
        let spec = setup.spec(conformance::now());
        let cred = c.provision(&spec).await.unwrap().unwrap();
        let mut switched = probe.connect(&cred).await.unwrap();
        switched
            .batch_execute(&format!("SET ROLE {}", f.reader))
            .await
            .unwrap();
        f.root
            .batch_execute(&format!("REVOKE {} FROM {}", f.reader, spec.account))
            .await
            .unwrap();
        assert!(
            probe.alive(&mut switched).await,
            "the server no longer shows the trap this test is about"
        );
        c.revoke(&spec).await.unwrap();
        assert!(
            !probe.alive(&mut switched).await,
            "the switched session survived"
        );

        // And through the connector alone.
        let spec = setup.spec(conformance::now());
        let cred = c.provision(&spec).await.unwrap().unwrap();
        let mut switched = probe.connect(&cred).await.unwrap();
        switched
            .batch_execute(&format!("SET ROLE {}", f.reader))
            .await
            .unwrap();
        assert!(probe.alive(&mut switched).await);
        c.revoke(&spec).await.unwrap();
        assert!(
            !probe.alive(&mut switched).await,
            "the switched session survived"
        );
        assert!(
            switched.simple_query("SELECT 1").await.is_err(),
            "the session is still open, only without rights"
        );
        assert!(!f.role_exists(spec.account.as_str()).await);
    })
    .await;
}

#[tokio::test]
async fn role_owning_a_table_in_another_database_is_dropped_after_reassign() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let probe = f.probe();
        let spec = f.setup(&[&f.maker]).spec(conformance::now());
        let cred = c.provision(&spec).await.unwrap().unwrap();
        let session = probe.connect(&cred).await.unwrap();
        session
            .batch_execute("CREATE TABLE s.made (x int); INSERT INTO s.made VALUES (1)")
            .await
            .unwrap();
        c.revoke(&spec).await.unwrap();

        assert!(!f.role_exists(spec.account.as_str()).await, "role left behind");
        let owner: String = f
            .root_in_db()
            .await
            .query_one(
                "SELECT tableowner::text FROM pg_tables WHERE schemaname = 's' AND tablename = 'made'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(owner, f.admin, "the table was not handed to the admin");
    })
    .await;
}

#[tokio::test]
async fn role_owning_objects_in_the_admins_own_database_is_dropped_after_reassign() {
    with_fixture(|f| async move {
        // The admin logs in to the fixture's database, so what the role owns there is
        // cleared on the admin session itself, in the transaction that drops the role.
        let c = f.connector_on(&f.db).await;
        let spec = f.setup(&[&f.maker]).spec(conformance::now());
        let account = spec.account.as_str().to_owned();
        c.provision(&spec).await.unwrap().unwrap();
        // Made without a session of the role: removal finds no session to end and relies
        // on its first look at `pg_shdepend`.
        f.root_in_db()
            .await
            .batch_execute(&format!(
                "CREATE TABLE s.given (x int); ALTER TABLE s.given OWNER TO {account}"
            ))
            .await
            .unwrap();
        c.revoke(&spec).await.unwrap();

        assert!(!f.role_exists(&account).await, "role left behind");
        let owner: String = f
            .root_in_db()
            .await
            .query_one(
                "SELECT tableowner::text FROM pg_tables WHERE schemaname = 's' AND tablename = 'given'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(owner, f.admin, "the table was not handed to the admin");
        assert!(
            !f.groups_of(&f.admin).await.contains(&account),
            "the admin kept a membership"
        );
    })
    .await;
}

#[tokio::test]
async fn provisioning_again_restores_exactly_the_grants() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let spec = f.setup(&[&f.reader]).spec(conformance::now());
        let account = spec.account.as_str().to_owned();
        c.provision(&spec).await.unwrap();
        assert_eq!(f.groups_of(&account).await, vec![f.reader.clone()]);

        // Drift on the server: an extra group, a member that could `SET ROLE` to the
        // account, the login switched off.
        f.root
            .batch_execute(&format!(
                "GRANT {maker} TO {account}; GRANT {account} TO {admin}; ALTER ROLE {account} NOLOGIN",
                maker = f.maker,
                admin = f.admin,
            ))
            .await
            .unwrap();
        let cred = c.provision(&spec).await.unwrap().unwrap();
        assert_eq!(f.groups_of(&account).await, vec![f.reader.clone()]);
        assert!(
            !f.groups_of(&f.admin).await.contains(&account),
            "a member of the account was kept"
        );
        f.probe().connect(&cred).await.unwrap();

        let row = f
            .root
            .query_one(
                "SELECT rolcanlogin, rolinherit, rolconnlimit, rolvaliduntil IS NOT NULL,
                        rolpassword LIKE 'SCRAM-SHA-256$%'
                 FROM pg_authid WHERE rolname = $1",
                &[&account],
            )
            .await
            .unwrap();
        let (login, inherit, limit, until, scram): (bool, bool, i32, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert!(login && inherit && until && scram);
        assert_eq!(limit, 10);
        c.revoke(&spec).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_missing_group_role_is_a_permanent_error_naming_it_and_creates_nothing() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let missing = format!("warden_t_nosuch_{}", f.suffix);
        let spec = f.setup(&[&f.reader, &missing]).spec(conformance::now());
        let e = c.provision(&spec).await.unwrap_err();
        assert!(!e.is_transient(), "{e}");
        assert!(e.to_string().contains(&format!("`{missing}`")), "{e}");
        assert!(
            !f.role_exists(spec.account.as_str()).await,
            "a role was left half made"
        );
    })
    .await;
}

#[tokio::test]
async fn a_group_a_session_could_escalate_through_is_refused() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let creator = format!("warden_t_creator_{}", f.suffix);
        f.root
            .batch_execute(&format!("CREATE ROLE {creator} NOLOGIN CREATEDB"))
            .await
            .unwrap();
        let spec = f.setup(&[&creator]).spec(conformance::now());
        let e = c.provision(&spec).await.unwrap_err();
        f.root
            .batch_execute(&format!("DROP ROLE {creator}"))
            .await
            .unwrap();
        assert!(!e.is_transient(), "{e}");
        assert!(e.to_string().contains(&format!("`{creator}`")), "{e}");
        assert!(!f.role_exists(spec.account.as_str()).await);
    })
    .await;
}

#[tokio::test]
async fn a_group_that_reaches_a_privileged_role_through_a_chain_is_refused() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let sfx = &f.suffix;
        let name = |n: &str| format!("warden_t_{n}_{sfx}");
        let (creator, root_like) = (name("creator"), name("superuser"));
        // Each chain: the group a role names, the roles between, and the role at the end.
        let chains: [(&str, Vec<String>); 5] = [
            ("CREATEDB", vec![name("a1"), name("a2"), creator.clone()]),
            ("SUPERUSER", vec![name("b1"), name("b2"), root_like.clone()]),
            ("", vec![name("c1"), name("c2"), "pg_write_all_data".into()]),
            ("", vec![name("d1"), "pg_read_all_data".into()]),
            (
                "",
                vec![name("e1"), name("e2"), "pg_execute_server_program".into()],
            ),
        ];
        let mut setup = String::new();
        for (attribute, chain) in &chains {
            for (i, role) in chain.iter().enumerate() {
                if !role.starts_with("pg_") {
                    let attr = if i + 1 == chain.len() { *attribute } else { "" };
                    setup.push_str(&format!("CREATE ROLE {role} NOLOGIN {attr}; "));
                }
            }
            for pair in chain.windows(2) {
                setup.push_str(&format!("GRANT {} TO {}; ", pair[1], pair[0]));
            }
        }
        // A chain of harmless groups, and a predefined role named directly whose own
        // memberships are predefined roles (`pg_monitor` is a member of
        // `pg_read_all_stats`): both are accepted.
        let (plain, inner) = (name("plain"), name("inner"));
        setup.push_str(&format!(
            "CREATE ROLE {plain} NOLOGIN; CREATE ROLE {inner} NOLOGIN; \
             GRANT {inner} TO {plain}; GRANT {} TO {inner};",
            f.reader
        ));
        f.root.batch_execute(&setup).await.unwrap();

        let mut refusals = Vec::new();
        for (_, chain) in &chains {
            let spec = f.setup(&[&chain[0]]).spec(conformance::now());
            let outcome = c.provision(&spec).await;
            let created = f.role_exists(spec.account.as_str()).await;
            refusals.push((chain.clone(), outcome.map(|_| ()), created));
        }
        let mut accepted = Vec::new();
        for group in [plain.as_str(), "pg_monitor"] {
            let spec = f.setup(&[group]).spec(conformance::now());
            let outcome = c.provision(&spec).await.map(|_| ());
            let revoked = c.revoke(&spec).await;
            accepted.push((group.to_owned(), outcome, revoked));
        }

        let mut teardown = String::new();
        for (_, chain) in chains.iter().rev() {
            for role in chain.iter().rev().filter(|r| !r.starts_with("pg_")) {
                teardown.push_str(&format!("DROP ROLE IF EXISTS {role}; "));
            }
        }
        teardown.push_str(&format!(
            "DROP ROLE IF EXISTS {plain}; DROP ROLE IF EXISTS {inner};"
        ));
        f.root.batch_execute(&teardown).await.unwrap();

        for (chain, outcome, created) in refusals {
            let e = outcome.expect_err(&format!("{chain:?} was granted"));
            assert!(!e.is_transient(), "{e}");
            let text = e.to_string();
            assert!(text.contains(&format!("`{}`", chain[0])), "{text}");
            let end = chain.last().unwrap();
            assert!(text.contains(&format!("reaches `{end}`")), "{text}");
            assert!(text.contains(&chain.join(" → ")), "{text}");
            assert!(!created, "{chain:?}: a role was created");
        }
        for (group, outcome, revoked) in accepted {
            outcome.unwrap_or_else(|e| panic!("{group}: {e}"));
            revoked.unwrap_or_else(|e| panic!("{group}: {e}"));
        }
    })
    .await;
}

#[tokio::test]
async fn hostile_grants_never_reach_the_server() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let canary = format!("warden_t_pwned_{}", f.suffix);
        for hostile in [
            format!("{}; CREATE ROLE {canary}; --", f.reader),
            format!("{}\" ; CREATE ROLE {canary} --", f.reader),
            format!("{}' ; CREATE ROLE {canary} --", f.reader),
            "pg_execute_server_program".to_owned(),
        ] {
            assert!(
                c.check_grants(std::slice::from_ref(&hostile)).is_err(),
                "{hostile}"
            );
            // Even a spec that skipped the bundle check is refused before any statement.
            let mut spec = f.setup(&[&f.reader]).spec(conformance::now());
            spec.grants = vec![hostile.clone()];
            assert!(c.provision(&spec).await.is_err(), "{hostile}");
            assert!(!f.role_exists(spec.account.as_str()).await, "{hostile}");
        }
        assert!(
            !f.role_exists(&canary).await,
            "a hostile entry ran on the server"
        );
    })
    .await;
}

#[tokio::test]
async fn foreign_roles_are_neither_observed_nor_removed() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        // A role with the prefix but not a derived account name, and one without.
        let lookalike = format!("{}handmade", f.prefix.as_str());
        f.root
            .batch_execute(&format!("CREATE ROLE {lookalike} NOLOGIN"))
            .await
            .unwrap();
        let seen = c.observe().await.unwrap();
        assert!(
            !seen.contains(&Held::Account(lookalike.clone())),
            "{seen:?}"
        );
        for name in [lookalike.as_str(), f.reader.as_str(), "postgres"] {
            let e = c.remove(&Held::Account(name.to_owned())).await.unwrap_err();
            assert!(!e.is_transient(), "{e}");
            assert!(f.role_exists(name).await, "{name} was dropped");
        }
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_error() {
    let settings = Settings {
        name: "down".into(),
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        url: SecretString::from("postgres://warden:s3cretpw@127.0.0.1:1/postgres".to_owned()),
        prefix: Prefix::default(),
        options: BTreeMap::new(),
    };
    let c = warden_connect_postgres::connect(&settings).await.unwrap();
    let e = c.observe().await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(!e.to_string().contains("s3cretpw"), "{e}");
}

/// The admin sessions the connector holds open (its per-database ones included).
async fn admin_backends(f: &support::Fixture) -> i64 {
    f.root
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
            &[&f.admin],
        )
        .await
        .unwrap()
        .get(0)
}

// Worker threads, as `warden serve` runs: calls look for a session at the same instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_provisions_and_removals_all_succeed_and_leave_nothing() {
    with_fixture(|f| async move {
        let c = Arc::new(f.connector().await);
        let probe = f.probe();
        let setup = f.setup(&[&f.reader, &f.maker]);
        let specs: Vec<_> = (0..24).map(|_| setup.spec(conformance::now())).collect();

        let mut calls = JoinSet::new();
        for spec in specs.clone() {
            let c = Arc::clone(&c);
            calls.spawn(async move { c.provision(&spec).await });
        }
        let mut creds = Vec::new();
        while let Some(done) = calls.join_next().await {
            creds.push(done.unwrap().unwrap().unwrap());
        }
        assert_eq!(creds.len(), specs.len());
        let open = admin_backends(&f).await;
        assert!(
            (2..=i64::try_from(warden_connect_postgres::DEFAULT_SESSIONS).unwrap()).contains(&open),
            "{open} admin sessions for 24 concurrent calls"
        );
        for spec in &specs {
            let mut groups = vec![f.reader.clone(), f.maker.clone()];
            groups.sort();
            assert_eq!(f.groups_of(spec.account.as_str()).await, groups);
        }

        // Some accounts hold a session while they are removed, some own a table in the
        // fixture's database: every removal path runs at once on the pool.
        let mut sessions = Vec::new();
        for (i, cred) in creds.iter().enumerate() {
            if i % 3 == 0 {
                let s = probe.connect(cred).await.unwrap();
                if i % 2 == 0 {
                    s.batch_execute(&format!("CREATE TABLE s.made_{i} (x int)"))
                        .await
                        .unwrap();
                }
                sessions.push(s);
            }
        }
        let mut calls = JoinSet::new();
        for spec in specs.clone() {
            let c = Arc::clone(&c);
            calls.spawn(async move { c.revoke(&spec).await });
        }
        while let Some(done) = calls.join_next().await {
            done.unwrap().unwrap();
        }

        for spec in &specs {
            assert!(
                !f.role_exists(spec.account.as_str()).await,
                "role left behind"
            );
        }
        assert!(c.observe().await.unwrap().is_empty());
        for mut s in sessions {
            assert!(!probe.alive(&mut s).await, "a session survived removal");
        }
        let owners: Vec<String> = f
            .root_in_db()
            .await
            .query(
                "SELECT tableowner::text FROM pg_tables WHERE tablename LIKE 'made\\_%'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(owners.len(), 4, "{owners:?}");
        assert!(owners.iter().all(|o| *o == f.admin), "{owners:?}");
        assert!(
            f.groups_of(&f.admin)
                .await
                .iter()
                .all(|g| !f.prefix.owns(g)),
            "the admin kept a membership of a removed account"
        );
        assert!(admin_backends(&f).await <= 4);
    })
    .await;
}

#[tokio::test]
async fn a_dropped_admin_session_is_replaced_on_next_use() {
    with_fixture(|f| async move {
        let c = f.connector().await;
        let setup = f.setup(&[&f.reader]);
        let spec = setup.spec(conformance::now());
        c.provision(&spec).await.unwrap().unwrap();
        assert_eq!(admin_backends(&f).await, 1, "one call needs one session");

        // The server ends the admin session (a restart, an idle timeout, an operator).
        f.root
            .execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1",
                &[&f.admin],
            )
            .await
            .unwrap();
        assert_eq!(admin_backends(&f).await, 0);
        // The client may learn of the closed connection only from this call, which is
        // then a transient error (the job retries); the call after it gets a new session.
        if let Err(e) = c.observe().await {
            assert!(e.is_transient(), "{e}");
        }
        c.revoke(&spec).await.unwrap();
        assert!(!f.role_exists(spec.account.as_str()).await);
        assert_eq!(admin_backends(&f).await, 1);
    })
    .await;
}

// Worker threads, as `warden serve` runs: calls look for a session at the same instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_for_one_account_all_succeed() {
    with_fixture(|f| async move {
        let c = Arc::new(f.connector().await);
        let spec = f.setup(&[&f.reader]).spec(conformance::now());
        for _ in 0..3 {
            let mut calls = JoinSet::new();
            for _ in 0..6 {
                let (c, spec) = (Arc::clone(&c), spec.clone());
                calls.spawn(async move { c.provision(&spec).await.map(|_| ()) });
            }
            while let Some(done) = calls.join_next().await {
                done.unwrap().unwrap();
            }
            assert_eq!(
                f.groups_of(spec.account.as_str()).await,
                vec![f.reader.clone()]
            );
            let mut calls = JoinSet::new();
            for _ in 0..6 {
                let (c, spec) = (Arc::clone(&c), spec.clone());
                calls.spawn(async move { c.revoke(&spec).await });
            }
            while let Some(done) = calls.join_next().await {
                done.unwrap().unwrap();
            }
            assert!(!f.role_exists(spec.account.as_str()).await);
        }
    })
    .await;
}
