//! End-to-end checks of `Verifier::verify` with real keys: ES256 and EdDSA keys made by
//! `ring` in each test, a fixed RSA test key for RS256, key sets read from a file or
//! served by a tiny HTTP server on the loopback interface that counts its fetches.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::Arc;
use warden_model::{Duration, Timestamp};

use tokio::net::TcpListener;
use warden_oidc::testing::{JwksServer, Signer, jwks};
use warden_oidc::{IssuerConfig, MAX_TOKEN_BYTES, Refusal, Verified, Verifier};

const ISSUER: &str = "https://token.ci.example";
const AUDIENCE: &str = "https://warden.example";
/// The test clock's starting instant.
const T0: i64 = 1_800_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds).unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_seconds(s).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------
// Keys and tokens

/// Good claims for a token issued at `iat`, valid for 10 minutes.
fn claims_at(iat: i64) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "repo:acme/app:ref:refs/heads/main",
        "jti": format!("jti-{iat}"),
        "iat": iat,
        "nbf": iat,
        "exp": iat + 600,
        "repository": "acme/app",
        "ref": "refs/heads/main",
        "run_attempt": 1,
    })
}

fn claims() -> Value {
    claims_at(T0)
}

/// `claims()` with `key` set to `value`, or removed if `value` is null.
fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims();
    let map = c.as_object_mut().unwrap();
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.into(), value);
    }
    c
}

/// A token with any header and payload and a made-up signature.
fn forge(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

fn issuer_config() -> IssuerConfig {
    IssuerConfig {
        issuer: ISSUER.into(),
        jwks_url: None,
        jwks_file: None,
        audience: AUDIENCE.into(),
        max_token_age: warden_oidc::default_max_token_age(),
    }
}

/// A verifier reading its key set from a file holding `signers`' keys. The directory
/// must outlive the verifier's first use.
fn file_verifier(signers: &[&Signer]) -> (Verifier, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(signers)).unwrap();
    let verifier = Verifier::new(vec![IssuerConfig {
        jwks_file: Some(path),
        ..issuer_config()
    }])
    .unwrap();
    (verifier, dir)
}

async fn refusal(verifier: &Verifier, token: &str, now: Timestamp) -> Refusal {
    match verifier.verify(token, now).await {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(r) => r,
    }
}

// ---------------------------------------------------------------------------------------
// A key set served over HTTP

fn verifier(server: &JwksServer) -> Verifier {
    Verifier::new(vec![IssuerConfig {
        jwks_url: Some(server.url.clone()),
        ..issuer_config()
    }])
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Accepted tokens

#[tokio::test]
async fn es256_eddsa_and_rs256_tokens_from_a_file_verify() {
    let es = Signer::es256("es-1");
    let ed = Signer::eddsa("ed-1");
    let rsa = Signer::rs256();
    let (verifier, _dir) = file_verifier(&[&es, &ed, &rsa]);
    assert!(!verifier.is_empty());
    assert_eq!(verifier.issuers().collect::<Vec<_>>(), [ISSUER]);

    for signer in [&es, &ed, &rsa] {
        let token = signer.sign(&claims());
        let v: Verified = verifier.verify(&token, at(T0 + 5)).await.unwrap();
        assert_eq!(v.issuer, ISSUER);
        assert_eq!(v.subject, "repo:acme/app:ref:refs/heads/main");
        assert_eq!(v.jti, format!("jti-{T0}"));
        assert_eq!(v.issued_at, at(T0));
        assert_eq!(v.expires_at, at(T0 + 600));
        assert_eq!(v.claims["repository"], "acme/app");
        assert_eq!(v.claims["run_attempt"], 1);
        assert_eq!(Value::Object(v.claims.clone()), claims());
        // Nothing printable about a verified token repeats the token.
        let signature = token.rsplit('.').next().unwrap();
        assert!(!format!("{v:?}").contains(signature));
        assert!(!format!("{verifier:?}").contains(signature));
    }
}

#[tokio::test]
async fn audience_may_be_one_of_several() {
    let es = Signer::es256("es-1");
    let (verifier, _dir) = file_verifier(&[&es]);
    let token = es.sign(&claims_with("aud", json!(["sts.amazonaws.com", AUDIENCE])));
    assert!(verifier.verify(&token, at(T0)).await.is_ok());
}

#[tokio::test]
async fn a_token_without_kid_uses_the_one_key_for_its_algorithm() {
    let ed = Signer::eddsa("ed").without_kid();
    let es = Signer::es256("es");
    let (verifier, _dir) = file_verifier(&[&ed, &es]);
    // One EdDSA key in the set: it is the one.
    assert!(verifier.verify(&ed.sign(&claims()), at(T0)).await.is_ok());

    // Two ES256 keys: a token naming neither is refused rather than tried on both.
    let es2 = Signer::es256("es2");
    let (verifier, _dir) = file_verifier(&[&es, &es2]);
    let token = clone_without_kid(&es).sign(&claims());
    assert_eq!(
        refusal(&verifier, &token, at(T0)).await,
        Refusal::UnknownKey(None)
    );
}

/// The same private key as `s`, its tokens naming no `kid`.
fn clone_without_kid(s: &Signer) -> Signer {
    Signer {
        alg: s.alg,
        kid: None,
        key: s.key.clone(),
        jwk: s.jwk.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// Refusals, in the order the rules apply

#[tokio::test]
async fn unsigned_and_hmac_tokens_are_refused() {
    let es = Signer::es256("es-1");
    let (verifier, _dir) = file_verifier(&[&es]);
    for alg in ["none", "None", "NONE"] {
        let token = forge(&json!({"alg": alg, "typ": "JWT"}), &claims(), "");
        assert_eq!(
            refusal(&verifier, &token, at(T0)).await,
            Refusal::AlgorithmNone
        );
    }
    // HS256 with a secret, and the classic confusion: the "secret" is the public key.
    let public_key = es.jwk.to_string();
    for secret in [b"s3cret".as_slice(), public_key.as_bytes()] {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        let r = refusal(&verifier, &token, at(T0)).await;
        assert_eq!(r, Refusal::HmacAlgorithm);
        assert_eq!(r.code(), "hmac_algorithm");
    }
}

#[tokio::test]
async fn other_algorithms_are_refused() {
    let rsa = Signer::rs256();
    let (verifier, _dir) = file_verifier(&[&rsa]);
    // A genuine RS384 signature by a key in the set is still refused: the algorithm list
    // is fixed, not whatever the key could do.
    let mut header = Header::new(Algorithm::RS384);
    header.kid = Some("rsa-1".into());
    let token = jsonwebtoken::encode(&header, &claims(), &rsa.key).unwrap();
    let r = refusal(&verifier, &token, at(T0)).await;
    assert_eq!(r, Refusal::AlgorithmNotAllowed("RS384".into()));
    assert_eq!(r.code(), "algorithm_not_allowed");
    for alg in ["PS256", "ES384", "ES512", "RSA-OAEP"] {
        let token = forge(&json!({"alg": alg, "kid": "rsa-1"}), &claims(), "c2ln");
        assert_eq!(
            refusal(&verifier, &token, at(T0)).await,
            Refusal::AlgorithmNotAllowed(alg.into())
        );
    }
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let es = Signer::es256("es-1");
    let (verifier, _dir) = file_verifier(&[&es]);
    let good = es.sign(&claims());
    let oversized = format!("{good}{}", "A".repeat(MAX_TOKEN_BYTES));
    let parts: Vec<&str> = good.split('.').collect();
    for token in [
        String::new(),
        "not a token".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra"),
        format!("{}.{}.@@@", parts[0], parts[1]),
        format!("Bearer {good}"),
        oversized,
    ] {
        let r = refusal(&verifier, &token, at(T0)).await;
        assert!(matches!(r, Refusal::Malformed(_)), "{r:?}");
        assert_eq!(r.code(), "malformed");
    }
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let es = Signer::es256("es-1");
    let ed = Signer::eddsa("ed-1");
    let (verifier, _dir) = file_verifier(&[&es, &ed]);
    for signer in [&es, &ed] {
        let token = signer.sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = claims_with("sub", json!("repo:acme/app:ref:refs/heads/release"));
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(tampered.to_string().as_bytes()),
            parts[2]
        );
        let r = refusal(&verifier, &forged, at(T0)).await;
        assert_eq!(r, Refusal::BadSignature);
        assert_eq!(r.code(), "bad_signature");
    }
    // A stranger's key claiming a kid of the set.
    let stranger = Signer::es256("stranger");
    let token = stranger.sign_as("es-1", &claims());
    assert_eq!(
        refusal(&verifier, &token, at(T0)).await,
        Refusal::BadSignature
    );
}

#[tokio::test]
async fn a_key_of_another_type_or_algorithm_is_not_used() {
    let es = Signer::es256("es-1");
    let ed = Signer::eddsa("ed-1");
    let mut declares_rs256 = Signer::es256("es-rs");
    declares_rs256.jwk["alg"] = json!("RS256");
    let (verifier, _dir) = file_verifier(&[&es, &ed, &declares_rs256]);
    // An ES256 token naming the Ed25519 key.
    let token = es.sign_as("ed-1", &claims());
    let r = refusal(&verifier, &token, at(T0)).await;
    assert_eq!(r, Refusal::KeyAlgorithmMismatch);
    assert_eq!(r.code(), "key_algorithm_mismatch");
    // An ES256 token naming an EC key that declares itself for RS256.
    let token = declares_rs256.sign(&claims());
    assert_eq!(
        refusal(&verifier, &token, at(T0)).await,
        Refusal::KeyAlgorithmMismatch
    );
}

#[tokio::test]
async fn unknown_issuer_and_unknown_key_are_refused() {
    let es = Signer::es256("es-1");
    let (verifier, _dir) = file_verifier(&[&es]);
    for iss in ["https://evil.example", "https://token.ci.example/", ""] {
        let token = es.sign(&claims_with("iss", json!(iss)));
        let r = refusal(&verifier, &token, at(T0)).await;
        assert_eq!(r, Refusal::WrongIssuer, "{iss}");
        assert_eq!(r.code(), "wrong_issuer");
    }
    let token = es.sign(&claims_with("iss", Value::Null));
    assert_eq!(
        refusal(&verifier, &token, at(T0)).await,
        Refusal::MissingClaim("iss")
    );

    let token = es.sign_as("nope", &claims());
    let r = refusal(&verifier, &token, at(T0)).await;
    assert_eq!(r, Refusal::UnknownKey(Some("nope".into())));
    assert_eq!(r.code(), "unknown_key");
    assert!(!r.is_unavailable());
}

#[tokio::test]
async fn claim_refusals() {
    let es = Signer::es256("es-1");
    let (verifier, _dir) = file_verifier(&[&es]);
    let now = at(T0 + 30);
    let cases = [
        (
            claims_with("aud", json!("https://other.example")),
            Refusal::WrongAudience,
        ),
        (claims_with("aud", Value::Null), Refusal::WrongAudience),
        (claims_with("exp", json!(T0 - 31)), Refusal::Expired),
        (claims_with("nbf", json!(T0 + 91)), Refusal::NotYetValid),
        (claims_with("iat", json!(T0 + 91)), Refusal::NotYetValid),
        (claims_with("iat", json!(T0 + 30 - 601)), Refusal::TooOld),
        (
            claims_with("iat", Value::Null),
            Refusal::MissingClaim("iat"),
        ),
        (
            claims_with("exp", Value::Null),
            Refusal::MissingClaim("exp"),
        ),
        (
            claims_with("jti", Value::Null),
            Refusal::MissingClaim("jti"),
        ),
        (
            claims_with("sub", Value::Null),
            Refusal::MissingClaim("sub"),
        ),
        (claims_with("sub", json!("")), Refusal::MissingClaim("sub")),
        (
            claims_with("exp", json!("soon")),
            Refusal::Malformed("the `exp` claim is not a number".into()),
        ),
    ];
    for (claims, expected) in cases {
        let token = es.sign(&claims);
        assert_eq!(refusal(&verifier, &token, now).await, expected, "{claims}");
    }
    // The boundaries themselves pass: 60 s of leeway, and an age of exactly the maximum.
    for ok in [
        claims_with("exp", json!(T0 - 30)),
        claims_with("nbf", json!(T0 + 90)),
        claims_with("iat", json!(T0 + 90)),
        claims_with("iat", json!(T0 + 30 - 600)),
    ] {
        let token = es.sign(&ok);
        assert!(verifier.verify(&token, now).await.is_ok(), "{ok}");
    }
}

#[tokio::test]
async fn max_token_age_is_per_issuer() {
    let es = Signer::es256("es-1");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[&es])).unwrap();
    let verifier = Verifier::new(vec![IssuerConfig {
        jwks_file: Some(path),
        max_token_age: secs(60),
        ..issuer_config()
    }])
    .unwrap();
    let token = es.sign(&claims());
    assert!(verifier.verify(&token, at(T0 + 60)).await.is_ok());
    assert_eq!(
        refusal(&verifier, &token, at(T0 + 61)).await,
        Refusal::TooOld
    );
}

#[tokio::test]
async fn with_no_issuers_every_token_is_refused() {
    let verifier = Verifier::new(vec![]).unwrap();
    assert!(verifier.is_empty());
    assert_eq!(verifier.issuers().count(), 0);
    let token = Signer::es256("k").sign(&claims());
    assert_eq!(
        refusal(&verifier, &token, at(T0)).await,
        Refusal::WrongIssuer
    );
}

// ---------------------------------------------------------------------------------------
// Key fetching and the refresh throttle

#[tokio::test]
async fn a_rotated_key_is_fetched_only_after_the_refresh_interval() {
    let old = Signer::es256("old");
    let new = Signer::eddsa("new");
    let server = JwksServer::start(jwks(&[&old])).await;
    let verifier = verifier(&server).with_refresh_interval(secs(60));
    assert_eq!(
        server.fetches(),
        0,
        "nothing is fetched before the first token"
    );

    assert!(verifier.verify(&old.sign(&claims()), at(T0)).await.is_ok());
    assert_eq!(server.fetches(), 1);
    assert!(
        verifier
            .verify(&old.sign(&claims()), at(T0 + 1))
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 1, "known keys are served from the cache");

    // The issuer rotates. Within the interval the new kid is refused without a fetch.
    server.serve(200, jwks(&[&old, &new]));
    let token = new.sign(&claims());
    for t in [T0 + 10, T0 + 59] {
        assert_eq!(
            refusal(&verifier, &token, at(t)).await,
            Refusal::UnknownKey(Some("new".into()))
        );
        assert_eq!(server.fetches(), 1, "throttled at {t}");
    }
    // Once the interval has passed on the caller's clock, one fetch finds it.
    let v = verifier.verify(&token, at(T0 + 60)).await.unwrap();
    assert_eq!(v.subject, "repo:acme/app:ref:refs/heads/main");
    assert_eq!(server.fetches(), 2);
    assert!(verifier.verify(&token, at(T0 + 61)).await.is_ok());
    // A made-up kid right after costs no fetch either.
    let bogus = new.sign_as("bogus", &claims());
    assert_eq!(
        refusal(&verifier, &bogus, at(T0 + 62)).await,
        Refusal::UnknownKey(Some("bogus".into()))
    );
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn the_default_refresh_interval_is_thirty_seconds() {
    assert_eq!(warden_oidc::default_refresh_interval(), secs(30));
    let old = Signer::es256("old");
    let new = Signer::es256("new");
    let server = JwksServer::start(jwks(&[&old])).await;
    let verifier = verifier(&server);
    assert!(verifier.verify(&old.sign(&claims()), at(T0)).await.is_ok());
    server.serve(200, jwks(&[&new]));
    let token = new.sign(&claims());
    assert!(verifier.verify(&token, at(T0 + 29)).await.is_err());
    assert!(verifier.verify(&token, at(T0 + 30)).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_cached_keys() {
    let k1 = Signer::es256("k1");
    let k2 = Signer::eddsa("k2");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let verifier = verifier(&server)
        .with_refresh_interval(secs(30))
        .with_max_key_age(secs(120));
    assert!(verifier.verify(&k1.sign(&claims()), at(T0)).await.is_ok());

    server.serve(500, "oops".into());
    // An unknown kid makes a fetch, which fails: the cache still answers, and the
    // token is refused for its key, not as the issuer being down.
    let token2 = k2.sign(&claims());
    assert_eq!(
        refusal(&verifier, &token2, at(T0 + 30)).await,
        Refusal::UnknownKey(Some("k2".into()))
    );
    assert_eq!(server.fetches(), 2);
    assert!(
        verifier
            .verify(&k1.sign(&claims()), at(T0 + 31))
            .await
            .is_ok()
    );
    // Keys past their age are fetched again; that fails too, and they stay in use.
    assert!(
        verifier
            .verify(&k1.sign(&claims_at(T0 + 150)), at(T0 + 150))
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 3);
    // A document that is not a key set is a failure, not an empty set.
    server.serve(200, "<html>maintenance</html>".into());
    assert!(
        verifier
            .verify(&k1.sign(&claims_at(T0 + 200)), at(T0 + 200))
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 4);

    // The issuer recovers: the next allowed fetch brings the new key.
    server.serve(200, jwks(&[&k2]));
    assert!(
        verifier
            .verify(&k2.sign(&claims_at(T0 + 240)), at(T0 + 240))
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 5);
}

#[tokio::test]
async fn a_withdrawn_key_stops_working_once_the_keys_are_old() {
    let k1 = Signer::es256("k1");
    let k2 = Signer::es256("k2");
    let server = JwksServer::start(jwks(&[&k1, &k2])).await;
    let verifier = verifier(&server).with_max_key_age(secs(300));
    assert!(verifier.verify(&k1.sign(&claims()), at(T0)).await.is_ok());
    server.serve(200, jwks(&[&k2]));
    assert!(
        verifier
            .verify(&k1.sign(&claims_at(T0 + 299)), at(T0 + 299))
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 1);
    assert_eq!(
        refusal(&verifier, &k1.sign(&claims_at(T0 + 300)), at(T0 + 300)).await,
        Refusal::UnknownKey(Some("k1".into()))
    );
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn without_any_keys_a_failed_fetch_is_unavailable() {
    let k1 = Signer::es256("k1");
    let server = JwksServer::start(String::new()).await;
    server.serve(503, "down".into());
    let verifier = verifier(&server);
    let token = k1.sign(&claims());
    let r = refusal(&verifier, &token, at(T0)).await;
    assert_eq!(
        r,
        Refusal::KeysUnavailable("the key set URL answered 503 Service Unavailable".into())
    );
    assert_eq!(r.code(), "keys_unavailable");
    assert!(r.is_unavailable());
    assert_eq!(server.fetches(), 1);
    // The throttle holds for failures too; the answer stays "unavailable".
    assert!(
        refusal(&verifier, &token, at(T0 + 5))
            .await
            .is_unavailable()
    );
    assert_eq!(server.fetches(), 1);
    server.serve(200, jwks(&[&k1]));
    assert!(verifier.verify(&token, at(T0 + 30)).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let k1 = Signer::es256("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    server.redirect(&server.url.replace("/jwks", "/elsewhere"));
    let r = refusal(&verifier(&server), &k1.sign(&claims()), at(T0)).await;
    assert!(
        matches!(&r, Refusal::KeysUnavailable(why) if why.contains("302")),
        "{r:?}"
    );
    assert_eq!(server.fetches(), 1, "the redirect target was not asked");
}

#[tokio::test]
async fn a_key_set_over_one_mib_is_refused() {
    let k1 = Signer::es256("k1");
    let mut doc = jwks(&[&k1]);
    doc.insert_str(
        1,
        &format!("\"pad\": \"{}\", ", "x".repeat(warden_oidc::MAX_JWKS_BYTES)),
    );
    let server = JwksServer::start(doc).await;
    let r = refusal(&verifier(&server), &k1.sign(&claims()), at(T0)).await;
    assert_eq!(
        r,
        Refusal::KeysUnavailable("the key set is larger than 1 MiB".into())
    );
}

#[tokio::test]
async fn an_unreachable_key_set_is_unavailable() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let verifier = Verifier::new(vec![IssuerConfig {
        jwks_url: Some(format!("http://127.0.0.1:{port}/jwks")),
        ..issuer_config()
    }])
    .unwrap();
    let r = refusal(&verifier, &Signer::es256("k").sign(&claims()), at(T0)).await;
    assert!(r.is_unavailable(), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_tokens_share_one_fetch() {
    let k1 = Signer::es256("k1");
    let server = JwksServer::start(jwks(&[&k1])).await;
    let verifier = Arc::new(verifier(&server));
    let token = k1.sign(&claims());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (verifier, token) = (Arc::clone(&verifier), token.clone());
            // `spawn` also proves the verify future is `Send`.
            tokio::spawn(async move { verifier.verify(&token, at(T0 + i)).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(server.fetches(), 1);
}

// ---------------------------------------------------------------------------------------
// Configuration

#[test]
fn configuration_mistakes_name_the_issuer_and_field() {
    let url = |u: &str| IssuerConfig {
        jwks_url: Some(u.into()),
        ..issuer_config()
    };
    let field = |configs: Vec<IssuerConfig>| match Verifier::new(configs) {
        Ok(_) => panic!("accepted"),
        Err(e) => {
            assert!(e.to_string().contains(ISSUER), "{e}");
            e.field()
        }
    };
    assert_eq!(
        field(vec![url("http://keys.example/jwks")]),
        Some("jwks_url")
    );
    assert_eq!(
        field(vec![url("http://192.168.1.10/jwks")]),
        Some("jwks_url")
    );
    assert_eq!(
        field(vec![IssuerConfig {
            jwks_file: Some("/etc/jwks.json".into()),
            ..url("https://keys.example/jwks")
        }]),
        Some("jwks_url")
    );
    assert_eq!(field(vec![issuer_config()]), Some("jwks_url"));
    assert_eq!(
        field(vec![
            url("https://keys.example/jwks"),
            url("https://keys.example/other")
        ]),
        Some("issuer")
    );
    assert_eq!(
        field(vec![IssuerConfig {
            audience: String::new(),
            ..url("https://keys.example/jwks")
        }]),
        Some("audience")
    );
    for ok in [
        "https://keys.example/jwks",
        "http://127.0.0.1:1/jwks",
        "http://[::1]:1/jwks",
        "http://localhost/jwks",
    ] {
        assert!(Verifier::new(vec![url(ok)]).is_ok(), "{ok}");
    }
}

#[test]
fn the_verifier_is_shareable() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Verifier>();
    shareable::<Verified>();
    shareable::<Refusal>();
}
