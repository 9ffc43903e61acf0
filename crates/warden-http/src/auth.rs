//! Bearer-token authentication and scopes. Tokens are looked up by their hash; the secret
//! itself is never logged, stored or echoed.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use warden_model::IdentityId;
pub use warden_model::Scope;
use warden_model::Timestamp;
use warden_store::{TokenRecord, token_hash};

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller of a `/v1` endpoint.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The identity the token acts as.
    pub identity: IdentityId,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// For a `broker` token, the one request `source` it is bound to.
    pub source: Option<String>,
}

impl Caller {
    /// Whether the token holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|held| held == scope.as_str())
    }

    /// Whether the token may read every request and grant (`admin` or `audit`).
    pub fn reads_all(&self) -> bool {
        self.has(Scope::Admin) || self.has(Scope::Audit)
    }

    /// Succeeds if the token holds any of `scopes`; otherwise a 403 naming them.
    pub fn require(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        if scopes
            .iter()
            .any(|s| self.scopes.iter().any(|held| held == s.as_str()))
        {
            return Ok(());
        }
        let names: Vec<String> = scopes.iter().map(|s| format!("`{}`", s.as_str())).collect();
        Err(ApiError::Forbidden(if names.len() == 1 {
            format!("this needs a token with scope {}", names.join(""))
        } else {
            format!(
                "this needs a token with one of the scopes {}",
                names.join(", ")
            )
        }))
    }
}

/// How long a token looked up in the store is trusted before it is read again: a revocation
/// made by another process takes effect within this time. Expiry is checked on every use.
pub const TOKEN_CACHE_TTL_MS: i64 = 2_000;

/// The most tokens kept; past it the cache starts over.
const TOKEN_CACHE_MAX: usize = 10_000;

/// Tokens recently read from the store, by hash, so that each API call does not cost a
/// database round trip.
#[derive(Default)]
pub struct TokenCache(
    std::sync::RwLock<std::collections::HashMap<String, (TokenRecord, Timestamp)>>,
);

impl TokenCache {
    fn get(&self, hash: &str, now: Timestamp) -> Option<TokenRecord> {
        let map = self.0.read().ok()?;
        let (record, read_at) = map.get(hash)?;
        (read_at.millis_until(now) < TOKEN_CACHE_TTL_MS).then(|| record.clone())
    }

    fn put(&self, hash: String, record: TokenRecord, now: Timestamp) {
        if let Ok(mut map) = self.0.write() {
            if map.len() >= TOKEN_CACHE_MAX {
                map.clear();
            }
            map.insert(hash, (record, now));
        }
    }
}

const UNKNOWN_TOKEN: &str = "the bearer token is unknown or revoked";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
        let malformed =
            || ApiError::Unauthorized("the `Authorization` header must be `Bearer <token>`".into());
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, secret) = value.split_once(' ').ok_or_else(malformed)?;
        let secret = secret.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() {
            return Err(malformed());
        }
        let hash = token_hash(secret);
        let now = state.engine.now();
        let token = match state.tokens.get(&hash, now) {
            Some(t) => t,
            None => {
                let t = state
                    .engine
                    .store()
                    .token_by_hash(&hash)
                    .await?
                    .ok_or_else(|| ApiError::Unauthorized(UNKNOWN_TOKEN.into()))?;
                state.tokens.put(hash, t.clone(), now);
                t
            }
        };
        if !token.is_live(now) {
            return Err(ApiError::Unauthorized(UNKNOWN_TOKEN.into()));
        }
        // The active catalog decides on every use, not the one the token was minted under:
        // an identity disabled or removed since is refused at once.
        if let Err(barred) =
            warden_engine::standing::standing(&state.engine.bundle().catalog, &token.identity)
        {
            return Err(ApiError::Unauthorized(format!(
                "the token's identity may not act: {}",
                barred.describe(&token.identity)
            )));
        }
        Ok(Caller {
            identity: token.identity,
            scopes: token.scopes,
            source: token.source,
        })
    }
}
