//! The HTTP plumbing the adapters share: one client bound to an ITSM's base URL and API
//! account, the mapping of HTTP statuses to [`ItsmError`], reading ticket values out of JSON,
//! and the time formats and poll window of the ITSMs' query languages.

use std::time::Duration as StdDuration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use warden_itsm::{ItsmConfig, ItsmConfigError, ItsmError};
use warden_model::Timestamp;

/// How the API account authenticates.
enum Auth {
    Basic(String, SecretString),
    /// RT: `Authorization: token …`.
    Token(SecretString),
    Bearer(SecretString),
    None,
}

/// An HTTP client bound to one ITSM's base URL and account.
pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
    auth: Auth,
}

/// How long one call to an ITSM may take before it counts as a transient failure.
const TIMEOUT: StdDuration = StdDuration::from_secs(20);
/// The most of an error body quoted in a message.
const ERROR_BODY_CHARS: usize = 200;

impl Http {
    /// A client for `config`; `token_scheme_is_rt` picks RT's `token` scheme over `Bearer`.
    pub(crate) fn new(
        config: &ItsmConfig,
        token_scheme_is_rt: bool,
    ) -> Result<Self, ItsmConfigError> {
        let base = config.base_url()?;
        let auth = match (&config.username, &config.password) {
            (Some(u), Some(p)) => Auth::Basic(u.clone(), p.clone()),
            (None, Some(p)) if token_scheme_is_rt => Auth::Token(p.clone()),
            (None, Some(p)) => Auth::Bearer(p.clone()),
            _ => Auth::None,
        };
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(StdDuration::from_secs(5))
            .build()
            .map_err(|e| {
                ItsmConfigError::new(&config.name, format!("cannot build an HTTP client: {e}"))
            })?;
        Ok(Self { client, base, auth })
    }

    /// A request to `path` (starting with `/`) under the base URL, authenticated.
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let b = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT, "application/json");
        match &self.auth {
            Auth::Basic(u, p) => b.basic_auth(u, Some(p.expose_secret())),
            Auth::Token(t) => b.header(
                reqwest::header::AUTHORIZATION,
                format!("token {}", t.expose_secret()),
            ),
            Auth::Bearer(t) => b.bearer_auth(t.expose_secret()),
            Auth::None => b,
        }
    }

    /// Sends `req`; a non-2xx status becomes the fitting error, naming `what` on a 404.
    pub(crate) async fn send(
        &self,
        req: RequestBuilder,
        what: &str,
    ) -> Result<Response, ItsmError> {
        let resp = req.send().await.map_err(|e| ItsmError::Transient {
            message: network_message(&e),
            retry_after: None,
            source: Some(Box::new(e.without_url())),
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(StdDuration::from_secs);
        let body: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(ERROR_BODY_CHARS)
            .filter(|c| !c.is_control())
            .collect();
        Err(status_error(status, retry_after, what, &body))
    }

    /// Sends `req` and parses a JSON answer.
    pub(crate) async fn json(&self, req: RequestBuilder, what: &str) -> Result<Value, ItsmError> {
        let resp = self.send(req, what).await?;
        resp.json::<Value>().await.map_err(|e| {
            ItsmError::invalid(format!(
                "the ITSM answered {what} with unreadable JSON: {}",
                e.without_url()
            ))
        })
    }
}

fn network_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "network error".into()
    }
}

/// The error for a non-2xx answer.
pub(crate) fn status_error(
    status: StatusCode,
    retry_after: Option<StdDuration>,
    what: &str,
    body: &str,
) -> ItsmError {
    match status.as_u16() {
        401 | 403 => ItsmError::Unauthorized {
            status: status.as_u16(),
        },
        404 => ItsmError::NotFound { what: what.into() },
        408 | 429 => ItsmError::Transient {
            message: format!("HTTP {}", status.as_u16()),
            retry_after,
            source: None,
        },
        s if s >= 500 => ItsmError::Transient {
            message: format!("HTTP {s}"),
            retry_after,
            source: None,
        },
        s => ItsmError::invalid(format!(
            "the ITSM refused {what} with HTTP {s}: {}",
            if body.is_empty() { "no detail" } else { body }
        )),
    }
}

/// A JSON value as ticket text: strings as they are, numbers and booleans printed, objects by
/// their `value`, `name`, `emailAddress` or `displayName`, arrays joined with `, `.
pub(crate) fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text_of).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Value::Object(o) => ["value", "name", "emailAddress", "displayName", "id"]
            .iter()
            .find_map(|k| o.get(*k).and_then(text_of)),
    }
}

/// A string field of a JSON object.
pub(crate) fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (RT TicketSQL and ServiceNow).
pub(crate) const SQL_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// Parses `YYYY-MM-DD HH:MM:SS` as UTC.
pub(crate) fn parse_sql_time(s: &str) -> Option<Timestamp> {
    time::PrimitiveDateTime::parse(s.trim(), SQL_TIME)
        .ok()
        .map(|t| Timestamp::from_datetime(t.assume_utc()))
}

/// Formats an instant as `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn format_sql_time(t: Timestamp) -> String {
    t.as_datetime()
        .format(SQL_TIME)
        .unwrap_or_else(|_| "1970-01-01 00:00:00".into())
}

/// How far back each poll asks the ITSM, beyond the cursor. ITSMs read a query's time in the
/// API account's own time zone, which Warden cannot know; asking 14 hours earlier (the widest
/// offset) and keeping only results at or after the cursor by the UTC times they return makes
/// polling exact whatever that zone is.
pub(crate) const POLL_MARGIN_SECONDS: i64 = 14 * 3600;

/// The instant the ITSM query starts from.
pub(crate) fn poll_from(cursor: Timestamp) -> Timestamp {
    Timestamp::from_unix_seconds(cursor.unix_seconds().saturating_sub(POLL_MARGIN_SECONDS))
        .unwrap_or(cursor)
}

/// The most pages one poll reads, so a poll always ends.
pub(crate) const MAX_POLL_PAGES: usize = 50;
