//! Reading a compact JWS before its signature is checked: only the header's `alg` and
//! `kid` and the payload's `iss`, which pick the issuer and the key. Nothing read here is
//! trusted; the signature check in `verify.rs` decides.
//!
//! The header is decoded here rather than by jsonwebtoken because its `Header` type
//! cannot represent `alg: none` (it fails to parse), and a refusal must say so.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::Refusal;
use crate::alg::Alg;

/// The longest token accepted. Real CI tokens are 1–3 KiB; the cap keeps a hostile
/// caller from making the server decode megabytes before the signature is checked.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What the unverified token says about how to check it.
#[derive(Debug)]
pub(crate) struct Unverified {
    /// The header's algorithm, already one Warden accepts.
    pub(crate) alg: Alg,
    /// The header's key id, if any.
    pub(crate) kid: Option<String>,
    /// The payload's `iss`.
    pub(crate) issuer: String,
}

/// Splits and decodes `token`, refusing it if it is malformed or names a refused
/// algorithm.
pub(crate) fn read(token: &str) -> Result<Unverified, Refusal> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("it is longer than 16 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("it is not three dot-separated parts"));
    };

    let header = json_object(header, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => Alg::from_header(alg)?,
        Some(_) => return Err(malformed("the header's `alg` is not a string")),
        None => return Err(malformed("the header has no `alg`")),
    };
    // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` lists extensions it
    // does not understand, and this verifier understands none.
    if header.contains_key("crit") {
        return Err(malformed("the header lists critical extensions"));
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed("the header's `kid` is not a string")),
        None => None,
    };

    // Checked only now so that an unsigned `alg: none` token, which has an empty
    // signature, is refused as what it is.
    if signature.is_empty() {
        return Err(malformed("it has no signature"));
    }

    let payload = json_object(payload, "payload")?;
    let issuer = match payload.get("iss") {
        Some(Value::String(iss)) => iss.clone(),
        Some(_) => return Err(malformed("the `iss` claim is not a string")),
        None => return Err(Refusal::MissingClaim("iss")),
    };
    Ok(Unverified { alg, kid, issuer })
}

/// A base64url part of the token decoded as a JSON object.
fn json_object(part: &str, what: &str) -> Result<Map<String, Value>, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::Malformed(format!("the {what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

fn malformed(why: &str) -> Refusal {
    Refusal::Malformed(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token(header: &Value, payload: &Value) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    fn iss() -> Value {
        serde_json::json!({"iss": "https://ci.example"})
    }

    #[test]
    fn reads_alg_kid_and_iss() {
        let t = token(&serde_json::json!({"alg": "ES256", "kid": "k1"}), &iss());
        let u = read(&t).unwrap();
        assert_eq!(u.alg, Alg::Es256);
        assert_eq!(u.kid.as_deref(), Some("k1"));
        assert_eq!(u.issuer, "https://ci.example");
    }

    #[test]
    fn refused_algorithms_come_before_the_payload() {
        // Even with a garbage payload the algorithm is what the refusal names.
        let h = b64(&serde_json::json!({"alg": "none"}));
        assert_eq!(
            read(&format!("{h}.!!!.x")).unwrap_err(),
            Refusal::AlgorithmNone
        );
        assert_eq!(
            read(&format!("{h}.{}.", b64(&iss()))).unwrap_err(),
            Refusal::AlgorithmNone
        );
        let h = b64(&serde_json::json!({"alg": "HS256"}));
        assert_eq!(
            read(&format!("{h}.!!!.x")).unwrap_err(),
            Refusal::HmacAlgorithm
        );
    }

    #[test]
    fn malformed_tokens() {
        let good_h = serde_json::json!({"alg": "RS256"});
        let cases: Vec<String> = vec![
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            "a.b.c.d.e".into(),
            format!("{}.{}.", b64(&good_h), b64(&iss())),
            format!("!!.{}.c2ln", b64(&iss())),
            format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode("[1]"), b64(&iss())),
            token(&serde_json::json!({"alg": 256}), &iss()),
            token(&serde_json::json!({"typ": "JWT"}), &iss()),
            token(&serde_json::json!({"alg": "RS256", "kid": 7}), &iss()),
            token(
                &serde_json::json!({"alg": "RS256", "crit": ["b64"]}),
                &iss(),
            ),
            format!("{}.bm90IGpzb24.c2ln", b64(&good_h)),
            token(&good_h, &serde_json::json!({"iss": ["a"]})),
            format!("{}.{}.c2ln", b64(&good_h), "a".repeat(MAX_TOKEN_BYTES)),
        ];
        for t in cases {
            let r = read(&t);
            assert!(matches!(r, Err(Refusal::Malformed(_))), "{:.60}: {r:?}", t);
        }
    }

    #[test]
    fn missing_iss_is_named() {
        let t = token(&serde_json::json!({"alg": "RS256"}), &serde_json::json!({}));
        assert_eq!(read(&t).unwrap_err(), Refusal::MissingClaim("iss"));
    }
}
