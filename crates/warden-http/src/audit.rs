//! The audit trail: reading events after a position, and verifying the hash chain.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::schema::{AuditEntry, AuditVerification, ErrorBody};
use crate::{AppState, query};

/// Events per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;
/// The most events one page returns.
const MAX_LIMIT: u32 = 1_000;

/// `GET /v1/audit`: events with `seq > after`, in chain order.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "list_audit_events",
    tag = "audit",
    params(
        ("after" = Option<u64>, Query, description = "only events after this seq; default 0"),
        ("limit" = Option<u32>, Query, description = "at most this many, 1 to 1000; default 100"),
    ),
    responses(
        (status = 200, description = "events in chain order", body = Vec<AuditEntry>),
        (status = 400, description = "a query parameter is unknown or malformed", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `audit`", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["audit"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.require(&[Scope::Audit])?;
    let params = query::params(raw.as_deref(), &["after", "limit"])?;
    let after = match params.get("after") {
        Some(v) => query::number("after", v, 0, u64::MAX)?,
        None => 0,
    };
    let limit = match params.get("limit") {
        Some(v) => query::number("limit", v, 1, MAX_LIMIT)?,
        None => DEFAULT_LIMIT,
    };
    let events = state.engine.audit_page(after, limit).await?;
    Ok(Json(events.into_iter().map(AuditEntry::from).collect()))
}

/// `GET /v1/audit/verify`: walks the whole chain and reports the first break.
#[utoipa::path(
    get,
    path = "/v1/audit/verify",
    operation_id = "verify_audit",
    tag = "audit",
    responses(
        (status = 200, description = "the verification; `ok` is false when the chain is broken", body = AuditVerification),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `audit`", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["audit"]))
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditVerification>, ApiError> {
    caller.require(&[Scope::Audit])?;
    query::params(raw.as_deref(), &[])?;
    let report = state.engine.verify_audit().await?;
    Ok(Json(AuditVerification::from(report)))
}
