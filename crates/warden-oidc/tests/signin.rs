//! The console's single sign-on client (`SignIn`) against a stand-in provider on the
//! loopback interface: its discovery document and token endpoint served here, its key set
//! by the crate's `JwksServer`, and ID tokens signed with real keys. What each ID token
//! carries is set per test, so every check `finish` makes can be failed on purpose.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use warden_model::Timestamp;
use warden_oidc::testing::{JwksServer, Signer, jwks};
use warden_oidc::{Claims, Refusal, SignIn, SignInConfig, SignInError};

const CLIENT_ID: &str = "warden-console";
/// A secret with characters that client_secret_basic must form-encode.
const CLIENT_SECRET: &str = "s3cr:t +/é";
const REDIRECT: &str = "http://127.0.0.1:8080/ui/login/oidc/callback";
/// The test clock.
const T0: i64 = 1_800_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds).unwrap()
}

/// What the stand-in provider serves and saw.
#[derive(Default)]
struct Shared {
    discovery: Value,
    /// The token endpoint's next answer: status and body.
    token_answer: (u16, Value),
    /// Each token request: its `Authorization` header and its form fields.
    token_requests: Vec<(String, HashMap<String, String>)>,
}

struct Provider {
    issuer: String,
    keys: JwksServer,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn discovery(State(s): State<Arc<Mutex<Shared>>>) -> Response {
    axum::Json(s.lock().unwrap().discovery.clone()).into_response()
}

async fn token(
    State(s): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let mut s = s.lock().unwrap();
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    s.token_requests.push((auth, form));
    let (status, body) = s.token_answer.clone();
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

impl Provider {
    /// A provider whose key set holds `signers`.
    async fn start(signers: &[&Signer]) -> Self {
        let keys = JwksServer::start(jwks(signers)).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared {
            discovery: json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/auth?tenant=t1"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": keys.url,
                "code_challenge_methods_supported": ["S256"],
            }),
            ..Shared::default()
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/token", post(token))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            issuer,
            keys,
            shared,
            task,
        }
    }

    fn client(&self) -> SignIn {
        SignIn::new(SignInConfig {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: SecretString::from(CLIENT_SECRET),
            redirect_url: REDIRECT.into(),
        })
        .unwrap()
    }

    /// The token endpoint answers `id_token` from now on.
    fn answer(&self, id_token: &str) {
        self.shared.lock().unwrap().token_answer = (
            200,
            json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}),
        );
    }

    /// Good ID token claims for `nonce`, issued at `iat`.
    fn claims(&self, nonce: &str, iat: i64) -> Value {
        json!({
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "alice@example.com",
            "email": "alice@example.com",
            "nonce": nonce,
            "iat": iat,
            "exp": iat + 300,
        })
    }

    /// Redeems a code whose ID token is `id_token`, at `now`, for `nonce`.
    async fn finish(
        &self,
        sign_in: &SignIn,
        id_token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Claims, SignInError> {
        self.answer(id_token);
        sign_in
            .finish("the-code", "the-verifier", nonce, at(now))
            .await
    }
}

fn query(url: &str) -> HashMap<String, String> {
    let (_, q) = url.split_once('?').unwrap();
    serde_urlencoded::from_str(q).unwrap()
}

#[tokio::test]
async fn a_sign_in_goes_to_the_provider_and_comes_back_verified() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    let sign_in = p.client();

    let (url, pending) = sign_in.begin(at(T0)).await.unwrap();
    assert!(
        url.starts_with(&format!("{}/auth?tenant=t1&", p.issuer)),
        "{url}"
    );
    let q = query(&url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["state"], pending.state);
    assert_eq!(q["nonce"], pending.nonce);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()))
    );
    assert!(!url.contains(&pending.verifier), "the verifier stays here");
    for value in [&pending.state, &pending.nonce, &pending.verifier] {
        assert_eq!(value.len(), 43);
    }
    let (_, again) = sign_in.begin(at(T0)).await.unwrap();
    assert_ne!(again.state, pending.state);
    assert_ne!(again.nonce, pending.nonce);
    assert_ne!(again.verifier, pending.verifier);

    p.answer(&rsa.sign(&p.claims(&pending.nonce, T0)));
    let claims = sign_in
        .finish("the-code", &pending.verifier, &pending.nonce, at(T0 + 5))
        .await
        .unwrap();
    assert_eq!(claims.issuer, p.issuer);
    assert_eq!(claims.subject, "alice@example.com");
    assert_eq!(claims.claims["email"], "alice@example.com");

    let (auth, form) = p.shared.lock().unwrap().token_requests[0].clone();
    let basic = STANDARD
        .decode(auth.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(basic).unwrap(),
        "warden-console:s3cr%3At+%2B%2F%C3%A9",
        "id and secret form-encoded before base64 (RFC 6749 §2.3.1)"
    );
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(form["code_verifier"], pending.verifier);
    assert!(!form.contains_key("client_secret"));
    // One discovery, one key set fetch, whatever the number of sign-ins.
    assert_eq!(p.keys.fetches(), 1);
}

#[tokio::test]
async fn the_nonce_must_be_this_sign_ins() {
    let es = Signer::es256("ec-1");
    let p = Provider::start(&[&es]).await;
    let s = p.client();
    let token = es.sign(&p.claims("nonce-of-another-sign-in", T0));
    assert_eq!(
        p.finish(&s, &token, "my-nonce", T0).await,
        Err(SignInError::WrongNonce)
    );
    let mut no_nonce = p.claims("x", T0);
    no_nonce.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        p.finish(&s, &es.sign(&no_nonce), "my-nonce", T0).await,
        Err(SignInError::IdToken(Refusal::MissingClaim("nonce")))
    );
    // An empty expected nonce never matches, not even an empty claim.
    assert_eq!(
        p.finish(&s, &es.sign(&p.claims("", T0)), "", T0).await,
        Err(SignInError::WrongNonce)
    );
    assert!(
        p.finish(&s, &es.sign(&p.claims("my-nonce", T0)), "my-nonce", T0)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_audience_must_be_this_client() {
    let ed = Signer::eddsa("ed-1");
    let p = Provider::start(&[&ed]).await;
    let s = p.client();
    let with = |aud: Value, azp: Option<&str>| {
        let mut c = p.claims("n", T0);
        c["aud"] = aud;
        if let Some(azp) = azp {
            c["azp"] = json!(azp);
        }
        ed.sign(&c)
    };
    assert_eq!(
        p.finish(&s, &with(json!("another-client"), None), "n", T0)
            .await,
        Err(SignInError::IdToken(Refusal::WrongAudience))
    );
    // Several audiences: the token must say it was issued to this client.
    assert_eq!(
        p.finish(&s, &with(json!([CLIENT_ID, "api"]), None), "n", T0)
            .await,
        Err(SignInError::WrongAuthorizedParty)
    );
    assert_eq!(
        p.finish(&s, &with(json!([CLIENT_ID, "api"]), Some("api")), "n", T0)
            .await,
        Err(SignInError::WrongAuthorizedParty)
    );
    assert_eq!(
        p.finish(&s, &with(json!(CLIENT_ID), Some("api")), "n", T0)
            .await,
        Err(SignInError::WrongAuthorizedParty)
    );
    assert!(
        p.finish(
            &s,
            &with(json!([CLIENT_ID, "api"]), Some(CLIENT_ID)),
            "n",
            T0
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn the_issuer_must_be_the_configured_one() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    let s = p.client();
    let mut c = p.claims("n", T0);
    c["iss"] = json!("https://another-provider.example");
    assert_eq!(
        p.finish(&s, &rsa.sign(&c), "n", T0).await,
        Err(SignInError::WrongIssuer)
    );

    // A discovery document naming another issuer is refused before anything is sent.
    let q = Provider::start(&[&rsa]).await;
    q.shared.lock().unwrap().discovery["issuer"] = json!("https://another-provider.example");
    let e = q.client().begin(at(T0)).await.unwrap_err();
    assert!(matches!(e, SignInError::Discovery(_)), "{e}");
    assert!(e.to_string().contains("is not the configured"), "{e}");
}

#[tokio::test]
async fn endpoints_must_be_https_or_loopback() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    p.shared.lock().unwrap().discovery["token_endpoint"] = json!("http://id.example/token");
    let e = p.client().begin(at(T0)).await.unwrap_err();
    assert!(matches!(e, SignInError::Discovery(_)), "{e}");
    assert!(e.to_string().contains("`token_endpoint`"), "{e}");

    let q = Provider::start(&[&rsa]).await;
    q.shared.lock().unwrap().discovery["code_challenge_methods_supported"] = json!(["plain"]);
    let e = q.client().begin(at(T0)).await.unwrap_err();
    assert!(e.to_string().contains("S256"), "{e}");
}

#[tokio::test]
async fn expired_and_future_tokens_are_refused() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    let s = p.client();
    let token = rsa.sign(&p.claims("n", T0));
    // exp is iat + 300; a minute of leeway.
    assert!(p.finish(&s, &token, "n", T0 + 360).await.is_ok());
    assert_eq!(
        p.finish(&s, &token, "n", T0 + 361).await,
        Err(SignInError::IdToken(Refusal::Expired))
    );
    assert_eq!(
        p.finish(&s, &token, "n", T0 - 61).await,
        Err(SignInError::IdToken(Refusal::NotYetValid))
    );
    let mut old = p.claims("n", T0 - 700);
    old["exp"] = json!(T0 + 300);
    assert_eq!(
        p.finish(&s, &rsa.sign(&old), "n", T0).await,
        Err(SignInError::IdToken(Refusal::TooOld))
    );
}

#[tokio::test]
async fn unsigned_and_shared_secret_tokens_are_refused() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    let s = p.client();
    let payload = URL_SAFE_NO_PAD.encode(p.claims("n", T0).to_string());
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    assert_eq!(
        p.finish(&s, &none, "n", T0).await,
        Err(SignInError::IdToken(Refusal::AlgorithmNone))
    );
    // HS256 keyed with the client secret: what a confused relying party would accept.
    let hs = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &p.claims("n", T0),
        &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        p.finish(&s, &hs, "n", T0).await,
        Err(SignInError::IdToken(Refusal::HmacAlgorithm))
    );
    // A payload changed after signing.
    let good = rsa.sign(&p.claims("n", T0));
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims = p.claims("n", T0);
    claims["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        p.finish(&s, &forged, "n", T0).await,
        Err(SignInError::IdToken(Refusal::BadSignature))
    );
}

#[tokio::test]
async fn an_unknown_key_is_fetched_once_then_refused() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    let s = p.client();
    assert!(
        p.finish(&s, &rsa.sign(&p.claims("n", T0)), "n", T0)
            .await
            .is_ok()
    );
    assert_eq!(p.keys.fetches(), 1);

    // A key the provider has not published: one fetch to look for it, then refused.
    let rotated = Signer::es256("ec-rotated");
    let t = T0 + 31;
    assert_eq!(
        p.finish(&s, &rotated.sign(&p.claims("n", t)), "n", t).await,
        Err(SignInError::IdToken(Refusal::UnknownKey(Some(
            "ec-rotated".into()
        ))))
    );
    assert_eq!(p.keys.fetches(), 2);
    // Asking again at once fetches nothing: made-up key ids cannot make us hammer it.
    assert!(matches!(
        p.finish(&s, &rotated.sign(&p.claims("n", t)), "n", t).await,
        Err(SignInError::IdToken(Refusal::UnknownKey(_)))
    ));
    assert_eq!(p.keys.fetches(), 2);

    // Once the provider publishes it, the next fetch finds it.
    p.keys.serve(200, jwks(&[&rsa, &rotated]));
    let t = T0 + 62;
    assert!(
        p.finish(&s, &rotated.sign(&p.claims("n", t)), "n", t)
            .await
            .is_ok()
    );
    assert_eq!(p.keys.fetches(), 3);
}

#[tokio::test]
async fn a_refused_code_and_a_provider_that_is_down_say_so() {
    let rsa = Signer::rs256();
    let p = Provider::start(&[&rsa]).await;
    let s = p.client();
    p.shared.lock().unwrap().token_answer = (
        400,
        json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
    );
    let e = s.finish("used-code", "v", "n", at(T0)).await.unwrap_err();
    assert_eq!(
        e,
        SignInError::CodeRefused("invalid_grant (grant request is invalid)".into())
    );
    assert!(!e.to_string().contains("used-code"), "{e}");
    assert!(!e.is_unavailable());

    p.shared.lock().unwrap().token_answer = (200, json!({"access_token": "at"}));
    let e = s.finish("c", "v", "n", at(T0)).await.unwrap_err();
    assert!(matches!(e, SignInError::TokenResponse(_)), "{e}");

    // Nothing listens: unavailable, and not asked again for 30 s.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = SignIn::new(SignInConfig {
        issuer,
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
        redirect_url: REDIRECT.into(),
    })
    .unwrap();
    let e = down.begin(at(T0)).await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(matches!(e, SignInError::Unavailable(_)), "{e}");
    assert!(!e.to_string().contains(CLIENT_SECRET));
}
