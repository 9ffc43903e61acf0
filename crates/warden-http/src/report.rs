//! The evidence report over HTTP: `GET /v1/report`, for auditors and administrators.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use warden_engine::report::{Format, Window};

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::schema::ErrorBody;
use crate::{AppState, query};

/// `GET /v1/report`: the evidence report over a window (default: the 30 days to now), as
/// JSON, HTML or CSV. It walks the window's grants and decisions and the whole audit chain,
/// so it is for people and scheduled exports, not for dashboards (`/metrics` is).
#[utoipa::path(
    get,
    path = "/v1/report",
    operation_id = "evidence_report",
    tag = "audit",
    params(
        ("since" = Option<String>, Query, description = "RFC 3339; default 30 days before `until`"),
        ("until" = Option<String>, Query, description = "RFC 3339; default now"),
        ("format" = Option<String>, Query, description = "`json` (default), `html` or `csv`"),
    ),
    responses(
        (status = 200, description = "the report (docs/evidence.md)", body = serde_json::Value),
        (status = 400, description = "a query parameter is unknown or malformed, or `since` is not before `until`", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the token has neither scope `audit` nor `admin`", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = ["audit", "admin"]))
)]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(&[Scope::Audit, Scope::Admin])?;
    let params = query::params(raw.as_deref(), &["since", "until", "format"])?;
    let invalid = |e: warden_engine::EngineError| ApiError::InvalidQuery(e.to_string());
    let window = Window::parse(
        params.get("since").map(String::as_str),
        params.get("until").map(String::as_str),
        state.engine.now(),
    )
    .map_err(invalid)?;
    let format =
        Format::parse(params.get("format").map_or("json", String::as_str)).map_err(invalid)?;
    let goals = state.engine.config().goals.clone();
    let _turn = state
        .reports
        .acquire()
        .await
        .map_err(|_| warden_engine::EngineError::broken("the report queue is closed"))?;
    let report = state.engine.report(window, &goals).await?;
    let mut response = format.render(&report)?.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // Evidence names identities and grants: no cache keeps a copy. The HTML page needs
    // nothing but its own inline style, so a browser opening it from the API is allowed
    // nothing else.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == Format::Html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    Ok(response)
}
