//! Reviews: the access campaigns a bundle declares (`[[review]]`), and the open break-glass
//! reviews a decision takes as input.

use serde::{Deserialize, Serialize};

use crate::{Duration, GroupId, IdentityId, IdentityKind, SystemId};

/// One `[[review]]` of the bundle: a campaign that asks, every `every`, whether the grants
/// and the non-human identities in its scope are still needed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ReviewCampaign {
    /// Its id.
    pub id: String,
    /// How often it starts.
    pub every: Duration,
    /// How long reviewers have, from the start.
    pub due_within: Duration,
    /// What it reviews.
    pub scope: ReviewScope,
    /// Who reviews.
    pub reviewers: Reviewers,
    /// What an item nobody decided by the due date gets.
    pub on_no_answer: NoAnswer,
}

/// What a campaign reviews.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct ReviewScope {
    /// The kinds of subject; empty means every kind.
    pub kinds: Vec<IdentityKind>,
    /// The systems; empty means every system.
    pub systems: Vec<SystemId>,
    /// Only grants lasting at least this long; `None` means every grant.
    pub min_duration: Option<Duration>,
}

impl ReviewScope {
    /// Whether a subject of `kind` is in scope.
    pub fn has_kind(&self, kind: IdentityKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Whether `system` is in scope.
    pub fn has_system(&self, system: &SystemId) -> bool {
        self.systems.is_empty() || self.systems.contains(system)
    }
}

/// Who reviews a campaign's items.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reviewers {
    /// The owner group of the grant's system; for a non-human identity, also its owner.
    Owner,
    /// Members of these groups.
    Groups(Vec<GroupId>),
}

/// What an unanswered item gets at the due date. There is no default: a campaign that
/// keeps access on silence must say so.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAnswer {
    /// Silence revokes.
    Revoke,
    /// Silence keeps.
    Keep,
}

impl NoAnswer {
    /// The bundle's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            NoAnswer::Revoke => "revoke",
            NoAnswer::Keep => "keep",
        }
    }
}

/// A break-glass review still open (or overdue) for an identity: while one is, that
/// identity's next emergency request is denied. Part of a decision's input, so a denial
/// replays.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenReview {
    /// The review's id.
    pub id: String,
    /// Whose emergency grant it reviews.
    pub subject: IdentityId,
}
