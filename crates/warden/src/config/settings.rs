//! Every configuration key in one table ([`SETTINGS`]): where it sits in the file, the
//! variable that overrides it, and how its value is checked and set — with the file's
//! structs as TOML writes them and the value checks the table uses.

use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;
use warden_model::Duration;

use super::*;

/// One key: where it is in the file, its variable, and how a value is checked and set.
pub(super) struct Setting {
    /// `section.key`.
    pub(super) key: &'static str,
    /// The environment variable that overrides it.
    pub(super) var: &'static str,
    /// Its value in the parsed file, if set there.
    pub(super) file: fn(&FileConfig) -> Option<&Spanned<Raw>>,
    /// Checks a value and stores it.
    pub(super) apply: fn(&mut Config, &Raw) -> Result<(), String>,
}

/// Every key, in file order. Adding a key means a row here, a field in the file structs,
/// and a line in docs/config.md and examples/warden.toml (a test checks the last two).
pub(super) const SETTINGS: &[Setting] = &[
    Setting {
        key: "server.listen",
        var: "WARDEN_LISTEN",
        file: |f| f.server.listen.as_ref(),
        apply: |c, v| {
            c.server.listen = socket_addr(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.body_limit",
        var: "WARDEN_BODY_LIMIT",
        file: |f| f.server.body_limit.as_ref(),
        apply: |c, v| {
            c.server.body_limit = byte_size(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.log_format",
        var: "WARDEN_LOG_FORMAT",
        file: |f| f.server.log_format.as_ref(),
        apply: |c, v| {
            c.server.log_format = log_format(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.header_read_timeout",
        var: "WARDEN_HEADER_READ_TIMEOUT",
        file: |f| f.server.header_read_timeout.as_ref(),
        apply: |c, v| {
            c.server.header_read_timeout = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.body_read_timeout",
        var: "WARDEN_BODY_READ_TIMEOUT",
        file: |f| f.server.body_read_timeout.as_ref(),
        apply: |c, v| {
            c.server.body_read_timeout = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.idle_timeout",
        var: "WARDEN_IDLE_TIMEOUT",
        file: |f| f.server.idle_timeout.as_ref(),
        apply: |c, v| {
            c.server.idle_timeout = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.max_connections",
        var: "WARDEN_MAX_CONNECTIONS",
        file: |f| f.server.max_connections.as_ref(),
        apply: |c, v| {
            c.server.max_connections = count(v)?;
            Ok(())
        },
    },
    Setting {
        key: "server.max_in_flight",
        var: "WARDEN_MAX_IN_FLIGHT",
        file: |f| f.server.max_in_flight.as_ref(),
        apply: |c, v| {
            c.server.max_in_flight = count(v)?;
            Ok(())
        },
    },
    Setting {
        key: "database.url",
        var: "WARDEN_DATABASE_URL",
        file: |f| f.database.url.as_ref(),
        apply: |c, v| {
            c.database.url = database_url(v)?;
            Ok(())
        },
    },
    Setting {
        key: "bundle.path",
        var: "WARDEN_BUNDLE",
        file: |f| f.bundle.path.as_ref(),
        apply: |c, v| {
            c.bundle.path = PathBuf::from(non_empty(v)?);
            Ok(())
        },
    },
    Setting {
        key: "tokens.default_ttl",
        var: "WARDEN_TOKEN_TTL",
        file: |f| f.tokens.default_ttl.as_ref(),
        apply: |c, v| {
            c.tokens.default_ttl = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "lifecycle.approval_window",
        var: "WARDEN_APPROVAL_WINDOW",
        file: |f| f.lifecycle.approval_window.as_ref(),
        apply: |c, v| {
            c.lifecycle.approval_window = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "worker.enabled",
        var: "WARDEN_WORKER_ENABLED",
        file: |f| f.worker.enabled.as_ref(),
        apply: |c, v| {
            c.worker.enabled = boolean(v)?;
            Ok(())
        },
    },
    Setting {
        key: "worker.poll_every",
        var: "WARDEN_WORKER_POLL_EVERY",
        file: |f| f.worker.poll_every.as_ref(),
        apply: |c, v| {
            c.worker.poll_every = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "worker.lease",
        var: "WARDEN_WORKER_LEASE",
        file: |f| f.worker.lease.as_ref(),
        apply: |c, v| {
            c.worker.lease = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "worker.batch",
        var: "WARDEN_WORKER_BATCH",
        file: |f| f.worker.batch.as_ref(),
        apply: |c, v| {
            c.worker.batch = count(v)?;
            Ok(())
        },
    },
    Setting {
        key: "secrets.key_file",
        var: "WARDEN_SECRET_KEY_FILE",
        file: |f| f.secrets.key_file.as_ref(),
        apply: |c, v| {
            c.secrets.key_file = PathBuf::from(non_empty(v)?);
            Ok(())
        },
    },
    Setting {
        key: "alerts.give_up_after",
        var: "WARDEN_ALERTS_GIVE_UP_AFTER",
        file: |f| f.alerts.give_up_after.as_ref(),
        apply: |c, v| {
            c.alert_delivery.give_up_after = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "provisioning.rotation_overlap",
        var: "WARDEN_ROTATION_OVERLAP",
        file: |f| f.provisioning.rotation_overlap.as_ref(),
        apply: |c, v| {
            c.provisioning.rotation_overlap = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "provisioning.reconcile_every",
        var: "WARDEN_RECONCILE_EVERY",
        file: |f| f.provisioning.reconcile_every.as_ref(),
        apply: |c, v| {
            c.provisioning.reconcile_every = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "provisioning.remove_orphans",
        var: "WARDEN_REMOVE_ORPHANS",
        file: |f| f.provisioning.remove_orphans.as_ref(),
        apply: |c, v| {
            c.provisioning.remove_orphans = boolean(v)?;
            Ok(())
        },
    },
    Setting {
        key: "audit.checkpoint_key",
        var: "WARDEN_AUDIT_CHECKPOINT_KEY",
        file: |f| f.audit.checkpoint_key.as_ref(),
        apply: |c, v| {
            c.audit.checkpoint_key = PathBuf::from(non_empty(v)?);
            Ok(())
        },
    },
    Setting {
        key: "audit.checkpoint_file",
        var: "WARDEN_AUDIT_CHECKPOINT_FILE",
        file: |f| f.audit.checkpoint_file.as_ref(),
        apply: |c, v| {
            c.audit.checkpoint_file = PathBuf::from(non_empty(v)?);
            Ok(())
        },
    },
    Setting {
        key: "audit.checkpoint_every",
        var: "WARDEN_AUDIT_CHECKPOINT_EVERY",
        file: |f| f.audit.checkpoint_every.as_ref(),
        apply: |c, v| {
            c.audit.checkpoint_every = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "report.removal_grace",
        var: "WARDEN_REPORT_REMOVAL_GRACE",
        file: |f| f.report.removal_grace.as_ref(),
        apply: |c, v| {
            c.report.removal_grace = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "report.jit_cap",
        var: "WARDEN_REPORT_JIT_CAP",
        file: |f| f.report.jit_cap.as_ref(),
        apply: |c, v| {
            c.report.jit_cap = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "ui.public_url",
        var: "WARDEN_UI_PUBLIC_URL",
        file: |f| f.ui.public_url.as_ref(),
        apply: |c, v| {
            c.ui.public_url = public_url(v)?;
            Ok(())
        },
    },
    Setting {
        key: "ui.idle_timeout",
        var: "WARDEN_UI_IDLE_TIMEOUT",
        file: |f| f.ui.idle_timeout.as_ref(),
        apply: |c, v| {
            c.ui.idle_timeout = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "ui.session_lifetime",
        var: "WARDEN_UI_SESSION_LIFETIME",
        file: |f| f.ui.session_lifetime.as_ref(),
        apply: |c, v| {
            c.ui.session_lifetime = duration(v)?;
            Ok(())
        },
    },
    Setting {
        key: "ui.admin_groups",
        var: "WARDEN_UI_ADMIN_GROUPS",
        file: |f| f.ui.admin_groups.as_ref(),
        apply: |c, v| {
            c.ui.admin_groups = groups(v)?;
            Ok(())
        },
    },
    Setting {
        key: "ui.audit_groups",
        var: "WARDEN_UI_AUDIT_GROUPS",
        file: |f| f.ui.audit_groups.as_ref(),
        apply: |c, v| {
            c.ui.audit_groups = groups(v)?;
            Ok(())
        },
    },
];

/// The file as written: each value kept with its place, checked afterwards by [`SETTINGS`].
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FileConfig {
    pub(super) server: ServerFile,
    pub(super) database: DatabaseFile,
    pub(super) bundle: BundleFile,
    pub(super) tokens: TokensFile,
    pub(super) lifecycle: LifecycleFile,
    pub(super) worker: WorkerFile,
    pub(super) secrets: SecretsFile,
    pub(super) provisioning: ProvisioningFile,
    pub(super) audit: AuditFile,
    pub(super) report: ReportFile,
    pub(super) ui: UiFile,
    pub(super) alerts: AlertsFile,
    pub(super) alert: Vec<Spanned<toml::Table>>,
    pub(super) connector: Vec<crate::connector::ConnectorFile>,
    pub(super) itsm: Vec<Spanned<toml::Table>>,
    pub(super) oidc_issuer: Vec<Spanned<warden_oidc::IssuerConfig>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SecretsFile {
    pub(super) key_file: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AuditFile {
    pub(super) checkpoint_key: Option<Spanned<Raw>>,
    pub(super) checkpoint_file: Option<Spanned<Raw>>,
    pub(super) checkpoint_every: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct UiFile {
    pub(super) public_url: Option<Spanned<Raw>>,
    pub(super) idle_timeout: Option<Spanned<Raw>>,
    pub(super) session_lifetime: Option<Spanned<Raw>>,
    pub(super) admin_groups: Option<Spanned<Raw>>,
    pub(super) audit_groups: Option<Spanned<Raw>>,
    pub(super) oidc: Option<Spanned<crate::config::UiOidcFile>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ReportFile {
    pub(super) removal_grace: Option<Spanned<Raw>>,
    pub(super) jit_cap: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AlertsFile {
    pub(super) give_up_after: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ProvisioningFile {
    pub(super) rotation_overlap: Option<Spanned<Raw>>,
    pub(super) reconcile_every: Option<Spanned<Raw>>,
    pub(super) remove_orphans: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ServerFile {
    pub(super) listen: Option<Spanned<Raw>>,
    pub(super) body_limit: Option<Spanned<Raw>>,
    pub(super) log_format: Option<Spanned<Raw>>,
    pub(super) header_read_timeout: Option<Spanned<Raw>>,
    pub(super) body_read_timeout: Option<Spanned<Raw>>,
    pub(super) idle_timeout: Option<Spanned<Raw>>,
    pub(super) max_connections: Option<Spanned<Raw>>,
    pub(super) max_in_flight: Option<Spanned<Raw>>,
    pub(super) metrics_token: Option<Spanned<Raw>>,
    pub(super) metrics_token_file: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DatabaseFile {
    pub(super) url: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct BundleFile {
    pub(super) path: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct TokensFile {
    pub(super) default_ttl: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct LifecycleFile {
    pub(super) approval_window: Option<Spanned<Raw>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct WorkerFile {
    pub(super) enabled: Option<Spanned<Raw>>,
    pub(super) poll_every: Option<Spanned<Raw>>,
    pub(super) lease: Option<Spanned<Raw>>,
    pub(super) batch: Option<Spanned<Raw>>,
}

/// A value as the file or the environment wrote it, before it is checked. The environment
/// only has text, so every check also accepts the text form of a number or a boolean.
#[derive(Clone, PartialEq, Debug)]
pub(super) enum Raw {
    Text(String),
    Integer(i64),
    Bool(bool),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'v> Visitor<'v> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a whole number, a boolean or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Integer)
                    .map_err(|_| E::custom(format!("`{v}` is too large")))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_seq<A: de::SeqAccess<'v>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(Raw::List(items))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Text(s) => f.write_str(&shown(s)),
            Raw::Integer(n) => write!(f, "{n}"),
            Raw::Bool(b) => write!(f, "{b}"),
            Raw::List(items) => {
                let shown: Vec<String> = items.iter().map(|i| shown(i)).collect();
                write!(f, "[{}]", shown.join(", "))
            }
        }
    }
}

/// User input as quoted in a message: at most 60 characters.
pub(crate) fn shown(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_owned()
    }
}

pub(super) fn text(v: &Raw) -> Result<&str, String> {
    match v {
        Raw::Text(s) => Ok(s),
        other => Err(format!("`{other}` is not a string")),
    }
}

pub(super) fn non_empty(v: &Raw) -> Result<&str, String> {
    match text(v)?.trim() {
        "" => Err("must not be empty".to_owned()),
        s => Ok(s),
    }
}

pub(super) fn socket_addr(v: &Raw) -> Result<SocketAddr, String> {
    let s = text(v)?;
    s.trim().parse().map_err(|_| {
        format!(
            "`{}` is not a socket address such as `127.0.0.1:8080`",
            shown(s)
        )
    })
}

pub(super) fn byte_size(v: &Raw) -> Result<ByteSize, String> {
    match v {
        Raw::Integer(n) => ByteSize::parse(&n.to_string()),
        other => ByteSize::parse(text(other)?),
    }
}

pub(super) fn log_format(v: &Raw) -> Result<LogFormat, String> {
    match text(v)?.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        s => Err(format!(
            "`{}` is not a log format: expected `text` or `json`",
            shown(s)
        )),
    }
}

/// Only the scheme is ever quoted back: the rest of a URL may hold a password.
pub(super) fn database_url(v: &Raw) -> Result<String, String> {
    let url = non_empty(v)?;
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("sqlite" | "postgres" | "postgresql") => Ok(url.to_owned()),
        Some(scheme) => Err(format!(
            "`{}` is not a supported database: expected `sqlite://PATH` or `postgres://…`",
            shown(scheme)
        )),
        None => Err("expected a url such as `sqlite://PATH` or `postgres://…`".to_owned()),
    }
}

pub(super) fn duration(v: &Raw) -> Result<Duration, String> {
    Duration::parse(text(v)?).map_err(|e| e.to_string())
}

pub(super) fn boolean(v: &Raw) -> Result<bool, String> {
    match v {
        Raw::Bool(b) => Ok(*b),
        Raw::Text(s) if s.trim() == "true" => Ok(true),
        Raw::Text(s) if s.trim() == "false" => Ok(false),
        other => Err(format!("`{other}` is not `true` or `false`")),
    }
}

pub(super) fn count(v: &Raw) -> Result<u32, String> {
    let n = match v {
        Raw::Integer(n) => Some(*n),
        Raw::Text(s) => s.trim().parse::<i64>().ok(),
        Raw::Bool(_) | Raw::List(_) => None,
    };
    match n.map(u32::try_from) {
        Some(Ok(n)) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{v}` is not a whole number from 1 to {}",
            u32::MAX
        )),
    }
}

/// A list of catalog group ids: a TOML array, or (from the environment) ids separated by
/// commas. Each must be a valid group id; the bundle decides later whether it exists.
pub(super) fn groups(v: &Raw) -> Result<std::collections::BTreeSet<warden_model::GroupId>, String> {
    let items: Vec<String> = match v {
        Raw::List(items) => items.clone(),
        Raw::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        other => return Err(format!("`{other}` is not a list of group ids")),
    };
    items
        .iter()
        .map(|g| warden_model::GroupId::parse(g.trim()).map_err(|e| format!("`{}`: {e}", shown(g))))
        .collect()
}

/// The console's public address: empty (made from `server.listen`), or an `http://` or
/// `https://` URL without a path, query or trailing slash.
pub(super) fn public_url(v: &Raw) -> Result<String, String> {
    let url = text(v)?.trim();
    if url.is_empty() {
        return Ok(String::new());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{}` must start with `http://` or `https://`", shown(url)))?;
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@'])
        || rest.chars().any(char::is_whitespace)
    {
        return Err(format!(
            "`{}` must be a scheme and a host (and port) only, such as `https://warden.example.com`",
            shown(url)
        ));
    }
    Ok(url.to_owned())
}
