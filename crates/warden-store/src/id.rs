//! Ids of the rows the store creates: UUID v7 newtypes, stored as hyphenated TEXT.
//!
//! They live here rather than in the model because only stored things have them; v7 is
//! used so that ids sort by creation time, which keeps B-tree inserts at the index's end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id `{0}`: expected a UUID")]
pub struct BadId(String);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            #[allow(clippy::new_without_default, reason = "a fresh id is not a default value")]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }

            /// The underlying UUID.
            pub fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| BadId(s.chars().take(40).collect()))
            }
        }
    };
}

uuid_id!(
    /// A stored request.
    RequestId
);
uuid_id!(
    /// A grant.
    GrantId
);
uuid_id!(
    /// A scheduled job.
    JobId
);
uuid_id!(
    /// An API token (not its secret).
    TokenId
);
uuid_id!(
    /// A review: of one emergency grant, or one run of a campaign.
    ReviewId
);
uuid_id!(
    /// One item of a review: a grant, or a non-human identity.
    ItemId
);
