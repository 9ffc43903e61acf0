//! The SCRAM-SHA-256 verifier PostgreSQL stores for a password, computed in the connector
//! so the password itself never reaches the server, its logs or its error messages.
//!
//! The verifier is the one PostgreSQL and libpq make (RFC 5802 and 7677): 16 random salt
//! bytes and 4096 PBKDF2 rounds, PostgreSQL's default. It is computed here rather than by
//! `postgres_protocol::password::scram_sha_256`, which keys a new HMAC in every round:
//! keying once and cloning the keyed state halves the SHA-256 work (two compressions a
//! round instead of four) for the same result, which the tests check against PostgreSQL's,
//! Python's and the driver's verifiers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use warden_connect::ConnectError;

/// PBKDF2 rounds, PostgreSQL's default `scram_iterations`: a verifier no weaker than the
/// server would make itself.
const ITERATIONS: u32 = 4096;
/// Salt length in bytes, as PostgreSQL makes it.
const SALT_LEN: usize = 16;

/// The verifier for `password`, with a fresh random salt.
pub(crate) fn verifier(password: &SecretString) -> Result<String, ConnectError> {
    let password = password.expose_secret();
    if !password.is_ascii() {
        // SASLprep may rewrite non-ASCII text; the driver's function applies it. ASCII
        // text passes SASLprep unchanged, or is refused by it and then used as it is,
        // which PostgreSQL and libpq do too: either way the bytes are the input.
        return Ok(postgres_protocol::password::scram_sha_256(
            password.as_bytes(),
        ));
    }
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt)
        .map_err(|e| ConnectError::Permanent(format!("no randomness for a password salt: {e}")))?;
    verifier_with(password.as_bytes(), &salt, ITERATIONS)
}

/// The verifier for `password` with `salt` and `iterations`, in PostgreSQL's text form
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
fn verifier_with(password: &[u8], salt: &[u8], iterations: u32) -> Result<String, ConnectError> {
    let salted = salted_password(password, salt, iterations)?;
    let client_key = mac(&salted, b"Client Key")?;
    let stored_key = Sha256::digest(client_key);
    let server_key = mac(&salted, b"Server Key")?;
    Ok(format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    ))
}

/// PBKDF2-HMAC-SHA-256 of `password`, one 32-byte block (RFC 5802's `Hi()`).
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> Result<Vec<u8>, ConnectError> {
    let keyed = keyed(password)?;
    let mut round = keyed.clone();
    round.update(salt);
    round.update(&1u32.to_be_bytes());
    let mut u = round.finalize().into_bytes();
    let mut out = u.to_vec();
    for _ in 1..iterations {
        let mut round = keyed.clone();
        round.update(&u);
        u = round.finalize().into_bytes();
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    Ok(out)
}

/// HMAC-SHA-256 of `message` under `key`.
fn mac(key: &[u8], message: &[u8]) -> Result<Vec<u8>, ConnectError> {
    let mut m = keyed(key)?;
    m.update(message);
    Ok(m.finalize().into_bytes().to_vec())
}

fn keyed(key: &[u8]) -> Result<Hmac<Sha256>, ConnectError> {
    // HMAC takes keys of any length; this cannot fail, but is not unwrapped.
    Hmac::<Sha256>::new_from_slice(key)
        .map_err(|_| ConnectError::Permanent("the password verifier could not be keyed".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
    use super::*;

    fn salt_of(verifier: &str) -> Vec<u8> {
        let salt = verifier
            .split_once(':')
            .and_then(|(_, rest)| rest.split_once('$'))
            .map(|(salt, _)| salt)
            .unwrap();
        STANDARD.decode(salt).unwrap()
    }

    #[test]
    fn verifier_equals_the_one_postgresql_made_for_the_same_salt() {
        // `CREATE ROLE … PASSWORD 'pencil'` on PostgreSQL 15.20, read from `pg_authid`.
        let server = "SCRAM-SHA-256$4096:FcXhi12nVvuyOfeKAh9lBA==$AewSv/HgqpUEeq1K0yM4pw/DGRqYly4TEXP8vjvRmPQ=:QXwPHIVVw27Gd5W5upk5W1016P0PDY8lpHBeUkrGE4c=";
        assert_eq!(
            verifier_with(b"pencil", &salt_of(server), 4096).unwrap(),
            server
        );
        // RFC 7677's salt, the keys computed by Python's `hashlib.pbkdf2_hmac`.
        let rfc = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
        assert_eq!(verifier_with(b"pencil", &salt_of(rfc), 4096).unwrap(), rfc);
    }

    #[test]
    fn verifier_equals_the_drivers_for_the_same_salt() {
        let long = "k".repeat(64) + "longer than a block";
        for password in [
            "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4",
            "a",
            "p@ss word;'\\",
            &"x".repeat(64),
            &long,
        ] {
            let driver = postgres_protocol::password::scram_sha_256(password.as_bytes());
            let ours = verifier_with(password.as_bytes(), &salt_of(&driver), 4096).unwrap();
            assert_eq!(ours, driver, "{password}");
        }
    }

    #[test]
    fn each_verifier_has_a_fresh_salt_and_postgresql_defaults() {
        let password = SecretString::from("0123456789abcdefABCDEF0123456789".to_owned());
        let a = verifier(&password).unwrap();
        let b = verifier(&password).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("SCRAM-SHA-256$4096:"), "{a}");
        assert_eq!(salt_of(&a).len(), SALT_LEN);
        assert!(!a.contains("0123456789abcdef"));
        // Non-ASCII passwords go through SASLprep in the driver; the form is the same.
        let other = verifier(&SecretString::from("pässwörd".to_owned())).unwrap();
        assert!(other.starts_with("SCRAM-SHA-256$4096:"), "{other}");
    }
}
