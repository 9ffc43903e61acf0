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

/// The RFC 3339 text of an instant, written into a buffer of its own: the longest,
/// `9999-12-31T23:59:59.999999999Z`, is 30 bytes.
///
/// Every decision's input hash writes its instant and the expiry of each active grant;
/// through `time`'s formatter each took a `String` of its own and `serde`'s `collect_str`
/// another. The text is `time`'s RFC 3339 to the byte (`tests::text_is_times_rfc3339`):
/// the fraction only when there is one, without trailing zeros, and `Z` for UTC.
struct Rfc3339Text {
    buf: [u8; 30],
    len: usize,
}

impl Rfc3339Text {
    /// `None` for a year outside `0..=9999`, which RFC 3339 cannot write.
    fn of(t: OffsetDateTime) -> Option<Self> {
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let mut text = Rfc3339Text {
            buf: [0; 30],
            len: 0,
        };
        text.digits(year, 4);
        text.push(b'-');
        text.digits(u32::from(u8::from(t.month())), 2);
        text.push(b'-');
        text.digits(u32::from(t.day()), 2);
        text.push(b'T');
        text.digits(u32::from(t.hour()), 2);
        text.push(b':');
        text.digits(u32::from(t.minute()), 2);
        text.push(b':');
        text.digits(u32::from(t.second()), 2);
        let mut nanos = t.nanosecond();
        if nanos != 0 {
            let mut width = 9;
            while nanos.is_multiple_of(10) {
                nanos /= 10;
                width -= 1;
            }
            text.push(b'.');
            text.digits(nanos, width);
        }
        text.push(b'Z');
        Some(text)
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    /// `n` in `width` decimal digits, zero-padded (`n` is always narrower).
    fn digits(&mut self, n: u32, width: u32) {
        for place in (0..width).rev() {
            // A digit is below 10, so the cast keeps it whole.
            self.push(b'0' + (n / 10u32.pow(place) % 10) as u8);
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Rfc3339Text::of(self.0) {
            Some(text) => f.write_str(text.as_str()),
            None => write!(f, "{}", self.0.unix_timestamp()),
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
        match Rfc3339Text::of(self.0) {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.collect_str(self),
        }
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
    use proptest::prelude::*;

    /// What `Display` wrote before: `time`'s own RFC 3339, or the Unix seconds when the
    /// year cannot be written.
    fn times_text(t: OffsetDateTime) -> String {
        t.format(&Rfc3339)
            .unwrap_or_else(|_| t.unix_timestamp().to_string())
    }

    proptest! {
        #[test]
        fn text_is_times_rfc3339(
            // From before year 0 to after 9999, to the nanosecond.
            seconds in -62_300_000_000i64..253_500_000_000,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|m| m * 1_000_000)],
        ) {
            let t = OffsetDateTime::from_unix_timestamp(seconds)
                .expect("in range")
                .replace_nanosecond(nanos)
                .expect("a nanosecond");
            let ts = Timestamp::from_datetime(t);
            prop_assert_eq!(ts.to_string(), times_text(t));
            prop_assert_eq!(
                serde_json::to_string(&ts).expect("serialises"),
                serde_json::to_string(&times_text(t)).expect("serialises")
            );
        }
    }

    #[test]
    fn the_widest_instants_are_written_as_before() {
        let t = Timestamp::parse("9999-12-31T23:59:59.999999999Z").unwrap();
        assert_eq!(t.to_string(), "9999-12-31T23:59:59.999999999Z");
        let t = Timestamp::parse("0000-01-01T00:00:00.1Z").unwrap();
        assert_eq!(t.to_string(), "0000-01-01T00:00:00.1Z");
        // Before year 0 RFC 3339 has no text: the Unix seconds, as `time` gave them.
        let t = Timestamp::from_unix_seconds(-62_167_219_201).unwrap();
        assert_eq!(t.to_string(), "-62167219201");
        assert_eq!(t.to_string(), times_text(t.as_datetime()));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"-62167219201\"");
    }

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
