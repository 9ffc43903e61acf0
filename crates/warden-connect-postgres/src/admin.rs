//! The admin sessions: a small pool of connections to the server, each opened on first use
//! with the connector's queries prepared on it and replaced when it dropped, plus
//! short-lived ones to other databases for `REASSIGN OWNED`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Deref;
use std::time::Duration;

use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, Semaphore, SemaphorePermit};
use tokio_postgres::{Client, Config, NoTls};
use warden_connect::ConnectError;

use crate::error::{Echo, map};
use crate::role::Statements;

/// How long an admin session waits for a lock or a statement before giving up (and the
/// job retries), so a stuck catalog lock never hangs the worker. Its queries are prepared
/// once and planned once (a generic plan): planning them costs more than running them.
const SESSION_SETUP: &str = "SET lock_timeout = '10s'; SET statement_timeout = '60s'; \
                             SET plan_cache_mode = force_generic_plan";

/// An admin session: the connection and the connector's queries prepared on it.
pub(crate) struct Session {
    /// The connection.
    pub(crate) client: Client,
    /// The connector's queries, prepared on `client`.
    pub(crate) statements: Statements,
}

/// The admin sessions of one connector instance.
pub(crate) struct Admin {
    /// Where and as whom to connect; holds the admin password, so never printed.
    config: Config,
    /// The connector instance's name, for messages.
    name: String,
    /// One permit per slot: a call waits here while every session is in use, and while a
    /// call holds a permit a slot is free (a lease lets go of its slot before its permit,
    /// a call looking for one holds at most one).
    permits: Semaphore,
    /// The sessions, each connected on first use. The first free slot holding an open
    /// session is taken, so a lightly loaded instance keeps using one session and opens
    /// others only under concurrent calls.
    slots: Vec<Mutex<Option<Session>>>,
    /// Calls for one account take the same one of these first, so two calls for one
    /// account never overlap on this instance (as when it had a single session): a
    /// concurrent `CREATE ROLE` or `ALTER ROLE` of one role can fail with errors that
    /// say nothing about whether a retry helps. Accounts sharing a lock only wait.
    accounts: Vec<Mutex<()>>,
}

/// How many account locks an instance has: enough that different accounts rarely share
/// one with `MAX_SESSIONS` calls under way.
const ACCOUNT_LOCKS: usize = 64;

/// An admin session lent to one call until dropped. A session whose connection closed
/// stays in its slot until a call takes that slot and replaces it.
pub(crate) struct Lease<'a> {
    // Declared (so dropped) before the permit: see `Admin::permits`.
    session: MappedMutexGuard<'a, Session>,
    _permit: SemaphorePermit<'a>,
    _account: Option<MutexGuard<'a, ()>>,
}

impl Deref for Lease<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Admin {
    /// A pool of at most `sessions` admin sessions, each connected on first use.
    pub(crate) fn new(mut config: Config, name: String, sessions: usize) -> Self {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("warden");
        }
        Self {
            config,
            name,
            permits: Semaphore::new(sessions),
            slots: (0..sessions).map(|_| Mutex::new(None)).collect(),
            accounts: (0..ACCOUNT_LOCKS).map(|_| Mutex::new(())).collect(),
        }
    }

    /// An admin session for one call on `account`, once no other call on that account is
    /// under way on this instance.
    pub(crate) async fn session_for(&self, account: &str) -> Result<Lease<'_>, ConnectError> {
        let mut hasher = DefaultHasher::new();
        account.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % ACCOUNT_LOCKS as u64).unwrap_or(0);
        let lock = self.accounts.get(index).ok_or_else(|| {
            ConnectError::Transient(format!(
                "connector `{}` found no lock for account `{account}`",
                self.name
            ))
        })?;
        // Taken before the session, so a call waiting for its account holds no session.
        let held = lock.lock().await;
        let mut lease = self.session().await?;
        lease._account = Some(held);
        Ok(lease)
    }

    /// An admin session for one call, connected: a free one whose connection is open,
    /// else a free slot connected anew. Waits while every session is in use. All the
    /// statements of one operation run on the session it was given, in order.
    pub(crate) async fn session(&self) -> Result<Lease<'_>, ConnectError> {
        let lost = || {
            ConnectError::Transient(format!(
                "connector `{}` found no free admin session",
                self.name
            ))
        };
        let permit = self.permits.acquire().await.map_err(|_| lost())?;
        let mut guard = loop {
            if let Some(guard) = self.free_slot() {
                break guard;
            }
            // With a permit held a slot is free at every instant, but one look at the
            // slots is not one instant: a call may have let go of a slot already passed.
            tokio::task::yield_now().await;
        };
        // Not connected yet, or the connection dropped (server restart, idle timeout).
        if guard.as_ref().is_none_or(|s| s.client.is_closed()) {
            *guard = None;
            *guard = Some(self.connect_session().await?);
        }
        let session = MutexGuard::try_map(guard, Option::as_mut).map_err(|_| lost())?;
        Ok(Lease {
            session,
            _permit: permit,
            _account: None,
        })
    }

    /// A free slot holding an open session, else any free slot. Holds at most one slot
    /// at a time, so that calls looking together cannot take every slot between them.
    fn free_slot(&self) -> Option<MutexGuard<'_, Option<Session>>> {
        let open = self.slots.iter().find_map(|slot| {
            slot.try_lock()
                .ok()
                .filter(|g| g.as_ref().is_some_and(|s| !s.client.is_closed()))
        });
        open.or_else(|| self.slots.iter().find_map(|slot| slot.try_lock().ok()))
    }

    /// A new admin session with the connector's queries prepared on it.
    async fn connect_session(&self) -> Result<Session, ConnectError> {
        let client = self.open(None).await?;
        let statements = Statements::prepare(&client).await.map_err(|e| {
            map(
                &format!("connector `{}` preparing its queries", self.name),
                Echo::Show,
                &e,
            )
        })?;
        Ok(Session { client, statements })
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
