//! Which audit events an alert subscribes to: an exact action name (`alert.break_glass`),
//! a prefix ending in `*` (`alert.*`), or `*` alone for every event.

use serde::Deserialize;

/// One entry of an alert's `events` list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum EventPattern {
    /// `*`: every event.
    All,
    /// `alert.*`: every action starting with the text before the `*`.
    Prefix(String),
    /// An exact action name.
    Exact(String),
}

/// A pattern that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{pattern}` is not an event pattern: {why}")]
pub struct PatternError {
    pattern: String,
    why: &'static str,
}

impl EventPattern {
    /// Parses one pattern. Action names are visible ASCII without spaces; a `*` may only
    /// end a pattern.
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        let bad = |why| PatternError {
            pattern: s.chars().take(60).filter(|c| !c.is_control()).collect(),
            why,
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if !s.chars().all(|c| c.is_ascii_graphic()) {
            return Err(bad("expected visible ASCII without spaces"));
        }
        if s == "*" {
            return Ok(EventPattern::All);
        }
        match s.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => Err(bad("a `*` may only end a pattern")),
            Some(prefix) => Ok(EventPattern::Prefix(prefix.to_owned())),
            None if s.contains('*') => Err(bad("a `*` may only end a pattern")),
            None => Ok(EventPattern::Exact(s.to_owned())),
        }
    }

    /// Whether an event with `action` matches.
    pub fn matches(&self, action: &str) -> bool {
        match self {
            EventPattern::All => true,
            EventPattern::Prefix(p) => action.starts_with(p.as_str()),
            EventPattern::Exact(a) => action == a,
        }
    }
}

impl TryFrom<String> for EventPattern {
    type Error = PatternError;
    fn try_from(s: String) -> Result<Self, PatternError> {
        EventPattern::parse(&s)
    }
}

impl std::fmt::Display for EventPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventPattern::All => f.write_str("*"),
            EventPattern::Prefix(p) => write!(f, "{p}*"),
            EventPattern::Exact(a) => f.write_str(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_names_prefixes_and_everything() {
        let p = |s| EventPattern::parse(s).unwrap();
        assert!(p("*").matches("grant.activated"));
        assert!(p("alert.*").matches("alert.break_glass"));
        assert!(!p("alert.*").matches("grant.activated"));
        assert!(p("alert.owner_missing").matches("alert.owner_missing"));
        assert!(!p("alert.owner_missing").matches("alert.owner_missing_x"));
        assert_eq!(p("alert.*").to_string(), "alert.*");
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "a*b", "**", "a b", "al*ert.*"] {
            assert!(EventPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
