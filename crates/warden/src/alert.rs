//! `[[alert]]`: where audit events are sent (docs/alerts.md). Each block is checked when the
//! configuration loads — shape, unknown keys, unique names, the URL, the events, and that
//! its `itsm` names a configured `[[itsm]]` — and built when the server starts, when its
//! secret file is read (and refused if others may read it).

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::Spanned;
use warden_alert::AlertConfig;
use warden_engine::alert::{AlertInstance, Alerts};

use crate::itsm::ItsmBlock;

/// Checks the `[[alert]]` blocks against the configured ITSMs; an error carries the byte
/// offset of its block and names the field.
pub fn from_file(
    blocks: &[Spanned<toml::Table>],
    itsms: &[ItsmBlock],
) -> Result<Vec<AlertConfig>, (usize, String)> {
    let mut out: Vec<AlertConfig> = Vec::new();
    for b in blocks {
        let at = b.span().start;
        let c: AlertConfig = b
            .get_ref()
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| (at, format!("`alert`: {}", e.message().trim_end())))?;
        c.validate().map_err(|e| (at, e.to_string()))?;
        if out.iter().any(|o| o.name == c.name) {
            return Err((at, format!("`alert.name`: `{}` is defined twice", c.name)));
        }
        if let Some(itsm) = &c.itsm
            && !itsms.iter().any(|i| &i.name == itsm)
        {
            return Err((
                at,
                format!(
                    "alert `{}`: `alert.itsm`: `{}` is not a configured `[[itsm]]`",
                    c.name,
                    crate::config::shown(itsm)
                ),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// Builds every configured alert: its secret read and its sender made.
pub fn build(
    configs: &[AlertConfig],
    give_up_after: warden_model::Duration,
) -> anyhow::Result<Alerts> {
    let mut by_name = BTreeMap::new();
    for c in configs {
        let sender = c.sender()?.map(Arc::new);
        by_name.insert(
            c.name.clone(),
            AlertInstance {
                config: Arc::new(c.clone()),
                sender,
            },
        );
    }
    Ok(Alerts::new(by_name, give_up_after))
}
