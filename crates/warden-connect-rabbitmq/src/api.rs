//! The slice of the RabbitMQ management HTTP API the connector uses: one client with the
//! admin credentials, path segments always percent-encoded, answers mapped to errors.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use warden_connect::ConnectError;

use crate::error;

/// How long connecting to the API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The management API of one broker, as the admin user.
pub(crate) struct Api {
    http: reqwest::Client,
    /// `scheme://host:port[/path]` without credentials or a trailing `/`.
    base: String,
    user: String,
    password: SecretString,
}

/// The body of an answer the API gives with an error status.
#[derive(Deserialize, Default)]
struct Refusal {
    #[serde(default)]
    reason: String,
}

impl Api {
    /// An API client for `base` (no credentials in it) as `user`.
    pub(crate) fn new(
        base: String,
        user: String,
        password: SecretString,
    ) -> Result<Self, ConnectError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| ConnectError::Config(format!("rabbitmq: no HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            user,
            password,
        })
    }

    /// Sends `method` to `/api/<segments…>` (each segment percent-encoded), with `body`
    /// as JSON. Answers `Some(body)` for 2xx, `None` for 404, and an error otherwise;
    /// `secret` is cut out of any reason the API gives.
    pub(crate) async fn send(
        &self,
        what: &str,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
        secret: Option<&SecretString>,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        let mut url = format!("{}/api", self.base);
        for s in segments {
            url.push('/');
            url.push_str(&warden_connect::url::percent_encode(s));
        }
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&self.user, Some(self.password.expose_secret()))
            .header("X-Reason", "revoked by Warden");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let answer = req.send().await.map_err(|e| error::from_http(what, &e))?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| error::from_http(what, &e))?;
        if status.is_success() {
            return Ok(Some(bytes.to_vec()));
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let mut reason = serde_json::from_slice::<Refusal>(&bytes)
            .unwrap_or_default()
            .reason;
        if let Some(s) = secret
            .map(ExposeSecret::expose_secret)
            .filter(|s| !s.is_empty())
        {
            reason = reason.replace(s, "[redacted]");
        }
        Err(error::from_status(what, status, &reason))
    }

    /// `GET /api/<segments…>` read as JSON; `None` when it is not there.
    pub(crate) async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        what: &str,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Option<T>, ConnectError> {
        let Some(body) = self
            .send(what, Method::GET, segments, query, None, None)
            .await?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            ConnectError::Permanent(format!("rabbitmq: {what}: unexpected answer: {e}"))
        })
    }
}
