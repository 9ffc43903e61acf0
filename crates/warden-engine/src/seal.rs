//! Sealing minted credentials at rest: XChaCha20-Poly1305 under the server's key, with the
//! grant id and generation as associated data, so a sealed value copied onto another
//! row does not open. The plaintext exists only between the target's answer and the
//! seal, and between the unseal and the one response that delivers it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::EngineError;
use crate::error::Fault;

/// The length of a sealing key in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const VERSION: &str = "v1:";

/// The server's sealing key.
pub struct Sealer {
    key: SecretBox<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// A sealer around `key`.
    pub fn new(key: [u8; KEY_LEN]) -> Self {
        Self {
            key: SecretBox::new(Box::new(key)),
        }
    }

    /// A sealer with a fresh random key: what it seals opens only in this process.
    pub fn ephemeral() -> Result<Self, EngineError> {
        Ok(Self::new(random_key()?))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.expose_secret().into())
    }

    /// Seals `secret` for the row of generation `generation` of grant `grant`.
    pub fn seal(&self, grant: &str, generation: u32, secret: &str) -> Result<String, EngineError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Fault::Random("a nonce", e))?;
        let aad = aad(grant, generation);
        let nonce_ref = XNonce::try_from(nonce.as_slice())
            .map_err(|_| Fault::Crypto("a nonce of the wrong length"))?;
        let ct = self
            .cipher()
            .encrypt(
                &nonce_ref,
                Payload {
                    msg: secret.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Fault::Crypto("sealing a credential failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{VERSION}{}", STANDARD.encode(out)))
    }

    /// Opens what [`Sealer::seal`] made for the same grant and generation.
    pub fn open(
        &self,
        grant: &str,
        generation: u32,
        sealed: &str,
    ) -> Result<SecretString, EngineError> {
        let bad = || Fault::Crypto("a sealed credential does not open with this server's key");
        let raw = sealed
            .strip_prefix(VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(bad)?;
        let (nonce, ct) = raw.split_at_checked(NONCE_LEN).ok_or_else(bad)?;
        let aad = aad(grant, generation);
        let nonce = XNonce::try_from(nonce).map_err(|_| bad())?;
        let plain = self
            .cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        Ok(String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| bad())?)
    }
}

fn aad(grant: &str, generation: u32) -> String {
    format!("warden-credential:{grant}:{generation}")
}

/// A fresh key from the operating system's CSPRNG.
pub fn random_key() -> Result<[u8; KEY_LEN], EngineError> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| Fault::Random("a key", e))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn sealed_opens_only_for_its_row_and_key() {
        let s = Sealer::ephemeral().unwrap();
        let sealed = s.seal("g1", 1, "hunter2").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open("g1", 1, &sealed).unwrap().expose_secret(), "hunter2");
        assert!(s.open("g1", 2, &sealed).is_err(), "another generation");
        assert!(s.open("g2", 1, &sealed).is_err(), "another grant");
        assert!(
            Sealer::ephemeral().unwrap().open("g1", 1, &sealed).is_err(),
            "another key"
        );
        assert!(s.open("g1", 1, "v1:AAAA").is_err());
        assert_ne!(sealed, s.seal("g1", 1, "hunter2").unwrap(), "nonces repeat");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", Sealer::new([7; KEY_LEN])),
            "Sealer([redacted])"
        );
    }
}
