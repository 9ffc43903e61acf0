//! Single sign-on for the web console: Warden as an OpenID Connect relying party, with the
//! authorization code flow and PKCE (S256).
//!
//! [`SignIn::begin`] makes a fresh `state`, `nonce` and PKCE verifier and the provider's
//! authorization URL that carries them (the verifier only as its SHA-256 challenge); the
//! caller keeps the three until the browser comes back. [`SignIn::finish`] redeems the
//! code at the token endpoint (HTTP Basic client authentication) and verifies the ID token
//! it gets: signature against the provider's key set (RS256, ES256 or EdDSA only), `iss`,
//! `aud` (and `azp`), `exp`/`nbf`/`iat` against the caller's instant, and the `nonce`.
//!
//! The provider's discovery document is read on first use and kept, so that a provider
//! that is down does not stop the server from starting; a failed read is retried at most
//! every 30 seconds. Its key set is cached as workload sign-in caches an issuer's.
//!
//! Codes, tokens and the client secret are never logged, never put in an error, and never
//! shown by `Debug`.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use tokio::sync::Mutex;
use warden_model::{Duration, Timestamp};

use crate::config::{JwksSource, safe_url};
use crate::keys::{KeyCache, RefreshPolicy, has_passed};
use crate::refusal::echo;
use crate::{Refusal, claims, jwks, token, verify};

/// The scopes asked for: the ID token, and the claims a catalog identity is found by.
pub const SCOPE: &str = "openid email profile";

/// The largest discovery document accepted.
pub const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

/// The largest token endpoint answer accepted. An ID token is at most
/// [`MAX_TOKEN_BYTES`](crate::MAX_TOKEN_BYTES); the rest is room for the access token.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// How old an ID token may be, by its `iat`, when it is checked: it was minted for this
/// very exchange, so seconds are usual; ten minutes allow for clock skew and slow links.
const MAX_ID_TOKEN_AGE_SECONDS: u64 = 600;

/// How many random bytes make a `state`, a `nonce` or a PKCE verifier (43 characters of
/// base64url, as RFC 7636 asks of a verifier at the least).
const RANDOM_BYTES: usize = 32;

/// The console's registration at the OIDC provider.
#[derive(Clone, Debug)]
pub struct SignInConfig {
    /// The provider's issuer: the exact `iss` of its ID tokens, and where its discovery
    /// document is (`<issuer>/.well-known/openid-configuration`). `https://`, or
    /// `http://` to a loopback host.
    pub issuer: String,
    /// The console's client id at the provider.
    pub client_id: String,
    /// The console's client secret. Its `Debug` shows nothing.
    pub client_secret: SecretString,
    /// Where the provider sends browsers back: `<console>/ui/login/oidc/callback`, as
    /// registered at the provider.
    pub redirect_url: String,
}

/// What a sign-in started by [`SignIn::begin`] needs to be finished: keep it on the
/// server (never in the browser) until the callback, and use it once.
pub struct Pending {
    /// The `state` sent to the provider; the callback must bring it back.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier, sent only to the token endpoint.
    pub verifier: String,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

/// Who the provider says signed in: its verified ID token.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// The token's `iss`: the configured issuer.
    pub issuer: String,
    /// The token's `sub`, non-empty: the person's stable id at the provider.
    pub subject: String,
    /// Every claim of the token, for finding the catalog identity.
    pub claims: Map<String, Value>,
}

/// Why a single sign-on could not be started or finished. The texts name what failed
/// and never hold a code, a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The configuration cannot be used.
    #[error("single sign-on is not configured correctly: {0}")]
    Config(String),
    /// The provider (its discovery document, its token endpoint or its key set) could
    /// not be reached or answered with a server error.
    #[error("the single sign-on provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider's discovery document cannot be used: another issuer, an endpoint
    /// that is not `https://`, a missing field.
    #[error("the single sign-on provider's discovery document cannot be used: {0}")]
    Discovery(String),
    /// The token endpoint refused the code (used, expired, or the PKCE verifier or the
    /// client's credentials did not match); the text is the provider's error code.
    #[error("the single sign-on provider refused the sign-in code: {0}")]
    CodeRefused(String),
    /// The token endpoint's answer is not a token response with an ID token.
    #[error("the single sign-on provider's token response cannot be used: {0}")]
    TokenResponse(String),
    /// The ID token's `iss` is not the configured issuer.
    #[error("the ID token is not from the configured single sign-on provider (wrong issuer)")]
    WrongIssuer,
    /// The ID token has several audiences and its `azp` is not this client, or it names
    /// another `azp`.
    #[error("the ID token was issued to another client (its `azp` is not this console)")]
    WrongAuthorizedParty,
    /// The ID token's `nonce` is not the one this sign-in sent: a token from another
    /// sign-in, perhaps replayed.
    #[error("the ID token belongs to another sign-in (its nonce does not match)")]
    WrongNonce,
    /// The ID token failed a check it shares with workload tokens: its shape or
    /// algorithm, its key, its signature, its audience or its times.
    #[error("the ID token was refused: {0}")]
    IdToken(Refusal),
    /// The operating system's random number generator failed.
    #[error("no random values for single sign-on: {0}")]
    Random(String),
}

impl SignInError {
    /// Whether the provider or the network failed rather than the sign-in being bad: the
    /// person may try again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            SignInError::Unavailable(_) | SignInError::Discovery(_) | SignInError::Random(_) => {
                true
            }
            SignInError::IdToken(r) => r.is_unavailable(),
            _ => false,
        }
    }
}

/// The relying party: one per configured provider, built once and shared (it is
/// `Send + Sync` and caches the provider's endpoints and keys inside).
pub struct SignIn {
    issuer: String,
    client_id: String,
    client_secret: SecretString,
    redirect_url: String,
    discovery_url: Url,
    client: reqwest::Client,
    refresh: RefreshPolicy,
    provider: Mutex<ProviderState>,
}

/// The provider's endpoints once read, or why the last read failed.
#[derive(Default)]
struct ProviderState {
    endpoints: Option<Arc<Endpoints>>,
    attempted_at: Option<Timestamp>,
    last_error: Option<SignInError>,
}

/// What the discovery document says, checked.
struct Endpoints {
    authorization: Url,
    token: Url,
    keys: KeyCache,
}

impl SignIn {
    /// The relying party for `config`, checked: the issuer `https://` (or `http://` to a
    /// loopback host), the redirect URL absolute `http(s)://`, the client id non-empty.
    /// Nothing is fetched here.
    pub fn new(config: SignInConfig) -> Result<Self, SignInError> {
        let bad = |what: &str, problem: String| SignInError::Config(format!("{what} {problem}"));
        let issuer = config.issuer;
        safe_url(&issuer).map_err(|p| bad(&format!("the issuer `{}`", echo(&issuer)), p))?;
        let discovery_url = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .map_err(|e| bad("the issuer's discovery URL", e.to_string()))?;
        match Url::parse(&config.redirect_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.fragment().is_none() => {}
            _ => {
                return Err(bad(
                    "the redirect URL",
                    "must be an absolute http(s):// URL without a fragment".into(),
                ));
            }
        }
        if config.client_id.trim().is_empty() {
            return Err(bad("the client id", "must not be empty".into()));
        }
        let client = jwks::http_client().map_err(|e| {
            SignInError::Config(format!("cannot build the HTTP client: {}", e.without_url()))
        })?;
        Ok(Self {
            issuer,
            client_id: config.client_id,
            client_secret: config.client_secret,
            redirect_url: config.redirect_url,
            discovery_url,
            client,
            refresh: RefreshPolicy {
                interval: crate::default_refresh_interval(),
                max_age: crate::default_max_key_age(),
            },
            provider: Mutex::new(ProviderState::default()),
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Starts a sign-in at `now`: the provider's authorization URL to send the browser
    /// to, and what [`SignIn::finish`] will need. Reads the discovery document if it has
    /// not been read yet.
    pub async fn begin(&self, now: Timestamp) -> Result<(String, Pending), SignInError> {
        let endpoints = self.endpoints(now).await?;
        let pending = Pending {
            state: random()?,
            nonce: random()?,
            verifier: random()?,
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
        let mut url = endpoints.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_url)
            .append_pair("scope", SCOPE)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((url.into(), pending))
    }

    /// Finishes a sign-in at `now`: redeems `code` with the PKCE `verifier` at the token
    /// endpoint and verifies the ID token it answers, which must carry `nonce`. `now` is
    /// the caller's clock: the token's times and the key cache's throttle count from it.
    pub async fn finish(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<Claims, SignInError> {
        if code.is_empty() {
            return Err(SignInError::CodeRefused(
                "the provider sent no code back".into(),
            ));
        }
        let endpoints = self.endpoints(now).await?;
        let id_token = self.redeem(&endpoints.token, code, verifier).await?;
        self.verify(&endpoints, &id_token, nonce, now).await
    }

    /// The provider's endpoints: read once, then kept. A failed read is not retried
    /// before the refresh interval has passed, so that a provider that is down is not
    /// asked on every click.
    async fn endpoints(&self, now: Timestamp) -> Result<Arc<Endpoints>, SignInError> {
        let mut state = self.provider.lock().await;
        if let Some(endpoints) = &state.endpoints {
            return Ok(Arc::clone(endpoints));
        }
        if let (Some(at), Some(why)) = (state.attempted_at, &state.last_error)
            && !has_passed(at, now, self.refresh.interval)
        {
            return Err(why.clone());
        }
        state.attempted_at = Some(now);
        match self.discover().await {
            Ok(endpoints) => {
                tracing::info!(
                    issuer = self.issuer,
                    "read the single sign-on provider's discovery document"
                );
                let endpoints = Arc::new(endpoints);
                state.endpoints = Some(Arc::clone(&endpoints));
                state.last_error = None;
                Ok(endpoints)
            }
            Err(why) => {
                tracing::warn!(
                    issuer = self.issuer,
                    "cannot read the single sign-on provider's discovery document: {why}"
                );
                state.last_error = Some(why.clone());
                Err(why)
            }
        }
    }

    /// Fetches and checks the discovery document.
    async fn discover(&self) -> Result<Endpoints, SignInError> {
        let what = "fetching the discovery document";
        let resp = self
            .client
            .get(self.discovery_url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| SignInError::Unavailable(jwks::network_message(e, what)))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(SignInError::Discovery(format!(
                "its URL answered {status}; redirects are not followed, check the issuer"
            )));
        }
        if !status.is_success() {
            return Err(SignInError::Unavailable(format!(
                "the discovery document's URL answered {status}"
            )));
        }
        let body = jwks::capped_body(resp, MAX_DISCOVERY_BYTES)
            .await
            .map_err(|e| SignInError::Unavailable(jwks::network_message(e, what)))?
            .ok_or_else(|| SignInError::Discovery("it is larger than 256 KiB".into()))?;
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&body) else {
            return Err(SignInError::Discovery("it is not a JSON object".into()));
        };
        let field = |name: &str| match doc.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
            _ => Err(SignInError::Discovery(format!("it has no `{name}`"))),
        };
        let issuer = field("issuer")?;
        if issuer != self.issuer {
            return Err(SignInError::Discovery(format!(
                "its issuer `{}` is not the configured `{}`",
                echo(issuer),
                self.issuer
            )));
        }
        let endpoint = |name: &str| {
            safe_url(field(name)?).map_err(|p| SignInError::Discovery(format!("its `{name}` {p}")))
        };
        if let Some(Value::Array(methods)) = doc.get("code_challenge_methods_supported")
            && !methods.iter().any(|m| m.as_str() == Some("S256"))
        {
            return Err(SignInError::Discovery(
                "its `code_challenge_methods_supported` lacks S256, which the console requires"
                    .into(),
            ));
        }
        Ok(Endpoints {
            authorization: endpoint("authorization_endpoint")?,
            token: endpoint("token_endpoint")?,
            keys: KeyCache::new(JwksSource::Url(endpoint("jwks_uri")?)),
        })
    }

    /// Redeems `code` at the token endpoint; the ID token it answers, unverified.
    async fn redeem(
        &self,
        token_url: &Url,
        code: &str,
        verifier: &str,
    ) -> Result<String, SignInError> {
        let what = "redeeming the code at the token endpoint";
        let unavailable = |e| SignInError::Unavailable(jwks::network_message(e, what));
        let resp = self
            .client
            .post(token_url.clone())
            .header(AUTHORIZATION, self.basic_auth()?)
            .header(ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.redirect_url.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(unavailable)?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(SignInError::TokenResponse(format!(
                "the token endpoint answered {status}; redirects are not followed"
            )));
        }
        if status.is_server_error() {
            return Err(SignInError::Unavailable(format!(
                "the token endpoint answered {status}"
            )));
        }
        let body = jwks::capped_body(resp, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| SignInError::TokenResponse("it is larger than 64 KiB".into()))?;
        let doc = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(doc)) => Some(doc),
            _ => None,
        };
        if !status.is_success() {
            // RFC 6749 §5.2: `error` (a code) and perhaps `error_description`.
            let code = doc.as_ref().and_then(|d| d.get("error")?.as_str());
            return Err(SignInError::CodeRefused(match code {
                Some(code) => {
                    let detail = doc
                        .as_ref()
                        .and_then(|d| d.get("error_description")?.as_str())
                        .map(|d| format!(" ({})", echo(d)))
                        .unwrap_or_default();
                    format!("{}{detail}", echo(code))
                }
                None => format!("the token endpoint answered {status}"),
            }));
        }
        let Some(doc) = doc else {
            return Err(SignInError::TokenResponse("it is not a JSON object".into()));
        };
        match doc.get("id_token") {
            Some(Value::String(t)) if !t.is_empty() => Ok(t.clone()),
            _ => Err(SignInError::TokenResponse(
                "it has no `id_token` (is `openid` among the scopes the client may ask for?)"
                    .into(),
            )),
        }
    }

    /// The `Authorization` header of client_secret_basic: id and secret each
    /// form-urlencoded first (RFC 6749 §2.3.1), then joined by `:` and base64-encoded.
    fn basic_auth(&self) -> Result<HeaderValue, SignInError> {
        let pair = format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(self.client_secret.expose_secret())
        );
        let mut value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
            .map_err(|_| SignInError::Config("the client credentials cannot be sent".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Verifies an ID token: shape and algorithm, issuer, key, signature, then the
    /// claims. The first failure is the error.
    async fn verify(
        &self,
        endpoints: &Endpoints,
        id_token: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<Claims, SignInError> {
        let unverified = token::read(id_token).map_err(SignInError::IdToken)?;
        if unverified.issuer != self.issuer {
            return Err(SignInError::WrongIssuer);
        }
        let key = endpoints
            .keys
            .key_for(
                &self.issuer,
                unverified.kid.as_deref(),
                unverified.alg,
                now,
                self.refresh,
                Some(&self.client),
            )
            .await
            .map_err(SignInError::IdToken)?;
        let claims =
            verify::signed_payload(id_token, &key, unverified.alg).map_err(SignInError::IdToken)?;
        let subject = self.check_claims(&claims, nonce, now)?;
        Ok(Claims {
            issuer: self.issuer.clone(),
            subject,
            claims,
        })
    }

    /// Checks a signed ID token's claims (OpenID Connect Core §3.1.3.7); its `sub`.
    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        nonce: &str,
        now: Timestamp,
    ) -> Result<String, SignInError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(SignInError::WrongIssuer);
        }
        let aud = claims.get("aud");
        if !claims::has_audience(aud, &self.client_id) {
            return Err(SignInError::IdToken(Refusal::WrongAudience));
        }
        let several = matches!(aud, Some(Value::Array(all)) if all.len() > 1);
        match claims.get("azp") {
            Some(Value::String(azp)) if *azp == self.client_id => {}
            None if !several => {}
            _ => return Err(SignInError::WrongAuthorizedParty),
        }
        let max_age = Duration::from_seconds(MAX_ID_TOKEN_AGE_SECONDS).unwrap_or(Duration::MIN);
        claims::times(claims, max_age, now).map_err(SignInError::IdToken)?;
        match claims.get("nonce") {
            Some(Value::String(n)) if !nonce.is_empty() && n == nonce => {}
            None => return Err(SignInError::IdToken(Refusal::MissingClaim("nonce"))),
            Some(_) => return Err(SignInError::WrongNonce),
        }
        claims::text(claims, "sub").map_err(SignInError::IdToken)
    }
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// 32 bytes from the operating system's CSPRNG, base64url without padding.
fn random() -> Result<String, SignInError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| SignInError::Random(e.to_string()))?;
    let text = URL_SAFE_NO_PAD.encode(bytes);
    bytes.fill(0);
    Ok(text)
}

/// `s` encoded as `application/x-www-form-urlencoded` encodes a name or a value: ASCII
/// letters, digits and `*-._` kept, space as `+`, every other byte as `%XX`.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_form_encoded() {
        assert_eq!(form_encode("warden-console"), "warden-console");
        assert_eq!(form_encode("a b+c:d/é%"), "a+b%2Bc%3Ad%2F%C3%A9%25");
        assert_eq!(form_encode("*-._~"), "*-._%7E");
    }

    #[test]
    fn random_values_are_fresh_and_long_enough() {
        let (a, b) = (random().unwrap(), random().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes of base64url");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn nothing_secret_in_debug() {
        let config = SignInConfig {
            issuer: "https://id.example".into(),
            client_id: "console".into(),
            client_secret: SecretString::from("s3cret-value"),
            redirect_url: "https://warden.example/ui/login/oidc/callback".into(),
        };
        assert!(!format!("{config:?}").contains("s3cret-value"));
        let sign_in = SignIn::new(config).unwrap();
        assert!(!format!("{sign_in:?}").contains("s3cret-value"));
        let pending = Pending {
            state: "st".into(),
            nonce: "no".into(),
            verifier: "verifier-value".into(),
        };
        assert_eq!(format!("{pending:?}"), "Pending { .. }");
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        let good = || SignInConfig {
            issuer: "https://id.example".into(),
            client_id: "console".into(),
            client_secret: SecretString::from("x"),
            redirect_url: "https://warden.example/ui/login/oidc/callback".into(),
        };
        assert!(SignIn::new(good()).is_ok());
        let loopback = SignInConfig {
            issuer: "http://127.0.0.1:9660".into(),
            ..good()
        };
        assert!(SignIn::new(loopback).is_ok());
        for bad in [
            SignInConfig {
                issuer: "http://id.example".into(),
                ..good()
            },
            SignInConfig {
                issuer: "not a url".into(),
                ..good()
            },
            SignInConfig {
                client_id: " ".into(),
                ..good()
            },
            SignInConfig {
                redirect_url: "/ui/login/oidc/callback".into(),
                ..good()
            },
        ] {
            let e = SignIn::new(bad).unwrap_err();
            assert!(matches!(e, SignInError::Config(_)), "{e}");
        }
    }
}
