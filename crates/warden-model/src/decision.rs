//! The decision (DESIGN §3.3): the pure result of evaluating a request against a bundle.
//! A denial is a value here, never an error.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{GroupId, IdentityId, Permission, PolicyId, RoleId, SystemId};

/// What the decision says should happen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Provision now.
    Grant,
    /// Provision once the listed approvals are recorded.
    ApprovalRequired,
    /// Never provision.
    Deny,
}

impl Outcome {
    /// The wire word for this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Grant => "grant",
            Outcome::ApprovalRequired => "approval_required",
            Outcome::Deny => "deny",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a decision came out as it did (DESIGN §3.2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Requester or subject is not in the catalog.
    UnknownIdentity,
    /// Requester or subject is disabled.
    IdentityDisabled,
    /// A service or workload subject has no active owner.
    OwnerMissing,
    /// A third party has no active sponsor or is past `access_ends`.
    ThirdPartyExpired,
    /// The system is not in the catalog.
    UnknownSystem,
    /// The role is not in the catalog or not on the system.
    UnknownRole,
    /// The task is not in the catalog or not on the system.
    UnknownTask,
    /// A smaller role than asked covers the need.
    RightSized,
    /// No role on the system covers the need for this kind of identity.
    NoCoveringRole,
    /// Covering roles exist but policy permits none.
    NotPermitted,
    /// The role would complete a separation-of-duties set.
    SodConflict,
    /// The duration asked for was longer than the cap.
    DurationClamped,
    /// The `provision` action is not permitted on a high or critical system.
    SecondCheckFailed,
    /// The second check passed and adds an owner approval.
    SecondCheck,
    /// The emergency path was taken.
    BreakGlass,
    /// The emergency path is closed to this identity until the review of its last
    /// emergency grant is closed.
    BreakGlassReviewOpen,
    /// The owner of a service or workload consented to this role in advance
    /// (`owner_consents` in the catalog), so no approval of theirs is asked for.
    OwnerConsented,
    /// A policy that decided.
    Policy,
}

impl ReasonCode {
    /// Every code, in order.
    pub const ALL: [ReasonCode; 18] = [
        ReasonCode::UnknownIdentity,
        ReasonCode::IdentityDisabled,
        ReasonCode::OwnerMissing,
        ReasonCode::ThirdPartyExpired,
        ReasonCode::UnknownSystem,
        ReasonCode::UnknownRole,
        ReasonCode::UnknownTask,
        ReasonCode::RightSized,
        ReasonCode::NoCoveringRole,
        ReasonCode::NotPermitted,
        ReasonCode::SodConflict,
        ReasonCode::DurationClamped,
        ReasonCode::SecondCheckFailed,
        ReasonCode::SecondCheck,
        ReasonCode::BreakGlass,
        ReasonCode::BreakGlassReviewOpen,
        ReasonCode::OwnerConsented,
        ReasonCode::Policy,
    ];

    /// The wire word for this code.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::UnknownIdentity => "unknown_identity",
            ReasonCode::IdentityDisabled => "identity_disabled",
            ReasonCode::OwnerMissing => "owner_missing",
            ReasonCode::ThirdPartyExpired => "third_party_expired",
            ReasonCode::UnknownSystem => "unknown_system",
            ReasonCode::UnknownRole => "unknown_role",
            ReasonCode::UnknownTask => "unknown_task",
            ReasonCode::RightSized => "right_sized",
            ReasonCode::NoCoveringRole => "no_covering_role",
            ReasonCode::NotPermitted => "not_permitted",
            ReasonCode::SodConflict => "sod_conflict",
            ReasonCode::DurationClamped => "duration_clamped",
            ReasonCode::SecondCheckFailed => "second_check_failed",
            ReasonCode::SecondCheck => "second_check",
            ReasonCode::BreakGlass => "break_glass",
            ReasonCode::BreakGlassReviewOpen => "break_glass_review_open",
            ReasonCode::OwnerConsented => "owner_consented",
            ReasonCode::Policy => "policy",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason, with a human message and, where a policy decided, its id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Reason {
    /// The reason code.
    pub code: ReasonCode,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The policy behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<PolicyId>,
}

impl Reason {
    /// A reason with a message.
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: Some(message.into()),
            policy_id: None,
        }
    }

    /// The reason naming a deciding policy.
    pub fn policy(id: PolicyId) -> Self {
        Self {
            code: ReasonCode::Policy,
            message: None,
            policy_id: Some(id),
        }
    }
}

/// One approval step: `count` approvals from members of `from_groups` (or from the named
/// identities), never from anyone in `excluded`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// How many distinct approvers this step needs.
    pub count: u32,
    /// Groups whose members may approve.
    pub from_groups: Vec<GroupId>,
    /// Identities who may approve (the owner's consent step); empty for group steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_identities: Vec<IdentityId>,
    /// Who may never approve this request: its requester and subject.
    pub excluded: Vec<IdentityId>,
}

/// Whether the second check applied and passed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct SecondCheck {
    /// The system is high or critical.
    pub required: bool,
    /// The `provision` action was permitted.
    pub passed: bool,
}

/// The decision's full shape.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Decision {
    /// What should happen.
    pub outcome: Outcome,
    /// The role chosen (absent when none could be).
    pub role: Option<RoleId>,
    /// The system concerned (absent when unknown).
    pub system: Option<SystemId>,
    /// The chosen role's permissions.
    pub permissions: Vec<Permission>,
    /// How long the grant lasts once active.
    pub duration_seconds: Option<u64>,
    /// The approvals still needed, step by step.
    pub approvals: Vec<ApprovalStep>,
    /// The second check for high and critical systems.
    pub second_check: SecondCheck,
    /// Whether the emergency path was taken.
    pub break_glass: bool,
    /// Why, in order of the steps.
    pub reasons: Vec<Reason>,
    /// The bundle that decided.
    pub bundle_hash: String,
    /// The canonical hash of the request, active grants and instant.
    pub input_hash: String,
}

impl Decision {
    /// Whether any reason carries `code`.
    pub fn has_reason(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// Total approvals needed across steps.
    pub fn approvals_needed(&self) -> u32 {
        self.approvals.iter().map(|s| s.count).sum()
    }
}
