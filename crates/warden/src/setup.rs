//! What the commands that touch state share: the `--config` argument, loading it, an async
//! runtime, and opening the store.

use std::path::PathBuf;

use anyhow::Context as _;
use warden_store::Store;

use crate::config::{Config, ensure_sqlite_dir};
use crate::{Failure, input_error, telemetry};

/// The `--config FILE` argument.
#[derive(clap::Args)]
pub struct ConfigArg {
    /// The configuration file; without it, the defaults and the `WARDEN_*` variables.
    #[arg(long, env = "WARDEN_CONFIG")]
    config: Option<PathBuf>,
}

/// Loads the configuration (a bad one is an input error) and installs the log subscriber.
pub fn start(arg: &ConfigArg) -> Result<Config, Failure> {
    let config =
        Config::load(arg.config.as_deref(), &|var| std::env::var(var).ok()).map_err(input_error)?;
    telemetry::init(config.server.log_format);
    Ok(config)
}

/// Runs `future` to completion on a runtime for this one command.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Opens (and migrates) the configured database, creating a SQLite file's directory first.
pub async fn open_store(config: &Config) -> Result<Store, Failure> {
    ensure_sqlite_dir(&config.database.url)?;
    // The url is not quoted: it may hold a password.
    let store = Store::connect(&config.database.url)
        .await
        .context("cannot open the database")?;
    Ok(store)
}
