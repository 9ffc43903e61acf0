//! What a use case can fail with; the HTTP layer maps each variant to one status code.
//! Internal failures keep their cause as a `source`, so a log line or a job's last error
//! can say all of it ([`EngineError::describe`]).

use warden_store::StoreError;

use crate::job::JobKeyError;

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The thing asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The caller did not prove who it is (a webhook's signature did not verify).
    #[error("{0}")]
    Unauthorized(String),
    /// The actor may not do this; the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// The thing is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// The thing existed once and is gone for good (a credential already delivered).
    #[error("{0}")]
    Gone(String),
    /// The input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Something the engine depends on besides the database cannot be reached (an
    /// identity provider's keys); retrying later may help.
    #[error("{0}")]
    Unreachable(String),
    /// The database cannot be reached; retrying later may help.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// Anything else; logged, never shown in detail to callers.
    #[error("internal error")]
    Internal(#[from] Fault),
}

/// What an internal failure was, with its cause.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// The store refused in a way that retrying does not mend.
    #[error("the store failed")]
    Store(#[source] StoreError),
    /// Stored JSON does not read back.
    #[error("stored JSON is unreadable")]
    StoredJson(#[source] serde_json::Error),
    /// A stored job's kind or key does not parse.
    #[error("a stored job does not parse")]
    Job(#[source] JobKeyError),
    /// A stored bundle no longer loads.
    #[error("stored bundle `{hash}` no longer loads")]
    Bundle {
        /// The bundle's hash.
        hash: String,
        /// Why it does not load.
        #[source]
        source: warden_policy::LoadErrors,
    },
    /// The operating system gave no randomness.
    #[error("no randomness for {0}")]
    Random(&'static str, #[source] getrandom::Error),
    /// Sealing or opening a credential failed.
    #[error("{0}")]
    Crypto(&'static str),
    /// Something the store holds contradicts what the engine wrote (a row that vanished,
    /// an id that does not parse).
    #[error("{0}")]
    Broken(String),
}

impl EngineError {
    /// An internal failure: stored data contradicts what the engine wrote.
    pub fn broken(message: impl Into<String>) -> Self {
        EngineError::Internal(Fault::Broken(message.into()))
    }

    /// The error and its causes on one line, for logs and a job's last error.
    pub fn describe(&self) -> String {
        warden_model::chain::chain(self)
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            EngineError::Unavailable(e)
        } else {
            EngineError::Internal(Fault::Store(e))
        }
    }
}

impl From<serde_json::Error> for EngineError {
    fn from(e: serde_json::Error) -> Self {
        EngineError::Internal(Fault::StoredJson(e))
    }
}

impl From<JobKeyError> for EngineError {
    fn from(e: JobKeyError) -> Self {
        EngineError::Internal(Fault::Job(e))
    }
}
