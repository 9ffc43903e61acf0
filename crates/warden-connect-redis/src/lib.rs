//! The Redis connector: an ACL user per grant with the role's rules.
//!
//! Provisioning is one `ACL SETUSER <account> reset on >password <rules…>`, so it is
//! idempotent and brings an existing user back to exactly the role's rules, none of which
//! may administer the server or mint users (`warden_connect::kind::redis_rule`). Removal is
//! `ACL DELUSER`, which also disconnects the user's clients; the connector then reads
//! `CLIENT LIST` until no client of the user is left (killing any by id) before it
//! reports the account gone. When the server keeps its users in an ACL file, every change
//! is written there with `ACL SAVE`, so a later `ACL LOAD` or restart cannot bring a
//! removed user back.

mod acl;
mod error;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, OnceCell};
use warden_connect::{
    AccountName, ConnectError, Connector, ConnectorKind, Credential, Held, Prefix, Settings, Spec,
    generate_password,
};

/// How long connecting to the server may take before the attempt counts as transient.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one command may wait for its answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times removal re-reads the server before it gives up as transient.
const CONFIRM_ATTEMPTS: u32 = 20;
/// The pause between two reads while a killed client is still being closed.
const CONFIRM_PAUSE: Duration = Duration::from_millis(50);

/// A Redis server Warden provisions ACL users on, through one admin connection.
pub struct RedisConnector {
    client: redis::Client,
    prefix: Prefix,
    /// The one admin connection, opened on first use and again after it breaks.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Whether the server keeps its users in an ACL file (`aclfile` cannot change while
    /// the server runs, so it is read once).
    aclfile: OnceCell<bool>,
}

impl std::fmt::Debug for RedisConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnector")
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Checks `settings` and makes the connector; the connection opens on first use.
pub async fn connect(settings: &Settings) -> Result<RedisConnector, ConnectError> {
    if let Some(key) = settings.options.keys().next() {
        return Err(ConnectError::Config(format!(
            "connector `{}`: redis takes no option `{key}`",
            settings.name
        )));
    }
    let url = settings.url.expose_secret();
    if !url.starts_with("redis://") {
        return Err(ConnectError::Config(format!(
            "connector `{}`: the url must be `redis://[user:password@]host:port`",
            settings.name
        )));
    }
    // The driver's error would quote the url, password included, so it is left out.
    let client = redis::Client::open(url).map_err(|_| {
        ConnectError::Config(format!(
            "connector `{}`: the url is not a valid redis url",
            settings.name
        ))
    })?;
    Ok(RedisConnector {
        client,
        prefix: settings.prefix.clone(),
        conn: Mutex::new(None),
        aclfile: OnceCell::new(),
    })
}

impl RedisConnector {
    async fn connection(&self) -> Result<MultiplexedConnection, ConnectError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| error::from_redis("connecting", &e, None))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `cmd`; `what` names it in errors and `secret` is what its answer must not
    /// repeat. A broken connection is dropped so the next call opens a new one.
    async fn run<T: FromRedisValue>(
        &self,
        what: &str,
        cmd: &Cmd,
        secret: Option<&SecretString>,
    ) -> Result<T, ConnectError> {
        let mut c = self.connection().await?;
        match cmd.query_async(&mut c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_unrecoverable_error() || e.is_io_error() {
                    *self.conn.lock().await = None;
                }
                Err(error::from_redis(what, &e, secret))
            }
        }
    }

    async fn has_aclfile(&self) -> Result<bool, ConnectError> {
        self.aclfile
            .get_or_try_init(|| async {
                let mut cmd = redis::cmd("CONFIG");
                cmd.arg("GET").arg("aclfile");
                let got: HashMap<String, String> =
                    self.run("`CONFIG GET aclfile`", &cmd, None).await?;
                Ok(got.get("aclfile").is_some_and(|f| !f.is_empty()))
            })
            .await
            .copied()
    }

    /// Writes the users to the ACL file when the server has one, so what was just changed
    /// survives `ACL LOAD` and restarts.
    async fn persist(&self) -> Result<(), ConnectError> {
        if self.has_aclfile().await? {
            let mut cmd = redis::cmd("ACL");
            cmd.arg("SAVE");
            self.run::<()>("`ACL SAVE`", &cmd, None).await?;
        }
        Ok(())
    }

    /// The name in `held` if it is an account this connector may touch.
    fn ours<'a>(&self, held: &'a Held) -> Result<&'a str, ConnectError> {
        match held {
            Held::Account(name) if AccountName::parse(&self.prefix, name).is_some() => Ok(name),
            Held::Account(name) => Err(ConnectError::Permanent(format!(
                "redis: account `{name}` is not one this connector created"
            ))),
            Held::Membership { .. } => Err(ConnectError::Permanent(format!(
                "redis: {held} is not something redis holds"
            ))),
        }
    }

    /// Deletes `name` and returns once the server shows neither the user nor a client of it.
    async fn delete_user(&self, name: &str) -> Result<(), ConnectError> {
        for _ in 0..CONFIRM_ATTEMPTS {
            let mut del = redis::cmd("ACL");
            del.arg("DELUSER").arg(name);
            self.run::<u64>("`ACL DELUSER`", &del, None).await?;

            let mut get = redis::cmd("ACL");
            get.arg("GETUSER").arg(name);
            let user: redis::Value = self.run("`ACL GETUSER`", &get, None).await?;
            let mut list = redis::cmd("CLIENT");
            list.arg("LIST");
            let clients: String = self.run("`CLIENT LIST`", &list, None).await?;
            let left = acl::sessions_of(&clients, name);
            if user == redis::Value::Nil && left.is_empty() {
                return Ok(());
            }
            // A client still listed is one `ACL DELUSER` marked but the server has not yet
            // closed, or one that logged in between the two reads; killing it by id works
            // whether or not the user still exists (`CLIENT KILL USER` needs it to).
            for id in left {
                let mut kill = redis::cmd("CLIENT");
                kill.arg("KILL").arg("ID").arg(id);
                self.run::<u64>("`CLIENT KILL`", &kill, None).await?;
            }
            tokio::time::sleep(CONFIRM_PAUSE).await;
        }
        Err(ConnectError::Transient(format!(
            "redis: account `{name}` or a session of it is still there after removal"
        )))
    }
}

#[async_trait]
impl Connector for RedisConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Redis
    }

    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError> {
        self.check_grants(&spec.grants)?;
        let password = generate_password()?;
        let rules = acl::setuser_rules(&spec.grants, &password)?;
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER").arg(spec.account.as_str());
        for rule in &rules {
            cmd.arg(rule.expose_secret());
        }
        self.run::<()>("`ACL SETUSER`", &cmd, Some(&password))
            .await?;
        self.persist().await?;
        Ok(Some(Credential {
            username: spec.account.as_str().to_owned(),
            password,
        }))
    }

    async fn remove(&self, held: &Held) -> Result<(), ConnectError> {
        let name = self.ours(held)?;
        self.delete_user(name).await?;
        self.persist().await
    }

    async fn observe(&self) -> Result<Vec<Held>, ConnectError> {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("USERS");
        let users: Vec<String> = self.run("`ACL USERS`", &cmd, None).await?;
        Ok(users
            .into_iter()
            .filter(|u| AccountName::parse(&self.prefix, u).is_some())
            .map(Held::Account)
            .collect())
    }
}
