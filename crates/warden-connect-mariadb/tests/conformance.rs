//! The MariaDB connector against a real server (`WARDEN_TEST_MARIADB_URL`, an account
//! that can create databases and users): the shared conformance suite, run as a
//! least-privileged admin account, and the MariaDB-specific traps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use secrecy::{ExposeSecret, SecretString};
use warden_connect::conformance::{self, Probe, Setup, target_url};
use warden_connect::{
    ConnectError, Connector, Credential, Held, Prefix, Settings, generate_password,
};
use warden_connect_mariadb::{MariadbConnector, connect};
use warden_model::IdentityId;

/// One test's world on the server: a fresh database with a table, an admin account with
/// only the privileges the connector documents, and a prefix no other test uses.
struct Target {
    root: Opts,
    db: String,
    admin: String,
    admin_password: SecretString,
    prefix: Prefix,
}

impl Target {
    async fn new(url: &str) -> Self {
        let root = Opts::from_url(url).unwrap();
        let root = Opts::from(OptsBuilder::from_opts(root).prefer_socket(false));
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let db = format!("wt_{tag}");
        let admin = format!("wt_adm_{tag}");
        let admin_password = generate_password().unwrap();
        let t = Self {
            root,
            db,
            admin,
            admin_password,
            prefix: Prefix::parse(&format!("wt_{tag}_")).unwrap(),
        };
        let (db, admin) = (&t.db, &t.admin);
        t.sql(&format!("CREATE DATABASE `{db}`")).await;
        t.sql(&format!("CREATE TABLE `{db}`.t (a INT)")).await;
        t.sql(&format!("INSERT INTO `{db}`.t VALUES (1)")).await;
        t.sql(&format!(
            "CREATE USER '{admin}'@'%' IDENTIFIED BY '{}'",
            t.admin_password.expose_secret()
        ))
        .await;
        // The least-privileged provisioning account, as docs/connectors/mariadb.md lists it.
        t.sql(&format!(
            "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '{admin}'@'%'"
        ))
        .await;
        t.sql(&format!(
            "GRANT SELECT ON mysql.global_priv TO '{admin}'@'%'"
        ))
        .await;
        t.sql(&format!(
            "GRANT SELECT, INSERT ON `{db}`.* TO '{admin}'@'%' WITH GRANT OPTION"
        ))
        .await;
        t
    }

    async fn root_conn(&self) -> Conn {
        Conn::new(self.root.clone()).await.unwrap()
    }

    async fn sql(&self, sql: &str) {
        let mut c = self.root_conn().await;
        c.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.disconnect().await.unwrap();
    }

    async fn count(&self, sql: &str, user: &str) -> u64 {
        let mut c = self.root_conn().await;
        let n: Option<u64> = c.exec_first(sql, (user,)).await.unwrap();
        c.disconnect().await.unwrap();
        n.unwrap()
    }

    async fn accounts_named(&self, user: &str) -> u64 {
        self.count(
            "SELECT COUNT(*) FROM mysql.global_priv WHERE User = ?",
            user,
        )
        .await
    }

    async fn sessions_of(&self, user: &str) -> u64 {
        self.count(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?",
            user,
        )
        .await
    }

    fn settings(&self, options: &[(&str, &str)]) -> Settings {
        let url = format!(
            "mysql://{}:{}@{}:{}/?prefer_socket=false",
            self.admin,
            self.admin_password.expose_secret(),
            self.root.ip_or_hostname(),
            self.root.tcp_port()
        );
        Settings {
            name: "ledger-db".into(),
            url: url.into(),
            prefix: self.prefix.clone(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    async fn connector(&self) -> MariadbConnector {
        connect(&self.settings(&[])).await.unwrap()
    }

    fn probe(&self) -> SqlProbe {
        SqlProbe {
            host: self.root.ip_or_hostname().to_owned(),
            port: self.root.tcp_port(),
            db: self.db.clone(),
        }
    }

    fn setup(&self, grants: &[&str]) -> Setup {
        Setup {
            prefix: self.prefix.clone(),
            subject: IdentityId::parse("alice@example.com").unwrap(),
            grants: grants.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// Drops the database, the admin and any account with the test's prefix.
    async fn clean_up(self, connector: MariadbConnector) {
        for held in connector.observe().await.unwrap() {
            connector.remove(&held).await.unwrap();
        }
        connector.disconnect().await.unwrap();
        self.sql(&format!("DROP DATABASE IF EXISTS `{}`", self.db))
            .await;
        self.sql(&format!("DROP USER IF EXISTS '{}'@'%'", self.admin))
            .await;
    }
}

/// A client of the database: logs in with `USE` of the test database (so the session
/// caches its database privileges, the trap) and reads the table.
struct SqlProbe {
    host: String,
    port: u16,
    db: String,
}

impl SqlProbe {
    async fn login(&self, user: &str, password: &str) -> Result<Conn, String> {
        self.login_to(user, password, Some(&self.db)).await
    }

    /// Logs in with `USE` of `db`, or of no database.
    async fn login_to(&self, user: &str, password: &str, db: Option<&str>) -> Result<Conn, String> {
        let opts = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .prefer_socket(false)
            .user(Some(user))
            .pass(Some(password))
            .db_name(db);
        Conn::new(opts).await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Probe for SqlProbe {
    type Session = Conn;

    async fn connect(&self, credential: &Credential) -> Result<Conn, String> {
        self.login(&credential.username, credential.password())
            .await
    }

    async fn alive(&self, session: &mut Conn) -> bool {
        let sql = format!("SELECT 1 FROM `{}`.t LIMIT 1", self.db);
        matches!(session.query_first::<u64, _>(sql).await, Ok(Some(1)))
    }
}

#[tokio::test]
async fn conformance_suite_passes_as_a_least_privileged_admin() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    let grant = format!("SELECT ON {}.*", t.db);
    conformance::run(&c, &t.probe(), &t.setup(&[&grant])).await;
    let grant = format!("select, insert ON {}.t", t.db);
    conformance::run(&c, &t.probe(), &t.setup(&[&grant])).await;
    t.clean_up(c).await;
}

#[tokio::test]
async fn a_session_that_used_the_database_keeps_no_access_after_revoke() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let probe = t.probe();

    // The trap, shown without the connector: REVOKE and DROP USER leave a session that has
    // run `USE` with its cached database privileges.
    let control = format!("{}control", t.prefix.as_str());
    t.sql(&format!(
        "CREATE USER '{control}'@'%' IDENTIFIED BY 'control-pw'"
    ))
    .await;
    t.sql(&format!("GRANT SELECT ON `{}`.* TO '{control}'@'%'", t.db))
        .await;
    let mut kept = probe.login(&control, "control-pw").await.unwrap();
    assert!(probe.alive(&mut kept).await);
    t.sql(&format!(
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{control}'@'%'"
    ))
    .await;
    t.sql(&format!("DROP USER '{control}'@'%'")).await;
    assert!(
        probe.alive(&mut kept).await,
        "this server ends cached privileges on its own: the trap is gone, update the doc"
    );
    drop(kept);

    // The connector: the same session is gone after revocation, and nothing of the account
    // is left on the server.
    let c = t.connector().await;
    let setup = t.setup(&[&format!("SELECT ON {}.*", t.db)]);
    let spec = setup.spec(conformance::now());
    let cred = c.provision(&spec).await.unwrap().unwrap();
    let mut session = probe.connect(&cred).await.unwrap();
    assert!(probe.alive(&mut session).await);
    assert_eq!(t.sessions_of(&cred.username).await, 1);
    c.revoke(&spec).await.unwrap();
    assert!(
        !probe.alive(&mut session).await,
        "the session kept its access"
    );
    assert_eq!(t.sessions_of(&cred.username).await, 0);
    assert_eq!(t.accounts_named(&cred.username).await, 0);
    assert!(probe.connect(&cred).await.is_err());
    t.clean_up(c).await;
}

#[tokio::test]
async fn hostile_grants_entries_are_refused_and_create_nothing() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    let db = &t.db;
    let hostile = [
        format!("SELECT ON {db}.* TO root"),
        format!("SELECT ON {db}.t; DROP USER root"),
        format!("SELECT ON {db}.t`; DROP USER root; -- "),
        format!("SELECT ON `{db}`.*"),
        format!("SELECT ON {db}.t' OR '1'='1"),
        format!("SELECT ON {db}.t\nDROP USER root"),
        format!("SELECT ON {db}.t\\"),
        format!("ALL ON {db}.*"),
        format!("ALL PRIVILEGES ON {db}.*"),
        format!("GRANT OPTION ON {db}.*"),
        format!("SUPER ON {db}.*"),
        format!("FILE ON {db}.*"),
        format!("SELECT; DROP USER root ON {db}.*"),
        "SELECT ON *.*".to_owned(),
        "SELECT ON mysql.*".to_owned().replace("mysql", "mysql`"),
        "SELECT".to_owned(),
        String::new(),
    ];
    let setup = t.setup(&[]);
    for entry in &hostile {
        assert!(
            c.check_grants(std::slice::from_ref(entry)).is_err(),
            "{entry:?}"
        );
        let mut spec = setup.spec(conformance::now());
        spec.grants = vec![format!("SELECT ON {db}.*"), entry.clone()];
        let e = c.provision(&spec).await.unwrap_err();
        assert!(matches!(e, ConnectError::Config(_)), "{entry:?}: {e}");
        assert_eq!(
            t.accounts_named(spec.account.as_str()).await,
            0,
            "{entry:?}"
        );
    }
    let mut spec = setup.spec(conformance::now());
    spec.grants = vec![];
    assert!(c.provision(&spec).await.is_err(), "no grants entry");
    assert!(c.observe().await.unwrap().is_empty());
    assert_eq!(t.accounts_named("root").await.min(1), 1);
    t.clean_up(c).await;
}

#[tokio::test]
async fn accounts_it_did_not_make_are_never_removed() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    let lookalike = format!("{}nothex_1", t.prefix.as_str());
    t.sql(&format!("CREATE USER '{lookalike}'@'%'")).await;
    for name in [t.admin.as_str(), "root", lookalike.as_str()] {
        let e = c.remove(&Held::Account(name.to_owned())).await.unwrap_err();
        assert!(!e.is_transient(), "{name}: {e}");
        assert!(t.accounts_named(name).await >= 1, "{name} was dropped");
    }
    assert!(
        !c.observe()
            .await
            .unwrap()
            .contains(&Held::Account(lookalike.clone())),
        "observe reports a name it cannot have made"
    );
    t.sql(&format!("DROP USER '{lookalike}'@'%'")).await;
    t.clean_up(c).await;
}

#[tokio::test]
async fn provisioning_again_restores_exactly_the_roles_privileges() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    let setup = t.setup(&[&format!("SELECT ON {}.t", t.db)]);
    let spec = setup.spec(conformance::now());
    let first = c.provision(&spec).await.unwrap().unwrap();
    let user = first.username.clone();
    // Someone widens the account and locks it by hand; provisioning puts it back.
    t.sql(&format!("GRANT INSERT ON `{}`.* TO '{user}'@'%'", t.db))
        .await;
    t.sql(&format!("ALTER USER '{user}'@'%' ACCOUNT LOCK"))
        .await;
    let second = c.provision(&spec).await.unwrap().unwrap();
    assert_ne!(first.password(), second.password());
    let mut root = t.root_conn().await;
    let grants: Vec<String> = root
        .query(format!("SHOW GRANTS FOR '{user}'@'%'"))
        .await
        .unwrap();
    root.disconnect().await.unwrap();
    let privileged: Vec<_> = grants
        .iter()
        .filter(|g| !g.starts_with("GRANT USAGE"))
        .collect();
    assert_eq!(privileged.len(), 1, "{grants:?}");
    assert!(
        privileged[0].starts_with(&format!("GRANT SELECT ON `{}`.`t` TO `{user}`@`%`", t.db)),
        "{grants:?}"
    );
    let probe = t.probe();
    assert!(
        probe.connect(&first).await.is_err(),
        "the first password still works"
    );
    let mut s = probe.connect(&second).await.unwrap();
    assert!(probe.alive(&mut s).await);
    let insert = format!("INSERT INTO `{}`.t VALUES (2)", t.db);
    assert!(
        s.query_drop(insert).await.is_err(),
        "the hand-made INSERT grant survived"
    );
    drop(s);
    c.revoke(&spec).await.unwrap();
    t.clean_up(c).await;
}

#[tokio::test]
async fn a_database_level_grant_gives_that_database_and_not_the_ones_its_name_matches() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    // In `ON db.*`, MariaDB reads `_` as "any one character": unescaped, a grant on
    // `…pay_ledger` also gives `…payXledger`.
    let exact = format!("{}_pay_ledger", t.db);
    let lookalike = format!("{}_payXledger", t.db);
    for db in [&exact, &lookalike] {
        t.sql(&format!("CREATE DATABASE `{db}`")).await;
        t.sql(&format!("CREATE TABLE `{db}`.t (a INT)")).await;
        t.sql(&format!("INSERT INTO `{db}`.t VALUES (1)")).await;
    }
    // Written as an operator would (unescaped, so itself a pattern): the admin may grant
    // on both, and only the connector's escaping keeps the grant to one.
    t.sql(&format!(
        "GRANT SELECT ON `{exact}`.* TO '{}'@'%' WITH GRANT OPTION",
        t.admin
    ))
    .await;
    let c = t.connector().await;
    let spec = t
        .setup(&[&format!("SELECT ON {exact}.*")])
        .spec(conformance::now());
    let cred = c.provision(&spec).await.unwrap().unwrap();
    let mut s = t
        .probe()
        .login_to(&cred.username, cred.password(), None)
        .await
        .unwrap();
    let read = |db: &str| format!("SELECT a FROM `{db}`.t");
    let exact_rows: Result<Vec<i32>, _> = s.query(read(&exact)).await;
    let lookalike_rows: Result<Vec<i32>, _> = s.query(read(&lookalike)).await;
    drop(s);
    c.revoke(&spec).await.unwrap();
    for db in [&exact, &lookalike] {
        t.sql(&format!("DROP DATABASE `{db}`")).await;
    }
    t.clean_up(c).await;
    assert_eq!(
        exact_rows.unwrap(),
        [1],
        "the granted database is not readable"
    );
    assert!(
        lookalike_rows.is_err(),
        "a grant on `{exact}` reads `{lookalike}`"
    );
}

#[tokio::test]
async fn the_host_option_names_the_accounts_host_and_only_that_host_keeps_the_account() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let any = t.connector().await;
    let local = connect(&t.settings(&[("host", "127.0.0.1")]))
        .await
        .unwrap();
    assert_eq!(local.account_host(), "127.0.0.1");
    let setup = t.setup(&[&format!("SELECT ON {}.*", t.db)]);
    let spec = setup.spec(conformance::now());
    let on_local = "SELECT COUNT(*) FROM mysql.global_priv WHERE User = ? AND Host = '127.0.0.1'";
    let old = local.provision(&spec).await.unwrap().unwrap();
    assert_eq!(t.count(on_local, &old.username).await, 1);
    let probe = t.probe();
    let mut s = probe.connect(&old).await.unwrap();
    assert!(probe.alive(&mut s).await);

    // The host setting changes: provisioning again leaves one account, on the new host,
    // and the old host's password no longer logs in.
    let new = any.provision(&spec).await.unwrap().unwrap();
    assert_eq!(t.accounts_named(&new.username).await, 1);
    assert_eq!(t.count(on_local, &new.username).await, 0);
    assert!(probe.connect(&old).await.is_err());
    let mut s2 = probe.connect(&new).await.unwrap();
    assert!(probe.alive(&mut s2).await);

    // An account of the same name on another host made by hand (or by a connector whose
    // host changed back): removal takes every host's account and every session.
    t.sql(&format!(
        "CREATE USER '{}'@'127.0.0.1' IDENTIFIED BY 'x'",
        new.username
    ))
    .await;
    assert_eq!(t.accounts_named(&new.username).await, 2);
    local.revoke(&spec).await.unwrap();
    assert_eq!(t.accounts_named(&new.username).await, 0);
    assert!(
        !probe.alive(&mut s).await,
        "the old host's session survived"
    );
    assert!(
        !probe.alive(&mut s2).await,
        "the new host's session survived"
    );
    local.disconnect().await.unwrap();
    t.clean_up(any).await;
}

#[tokio::test]
async fn an_admin_without_grant_option_on_a_database_gets_a_permanent_error() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    // The admin holds GRANT OPTION on the test database only.
    let setup = t.setup(&["SELECT ON mysql.*"]);
    let spec = setup.spec(conformance::now());
    let e = c.provision(&spec).await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    // The account was created locked before the refusal; nobody can log in with it, and
    // revoking the grant (as the worker does after a failed provisioning) removes it.
    c.revoke(&spec).await.unwrap();
    assert_eq!(t.accounts_named(spec.account.as_str()).await, 0);
    t.clean_up(c).await;
}

/// How many general-log entries hold `needle`.
async fn logged(root: &mut Conn, needle: &str) -> u64 {
    let sql = "SELECT COUNT(*) FROM mysql.general_log \
               WHERE INSTR(CONVERT(argument USING utf8mb4), ?) > 0";
    let n: Option<u64> = root.exec_first(sql, (needle,)).await.unwrap();
    n.unwrap()
}

#[tokio::test]
async fn the_password_never_reaches_the_server_as_text() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    let setup = t.setup(&[&format!("SELECT ON {}.*", t.db)]);
    let spec = setup.spec(conformance::now());
    // MariaDB's general log records account statements as sent, password included.
    let mut root = t.root_conn().await;
    let (output, on): (String, u8) = root
        .query_first("SELECT @@GLOBAL.log_output, @@GLOBAL.general_log")
        .await
        .unwrap()
        .unwrap();
    root.query_drop("SET GLOBAL log_output = 'TABLE', GLOBAL general_log = 1")
        .await
        .unwrap();
    let provisioned = c.provision(&spec).await;
    root.exec_drop("SET GLOBAL log_output = ?", (output,))
        .await
        .unwrap();
    root.query_drop(format!("SET GLOBAL general_log = {on}"))
        .await
        .unwrap();
    let cred = provisioned.unwrap().unwrap();
    assert!(
        logged(&mut root, &format!("ALTER USER '{}'", cred.username)).await >= 1,
        "the general log did not record the provisioning"
    );
    assert_eq!(
        logged(&mut root, cred.password()).await,
        0,
        "the password is in the general log"
    );
    root.disconnect().await.unwrap();
    c.revoke(&spec).await.unwrap();
    t.clean_up(c).await;
}

#[tokio::test]
async fn an_admin_without_process_takes_access_away_but_does_not_confirm() {
    let Some(url) = target_url("mariadb") else {
        return;
    };
    let t = Target::new(&url).await;
    let c = t.connector().await;
    let setup = t.setup(&[&format!("SELECT ON {}.*", t.db)]);
    let spec = setup.spec(conformance::now());
    let cred = c.provision(&spec).await.unwrap().unwrap();
    let probe = t.probe();
    let mut s = probe.connect(&cred).await.unwrap();
    // Without PROCESS the admin's process list shows only its own threads.
    t.sql(&format!("REVOKE PROCESS ON *.* FROM '{}'@'%'", t.admin))
        .await;
    let blind = t.connector().await;
    let e = blind.revoke(&spec).await.unwrap_err();
    assert!(matches!(e, ConnectError::Permanent(_)), "{e}");
    assert!(e.to_string().contains("PROCESS"), "{e}");
    assert_eq!(t.accounts_named(&cred.username).await, 0);
    assert!(!probe.alive(&mut s).await, "the session survived");
    blind.disconnect().await.unwrap();
    t.sql(&format!("GRANT PROCESS ON *.* TO '{}'@'%'", t.admin))
        .await;
    t.clean_up(c).await;
}
