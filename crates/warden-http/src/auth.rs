//! Bearer-token authentication and scopes. Tokens are looked up by their hash; the secret
//! itself is never logged, stored or echoed.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use warden_model::IdentityId;
use warden_store::token_hash;

use crate::AppState;
use crate::error::ApiError;

/// What a token may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    /// Submit requests and dry-run decisions.
    Intake,
    /// Approve or reject requests.
    Approve,
    /// Read and revoke grants.
    Admin,
    /// Read the audit trail.
    Audit,
}

impl Scope {
    /// The word stored on tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Intake => "intake",
            Scope::Approve => "approve",
            Scope::Admin => "admin",
            Scope::Audit => "audit",
        }
    }
}

/// The authenticated caller of a `/v1` endpoint.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The identity the token acts as.
    pub identity: IdentityId,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

impl Caller {
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
        let token = state
            .engine
            .store()
            .token_by_hash(&token_hash(secret))
            .await?
            .ok_or_else(|| ApiError::Unauthorized(UNKNOWN_TOKEN.into()))?;
        if !token.is_live(state.engine.now()) {
            return Err(ApiError::Unauthorized(UNKNOWN_TOKEN.into()));
        }
        Ok(Caller {
            identity: token.identity,
            scopes: token.scopes,
        })
    }
}
