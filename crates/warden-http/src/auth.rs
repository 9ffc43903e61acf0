//! Bearer-token authentication and scopes: the `Authorization` header read here, the token
//! looked up and judged by the engine. The secret itself is never logged, stored or echoed.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
pub use warden_engine::access::TokenCache;
use warden_model::IdentityId;
pub use warden_model::Scope;

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

/// The secret of an `Authorization: Bearer <secret>` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
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
    Ok(secret)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(&parts.headers)?;
        let token = state
            .engine
            .authenticate_token(secret, &state.tokens)
            .await?;
        Ok(Caller {
            identity: token.identity,
            scopes: token.scopes,
            source: token.source,
        })
    }
}
