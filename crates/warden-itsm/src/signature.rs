//! Webhook verification over the raw body bytes, in constant time: Standard Webhooks, an
//! `sha256=<hex>` HMAC header, or a shared-secret header. The caller passes `now`, so this
//! module never reads a clock. Errors say what failed, never a secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warden_model::Timestamp;

use crate::config::{ItsmConfig, SignatureKind};
use crate::error::ItsmConfigError;
use crate::header::Headers;

type HmacSha256 = Hmac<Sha256>;

/// How far a Standard Webhooks timestamp may be from now, either way.
pub const TOLERANCE_SECONDS: i64 = 300;
/// The longest delivery id kept.
const MAX_DELIVERY_ID: usize = 200;

/// Why a webhook was refused. Every variant means: answer 401 and store nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent.
    #[error("missing header `{0}`")]
    MissingHeader(String),
    /// A header is present but unreadable.
    #[error("malformed header `{header}`: {why}")]
    Malformed {
        /// The header's name.
        header: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The Standard Webhooks timestamp is more than five minutes from now.
    #[error("stale webhook: `webhook-timestamp` is {0} seconds from now (at most 300 allowed)")]
    Stale(i64),
    /// No configured secret produces the signature sent.
    #[error("bad signature")]
    BadSignature,
}

/// The id of one delivery, for dropping repeats and replays: the signed `webhook-id` of
/// Standard Webhooks, else `sha256:<hex>` of the raw body. An unsigned header such as Jira's
/// `X-Atlassian-Webhook-Identifier` is never used: a replay could change it at will.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeliveryId(pub String);

/// Checks webhooks for one adapter.
pub struct Verifier {
    kind: SignatureKind,
    header: String,
    /// HMAC keys (Standard Webhooks: decoded from `whsec_`; HMAC: the secret's bytes).
    keys: Vec<SecretSlice<u8>>,
    /// Shared secrets, compared as they are.
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("kind", &self.kind)
            .field("header", &self.header)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

/// Decodes `whsec_<base64>` secrets into HMAC keys.
pub(crate) fn standard_webhooks_keys(
    secrets: &[SecretString],
) -> Result<Vec<SecretSlice<u8>>, String> {
    secrets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let b64 = s
                .expose_secret()
                .strip_prefix("whsec_")
                .ok_or_else(|| format!("webhook secret {} does not start with `whsec_`", i + 1))?;
            let key = BASE64
                .decode(b64)
                .map_err(|_| format!("webhook secret {} is not base64 after `whsec_`", i + 1))?;
            if key.is_empty() {
                return Err(format!("webhook secret {} is empty", i + 1));
            }
            Ok(SecretSlice::from(key))
        })
        .collect()
}

impl Verifier {
    /// A verifier for the adapter's signature scheme and secrets.
    pub fn new(config: &ItsmConfig) -> Result<Self, ItsmConfigError> {
        Self::from_parts(
            config.signature,
            &config.signature_header(),
            &config.secrets,
        )
        .map_err(|m| ItsmConfigError::new(&config.name, m))
    }

    /// A verifier from its parts (tests and callers without a full configuration).
    pub fn from_parts(
        kind: SignatureKind,
        header: &str,
        secrets: &[SecretString],
    ) -> Result<Self, String> {
        if secrets.is_empty() {
            return Err("no webhook secret".into());
        }
        let keys = match kind {
            SignatureKind::StandardWebhooks => standard_webhooks_keys(secrets)?,
            SignatureKind::HmacSha256 => secrets
                .iter()
                .map(|s| SecretSlice::from(s.expose_secret().as_bytes().to_vec()))
                .collect(),
            SignatureKind::SharedSecret => Vec::new(),
        };
        Ok(Self {
            kind,
            header: header.to_owned(),
            keys,
            secrets: secrets.to_vec(),
        })
    }

    /// Verifies one delivery over the raw `body` and returns its delivery id.
    pub fn verify(
        &self,
        headers: &Headers,
        body: &[u8],
        now: Timestamp,
    ) -> Result<DeliveryId, SignatureError> {
        match self.kind {
            SignatureKind::StandardWebhooks => self.verify_standard(headers, body, now),
            SignatureKind::HmacSha256 => {
                let value = header(headers, &self.header)?;
                let hex_sig =
                    value
                        .strip_prefix("sha256=")
                        .ok_or_else(|| SignatureError::Malformed {
                            header: self.header.clone(),
                            why: "expected `sha256=<hex>`",
                        })?;
                let sig = hex::decode(hex_sig.trim()).map_err(|_| SignatureError::Malformed {
                    header: self.header.clone(),
                    why: "the signature is not hex",
                })?;
                if !self.keys.iter().any(|k| mac_matches(k, &[body], &sig)) {
                    return Err(SignatureError::BadSignature);
                }
                Ok(body_digest(body))
            }
            SignatureKind::SharedSecret => {
                let value = header(headers, &self.header)?;
                let mut ok = subtle::Choice::from(0u8);
                // Every secret is compared, so the time taken does not say which one matched.
                for s in &self.secrets {
                    ok |= value.as_bytes().ct_eq(s.expose_secret().as_bytes());
                }
                if !bool::from(ok) {
                    return Err(SignatureError::BadSignature);
                }
                Ok(body_digest(body))
            }
        }
    }

    fn verify_standard(
        &self,
        headers: &Headers,
        body: &[u8],
        now: Timestamp,
    ) -> Result<DeliveryId, SignatureError> {
        let id = header(headers, "webhook-id")?;
        let ts_text = header(headers, "webhook-timestamp")?;
        let sigs = header(headers, "webhook-signature")?;
        if id.is_empty() || id.len() > MAX_DELIVERY_ID || id.chars().any(|c| c.is_control()) {
            return Err(SignatureError::Malformed {
                header: "webhook-id".into(),
                why: "expected 1 to 200 printable characters",
            });
        }
        let ts: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| SignatureError::Malformed {
                header: "webhook-timestamp".into(),
                why: "expected whole seconds since the Unix epoch",
            })?;
        let skew = ts.saturating_sub(now.unix_seconds());
        if skew.saturating_abs() > TOLERANCE_SECONDS {
            return Err(SignatureError::Stale(skew));
        }
        let mut candidates = Vec::new();
        for part in sigs.split_whitespace() {
            if let Some(b64) = part.strip_prefix("v1,")
                && let Ok(sig) = BASE64.decode(b64)
            {
                candidates.push(sig);
            }
        }
        if candidates.is_empty() {
            return Err(SignatureError::Malformed {
                header: "webhook-signature".into(),
                why: "no `v1,<base64>` signature",
            });
        }
        let ts_str = ts_text.trim();
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_str.as_bytes(), b".", body];
        let matched = self
            .keys
            .iter()
            .any(|k| candidates.iter().any(|sig| mac_matches(k, &parts, sig)));
        if !matched {
            return Err(SignatureError::BadSignature);
        }
        Ok(DeliveryId(id.to_owned()))
    }
}

/// Whether HMAC-SHA256 of the concatenated `parts` under `key` equals `sig`, in constant time.
fn mac_matches(key: &SecretSlice<u8>, parts: &[&[u8]], sig: &[u8]) -> bool {
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key.expose_secret()) else {
        return false;
    };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(sig).is_ok()
}

fn header<'h>(headers: &'h Headers, name: &str) -> Result<&'h str, SignatureError> {
    let value = headers
        .get(name)
        .ok_or_else(|| SignatureError::MissingHeader(name.to_owned()))?;
    // A header's text is visible ASCII, spaces and tabs, as HTTP libraries read it.
    let visible = value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    visible
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
        .ok_or_else(|| SignatureError::Malformed {
            header: name.to_owned(),
            why: "not visible ASCII",
        })
}

/// The SHA-256 of the raw body: these schemes sign no timestamp or id, so the same body
/// delivered twice is the same delivery, whatever the unsigned headers say.
fn body_digest(body: &[u8]) -> DeliveryId {
    DeliveryId(format!("sha256:{}", hex::encode(Sha256::digest(body))))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's example secret.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"type":"rt.ticket.create","data":{"ticket_id":42}}"#;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.insert(k, v);
        }
        h
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).unwrap()
    }

    fn std_verifier(secrets: &[&str]) -> Verifier {
        let s: Vec<SecretString> = secrets.iter().map(|s| SecretString::from(*s)).collect();
        Verifier::from_parts(SignatureKind::StandardWebhooks, "", &s).unwrap()
    }

    // python3: import hmac,hashlib,base64
    //   key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    //   base64.b64encode(hmac.new(key, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}", hashlib.sha256).digest())
    // = b"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", the specification's own example.
    #[test]
    fn standard_webhooks_spec_vector_verifies() {
        let v = std_verifier(&[SPEC_SECRET]);
        let h = headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        let id = v
            .verify(&h, br#"{"test": 2432232314}"#, at(1_614_265_330))
            .unwrap();
        assert_eq!(id.0, "msg_p5jXN8AQM9LWM0D4loKWxJek");
    }

    fn sign_std(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
        let key = standard_webhooks_keys(&[SecretString::from(secret)]).unwrap();
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key[0].expose_secret()).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }

    const OLD: &str = "whsec_b2xkLXNlY3JldC0wMTIzNDU2Nzg5";
    const NEW: &str = "whsec_bmV3LXNlY3JldC0wMTIzNDU2Nzg5";

    #[test]
    fn rotation_accepts_either_secret_and_any_listed_signature() {
        let v = std_verifier(&[OLD, NEW]);
        for secret in [OLD, NEW] {
            let sig = sign_std(secret, "rt-42-txn-7", 1000, BODY);
            let h = headers(&[
                ("webhook-id", "rt-42-txn-7"),
                ("webhook-timestamp", "1000"),
                ("webhook-signature", &format!("v1,bm9wZQ== {sig}")),
            ]);
            assert_eq!(v.verify(&h, BODY, at(1000)).unwrap().0, "rt-42-txn-7");
        }
        let only_new = std_verifier(&[NEW]);
        let sig = sign_std(OLD, "x", 1000, BODY);
        let h = headers(&[
            ("webhook-id", "x"),
            ("webhook-timestamp", "1000"),
            ("webhook-signature", &sig),
        ]);
        assert_eq!(
            only_new.verify(&h, BODY, at(1000)),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn stale_timestamps_are_refused_both_ways() {
        let v = std_verifier(&[NEW]);
        for (ts, now, ok) in [
            (1000, 1300, true),
            (1000, 700, true),
            (1000, 1301, false),
            (1000, 699, false),
        ] {
            let sig = sign_std(NEW, "d", ts, BODY);
            let h = headers(&[
                ("webhook-id", "d"),
                ("webhook-timestamp", &ts.to_string()),
                ("webhook-signature", &sig),
            ]);
            let r = v.verify(&h, BODY, at(now));
            assert_eq!(r.is_ok(), ok, "ts {ts} now {now}: {r:?}");
            if !ok {
                assert!(matches!(r, Err(SignatureError::Stale(_))), "{r:?}");
            }
        }
    }

    #[test]
    fn tampered_body_id_or_timestamp_is_refused() {
        let v = std_verifier(&[NEW]);
        let sig = sign_std(NEW, "d", 1000, BODY);
        let good = [
            ("webhook-id", "d"),
            ("webhook-timestamp", "1000"),
            ("webhook-signature", sig.as_str()),
        ];
        assert!(v.verify(&headers(&good), BODY, at(1000)).is_ok());
        let tampered = br#"{"type":"rt.ticket.create","data":{"ticket_id":43}}"#;
        assert_eq!(
            v.verify(&headers(&good), tampered, at(1000)),
            Err(SignatureError::BadSignature)
        );
        let mut other_id = good;
        other_id[0].1 = "e";
        assert_eq!(
            v.verify(&headers(&other_id), BODY, at(1000)),
            Err(SignatureError::BadSignature)
        );
        let mut other_ts = good;
        other_ts[1].1 = "1001";
        assert_eq!(
            v.verify(&headers(&other_ts), BODY, at(1000)),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn missing_headers_and_wrong_prefixes_say_what_failed() {
        let v = std_verifier(&[NEW]);
        let sig = sign_std(NEW, "d", 1000, BODY);
        let all = [
            ("webhook-id", "d"),
            ("webhook-timestamp", "1000"),
            ("webhook-signature", sig.as_str()),
        ];
        for skip in 0..3 {
            let h: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            let e = v.verify(&headers(&h), BODY, at(1000)).unwrap_err();
            assert_eq!(e, SignatureError::MissingHeader(all[skip].0.into()));
        }
        let v2 = sig.replacen("v1,", "v2,", 1);
        let e = v
            .verify(
                &headers(&[all[0], all[1], ("webhook-signature", &v2)]),
                BODY,
                at(1000),
            )
            .unwrap_err();
        assert!(e.to_string().contains("no `v1,<base64>` signature"), "{e}");
        assert!(
            Verifier::from_parts(
                SignatureKind::StandardWebhooks,
                "",
                &[SecretString::from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
            )
            .unwrap_err()
            .contains("does not start with `whsec_`")
        );
    }

    // python3: hmac.new(b"It's a Secret to Everybody", b"Hello, World!", hashlib.sha256).hexdigest()
    // = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" (GitHub's documented example)
    #[test]
    fn hmac_sha256_header_verifies_github_vector() {
        let secrets = [
            SecretString::from("previous-secret"),
            SecretString::from("It's a Secret to Everybody"),
        ];
        let v = Verifier::from_parts(SignatureKind::HmacSha256, "X-Hub-Signature-256", &secrets)
            .unwrap();
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let h = headers(&[("X-Hub-Signature-256", good)]);
        let id = v.verify(&h, b"Hello, World!", at(0)).unwrap();
        assert!(id.0.starts_with("sha256:"), "{id:?}");
        assert_eq!(
            v.verify(&h, b"Hello, World?", at(0)),
            Err(SignatureError::BadSignature)
        );
        let no_prefix = headers(&[("X-Hub-Signature-256", &good["sha256=".len()..])]);
        assert!(matches!(
            v.verify(&no_prefix, b"Hello, World!", at(0)),
            Err(SignatureError::Malformed { .. })
        ));
        let sha1 = headers(&[("X-Hub-Signature-256", "sha1=0123")]);
        assert!(matches!(
            v.verify(&sha1, b"Hello, World!", at(0)),
            Err(SignatureError::Malformed { .. })
        ));
        assert_eq!(
            v.verify(&Headers::new(), b"Hello, World!", at(0)),
            Err(SignatureError::MissingHeader("X-Hub-Signature-256".into()))
        );
    }

    #[test]
    fn hmac_delivery_id_is_the_body_hash_whatever_the_unsigned_headers_say() {
        let v = Verifier::from_parts(
            SignatureKind::HmacSha256,
            "X-Hub-Signature",
            &[SecretString::from("It's a Secret to Everybody")],
        )
        .unwrap();
        let h = headers(&[
            (
                "X-Hub-Signature",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
            ("X-Atlassian-Webhook-Identifier", "1681919498254-42"),
        ]);
        let body_hash = "sha256:dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f";
        assert_eq!(v.verify(&h, b"Hello, World!", at(0)).unwrap().0, body_hash);
        // A replay with another identifier is the same delivery.
        let mut replay = h.clone();
        replay.insert("X-Atlassian-Webhook-Identifier", "1681919498254-43");
        assert_eq!(
            v.verify(&replay, b"Hello, World!", at(0)).unwrap().0,
            body_hash
        );
    }

    #[test]
    fn shared_secret_header_must_match_one_secret_and_is_never_echoed() {
        let secrets = [
            SecretString::from("s3cret-a"),
            SecretString::from("s3cret-b"),
        ];
        let v =
            Verifier::from_parts(SignatureKind::SharedSecret, "X-Warden-Secret", &secrets).unwrap();
        for s in ["s3cret-a", "s3cret-b"] {
            assert!(
                v.verify(&headers(&[("X-Warden-Secret", s)]), b"{}", at(0))
                    .is_ok()
            );
        }
        let e = v
            .verify(&headers(&[("X-Warden-Secret", "s3cret-c")]), b"{}", at(0))
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(!format!("{v:?}").contains("s3cret"));
        assert_eq!(
            v.verify(&headers(&[("X-Warden-Secret", "s3cret-a ")]), b"{}", at(0)),
            Err(SignatureError::BadSignature)
        );
    }
}
