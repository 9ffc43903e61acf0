//! Bulk revocation: `POST /v1/revocations` ends everything an identity holds, everything
//! on a system, or what a ticket gave, and reports each grant.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use warden_engine::revocation::Revocation;

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::schema::{ErrorBody, Grant, RevocationBody, RevocationReport};
use crate::{AppState, body, query};

/// The longest a caller may wait for confirmation.
const MAX_WAIT_SECONDS: u64 = 300;

/// `POST /v1/revocations`: revokes every live grant matching the body.
#[utoipa::path(
    post,
    path = "/v1/revocations",
    operation_id = "revoke_matching",
    tag = "grants",
    request_body(content = RevocationBody, content_type = "application/json"),
    responses(
        (status = 200, description = "each matching grant as it stands", body = RevocationReport),
        (status = 400, description = "the body is not valid", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `admin`", body = ErrorBody),
        (status = 422, description = "no criterion given", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<Json<RevocationReport>, ApiError> {
    caller.require(&[Scope::Admin])?;
    query::params(raw.as_deref(), &[])?;
    let b: RevocationBody = body::optional(&headers, payload, state.body_limit)
        .await?
        .unwrap_or_default();
    let wait = b
        .wait
        .map(|d| std::time::Duration::from_secs(d.seconds().min(MAX_WAIT_SECONDS)));
    let r = Revocation {
        identity: b.identity,
        system: b.system,
        ticket: b
            .ticket
            .map(|t| (b.source.unwrap_or_else(|| "api".to_owned()), t)),
        reason: b.reason.unwrap_or_default(),
        wait,
    };
    let grants: Vec<Grant> = state
        .engine
        .revoke_matching(caller.identity.as_str(), &r)
        .await?
        .into_iter()
        .map(Grant::from)
        .collect();
    let confirmed = grants
        .iter()
        .filter(|g| g.state == warden_model::GrantState::Revoked)
        .count();
    Ok(Json(RevocationReport { grants, confirmed }))
}
