//! The active bundle: which catalog and policies decide now.

use axum::Json;
use axum::extract::{RawQuery, State};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::schema::{ActiveBundleDoc, ErrorBody};
use crate::{AppState, query};

/// `GET /v1/bundle`: the active bundle's hash and when it became active. Any valid token
/// may ask: the hash is named by every decision anyway.
#[utoipa::path(
    get,
    path = "/v1/bundle",
    operation_id = "active_bundle",
    tag = "operations",
    responses(
        (status = 200, description = "the bundle that decides now", body = ActiveBundleDoc),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn active(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<ActiveBundleDoc>, ApiError> {
    query::params(raw.as_deref(), &[])?;
    let (bundle, activated_at) = state.engine.active_bundle();
    Ok(Json(ActiveBundleDoc {
        hash: bundle.hash().to_owned(),
        activated_at,
    }))
}
