//! Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed by the base64-decoded part of a
//! `whsec_<base64>` secret. Receivers verify with any Standard Webhooks library.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A secret that is not a usable `whsec_<base64>` key. Never quotes the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret lacks the `whsec_` prefix.
    #[error("the secret does not start with `whsec_`")]
    Prefix,
    /// What follows `whsec_` is not base64, or decodes to nothing.
    #[error("the secret is not base64 after `whsec_`, or is empty")]
    Base64,
}

/// Signs deliveries with one key.
pub struct Signer {
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    /// A signer for a `whsec_<base64>` secret (surrounding whitespace ignored).
    pub fn new(secret: &SecretString) -> Result<Self, SecretError> {
        let b64 = secret
            .expose_secret()
            .trim()
            .strip_prefix("whsec_")
            .ok_or(SecretError::Prefix)?;
        let key = BASE64.decode(b64).map_err(|_| SecretError::Base64)?;
        if key.is_empty() {
            return Err(SecretError::Base64);
        }
        Ok(Self {
            key: SecretSlice::from(key),
        })
    }

    /// The `webhook-signature` value for delivery `id` at `timestamp` (Unix seconds) of
    /// `body`: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(self.key.expose_secret()) else {
            // HMAC takes keys of any length; this branch is never taken.
            return "v1,".to_owned();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_the_specifications_example() {
        let signer = Signer::new(&SecretString::from(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ))
        .unwrap();
        assert_eq!(
            signer.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_secrets_are_refused_without_being_quoted() {
        let e = Signer::new(&SecretString::from("hunter2")).unwrap_err();
        assert_eq!(e, SecretError::Prefix);
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(
            Signer::new(&SecretString::from("whsec_!!")).unwrap_err(),
            SecretError::Base64
        );
        assert_eq!(
            Signer::new(&SecretString::from("whsec_")).unwrap_err(),
            SecretError::Base64
        );
        let s = Signer::new(&SecretString::from("whsec_c2VjcmV0")).unwrap();
        assert_eq!(format!("{s:?}"), "Signer([redacted])");
    }
}
