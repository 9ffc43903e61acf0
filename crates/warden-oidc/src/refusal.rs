//! Why a workload token was refused.
//!
//! Every text a refusal carries that came from the token (an algorithm name, a key id)
//! is cut short and stripped of control characters when the refusal is built, so that
//! a refusal can be logged or sent back without letting a caller write into the log.

/// The most characters of a token-supplied value that a refusal repeats.
const ECHO_CHARS: usize = 64;

/// Why [`Verifier::verify`](crate::Verifier::verify) refused a token.
///
/// Every variant but [`KeysUnavailable`](Refusal::KeysUnavailable) is the caller's fault
/// (answer 401); that one is the issuer's or the network's (answer 503, the caller may
/// retry). [`Refusal::code`] gives a stable word for metrics and audit records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The token is not a well-formed compact JWS with JSON header and payload, or is
    /// too long; the text says which part is wrong.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// The header's `alg` is `none`: an unsigned token.
    #[error("the token is unsigned (alg `none`)")]
    AlgorithmNone,
    /// The header's `alg` is an HMAC (`HS256`…): a shared secret, which a public key set
    /// cannot check and which would let anyone holding the "public" key sign.
    #[error("the token is signed with a shared secret (HMAC), which is never accepted")]
    HmacAlgorithm,
    /// The header's `alg` is none of RS256, ES256 and EdDSA.
    #[error("the token's algorithm `{0}` is not accepted (only RS256, ES256 and EdDSA are)")]
    AlgorithmNotAllowed(String),
    /// The token's `iss` is no configured issuer.
    #[error("the token's issuer is not configured for workload sign-in")]
    WrongIssuer,
    /// No key of the issuer's key set fits the token: its `kid` is unknown even after a
    /// fresh fetch, or it names no `kid` and the set does not hold exactly one key for
    /// its algorithm.
    #[error("{}", unknown_key_text(.0.as_deref()))]
    UnknownKey(Option<String>),
    /// The issuer's keys could not be fetched and none are cached. Not the caller's
    /// fault: the server answers 503.
    #[error("the issuer's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// The key the token names is of another type or declares another algorithm than
    /// the token's header.
    #[error("the token's algorithm does not fit the key it names")]
    KeyAlgorithmMismatch,
    /// The signature does not verify with the issuer's key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The token's `aud` does not contain the audience configured for its issuer.
    #[error("the token is not meant for this server (wrong audience)")]
    WrongAudience,
    /// The token's `exp` has passed (beyond the allowed clock skew).
    #[error("the token has expired")]
    Expired,
    /// The token's `nbf` or `iat` lies in the future (beyond the allowed clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token was issued longer ago than its issuer's `max_token_age`.
    #[error("the token was issued too long ago")]
    TooOld,
    /// A required claim is missing or empty; the text names it.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
}

fn unknown_key_text(kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!("the token's signing key `{kid}` is not in its issuer's key set"),
        None => "the token names no signing key (kid) and its issuer has no single key for \
                 its algorithm"
            .to_owned(),
    }
}

impl Refusal {
    /// A stable snake_case word for the variant, for metrics, audit records and the
    /// `error` field of an HTTP answer. It never changes once released.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::AlgorithmNone => "algorithm_none",
            Refusal::HmacAlgorithm => "hmac_algorithm",
            Refusal::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::UnknownKey(_) => "unknown_key",
            Refusal::KeysUnavailable(_) => "keys_unavailable",
            Refusal::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            Refusal::BadSignature => "bad_signature",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::TooOld => "too_old",
            Refusal::MissingClaim(_) => "missing_claim",
        }
    }

    /// Whether the refusal is the server's side failing rather than the token being bad:
    /// such a refusal should be answered 503 (retry later), not 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Refusal::KeysUnavailable(_))
    }

    /// A refusal naming an algorithm the token's header gave.
    pub(crate) fn algorithm_not_allowed(alg: &str) -> Self {
        Refusal::AlgorithmNotAllowed(echo(alg))
    }

    /// A refusal naming the key id the token's header gave, if any.
    pub(crate) fn unknown_key(kid: Option<&str>) -> Self {
        Refusal::UnknownKey(kid.map(echo))
    }
}

/// `s` cut to [`ECHO_CHARS`] characters, control characters dropped.
pub(crate) fn echo(s: &str) -> String {
    let mut out: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(ECHO_CHARS)
        .collect();
    if s.chars()
        .filter(|c| !c.is_control())
        .nth(ECHO_CHARS)
        .is_some()
    {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_values_are_short_and_clean() {
        let long = "k".repeat(500);
        let Refusal::UnknownKey(Some(kid)) = Refusal::unknown_key(Some(&long)) else {
            panic!("not an unknown key refusal");
        };
        assert_eq!(kid.chars().count(), ECHO_CHARS + 1);
        assert!(kid.ends_with('…'));

        let r = Refusal::algorithm_not_allowed("RS384\n\u{1b}[31m");
        assert_eq!(r, Refusal::AlgorithmNotAllowed("RS384[31m".into()));
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            Refusal::Malformed(String::new()),
            Refusal::AlgorithmNone,
            Refusal::HmacAlgorithm,
            Refusal::AlgorithmNotAllowed(String::new()),
            Refusal::WrongIssuer,
            Refusal::UnknownKey(None),
            Refusal::KeysUnavailable(String::new()),
            Refusal::KeyAlgorithmMismatch,
            Refusal::BadSignature,
            Refusal::WrongAudience,
            Refusal::Expired,
            Refusal::NotYetValid,
            Refusal::TooOld,
            Refusal::MissingClaim("sub"),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(Refusal::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        assert_eq!(
            all.iter().filter(|r| r.is_unavailable()).count(),
            1,
            "only KeysUnavailable is the server's side"
        );
    }

    #[test]
    fn display_names_the_reason() {
        assert_eq!(
            Refusal::UnknownKey(Some("k1".into())).to_string(),
            "the token's signing key `k1` is not in its issuer's key set"
        );
        assert_eq!(
            Refusal::MissingClaim("jti").to_string(),
            "the token has no `jti` claim"
        );
    }
}
