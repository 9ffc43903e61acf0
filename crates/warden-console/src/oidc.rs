//! Single sign-on with an OIDC provider (authorization code with PKCE).

/// The configured OIDC sign-in.
pub struct OidcSignIn;
