//! `[[connector]]`: connector instances from the config, and building each one on its
//! crate. Admin URLs usually hold a password, so they are read from the file, a
//! `url_file`, or `WARDEN_CONNECTOR_<NAME>_URL`, and never shown.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use secrecy::SecretString;
use serde::Deserialize;
use toml::Spanned;
use warden_connect::{ConnectError, Connector, ConnectorKind, Prefix, Settings};
use warden_engine::connectors::{ConnectorInstance, Connectors};

use crate::config::{redacted, shown};

/// One `[[connector]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorFile {
    name: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    url: Option<Spanned<String>>,
    #[serde(default)]
    url_file: Option<Spanned<String>>,
    #[serde(default)]
    prefix: Option<Spanned<String>>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// A checked connector instance.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    /// Its name, as systems name it.
    pub name: String,
    /// Its kind.
    pub kind: ConnectorKind,
    /// The admin URL (may hold a password; `Debug` hides it).
    pub url: String,
    /// The prefix of the accounts it creates.
    pub prefix: String,
    /// Kind-specific settings.
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("options", &self.options)
            .finish()
    }
}

/// The variable that overrides connector `name`'s URL.
pub fn url_var(name: &str) -> String {
    format!(
        "WARDEN_CONNECTOR_{}_URL",
        name.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

/// Checks the `[[connector]]` tables; an error carries the byte offset it is about.
pub fn from_file(
    tables: &[ConnectorFile],
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<ConnectorConfig>, (usize, String)> {
    let mut out: Vec<ConnectorConfig> = Vec::new();
    for t in tables {
        let at = |s: &Spanned<String>, m: String| (s.span().start, m);
        let name = t.name.get_ref();
        let name_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok || name.len() > 64 {
            return Err(at(
                &t.name,
                format!(
                    "`connector.name`: `{}` must be letters, digits, `-` and `_`",
                    shown(name)
                ),
            ));
        }
        if out.iter().any(|c| c.name == *name) {
            return Err(at(
                &t.name,
                format!("`connector.name`: `{name}` is defined twice"),
            ));
        }
        let kind = serde_plain_kind(t.kind.get_ref()).ok_or_else(|| {
            at(
                &t.kind,
                format!(
                    "`connector.kind`: `{}` is not one of postgres, mariadb, redis, rabbitmq, ldap",
                    shown(t.kind.get_ref())
                ),
            )
        })?;
        let url = match (
            env(&url_var(name)).filter(|v| !v.is_empty()),
            &t.url,
            &t.url_file,
        ) {
            (Some(v), _, _) => v,
            (None, Some(u), None) => u.get_ref().clone(),
            (None, None, Some(f)) => std::fs::read_to_string(f.get_ref())
                .map(|s| s.trim().to_owned())
                .map_err(|e| {
                    at(
                        f,
                        format!(
                            "`connector.url_file`: cannot read `{}`: {e}",
                            shown(f.get_ref())
                        ),
                    )
                })?,
            (None, Some(u), Some(_)) => {
                return Err(at(
                    u,
                    "`connector`: give `url` or `url_file`, not both".into(),
                ));
            }
            (None, None, None) => {
                return Err(at(
                    &t.name,
                    format!(
                        "`connector` `{name}`: no `url`, `url_file` or `{}`",
                        url_var(name)
                    ),
                ));
            }
        };
        let prefix = match &t.prefix {
            Some(p) => Prefix::parse(p.get_ref())
                .map_err(|e| at(p, format!("`connector.prefix`: {e}")))?
                .as_str()
                .to_owned(),
            None => Prefix::DEFAULT.to_owned(),
        };
        out.push(ConnectorConfig {
            name: name.clone(),
            kind,
            url,
            prefix,
            options: t.options.clone(),
        });
    }
    Ok(out)
}

fn serde_plain_kind(s: &str) -> Option<ConnectorKind> {
    [
        ConnectorKind::Postgres,
        ConnectorKind::Mariadb,
        ConnectorKind::Redis,
        ConnectorKind::Rabbitmq,
        ConnectorKind::Ldap,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

/// Checks `bundle`'s roles against the kinds of the configured connectors without
/// connecting to any: every role on a system whose connector is configured must have
/// `grants` its kind accepts. The errors name the role.
pub fn check_kinds(
    configs: &[ConnectorConfig],
    bundle: &warden_policy::Bundle,
) -> Result<(), Vec<String>> {
    let catalog = &bundle.catalog;
    let mut errors = Vec::new();
    for system in catalog.systems.values() {
        let Some(kind) = system
            .connector
            .as_ref()
            .and_then(|name| configs.iter().find(|c| &c.name == name))
            .map(|c| c.kind)
        else {
            continue;
        };
        for role in catalog.roles.values().filter(|r| r.system == system.id) {
            if let Err(e) = kind.check_grants(&role.grants) {
                errors.push(format!("role `{}`: {e}", role.id));
            }
        }
    }
    errors.sort();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Builds every configured connector on its crate.
pub async fn build(configs: &[ConnectorConfig]) -> Result<Connectors, ConnectError> {
    let mut by_name = HashMap::new();
    for c in configs {
        let prefix = Prefix::parse(&c.prefix)?;
        let settings = Settings {
            name: c.name.clone(),
            url: SecretString::from(c.url.clone()),
            prefix: prefix.clone(),
            options: c.options.clone(),
        };
        let connector: Arc<dyn Connector> = match c.kind {
            ConnectorKind::Postgres => Arc::new(warden_connect_postgres::connect(&settings).await?),
            ConnectorKind::Mariadb => Arc::new(warden_connect_mariadb::connect(&settings).await?),
            ConnectorKind::Redis => Arc::new(warden_connect_redis::connect(&settings).await?),
            ConnectorKind::Rabbitmq => Arc::new(warden_connect_rabbitmq::connect(&settings).await?),
            ConnectorKind::Ldap => Arc::new(warden_connect_ldap::connect(&settings).await?),
        };
        by_name.insert(c.name.clone(), ConnectorInstance { connector, prefix });
    }
    Ok(Connectors::new(by_name))
}
