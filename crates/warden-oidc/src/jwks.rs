//! Getting one issuer's JWK set, over HTTP(S) or from a file, and turning it into keys.
//!
//! A set is read key by key: a key Warden cannot use (an encryption key, an unknown
//! curve, a type jsonwebtoken does not know, a broken encoding) is skipped, because
//! issuers publish such keys next to their signing keys and one odd entry must not lock
//! every workload out.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use serde_json::Value;
use tokio::io::AsyncReadExt as _;

use crate::alg::{Alg, KeyKind};
use crate::config::JwksSource;

/// The largest key set accepted. Real sets are a few KiB; the cap keeps a broken or
/// hostile endpoint from filling memory.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// How long one fetch may take, connecting included. A verify waits for it, so it must
/// be short; a slow issuer gets a 503 and the workload retries.
pub const FETCH_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// One usable public key of an issuer.
pub(crate) struct Key {
    /// The key's `kid`, if it has one.
    pub(crate) kid: Option<String>,
    /// The `alg` the key declares, if any.
    pub(crate) declared_alg: Option<KeyAlgorithm>,
    /// What kind of key it is, which fixes the one algorithm it verifies.
    pub(crate) kind: KeyKind,
    /// The key, ready for jsonwebtoken.
    pub(crate) decoding: DecodingKey,
}

impl Key {
    /// Whether a token signed with `alg` may be checked with this key: the key's type
    /// must fit, and so must the algorithm the key declares, if it declares one.
    pub(crate) fn fits(&self, alg: Alg) -> bool {
        self.kind.alg() == alg && self.declared_alg.is_none_or(|a| a == alg.key_algorithm())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("declared_alg", &self.declared_alg)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The client every HTTP fetch uses: a 5 s timeout, and no redirects, since a redirect
/// could lead the fetch off the configured host to keys nobody configured.
pub(crate) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Fetches and parses the key set at `source`. The error is a short sentence for the
/// log and for [`Refusal::KeysUnavailable`](crate::Refusal::KeysUnavailable).
pub(crate) async fn fetch(
    source: &JwksSource,
    client: Option<&reqwest::Client>,
) -> Result<Vec<Arc<Key>>, String> {
    let bytes = match source {
        JwksSource::Url(url) => {
            let client = client.ok_or("no HTTP client")?;
            get(client, url.clone()).await?
        }
        JwksSource::File(path) => read_file(path).await?,
    };
    parse(&bytes)
}

async fn get(client: &reqwest::Client, url: reqwest::Url) -> Result<Vec<u8>, String> {
    let what = "fetching the key set";
    let resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| network_message(e, what))?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(format!(
            "the key set URL answered {status}; redirects are not followed, configure the final URL"
        ));
    }
    if !status.is_success() {
        return Err(format!("the key set URL answered {status}"));
    }
    capped_body(resp, MAX_JWKS_BYTES)
        .await
        .map_err(|e| network_message(e, what))?
        .ok_or_else(too_large)
}

/// The body of `resp`, read chunk by chunk, or `None` as soon as it is known to be longer
/// than `max` bytes: a broken or hostile server must not fill memory.
pub(crate) async fn capped_body(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len().saturating_add(chunk.len()) > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A short sentence for a failed HTTP exchange, `what` naming it ("fetching the key
/// set"). Never the URL: it may carry credentials.
pub(crate) fn network_message(e: reqwest::Error, what: &str) -> String {
    if e.is_timeout() {
        format!("{what} timed out after {} s", FETCH_TIMEOUT.as_secs())
    } else if e.is_connect() {
        format!("{what} failed: cannot connect")
    } else {
        format!("{what} failed: {}", e.without_url())
    }
}

async fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let cannot =
        |e: std::io::Error| format!("cannot read the key set file {}: {e}", path.display());
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let mut body = Vec::new();
    // One byte over the cap is enough to know the file is too large.
    file.take(MAX_JWKS_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .await
        .map_err(cannot)?;
    if body.len() > MAX_JWKS_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn too_large() -> String {
    "the key set is larger than 1 MiB".into()
}

/// The usable keys of a `{"keys": [...]}` document. A document that is not such an
/// object is an error; a key that cannot be used is skipped.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<Arc<Key>>, String> {
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(bytes) else {
        return Err("the key set is not a JSON object".into());
    };
    let Some(Value::Array(entries)) = doc.remove("keys") else {
        return Err("the key set has no `keys` array".into());
    };
    let total = entries.len();
    let keys: Vec<Arc<Key>> = entries.into_iter().filter_map(key).map(Arc::new).collect();
    if keys.len() < total {
        tracing::debug!(
            skipped = total - keys.len(),
            kept = keys.len(),
            "skipped JWK set entries that cannot verify RS256, ES256 or EdDSA signatures"
        );
    }
    Ok(keys)
}

/// One entry of the set as a usable key, or `None` to skip it.
fn key(entry: Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(entry).ok()?;
    if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p)
            if p.curve == EllipticCurve::P256 && is_32_bytes(&p.x) && is_32_bytes(&p.y) =>
        {
            KeyKind::EcP256
        }
        AlgorithmParameters::OctetKeyPair(p)
            if p.curve == EllipticCurve::Ed25519 && is_32_bytes(&p.x) =>
        {
            KeyKind::Ed25519
        }
        // Other curves, and `oct` (shared secret) keys, which must never verify a token.
        _ => return None,
    };
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id,
        declared_alg: jwk.common.key_algorithm,
        kind,
        decoding,
    })
}

/// Whether a base64url coordinate decodes to 32 bytes, the size of a P-256 coordinate
/// and of an Ed25519 public key. A wrong size can only fail later, so it is skipped now.
fn is_32_bytes(b64: &str) -> bool {
    URL_SAFE_NO_PAD.decode(b64).is_ok_and(|b| b.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn parsed(doc: &Value) -> Vec<Arc<Key>> {
        parse(doc.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let keys = parsed(&json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "ec"},
            {"kty": "EC", "crv": "P-384", "x": X, "y": Y, "kid": "p384"},
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": Y, "kid": "short"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "enc", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "ed"},
            {"kty": "OKP", "crv": "X25519", "x": X, "kid": "x25519"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB", "kid": "rsa", "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "n": "!!!", "e": "AQAB", "kid": "rsa-bad"},
            {"kty": "XYZ", "kid": "alien"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "weird-alg", "alg": "ES256K"},
            "not an object",
            42
        ]}));
        let kept: Vec<_> = keys.iter().map(|k| (k.kid.as_deref(), k.kind)).collect();
        assert_eq!(
            kept,
            [
                (Some("ec"), KeyKind::EcP256),
                (Some("ed"), KeyKind::Ed25519),
                (Some("rsa"), KeyKind::Rsa),
            ]
        );
    }

    #[test]
    fn declared_algorithm_must_fit() {
        let keys = parsed(&json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "alg": "ES256"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "alg": "RS256"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y},
        ]}));
        let fits: Vec<_> = keys
            .iter()
            .map(|k| (k.fits(Alg::Es256), k.fits(Alg::Rs256)))
            .collect();
        assert_eq!(fits, [(true, false), (false, false), (true, false)]);
    }

    #[test]
    fn documents_that_are_not_key_sets_are_errors() {
        for bad in [&b"[]"[..], b"{}", b"{\"keys\": {}}", b"<html>", b""] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parsed(&json!({"keys": []})).is_empty());
    }

    #[tokio::test]
    async fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let mut doc = b"{\"keys\": [], \"pad\": \"".to_vec();
        doc.resize(MAX_JWKS_BYTES + 10, b'a');
        doc.extend_from_slice(b"\"}");
        std::fs::write(&path, &doc).unwrap();
        let e = fetch(&JwksSource::File(path), None).await.unwrap_err();
        assert_eq!(e, too_large());

        let missing = dir.path().join("missing.json");
        let e = fetch(&JwksSource::File(missing), None).await.unwrap_err();
        assert!(e.starts_with("cannot read the key set file"), "{e}");
    }
}
