//! A throw-away world on the test server: a database with a table, group roles that may
//! read it or create in it, a least-privileged admin role the connector runs as, and an
//! account prefix of its own; all dropped afterwards, even when the test panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};
use warden_connect::conformance::{Probe, Setup};
use warden_connect::{Credential, Prefix, Settings};
use warden_connect_postgres::PostgresConnector;

/// One test's objects on the server.
pub struct Fixture {
    /// A superuser session on the server's default database, for setup and checks.
    pub root: Client,
    /// The server URL as the tests got it (a superuser, trust auth).
    pub url: String,
    /// The suffix every name of this fixture carries.
    pub suffix: String,
    /// The admin role the connector logs in as: `CREATEROLE`, `pg_signal_backend`.
    pub admin: String,
    /// The database holding the table (not the admin's database).
    pub db: String,
    /// A group role with `SELECT` on `s.t`.
    pub reader: String,
    /// A group role that may create tables in schema `s`.
    pub maker: String,
    /// The prefix of the accounts the connector creates.
    pub prefix: Prefix,
}

/// Connects to `config` and drives the connection in the background.
pub async fn open(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` as a URL for `user` on `db`.
fn url_for(url: &str, user: &str, db: &str) -> String {
    let config = Config::from_str(url).unwrap();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        other => panic!("the test server must be reached over tcp, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres://{user}@{host}:{port}/{db}")
}

impl Fixture {
    /// Creates the fixture's objects on the server at `url` (a superuser URL).
    pub async fn new(url: &str) -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
        let root = open(&Config::from_str(url).unwrap()).await.unwrap();
        let f = Fixture {
            url: url.to_owned(),
            admin: format!("warden_admin_t{suffix}"),
            db: format!("warden_pgc_{suffix}"),
            reader: format!("warden_t_reader_{suffix}"),
            maker: format!("warden_t_maker_{suffix}"),
            prefix: Prefix::parse(&format!("p{suffix}_")).unwrap(),
            suffix,
            root,
        };
        // Names are made of hex and `_` here, so they are safe to splice in test setup.
        f.root
            .batch_execute(&format!(
                "CREATE ROLE {reader} NOLOGIN; CREATE ROLE {maker} NOLOGIN;
                 CREATE ROLE {admin} LOGIN CREATEROLE;
                 GRANT pg_signal_backend TO {admin};
                 GRANT {reader} TO {admin} WITH ADMIN OPTION;
                 GRANT {maker} TO {admin} WITH ADMIN OPTION;",
                reader = f.reader,
                maker = f.maker,
                admin = f.admin,
            ))
            .await
            .unwrap();
        // Not in the batch above: `CREATE DATABASE` refuses to run in a transaction.
        f.root
            .batch_execute(&format!("CREATE DATABASE {}", f.db))
            .await
            .unwrap();
        let in_db = f.root_in_db().await;
        in_db
            .batch_execute(&format!(
                "CREATE SCHEMA s; CREATE TABLE s.t (x int);
                 GRANT USAGE ON SCHEMA s TO {reader}; GRANT SELECT ON s.t TO {reader};
                 GRANT USAGE, CREATE ON SCHEMA s TO {maker}; GRANT SELECT ON s.t TO {maker};",
                reader = f.reader,
                maker = f.maker,
            ))
            .await
            .unwrap();
        f
    }

    /// A superuser session on the fixture's database.
    pub async fn root_in_db(&self) -> Client {
        let mut config = Config::from_str(&self.url).unwrap();
        config.dbname(&self.db);
        open(&config).await.unwrap()
    }

    /// The connector, logged in as the least-privileged admin role.
    pub async fn connector(&self) -> PostgresConnector {
        self.connector_on("postgres").await
    }

    /// The connector, logged in as the least-privileged admin role to database `db`.
    pub async fn connector_on(&self, db: &str) -> PostgresConnector {
        let settings = Settings {
            name: "test-pg".into(),
            url: SecretString::from(url_for(&self.url, &self.admin, db)),
            prefix: self.prefix.clone(),
            options: BTreeMap::new(),
        };
        warden_connect_postgres::connect(&settings).await.unwrap()
    }

    /// A probe that logs in to the fixture's database and reads `s.t`.
    pub fn probe(&self) -> PgProbe {
        let mut config = Config::from_str(&self.url).unwrap();
        config.dbname(&self.db);
        PgProbe { config }
    }

    /// A conformance setup granting `groups`.
    pub fn setup(&self, groups: &[&str]) -> Setup {
        Setup {
            prefix: self.prefix.clone(),
            subject: warden_model::IdentityId::parse("alice").unwrap(),
            grants: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// Whether role `name` exists.
    pub async fn role_exists(&self, name: &str) -> bool {
        self.root
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
                &[&name],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// The roles `name` is a direct member of, sorted.
    pub async fn groups_of(&self, name: &str) -> Vec<String> {
        self.root
            .query(
                "SELECT g.rolname::text FROM pg_auth_members m
                 JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                 WHERE u.rolname = $1 ORDER BY 1",
                &[&name],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Drops everything the fixture and the connector made.
    pub async fn cleanup(&self) {
        // Every account with the fixture's prefix, whatever state the test left it in.
        let roles: Vec<String> = self
            .root
            .query(
                "SELECT rolname::text FROM pg_roles WHERE starts_with(rolname::text, $1)",
                &[&self.prefix.as_str()],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let _ = self
            .root
            .execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                 WHERE usename = ANY($1) OR datname = $2",
                &[&roles, &self.db],
            )
            .await;
        let _ = self
            .root
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .await;
        for role in roles.iter().chain([&self.reader, &self.maker, &self.admin]) {
            let _ = self
                .root
                .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}"))
                .await;
        }
    }
}

/// Runs `test` against a fresh fixture on the server of `WARDEN_TEST_POSTGRES_URL` and
/// drops the fixture afterwards, passing or not. Without the variable the test is skipped.
pub async fn with_fixture<F, Fut>(test: F)
where
    F: FnOnce(Arc<Fixture>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = warden_connect::conformance::target_url("postgres") else {
        return;
    };
    let fixture = Arc::new(Fixture::new(&url).await);
    let outcome = tokio::spawn(test(Arc::clone(&fixture))).await;
    fixture.cleanup().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Logs in as a minted credential and reads the granted table.
pub struct PgProbe {
    config: Config,
}

#[async_trait]
impl Probe for PgProbe {
    type Session = Client;

    async fn connect(&self, credential: &Credential) -> Result<Client, String> {
        let mut config = self.config.clone();
        config
            .user(&credential.username)
            .password(credential.password());
        open(&config).await.map_err(|e| e.to_string())
    }

    async fn alive(&self, session: &mut Client) -> bool {
        session.simple_query("SELECT 1 FROM s.t").await.is_ok()
    }
}
