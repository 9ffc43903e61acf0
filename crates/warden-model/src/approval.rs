//! What an approver said about a request: the one word an approval carries, whether it was
//! given through the API, recorded on an ITSM ticket, or read back from the store.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an approver said.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalDecision {
    /// In favour.
    Approve,
    /// Against; one rejection denies the request.
    Reject,
}

/// A word that is not an approval decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown approval decision `{0}`")]
pub struct UnknownDecision(String);

impl ApprovalDecision {
    /// The word used on the wire, in the database and on tickets (`approve` or `reject`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalDecision::Approve => "approve",
            ApprovalDecision::Reject => "reject",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Result<Self, UnknownDecision> {
        match s {
            "approve" => Ok(ApprovalDecision::Approve),
            "reject" => Ok(ApprovalDecision::Reject),
            other => Err(UnknownDecision(other.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for ApprovalDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
