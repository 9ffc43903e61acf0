//! The verifier: the configured issuers with their key caches, and the order in which a
//! token is checked. Cheap refusals come first, so that a garbage or foreign token costs
//! no fetch and no signature check.

use std::collections::HashSet;
use std::fmt;

use jsonwebtoken::Validation;
use serde_json::{Map, Value};
use warden_model::{Duration, Timestamp};

use crate::alg::Alg;
use crate::config::{self, ConfigError, Issuer, IssuerConfig};
use crate::jwks::Key;
use crate::keys::{KeyCache, RefreshPolicy};
use crate::{Refusal, claims, jwks, token};

/// The default shortest time between two key fetches of one issuer: 30 seconds.
pub fn default_refresh_interval() -> Duration {
    // In range, so the fallback is never taken.
    Duration::from_seconds(30).unwrap_or(Duration::MIN)
}

/// The default time fetched keys are used before they are fetched again: 1 hour.
pub fn default_max_key_age() -> Duration {
    // In range, so the fallback is never taken.
    Duration::from_seconds(3_600).unwrap_or(Duration::MIN)
}

/// Verifies workload tokens against the configured issuers.
///
/// Build it once at start-up and share it (`Arc<Verifier>`): it is `Send + Sync`, and
/// each issuer's keys are cached inside it.
pub struct Verifier {
    issuers: Vec<IssuerState>,
    /// Built only if some issuer's keys are fetched over HTTP.
    client: Option<reqwest::Client>,
    refresh: RefreshPolicy,
}

struct IssuerState {
    config: Issuer,
    keys: KeyCache,
}

/// A token that passed every check: who the workload is, by its issuer's word.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The token's `iss`, one of the configured issuers.
    pub issuer: String,
    /// The token's `sub`, non-empty.
    pub subject: String,
    /// The token's `jti`, non-empty: the handle for refusing a replayed token.
    pub jti: String,
    /// The token's `iat`.
    pub issued_at: Timestamp,
    /// The token's `exp`. The leeway is not added: this is what the issuer said.
    pub expires_at: Timestamp,
    /// The whole payload, for matching a workload's pinned claims.
    pub claims: Map<String, Value>,
}

impl Verifier {
    /// A verifier for `issuers`, checked: each `issuer` non-empty and unique, exactly one
    /// of `jwks_url` and `jwks_file`, `jwks_url` `https://` (or `http://` to a loopback
    /// host), `audience` non-empty. An empty list is allowed and means workload sign-in
    /// is off: every token is refused as [`Refusal::WrongIssuer`].
    ///
    /// Nothing is fetched here; each issuer's keys are fetched when its first token
    /// arrives, so that an issuer being down does not stop the server from starting.
    pub fn new(issuers: Vec<IssuerConfig>) -> Result<Self, ConfigError> {
        let issuers = config::check(issuers)?;
        let client = if issuers.iter().any(|i| i.source.is_url()) {
            Some(jwks::http_client().map_err(|e| ConfigError::HttpClient(e.to_string()))?)
        } else {
            None
        };
        Ok(Self {
            issuers: issuers
                .into_iter()
                .map(|config| IssuerState {
                    keys: KeyCache::new(config.source.clone()),
                    config,
                })
                .collect(),
            client,
            refresh: RefreshPolicy {
                interval: default_refresh_interval(),
                max_age: default_max_key_age(),
            },
        })
    }

    /// Sets the shortest time between two key fetches of one issuer (default 30 s). A
    /// token naming an unknown key causes a fetch only if the last one is at least this
    /// old; tests shorten it.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh.interval = interval;
        self
    }

    /// Sets how long fetched keys are used before the next token makes them be fetched
    /// again (default 1 hour), so that a key its issuer withdrew stops being accepted.
    /// If that fetch fails, the old keys stay in use.
    pub fn with_max_key_age(mut self, max_age: Duration) -> Self {
        self.refresh.max_age = max_age;
        self
    }

    /// Whether no issuer is configured, i.e. workload sign-in is off.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The configured issuers' `iss` values, in configuration order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.config.issuer.as_str())
    }

    /// Verifies `token` (a compact JWS, without any `Bearer ` prefix) at the instant
    /// `now`, which is the caller's clock: expiry, age and the key refresh throttle all
    /// count from it, never from the system clock.
    ///
    /// In order: size and shape, algorithm, issuer, key (fetching the issuer's keys if
    /// needed), signature, then audience, `exp`, `nbf`, `iat` and age, `sub` and `jti`.
    /// The first failure is the refusal.
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<Verified, Refusal> {
        let unverified = token::read(token)?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == unverified.issuer)
            .ok_or(Refusal::WrongIssuer)?;
        let key = issuer
            .keys
            .key_for(
                &issuer.config.issuer,
                unverified.kid.as_deref(),
                unverified.alg,
                now,
                self.refresh,
                self.client.as_ref(),
            )
            .await?;

        let claims = signed_payload(token, &key, unverified.alg)?;

        let checked = claims::check(
            &claims,
            &issuer.config.audience,
            issuer.config.max_token_age,
            now,
        )?;
        Ok(Verified {
            issuer: issuer.config.issuer.clone(),
            subject: checked.subject,
            jti: checked.jti,
            issued_at: checked.issued_at,
            expires_at: checked.expires_at,
            claims,
        })
    }
}

/// The payload of `token` once its signature verifies with `key` under `alg`, the
/// signature only: jsonwebtoken's claim checks read the system clock, so they are all off
/// and the callers check the claims against their own `now`.
pub(crate) fn signed_payload(
    token: &str,
    key: &Key,
    alg: Alg,
) -> Result<Map<String, Value>, Refusal> {
    let mut only_signature = Validation::new(alg.jwt());
    only_signature.validate_exp = false;
    only_signature.validate_nbf = false;
    only_signature.validate_aud = false;
    only_signature.required_spec_claims = HashSet::new();
    only_signature.leeway = 0;
    jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &only_signature)
        .map(|signed| signed.claims)
        .map_err(|e| signature_refusal(&e))
}

/// The refusal for a failed `jsonwebtoken::decode`. The header and payload were already
/// decoded, so an encoding error can only be the signature part's.
fn signature_refusal(e: &jsonwebtoken::errors::Error) -> Refusal {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::Base64(_) => Refusal::Malformed("the signature is not base64url".into()),
        _ => Refusal::BadSignature,
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers().collect::<Vec<_>>())
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}
