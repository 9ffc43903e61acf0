//! The catalog's entries once validated: identities, systems, roles, tasks, SoD rules and
//! the break-glass settings. Loading and validation live in `warden-policy`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{
    Duration, GroupId, IdentityId, Permission, RoleId, SodId, SystemId, TaskId, Timestamp,
};

/// What sort of identity receives access.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// A person.
    Human,
    /// A service account or API client.
    Service,
    /// A CI/CD job or other federated workload.
    Workload,
    /// A vendor or support account.
    ThirdParty,
}

impl IdentityKind {
    /// Every kind, in order.
    pub const ALL: [IdentityKind; 4] = [
        IdentityKind::Human,
        IdentityKind::Service,
        IdentityKind::Workload,
        IdentityKind::ThirdParty,
    ];

    /// The catalog's word for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Human => "human",
            IdentityKind::Service => "service",
            IdentityKind::Workload => "workload",
            IdentityKind::ThirdParty => "third_party",
        }
    }

    /// Services and workloads are non-human identities that need an accountable owner.
    pub fn needs_owner(self) -> bool {
        matches!(self, IdentityKind::Service | IdentityKind::Workload)
    }
}

/// Whether an identity may hold and receive access.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityStatus {
    /// Holds and receives access.
    #[default]
    Active,
    /// Offboarded: holds and gets nothing.
    Disabled,
}

/// How much harm misuse of a system could do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High: triggers the second check.
    High,
    /// Critical: triggers the second check.
    Critical,
}

impl Sensitivity {
    /// The catalog's word for this level.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::Medium => "medium",
            Sensitivity::High => "high",
            Sensitivity::Critical => "critical",
        }
    }

    /// High and critical systems need the second check (DESIGN §3.2 step 6).
    pub fn needs_second_check(self) -> bool {
        matches!(self, Sensitivity::High | Sensitivity::Critical)
    }
}

/// Which environment a system belongs to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Production.
    Prod,
    /// Staging.
    Staging,
    /// Development.
    Dev,
}

impl Environment {
    /// The catalog's word for this environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Prod => "prod",
            Environment::Staging => "staging",
            Environment::Dev => "dev",
        }
    }
}

/// Who receives access.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Identity {
    /// Its id.
    pub id: IdentityId,
    /// What sort of identity it is.
    pub kind: IdentityKind,
    /// Groups it belongs to.
    pub groups: BTreeSet<GroupId>,
    /// Active or disabled.
    pub status: IdentityStatus,
    /// How ITSM requesters are matched to it.
    pub email: Option<String>,
    /// The accountable human of a service or workload.
    pub owner: Option<IdentityId>,
    /// The sponsoring human of a third party.
    pub sponsor: Option<IdentityId>,
    /// Hard end of a third party's access.
    pub access_ends: Option<Timestamp>,
    /// For a workload: the OIDC claims a CI/CD job's token must carry to sign in as it.
    pub oidc: Option<OidcPin>,
    /// For a service or workload: the roles its owner consents to in advance, for every
    /// request, so that no person is asked each time.
    pub owner_consents: BTreeSet<RoleId>,
}

/// The claims that bind a workload to the tokens of one CI/CD job (DESIGN §2.1): the
/// token's `iss` and `sub`, and every other pinned claim, must match exactly.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct OidcPin {
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// Further claims, by name, each with the one value it must have.
    pub claims: BTreeMap<String, String>,
}

impl OidcPin {
    /// Whether a token's claims (its payload, as JSON) satisfy this pin: each pinned
    /// claim's [`claim_text`] is the pinned value.
    pub fn matches(
        &self,
        issuer: &str,
        subject: &str,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        self.issuer == issuer
            && self.subject == subject
            && self.claims.iter().all(|(name, want)| {
                claims
                    .get(name)
                    .and_then(claim_text)
                    .is_some_and(|have| have == want.as_str())
            })
    }
}

/// A token claim as text: a string as it is, a boolean or number as its JSON text (`true`,
/// `42`), since some platforms send those unquoted; anything else has none. Pins and
/// `context.oidc` read claims the same way.
pub fn claim_text(value: &serde_json::Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        serde_json::Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            Some(std::borrow::Cow::Owned(value.to_string()))
        }
        _ => None,
    }
}

impl Identity {
    /// Whether the identity is active.
    pub fn is_active(&self) -> bool {
        self.status == IdentityStatus::Active
    }
}

/// A target system.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct System {
    /// Its id.
    pub id: SystemId,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// Which environment it is in.
    pub environment: Environment,
    /// Classes of data it holds (`pci`, `pii`, …).
    pub data_classes: BTreeSet<String>,
    /// The group that owns it and gives the second-check approval.
    pub owner: GroupId,
    /// The connector instance that provisions on it, if any.
    pub connector: Option<String>,
}

/// A named, pre-defined permission set on one system.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Role {
    /// Its id.
    pub id: RoleId,
    /// The system it gives access to.
    pub system: SystemId,
    /// What it lets the holder do.
    pub permissions: BTreeSet<Permission>,
    /// The longest it may be held at once.
    pub max_duration: Duration,
    /// The duration granted when none is asked for.
    pub default_duration: Duration,
    /// Approvals needed on top of policy.
    pub approvals: u32,
    /// Groups whose members may approve.
    pub approvers: BTreeSet<GroupId>,
    /// Identity kinds that may hold it.
    pub kinds: BTreeSet<IdentityKind>,
    /// What the connector applies on the target.
    pub grants: Vec<String>,
    /// How often a long-running grant's credential is rotated.
    pub rotate_every: Option<Duration>,
}

/// A standard request type that an ITSM catalog item maps to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// The system it concerns.
    pub system: SystemId,
    /// The permissions it needs.
    pub needs: BTreeSet<Permission>,
    /// A cap on the duration, tighter than the role's.
    pub max_duration: Option<Duration>,
}

/// Roles that must never be held together by one identity.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct SodRule {
    /// Its id.
    pub id: SodId,
    /// The roles that conflict.
    pub roles: BTreeSet<RoleId>,
}

/// Limits that apply to every non-human identity (services and workloads).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct NhiLimits {
    /// The cap on every grant to a service or workload, on top of the role's.
    pub max_duration: Duration,
}

impl Default for NhiLimits {
    fn default() -> Self {
        Self {
            max_duration: Duration::from_seconds(3_600).unwrap_or(Duration::MIN),
        }
    }
}

/// The emergency path's limits.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct BreakGlass {
    /// The cap on an emergency grant.
    pub max_duration: Duration,
    /// When the post-hoc review is due, counted from the decision.
    pub review_within: Duration,
}
