//! Requests: dry-run decisions, intake, reading one, and approvers' answers.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use warden_engine::intake::Filer;
use warden_model::ApprovalDecision;

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::path::Id;
use crate::schema::{DecisionDoc, ErrorBody, RequestDetail, RequestDoc, RequestSummary};
use crate::{AppState, body, query};

/// `POST /v1/decisions`: decides a request without storing anything.
#[utoipa::path(
    post,
    path = "/v1/decisions",
    operation_id = "decide",
    tag = "requests",
    request_body(content = RequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "the decision; a denial is a decision too", body = DecisionDoc),
        (status = 400, description = "the body is not a valid request", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `intake`", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 415, description = "the body is not JSON", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["intake"]))
)]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<Json<warden_model::Decision>, ApiError> {
    caller.require(&[Scope::Intake, Scope::Broker])?;
    query::params(raw.as_deref(), &[])?;
    let request = body::request_of(&headers, payload, state.body_limit, &caller.identity).await?;
    // Asking about someone else is for brokers and for those who may read everything.
    if request.requester != caller.identity && !caller.has(Scope::Broker) && !caller.reads_all() {
        return Err(ApiError::Forbidden(format!(
            "`requester`: `{}` is not the caller `{}`",
            request.requester, caller.identity
        )));
    }
    Ok(Json(state.engine.dry_run(&request).await?))
}

/// `POST /v1/requests`: takes in a request; idempotent on `(source, ticket)`.
#[utoipa::path(
    post,
    path = "/v1/requests",
    operation_id = "create_request",
    tag = "requests",
    request_body(content = RequestDoc, content_type = "application/json"),
    responses(
        (status = 201, description = "the request was decided and stored", body = RequestSummary),
        (status = 200, description = "this `(source, ticket)` was known; nothing new was stored", body = RequestSummary),
        (status = 400, description = "the body is not a valid request", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `intake`", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 415, description = "the body is not JSON", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["intake"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<(StatusCode, Json<RequestSummary>), ApiError> {
    caller.require(&[Scope::Intake, Scope::Broker])?;
    query::params(raw.as_deref(), &[])?;
    let request = body::request_of(&headers, payload, state.body_limit, &caller.identity).await?;
    let filer = Filer {
        identity: caller.identity.clone(),
        broker_source: caller
            .has(Scope::Broker)
            .then(|| caller.source.clone().unwrap_or_default()),
        reads_all: caller.reads_all(),
    };
    let intake = state.engine.file(&filer, request).await?;
    let status = if intake.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RequestSummary::from(intake.view))))
}

/// `GET /v1/requests/{id}`: a request with its decision, approvals and grant.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}",
    operation_id = "get_request",
    tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the request", body = RequestDetail),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks every scope that may read requests", body = ErrorBody),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["intake", "approve", "admin", "audit"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> Result<Json<RequestDetail>, ApiError> {
    caller.require(&[
        Scope::Intake,
        Scope::Approve,
        Scope::Admin,
        Scope::Audit,
        Scope::Broker,
    ])?;
    query::params(raw.as_deref(), &[])?;
    let view = state
        .engine
        .request_for(&caller.identity, caller.reads_all(), &id)
        .await?;
    Ok(Json(RequestDetail::from(view)))
}

/// `POST /v1/requests/{id}/approve`: approves as the token's identity.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/approve",
    operation_id = "approve_request",
    tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the answer is recorded (or was already); the request as it now stands", body = RequestDetail),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `approve`, or its identity may not approve this request; the message says why", body = ErrorBody),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "the request is not waiting for approvals", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["approve"]))
)]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> Result<Json<RequestDetail>, ApiError> {
    answer(
        state,
        caller,
        &id,
        raw.as_deref(),
        ApprovalDecision::Approve,
    )
    .await
}

/// `POST /v1/requests/{id}/reject`: rejects as the token's identity; the request is denied.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/reject",
    operation_id = "reject_request",
    tag = "requests",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the answer is recorded (or was already); the request as it now stands", body = RequestDetail),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `approve`, or its identity may not answer this request; the message says why", body = ErrorBody),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "the request is not waiting for approvals", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["approve"]))
)]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> Result<Json<RequestDetail>, ApiError> {
    answer(state, caller, &id, raw.as_deref(), ApprovalDecision::Reject).await
}

async fn answer(
    state: AppState,
    caller: Caller,
    id: &str,
    raw: Option<&str>,
    decision: ApprovalDecision,
) -> Result<Json<RequestDetail>, ApiError> {
    caller.require(&[Scope::Approve])?;
    query::params(raw, &[])?;
    let view = state.engine.answer(&caller.identity, id, decision).await?;
    Ok(Json(RequestDetail::from(view)))
}
