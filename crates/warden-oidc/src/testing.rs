//! Real keys, signed tokens and a key-set server on the loopback interface, for this
//! crate's tests and for end-to-end tests of workload sign-in elsewhere.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private key that signs tokens, and its public half as a JWK.
pub struct Signer {
    /// The algorithm it signs with.
    pub alg: Algorithm,
    /// The `kid` it puts in its tokens' headers.
    pub kid: Option<String>,
    /// The private key.
    pub key: EncodingKey,
    /// Its public half, as a JWK.
    pub jwk: Value,
}

impl Signer {
    /// A fresh ES256 (P-256) key.
    pub fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        // The uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        assert_eq!((point.len(), point[0]), (65, 0x04));
        Self {
            alg: Algorithm::ES256,
            kid: Some(kid.into()),
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                "x": b64(&point[1..33]), "y": b64(&point[33..]),
            }),
        }
    }

    /// A fresh Ed25519 key.
    pub fn eddsa(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self {
            alg: Algorithm::EdDSA,
            kid: Some(kid.into()),
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": b64(pair.public_key().as_ref()),
            }),
        }
    }

    /// The committed RSA test key (`tests/fixtures/README.md`), `kid` `rsa-1`.
    pub fn rs256() -> Self {
        let der = std::fs::read(fixture("rsa2048.pkcs1.der")).unwrap();
        let jwk: Value =
            serde_json::from_slice(&std::fs::read(fixture("rsa2048.jwk.json")).unwrap()).unwrap();
        Self {
            alg: Algorithm::RS256,
            kid: jwk["kid"].as_str().map(Into::into),
            key: EncodingKey::from_rsa_der(&der),
            jwk,
        }
    }

    /// This key without a `kid`, in the set and in the tokens it signs.
    pub fn without_kid(mut self) -> Self {
        self.kid = None;
        self.jwk.as_object_mut().unwrap().remove("kid");
        self
    }

    /// A token of `claims` signed by this key.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid.clone_from(&self.kid);
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// A token whose header says `kid` whatever this key's is.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

/// A committed test fixture.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A key set holding `signers`' public keys.
pub fn jwks(signers: &[&Signer]) -> String {
    json!({ "keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

/// What the server answers.
#[derive(Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Extra header lines, each ending in CRLF.
    pub headers: String,
    /// The body.
    pub body: String,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering every request with the current
/// [`Answer`], one connection per request, and counting requests.
pub struct JwksServer {
    /// Where the key set is served.
    pub url: String,
    fetches: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Serves `body` with status 200 until told otherwise.
    pub async fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let fetches = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            headers: String::new(),
            body,
        }));
        let task = tokio::spawn({
            let (fetches, answer) = (Arc::clone(&fetches), Arc::clone(&answer));
            async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let (fetches, answer) = (Arc::clone(&fetches), Arc::clone(&answer));
                    tokio::spawn(async move {
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                            if request.len() > 16 * 1024 {
                                return;
                            }
                        }
                        assert!(request.starts_with(b"GET /jwks HTTP/1.1\r\n"));
                        fetches.fetch_add(1, Ordering::SeqCst);
                        let a = answer.lock().unwrap().clone();
                        let response = format!(
                            "HTTP/1.1 {} Test\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\nconnection: close\r\n{}\r\n{}",
                            a.status,
                            a.body.len(),
                            a.headers,
                            a.body
                        );
                        // The client may hang up early (a body over the cap): fine.
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    });
                }
            }
        });
        Self {
            url,
            fetches,
            answer,
            task,
        }
    }

    /// How many requests it has answered.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Answers `status` and `body` from now on.
    pub fn serve(&self, status: u16, body: String) {
        *self.answer.lock().unwrap() = Answer {
            status,
            headers: String::new(),
            body,
        };
    }

    /// Answers a redirect to `to` from now on.
    pub fn redirect(&self, to: &str) {
        *self.answer.lock().unwrap() = Answer {
            status: 302,
            headers: format!("location: {to}\r\n"),
            body: String::new(),
        };
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
