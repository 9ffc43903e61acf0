//! Driver errors as connector errors: whether a retry can help, and a message that never
//! carries a secret. Server messages can quote the statement (`… near 'IDENTIFIED BY …'`),
//! so for a statement holding a password only the error code is kept.

use mysql_async::{DriverError, Error, IoError};
use warden_connect::ConnectError;

/// Whether the failed statement held a secret, and so its server message must be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// The statement holds no secret; the server's message is kept.
    Plain,
    /// The statement holds a password; only the error code is kept.
    Secret,
}

/// Server error codes after which the same statement can succeed later: too many
/// connections, lock waits and deadlocks, a server shutting down, a killed or timed-out
/// statement, network errors the server saw.
const TRANSIENT_CODES: &[u16] = &[
    1040, // ER_CON_COUNT_ERROR
    1053, // ER_SERVER_SHUTDOWN
    1158, // ER_NET_READ_ERROR
    1159, // ER_NET_READ_INTERRUPTED
    1160, // ER_NET_ERROR_ON_WRITE
    1161, // ER_NET_WRITE_INTERRUPTED
    1203, // ER_TOO_MANY_USER_CONNECTIONS
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
    1317, // ER_QUERY_INTERRUPTED
    1927, // ER_CONNECTION_KILLED
    1969, // ER_STATEMENT_TIMEOUT
];

/// Converts a driver error met while `what` (lowercase, names no secret).
pub fn convert(what: &str, exposure: Exposure, e: &Error) -> ConnectError {
    match e {
        Error::Io(IoError::Io(io)) => {
            ConnectError::Transient(format!("{what}: connection failed: {}", io.kind()))
        }
        Error::Driver(d) => {
            let transient = matches!(
                d,
                DriverError::ConnectionClosed
                    | DriverError::PoolDisconnected
                    | DriverError::PacketOutOfOrder
            );
            let msg = match exposure {
                Exposure::Plain => format!("{what}: {d}"),
                Exposure::Secret => format!("{what}: the driver failed"),
            };
            if transient {
                ConnectError::Transient(msg)
            } else {
                ConnectError::Permanent(msg)
            }
        }
        Error::Server(s) => {
            let msg = match exposure {
                Exposure::Plain => format!(
                    "{what}: server error {} ({}): {}",
                    s.code, s.state, s.message
                ),
                Exposure::Secret => format!("{what}: server error {} ({})", s.code, s.state),
            };
            // SQLSTATE class 08 is a connection exception.
            if TRANSIENT_CODES.contains(&s.code) || s.state.starts_with("08") {
                ConnectError::Transient(msg)
            } else {
                ConnectError::Permanent(msg)
            }
        }
        // The URL was checked when the connector was built; anything else the driver
        // reports here is not something a retry fixes.
        Error::Url(_) => ConnectError::Config(format!("{what}: the admin url is not valid")),
        Error::Other(_) => ConnectError::Permanent(format!("{what}: the driver failed")),
    }
}

/// The error for an operation that took longer than the connector waits.
pub fn timed_out(what: &str) -> ConnectError {
    ConnectError::Transient(format!("{what}: timed out"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use mysql_async::ServerError;

    fn server(code: u16, state: &str, message: &str) -> Error {
        Error::Server(ServerError {
            code,
            message: message.into(),
            state: state.into(),
        })
    }

    #[test]
    fn overload_and_network_errors_are_transient() {
        for code in [1040, 1203, 1205, 1213, 1927] {
            assert!(convert("x", Exposure::Plain, &server(code, "HY000", "m")).is_transient());
        }
        assert!(convert("x", Exposure::Plain, &server(2002, "08S01", "m")).is_transient());
        let io = Error::Io(IoError::Io(std::io::ErrorKind::ConnectionRefused.into()));
        assert!(convert("x", Exposure::Plain, &io).is_transient());
        let closed = Error::Driver(DriverError::ConnectionClosed);
        assert!(convert("x", Exposure::Plain, &closed).is_transient());
    }

    #[test]
    fn refusals_are_permanent() {
        for code in [1045, 1044, 1064, 1142, 1227] {
            let e = convert("x", Exposure::Plain, &server(code, "42000", "m"));
            assert!(matches!(e, ConnectError::Permanent(_)), "{code}");
        }
    }

    #[test]
    fn secret_statements_lose_the_server_message() {
        let e = server(1064, "42000", "syntax error near 'IDENTIFIED BY 'hunter2''");
        let plain = convert("setting the password", Exposure::Plain, &e).to_string();
        assert!(plain.contains("hunter2"), "{plain}");
        let secret = convert("setting the password", Exposure::Secret, &e).to_string();
        assert!(!secret.contains("hunter2"), "{secret}");
        assert!(secret.contains("1064"), "{secret}");
    }
}
