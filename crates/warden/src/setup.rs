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

/// The sealing key from `[secrets] key_file`: read if the file exists, made (random,
/// readable by its owner only) if it does not. A key that is not 32 bytes of base64 is
/// an error: sealed credentials would not open.
pub fn sealing_key(config: &Config) -> Result<[u8; warden_engine::seal::KEY_LEN], Failure> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let path = &config.secrets.key_file;
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file `{}`", path.display()))?;
        let bytes = STANDARD.decode(text.trim()).ok();
        return bytes
            .and_then(|b| <[u8; warden_engine::seal::KEY_LEN]>::try_from(b).ok())
            .ok_or_else(|| {
                input_error(anyhow::anyhow!(
                    "the key file `{}` must hold 32 bytes in base64",
                    path.display()
                ))
            });
    }
    let key = warden_engine::seal::random_key().context("cannot make a sealing key")?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the key file `{}`", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", STANDARD.encode(key)).as_bytes())
        .with_context(|| format!("cannot write the key file `{}`", path.display()))?;
    tracing::info!(path = %path.display(), "made a new sealing key");
    Ok(key)
}
