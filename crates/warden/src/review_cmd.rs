//! `warden review start ID`: starts a run of a `[[review]]` campaign of the configured
//! bundle now, instead of waiting for its schedule, and prints the review as JSON.

use anyhow::Context as _;
use warden_engine::{EngineConfig, EngineError};

use crate::setup::{self, ConfigArg};
use crate::{Failure, input_error};

/// `warden review …`.
#[derive(clap::Subcommand)]
pub enum ReviewCommand {
    /// Start a run of a campaign now: one item per grant in its scope and one per
    /// non-human identity in scope. Its reminder, due date and next run are scheduled
    /// for the server's worker.
    Start {
        /// The campaign's `id` in the bundle's `[[review]]`.
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs a `review` command.
pub fn run(command: &ReviewCommand) -> Result<u8, Failure> {
    let ReviewCommand::Start { id, config } = command;
    let config = setup::start(config)?;
    let text = setup::block_on(async {
        let engine = setup::open_engine(&config, EngineConfig::default()).await?;
        let started = engine.start_campaign(id, "cli").await;
        engine.store().close().await;
        let view = started.map_err(|e: EngineError| match e {
            EngineError::NotFound(m) => input_error(anyhow::anyhow!(m)),
            e => Failure::from(anyhow::Error::new(e).context("cannot start the review")),
        })?;
        Ok::<_, Failure>(serde_json::to_string_pretty(&view).context("cannot print the review")?)
    })??;
    #[expect(clippy::print_stdout, reason = "the review is the command's output")]
    {
        println!("{text}");
    }
    Ok(0)
}
