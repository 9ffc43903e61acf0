//! The server's configuration: a TOML file whose every key an environment variable can
//! override, with defaults that run `warden serve` in a fresh checkout (docs/config.md).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use warden_model::Duration;

/// The whole configuration, with defaults filled in for everything not set.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Config {
    /// `[server]`: the HTTP listener.
    pub server: ServerConfig,
    /// `[database]`: where state is stored.
    pub database: DatabaseConfig,
    /// `[bundle]`: the policy bundle decisions are made with.
    pub bundle: BundleConfig,
    /// `[tokens]`: API tokens.
    pub tokens: TokensConfig,
    /// `[lifecycle]`: request and grant lifecycle limits.
    pub lifecycle: LifecycleConfig,
    /// `[worker]`: the background worker that runs scheduled jobs.
    pub worker: WorkerConfig,
    /// `[secrets]`: the key minted credentials are sealed under.
    pub secrets: SecretsConfig,
    /// `[provisioning]`: rotation and reconciliation on targets.
    pub provisioning: ProvisioningConfig,
    /// `[audit]`: signed checkpoints of the audit chain's head.
    pub audit: AuditConfig,
    /// `[report]`: what the evidence report judges by (docs/evidence.md).
    pub report: ReportConfig,
    /// `[ui]`: the web console (docs/console.md).
    pub ui: UiConfig,
    /// `[alerts]`: how outbound alerts are delivered (docs/alerts.md).
    pub alert_delivery: AlertDeliveryConfig,
    /// `[[alert]]`: where audit events are sent (docs/alerts.md).
    pub alerts: Vec<warden_alert::AlertConfig>,
    /// `[[connector]]`: the connector instances systems name.
    pub connectors: Vec<crate::connector::ConnectorConfig>,
    /// `[[itsm]]`: the ITSMs requests come from (docs/itsm.md).
    pub itsms: Vec<crate::itsm::ItsmBlock>,
    /// `[[oidc_issuer]]`: the platforms whose OIDC tokens workloads sign in with
    /// (docs/workloads.md).
    pub oidc_issuers: Vec<warden_oidc::IssuerConfig>,
}

/// `[secrets]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SecretsConfig {
    /// A file holding the 32-byte sealing key, base64 (`WARDEN_SECRET_KEY_FILE`); made,
    /// readable by its owner only, when it does not exist.
    pub key_file: PathBuf,
}

/// `[audit]`. Both files default to the sealing key's directory.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditConfig {
    /// The Ed25519 key checkpoints are signed with, 32 bytes in base64
    /// (`WARDEN_AUDIT_CHECKPOINT_KEY`); made, readable by its owner only, when missing.
    pub checkpoint_key: PathBuf,
    /// The file signed checkpoints are appended to, one JSON line each
    /// (`WARDEN_AUDIT_CHECKPOINT_FILE`); its public key is kept beside it in `<file>.pub`.
    pub checkpoint_file: PathBuf,
    /// How often the server appends a checkpoint (`WARDEN_AUDIT_CHECKPOINT_EVERY`).
    pub checkpoint_every: Duration,
}

/// The checkpoint key's file name in the data directory.
const CHECKPOINT_KEY_NAME: &str = "audit-checkpoint.key";
/// The checkpoint file's name in the data directory.
const CHECKPOINT_FILE_NAME: &str = "audit-checkpoints.jsonl";

/// `[ui]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UiConfig {
    /// The console's address as browsers reach it (`WARDEN_UI_PUBLIC_URL`); empty means
    /// `http://` and `server.listen`. Over `https://` its cookies are `Secure`.
    pub public_url: String,
    /// A console session unused this long ends (`WARDEN_UI_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// A console session ends this long after sign-in, used or not
    /// (`WARDEN_UI_SESSION_LIFETIME`).
    pub session_lifetime: Duration,
    /// Members of these catalog groups administer in the console (`WARDEN_UI_ADMIN_GROUPS`).
    pub admin_groups: std::collections::BTreeSet<warden_model::GroupId>,
    /// Members of these catalog groups audit in the console (`WARDEN_UI_AUDIT_GROUPS`).
    pub audit_groups: std::collections::BTreeSet<warden_model::GroupId>,
    /// `[ui.oidc]`: single sign-on, when configured.
    pub oidc: Option<UiOidcConfig>,
}

impl UiConfig {
    /// The public address, made from `listen` when not set.
    pub fn public_url(&self, listen: SocketAddr) -> String {
        if self.public_url.is_empty() {
            format!("http://{listen}")
        } else {
            self.public_url.clone()
        }
    }
}

/// `[ui.oidc]`: the OIDC provider people sign in with (authorization code with PKCE).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UiOidcConfig {
    /// The provider's issuer URL; its discovery document is read from
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The console's client id at the provider.
    pub client_id: String,
    /// A private file holding the client secret.
    pub client_secret_file: PathBuf,
    /// The callback the provider sends browsers back to:
    /// `<public_url>/ui/login/oidc/callback`.
    pub redirect_url: String,
    /// The ID token claim that names a catalog identity: `email` (matched against
    /// identities' `email`) or another claim (matched against identity ids).
    pub identity_claim: String,
}

/// `[ui.oidc]` as written.
#[derive(serde::Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct UiOidcFile {
    issuer: String,
    client_id: String,
    client_secret_file: PathBuf,
    redirect_url: String,
    #[serde(default)]
    identity_claim: Option<String>,
}

impl UiOidcFile {
    fn check(&self) -> Result<UiOidcConfig, String> {
        let url = |field: &str, v: &str| -> Result<String, String> {
            let v = v.trim();
            let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| v.starts_with(p));
            if v.starts_with("https://") || loopback {
                Ok(v.trim_end_matches('/').to_owned())
            } else {
                Err(format!(
                    "`ui.oidc.{field}`: `{}` must be an `https://` URL (or `http://` to a loopback host)",
                    settings::shown(v)
                ))
            }
        };
        let issuer = url("issuer", &self.issuer)?;
        let redirect_url = url("redirect_url", &self.redirect_url)?;
        if !redirect_url.ends_with("/ui/login/oidc/callback") {
            return Err(
                "`ui.oidc.redirect_url`: must end with `/ui/login/oidc/callback`".to_owned(),
            );
        }
        if self.client_id.trim().is_empty() {
            return Err("`ui.oidc.client_id`: must not be empty".to_owned());
        }
        if self.client_secret_file.as_os_str().is_empty() {
            return Err("`ui.oidc.client_secret_file`: must not be empty".to_owned());
        }
        let identity_claim = self
            .identity_claim
            .as_deref()
            .unwrap_or("email")
            .trim()
            .to_owned();
        if identity_claim.is_empty() {
            return Err("`ui.oidc.identity_claim`: must not be empty".to_owned());
        }
        Ok(UiOidcConfig {
            issuer,
            client_id: self.client_id.trim().to_owned(),
            client_secret_file: self.client_secret_file.clone(),
            redirect_url,
            identity_claim,
        })
    }
}

/// `[report]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReportConfig {
    /// How long past its expiry or trigger a removal may take before it is late
    /// (`WARDEN_REPORT_REMOVAL_GRACE`).
    pub removal_grace: Duration,
    /// The longest a grant on a high or critical system may run before it counts as
    /// standing privilege (`WARDEN_REPORT_JIT_CAP`).
    pub jit_cap: Duration,
}

impl ReportConfig {
    /// The goals the report and the access gauges judge by.
    pub fn goals(&self) -> warden_engine::report::Goals {
        warden_engine::report::Goals {
            removal_grace: self.removal_grace,
            jit_cap: self.jit_cap,
            ..warden_engine::report::Goals::default()
        }
    }
}

/// `[alerts]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AlertDeliveryConfig {
    /// How long after an event its failing delivery is retried before it is given up on
    /// with `alert.undeliverable` (`WARDEN_ALERTS_GIVE_UP_AFTER`).
    pub give_up_after: Duration,
}

/// `[provisioning]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProvisioningConfig {
    /// How long a rotated-out credential keeps working beside the new one
    /// (`WARDEN_ROTATION_OVERLAP`).
    pub rotation_overlap: Duration,
    /// How often each connector's target is compared with Warden's accounts
    /// (`WARDEN_RECONCILE_EVERY`).
    pub reconcile_every: Duration,
    /// Whether reconciliation removes accounts with Warden's prefix that no grant holds
    /// (`WARDEN_REMOVE_ORPHANS`).
    pub remove_orphans: bool,
}

/// `[server]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ServerConfig {
    /// The address the HTTP server listens on (`WARDEN_LISTEN`).
    pub listen: SocketAddr,
    /// The largest request body accepted (`WARDEN_BODY_LIMIT`).
    pub body_limit: ByteSize,
    /// How operator logs are written (`WARDEN_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// How long a client may take over a request head (`WARDEN_HEADER_READ_TIMEOUT`).
    pub header_read_timeout: Duration,
    /// How long a client may take over a request body (`WARDEN_BODY_READ_TIMEOUT`).
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request (`WARDEN_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// The most connections open at once (`WARDEN_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// The most requests handled at once (`WARDEN_MAX_IN_FLIGHT`).
    pub max_in_flight: u32,
    /// The bearer token `/metrics` asks for, if any (`metrics_token`, `metrics_token_file` or
    /// `WARDEN_METRICS_TOKEN`); `Debug` hides it.
    pub metrics_token: Option<MetricsToken>,
}

/// The token `/metrics` requires. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// The token itself, for the server to compare with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `[database]`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…` (`WARDEN_DATABASE_URL`). It may hold a password,
    /// so `Debug` hides that.
    pub url: String,
}

/// `[bundle]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BundleConfig {
    /// The bundle directory (`WARDEN_BUNDLE`).
    pub path: PathBuf,
}

/// `[tokens]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TokensConfig {
    /// How long a minted API token lives unless `--ttl` says otherwise (`WARDEN_TOKEN_TTL`).
    pub default_ttl: Duration,
}

/// `[lifecycle]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LifecycleConfig {
    /// How long a request may wait for approval before it lapses (`WARDEN_APPROVAL_WINDOW`).
    pub approval_window: Duration,
}

/// `[worker]`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WorkerConfig {
    /// Whether this process runs scheduled jobs (`WARDEN_WORKER_ENABLED`).
    pub enabled: bool,
    /// How often the worker looks for due jobs (`WARDEN_WORKER_POLL_EVERY`).
    pub poll_every: Duration,
    /// How long a claimed job stays leased to this process (`WARDEN_WORKER_LEASE`).
    pub lease: Duration,
    /// The most jobs claimed at once (`WARDEN_WORKER_BATCH`).
    pub batch: u32,
}

/// How operator logs are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A size in bytes, written as a count (`65536`) or with a `KiB` or `MiB` suffix (`64KiB`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct ByteSize(u64);

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

impl ByteSize {
    /// The size in bytes (`parse` guarantees it fits in a `usize`).
    pub fn bytes(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// Parses `65536`, `64KiB` or `1MiB`; the size must be more than zero.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{}` is not a size such as `65536`, `64KiB` or `1MiB`",
                shown(s)
            )
        };
        let t = s.trim();
        let (digits, unit) = if let Some(n) = t.strip_suffix("KiB") {
            (n, KIB)
        } else if let Some(n) = t.strip_suffix("MiB") {
            (n, MIB)
        } else {
            (t, 1)
        };
        let digits = digits.trim_end();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        match n.checked_mul(unit) {
            Some(0) => Err(format!("`{}` must be more than zero bytes", shown(s))),
            Some(bytes) if usize::try_from(bytes).is_ok() => Ok(ByteSize(bytes)),
            _ => Err(format!("`{}` is too large", shown(s))),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(MIB) {
            write!(f, "{}MiB", self.0 / MIB)
        } else if self.0.is_multiple_of(KIB) {
            write!(f, "{}KiB", self.0 / KIB)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redacted(&self.url))
            .finish()
    }
}

impl Default for Config {
    #[expect(
        clippy::expect_used,
        reason = "the default durations are constants in range; a unit test builds them"
    )]
    fn default() -> Self {
        let seconds = |n| Duration::from_seconds(n).expect("a default duration is in range");
        Config {
            server: ServerConfig {
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
                body_limit: ByteSize(64 * KIB),
                log_format: LogFormat::Text,
                header_read_timeout: seconds(10),
                body_read_timeout: seconds(30),
                idle_timeout: seconds(5),
                max_connections: 1024,
                max_in_flight: 256,
                metrics_token: None,
            },
            database: DatabaseConfig {
                url: "sqlite://warden-data/warden.db".to_owned(),
            },
            bundle: BundleConfig {
                path: PathBuf::from("examples/bundle"),
            },
            tokens: TokensConfig {
                default_ttl: seconds(90 * 86_400),
            },
            lifecycle: LifecycleConfig {
                approval_window: seconds(72 * 3_600),
            },
            worker: WorkerConfig {
                enabled: true,
                poll_every: seconds(1),
                lease: seconds(30),
                batch: 200,
            },
            secrets: SecretsConfig {
                key_file: PathBuf::from("warden-data/secret.key"),
            },
            provisioning: ProvisioningConfig {
                rotation_overlap: seconds(300),
                reconcile_every: seconds(300),
                remove_orphans: false,
            },
            audit: AuditConfig {
                checkpoint_key: PathBuf::from("warden-data").join(CHECKPOINT_KEY_NAME),
                checkpoint_file: PathBuf::from("warden-data").join(CHECKPOINT_FILE_NAME),
                checkpoint_every: seconds(60),
            },
            report: ReportConfig {
                removal_grace: seconds(300),
                jit_cap: seconds(8 * 3_600),
            },
            ui: UiConfig {
                public_url: String::new(),
                idle_timeout: seconds(30 * 60),
                session_lifetime: seconds(12 * 3_600),
                admin_groups: std::collections::BTreeSet::new(),
                audit_groups: std::collections::BTreeSet::new(),
                oidc: None,
            },
            alert_delivery: AlertDeliveryConfig {
                give_up_after: seconds(warden_engine::alert::GIVE_UP_AFTER_SECONDS),
            },
            alerts: Vec::new(),
            connectors: Vec::new(),
            itsms: Vec::new(),
            oidc_issuers: Vec::new(),
        }
    }
}

/// Why the configuration cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or holds a bad value.
    #[error("{}:{line}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Where in it (from 1).
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// An environment variable holds a bad value.
    #[error("`{var}`: {message}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// The directory of the SQLite database cannot be created.
    #[error("cannot create the database directory `{}`", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite database file cannot be created.
    #[error("cannot create the database file `{}`", path.display())]
    CreateDb {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Config {
    /// Loads the file at `path` (if any) over the defaults, then applies each `WARDEN_*`
    /// variable that `env` returns (an empty value counts as unset).
    pub fn load(
        path: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) => Some((
                p,
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?,
            )),
            None => None,
        };
        Config::parse(file.as_ref().map(|(p, t)| (*p, t.as_str())), env)
    }

    /// [`Config::load`] with the file's text already read.
    fn parse(
        file: Option<(&Path, &str)>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        // The audit files follow the sealing key unless set themselves.
        let mut audit_set = (false, false);
        if let Some((path, text)) = file {
            let at = |offset: usize, message: String| ConfigError::File {
                path: path.to_owned(),
                line: line_of(text, offset),
                message,
            };
            let parsed: FileConfig = toml::from_str(text).map_err(|e| {
                at(
                    e.span().map_or(0, |s| s.start),
                    e.message().trim_end().to_owned(),
                )
            })?;
            for s in SETTINGS {
                if let Some(value) = (s.file)(&parsed) {
                    (s.apply)(&mut config, value.get_ref())
                        .map_err(|m| at(value.span().start, format!("`{}`: {m}", s.key)))?;
                }
            }
            config.server.metrics_token =
                metrics_token_from_file(&parsed.server).map_err(|(offset, m)| at(offset, m))?;
            config.connectors = crate::connector::from_file(&parsed.connector, env)
                .map_err(|(offset, m)| at(offset, m))?;
            config.itsms =
                crate::itsm::from_file(&parsed.itsm).map_err(|(offset, m)| at(offset, m))?;
            config.alerts = crate::alert::from_file(&parsed.alert, &config.itsms)
                .map_err(|(offset, m)| at(offset, m))?;
            if let Some(block) = &parsed.ui.oidc {
                config.ui.oidc = Some(
                    block
                        .get_ref()
                        .check()
                        .map_err(|m| at(block.span().start, m))?,
                );
            }
            config.oidc_issuers = parsed
                .oidc_issuer
                .iter()
                .map(|b| b.get_ref().clone())
                .collect();
            // Checked now, so a bad block is refused at load with its line, not at start.
            if let Err(e) = warden_oidc::validate(&config.oidc_issuers) {
                let offset = e
                    .block()
                    .and_then(|i| parsed.oidc_issuer.get(i))
                    .map_or(0, |b| b.span().start);
                return Err(at(offset, e.to_string()));
            }
            audit_set = (
                parsed.audit.checkpoint_key.is_some(),
                parsed.audit.checkpoint_file.is_some(),
            );
        }
        let env_set = |var: &str| env(var).is_some_and(|v| !v.is_empty());
        for s in SETTINGS {
            if let Some(value) = env(s.var).filter(|v| !v.is_empty()) {
                (s.apply)(&mut config, &Raw::Text(value)).map_err(|message| ConfigError::Env {
                    var: s.var,
                    message,
                })?;
            }
        }
        if let Some(value) = env(METRICS_TOKEN_VAR).filter(|v| !v.is_empty()) {
            config.server.metrics_token =
                Some(metrics_token(&value).map_err(|message| ConfigError::Env {
                    var: METRICS_TOKEN_VAR,
                    message,
                })?);
        }
        let data_dir = config
            .secrets
            .key_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if !audit_set.0 && !env_set("WARDEN_AUDIT_CHECKPOINT_KEY") {
            config.audit.checkpoint_key = data_dir.join(CHECKPOINT_KEY_NAME);
        }
        if !audit_set.1 && !env_set("WARDEN_AUDIT_CHECKPOINT_FILE") {
            config.audit.checkpoint_file = data_dir.join(CHECKPOINT_FILE_NAME);
        }
        Ok(config)
    }
}

/// The variable that sets (and beats the file's) `server.metrics_token`.
const METRICS_TOKEN_VAR: &str = "WARDEN_METRICS_TOKEN";

/// `server.metrics_token` or the first line of `server.metrics_token_file`; not both.
fn metrics_token_from_file(server: &ServerFile) -> Result<Option<MetricsToken>, (usize, String)> {
    match (&server.metrics_token, &server.metrics_token_file) {
        (Some(_), Some(f)) => Err((
            f.span().start,
            "set `server.metrics_token` or `server.metrics_token_file`, not both".to_owned(),
        )),
        (Some(t), None) => {
            let at = t.span().start;
            let text =
                text(t.get_ref()).map_err(|m| (at, format!("`server.metrics_token`: {m}")))?;
            metrics_token(text)
                .map(Some)
                .map_err(|m| (at, format!("`server.metrics_token`: {m}")))
        }
        (None, Some(f)) => {
            let at = f.span().start;
            let key = "`server.metrics_token_file`";
            let path = non_empty(f.get_ref()).map_err(|m| (at, format!("{key}: {m}")))?;
            let content = std::fs::read_to_string(path)
                .map_err(|e| (at, format!("{key}: cannot read `{}`: {e}", shown(path))))?;
            let first = content.lines().next().unwrap_or_default();
            metrics_token(first)
                .map(Some)
                .map_err(|m| (at, format!("{key}: {m}")))
        }
        (None, None) => Ok(None),
    }
}

/// A metrics token: at least 16 visible characters, never quoted back.
fn metrics_token(s: &str) -> Result<MetricsToken, String> {
    let t = s.trim();
    if t.len() < 16 || !t.chars().all(|c| c.is_ascii_graphic()) {
        return Err("the token must be at least 16 visible ASCII characters".to_owned());
    }
    Ok(MetricsToken(t.to_owned()))
}

/// Creates the directory that will hold a SQLite database named by `url`, so that a fresh
/// checkout can run with the defaults. Other URLs, and in-memory databases, are left alone.
pub fn ensure_sqlite_dir(url: &str) -> Result<(), ConfigError> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(());
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let file = rest.split(['?', '#']).next().unwrap_or(rest);
    if file.is_empty() || file == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = Path::new(file).parent()
        && !dir.as_os_str().is_empty()
    {
        private_dir(dir).map_err(|source| ConfigError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    // Made empty (a valid empty database) and private before SQLite opens it: SQLite
    // gives the WAL and shared-memory files the database file's mode.
    private_file(Path::new(file)).map_err(|source| ConfigError::CreateDb {
        path: PathBuf::from(file),
        source,
    })
}

/// Creates `dir` and any missing parents with mode 0700; an existing directory is left as
/// it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `file`, empty, with mode 0600 unless it exists; an existing file is left as it
/// is.
fn private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

mod settings;

pub(crate) use settings::shown;
use settings::*;

/// The line (from 1) holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// `url` with any password in it replaced by `***`.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if user.len() == userinfo.len() {
                ""
            } else {
                ":***"
            };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Some((Path::new("warden.toml"), text)), &no_env)
    }

    fn with_env(text: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::parse(text.map(|t| (Path::new("warden.toml"), t)), &|k| {
            vars.get(k).cloned()
        })
    }

    fn dur(s: &str) -> Duration {
        Duration::parse(s).unwrap()
    }

    #[test]
    fn no_file_and_no_env_gives_the_defaults() {
        let c = Config::load(None, &no_env).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.body_limit.bytes(), 65_536);
        assert_eq!(c.server.log_format, LogFormat::Text);
        assert_eq!(c.database.url, "sqlite://warden-data/warden.db");
        assert_eq!(c.bundle.path, PathBuf::from("examples/bundle"));
        assert_eq!(c.tokens.default_ttl, dur("90d"));
        assert_eq!(c.lifecycle.approval_window, dur("72h"));
        assert!(c.worker.enabled);
        assert_eq!(c.worker.poll_every, dur("1s"));
        assert_eq!(c.worker.lease, dur("30s"));
        assert_eq!(c.worker.batch, 200);
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_file_overrides_the_defaults() {
        let c = parse(
            r#"
            [server]
            listen = "0.0.0.0:9000"
            body_limit = "1MiB"
            log_format = "json"
            [database]
            url = "postgres://warden@db/warden"
            [bundle]
            path = "/etc/warden/bundle"
            [tokens]
            default_ttl = "P30D"
            [lifecycle]
            approval_window = "24h"
            [worker]
            enabled = false
            poll_every = "5s"
            lease = "2m"
            batch = 10
            "#,
        )
        .unwrap();
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.server.body_limit.bytes(), 1_048_576);
        assert_eq!(c.server.log_format, LogFormat::Json);
        assert_eq!(c.database.url, "postgres://warden@db/warden");
        assert_eq!(c.bundle.path, PathBuf::from("/etc/warden/bundle"));
        assert_eq!(c.tokens.default_ttl, dur("30d"));
        assert_eq!(c.lifecycle.approval_window, dur("24h"));
        assert!(!c.worker.enabled);
        assert_eq!(c.worker.poll_every, dur("5s"));
        assert_eq!(c.worker.lease, dur("120s"));
        assert_eq!(c.worker.batch, 10);
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let c = parse("[worker]\nbatch = 7\n").unwrap();
        assert_eq!(
            c,
            Config {
                worker: WorkerConfig {
                    batch: 7,
                    ..Config::default().worker
                },
                ..Config::default()
            }
        );
    }

    #[test]
    fn the_environment_beats_the_file() {
        let c = with_env(
            Some("[server]\nlisten = \"0.0.0.0:9000\"\n[worker]\nbatch = 10\n"),
            &[
                ("WARDEN_LISTEN", "127.0.0.1:7000"),
                ("WARDEN_BODY_LIMIT", "2048"),
                ("WARDEN_LOG_FORMAT", "json"),
                ("WARDEN_DATABASE_URL", "sqlite:///var/lib/warden/warden.db"),
                ("WARDEN_BUNDLE", "bundle"),
                ("WARDEN_TOKEN_TTL", "7d"),
                ("WARDEN_APPROVAL_WINDOW", "PT1H"),
                ("WARDEN_WORKER_ENABLED", "false"),
                ("WARDEN_WORKER_POLL_EVERY", "10s"),
                ("WARDEN_WORKER_LEASE", "1m"),
                ("WARDEN_WORKER_BATCH", "50"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(c.server.body_limit.bytes(), 2048);
        assert_eq!(c.server.log_format, LogFormat::Json);
        assert_eq!(c.database.url, "sqlite:///var/lib/warden/warden.db");
        assert_eq!(c.bundle.path, PathBuf::from("bundle"));
        assert_eq!(c.tokens.default_ttl, dur("7d"));
        assert_eq!(c.lifecycle.approval_window, dur("1h"));
        assert!(!c.worker.enabled);
        assert_eq!(c.worker.poll_every, dur("10s"));
        assert_eq!(c.worker.lease, dur("60s"));
        assert_eq!(c.worker.batch, 50);
    }

    #[test]
    fn an_empty_variable_counts_as_unset() {
        let c = with_env(None, &[("WARDEN_LISTEN", "")]).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn an_unknown_key_is_rejected_with_its_line() {
        let e = parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("warden.toml:3: "), "{msg}");
        assert!(msg.contains("`lisen`"), "{msg}");
    }

    #[test]
    fn an_unknown_section_is_rejected_with_its_line() {
        let e = parse("[server]\n\n[sever]\nlisten = \"x\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("warden.toml:3: "), "{msg}");
        assert!(msg.contains("`sever`"), "{msg}");
    }

    #[test]
    fn a_bad_file_value_names_the_key_and_line() {
        let e = parse("[server]\n\nlisten = \"nope\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "warden.toml:3: `server.listen`: `nope` is not a socket address such as `127.0.0.1:8080`"
        );
        let e = parse("[worker]\nenabled = 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "warden.toml:2: `worker.enabled`: `3` is not `true` or `false`"
        );
        let e = parse("[tokens]\ndefault_ttl = \"forever\"\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("warden.toml:2: `tokens.default_ttl`: invalid duration `forever`"),
            "{e}"
        );
        let e = parse("[worker]\nbatch = [1]\n").unwrap_err();
        assert!(e.to_string().starts_with("warden.toml:2: "), "{e}");
    }

    #[test]
    fn invalid_toml_names_the_line() {
        let e = parse("[server]\nlisten = \n").unwrap_err();
        assert!(e.to_string().starts_with("warden.toml:2: "), "{e}");
    }

    #[test]
    fn a_bad_variable_is_named() {
        let e = with_env(None, &[("WARDEN_LISTEN", "nope")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`WARDEN_LISTEN`: `nope` is not a socket address such as `127.0.0.1:8080`"
        );
        let e = with_env(None, &[("WARDEN_WORKER_BATCH", "0")]).unwrap_err();
        assert!(e.to_string().starts_with("`WARDEN_WORKER_BATCH`: "), "{e}");
        let e = with_env(None, &[("WARDEN_LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`WARDEN_LOG_FORMAT`: `xml` is not a log format: expected `text` or `json`"
        );
    }

    #[test]
    fn a_bad_database_url_never_quotes_more_than_its_scheme() {
        let e = with_env(
            None,
            &[("WARDEN_DATABASE_URL", "mysql://root:hunter2@db/warden")],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("`mysql`"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let c = with_env(
            None,
            &[(
                "WARDEN_DATABASE_URL",
                "postgres://warden:hunter2@db:5432/warden",
            )],
        )
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("postgres://warden:***@db:5432/warden"),
            "{debug}"
        );
        assert_eq!(redacted("postgres://warden@db/w"), "postgres://warden@db/w");
        assert_eq!(redacted("sqlite://a/b.db"), "sqlite://a/b.db");
    }

    #[test]
    fn sizes_take_a_count_or_a_binary_suffix() {
        assert_eq!(ByteSize::parse("65536").unwrap().bytes(), 65_536);
        assert_eq!(ByteSize::parse("64KiB").unwrap().bytes(), 65_536);
        assert_eq!(ByteSize::parse("64 KiB").unwrap().bytes(), 65_536);
        assert_eq!(ByteSize::parse("2MiB").unwrap().bytes(), 2 * 1_048_576);
        for bad in ["", "KiB", "0", "0KiB", "-1", "64kb", "1.5MiB", "64 MB"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad}");
        }
        assert!(ByteSize::parse(&format!("{}MiB", u64::MAX)).is_err());
        assert_eq!(ByteSize(64 * KIB).to_string(), "64KiB");
        assert_eq!(ByteSize(1000).to_string(), "1000");
        let c = parse("[server]\nbody_limit = 1024\n").unwrap();
        assert_eq!(c.server.body_limit.bytes(), 1024);
    }

    #[test]
    fn sqlite_directories_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a/b/warden.db");
        ensure_sqlite_dir(&format!("sqlite://{}?mode=rwc", db.display())).unwrap();
        assert!(dir.path().join("a/b").is_dir());
        assert!(db.is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("a")), 0o700);
            assert_eq!(mode(&dir.path().join("a/b")), 0o700);
            assert_eq!(mode(&db), 0o600);
        }
        // An existing database is left as it is.
        std::fs::write(&db, b"kept").unwrap();
        ensure_sqlite_dir(&format!("sqlite://{}", db.display())).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"kept");
        ensure_sqlite_dir("sqlite::memory:").unwrap();
        ensure_sqlite_dir("postgres://db/warden").unwrap();
    }

    #[test]
    fn audit_files_follow_the_sealing_key_unless_set() {
        let c = parse("[secrets]\nkey_file = \"/srv/warden/secret.key\"\n").unwrap();
        assert_eq!(
            c.audit.checkpoint_key,
            PathBuf::from("/srv/warden/audit-checkpoint.key")
        );
        assert_eq!(
            c.audit.checkpoint_file,
            PathBuf::from("/srv/warden/audit-checkpoints.jsonl")
        );
        assert_eq!(c.audit.checkpoint_every, dur("1m"));
        let c = parse(
            "[secrets]\nkey_file = \"/srv/warden/secret.key\"\n\
             [audit]\ncheckpoint_file = \"/var/log/warden/checkpoints\"\ncheckpoint_every = \"5m\"\n",
        )
        .unwrap();
        assert_eq!(
            c.audit.checkpoint_key,
            PathBuf::from("/srv/warden/audit-checkpoint.key")
        );
        assert_eq!(
            c.audit.checkpoint_file,
            PathBuf::from("/var/log/warden/checkpoints")
        );
        assert_eq!(c.audit.checkpoint_every, dur("5m"));
        let c = with_env(
            None,
            &[
                ("WARDEN_SECRET_KEY_FILE", "/a/secret.key"),
                ("WARDEN_AUDIT_CHECKPOINT_KEY", "/b/ck.key"),
            ],
        )
        .unwrap();
        assert_eq!(c.audit.checkpoint_key, PathBuf::from("/b/ck.key"));
        assert_eq!(
            c.audit.checkpoint_file,
            PathBuf::from("/a/audit-checkpoints.jsonl")
        );
        let e = parse("[audit]\ncheckpoint_every = \"never\"\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("warden.toml:2: `audit.checkpoint_every`: "),
            "{e}"
        );
    }

    #[test]
    fn the_example_file_spells_out_the_defaults() {
        let text = include_str!("../../../examples/warden.toml");
        assert_eq!(parse(text).unwrap(), Config::default());
    }

    #[test]
    fn the_local_example_configures_the_bundles_three_connectors() {
        let c = parse(include_str!("../../../examples/warden-local.toml")).unwrap();
        let names: Vec<&str> = c.connectors.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["pg-payments", "cache-redis", "events-rabbitmq"]);
        assert!(c.connectors.iter().all(|c| c.prefix == "warden_"));
    }

    #[test]
    fn connector_blocks_are_checked_and_their_urls_hidden() {
        let block =
            |extra: &str| format!("[[connector]]\nname = \"c\"\nkind = \"redis\"\n{extra}\n");
        let ok = parse(&block("url = \"redis://admin:s3cret@h:6379\"")).unwrap();
        assert!(
            !format!("{ok:?}").contains("s3cret"),
            "Debug shows the password"
        );
        for (extra, want) in [
            ("url = \"x\"\nurl_file = \"y\"", "not both"),
            ("", "no `url`"),
            ("url = \"x\"\nprefix = \"Bad-\"", "prefix"),
            ("url = \"x\"\npassword = \"p\"", "unknown field"),
        ] {
            let e = parse(&block(extra)).unwrap_err().to_string();
            assert!(e.starts_with("warden.toml:"), "{e}");
            assert!(e.contains(want), "{extra}: {e}");
        }
        let e = parse("[[connector]]\nname = \"c\"\nkind = \"oracle\"\nurl = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("warden.toml:3: ") && e.contains("`oracle`"),
            "{e}"
        );
        let twice = format!("{}{}", block("url = \"x\""), block("url = \"x\""));
        assert!(
            parse(&twice)
                .unwrap_err()
                .to_string()
                .contains("defined twice")
        );
        // The environment beats the file for a connector's URL.
        let c = with_env(
            Some(&block("url = \"redis://file\"")),
            &[("WARDEN_CONNECTOR_C_URL", "redis://env")],
        )
        .unwrap();
        assert_eq!(c.connectors[0].url, "redis://env");
    }

    #[test]
    fn itsm_blocks_are_checked_when_the_file_loads() {
        let ok = "[[itsm]]\nname = \"rt\"\nkind = \"rt\"\nurl = \"http://rt\"\nsignature = \"standard-webhooks\"\n";
        assert_eq!(parse(ok).unwrap().itsms.len(), 1);
        let e = parse(&format!("{ok}colour = \"blue\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("warden.toml:") && e.contains("colour"), "{e}");
        let e = parse(&format!("{ok}{ok}")).unwrap_err().to_string();
        assert!(e.contains("defined twice"), "{e}");
    }

    #[test]
    fn alert_blocks_are_checked_and_errors_name_the_field() {
        let itsm = "[[itsm]]\nname = \"rt\"\nkind = \"rt\"\nurl = \"http://rt\"\nsignature = \"standard-webhooks\"\n";
        let ok = "[[alert]]\nname = \"secops\"\nurl = \"https://hooks.example/warden\"\nsecret_file = \"/etc/warden/alert.secret\"\nevents = [\"alert.*\"]\n";
        let c = parse(&format!("{itsm}{ok}itsm = \"rt\"\n")).unwrap();
        assert_eq!(c.alerts.len(), 1);
        assert_eq!(c.alerts[0].itsm.as_deref(), Some("rt"));
        assert_eq!(c.alert_delivery.give_up_after, dur("24h"));
        let c = parse("[alerts]\ngive_up_after = \"6h\"\n").unwrap();
        assert_eq!(c.alert_delivery.give_up_after, dur("6h"));
        for (text, says) in [
            (format!("{ok}colour = \"blue\"\n"), "colour"),
            (
                format!("{ok}{ok}"),
                "`alert.name`: `secops` is defined twice",
            ),
            (ok.replace("secops", "Sec_Ops"), "`alert.name`"),
            (ok.replace("https://", "ftp://"), "`alert.url`"),
            (
                ok.replace("secret_file = \"/etc/warden/alert.secret\"\n", ""),
                "`alert.secret_file`",
            ),
            (
                ok.replace("events = [\"alert.*\"]", "events = []"),
                "`alert.events`",
            ),
            (
                ok.replace("events = [\"alert.*\"]", "events = [\"al*ert\"]"),
                "`al*ert`",
            ),
            (format!("{ok}itsm = \"jira\"\n"), "`alert.itsm`: `jira`"),
            (
                "[alerts]\ngive_up_after = \"never\"\n".to_owned(),
                "`alerts.give_up_after`",
            ),
        ] {
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.starts_with("warden.toml:") && e.contains(says),
                "{says}: {e}"
            );
        }
        let e = with_env(None, &[("WARDEN_ALERTS_GIVE_UP_AFTER", "soon")]).unwrap_err();
        assert!(
            e.to_string().starts_with("`WARDEN_ALERTS_GIVE_UP_AFTER`: "),
            "{e}"
        );
    }

    #[test]
    fn oidc_issuers_are_checked_when_the_file_loads() {
        let ok = "[[oidc_issuer]]\nissuer = \"https://token.actions.githubusercontent.com\"\njwks_url = \"https://token.actions.githubusercontent.com/.well-known/jwks\"\naudience = \"warden\"\n";
        let config = parse(ok).unwrap();
        assert_eq!(config.oidc_issuers.len(), 1);
        assert_eq!(config.oidc_issuers[0].max_token_age.seconds(), 600);
        // The error points at the block at fault: the second of two with one issuer.
        let twice = parse(&format!("{ok}{ok}")).unwrap_err().to_string();
        assert!(twice.starts_with("warden.toml:5:"), "{twice}");
        for (bad, says) in [
            (format!("{ok}{ok}"), "more than one"),
            (
                ok.replace(
                    "https://token.actions.githubusercontent.com/",
                    "http://keys.example/",
                ),
                "jwks_url",
            ),
            (format!("{ok}jwks_file = \"/k.json\"\n"), "jwks_file"),
            (
                ok.replace("audience = \"warden\"\n", "audience = \"\"\n"),
                "audience",
            ),
            (format!("{ok}colour = \"blue\"\n"), "colour"),
        ] {
            let e = parse(&bad).unwrap_err().to_string();
            assert!(
                e.starts_with("warden.toml:") && e.contains(says),
                "{says}: {e}"
            );
        }
    }

    const DOCS: &str = include_str!("../../../docs/config.md");

    #[test]
    fn every_toml_block_in_the_docs_parses() {
        let mut blocks = 0;
        let mut current: Option<String> = None;
        for line in DOCS.lines() {
            match &mut current {
                None if line.trim() == "```toml" => current = Some(String::new()),
                Some(block) if line.trim() == "```" => {
                    parse(block).unwrap_or_else(|e| panic!("docs/config.md: {e}"));
                    blocks += 1;
                    current = None;
                }
                Some(block) => {
                    block.push_str(line);
                    block.push('\n');
                }
                None => {}
            }
        }
        assert!(blocks >= 1);
    }

    #[test]
    fn every_key_and_variable_is_documented() {
        let example = include_str!("../../../examples/warden.toml");
        for s in SETTINGS {
            let (section, key) = s.key.split_once('.').unwrap();
            assert!(DOCS.contains(&format!("`{}`", s.key)), "docs: `{}`", s.key);
            assert!(DOCS.contains(&format!("`{}`", s.var)), "docs: `{}`", s.var);
            assert!(example.contains(s.var), "example: {}", s.var);
            assert!(
                example.contains(&format!("[{section}]")),
                "example: [{section}]"
            );
            assert!(example.contains(&format!("\n{key} =")), "example: {key}");
        }
    }

    #[test]
    fn the_metrics_token_comes_from_the_file_its_file_or_the_environment_and_is_hidden() {
        let token = "m3trics-t0ken-0123456789";
        let c = parse(&format!("[server]\nmetrics_token = \"{token}\"\n")).unwrap();
        assert_eq!(c.server.metrics_token.as_ref().unwrap().expose(), token);
        assert!(!format!("{c:?}").contains(token), "Debug shows the token");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        let text = format!("[server]\nmetrics_token_file = \"{}\"\n", file.display());
        let c = parse(&text).unwrap();
        assert_eq!(c.server.metrics_token.as_ref().unwrap().expose(), token);
        let c = with_env(
            Some(&text),
            &[("WARDEN_METRICS_TOKEN", "from-the-environment-1")],
        )
        .unwrap();
        assert_eq!(
            c.server.metrics_token.unwrap().expose(),
            "from-the-environment-1"
        );
        assert_eq!(Config::default().server.metrics_token, None);

        let both = format!("{text}metrics_token = \"{token}\"\n");
        assert!(parse(&both).unwrap_err().to_string().contains("not both"));
        let e = parse("[server]\nmetrics_token = \"short\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`server.metrics_token`") && !e.contains("short"),
            "{e}"
        );
    }

    #[test]
    fn server_limits_are_read_and_checked() {
        let c = parse(
            "[server]\nheader_read_timeout = \"2s\"\nbody_read_timeout = \"3s\"\n\
             idle_timeout = \"4s\"\nmax_connections = 7\nmax_in_flight = 5\n",
        )
        .unwrap();
        assert_eq!(c.server.header_read_timeout, dur("2s"));
        assert_eq!(c.server.body_read_timeout, dur("3s"));
        assert_eq!(c.server.idle_timeout, dur("4s"));
        assert_eq!((c.server.max_connections, c.server.max_in_flight), (7, 5));
        let e = parse("[server]\nmax_in_flight = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`server.max_in_flight`"), "{e}");
    }

    #[test]
    fn every_key_has_its_own_variable() {
        let mut vars: Vec<&str> = SETTINGS.iter().map(|s| s.var).collect();
        assert!(vars.iter().all(|v| v.starts_with("WARDEN_")), "{vars:?}");
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(vars.len(), SETTINGS.len(), "two keys share a variable");
    }
}
