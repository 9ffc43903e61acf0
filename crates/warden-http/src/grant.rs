//! Grants: listing, reading one, and revoking one now.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use secrecy::ExposeSecret;
use warden_engine::grant::GrantQuery;
use warden_model::{GrantState, IdentityId, SystemId};

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::path::Id;
use crate::schema::{CredentialBody, ErrorBody, Grant, RevokeBody};
use crate::{AppState, body, query};

/// The most grants one listing returns.
const MAX_LIMIT: u32 = 1_000;

/// `GET /v1/grants`: grants, newest first, optionally filtered.
#[utoipa::path(
    get,
    path = "/v1/grants",
    operation_id = "list_grants",
    tag = "grants",
    params(
        ("subject" = Option<String>, Query, description = "held by this identity"),
        ("system" = Option<String>, Query, description = "on this system"),
        ("state" = Option<crate::schema::GrantStateDoc>, Query, description = "in this state"),
        ("limit" = Option<u32>, Query, description = "at most this many, 1 to 1000; default 100"),
    ),
    responses(
        (status = 200, description = "matching grants, newest first", body = Vec<Grant>),
        (status = 400, description = "a query parameter is unknown or malformed", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `admin` or `audit`", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["admin", "audit"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Grant>>, ApiError> {
    caller.require(&[Scope::Admin, Scope::Audit])?;
    let params = query::params(raw.as_deref(), &["subject", "system", "state", "limit"])?;
    let mut q = GrantQuery::default();
    if let Some(v) = params.get("subject") {
        q.subject = Some(
            IdentityId::parse(v).map_err(|e| ApiError::InvalidQuery(format!("`subject`: {e}")))?,
        );
    }
    if let Some(v) = params.get("system") {
        q.system =
            Some(SystemId::parse(v).map_err(|e| ApiError::InvalidQuery(format!("`system`: {e}")))?);
    }
    if let Some(v) = params.get("state") {
        q.state = Some(
            GrantState::parse(v).map_err(|e| ApiError::InvalidQuery(format!("`state`: {e}")))?,
        );
    }
    if let Some(v) = params.get("limit") {
        q.limit = Some(query::number("limit", v, 1, MAX_LIMIT)?);
    }
    let grants = state.engine.grants(&q).await?;
    Ok(Json(grants.into_iter().map(Grant::from).collect()))
}

/// `GET /v1/grants/{id}`: one grant.
#[utoipa::path(
    get,
    path = "/v1/grants/{id}",
    operation_id = "get_grant",
    tag = "grants",
    params(("id" = String, Path, description = "the grant's id")),
    responses(
        (status = 200, description = "the grant", body = Grant),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `admin` or `audit`", body = ErrorBody),
        (status = 404, description = "no such grant", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["admin", "audit"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> Result<Json<Grant>, ApiError> {
    caller.require(&[Scope::Admin, Scope::Audit])?;
    query::params(raw.as_deref(), &[])?;
    Ok(Json(Grant::from(state.engine.grant(&id).await?)))
}

/// `POST /v1/grants/{id}/revoke`: starts revoking a grant now. The grant is `revoking`
/// until the target confirms; revoking twice changes nothing.
#[utoipa::path(
    post,
    path = "/v1/grants/{id}/revoke",
    operation_id = "revoke_grant",
    tag = "grants",
    params(("id" = String, Path, description = "the grant's id")),
    request_body(content = Option<RevokeBody>, content_type = "application/json", description = "optional; may be empty"),
    responses(
        (status = 200, description = "the grant as it now stands", body = Grant),
        (status = 400, description = "the body is not valid", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `admin`", body = ErrorBody),
        (status = 404, description = "no such grant", body = ErrorBody),
        (status = 409, description = "the grant changed meanwhile; try again", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 415, description = "the body is not JSON", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<Json<Grant>, ApiError> {
    caller.require(&[Scope::Admin])?;
    query::params(raw.as_deref(), &[])?;
    let revoke: RevokeBody = body::optional(&headers, payload, state.body_limit)
        .await?
        .unwrap_or_default();
    let reason = revoke.reason.unwrap_or_default();
    let grant = state
        .engine
        .revoke(caller.identity.as_str(), &id, &reason)
        .await?;
    Ok(Json(Grant::from(grant)))
}

/// `GET /v1/grants/{id}/credential`: the grant's minted credential, once. Only the
/// subject, or for a service or workload its owner, may fetch it; afterwards `410`.
#[utoipa::path(
    get,
    path = "/v1/grants/{id}/credential",
    operation_id = "get_credential",
    tag = "grants",
    params(("id" = String, Path, description = "the grant's id")),
    responses(
        (status = 200, description = "the credential, this once", body = CredentialBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token's identity is not the subject or its owner", body = ErrorBody),
        (status = 404, description = "no such grant, or it mints no credential", body = ErrorBody),
        (status = 409, description = "not provisioned yet", body = ErrorBody),
        (status = 410, description = "already delivered, or the grant ended", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn credential(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> Result<
    (
        [(header::HeaderName, &'static str); 1],
        Json<CredentialBody>,
    ),
    ApiError,
> {
    query::params(raw.as_deref(), &[])?;
    let d = state
        .engine
        .credential(caller.identity.as_str(), &id)
        .await?;
    let body = CredentialBody {
        username: d.username,
        password: d.password.expose_secret().to_owned(),
        expires_at: d.expires_at,
    };
    // A credential must not linger in a proxy's or browser's cache.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)))
}
