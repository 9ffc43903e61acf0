//! The crate's errors: what went wrong talking to an ITSM, reading its configuration, or
//! checking a webhook. None of them ever carries a secret.

use std::time::Duration as StdDuration;

/// A call to the ITSM failed.
#[derive(Debug, thiserror::Error)]
pub enum ItsmError {
    /// The ITSM is down, overloaded or rate limiting: retrying later can help.
    #[error("the ITSM is unavailable ({message}); retry later")]
    Transient {
        /// What happened (status or network failure), never a secret.
        message: String,
        /// How long the ITSM asked us to wait (`Retry-After`), if it said.
        retry_after: Option<StdDuration>,
        /// The underlying client error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The ITSM refused Warden's API account (HTTP 401 or 403).
    #[error(
        "the ITSM refused the API account (HTTP {status}): check its username, password and rights"
    )]
    Unauthorized {
        /// The HTTP status.
        status: u16,
    },
    /// The ticket (or record) does not exist or is not visible to the API account.
    #[error("{what} was not found in the ITSM")]
    NotFound {
        /// What was looked for, e.g. ticket `42`.
        what: String,
    },
    /// A webhook body, a ticket id or an ITSM answer that cannot be used.
    #[error("{0}")]
    Invalid(String),
}

impl ItsmError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ItsmError::Transient { .. })
    }

    /// An invalid input or answer.
    pub fn invalid(message: impl Into<String>) -> Self {
        ItsmError::Invalid(message.into())
    }
}

/// The `[[itsm]]` configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("itsm `{name}`: {message}")]
pub struct ItsmConfigError {
    /// The adapter's name.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

impl ItsmConfigError {
    /// What is wrong with adapter `name`'s block.
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            message: message.into(),
        }
    }
}
