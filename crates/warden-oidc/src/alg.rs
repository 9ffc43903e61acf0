//! The signature algorithms Warden accepts and the key types that fit them.
//!
//! Only asymmetric algorithms whose public keys an issuer publishes: RS256 (what GitHub
//! Actions, GitLab and Kubernetes sign with), ES256 and EdDSA. RSA-PSS and the longer
//! hashes are left out on purpose: no CI platform uses them, and every algorithm
//! accepted is one more to get right.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::KeyAlgorithm;

use crate::Refusal;

/// An accepted signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// The algorithm a token's header names, or why it is refused.
    pub(crate) fn from_header(alg: &str) -> Result<Self, Refusal> {
        match alg {
            "RS256" => Ok(Alg::Rs256),
            "ES256" => Ok(Alg::Es256),
            "EdDSA" => Ok(Alg::EdDsa),
            // Any case: some libraries compare `alg` case-insensitively, and a token that
            // tries `None` or `NONE` is an attack whichever way it is spelt.
            _ if alg.eq_ignore_ascii_case("none") => Err(Refusal::AlgorithmNone),
            _ if alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) => {
                Err(Refusal::HmacAlgorithm)
            }
            _ => Err(Refusal::algorithm_not_allowed(alg)),
        }
    }

    /// The algorithm as jsonwebtoken names it, for the signature check.
    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Alg::Rs256 => Algorithm::RS256,
            Alg::Es256 => Algorithm::ES256,
            Alg::EdDsa => Algorithm::EdDSA,
        }
    }

    /// The `alg` a JWK meant for this algorithm declares.
    pub(crate) fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Alg::Rs256 => KeyAlgorithm::RS256,
            Alg::Es256 => KeyAlgorithm::ES256,
            Alg::EdDsa => KeyAlgorithm::EdDSA,
        }
    }
}

/// The kinds of public key a key set may hold that Warden can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `kty` RSA.
    Rsa,
    /// `kty` EC with `crv` P-256.
    EcP256,
    /// `kty` OKP with `crv` Ed25519.
    Ed25519,
}

impl KeyKind {
    /// The one algorithm a key of this kind verifies. Pairing each kind with exactly one
    /// algorithm is what stops a token from choosing how its key is used.
    pub(crate) fn alg(self) -> Alg {
        match self {
            KeyKind::Rsa => Alg::Rs256,
            KeyKind::EcP256 => Alg::Es256,
            KeyKind::Ed25519 => Alg::EdDsa,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_algorithms() {
        assert_eq!(Alg::from_header("RS256"), Ok(Alg::Rs256));
        assert_eq!(Alg::from_header("ES256"), Ok(Alg::Es256));
        assert_eq!(Alg::from_header("EdDSA"), Ok(Alg::EdDsa));
        for none in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(
                Alg::from_header(none),
                Err(Refusal::AlgorithmNone),
                "{none}"
            );
        }
        for hs in ["HS256", "HS384", "HS512", "hs256", "HSfoo"] {
            assert_eq!(Alg::from_header(hs), Err(Refusal::HmacAlgorithm), "{hs}");
        }
        for other in [
            "RS384", "PS256", "ES384", "ES512", "rs256", "eddsa", "", "H", "é",
        ] {
            assert_eq!(
                Alg::from_header(other),
                Err(Refusal::AlgorithmNotAllowed(other.into())),
                "{other}"
            );
        }
    }

    #[test]
    fn each_key_kind_fits_one_algorithm() {
        assert_eq!(KeyKind::Rsa.alg(), Alg::Rs256);
        assert_eq!(KeyKind::EcP256.alg(), Alg::Es256);
        assert_eq!(KeyKind::Ed25519.alg(), Alg::EdDsa);
    }
}
