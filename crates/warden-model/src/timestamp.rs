//! Instants as RFC 3339 UTC. Input may carry any offset; Warden normalises to UTC so that
//! the same instant always encodes (and hashes) the same way.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

use crate::Duration;

/// An instant in UTC, to the second or finer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// Why a string is not a valid timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time `{0}`: expected RFC 3339 such as `2026-11-29T10:00:00Z`")]
pub struct TimestampError(String);

impl Timestamp {
    /// Parses RFC 3339 and normalises to UTC.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Self(t.to_offset(UtcOffset::UTC)))
            .map_err(|_| TimestampError(s.chars().take(40).collect()))
    }

    /// Wraps an instant read from a clock.
    pub fn from_datetime(t: OffsetDateTime) -> Self {
        Self(t.to_offset(UtcOffset::UTC))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The instant `seconds` after the Unix epoch, if representable.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds).ok().map(Self)
    }

    /// Milliseconds since the Unix epoch (what the store keeps).
    pub fn unix_millis(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// The instant `millis` milliseconds after the Unix epoch, if representable.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()
            .map(Self)
    }

    /// This instant cut to the whole millisecond, the precision the store keeps: an
    /// instant used for a decision must be the instant stored with it, or replaying the
    /// decision hashes a different input.
    pub fn truncated_to_millis(self) -> Self {
        Self::from_unix_millis(self.unix_millis()).unwrap_or(self)
    }

    /// The underlying date-time.
    pub fn as_datetime(self) -> OffsetDateTime {
        self.0
    }

    /// This instant plus `d`, saturating at the largest representable time.
    pub fn plus(self, d: Duration) -> Self {
        let secs = i64::try_from(d.seconds()).unwrap_or(i64::MAX);
        self.0
            .checked_add(time::Duration::seconds(secs))
            .map_or(self, Self)
    }

    /// Milliseconds from `self` until `later` (negative if `later` is earlier).
    pub fn millis_until(self, later: Timestamp) -> i64 {
        i64::try_from((later.0 - self.0).whole_milliseconds()).unwrap_or(i64::MAX)
    }

    /// Whole seconds from `self` until `later` (negative if `later` is earlier).
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).whole_seconds()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0.unix_timestamp()),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        Self::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_normalise_to_utc() {
        let a = Timestamp::parse("2026-11-29T12:00:00+02:00").unwrap();
        let b = Timestamp::parse("2026-11-29T10:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2026-11-29T10:00:00Z");
    }

    #[test]
    fn millis_round_trip() {
        let t = Timestamp::parse("2026-11-29T10:00:00.123Z").unwrap();
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
    }

    #[test]
    fn truncation_keeps_what_the_store_keeps() {
        let t = Timestamp::parse("2026-11-29T10:00:00.123456789Z").unwrap();
        let cut = t.truncated_to_millis();
        assert_eq!(cut.to_string(), "2026-11-29T10:00:00.123Z");
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(cut));
        assert_eq!(cut.truncated_to_millis(), cut);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2026-13-01T00:00:00Z").is_err());
    }
}
