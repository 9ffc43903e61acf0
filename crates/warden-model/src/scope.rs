//! What an API token may do. The CLI mints tokens with these scopes and the API checks them,
//! so both read the words from here.

use std::fmt;
use std::str::FromStr;

/// A token scope.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Scope {
    /// Submit requests and dry-run decisions.
    Intake,
    /// Approve or reject requests, as the token's identity.
    Approve,
    /// Read and revoke grants.
    Admin,
    /// Read grants and the audit trail.
    Audit,
    /// File requests on behalf of others, only under the one `source` the token is bound to.
    Broker,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 5] = [
        Scope::Intake,
        Scope::Approve,
        Scope::Admin,
        Scope::Audit,
        Scope::Broker,
    ];

    /// The scope's word, as stored on tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Intake => "intake",
            Scope::Approve => "approve",
            Scope::Admin => "admin",
            Scope::Audit => "audit",
            Scope::Broker => "broker",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a scope: expected `intake`, `approve`, `admin`, `audit` or `broker`")]
pub struct UnknownScope(String);

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_their_words_only() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        assert_eq!(
            "root".parse::<Scope>().unwrap_err().to_string(),
            "`root` is not a scope: expected `intake`, `approve`, `admin`, `audit` or `broker`"
        );
        assert!("Admin".parse::<Scope>().is_err());
    }
}
