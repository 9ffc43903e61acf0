//! Account names Warden creates: derived from the grant id and generation, never from a
//! user-supplied name, and prefixed so a connector only ever touches its own accounts.
//!
//! The charset (`a-z`, `0-9`, `_`) and the length (at most 63, PostgreSQL's limit, which
//! is also within MariaDB's, Redis's and RabbitMQ's) are safe as a bare identifier on
//! every target; connectors still quote or bind them.

use std::fmt;

use uuid::Uuid;

use crate::ConnectError;

/// The longest prefix: leaves room for the 32-hex grant id and a generation.
const MAX_PREFIX: usize = 16;
/// The longest account name any target accepts (PostgreSQL's `NAMEDATALEN - 1`).
pub const MAX_ACCOUNT: usize = 63;

/// A connector's account prefix: `[a-z][a-z0-9_]*`, at most 16 characters.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Prefix(String);

impl Prefix {
    /// The prefix used when the config names none.
    pub const DEFAULT: &'static str = "warden_";

    /// Checks `s` as a prefix.
    pub fn parse(s: &str) -> Result<Self, ConnectError> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !first_ok || !rest_ok || s.len() > MAX_PREFIX {
            return Err(ConnectError::Config(format!(
                "prefix `{s}` must start with a-z, hold only a-z, 0-9 and `_`, and be at most {MAX_PREFIX} characters"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` carries this prefix (and so is Warden's to manage).
    pub fn owns(&self, name: &str) -> bool {
        name.starts_with(&self.0)
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// The name of one generation of one grant's account on a target:
/// `{prefix}{grant id as 32 hex digits}_{generation}`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct AccountName(String);

impl AccountName {
    /// The account of `generation` (1 for the first credential, one more per rotation)
    /// of the grant with id `grant`.
    pub fn derive(prefix: &Prefix, grant: Uuid, generation: u32) -> Self {
        Self(format!("{}{}_{generation}", prefix.0, grant.simple()))
    }

    /// Reads back a name [`AccountName::derive`] made with `prefix`: the grant id and
    /// generation, or `None` for any other name.
    pub fn parse(prefix: &Prefix, name: &str) -> Option<(Uuid, u32)> {
        let rest = name.strip_prefix(prefix.as_str())?;
        let (hex, generation) = rest.split_once('_')?;
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let generation: u32 = generation.parse().ok()?;
        if generation == 0 || generation.to_string().len() != rest.len() - 33 {
            return None;
        }
        Some((Uuid::parse_str(hex).ok()?, generation))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn derived_names_read_back_and_fit_every_target() {
        let p = Prefix::parse("warden_").unwrap();
        let id = Uuid::now_v7();
        let name = AccountName::derive(&p, id, u32::MAX);
        assert!(name.as_str().len() <= MAX_ACCOUNT);
        assert_eq!(AccountName::parse(&p, name.as_str()), Some((id, u32::MAX)));
        let longest = Prefix::parse("abcdefghijklmnop").unwrap();
        assert!(AccountName::derive(&longest, id, u32::MAX).as_str().len() <= MAX_ACCOUNT);
    }

    #[test]
    fn foreign_names_are_not_ours() {
        let p = Prefix::default();
        for name in [
            "postgres",
            "warden_",
            "warden_xyz_1",
            "warden_0123456789abcdef0123456789abcdef_0",
            "warden_0123456789abcdef0123456789abcdef_01",
            "warden_0123456789abcdef0123456789abcdef_1x",
            "warden_0123456789ABCDEF0123456789abcdef_1",
        ] {
            assert_eq!(AccountName::parse(&p, name), None, "{name}");
        }
    }

    #[test]
    fn prefixes_are_checked() {
        for bad in ["", "1abc", "Warden_", "w-", "w\"", "abcdefghijklmnopq"] {
            assert!(Prefix::parse(bad).is_err(), "{bad}");
        }
    }
}
