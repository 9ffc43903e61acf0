//! The `[[oidc_issuer]]` blocks of the server configuration, and checking them once at
//! start-up so that a mistake stops the server with a message instead of refusing every
//! workload later.

use std::net::IpAddr;
use std::path::PathBuf;

use reqwest::Url;
use warden_model::Duration;

/// One `[[oidc_issuer]]` block of the server config: a CI/CD platform whose workload
/// tokens Warden accepts.
///
/// ```toml
/// [[oidc_issuer]]
/// issuer = "https://token.actions.githubusercontent.com"
/// jwks_url = "https://token.actions.githubusercontent.com/.well-known/jwks"
/// audience = "https://warden.example.com"
/// max_token_age = "10m"
/// ```
#[derive(Clone, PartialEq, Eq, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` value of the platform's tokens. Compared byte for byte: no
    /// trailing-slash or case folding, since an issuer is an identity, not a URL to fetch.
    pub issuer: String,
    /// Where the issuer publishes its JWK set. Exactly one of `jwks_url` and `jwks_file`
    /// must be set. Must be `https://`, except `http://` to a loopback host (127.0.0.1,
    /// ::1, localhost) for tests and sidecars.
    pub jwks_url: Option<String>,
    /// A local file holding the issuer's JWK set, e.g. a Kubernetes cluster's keys
    /// mounted into the pod. Exactly one of `jwks_url` and `jwks_file` must be set.
    pub jwks_file: Option<PathBuf>,
    /// The `aud` a token must carry: the name this Warden has at the platform, so a token
    /// minted for another service cannot be replayed here.
    pub audience: String,
    /// How old a token may be, by its `iat`, when presented. CI tokens live minutes; a
    /// short limit keeps a leaked token from being useful for long even if its issuer
    /// gave it a generous `exp`. Default 10 minutes.
    #[serde(default = "default_max_token_age")]
    pub max_token_age: Duration,
}

/// The default [`IssuerConfig::max_token_age`]: 10 minutes.
pub fn default_max_token_age() -> Duration {
    // 600 is within Duration's range, so the fallback is never taken; were it taken, the
    // shortest age would refuse tokens rather than accept old ones.
    Duration::from_seconds(600).unwrap_or(Duration::MIN)
}

/// Why the `[[oidc_issuer]]` configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A field of one issuer's block is wrong.
    #[error("[[oidc_issuer]] {issuer}: `{field}` {problem}")]
    Invalid {
        /// The block's `issuer` in backquotes, or its position (`number 2`) when the
        /// issuer itself is what is missing.
        issuer: String,
        /// Which block, counted from 0 in file order, so a config loader can point at it.
        block: usize,
        /// The field at fault, as the config file spells it.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The HTTP client that fetches key sets could not be built (no TLS backend).
    #[error("cannot build the HTTP client that fetches key sets: {0}")]
    HttpClient(String),
}

impl ConfigError {
    /// The field at fault, if the error is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            ConfigError::HttpClient(_) => None,
        }
    }

    /// The block at fault (counted from 0), if the error is about one.
    pub fn block(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { block, .. } => Some(*block),
            ConfigError::HttpClient(_) => None,
        }
    }
}

/// Checks `[[oidc_issuer]]` blocks as [`crate::Verifier::new`] does, without building
/// anything: for refusing a bad configuration when the file loads.
pub fn validate(configs: &[IssuerConfig]) -> Result<(), ConfigError> {
    check(configs.to_vec()).map(|_| ())
}

/// Where one issuer's keys come from, checked.
#[derive(Clone, Debug)]
pub(crate) enum JwksSource {
    /// Fetched over HTTP(S).
    Url(Url),
    /// Read from a local file.
    File(PathBuf),
}

impl JwksSource {
    /// Whether fetching needs the HTTP client.
    pub(crate) fn is_url(&self) -> bool {
        matches!(self, JwksSource::Url(_))
    }
}

/// One issuer's block after checking.
#[derive(Clone, Debug)]
pub(crate) struct Issuer {
    pub(crate) issuer: String,
    pub(crate) source: JwksSource,
    pub(crate) audience: String,
    pub(crate) max_token_age: Duration,
}

/// Checks every block; the first mistake is the error.
pub(crate) fn check(configs: Vec<IssuerConfig>) -> Result<Vec<Issuer>, ConfigError> {
    let mut out: Vec<Issuer> = Vec::with_capacity(configs.len());
    for (i, c) in configs.into_iter().enumerate() {
        let name = format!("`{}`", c.issuer);
        let invalid = |field, problem: &str| ConfigError::Invalid {
            issuer: name.clone(),
            block: i,
            field,
            problem: problem.to_owned(),
        };
        if c.issuer.trim().is_empty() {
            return Err(ConfigError::Invalid {
                issuer: format!("number {}", i + 1),
                block: i,
                field: "issuer",
                problem: "must not be empty".into(),
            });
        }
        if out.iter().any(|o| o.issuer == c.issuer) {
            return Err(invalid("issuer", "appears in more than one block"));
        }
        let source = match (c.jwks_url, c.jwks_file) {
            (Some(_), Some(_)) => {
                return Err(invalid("jwks_url", "and `jwks_file` are both set; set one"));
            }
            (None, None) => {
                return Err(invalid("jwks_url", "or `jwks_file` must be set"));
            }
            (Some(url), None) => {
                JwksSource::Url(safe_url(&url).map_err(|p| invalid("jwks_url", &p))?)
            }
            (None, Some(file)) if file.as_os_str().is_empty() => {
                return Err(invalid("jwks_file", "must not be empty"));
            }
            (None, Some(file)) => JwksSource::File(file),
        };
        if c.audience.trim().is_empty() {
            return Err(invalid("audience", "must not be empty"));
        }
        out.push(Issuer {
            issuer: c.issuer,
            source,
            audience: c.audience,
            max_token_age: c.max_token_age,
        });
    }
    Ok(out)
}

/// `raw` as a URL Warden may fetch keys (or a provider's documents) from, or what is
/// wrong with it.
pub(crate) fn safe_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        // Plain HTTP would let anyone on the path substitute keys and so sign in as any
        // workload; on the loopback interface there is no path to be on.
        "http" if is_loopback(&url) => Ok(url),
        "http" => {
            Err("must be https:// (http:// is allowed only to 127.0.0.1, ::1 or localhost)".into())
        }
        _ => Err("must be an https:// URL".into()),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(issuer: &str, url: Option<&str>, file: Option<&str>) -> IssuerConfig {
        IssuerConfig {
            issuer: issuer.into(),
            jwks_url: url.map(Into::into),
            jwks_file: file.map(Into::into),
            audience: "warden".into(),
            max_token_age: default_max_token_age(),
        }
    }

    fn url_error(url: &str) -> Option<ConfigError> {
        check(vec![block("iss", Some(url), None)]).err()
    }

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://token.actions.githubusercontent.com/.well-known/jwks",
            "https://10.0.0.1/keys",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://localhost/jwks",
            "http://LOCALHOST:9/jwks",
            "http://[::1]:8080/jwks",
        ] {
            assert_eq!(url_error(ok), None, "{ok}");
        }
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "http://example.com/jwks",
            "http://10.0.0.1/jwks",
            "http://localhost.example.com/jwks",
            "http://127.0.0.1.nip.io/jwks",
            "ftp://localhost/jwks",
            "file:///etc/jwks.json",
            "not a url",
            "",
        ] {
            let e = url_error(bad);
            assert_eq!(
                e.as_ref().and_then(ConfigError::field),
                Some("jwks_url"),
                "{bad}: {e:?}"
            );
        }
        let e = url_error("http://example.com/jwks").map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "[[oidc_issuer]] `iss`: `jwks_url` must be https:// (http:// is allowed only \
                 to 127.0.0.1, ::1 or localhost)"
            )
        );
    }

    #[test]
    fn exactly_one_key_source() {
        let both = check(vec![block("iss", Some("https://a/k"), Some("/k.json"))]);
        let neither = check(vec![block("iss", None, None)]);
        for e in [both, neither] {
            let Err(ConfigError::Invalid { issuer, field, .. }) = e else {
                panic!("accepted: {e:?}");
            };
            assert_eq!((issuer.as_str(), field), ("`iss`", "jwks_url"));
        }
        let empty_file = check(vec![block("iss", None, Some(""))]).err();
        assert_eq!(empty_file.and_then(|e| e.field()), Some("jwks_file"));
    }

    #[test]
    fn issuers_are_named_and_unique() {
        let dup = check(vec![
            block("https://a", None, Some("/a")),
            block("https://b", None, Some("/b")),
            block("https://a", None, Some("/c")),
        ]);
        assert_eq!(
            dup.err().map(|e| e.to_string()).as_deref(),
            Some("[[oidc_issuer]] `https://a`: `issuer` appears in more than one block")
        );
        let empty = check(vec![
            block("https://a", None, Some("/a")),
            block(" ", None, Some("/b")),
        ]);
        assert_eq!(
            empty.err().map(|e| e.to_string()).as_deref(),
            Some("[[oidc_issuer]] number 2: `issuer` must not be empty")
        );
    }

    #[test]
    fn audience_is_required() {
        let mut b = block("iss", None, Some("/k"));
        b.audience = String::new();
        assert_eq!(
            check(vec![b]).err().and_then(|e| e.field()),
            Some("audience")
        );
    }

    #[test]
    fn toml_block_parses_with_default_age() {
        let c: IssuerConfig = toml::from_str(
            "issuer = \"https://gitlab.example\"\n\
             jwks_url = \"https://gitlab.example/oauth/discovery/keys\"\n\
             audience = \"https://warden.example\"\n",
        )
        .unwrap();
        assert_eq!(c.max_token_age.seconds(), 600);
        let c: IssuerConfig = toml::from_str(
            "issuer = \"i\"\njwks_file = \"/k\"\naudience = \"a\"\nmax_token_age = \"5m\"\n",
        )
        .unwrap();
        assert_eq!(c.max_token_age.seconds(), 300);
        assert!(
            toml::from_str::<IssuerConfig>(
                "issuer = \"i\"\njwks_file = \"/k\"\naudience = \"a\"\nleeway = 5\n"
            )
            .is_err(),
            "unknown fields are refused"
        );
    }
}
