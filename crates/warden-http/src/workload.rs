//! Workload sign-in (DESIGN §5.6): a CI/CD job's OIDC token instead of a Warden token.
//! The token is handed to the engine as it came; who the caller is comes from the token's
//! verified claims and the catalog's pins, never from the body.
//!
//! Who may call: any holder of a token from a configured `[[oidc_issuer]]` whose claims
//! one active workload pins (with an active owner). Everyone else gets `401`, and nothing
//! is stored.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use warden_engine::workload::{WorkloadAnswer, WorkloadAsk};
use warden_model::{Duration, Permission, RoleId, SystemId};

use crate::error::ApiError;
use crate::path::Id;
use crate::schema::{
    CredentialBody, ErrorBody, ErrorDetail, WorkloadDenied, WorkloadIssued, WorkloadPending,
    WorkloadRequest,
};
use crate::{AppState, auth, body, query};

/// The body of `POST /v1/workload/credentials`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadBody {
    /// The role asked for; or name `system` and `needs`.
    #[schema(value_type = Option<String>)]
    pub role: Option<RoleId>,
    /// The system, when only `needs` are named.
    #[schema(value_type = Option<String>)]
    pub system: Option<SystemId>,
    /// The permissions needed.
    #[schema(value_type = Option<Vec<String>>)]
    pub needs: Option<Vec<Permission>>,
    /// How long (`15m`, `1h`); capped by the role, policy and `[nhi] max_duration`.
    #[schema(value_type = Option<String>)]
    pub duration: Option<Duration>,
    /// Why.
    pub purpose: String,
    /// Seconds to wait for provisioning before answering `202` (default 20, at most 60).
    pub wait: Option<u64>,
}

/// `POST /v1/workload/credentials`: a workload asks for a credential of its own.
#[utoipa::path(
    post,
    path = "/v1/workload/credentials",
    operation_id = "workload_credentials",
    tag = "workloads",
    request_body(content = WorkloadBody, content_type = "application/json"),
    responses(
        (status = 201, description = "granted and provisioned: the credential, this once", body = WorkloadIssued),
        (status = 202, description = "waiting for approval, or for provisioning past `wait`: fetch it later with a fresh token", body = WorkloadPending),
        (status = 400, description = "the body is not a valid ask", body = ErrorBody),
        (status = 401, description = "the token does not verify, or names no one workload that may act", body = ErrorBody),
        (status = 403, description = "denied: the decision says why", body = WorkloadDenied),
        (status = 409, description = "this token's `jti` was used before", body = ErrorBody),
        (status = 503, description = "an issuer's keys or the database cannot be reached", body = ErrorBody),
    ),
    security(("oidc" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<Response, ApiError> {
    query::params(raw.as_deref(), &[])?;
    let token = auth::bearer(&headers)?;
    let ask: WorkloadBody = body::required(&headers, payload, state.body_limit).await?;
    let ask = WorkloadAsk {
        role: ask.role,
        system: ask.system,
        needs: ask.needs,
        duration: ask.duration,
        purpose: ask.purpose,
        wait: ask.wait.map(std::time::Duration::from_secs),
    };
    let answer = state.engine.workload_request(token, ask).await?;
    Ok(respond(answer, StatusCode::CREATED))
}

/// `GET /v1/workload/credentials/{id}`: the credential of an earlier request, once.
#[utoipa::path(
    get,
    path = "/v1/workload/credentials/{id}",
    operation_id = "workload_credential",
    tag = "workloads",
    params(("id" = String, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the credential, this once", body = WorkloadIssued),
        (status = 202, description = "still waiting for approval or provisioning", body = WorkloadPending),
        (status = 401, description = "the token does not verify, or names no one workload that may act", body = ErrorBody),
        (status = 403, description = "denied, or the grant did not come to be", body = WorkloadDenied),
        (status = 404, description = "no such request for this workload", body = ErrorBody),
        (status = 410, description = "already delivered, or the grant ended", body = ErrorBody),
        (status = 503, description = "an issuer's keys or the database cannot be reached", body = ErrorBody),
    ),
    security(("oidc" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    Id(id): Id,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query::params(raw.as_deref(), &[])?;
    let token = auth::bearer(&headers)?;
    let answer = state.engine.workload_credential(token, &id).await?;
    Ok(respond(answer, StatusCode::OK))
}

fn respond(answer: WorkloadAnswer, issued: StatusCode) -> Response {
    match answer {
        WorkloadAnswer::Issued { view, credential } => {
            let body = WorkloadIssued {
                request: WorkloadRequest::from(*view),
                credential: credential.map(|c| CredentialBody {
                    username: c.username,
                    password: c.password.expose_secret().to_owned(),
                    expires_at: c.expires_at,
                }),
            };
            // A credential must not linger in a proxy's or runner's cache.
            (issued, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        WorkloadAnswer::Pending { view } => {
            let request = WorkloadRequest::from(*view);
            let body = WorkloadPending {
                credential_url: format!("/v1/workload/credentials/{}", request.request),
                request,
            };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        WorkloadAnswer::Denied { view } => {
            let body = WorkloadDenied {
                error: ErrorDetail {
                    code: "denied".into(),
                    message: "the request was denied or its grant did not come to be; the \
                              decision says why"
                        .into(),
                },
                request: WorkloadRequest::from(*view),
            };
            (StatusCode::FORBIDDEN, Json(body)).into_response()
        }
    }
}
