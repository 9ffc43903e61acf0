//! Reading JSON bodies: the content type, the size limit and parsing, each with its own
//! error, read here rather than through extractor rejections so every message is ours.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Whether `headers` declare a JSON body (`application/json`, parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit)) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(e) if crate::server::is_body_timeout(e.as_ref()) => Err(ApiError::RequestTimeout),
        Err(e) => Err(ApiError::InvalidRequest(format!(
            "the body could not be read: {e}"
        ))),
    }
}

/// Reads an optional JSON body into `T`: an empty body is `None`.
pub async fn optional<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    let bytes = read(headers, body, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    warden_model::request::from_json(&bytes)
        .map(Some)
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

/// Reads a required JSON body into `T`, naming the field at fault.
pub async fn required<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = required_bytes(headers, body, limit).await?;
    warden_model::request::from_json(&bytes).map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

/// The bytes of a required body, refused unless it is declared JSON.
async fn required_bytes(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    read(headers, body, limit).await
}

/// Reads a required JSON body holding a request of DESIGN §3.1 whose `requester` may be
/// left out: then it is `caller`, the token's identity.
pub async fn request_of(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    caller: &warden_model::IdentityId,
) -> Result<warden_model::Request, ApiError> {
    let invalid = |e: warden_model::request::InputError| ApiError::InvalidRequest(e.to_string());
    let bytes = required_bytes(headers, body, limit).await?;
    // Most bodies name their requester and are read once. serde reports a missing field
    // only after every present one has been read and found valid, so a body refused for
    // that alone is the one to read again with the caller filled in.
    match warden_model::Request::from_json(&bytes) {
        Err(e) if e.field.is_none() && e.message == MISSING_REQUESTER => {}
        parsed => return parsed.map_err(invalid),
    }
    let mut value: serde_json::Value = warden_model::request::from_json(&bytes).map_err(invalid)?;
    if let Some(fields) = value.as_object_mut() {
        fields.insert("requester".into(), serde_json::json!(caller.as_str()));
    }
    let bytes = serde_json::to_vec(&value)
        .map_err(|e| ApiError::InvalidRequest(format!("malformed JSON: {e}")))?;
    warden_model::Request::from_json(&bytes).map_err(invalid)
}

/// serde's error for a request body without `requester`.
const MISSING_REQUESTER: &str = "missing field `requester`";
