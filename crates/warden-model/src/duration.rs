//! Durations as the catalog, policies and requests write them: `45s`, `30m`, `8h`, `2d`, `1h30m`,
//! or ISO 8601 (`PT8H`, `P1DT2H30M`). Held as whole seconds.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration Warden accepts: 10 years. Anything longer is a typo or an attack.
pub const MAX_SECONDS: u64 = 10 * 366 * 86_400;

/// A positive span of time in whole seconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Duration(u64);

/// Why a string is not a valid duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{value}`: {why}")]
pub struct DurationError {
    value: String,
    why: &'static str,
}

impl Duration {
    /// One second, the shortest duration.
    pub const MIN: Duration = Duration(1);

    /// A duration of `seconds` (which must be positive and at most [`MAX_SECONDS`]).
    pub fn from_seconds(seconds: u64) -> Option<Self> {
        (seconds > 0 && seconds <= MAX_SECONDS).then_some(Self(seconds))
    }

    /// The duration in seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }

    /// Parses `45s`, `30m`, `8h`, `2d`, `1h30m` or ISO 8601 `PnDTnHnMnS` / `PnW`.
    pub fn parse(s: &str) -> Result<Self, DurationError> {
        let err = |why| DurationError {
            value: s.chars().take(40).collect(),
            why,
        };
        let t = s.trim();
        let seconds = if let Some(iso) = t.strip_prefix('P') {
            parse_iso(iso).ok_or_else(|| err("not an ISO 8601 duration such as `PT8H`"))?
        } else {
            parse_short(t)
                .ok_or_else(|| err("expected a number followed by s, m, h or d, such as `8h`"))?
        };
        if seconds == 0 {
            return Err(err("must be longer than zero"));
        }
        if seconds > MAX_SECONDS {
            return Err(err("must be at most 10 years"));
        }
        Ok(Self(seconds))
    }
}

/// `8h`, `2d`, or several units largest first (`1h30m`), the form `Display` writes.
fn parse_short(t: &str) -> Option<u64> {
    iso_fields(t, &[('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)])
}

fn parse_iso(iso: &str) -> Option<u64> {
    let (date, time) = match iso.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (iso, None),
    };
    if date.is_empty() && time.is_none() {
        return None;
    }
    let mut total: u64 = 0;
    total = total.checked_add(iso_fields(date, &[('W', 604_800), ('D', 86_400)])?)?;
    if let Some(time) = time {
        total = total.checked_add(iso_fields(time, &[('H', 3_600), ('M', 60), ('S', 1)])?)?;
    }
    Some(total)
}

/// Sums `nX` fields in the order `units` lists them; each at most once.
fn iso_fields(mut s: &str, units: &[(char, u64)]) -> Option<u64> {
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !s.is_empty() {
        let end = s.find(|c: char| !c.is_ascii_digit())?;
        let (digits, rest) = s.split_at(end);
        if digits.is_empty() || digits.len() > 12 {
            return None;
        }
        let unit = rest.chars().next()?;
        let pos = units.iter().skip(next_unit).position(|(u, _)| *u == unit)? + next_unit;
        let (_, factor) = units.get(pos)?;
        total = total.checked_add(digits.parse::<u64>().ok()?.checked_mul(*factor)?)?;
        next_unit = pos + 1;
        s = rest.get(unit.len_utf8()..)?;
    }
    Some(total)
}

impl fmt::Display for Duration {
    /// The shortest exact form: `4h`, `1h30m`, `2d`, `90s` → `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            let n = rest / size;
            if n > 0 {
                write!(f, "{n}{unit}")?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, DurationError> {
        Self::parse(s)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_and_iso_forms_parse() {
        let cases = [
            ("45s", 45),
            ("30m", 1_800),
            ("8h", 28_800),
            ("2d", 172_800),
            ("PT8H", 28_800),
            ("P1DT2H30M", 95_400),
            ("PT90S", 90),
            ("P1W", 604_800),
            ("1h30m", 5_400),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                Duration::parse(text).map(Duration::seconds),
                Ok(seconds),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for bad in [
            "",
            "0s",
            "8",
            "h",
            "8x",
            "-1h",
            "1.5h",
            "PT",
            "P",
            "PT8",
            "P1H",
            "PT1H1H",
            "PT1M1H",
            "99999999999999d",
            "30m1h",
            "1h 30m",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn display_is_shortest_exact_form() {
        let show = |s| Duration::from_seconds(s).map(|d| d.to_string());
        assert_eq!(show(14_400).as_deref(), Some("4h"));
        assert_eq!(show(5_400).as_deref(), Some("1h30m"));
        assert_eq!(show(90_061).as_deref(), Some("1d1h1m1s"));
    }

    proptest! {
        #[test]
        fn display_round_trips_through_iso(seconds in 1..MAX_SECONDS) {
            let d = Duration::from_seconds(seconds).unwrap();
            let iso = format!("P{}DT{}H{}M{}S", seconds / 86_400, seconds % 86_400 / 3_600,
                seconds % 3_600 / 60, seconds % 60);
            prop_assert_eq!(Duration::parse(&iso), Ok(d));
            prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }
    }
}
