//! `[[itsm]]`: the ITSMs requests come from. Each block is checked when the configuration
//! loads (shape, unknown keys, unique names) and built when the server starts, when its
//! password and webhook secrets are read from files or `WARDEN_ITSM_<NAME>_*`.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use toml::Spanned;
use warden_engine::itsm::{ItsmInstance, Itsms};
use warden_itsm::{ItsmConfig, Verifier};

/// One `[[itsm]]` block, kept as written (it holds no secret: those come from files or the
/// environment) and read again when the server builds it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ItsmBlock {
    /// The adapter's name.
    pub name: String,
    text: String,
}

fn parse(text: &str) -> Result<ItsmConfig, String> {
    toml::from_str::<ItsmConfig>(text).map_err(|e| e.message().trim_end().to_owned())
}

/// Checks the `[[itsm]]` blocks; an error carries the byte offset it is about.
pub fn from_file(blocks: &[Spanned<toml::Table>]) -> Result<Vec<ItsmBlock>, (usize, String)> {
    let mut out: Vec<ItsmBlock> = Vec::new();
    for b in blocks {
        let at = b.span().start;
        let text = toml::to_string(b.get_ref()).map_err(|e| (at, format!("`itsm`: {e}")))?;
        let c = parse(&text).map_err(|m| (at, format!("`itsm`: {m}")))?;
        if out.iter().any(|o| o.name == c.name) {
            return Err((at, format!("`itsm.name`: `{}` is defined twice", c.name)));
        }
        out.push(ItsmBlock { name: c.name, text });
    }
    Ok(out)
}

/// Builds every configured ITSM: secrets loaded, the block validated, the webhook
/// verifier and the API client made.
pub fn build(blocks: &[ItsmBlock], env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Itsms> {
    let mut by_name = HashMap::new();
    for b in blocks {
        let mut config = parse(&b.text).map_err(anyhow::Error::msg)?;
        config
            .load_secrets(env)
            .with_context(|| format!("itsm `{}`", b.name))?;
        let verifier = Verifier::new(&config).with_context(|| format!("itsm `{}`", b.name))?;
        let adapter =
            warden_itsm_adapters::build(&config).with_context(|| format!("itsm `{}`", b.name))?;
        by_name.insert(
            b.name.clone(),
            ItsmInstance {
                adapter: Arc::from(adapter),
                verifier: Arc::new(verifier),
                config: Arc::new(config),
            },
        );
    }
    Ok(Itsms::new(by_name))
}
