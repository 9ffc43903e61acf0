//! The sender: one signed POST of a JSON body to an alert's URL. Delivered means a 2xx
//! answer; anything else is a [`DeliveryError`] carrying the status and any `Retry-After`
//! the receiver sent, for the caller's retry.

use std::time::Duration as StdDuration;

use reqwest::StatusCode;
use warden_model::Timestamp;

use crate::sign::Signer;

/// How long one delivery may take, connection included.
const TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// How long connecting may take.
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// The longest `Retry-After` honoured: a receiver cannot park a delivery for days.
const MAX_RETRY_AFTER: StdDuration = StdDuration::from_secs(3_600);

/// Why a delivery was not accepted. Never carries a secret or the URL (which may hold a
/// token in its query).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver answered with a status other than 2xx.
    #[error("the receiver answered HTTP {status}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// How long the receiver asked us to wait (`Retry-After` in seconds), if it said.
        retry_after: Option<StdDuration>,
    },
    /// The receiver could not be reached, or did not answer in time.
    #[error("cannot reach the receiver: {0}")]
    Network(&'static str),
}

impl DeliveryError {
    /// How long the receiver asked us to wait before the next attempt.
    pub fn retry_after(&self) -> Option<StdDuration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            DeliveryError::Network(_) => None,
        }
    }

    /// The HTTP status the receiver answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Status { status, .. } => Some(*status),
            DeliveryError::Network(_) => None,
        }
    }
}

/// Posts signed deliveries to one URL.
pub struct Sender {
    client: reqwest::Client,
    url: String,
    signer: Signer,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// A sender to `url` (already validated as http or https) signing with `signer`.
    pub fn new(url: &str, signer: Signer) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would carry the signed body somewhere the configuration never named.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            signer,
        })
    }

    /// POSTs `body` (JSON) as delivery `id`, signed at `at`. `Ok` on a 2xx answer.
    pub async fn send(&self, id: &str, at: Timestamp, body: &[u8]) -> Result<(), DeliveryError> {
        let timestamp = at.unix_seconds();
        let signature = self.signer.sign(id, timestamp, body);
        let resp = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| DeliveryError::Network(network_word(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_seconds);
        Err(status_error(status, retry_after))
    }
}

fn status_error(status: StatusCode, retry_after: Option<StdDuration>) -> DeliveryError {
    DeliveryError::Status {
        status: status.as_u16(),
        retry_after,
    }
}

fn network_word(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "network error"
    }
}

/// `Retry-After` as delta-seconds, capped at [`MAX_RETRY_AFTER`]; an HTTP date is ignored
/// (the worker's own backoff applies).
fn retry_after_seconds(v: &str) -> Option<StdDuration> {
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| StdDuration::from_secs(s).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        assert_eq!(
            retry_after_seconds(" 120 "),
            Some(StdDuration::from_secs(120))
        );
        assert_eq!(retry_after_seconds("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        let e = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            Some(StdDuration::from_secs(3)),
        );
        assert_eq!(e.to_string(), "the receiver answered HTTP 429");
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.retry_after(), Some(StdDuration::from_secs(3)));
    }
}
