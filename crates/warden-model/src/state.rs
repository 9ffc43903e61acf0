//! The lifecycle of DESIGN §4 as two state machines: the request's (until it is approved,
//! denied or lapses) and the grant's (from provisioning to confirmed revocation).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a request stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Taken in, not yet decided.
    Requested,
    /// Decided; waiting for approvals.
    ApprovalRequired,
    /// Every approval is in (or none was needed); a grant exists.
    Approved,
    /// Denied by the decision or rejected by an approver. Final.
    Denied,
    /// The approval window lapsed. Final.
    Expired,
    /// Ended before it was answered because its requester or subject was offboarded. Final.
    Withdrawn,
}

/// Where a grant stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Being created on the target.
    Provisioning,
    /// Exists on the target; its clock runs.
    Active,
    /// Being removed; stays here until the target confirms.
    Revoking,
    /// Removal confirmed by the target. Final.
    Revoked,
    /// Provisioning failed for good; nothing exists on the target. Final.
    Failed,
}

/// A state word that is not one of the lifecycle's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state `{0}`")]
pub struct UnknownState(pub String);

macro_rules! words {
    ($ty:ident { $($variant:ident => $word:literal),* $(,)? }) => {
        impl $ty {
            /// The lowercase word used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $word),* }
            }

            /// Parses the lowercase word.
            pub fn parse(s: &str) -> Result<Self, UnknownState> {
                match s {
                    $($word => Ok($ty::$variant),)*
                    other => Err(UnknownState(other.to_owned())),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words!(RequestState {
    Requested => "requested",
    ApprovalRequired => "approval_required",
    Approved => "approved",
    Denied => "denied",
    Expired => "expired",
    Withdrawn => "withdrawn",
});

words!(GrantState {
    Provisioning => "provisioning",
    Active => "active",
    Revoking => "revoking",
    Revoked => "revoked",
    Failed => "failed",
});

impl RequestState {
    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_become(self, to: RequestState) -> bool {
        use RequestState::*;
        matches!(
            (self, to),
            (Requested, ApprovalRequired | Approved | Denied)
                | (ApprovalRequired, Approved | Denied | Expired | Withdrawn)
        )
    }

    /// Whether no further change can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Approved
                | RequestState::Denied
                | RequestState::Expired
                | RequestState::Withdrawn
        )
    }
}

impl GrantState {
    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_become(self, to: GrantState) -> bool {
        use GrantState::*;
        matches!(
            (self, to),
            (Provisioning, Active | Failed | Revoking) | (Active, Revoking) | (Revoking, Revoked)
        )
    }

    /// Whether no further change can happen.
    pub fn is_final(self) -> bool {
        matches!(self, GrantState::Revoked | GrantState::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in [
            GrantState::Provisioning,
            GrantState::Active,
            GrantState::Revoking,
            GrantState::Revoked,
            GrantState::Failed,
        ] {
            assert_eq!(GrantState::parse(s.as_str()), Ok(s));
        }
        assert!(GrantState::parse("assigned").is_err());
    }

    #[test]
    fn revoked_is_final_and_reached_only_from_revoking() {
        assert!(GrantState::Revoking.can_become(GrantState::Revoked));
        assert!(!GrantState::Active.can_become(GrantState::Revoked));
        assert!(!GrantState::Revoked.can_become(GrantState::Active));
        assert!(GrantState::Revoked.is_final());
    }
}
