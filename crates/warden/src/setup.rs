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
    // Written whole to a private file, then linked into place: a link fails if the name
    // exists, so two servers starting together agree on one key, and neither ever reads a
    // half-written file.
    // A name of its own per attempt (never derived from the key).
    let nonce = warden_engine::seal::random_key().context("cannot make a sealing key")?;
    let suffix: String = nonce.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension(format!("tmp{}-{suffix}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot create the key file `{}`", tmp.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", STANDARD.encode(key)).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the key file `{}`", tmp.display()))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return sealing_key(config),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot create the key file `{}`", path.display()))
                .into());
        }
    }
    tracing::info!(path = %path.display(), "made a new sealing key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &std::path::Path) -> Config {
        let mut c = Config::default();
        c.secrets.key_file = path.to_owned();
        c
    }

    #[test]
    fn the_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(&dir.path().join("keys/secret.key"));
        let made = sealing_key(&c).ok().unwrap();
        assert_eq!(sealing_key(&c).ok().unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&c.secrets.key_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "the key file is readable by others: {mode:o}"
            );
        }
        // Servers starting together agree on one key.
        let d2 = tempfile::tempdir().unwrap();
        let c2 = config(&d2.path().join("secret.key"));
        let keys: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| sealing_key(&c2).ok().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn a_damaged_key_file_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "not a key").unwrap();
        let e = sealing_key(&config(&path)).err().unwrap();
        assert!(e.error.to_string().contains("32 bytes"), "{}", e.error);
    }
}
