//! `POST /v1/itsm/{name}`: an ITSM's webhook. No bearer token: the delivery proves itself
//! by its signature over the raw body, checked before anything is parsed or stored.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use warden_engine::itsm::{Delivery, Headers};

use crate::error::ApiError;
use crate::path::Id;
use crate::schema::{ErrorBody, RequestSummary};
use crate::{AppState, body, query};

/// What Warden did with a webhook delivery.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// `queued` (the ticket will be re-read), `duplicate` (seen before, ignored) or
    /// `taken` (a generic adapter's request, decided at once).
    pub status: &'static str,
    /// The ticket, when one was queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The request, when one was taken in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSummary>,
}

/// `POST /v1/itsm/{name}`: a signed webhook from ITSM adapter `name`.
#[utoipa::path(
    post,
    path = "/v1/itsm/{name}",
    operation_id = "itsm_webhook",
    tag = "itsm",
    params(("name" = String, Path, description = "the adapter's name (`[[itsm]] name`)")),
    request_body(content = String, content_type = "application/json", description = "the ITSM's payload; only its ticket id is used"),
    responses(
        (status = 200, description = "a duplicate delivery, ignored", body = WebhookAnswer),
        (status = 201, description = "a generic adapter's request, taken in", body = WebhookAnswer),
        (status = 202, description = "the ticket will be re-read and acted on", body = WebhookAnswer),
        (status = 401, description = "the signature is missing, wrong or stale; nothing was stored", body = ErrorBody),
        (status = 404, description = "no such adapter", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 422, description = "the payload names no ticket", body = ErrorBody),
        (status = 503, description = "the database is unavailable", body = ErrorBody),
    ),
)]
pub async fn webhook(
    State(state): State<AppState>,
    Id(name): Id,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    payload: Body,
) -> Result<(StatusCode, Json<WebhookAnswer>), ApiError> {
    query::params(raw.as_deref(), &[])?;
    let bytes = body::read(&headers, payload, state.body_limit).await?;
    let delivered: Headers = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let answer = match state.engine.itsm_webhook(&name, &delivered, &bytes).await? {
        Delivery::Duplicate => (
            StatusCode::OK,
            WebhookAnswer {
                status: "duplicate",
                ticket: None,
                request: None,
            },
        ),
        Delivery::Queued { ticket } => (
            StatusCode::ACCEPTED,
            WebhookAnswer {
                status: "queued",
                ticket: Some(ticket),
                request: None,
            },
        ),
        Delivery::Taken(intake) => (
            StatusCode::CREATED,
            WebhookAnswer {
                status: "taken",
                ticket: None,
                request: Some(RequestSummary::from(intake.view)),
            },
        ),
    };
    Ok((answer.0, Json(answer.1)))
}
