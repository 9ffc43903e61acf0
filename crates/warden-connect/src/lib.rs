//! The connector contract. A connector makes a grant real on one kind of target
//! (PostgreSQL, MariaDB, Redis, RabbitMQ, LDAP) and ends it there, confirmed.
//!
//! Every operation is idempotent: provisioning an account that exists hands out a fresh
//! credential for it, removing what is gone succeeds. Errors say whether a retry can help
//! ([`ConnectError::is_transient`]). Account names are derived from the grant id and carry
//! the connector's prefix ([`AccountName`]), so a connector only ever touches accounts it
//! created. The target's own words for what a role gives (`grants` entries) are checked
//! when the bundle loads ([`Connector::check_grants`]) and are never spliced into a
//! statement unquoted.

pub mod account;
pub mod credential;
pub mod error;
pub mod kind;
pub mod url;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod proxy;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use warden_model::{IdentityId, Timestamp};

pub use account::{AccountName, Prefix};
pub use credential::{Credential, generate_password};
pub use error::ConnectError;
pub use kind::ConnectorKind;

/// How a connector instance reaches its target, from the server config's `[[connector]]`.
#[derive(Clone)]
pub struct Settings {
    /// The instance's name, as systems name it (`connector = "…"`).
    pub name: String,
    /// The admin URL, credentials included; secret because it usually holds a password.
    pub url: SecretString,
    /// The prefix of every account this instance creates.
    pub prefix: Prefix,
    /// Kind-specific settings (`management_url` for RabbitMQ, `users` and `groups_base`
    /// for LDAP, …); each connector documents and checks its own.
    pub options: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("name", &self.name)
            .field("url", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("options", &self.options)
            .finish()
    }
}

/// What one generation of a grant looks like on a target: the input of
/// [`Connector::provision`] and [`Connector::holds`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The account Warden creates for it (unused by kinds that mint no account).
    pub account: AccountName,
    /// Who holds the grant: for membership targets (LDAP), whose existing entry joins.
    pub subject: IdentityId,
    /// The role's `grants` entries, already accepted by [`Connector::check_grants`].
    pub grants: Vec<String>,
    /// When the grant ends. Targets that can enforce an expiry get it as a backstop;
    /// revocation never relies on it.
    pub valid_until: Timestamp,
}

/// One thing Warden holds on a target, as [`Connector::observe`] reports it and
/// [`Connector::remove`] takes it away.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    /// A minted account (login role, user, ACL user) with Warden's prefix.
    Account(String),
    /// A membership of an existing entry in a group.
    Membership {
        /// The group.
        group: String,
        /// The member.
        member: String,
    },
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Account(name) => write!(f, "account `{name}`"),
            Held::Membership { group, member } => write!(f, "`{member}` in `{group}`"),
        }
    }
}

/// A target Warden provisions on. Implementations hold their own admin connection
/// settings and never log a secret.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Which kind of target this is.
    fn kind(&self) -> ConnectorKind;

    /// Checks one role's `grants` entries; the error names the bad entry. Runs when the
    /// bundle loads, so a bad entry stops the server rather than a provisioning job.
    fn check_grants(&self, grants: &[String]) -> Result<(), ConnectError> {
        self.kind().check_grants(grants)
    }

    /// What `spec`, once provisioned, holds on the target.
    fn holds(&self, spec: &Spec) -> Vec<Held> {
        vec![Held::Account(spec.account.as_str().to_owned())]
    }

    /// Makes `spec` exist on the target and returns its credential, if the kind mints
    /// one. Provisioning what exists brings it back to `spec` and returns a new
    /// credential for it (the old one is lost with the process that asked for it).
    async fn provision(&self, spec: &Spec) -> Result<Option<Credential>, ConnectError>;

    /// Takes `held` away and returns only once the target shows it gone and no session
    /// of it open. Removing what is already gone succeeds.
    async fn remove(&self, held: &Held) -> Result<(), ConnectError>;

    /// Revokes everything `spec` holds, confirmed.
    async fn revoke(&self, spec: &Spec) -> Result<(), ConnectError> {
        for held in self.holds(spec) {
            self.remove(&held).await?;
        }
        Ok(())
    }

    /// Starts the next generation `to` of a grant whose current generation is `from`.
    /// Both work until the caller removes `from`, so a client can switch over; a new
    /// password on the same account would close no session, so rotation never stands in
    /// for revocation.
    async fn rotate(&self, from: &Spec, to: &Spec) -> Result<Option<Credential>, ConnectError> {
        let _ = from;
        self.provision(to).await
    }

    /// Everything with Warden's prefix (or, for membership targets, in the groups Warden
    /// manages) that exists on the target now.
    async fn observe(&self) -> Result<Vec<Held>, ConnectError>;
}
