//! Reviews: listing, reading one with its items, deciding an item, closing a break-glass
//! review. Reviewers call with `approve` or `admin` tokens and see only what they may
//! decide; `audit` and `admin` tokens read everything. Who may decide is the engine's to
//! judge against the active catalog and Cedar's `review` action.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use warden_engine::review::{ReviewView, Viewer};
use warden_model::Scope;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::path::Id;
use crate::schema::{CloseBody, DecideBody, ErrorBody, ReviewDoc};
use crate::{AppState, body, query};

/// The most reviews one listing returns.
const MAX_LIMIT: u32 = 500;

fn viewer(caller: &Caller) -> Viewer {
    Viewer {
        identity: caller.identity.clone(),
        reads_all: caller.reads_all(),
    }
}

/// The `{id}` and `{item}` of `/v1/reviews/{id}/items/{item}/decide`.
pub struct ItemPath(String, String);

impl<S: Send + Sync> FromRequestParts<S> for ItemPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((id, item))| ItemPath(id, item))
            .map_err(|_| ApiError::NotFound("no such resource".into()))
    }
}

/// `GET /v1/reviews`: reviews, newest first.
#[utoipa::path(
    get,
    path = "/v1/reviews",
    operation_id = "list_reviews",
    tag = "reviews",
    params(
        ("state" = Option<String>, Query, description = "`open` for open ones only"),
        ("limit" = Option<u32>, Query, description = "at most this many, 1 to 500; default 100"),
    ),
    responses(
        (status = 200, description = "reviews, newest first: all for `admin` and `audit`, those with an item the caller reviews for `approve`", body = Vec<ReviewDoc>),
        (status = 400, description = "a query parameter is unknown or malformed", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `approve`, `admin` or `audit`", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["approve", "admin", "audit"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<ReviewView>>, ApiError> {
    caller.require(&[Scope::Approve, Scope::Admin, Scope::Audit])?;
    let params = query::params(raw.as_deref(), &["state", "limit"])?;
    let open_only = match params.get("state").map(String::as_str) {
        None => false,
        Some("open") => true,
        Some(other) => {
            return Err(ApiError::InvalidQuery(format!(
                "`state`: `{other}` is not `open`"
            )));
        }
    };
    let limit = match params.get("limit") {
        Some(v) => query::number("limit", v, 1, MAX_LIMIT)?,
        None => 100,
    };
    Ok(Json(
        state
            .engine
            .reviews(&viewer(&caller), open_only, limit)
            .await?,
    ))
}

/// `GET /v1/reviews/{id}`: one review with its items and, for a break-glass review, its
/// grant's audit events.
#[utoipa::path(
    get,
    path = "/v1/reviews/{id}",
    operation_id = "get_review",
    tag = "reviews",
    params(("id" = String, Path, description = "the review's id")),
    responses(
        (status = 200, description = "the review; an `approve` caller sees only the items they review", body = ReviewDoc),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `approve`, `admin` or `audit`", body = ErrorBody),
        (status = 404, description = "no such review, or none of its items is the caller's to review", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["approve", "admin", "audit"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> Result<Json<ReviewView>, ApiError> {
    caller.require(&[Scope::Approve, Scope::Admin, Scope::Audit])?;
    query::params(raw.as_deref(), &[])?;
    Ok(Json(state.engine.review_for(&viewer(&caller), &id).await?))
}

/// `POST /v1/reviews/{id}/items/{item}/decide`: keep or revoke one item of a campaign run.
#[utoipa::path(
    post,
    path = "/v1/reviews/{id}/items/{item}/decide",
    operation_id = "decide_review_item",
    tag = "reviews",
    params(
        ("id" = String, Path, description = "the review's id"),
        ("item" = String, Path, description = "the item's id"),
    ),
    request_body(content = DecideBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the review as it now stands", body = ReviewDoc),
        (status = 400, description = "the body is not valid", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `approve` or `admin`, or its identity may not review this item (its own access, a grant it asked for, not a named reviewer, no standing, or policy)", body = ErrorBody),
        (status = 404, description = "no such review or item", body = ErrorBody),
        (status = 409, description = "the review is closed, the item decided, or it is a break-glass review", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 415, description = "the body is not JSON", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["approve", "admin"]))
)]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    ItemPath(id, item): ItemPath,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<Json<ReviewView>, ApiError> {
    caller.require(&[Scope::Approve, Scope::Admin])?;
    query::params(raw.as_deref(), &[])?;
    let b: DecideBody = body::required(&headers, payload, state.body_limit).await?;
    let view = state
        .engine
        .decide_review_item(
            &viewer(&caller),
            &id,
            &item,
            b.decision,
            b.comment.as_deref(),
        )
        .await?;
    Ok(Json(view))
}

/// `POST /v1/reviews/{id}/close`: close a break-glass review as justified or not.
#[utoipa::path(
    post,
    path = "/v1/reviews/{id}/close",
    operation_id = "close_review",
    tag = "reviews",
    params(("id" = String, Path, description = "the review's id")),
    request_body(content = CloseBody, content_type = "application/json"),
    responses(
        (status = 200, description = "the review, closed", body = ReviewDoc),
        (status = 400, description = "the body is not valid", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token lacks scope `approve` or `admin`, or its identity may not review this grant", body = ErrorBody),
        (status = 404, description = "no such review", body = ErrorBody),
        (status = 409, description = "closed already, or a campaign run", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 415, description = "the body is not JSON", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["approve", "admin"]))
)]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<Json<ReviewView>, ApiError> {
    caller.require(&[Scope::Approve, Scope::Admin])?;
    query::params(raw.as_deref(), &[])?;
    let b: CloseBody = body::required(&headers, payload, state.body_limit).await?;
    let view = state
        .engine
        .close_review(&viewer(&caller), &id, b.outcome, b.comment.as_deref())
        .await?;
    Ok(Json(view))
}
