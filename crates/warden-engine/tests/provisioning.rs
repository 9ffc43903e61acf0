//! The lifecycle on a real target (Redis, from `WARDEN_TEST_REDIS_URL`): a grant becomes
//! an ACL user, its credential is delivered once to its subject and stored only sealed,
//! revocation at expiry is confirmed on the target, a target that is down when a grant
//! falls due is retried until it is back, and rotation overlaps before the old
//! generation goes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_connect::conformance::target_url;
use warden_connect::proxy::Proxy;
use warden_connect::{Connector, Held, Prefix};
use warden_engine::connectors::{ConnectorInstance, Connectors};
use warden_engine::{Engine, EngineConfig, EngineError, ManualClock};
use warden_model::{Duration, GrantState, Request, Timestamp};
use warden_policy::Bundle;
use warden_store::testing;

use common::{authority, fresh_prefix, redis};

fn t0() -> Timestamp {
    Timestamp::parse("2026-11-29T10:00:00Z").unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_seconds(n).unwrap()
}

/// A prefix no other test run shares, so runs never see each other's users.
struct Env {
    engine: Engine,
    clock: Arc<ManualClock>,
    /// A connector straight to the target, for the test's own look.
    observer: Arc<dyn Connector>,
    prefix: Prefix,
    dir: tempfile::TempDir,
}

/// The example bundle; with `rotate`, `session-cache.read` rotates every 10 minutes.
fn bundle(rotate: bool) -> Bundle {
    let loaded =
        Bundle::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundle")).unwrap();
    if !rotate {
        return loaded;
    }
    let files = loaded
        .files()
        .iter()
        .map(|f| warden_policy::SourceFile {
            name: f.name.clone(),
            text: f.text.replace(
                "id = \"session-cache.read\"\n",
                "id = \"session-cache.read\"\nrotate_every = \"10m\"\n",
            ),
        })
        .collect();
    Bundle::from_files(files).unwrap()
}

/// An engine provisioning through `via` (the target's URL, or a proxy in front of it);
/// the test itself looks at the target directly, through `url`.
async fn env(url: &str, via: &str, config: EngineConfig, rotate: bool) -> Env {
    let prefix = fresh_prefix("wt");
    let connector = redis(via, &prefix).await;
    let observer = redis(url, &prefix).await;
    let mut by_name = HashMap::new();
    by_name.insert(
        "cache-redis".to_owned(),
        ConnectorInstance {
            connector,
            prefix: prefix.clone(),
        },
    );
    let (store, dir) = testing::sqlite().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let bundle = bundle(rotate);
    let config = EngineConfig {
        connectors: Connectors::new(by_name),
        ..config
    };
    let engine = Engine::new(store, bundle, clock.clone(), config)
        .await
        .unwrap();
    Env {
        engine,
        clock,
        observer,
        prefix,
        dir,
    }
}

impl Env {
    async fn drain(&self) {
        while self.engine.run_due_jobs("w1").await.unwrap() > 0 {}
    }

    async fn grant_for_alice(&self, ticket: &str, role: &str) -> String {
        let json = format!(
            r#"{{"source":"rt","ticket":"{ticket}","requester":"alice","role":"{role}","duration":"1h","purpose":"debug"}}"#
        );
        let intake = self
            .engine
            .intake("alice", Request::from_json(json.as_bytes()).unwrap())
            .await
            .unwrap();
        intake.view.grant.unwrap().id
    }

    async fn ours(&self) -> Vec<Held> {
        let p = self.prefix.clone();
        self.observer
            .observe()
            .await
            .unwrap()
            .into_iter()
            .filter(|h| matches!(h, Held::Account(n) if p.owns(n)))
            .collect()
    }

    /// Every byte the store keeps (the SQLite file and its WAL).
    fn stored_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        all
    }
}

/// Whether `user`/`password` log in to Redis at `addr` (spoken in RESP, with no client
/// library between the test and the server).
async fn logs_in(addr: &str, user: &str, password: &str) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let cmd = format!(
        "*3\r\n$4\r\nAUTH\r\n${}\r\n{user}\r\n${}\r\n{password}\r\n",
        user.len(),
        password.len()
    );
    s.write_all(cmd.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await.unwrap_or(0);
    buf[..n].starts_with(b"+OK")
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn grant_is_provisioned_delivered_once_and_revoked_at_expiry() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let env = env(&url, &url, EngineConfig::default(), false).await;
    let gid = env.grant_for_alice("P-1", "session-cache.read").await;
    env.drain().await;
    let g = env.engine.grant(&gid).await.unwrap();
    assert_eq!(g.state, GrantState::Active);
    assert_eq!(env.ours().await.len(), 1, "one ACL user for the grant");

    // Only the subject may fetch it, and only once.
    let other = env.engine.credential("bob", &gid).await.unwrap_err();
    assert!(matches!(other, EngineError::Forbidden(_)), "{other:?}");
    let cred = env.engine.credential("alice", &gid).await.unwrap();
    let password = cred.password.expose_secret().to_owned();
    assert!(
        !format!("{cred:?}").contains(&password),
        "Debug shows the password"
    );
    assert!(logs_in(&authority(&url), &cred.username, &password).await);
    let again = env.engine.credential("alice", &gid).await.unwrap_err();
    assert!(matches!(again, EngineError::Gone(_)), "{again:?}");

    // At expiry the worker revokes, and the target confirms.
    env.clock.advance(secs(3_600));
    env.drain().await;
    let g = env.engine.grant(&gid).await.unwrap();
    assert_eq!(g.state, GrantState::Revoked);
    assert!(!logs_in(&authority(&url), &cred.username, &password).await);
    assert!(env.ours().await.is_empty());

    // The secret was never stored in plaintext, nor in the audit trail.
    assert!(
        !contains(&env.stored_bytes(), &password),
        "password found in the store"
    );
    let events = env.engine.store().audit_after(0, 1_000).await.unwrap();
    let text = serde_json::to_string(&events.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains(&password));
    assert!(events.iter().any(|e| e.action == "credential.delivered"));
}

#[tokio::test]
async fn target_down_at_expiry_is_retried_and_revoked_once_back() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let proxy = Proxy::start(&authority(&url)).await.unwrap();
    let proxied = format!("redis://{}", proxy.addr());
    let config = EngineConfig {
        retry_base: std::time::Duration::from_secs(1),
        retry_max: std::time::Duration::from_secs(2),
        ..EngineConfig::default()
    };
    let env = env(&url, &proxied, config, false).await;
    let gid = env.grant_for_alice("P-2", "session-cache.read").await;
    env.drain().await;
    assert_eq!(
        env.engine.grant(&gid).await.unwrap().state,
        GrantState::Active
    );

    proxy.cut();
    env.clock.advance(secs(3_600));
    env.drain().await;
    for _ in 0..3 {
        // Still down: every retry fails and the grant stays revoking, counted overdue.
        env.clock.advance(secs(2));
        env.drain().await;
        let g = env.engine.grant(&gid).await.unwrap();
        assert_eq!(g.state, GrantState::Revoking);
        let now = env.engine.now();
        assert_eq!(env.engine.store().overdue_grants(now).await.unwrap(), 1);
    }
    assert_eq!(
        env.ours().await.len(),
        1,
        "the account is still on the target"
    );

    // Back: within one backoff ceiling (2 s) the revocation is confirmed.
    proxy.restore();
    env.clock.advance(secs(2));
    env.drain().await;
    let g = env.engine.grant(&gid).await.unwrap();
    assert_eq!(g.state, GrantState::Revoked);
    assert!(env.ours().await.is_empty());
    let events = env.engine.store().audit_after(0, 1_000).await.unwrap();
    assert!(events.iter().filter(|e| e.action == "target.retry").count() >= 3);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "grant.revoked")
            .count(),
        1
    );
    drop(proxy);
}

#[tokio::test]
async fn rotation_overlaps_then_retires_the_old_generation() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let config = EngineConfig {
        rotation_overlap: secs(60),
        ..EngineConfig::default()
    };
    let env = env(&url, &url, config, true).await;
    let addr = authority(&url);
    let gid = env.grant_for_alice("P-3", "session-cache.read").await;
    env.drain().await;
    let first = env.engine.credential("alice", &gid).await.unwrap();
    let first_pw = first.password.expose_secret().to_owned();

    // Ten minutes in, the next generation exists beside the first.
    env.clock.advance(secs(600));
    env.drain().await;
    assert_eq!(
        env.ours().await.len(),
        2,
        "old and new generation during the overlap"
    );
    let second = env.engine.credential("alice", &gid).await.unwrap();
    let second_pw = second.password.expose_secret().to_owned();
    assert_ne!(first.username, second.username);
    assert!(
        logs_in(&addr, &first.username, &first_pw).await,
        "old ended before the overlap"
    );
    assert!(logs_in(&addr, &second.username, &second_pw).await);

    // After the overlap the old generation is gone and the new one works.
    env.clock.advance(secs(60));
    env.drain().await;
    assert!(
        !logs_in(&addr, &first.username, &first_pw).await,
        "old survived its overlap"
    );
    assert!(logs_in(&addr, &second.username, &second_pw).await);
    assert_eq!(env.ours().await.len(), 1);
    let events = env.engine.store().audit_after(0, 1_000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "grant.rotated")
            .count(),
        1
    );
    assert_eq!(
        env.engine.grant(&gid).await.unwrap().state,
        GrantState::Active
    );

    // Expiry takes every live generation with it.
    env.clock.advance(secs(3_600));
    env.drain().await;
    assert_eq!(
        env.engine.grant(&gid).await.unwrap().state,
        GrantState::Revoked
    );
    assert!(env.ours().await.is_empty());
    assert!(!logs_in(&addr, &second.username, &second_pw).await);
}

#[tokio::test]
async fn hostile_grants_entries_stop_the_bundle_before_any_target_sees_them() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let prefix = fresh_prefix("wt");
    let mut by_name = HashMap::new();
    by_name.insert(
        "cache-redis".to_owned(),
        ConnectorInstance {
            connector: redis(&url, &prefix).await,
            prefix,
        },
    );
    let targets = Connectors::new(by_name);
    assert!(targets.check_bundle(&bundle(false)).is_ok());
    for hostile in [
        r#"grants = ["~session:*", "on", ">hunter2"]"#,
        r#"grants = ["~session:* allcommands"]"#,
        r#"grants = ["nopass"]"#,
        r#"grants = ["+@all\r\nACL SETUSER default off"]"#,
    ] {
        let files = bundle(false)
            .files()
            .iter()
            .map(|f| warden_policy::SourceFile {
                name: f.name.clone(),
                text: f.text.replace(
                    r#"grants = ["~session:*", "+@read", "+@connection"]"#,
                    hostile,
                ),
            })
            .collect();
        // Control characters never get past the catalog; the rest stop at the connector's
        // syntax check. Either way the role is named and no target is asked.
        let errors = match Bundle::from_files(files) {
            Err(e) => vec![e.to_string()],
            Ok(b) => targets.check_bundle(&b).unwrap_err(),
        };
        assert!(
            errors
                .iter()
                .any(|e| e.contains("role `session-cache.read`")),
            "{hostile}: {errors:?}"
        );
    }
}

/// An account with the env's prefix that no grant holds, made straight on the target.
async fn orphan(env: &Env) -> String {
    let spec = warden_connect::Spec {
        account: warden_connect::AccountName::derive(&env.prefix, uuid::Uuid::now_v7(), 1),
        subject: warden_model::IdentityId::parse("alice").unwrap(),
        grants: vec!["~session:*".into(), "+@read".into()],
        valid_until: t0().plus(secs(3_600)),
    };
    env.observer.provision(&spec).await.unwrap();
    spec.account.as_str().to_owned()
}

#[tokio::test]
async fn reconciliation_reports_orphans_and_missing_accounts() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let env = env(&url, &url, EngineConfig::default(), false).await;
    let gid = env.grant_for_alice("R-1", "session-cache.read").await;
    env.drain().await;
    let stray = orphan(&env).await;
    // Someone deletes the active grant's account behind Warden's back.
    let accounts = env
        .engine
        .store()
        .accounts(gid.parse().unwrap())
        .await
        .unwrap();
    env.observer
        .remove(&Held::Account(accounts[0].name.clone()))
        .await
        .unwrap();

    env.engine.schedule_reconciliation().await.unwrap();
    env.drain().await;
    let events = env.engine.store().audit_after(0, 1_000).await.unwrap();
    let orphans: Vec<_> = events
        .iter()
        .filter(|e| e.action == "drift.orphan")
        .collect();
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(orphans[0].data["held"]["account"], stray.as_str());
    let missing: Vec<_> = events
        .iter()
        .filter(|e| e.action == "drift.missing")
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].grant_id.unwrap().to_string(), gid);
    assert!(
        events.iter().all(|e| e.action != "drift.removed"),
        "removed without remove_orphans"
    );
    assert!(env.ours().await.contains(&Held::Account(stray.clone())));
    // The next round is scheduled, once.
    assert!(
        env.engine
            .store()
            .job_pending("reconcile", "cache-redis")
            .await
            .unwrap()
    );
    env.observer.remove(&Held::Account(stray)).await.unwrap();
}

#[tokio::test]
async fn reconciliation_removes_orphans_when_told_to() {
    let Some(url) = target_url("redis") else {
        return;
    };
    let config = EngineConfig {
        remove_orphans: true,
        ..EngineConfig::default()
    };
    let env = env(&url, &url, config, false).await;
    let gid = env.grant_for_alice("R-2", "session-cache.read").await;
    env.drain().await;
    let stray = orphan(&env).await;
    env.engine.schedule_reconciliation().await.unwrap();
    env.drain().await;
    let events = env.engine.store().audit_after(0, 1_000).await.unwrap();
    let removed: Vec<_> = events
        .iter()
        .filter(|e| e.action == "drift.removed")
        .collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].data["held"]["account"], stray.as_str());
    let left = env.ours().await;
    assert!(
        !left.contains(&Held::Account(stray)),
        "the orphan is still there"
    );
    assert_eq!(left.len(), 1, "the grant's own account stays");
    assert_eq!(
        env.engine.grant(&gid).await.unwrap().state,
        GrantState::Active
    );
}
