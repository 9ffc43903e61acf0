//! The MariaDB connector: a user per grant with the role's privileges.
//!
//! Provisioning creates `'{account}'@'{host}'` locked, takes every privilege from it, grants
//! exactly the role's privilege specs, then sets a fresh password and unlocks it, so the
//! account never logs in with more or less than its role, and running it again resets an
//! existing account the same way. Removal locks the account, kills every connection of it
//! and drops it, then confirms both are gone: MariaDB keeps the privileges a session has
//! cached (database privileges after `USE`) through `REVOKE` and `DROP USER`, so only
//! ending the session ends its access. See `docs/connectors/mariadb.md`.

pub mod error;
pub mod statement;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};
use secrecy::ExposeSecret;
use warden_connect::kind::{MariadbPrivilege, mariadb_privilege};
use warden_connect::{
    AccountName, ConnectError, Connector, ConnectorKind, Credential, Held, Prefix, Settings, Spec,
    generate_password,
};

use crate::error::{Exposure, convert, timed_out};
use crate::statement::AccountHost;

/// How long one provisioning, removal or listing may take before it counts as a target
/// that is not answering (the driver has no connect timeout of its own).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How often removal re-reads the account and its sessions before giving up with a
/// transient error; a killed session leaves the process list within milliseconds.
const CONFIRM_ATTEMPTS: u32 = 50;
/// The pause between two confirmation reads.
const CONFIRM_PAUSE: Duration = Duration::from_millis(100);
/// At most this many admin connections are open at once.
const MAX_CONNECTIONS: usize = 2;

/// "Access denied; you need (at least one of) the … privilege(s)".
const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;

/// The options this connector reads from `[[connector]]`.
const OPTIONS: &[&str] = &["host"];

/// A MariaDB target: its admin connection pool and how it names accounts.
pub struct MariadbConnector {
    name: String,
    pool: Pool,
    prefix: Prefix,
    host: AccountHost,
}

impl std::fmt::Debug for MariadbConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool holds the admin password: leave it out.
        f.debug_struct("MariadbConnector")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Builds the connector for `settings`: checks the admin URL and options, opens no
/// connection yet (the first operation does, so a target that is down does not stop the
/// server). Options: `host`, the host part of every account (`%` when absent).
pub async fn connect(settings: &Settings) -> Result<MariadbConnector, ConnectError> {
    let host = parse_options(&settings.name, &settings.options)?;
    let opts = Opts::from_url(settings.url.expose_secret()).map_err(|_| {
        // The driver's message can quote a piece of the URL, which holds the password.
        ConnectError::Config(format!(
            "connector `{}`: the url is not a valid `mysql://` url",
            settings.name
        ))
    })?;
    let constraints = PoolConstraints::new(0, MAX_CONNECTIONS).ok_or_else(|| {
        ConnectError::Config(format!("connector `{}`: invalid pool size", settings.name))
    })?;
    let opts =
        OptsBuilder::from_opts(opts).pool_opts(PoolOpts::default().with_constraints(constraints));
    Ok(MariadbConnector {
        name: settings.name.clone(),
        pool: Pool::new(opts),
        prefix: settings.prefix.clone(),
        host,
    })
}

fn parse_options(
    name: &str,
    options: &BTreeMap<String, String>,
) -> Result<AccountHost, ConnectError> {
    if let Some(unknown) = options.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
        return Err(ConnectError::Config(format!(
            "connector `{name}`: unknown option `{}`; a mariadb connector takes `host`",
            unknown.escape_debug()
        )));
    }
    match options.get("host") {
        Some(h) => AccountHost::parse(h),
        None => Ok(AccountHost::default()),
    }
}

impl MariadbConnector {
    /// Closes the admin connections; dropping the connector without it leaves them to
    /// close in the background.
    pub async fn disconnect(self) -> Result<(), ConnectError> {
        self.pool
            .disconnect()
            .await
            .map_err(|e| convert("closing the admin connections", Exposure::Plain, &e))
    }

    /// The host part of the accounts this connector creates.
    pub fn account_host(&self) -> &str {
        self.host.as_str()
    }

    async fn conn(&self) -> Result<Conn, ConnectError> {
        let what = "connecting as the admin account";
        match tokio::time::timeout(OPERATION_TIMEOUT, self.pool.get_conn()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(convert(what, Exposure::Plain, &e)),
            Err(_) => Err(timed_out(what)),
        }
    }

    /// The account name `name`, if it is one this connector made; everything else is
    /// refused so the connector never touches an account it does not own.
    fn owned<'a>(&self, name: &'a str) -> Result<&'a str, ConnectError> {
        if self.prefix.owns(name) && AccountName::parse(&self.prefix, name).is_some() {
            Ok(name)
        } else {
            Err(ConnectError::Permanent(format!(
                "account `{}` is not one this connector made",
                name.escape_debug()
            )))
        }
    }

    async fn provision_on(
        &self,
        conn: &mut Conn,
        account: &AccountName,
        privileges: &[MariadbPrivilege],
    ) -> Result<Credential, ConnectError> {
        let user = account.as_str();
        // The same name on another host is this grant's account from before `options.host`
        // changed: it would keep working with its old password, so it goes. Its sessions
        // are ended by the revocation, which kills by name.
        for host in hosts_of(conn, user).await? {
            if host != self.host.as_str() {
                let lock = statement::lock(user, &host)?;
                run(conn, &lock, &format!("locking `{user}`"), Exposure::Plain).await?;
                let drop = statement::drop_user(user, &host)?;
                run(conn, &drop, &format!("dropping `{user}`"), Exposure::Plain).await?;
            }
        }
        let create = statement::create_locked(account, &self.host)?;
        run(
            conn,
            &create,
            &format!("creating `{user}`"),
            Exposure::Plain,
        )
        .await?;
        let revoke = statement::revoke_all(account, &self.host)?;
        run(
            conn,
            &revoke,
            &format!("resetting the privileges of `{user}`"),
            Exposure::Plain,
        )
        .await?;
        for p in privileges {
            let grant = statement::grant(p, account, &self.host)?;
            run(
                conn,
                &grant,
                &format!("granting to `{user}`"),
                Exposure::Plain,
            )
            .await?;
        }
        let password = generate_password()?;
        let set = statement::set_password_unlock(account, &self.host, &password)?;
        let what = format!("setting the password of `{user}`");
        run(conn, set.expose_secret(), &what, Exposure::Secret).await?;
        Ok(Credential {
            username: user.to_owned(),
            password,
        })
    }

    async fn remove_on(&self, conn: &mut Conn, user: &str) -> Result<(), ConnectError> {
        let hosts = hosts_of(conn, user).await?;
        // Lock first: from here no new session of the account can open, so the kill
        // below leaves none behind.
        for host in &hosts {
            let lock = statement::lock(user, host)?;
            run(conn, &lock, &format!("locking `{user}`"), Exposure::Plain).await?;
        }
        let kill = statement::kill_sessions(user)?;
        run(
            conn,
            &kill,
            &format!("ending the sessions of `{user}`"),
            Exposure::Plain,
        )
        .await?;
        for host in &hosts {
            let drop = statement::drop_user(user, host)?;
            run(conn, &drop, &format!("dropping `{user}`"), Exposure::Plain).await?;
        }
        // Checked after the account is gone, so a misconfigured admin still takes access
        // away, and before confirming, so it never reports a blind check as confirmed.
        can_see_every_session(conn).await?;
        self.confirm_gone(conn, user, &kill).await
    }

    /// Waits until `user` is absent from the account table and from the process list,
    /// killing again whatever is still there (a killed thread leaves the list once it
    /// notices), and gives up with a transient error.
    async fn confirm_gone(
        &self,
        conn: &mut Conn,
        user: &str,
        kill: &str,
    ) -> Result<(), ConnectError> {
        let what = format!("confirming `{user}` is gone");
        let mut left = (0, 0);
        for attempt in 0..CONFIRM_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(CONFIRM_PAUSE).await;
            }
            let accounts: Option<u64> = conn
                .exec_first(
                    "SELECT COUNT(*) FROM mysql.global_priv WHERE User = ?",
                    (user,),
                )
                .await
                .map_err(|e| convert(&what, Exposure::Plain, &e))?;
            let sessions: Option<u64> = conn
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?",
                    (user,),
                )
                .await
                .map_err(|e| convert(&what, Exposure::Plain, &e))?;
            left = (accounts.unwrap_or(0), sessions.unwrap_or(0));
            match left {
                (0, 0) => return Ok(()),
                (_, 0) => {}
                _ => {
                    run(
                        conn,
                        kill,
                        &format!("ending the sessions of `{user}`"),
                        Exposure::Plain,
                    )
                    .await?
                }
            }
        }
        Err(ConnectError::Transient(format!(
            "account `{user}` still shows {} account row(s) and {} open session(s) after removal",
            left.0, left.1
        )))
    }
}

/// Fails unless the admin holds `PROCESS` (directly or through a role): without it the
/// process list shows only the admin's own threads and every session would look gone.
/// `SHOW ENGINE INNODB STATUS` is the cheapest statement that needs exactly `PROCESS`.
async fn can_see_every_session(conn: &mut Conn) -> Result<(), ConnectError> {
    match conn.query_drop("SHOW ENGINE INNODB STATUS").await {
        Ok(()) => Ok(()),
        Err(mysql_async::Error::Server(e)) if e.code == ER_SPECIFIC_ACCESS_DENIED => {
            Err(ConnectError::Permanent(
                "the admin account lacks the PROCESS privilege, so it cannot see other \
                 sessions to confirm them ended; the account was dropped and its sessions \
                 killed, unconfirmed"
                    .into(),
            ))
        }
        Err(e) => Err(convert(
            "checking the PROCESS privilege",
            Exposure::Plain,
            &e,
        )),
    }
}

/// Every host the user name `user` has an account on.
async fn hosts_of(conn: &mut Conn, user: &str) -> Result<Vec<String>, ConnectError> {
    conn.exec("SELECT Host FROM mysql.global_priv WHERE User = ?", (user,))
        .await
        .map_err(|e| convert(&format!("looking up `{user}`"), Exposure::Plain, &e))
}

async fn run(
    conn: &mut Conn,
    sql: &str,
    what: &str,
    exposure: Exposure,
) -> Result<(), ConnectError> {
    conn.query_drop(sql)
        .await
        .map_err(|e| convert(what, exposure, &e))
}

async fn within<T>(
    what: &str,
    op: impl std::future::Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    tokio::time::timeout(OPERATION_TIMEOUT, op)
        .await
        .unwrap_or_else(|_| Err(timed_out(what)))
}

#[async_trait]
impl Connector for MariadbConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Mariadb
    }

    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError> {
        let user = self.owned(spec.account.as_str())?;
        ConnectorKind::Mariadb.check_grants(&spec.grants)?;
        let privileges = spec
            .grants
            .iter()
            .map(|g| {
                mariadb_privilege(g).map_err(|why| {
                    ConnectError::Config(format!("`grants` entry `{}`: {why}", g.escape_debug()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let what = format!("provisioning `{user}`");
        within(&what, async {
            let mut conn = self.conn().await?;
            self.provision_on(&mut conn, &spec.account, &privileges)
                .await
        })
        .await
        .map(Some)
    }

    async fn remove(&self, held: &Held) -> Result<(), ConnectError> {
        let Held::Account(name) = held else {
            return Err(ConnectError::Permanent(format!(
                "a mariadb target holds accounts, not {held}"
            )));
        };
        let user = self.owned(name)?;
        within(&format!("removing `{user}`"), async {
            let mut conn = self.conn().await?;
            self.remove_on(&mut conn, user).await
        })
        .await
    }

    async fn observe(&self) -> Result<Vec<Held>, ConnectError> {
        let what = "listing accounts";
        within(what, async {
            let mut conn = self.conn().await?;
            let prefix = self.prefix.as_str();
            let names: Vec<String> = conn
                .exec(
                    "SELECT DISTINCT User FROM mysql.global_priv WHERE LEFT(User, ?) = ? ORDER BY User",
                    (prefix.chars().count(), prefix),
                )
                .await
                .map_err(|e| convert(what, Exposure::Plain, &e))?;
            Ok(names
                .into_iter()
                .filter(|n| AccountName::parse(&self.prefix, n).is_some())
                .map(Held::Account)
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn settings(url: &str, options: &[(&str, &str)]) -> Settings {
        Settings {
            name: "db".into(),
            url: url.to_owned().into(),
            prefix: Prefix::default(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[tokio::test]
    async fn settings_are_checked_without_connecting() {
        let c = connect(&settings("mysql://u:pw@127.0.0.1:1/", &[]))
            .await
            .unwrap();
        assert_eq!(c.account_host(), "%");
        let c = connect(&settings("mysql://u@h/", &[("host", "10.0.0.%")]))
            .await
            .unwrap();
        assert_eq!(c.account_host(), "10.0.0.%");
        assert!(
            connect(&settings("mysql://u@h/", &[("host", "a'b")]))
                .await
                .is_err()
        );
        assert!(
            connect(&settings("mysql://u@h/", &[("hots", "%")]))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_repeating_it() {
        let e = connect(&settings("postgres://u:s3cret@h/", &[]))
            .await
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = connect(&settings("mysql://u:s3cret@h/?bogus=1", &[]))
            .await
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[tokio::test]
    async fn debug_hides_the_admin_url() {
        let c = connect(&settings("mysql://u:s3cret@127.0.0.1:1/", &[]))
            .await
            .unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn an_unreachable_target_is_transient() {
        // Port 1 on loopback refuses at once.
        let c = connect(&settings("mysql://u@127.0.0.1:1/", &[]))
            .await
            .unwrap();
        assert!(c.observe().await.unwrap_err().is_transient());
    }

    #[tokio::test]
    async fn foreign_accounts_are_never_touched() {
        let c = connect(&settings("mysql://u@127.0.0.1:1/", &[]))
            .await
            .unwrap();
        for name in ["root", "warden_", "warden_xyz_1"] {
            let e = c.remove(&Held::Account(name.into())).await.unwrap_err();
            assert!(!e.is_transient(), "{name}: {e}");
        }
        let m = Held::Membership {
            group: "g".into(),
            member: "m".into(),
        };
        assert!(!c.remove(&m).await.unwrap_err().is_transient());
    }
}
