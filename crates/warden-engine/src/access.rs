//! Who a bearer token is. Tokens are looked up by the hash of their secret, never the secret
//! itself; a short cache spares each call a database round trip; and the active catalog
//! decides on every use whether the token's identity may still act.

use std::collections::HashMap;
use std::sync::RwLock;

use warden_model::{IdentityId, Timestamp};
use warden_store::{TokenRecord, token_hash};

use crate::{Engine, EngineError};

/// How long a token looked up in the store is trusted before it is read again: a revocation
/// made by another process takes effect within this time. Expiry is checked on every use.
pub const TOKEN_CACHE_TTL_MS: i64 = 2_000;

/// The most tokens kept; past it the cache starts over.
const TOKEN_CACHE_MAX: usize = 10_000;

const UNKNOWN_TOKEN: &str = "the bearer token is unknown or revoked";

/// A token that authenticated: who it acts as and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The identity the token acts as.
    pub identity: IdentityId,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// For a `broker` token, the one request `source` it is bound to.
    pub source: Option<String>,
}

/// Tokens recently read from the store, by hash, so that each API call does not cost a
/// database round trip. Its holder (the API) keeps one for the life of the process.
#[derive(Default)]
pub struct TokenCache(RwLock<HashMap<String, (TokenRecord, Timestamp)>>);

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

impl Engine {
    /// The token whose secret is `secret`, read through `cache`. An unknown, revoked or
    /// expired token, or one whose identity may not act under the active catalog (not the
    /// one it was minted under), is [`EngineError::Unauthorized`] saying why.
    pub async fn authenticate_token(
        &self,
        secret: &str,
        cache: &TokenCache,
    ) -> Result<Token, EngineError> {
        let hash = token_hash(secret);
        let now = self.now();
        let token = match cache.get(&hash, now) {
            Some(t) => t,
            None => {
                let t = self
                    .store()
                    .token_by_hash(&hash)
                    .await?
                    .ok_or_else(|| EngineError::Unauthorized(UNKNOWN_TOKEN.into()))?;
                cache.put(hash, t.clone(), now);
                t
            }
        };
        if !token.is_live(now) {
            return Err(EngineError::Unauthorized(UNKNOWN_TOKEN.into()));
        }
        // The active catalog decides on every use, not the one the token was minted under:
        // an identity disabled or removed since is refused at once.
        if let Err(barred) = crate::standing::standing(&self.bundle().catalog, &token.identity) {
            return Err(EngineError::Unauthorized(format!(
                "the token's identity may not act: {}",
                barred.describe(&token.identity)
            )));
        }
        Ok(Token {
            identity: token.identity,
            scopes: token.scopes,
            source: token.source,
        })
    }
}
