//! `warden bundle activate`: validate a bundle, store it by hash and make it the one that
//! decides. Every running server on the same database switches within seconds; the
//! activation schedules the offboarding of everyone the new catalog no longer lets act.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use clap::Subcommand;

use crate::setup::{self, ConfigArg};
use crate::{Failure, clock, connector, load_bundle};

/// Bundle commands.
#[derive(Subcommand)]
pub enum BundleCommand {
    /// Validate a bundle, store it and make it the active one; prints its hash.
    Activate(ActivateArgs),
}

/// `warden bundle activate`.
#[derive(clap::Args)]
pub struct ActivateArgs {
    /// The bundle directory; defaults to the configuration's `bundle.path`.
    #[arg(long)]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs a bundle command and returns its exit code.
pub fn run(cmd: &BundleCommand) -> Result<u8, Failure> {
    match cmd {
        BundleCommand::Activate(args) => activate(args),
    }
}

fn activate(args: &ActivateArgs) -> Result<u8, Failure> {
    let config = setup::start(&args.config)?;
    let dir = args
        .bundle
        .clone()
        .unwrap_or_else(|| config.bundle.path.clone());
    let bundle = load_bundle(&dir)?;
    connector::check_kinds(&config.connectors, &bundle).map_err(|errors| {
        anyhow!(
            "the bundle does not fit the configured connectors:\n{}",
            errors.join("\n")
        )
    })?;
    let done = setup::block_on(async {
        let store = setup::open_store(&config).await?;
        let done = warden_engine::activation::activate(&store, &bundle, "cli", clock::now())
            .await
            .context("cannot activate the bundle")?;
        store.close().await;
        Ok::<_, Failure>(done)
    })??;
    tracing::info!(bundle = %done.hash, changed = done.changed, "bundle activated");
    #[expect(clippy::print_stdout, reason = "the hash is the command's output")]
    {
        println!("{}", done.hash);
        if !done.changed {
            println!("this bundle was active already; nothing changed");
        }
    }
    Ok(0)
}
