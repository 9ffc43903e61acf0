//! Checking a signed token's claims: audience, validity window, age, and the identity
//! claims Warden needs. Done here rather than by jsonwebtoken because its checks read the
//! system clock, and Warden's decisions must follow the caller's clock.

use serde_json::{Map, Value};
use warden_model::{Duration, Timestamp};

use crate::Refusal;

/// The clock skew allowed between the issuer and Warden, in seconds, on `exp`, `nbf`
/// and a future `iat`. CI runners' clocks drift; a minute is the customary allowance.
pub const LEEWAY_SECONDS: i64 = 60;

/// The claims that passed, in the form [`Verified`](crate::Verified) carries them.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) subject: String,
    pub(crate) jti: String,
    pub(crate) issued_at: Timestamp,
    pub(crate) expires_at: Timestamp,
}

/// Checks `claims` for a token whose issuer expects `audience` and allows tokens up to
/// `max_age` old, at `now`.
pub(crate) fn check(
    claims: &Map<String, Value>,
    audience: &str,
    max_age: Duration,
    now: Timestamp,
) -> Result<Checked, Refusal> {
    if !has_audience(claims.get("aud"), audience) {
        return Err(Refusal::WrongAudience);
    }
    let (iat, exp) = times(claims, max_age, now)?;
    let subject = text(claims, "sub")?;
    let jti = text(claims, "jti")?;
    Ok(Checked {
        subject,
        jti,
        issued_at: instant(iat, "iat")?,
        expires_at: instant(exp, "exp")?,
    })
}

/// Checks `exp` (required), `nbf` (optional) and `iat` (required) at `now`, with
/// [`LEEWAY_SECONDS`] each way, and that the token was issued at most `max_age` ago;
/// returns `iat` and `exp`.
pub(crate) fn times(
    claims: &Map<String, Value>,
    max_age: Duration,
    now: Timestamp,
) -> Result<(i64, i64), Refusal> {
    let now = now.unix_seconds();
    let exp = seconds(claims, "exp")?.ok_or(Refusal::MissingClaim("exp"))?;
    if now > exp.saturating_add(LEEWAY_SECONDS) {
        return Err(Refusal::Expired);
    }
    if let Some(nbf) = seconds(claims, "nbf")?
        && nbf > now.saturating_add(LEEWAY_SECONDS)
    {
        return Err(Refusal::NotYetValid);
    }
    let iat = seconds(claims, "iat")?.ok_or(Refusal::MissingClaim("iat"))?;
    if iat > now.saturating_add(LEEWAY_SECONDS) {
        // Issued in the future: a wrong clock at the issuer, or a token minted ahead of
        // time to outlive `max_token_age`.
        return Err(Refusal::NotYetValid);
    }
    let max_age = i64::try_from(max_age.seconds()).unwrap_or(i64::MAX);
    if now.saturating_sub(iat) > max_age {
        return Err(Refusal::TooOld);
    }
    Ok((iat, exp))
}

/// Whether `aud`, a string or an array of strings, contains `audience`.
pub(crate) fn has_audience(aud: Option<&Value>, audience: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

/// A NumericDate claim, if present. Only whole numbers: every CI platform sends them,
/// and a fraction or a string is more likely a forgery than a platform's habit.
fn seconds(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Refusal> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Refusal::Malformed(format!("the `{name}` claim is not a whole number"))),
        Some(_) => Err(Refusal::Malformed(format!(
            "the `{name}` claim is not a number"
        ))),
    }
}

/// A required, non-empty string claim.
pub(crate) fn text(claims: &Map<String, Value>, name: &'static str) -> Result<String, Refusal> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(Refusal::MissingClaim(name)),
        Some(_) => Err(Refusal::Malformed(format!(
            "the `{name}` claim is not a string"
        ))),
    }
}

fn instant(seconds: i64, name: &str) -> Result<Timestamp, Refusal> {
    Timestamp::from_unix_seconds(seconds)
        .ok_or_else(|| Refusal::Malformed(format!("the `{name}` claim is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test claims are objects"),
        }
    }

    fn good() -> Value {
        json!({
            "aud": "warden",
            "exp": NOW + 300,
            "iat": NOW - 10,
            "nbf": NOW - 10,
            "sub": "repo:acme/app:ref:refs/heads/main",
            "jti": "j-1",
        })
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        let mut c = claims(good());
        if value.is_null() {
            c.remove(key);
        } else {
            c.insert(key.into(), value);
        }
        c
    }

    fn run(c: &Map<String, Value>) -> Result<Checked, Refusal> {
        let age = Duration::from_seconds(600).unwrap();
        check(c, "warden", age, Timestamp::from_unix_seconds(NOW).unwrap())
    }

    #[test]
    fn good_claims_pass() {
        let c = run(&claims(good())).unwrap();
        assert_eq!(c.subject, "repo:acme/app:ref:refs/heads/main");
        assert_eq!(c.jti, "j-1");
        assert_eq!(c.issued_at.unix_seconds(), NOW - 10);
        assert_eq!(c.expires_at.unix_seconds(), NOW + 300);
    }

    #[test]
    fn audience_string_or_array() {
        assert!(run(&with("aud", json!(["other", "warden"]))).is_ok());
        for bad in [
            json!("other"),
            json!(["other"]),
            json!([]),
            json!(7),
            Value::Null,
        ] {
            assert_eq!(
                run(&with("aud", bad.clone())).err(),
                Some(Refusal::WrongAudience),
                "{bad}"
            );
        }
    }

    #[test]
    fn leeway_is_one_minute_each_way() {
        assert!(run(&with("exp", json!(NOW - 60))).is_ok());
        assert_eq!(
            run(&with("exp", json!(NOW - 61))).err(),
            Some(Refusal::Expired)
        );
        assert!(run(&with("nbf", json!(NOW + 60))).is_ok());
        assert_eq!(
            run(&with("nbf", json!(NOW + 61))).err(),
            Some(Refusal::NotYetValid)
        );
        assert!(run(&with("iat", json!(NOW + 60))).is_ok());
        assert_eq!(
            run(&with("iat", json!(NOW + 61))).err(),
            Some(Refusal::NotYetValid)
        );
    }

    #[test]
    fn age_counts_from_iat_without_leeway() {
        assert!(run(&with("iat", json!(NOW - 600))).is_ok());
        assert_eq!(
            run(&with("iat", json!(NOW - 601))).err(),
            Some(Refusal::TooOld)
        );
    }

    #[test]
    fn required_claims() {
        for name in ["exp", "iat", "sub", "jti"] {
            assert_eq!(
                run(&with(name, Value::Null)).err(),
                Some(Refusal::MissingClaim(name)),
                "{name}"
            );
        }
        assert_eq!(
            run(&with("sub", json!(""))).err(),
            Some(Refusal::MissingClaim("sub"))
        );
        assert_eq!(
            run(&with("jti", json!(""))).err(),
            Some(Refusal::MissingClaim("jti"))
        );
        assert!(run(&with("nbf", Value::Null)).is_ok(), "nbf is optional");
    }

    #[test]
    fn claims_of_the_wrong_type_are_malformed() {
        for (name, value) in [
            ("exp", json!("1800000300")),
            ("exp", json!(1.8e9)),
            ("iat", json!(true)),
            ("nbf", json!(u64::MAX)),
            ("sub", json!(42)),
            ("jti", json!(["j"])),
        ] {
            let r = run(&with(name, value.clone()));
            assert!(
                matches!(r, Err(Refusal::Malformed(_))),
                "{name}={value}: {r:?}"
            );
        }
    }
}
