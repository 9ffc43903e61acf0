//! The one error type every connector returns. It says whether a retry can help, which is
//! all the worker needs to choose between backoff and an alert.

/// What went wrong on a target. Messages never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The target could not be reached or asked to come back later: retrying can help.
    #[error("target unavailable: {0}")]
    Transient(String),
    /// The target refused, or the request can never work as asked: retrying cannot help.
    #[error("target refused: {0}")]
    Permanent(String),
    /// A `grants` entry or a setting is not valid for this kind of target.
    #[error("{0}")]
    Config(String),
}

impl ConnectError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectError::Transient(_))
    }
}
