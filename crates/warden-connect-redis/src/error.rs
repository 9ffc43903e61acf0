//! Turns driver errors into the connector's error: whether a retry can help, in words
//! that never carry a secret.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use secrecy::{ExposeSecret, SecretString};
use warden_connect::ConnectError;

/// The connector's error for `what` (the command, never its arguments) failing with `e`.
/// `secret`, when the command carried one, is cut out of the server's answer: Redis
/// echoes a bad `ACL SETUSER` modifier, and the password is one.
pub(crate) fn from_redis(
    what: &str,
    e: &RedisError,
    secret: Option<&SecretString>,
) -> ConnectError {
    let mut text = e.to_string();
    if let Some(s) = secret
        .map(ExposeSecret::expose_secret)
        .filter(|s| !s.is_empty())
    {
        text = text.replace(s, "[redacted]");
    }
    if is_transient(e) {
        return ConnectError::Transient(format!("redis: {what} failed: {text}"));
    }
    let hint = match e.kind() {
        ErrorKind::AuthenticationFailed => {
            ": the admin credentials in the connector's url were refused"
        }
        ErrorKind::Server(ServerErrorKind::NoPerm) => {
            ": the admin user lacks a command the connector needs (see docs/connectors/redis.md)"
        }
        _ => "",
    };
    ConnectError::Permanent(format!("redis: {what} failed: {text}{hint}"))
}

/// Whether a retry can help: the server could not be reached, went away, is loading or
/// failing over, or has no room for another client.
fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::ReadOnly
            ) | ErrorKind::ClusterConnectionNotFound
        )
        || e.detail()
            .is_some_and(|d| d.contains("max number of clients"))
}
