//! Warden's domain types: the words of DESIGN §1 as Rust types.
//!
//! Everything here is pure data with validation at construction: no I/O, no clock.

pub mod approval;
pub mod canonical;
pub mod catalog;
pub mod chain;
pub mod decision;
pub mod duration;
pub mod id;
pub mod request;
pub mod review;
pub mod scope;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timestamp;

pub use approval::{ApprovalDecision, UnknownDecision};
pub use catalog::{
    BreakGlass, Environment, Identity, IdentityKind, IdentityStatus, NhiLimits, OidcPin, Role,
    Sensitivity, SodRule, System, Task,
};
pub use decision::{ApprovalStep, Decision, Outcome, Reason, ReasonCode, SecondCheck};
pub use duration::Duration;
pub use id::{GroupId, IdError, IdentityId, Permission, PolicyId, RoleId, SodId, SystemId, TaskId};
pub use request::{ActiveGrant, InputError, OIDC_CLAIMS, Request};
pub use review::{NoAnswer, OpenReview, ReviewCampaign, ReviewScope, Reviewers};
pub use scope::{Scope, UnknownScope};
pub use state::{GrantState, RequestState};
pub use timestamp::Timestamp;
