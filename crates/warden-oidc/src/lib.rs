//! Workload sign-in: verifying the short-lived OIDC token a CI/CD job (GitHub Actions,
//! GitLab CI, Kubernetes…) gets from its platform, against the issuers configured in
//! `[[oidc_issuer]]` blocks.
//!
//! A [`Verifier`] is built once from the configuration and shared. [`Verifier::verify`]
//! takes a token and the caller's clock and answers either [`Verified`] (who the
//! workload is by its issuer's word, with every claim) or a [`Refusal`] saying why not.
//! Matching the verified claims to a workload in Warden's catalog happens elsewhere.
//!
//! Accepted tokens are signed with RS256, ES256 or EdDSA by a key from the issuer's JWK
//! set, which is fetched lazily and cached; they carry the configured audience, are
//! within `exp`/`nbf` (60 s leeway), were issued at most `max_token_age` ago, and have a
//! `sub` and a `jti`.
//!
//! The same checks serve the web console's single sign-on: [`SignIn`] is the relying
//! party of the authorization code flow with PKCE, whose ID tokens are verified against
//! the provider's key set, cached the same way.
//!
//! Tokens are bearer credentials: nothing in this crate logs or stores one, and no type
//! here holds one.

mod alg;
mod claims;
mod config;
mod jwks;
mod keys;
mod refusal;
mod signin;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
mod verify;

pub use claims::LEEWAY_SECONDS;
pub use config::{ConfigError, IssuerConfig, default_max_token_age, validate};
pub use jwks::{FETCH_TIMEOUT, MAX_JWKS_BYTES};
pub use refusal::Refusal;
pub use signin::{
    Claims, MAX_DISCOVERY_BYTES, MAX_TOKEN_RESPONSE_BYTES, Pending, SCOPE, SignIn, SignInConfig,
    SignInError,
};
pub use token::MAX_TOKEN_BYTES;
pub use verify::{Verified, Verifier, default_max_key_age, default_refresh_interval};
