//! Identifier newtypes. Every id is validated once, at the edge, so that anything
//! holding an id can rely on its shape (and later send it to a target safely quoted).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest id Warden accepts.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// What kind of id was expected.
        kind: &'static str,
    },
    /// The string is longer than [`MAX_ID_LEN`].
    #[error("{kind} `{value}` is longer than {MAX_ID_LEN} characters")]
    TooLong {
        /// What kind of id was expected.
        kind: &'static str,
        /// The offending value, cut short.
        value: String,
    },
    /// The string holds a character outside the allowed set.
    #[error(
        "{kind} `{value}` may only hold letters, digits and `{extra}`, and must start with a letter or digit"
    )]
    BadChar {
        /// What kind of id was expected.
        kind: &'static str,
        /// The offending value.
        value: String,
        /// Punctuation allowed besides letters and digits.
        extra: &'static str,
    },
}

fn check(kind: &'static str, s: &str, extra: &'static str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            value: s.chars().take(40).collect(),
        });
    }
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(IdError::BadChar {
            kind,
            value: s.chars().take(MAX_ID_LEN).collect(),
            extra,
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $extra:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check($kind, s, $extra)?;
                Ok(Self(s.to_owned()))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An identity: who receives access (a person, a service, a workload, a vendor).
    IdentityId, "identity id", "._@-"
);
id_type!(
    /// A group of identities.
    GroupId, "group id", "._-"
);
id_type!(
    /// A target system.
    SystemId, "system id", "._-"
);
id_type!(
    /// A role: the only thing that can be granted.
    RoleId, "role id", "._-"
);
id_type!(
    /// A standard request type.
    TaskId, "task id", "._-"
);
id_type!(
    /// A separation-of-duties rule.
    SodId, "sod id", "._-"
);
id_type!(
    /// A Cedar policy, named by its `@id` annotation.
    PolicyId, "policy id", "._-"
);
id_type!(
    /// An abstract capability a role carries (`read`, `write`, `admin`, …).
    Permission, "permission", "_-"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_charset() {
        assert!(IdentityId::parse("alice@example.com").is_ok());
        assert!(RoleId::parse("payments-db.read").is_ok());
        assert!(Permission::parse("read_all").is_ok());
    }

    #[test]
    fn ids_reject_hostile_strings() {
        for bad in [
            "",
            "a b",
            "x\"; DROP ROLE y; --",
            "-leading",
            ".hidden",
            "é",
            "a\nb",
        ] {
            assert!(RoleId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Permission::parse("read.all").is_err());
        assert!(RoleId::parse(&"a".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
