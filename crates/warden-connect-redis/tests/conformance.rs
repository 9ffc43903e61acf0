//! The shared conformance suite and the Redis-specific traps, against the server in
//! `WARDEN_TEST_REDIS_URL`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionInfo, IntoConnectionInfo};
use secrecy::{ExposeSecret, SecretString};
use warden_connect::conformance::{self, Probe, Setup};
use warden_connect::{Connector, Credential, Held, Prefix, Settings, kind};
use warden_model::IdentityId;

/// Rules the probe's check command needs: read keys under `warden-test:`.
fn grants() -> Vec<String> {
    ["~warden-test:*", "+@read", "+@connection"]
        .map(String::from)
        .to_vec()
}

/// The server of `WARDEN_TEST_REDIS_URL`, if it is a `redis://` URL the tests can use.
/// Anything else is a skip that says why, and a failure under `CI=true`.
fn redis_url() -> Option<String> {
    let url = conformance::target_url("redis")?;
    if url.starts_with("redis://") {
        return Some(url);
    }
    // The URL may hold a password: only its scheme is shown.
    let scheme = url.split_once("://").map_or("no scheme", |(s, _)| s);
    conformance::skip(&format!(
        "WARDEN_TEST_REDIS_URL must be a `redis://` url, not `{scheme}`"
    ));
    None
}

fn settings(url: &str) -> Settings {
    Settings {
        name: "cache-redis".into(),
        url: SecretString::from(url.to_owned()),
        prefix: Prefix::parse("wt_redis_").unwrap(),
        options: BTreeMap::new(),
    }
}

fn setup() -> Setup {
    Setup {
        prefix: Prefix::parse("wt_redis_").unwrap(),
        subject: IdentityId::parse("alice").unwrap(),
        grants: grants(),
    }
}

/// A client of the server logging in with a minted credential.
struct RedisProbe {
    server: ConnectionInfo,
}

impl RedisProbe {
    fn new(url: &str) -> Self {
        Self {
            server: url.into_connection_info().unwrap(),
        }
    }

    async fn login(&self, user: &str, password: &str) -> Result<MultiplexedConnection, String> {
        let redis = self
            .server
            .redis_settings()
            .clone()
            .set_username(user)
            .set_password(password);
        let info = self.server.clone().set_redis_settings(redis);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        redis::Client::open(info)
            .map_err(|e| e.to_string())?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Probe for RedisProbe {
    type Session = MultiplexedConnection;

    async fn connect(&self, credential: &Credential) -> Result<Self::Session, String> {
        self.login(&credential.username, credential.password())
            .await
    }

    async fn alive(&self, session: &mut Self::Session) -> bool {
        redis::cmd("EXISTS")
            .arg("warden-test:probe")
            .query_async::<i64>(session)
            .await
            .is_ok()
    }
}

async fn admin(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_connector_meets_the_contract() {
    let Some(url) = redis_url() else {
        return;
    };
    let c = warden_connect_redis::connect(&settings(&url))
        .await
        .unwrap();
    conformance::run(&c, &RedisProbe::new(&url), &setup()).await;
}

#[tokio::test]
async fn reprovisioning_restores_exactly_the_roles_rules_and_password() {
    let Some(url) = redis_url() else {
        return;
    };
    let c = warden_connect_redis::connect(&settings(&url))
        .await
        .unwrap();
    let mut s = setup();
    let mut spec = s.spec(conformance::now());
    spec.grants = ["~warden-test:*", "+@read", "+@connection", "+set"]
        .map(String::from)
        .to_vec();
    let first = c.provision(&spec).await.unwrap().unwrap();
    s.grants = grants();
    spec.grants = s.grants.clone();
    let second = c.provision(&spec).await.unwrap().unwrap();

    let mut admin = admin(&url).await;
    let rules: String = redis::cmd("ACL")
        .arg("LIST")
        .query_async::<Vec<String>>(&mut admin)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.starts_with(&format!("user {} ", spec.account)))
        .expect("the user is listed");
    assert!(
        !rules.contains("+set"),
        "a rule of the earlier provisioning survived: {rules}"
    );
    assert_eq!(
        rules.matches(" #").count(),
        1,
        "exactly one password: {rules}"
    );

    let probe = RedisProbe::new(&url);
    assert!(
        probe.connect(&first).await.is_err(),
        "the replaced password still logs in"
    );
    let mut session = probe.connect(&second).await.unwrap();
    assert!(probe.alive(&mut session).await);
    let set = redis::cmd("SET")
        .arg("warden-test:x")
        .arg("1")
        .query_async::<()>(&mut session)
        .await;
    assert!(set.is_err(), "a dropped rule still lets the user write");
    c.revoke(&spec).await.unwrap();
}

#[tokio::test]
async fn removal_ends_every_session_of_the_account() {
    let Some(url) = redis_url() else {
        return;
    };
    let c = warden_connect_redis::connect(&settings(&url))
        .await
        .unwrap();
    let spec = setup().spec(conformance::now());
    let cred = c.provision(&spec).await.unwrap().unwrap();
    let probe = RedisProbe::new(&url);
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(probe.connect(&cred).await.unwrap());
    }
    c.revoke(&spec).await.unwrap();
    let mut admin = admin(&url).await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(
        !list.contains(&format!("user={} ", spec.account)),
        "a client of the removed user is still listed"
    );
    for s in &mut sessions {
        assert!(!probe.alive(s).await, "a session survived removal");
    }
}

#[tokio::test]
async fn foreign_accounts_are_neither_observed_nor_removed() {
    let Some(url) = redis_url() else {
        return;
    };
    let c = warden_connect_redis::connect(&settings(&url))
        .await
        .unwrap();
    let mut admin = admin(&url).await;
    let foreign = "wt_redis_not_derived";
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(foreign)
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let seen = c.observe().await.unwrap();
    assert!(!seen.contains(&Held::Account(foreign.into())));
    let refused = c.remove(&Held::Account(foreign.into())).await.unwrap_err();
    assert!(!refused.is_transient());
    let still: Option<redis::Value> = redis::cmd("ACL")
        .arg("GETUSER")
        .arg(foreign)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(
        still.is_some_and(|v| v != redis::Value::Nil),
        "a foreign user was removed"
    );
    redis::cmd("ACL")
        .arg("DELUSER")
        .arg(foreign)
        .query_async::<u64>(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = warden_connect_redis::connect(&settings(&format!("redis://127.0.0.1:{port}")))
        .await
        .unwrap();
    let spec = setup().spec(conformance::now());
    let e = c.provision(&spec).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(c.observe().await.unwrap_err().is_transient());
}

#[tokio::test]
async fn refused_admin_credentials_are_permanent_and_not_echoed() {
    let Some(url) = redis_url() else {
        return;
    };
    let rest = url.strip_prefix("redis://").unwrap();
    let host = rest.rsplit('@').next().unwrap();
    let bad = format!("redis://nobody:s3cret-admin-pw@{host}");
    let c = warden_connect_redis::connect(&settings(&bad))
        .await
        .unwrap();
    let e = c.observe().await.unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(!e.to_string().contains("s3cret-admin-pw"), "{e}");
    assert!(!format!("{c:?}").contains("s3cret-admin-pw"));
}

#[tokio::test]
async fn settings_are_checked() {
    let mut s = settings("redis://127.0.0.1:6379");
    s.options.insert("management_url".into(), "x".into());
    assert!(warden_connect_redis::connect(&s).await.is_err());
    let s = settings("http://127.0.0.1:6379");
    assert!(warden_connect_redis::connect(&s).await.is_err());
}

/// A redis-server of the test's own, with an ACL file in a temp dir, stopped on drop.
struct AclServer {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for AclServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn acl_server() -> Option<AclServer> {
    let dir = tempfile::tempdir().unwrap();
    let aclfile = dir.path().join("users.acl");
    // The server refuses to start on a missing ACL file; an empty one holds no user, and
    // it then keeps the built-in `default`.
    std::fs::write(&aclfile, "").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match std::process::Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir.path())
        .arg("--aclfile")
        .arg(&aclfile)
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            conformance::skip(&format!("redis-server cannot be started here: {e}"));
            return None;
        }
    };
    let server = AclServer {
        child,
        url: format!("redis://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = redis::Client::open(server.url.as_str()).unwrap();
    for _ in 0..100 {
        if client.get_multiplexed_async_connection().await.is_ok() {
            return Some(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the test's redis-server did not come up on port {port}");
}

#[tokio::test]
async fn with_an_acl_file_acl_load_neither_drops_a_grant_nor_resurrects_a_revoked_one() {
    let Some(_) = redis_url() else {
        return;
    };
    let Some(server) = acl_server().await else {
        return;
    };
    let c = warden_connect_redis::connect(&settings(&server.url))
        .await
        .unwrap();
    let kept = setup().spec(conformance::now());
    let revoked = setup().spec(conformance::now());
    let kept_cred = c.provision(&kept).await.unwrap().unwrap();
    c.provision(&revoked).await.unwrap().unwrap();
    c.revoke(&revoked).await.unwrap();

    let mut admin = admin(&server.url).await;
    redis::cmd("ACL")
        .arg("LOAD")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let seen = c.observe().await.unwrap();
    assert!(
        seen.contains(&Held::Account(kept.account.as_str().into())),
        "ACL LOAD dropped a live grant"
    );
    assert!(
        !seen.contains(&Held::Account(revoked.account.as_str().into())),
        "ACL LOAD brought a revoked user back"
    );
    let probe = RedisProbe::new(&server.url);
    let mut session = probe.connect(&kept_cred).await.unwrap();
    assert!(probe.alive(&mut session).await);
    let file = std::fs::read_to_string(server._dir.path().join("users.acl")).unwrap();
    assert!(!file.contains(revoked.account.as_str()));
    assert!(
        !file.contains(kept_cred.password.expose_secret()),
        "the ACL file holds a plain password"
    );
}

#[tokio::test]
async fn without_an_acl_file_acl_load_cannot_resurrect_anything() {
    // The decision documented in docs/connectors/redis.md: with no ACL file the users
    // live only in memory and `ACL LOAD` is refused, so nothing can come back through it.
    let Some(url) = redis_url() else {
        return;
    };
    let mut admin = admin(&url).await;
    let aclfile: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("aclfile")
        .query_async(&mut admin)
        .await
        .unwrap();
    if aclfile.get(1).is_some_and(|f| !f.is_empty()) {
        conformance::skip(
            "the server of WARDEN_TEST_REDIS_URL keeps its users in an ACL file, so what \
             happens without one cannot be tested against it",
        );
        return;
    }
    let load = redis::cmd("ACL")
        .arg("LOAD")
        .query_async::<()>(&mut admin)
        .await;
    assert!(load.is_err(), "ACL LOAD worked without an ACL file");
    let doc = include_str!("../../../docs/connectors/redis.md");
    assert!(doc.contains("ACL LOAD"), "the doc says nothing of ACL LOAD");
}

/// Whether the server lists user `name`.
async fn user_exists(admin: &mut MultiplexedConnection, name: &str) -> bool {
    let user: redis::Value = redis::cmd("ACL")
        .arg("GETUSER")
        .arg(name)
        .query_async(admin)
        .await
        .unwrap();
    user != redis::Value::Nil
}

#[tokio::test]
async fn a_rule_that_lets_the_user_mint_a_backdoor_is_refused() {
    let Some(url) = redis_url() else {
        return;
    };
    let c = warden_connect_redis::connect(&settings(&url))
        .await
        .unwrap();
    let mut admin = admin(&url).await;
    let probe = RedisProbe::new(&url);

    // The trap: a user made the way the connector makes one, given `+@all`, makes a user
    // of its own, and that one outlives the grant's removal.
    let spec = setup().spec(conformance::now());
    let account = spec.account.as_str();
    let backdoor = format!("wt_backdoor_{}", uuid::Uuid::new_v4().simple());
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(account)
        .arg(&["reset", "on", ">granted-pw", "~*", "+@all"])
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let mut session = probe.login(account, "granted-pw").await.unwrap();
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&backdoor)
        .arg(&["on", ">backdoor-pw", "~*", "+@all"])
        .query_async::<()>(&mut session)
        .await
        .unwrap();
    c.revoke(&spec).await.unwrap();
    let survived = probe.login(&backdoor, "backdoor-pw").await.is_ok();
    redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&backdoor)
        .query_async::<u64>(&mut admin)
        .await
        .unwrap();
    assert!(
        survived,
        "the server no longer shows the trap this test is about"
    );

    // Such rules never reach the server: refused when the bundle is checked, and again by
    // provisioning, with nothing created.
    for bad in [
        "+@all",
        "allcommands",
        "+@admin",
        "+@dangerous",
        "+@slow",
        "+acl",
        "+acl|setuser",
        "+config",
        "+config|set",
        "+module",
        "+debug",
        "+shutdown",
        "+failover",
        "+replicaof",
        "+slaveof",
    ] {
        let grants = vec!["~*".to_owned(), bad.to_owned()];
        let e = c.check_grants(&grants).unwrap_err().to_string();
        assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        let mut spec = setup().spec(conformance::now());
        spec.grants = grants;
        let e = c.provision(&spec).await.unwrap_err();
        assert!(!e.is_transient(), "{bad}: {e}");
        assert!(
            !user_exists(&mut admin, spec.account.as_str()).await,
            "{bad}: a user was created"
        );
    }
}

/// The commands of category `category`, as the server lists them.
async fn members(admin: &mut MultiplexedConnection, category: &str) -> Vec<String> {
    redis::cmd("ACL")
        .arg("CAT")
        .arg(category)
        .query_async(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_refused_rules_cover_every_administrative_command_of_the_server() {
    let Some(url) = redis_url() else {
        return;
    };
    let mut admin = admin(&url).await;
    // Whether a role given `+{command}` is refused.
    let refused = |command: &str| kind::redis_rule(&format!("+{command}")).is_err();

    // Every command the server classes as administrative is refused, or is one of the few
    // the doc lists as accepted (each acts on connections or only reports).
    for command in members(&mut admin, "admin").await {
        assert!(
            refused(&command) || kind::REDIS_ACCEPTED_ADMIN_COMMANDS.contains(&command.as_str()),
            "`{command}` is administrative on this server and neither refused nor listed as accepted"
        );
    }
    for command in kind::REDIS_ACCEPTED_ADMIN_COMMANDS {
        assert!(!refused(command), "{command}");
    }

    // A category is accepted only if it holds no refused command on this server; the
    // ones that do (`@admin`, `@dangerous`, `@slow`) are refused.
    let categories: Vec<String> = redis::cmd("ACL")
        .arg("CAT")
        .query_async(&mut admin)
        .await
        .unwrap();
    for category in kind::REDIS_CATEGORIES {
        assert!(
            categories.iter().any(|c| c == category),
            "`@{category}` is not a category of this server"
        );
    }
    let mut refused_categories = Vec::new();
    for category in categories {
        let holding: Vec<String> = members(&mut admin, &category)
            .await
            .into_iter()
            .filter(|c| refused(c))
            .collect();
        let accepted = kind::redis_rule(&format!("+@{category}")).is_ok();
        assert!(
            !accepted || holding.is_empty(),
            "`@{category}` is accepted but holds {holding:?}"
        );
        if !holding.is_empty() {
            refused_categories.push(category);
        }
    }
    refused_categories.sort();
    assert_eq!(refused_categories, ["admin", "dangerous", "slow"]);
    assert!(refused("@all"));

    // The refused commands are the server's: a misspelt entry would refuse nothing.
    for command in kind::REDIS_REFUSED_COMMANDS
        .iter()
        .chain(kind::REDIS_REFUSED_SUBCOMMANDS)
    {
        let info: Vec<redis::Value> = redis::cmd("COMMAND")
            .arg("INFO")
            .arg(command)
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(
            info.first().is_some_and(|v| *v != redis::Value::Nil),
            "`{command}` is not a command of this server"
        );
    }
}

/// Runs test `name` of this binary again in a child process against `url`, with
/// `CI=true` or without `CI`; returns whether it passed and what it printed.
fn rerun(name: &str, url: &str, ci: bool) -> (bool, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("WARDEN_TEST_REDIS_URL", url);
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_url_that_is_not_redis_is_a_skip_that_says_why_and_a_failure_in_ci() {
    for test in [
        "refused_admin_credentials_are_permanent_and_not_echoed",
        "redis_connector_meets_the_contract",
        "without_an_acl_file_acl_load_cannot_resurrect_anything",
    ] {
        let url = "rediss://user:s3cret@127.0.0.1:6379";
        let (passed, out) = rerun(test, url, false);
        assert!(passed, "{test} outside CI: {out}");
        assert!(
            out.contains("skipped: WARDEN_TEST_REDIS_URL must be a `redis://` url, not `rediss`"),
            "{test} did not say why it skipped: {out}"
        );
        assert!(!out.contains("s3cret"), "{test} showed the url: {out}");
        let (passed, out) = rerun(test, url, true);
        assert!(
            !passed,
            "{test} passed under CI=true without testing: {out}"
        );
        assert!(out.contains("1 failed"), "{test} under CI=true: {out}");
    }
}

#[tokio::test]
async fn a_server_with_an_acl_file_is_a_skip_that_says_why_and_a_failure_in_ci() {
    let Some(server) = acl_server().await else {
        return;
    };
    let test = "without_an_acl_file_acl_load_cannot_resurrect_anything";
    let (passed, out) = rerun(test, &server.url, false);
    assert!(passed, "outside CI: {out}");
    assert!(
        out.contains("skipped: the server of WARDEN_TEST_REDIS_URL keeps its users in an ACL file"),
        "it did not say why it skipped: {out}"
    );
    let (passed, out) = rerun(test, &server.url, true);
    assert!(!passed, "it passed under CI=true without testing: {out}");
    assert!(out.contains("1 failed"), "under CI=true: {out}");
}
