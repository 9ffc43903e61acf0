//! The PostgreSQL connector: a login role per grant, member of the role's group roles.
//!
//! Provisioning creates (or resets) a `LOGIN INHERIT` role named after the grant, with a
//! fresh password sent only as a SCRAM verifier, `VALID UNTIL` the grant's end as a
//! backstop, and membership of exactly the role's `grants` group roles, in two round trips
//! and one commit. Removal locks the role, revokes its groups, terminates its sessions
//! (found by oid), hands what it owns to the admin in every database, drops it and
//! confirms, in three round trips and one synchronous commit when it owns nothing. Calls
//! run concurrently on a small pool of admin sessions (option `sessions`), each operation
//! on one session from start to end. The admin account needs
//! `CREATEROLE` and `pg_signal_backend`, not superuser; `docs/connectors/postgres.md`
//! says what an operator must know.

mod admin;
mod error;
mod role;
mod scram;

use std::str::FromStr;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::SslMode;
use warden_connect::{
    AccountName, ConnectError, Connector, ConnectorKind, Credential, Held, Prefix, Settings, Spec,
    generate_password,
};

use crate::admin::Admin;

/// The most sessions one grant's role may hold when the config sets no `connection_limit`.
pub const DEFAULT_CONNECTION_LIMIT: u32 = 10;

/// How many admin sessions one instance holds at most when the config sets no `sessions`.
pub const DEFAULT_SESSIONS: usize = 4;

/// The most admin sessions the `sessions` option may ask for: each is a backend on the
/// server, and a 2-core server gains nothing past a few.
pub const MAX_SESSIONS: usize = 16;

/// Group roles no grant may name (refused when the bundle loads) nor reach through a
/// chain of memberships (refused at provisioning): each lets its members act as the
/// server's operating system account, which is a superuser in all but name.
pub const REFUSED_GROUPS: &[&str] = &[
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
];

/// The SCRAM-SHA-256 verifier the connector sends in place of `password`: PostgreSQL's
/// own form, salt length and iteration count, with a fresh random salt.
pub fn scram_verifier(password: &SecretString) -> Result<String, ConnectError> {
    scram::verifier(password)
}

/// A connector instance for one PostgreSQL server.
pub struct PostgresConnector {
    name: String,
    prefix: Prefix,
    connection_limit: u32,
    sessions: usize,
    admin: Admin,
}

impl std::fmt::Debug for PostgresConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConnector")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("connection_limit", &self.connection_limit)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

/// Builds the connector for `settings`: checks the admin URL and the options now and
/// connects on first use, so a server that is down at start-up only delays jobs.
///
/// Options: `connection_limit`, the most sessions one grant's role may hold (default
/// [`DEFAULT_CONNECTION_LIMIT`]); `sessions`, the most admin sessions the instance holds,
/// each opened when concurrent calls first need it (1 to [`MAX_SESSIONS`], default
/// [`DEFAULT_SESSIONS`]).
pub async fn connect(settings: &Settings) -> Result<PostgresConnector, ConnectError> {
    let name = settings.name.clone();
    // The driver's parse error may quote the URL, password included: it is not shown.
    let config = tokio_postgres::Config::from_str(settings.url.expose_secret()).map_err(|_| {
        ConnectError::Config(format!(
            "connector `{name}`: the url is not a valid postgres connection url"
        ))
    })?;
    if config.get_ssl_mode() == SslMode::Require {
        return Err(ConnectError::Config(format!(
            "connector `{name}`: `sslmode=require` is not supported yet; reach the server over a local or private link"
        )));
    }
    let mut connection_limit = DEFAULT_CONNECTION_LIMIT;
    let mut sessions = DEFAULT_SESSIONS;
    for (key, value) in &settings.options {
        match key.as_str() {
            "connection_limit" => {
                connection_limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        ConnectError::Config(format!(
                            "connector `{name}`: `connection_limit` `{value}` must be a number from 1 to 10000"
                        ))
                    })?;
            }
            "sessions" => {
                sessions = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_SESSIONS).contains(n))
                    .ok_or_else(|| {
                        ConnectError::Config(format!(
                            "connector `{name}`: `sessions` `{value}` must be a number from 1 to {MAX_SESSIONS}"
                        ))
                    })?;
            }
            other => {
                return Err(ConnectError::Config(format!(
                    "connector `{name}`: unknown option `{other}`; postgres takes `connection_limit` and `sessions`"
                )));
            }
        }
    }
    Ok(PostgresConnector {
        admin: Admin::new(config, name.clone(), sessions),
        name,
        prefix: settings.prefix.clone(),
        connection_limit,
        sessions,
    })
}

impl PostgresConnector {
    /// `name` if it is one of this instance's accounts; anything else is never touched.
    fn ours<'a>(&self, name: &'a str) -> Result<&'a str, ConnectError> {
        match AccountName::parse(&self.prefix, name) {
            Some(_) => Ok(name),
            None => Err(ConnectError::Permanent(format!(
                "`{name}` is not an account of connector `{}`",
                self.name
            ))),
        }
    }

    /// Checks `grants` as group role names this connector may hand out.
    fn groups(&self, grants: &[String]) -> Result<(), ConnectError> {
        ConnectorKind::Postgres.check_grants(grants)?;
        for g in grants {
            if REFUSED_GROUPS.contains(&g.as_str()) {
                return Err(ConnectError::Config(format!(
                    "`grants` entry `{g}` gives the server's operating-system account; Warden does not grant it"
                )));
            }
            if self.prefix.owns(g) {
                return Err(ConnectError::Config(format!(
                    "`grants` entry `{g}` carries the account prefix `{}`: it would be another grant's account",
                    self.prefix.as_str()
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for PostgresConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Postgres
    }

    fn check_grants(&self, grants: &[String]) -> Result<(), ConnectError> {
        self.groups(grants)
    }

    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError> {
        self.groups(&spec.grants)?;
        let account = self.ours(spec.account.as_str())?;
        let password = generate_password()?;
        let valid_until = spec.valid_until.to_string();
        let shape = role::Shape {
            connection_limit: self.connection_limit,
            valid_until: &valid_until,
        };
        let session = self.admin.session_for(account).await?;
        role::provision(&session, account, &password, &spec.grants, &shape).await?;
        Ok(Some(Credential {
            username: account.to_owned(),
            password,
        }))
    }

    async fn remove(&self, held: &Held) -> Result<(), ConnectError> {
        let Held::Account(name) = held else {
            return Err(ConnectError::Permanent(format!(
                "connector `{}` holds no {held}: postgres grants are accounts",
                self.name
            )));
        };
        let account = self.ours(name)?;
        let session = self.admin.session_for(account).await?;
        role::remove(&self.admin, &session, account).await
    }

    async fn observe(&self) -> Result<Vec<Held>, ConnectError> {
        let session = self.admin.session().await?;
        let names = role::observe(&session.client, &self.prefix).await?;
        Ok(names.into_iter().map(Held::Account).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
    use std::collections::BTreeMap;

    use secrecy::SecretString;

    use super::*;

    fn settings(url: &str, options: &[(&str, &str)]) -> Settings {
        Settings {
            name: "pg".into(),
            url: SecretString::from(url.to_owned()),
            prefix: Prefix::default(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[tokio::test]
    async fn bad_urls_and_options_are_refused_without_echoing_the_url() {
        let e = connect(&settings("postgres://u:s3cretpw@h:notaport/db", &[]))
            .await
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cretpw"), "{e}");
        for opts in [
            &[("connection_limit", "0")][..],
            &[("connection_limit", "many")],
            &[("connection_limt", "5")],
            &[("sessions", "0")],
            &[("sessions", "17")],
            &[("sessions", "four")],
        ] {
            assert!(
                connect(&settings("postgres://u@h/db", opts)).await.is_err(),
                "{opts:?}"
            );
        }
        let c = connect(&settings(
            "postgres://u:s3cretpw@h/db",
            &[("connection_limit", "3"), ("sessions", "16")],
        ))
        .await
        .unwrap();
        assert_eq!(c.connection_limit, 3);
        assert_eq!(c.sessions, 16);
        let c = connect(&settings("postgres://u@h/db", &[])).await.unwrap();
        assert_eq!(c.sessions, DEFAULT_SESSIONS);
        assert!(!format!("{c:?}").contains("s3cretpw"));
    }

    #[tokio::test]
    async fn grants_that_escalate_or_name_accounts_are_refused() {
        let c = connect(&settings("postgres://u@h/db", &[])).await.unwrap();
        assert!(
            c.check_grants(&["pg_read_all_data".into(), "ledger_reader".into()])
                .is_ok()
        );
        for bad in [
            "pg_execute_server_program",
            "pg_write_server_files",
            "warden_0123456789abcdef0123456789abcdef_1",
            "x\"; DROP ROLE postgres; --",
            "reader'",
        ] {
            let e = c.check_grants(&[bad.to_owned()]).unwrap_err().to_string();
            assert!(e.contains(&bad.escape_debug().to_string()), "{e}");
        }
    }

    #[tokio::test]
    async fn only_our_accounts_are_touched() {
        let c = connect(&settings("postgres://u@h/db", &[])).await.unwrap();
        for name in ["postgres", "warden_", "app_owner"] {
            let e = c.remove(&Held::Account(name.into())).await.unwrap_err();
            assert!(!e.is_transient(), "{e}");
        }
        let membership = Held::Membership {
            group: "g".into(),
            member: "m".into(),
        };
        assert!(!c.remove(&membership).await.unwrap_err().is_transient());
    }
}
