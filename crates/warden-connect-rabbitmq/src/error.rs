//! Turns management API answers and HTTP failures into the connector's error: whether a
//! retry can help, in words that never carry a secret or the admin URL.

use reqwest::StatusCode;
use warden_connect::ConnectError;

/// The error for a request that never got an answer: the broker is down, unreachable or
/// slow, all of which a retry can fix. The URL is left out of the text (it names the
/// broker only, but the rule is that no URL of the connector is echoed).
pub(crate) fn from_http(what: &str, e: &reqwest::Error) -> ConnectError {
    let e = reqwest_text(e);
    ConnectError::Transient(format!("rabbitmq: {what}: {e}"))
}

fn reqwest_text(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    // The innermost cause says why (connection refused, …) without the URL.
    let mut source = e.source();
    while let Some(s) = source {
        if s.source().is_none() {
            text = format!("{text}: {s}");
        }
        source = s.source();
    }
    text
}

/// The error for an answer with a status outside 2xx (and outside what the caller
/// accepts): 5xx can be retried, 4xx cannot. `reason` is the API's own explanation.
pub(crate) fn from_status(what: &str, status: StatusCode, reason: &str) -> ConnectError {
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return ConnectError::Transient(format!("rabbitmq: {what}: {status}{reason}"));
    }
    match status {
        StatusCode::UNAUTHORIZED => ConnectError::Permanent(format!(
            "rabbitmq: {what}: the management API refused the admin credentials (401); check the user and password in the connector's url"
        )),
        StatusCode::FORBIDDEN => ConnectError::Permanent(format!(
            "rabbitmq: {what}: the admin user may not do this (403); it needs the `administrator` tag{reason}"
        )),
        _ => ConnectError::Permanent(format!("rabbitmq: {what}: {status}{reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_transient_client_errors_permanent() {
        for s in [500, 502, 503, 504, 429] {
            let status = StatusCode::from_u16(s).unwrap_or_default();
            assert!(from_status("x", status, "").is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 409] {
            let status = StatusCode::from_u16(s).unwrap_or_default();
            assert!(!from_status("x", status, "").is_transient(), "{s}");
        }
        let e = from_status("listing users", StatusCode::UNAUTHORIZED, "");
        assert!(e.to_string().contains("admin credentials"), "{e}");
    }
}
