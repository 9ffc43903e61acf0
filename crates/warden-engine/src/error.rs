//! What a use case can fail with; the HTTP layer maps each variant to one status code.

use warden_store::StoreError;

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
    /// The database cannot be reached; retrying later may help.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// Anything else; logged, never shown in detail to callers.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            EngineError::Unavailable(e)
        } else {
            EngineError::Internal(e.to_string())
        }
    }
}

impl From<serde_json::Error> for EngineError {
    fn from(e: serde_json::Error) -> Self {
        EngineError::Internal(format!("stored JSON is unreadable: {e}"))
    }
}
