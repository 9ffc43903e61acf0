//! The one place where failures become HTTP responses: `{ "error": { "code", "message" } }`.
//!
//! 4xx responses explain the problem to the caller; 5xx responses are generic and their
//! cause is logged here, once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use warden_engine::EngineError;

use crate::schema::{ErrorBody, ErrorDetail};

/// Why a request failed, as the API reports it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A use case failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// No usable bearer token: missing, malformed, unknown or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The token lacks the scope the endpoint needs.
    #[error("{0}")]
    Forbidden(String),
    /// The body cannot be read as what the endpoint takes; the message names the field.
    #[error("{0}")]
    InvalidRequest(String),
    /// A query parameter is unknown, repeated or malformed.
    #[error("{0}")]
    InvalidQuery(String),
    /// The body is larger than the limit.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not declared as JSON.
    #[error("the body must be `application/json`")]
    UnsupportedMediaType,
    /// No route matches the path.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// The body did not arrive within the server's body read timeout.
    #[error("the body was not received in time")]
    RequestTimeout,
}

impl ApiError {
    /// The status, the error code, and the message shown to the caller.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Engine(e) => match e {
                EngineError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
                EngineError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
                EngineError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
                EngineError::Gone(m) => (StatusCode::GONE, "gone", m.clone()),
                EngineError::Unauthorized(m) => {
                    (StatusCode::UNAUTHORIZED, "unauthorized", m.clone())
                }
                EngineError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", m.clone()),
                EngineError::Unreachable(m) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone())
                }
                EngineError::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is unavailable; try again later".to_owned(),
                ),
                EngineError::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_owned(),
                ),
            },
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            ApiError::InvalidRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", m.clone()),
            ApiError::InvalidQuery(m) => (StatusCode::BAD_REQUEST, "invalid_query", m.clone()),
            ApiError::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                self.to_string(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                self.to_string(),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                self.to_string(),
            ),
            ApiError::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                self.to_string(),
            ),
        }
    }

    /// Logs the cause of a 5xx; 4xx are the caller's business and are not logged.
    fn log(&self) {
        match self {
            ApiError::Engine(e @ EngineError::Unavailable(_)) => {
                tracing::warn!(error = %chain(e), "database unavailable");
            }
            ApiError::Engine(e @ EngineError::Internal(_)) => {
                tracing::error!(error = %chain(e), "internal error");
            }
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let (status, code, message) = self.parts();
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// An error and its causes on one line.
pub(crate) use warden_model::chain::chain;
