//! Turns driver errors into the connector's error: whether a retry can help, and a message
//! that never carries a secret (statements holding a password verifier report only their
//! SQLSTATE, since a server message may quote the statement).

use tokio_postgres::error::SqlState;
use warden_connect::ConnectError;

/// Whether the statement that failed held a secret, so its server message must not be shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Echo {
    /// The server's message may be shown.
    Show,
    /// Only the SQLSTATE may be shown.
    Hide,
}

/// Whether a failure with this SQLSTATE can pass if the same call is made later.
fn transient_state(code: &SqlState) -> bool {
    let code = code.code();
    // 08: connection exception; 53: insufficient resources (too many connections, out of
    // memory, disk full); 57P0x: the server is shutting down or starting up; 57014: a
    // statement or lock timeout; 40: serialization failure or deadlock; 55P03: a lock
    // was not available; 42710: a concurrent provision created the role first (the retry
    // takes the `ALTER ROLE` path); 2BP01: a role's session created an object after
    // `remove` looked (the retry reassigns it).
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P0")
        || code.starts_with("40")
        || matches!(code, "57014" | "55P03" | "42710" | "2BP01")
}

/// Maps a driver error met while running statements that hold `secret` (a password
/// verifier): the server's message is shown, naming the group or role it refused, unless
/// it quotes any part of the secret, when only the SQLSTATE is.
pub(crate) fn map_holding(what: &str, secret: &str, e: &tokio_postgres::Error) -> ConnectError {
    let quoted = e
        .as_db_error()
        .is_some_and(|db| quotes(db.message(), secret));
    map(what, if quoted { Echo::Hide } else { Echo::Show }, e)
}

/// Whether `message` holds `secret` or one of its salt and key parts.
fn quotes(message: &str, secret: &str) -> bool {
    message.contains("SCRAM-SHA-256")
        || secret
            .split(['$', ':'])
            .filter(|part| part.len() >= 8)
            .any(|part| message.contains(part))
}

/// Maps a driver error met while doing `what` (which names only non-secret things).
pub(crate) fn map(what: &str, echo: Echo, e: &tokio_postgres::Error) -> ConnectError {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code();
            let msg = match echo {
                Echo::Show => format!("{what}: {} (SQLSTATE {})", db.message(), code.code()),
                Echo::Hide => format!("{what}: SQLSTATE {}", code.code()),
            };
            if transient_state(code) {
                ConnectError::Transient(msg)
            } else {
                ConnectError::Permanent(msg)
            }
        }
        // No server answer: the connection failed, closed or timed out. The driver's own
        // text here names the I/O failure, never a statement or a password.
        None => ConnectError::Transient(format!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_quoting_the_verifier_or_a_part_of_it_is_hidden() {
        let secret = "SCRAM-SHA-256$4096:FcXhi12nVvuyOfeKAh9lBA==$AewSv/HgqpUEeq1K0yM4pw/DGRqYly4TEXP8vjvRmPQ=:QXwPHIVVw27Gd5W5upk5W1016P0PDY8lpHBeUkrGE4c=";
        assert!(quotes(&format!("invalid value \"{secret}\""), secret));
        assert!(quotes(
            "near \"AewSv/HgqpUEeq1K0yM4pw/DGRqYly4TEXP8vjvRmPQ=\"",
            secret
        ));
        assert!(quotes("salt FcXhi12nVvuyOfeKAh9lBA==", secret));
        assert!(!quotes(
            "permission denied to grant role \"ledger_reader\"",
            secret
        ));
    }

    #[test]
    fn retryable_states_are_transient_and_refusals_permanent() {
        for code in [
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::CONNECTION_FAILURE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::QUERY_CANCELED,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::DUPLICATE_OBJECT,
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
        ] {
            assert!(transient_state(&code), "{}", code.code());
        }
        for code in [
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::SYNTAX_ERROR,
            SqlState::UNDEFINED_OBJECT,
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        ] {
            assert!(!transient_state(&code), "{}", code.code());
        }
    }
}
