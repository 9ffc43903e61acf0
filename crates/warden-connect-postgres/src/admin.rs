//! The admin session: one connection to the server, opened on first use and reopened when
//! it dropped, plus short-lived ones to other databases for `REASSIGN OWNED`.

use std::time::Duration;

use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, Config, NoTls};
use warden_connect::ConnectError;

use crate::error::{Echo, map};
use crate::role::Statements;

/// How long the admin session waits for a lock or a statement before giving up (and the
/// job retries), so a stuck catalog lock never hangs the worker. Its queries are prepared
/// once and planned once (a generic plan): planning them costs more than running them.
const SESSION_SETUP: &str = "SET lock_timeout = '10s'; SET statement_timeout = '60s'; \
                             SET plan_cache_mode = force_generic_plan";

/// The admin session: the connection and the connector's queries prepared on it.
pub(crate) struct Session {
    /// The connection.
    pub(crate) client: Client,
    /// The connector's queries, prepared on `client`.
    pub(crate) statements: Statements,
}

/// The admin connection of one connector instance.
pub(crate) struct Admin {
    /// Where and as whom to connect; holds the admin password, so never printed.
    config: Config,
    /// The connector instance's name, for messages.
    name: String,
    session: Mutex<Option<Session>>,
}

impl Admin {
    /// An admin session that connects on first use.
    pub(crate) fn new(mut config: Config, name: String) -> Self {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("warden");
        }
        Self {
            config,
            name,
            session: Mutex::new(None),
        }
    }

    /// The admin session, connected. Holding it serialises this instance's operations,
    /// which keeps the connector to one admin connection.
    pub(crate) async fn session(&self) -> Result<MappedMutexGuard<'_, Session>, ConnectError> {
        let mut guard = self.session.lock().await;
        if guard.as_ref().is_none_or(|s| s.client.is_closed()) {
            let client = self.open(None).await?;
            let statements = Statements::prepare(&client).await.map_err(|e| {
                map(
                    &format!("connector `{}` preparing its queries", self.name),
                    Echo::Show,
                    &e,
                )
            })?;
            *guard = Some(Session { client, statements });
        }
        MutexGuard::try_map(guard, Option::as_mut).map_err(|_| {
            ConnectError::Transient(format!("connector `{}` lost its admin session", self.name))
        })
    }

    /// A new session to `database` (or the admin URL's own database), for the caller to
    /// drop when done.
    pub(crate) async fn open(&self, database: Option<&str>) -> Result<Client, ConnectError> {
        let mut config = self.config.clone();
        if let Some(db) = database {
            config.dbname(db);
        }
        let what = match database {
            Some(db) => format!("connector `{}` connecting to database `{db}`", self.name),
            None => format!("connector `{}` connecting to its server", self.name),
        };
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| map(&what, Echo::Show, &e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres admin session ended");
            }
        });
        client
            .batch_execute(SESSION_SETUP)
            .await
            .map_err(|e| map(&what, Echo::Show, &e))?;
        Ok(client)
    }
}
