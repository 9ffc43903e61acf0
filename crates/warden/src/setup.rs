//! What the commands that touch state share: the `--config` argument, loading it, an async
//! runtime, and opening the store.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use warden_store::Store;

use crate::config::{Config, ensure_sqlite_dir, private_dir};
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

/// An engine for a one-shot command: the configured store and bundle, the wall clock, and
/// `engine_config` (the defaults suit a command that provisions nothing).
pub async fn open_engine(
    config: &Config,
    engine_config: warden_engine::EngineConfig,
) -> Result<warden_engine::Engine, Failure> {
    let store = open_store(config).await?;
    let bundle = crate::load_bundle(&config.bundle.path)?;
    let engine = warden_engine::Engine::new(
        store,
        bundle,
        std::sync::Arc::new(warden_engine::SystemClock),
        engine_config,
    )
    .await
    .context("cannot start the engine")?;
    Ok(engine)
}

/// The sealing key from `[secrets] key_file`: read if the file exists, made (random,
/// readable by its owner only) if it does not. A key that is not 32 bytes of base64 is
/// an error: sealed credentials would not open.
pub fn sealing_key(config: &Config) -> Result<[u8; KEY_LEN], Failure> {
    key_file(&config.secrets.key_file, "sealing key")
}

/// The length of every key Warden keeps in a file.
pub const KEY_LEN: usize = warden_engine::seal::KEY_LEN;

/// A 32-byte key kept in base64 at `path` (`what` names it in messages): read if the file
/// exists, made (random, mode 0600, its directory 0700) if it does not. A file that group
/// or others may read is refused, naming it and the fix.
pub fn key_file(path: &Path, what: &str) -> Result<[u8; KEY_LEN], Failure> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    if path.exists() {
        refuse_open_key(path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} file `{}`", path.display()))?;
        let bytes = STANDARD.decode(text.trim()).ok();
        return bytes
            .and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok())
            .ok_or_else(|| {
                input_error(anyhow::anyhow!(
                    "the {what} file `{}` must hold 32 bytes in base64",
                    path.display()
                ))
            });
    }
    let key = warden_engine::seal::random_key().with_context(|| format!("cannot make a {what}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    // Written whole to a private file, then linked into place: a link fails if the name
    // exists, so two servers starting together agree on one key, and neither ever reads a
    // half-written file.
    // A name of its own per attempt (never derived from the key).
    let nonce =
        warden_engine::seal::random_key().with_context(|| format!("cannot make a {what}"))?;
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
        .with_context(|| format!("cannot create the {what} file `{}`", tmp.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", STANDARD.encode(key)).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the {what} file `{}`", tmp.display()))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return key_file(path, what),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!(
                    "cannot create the {what} file `{}`",
                    path.display()
                ))
                .into());
        }
    }
    tracing::info!(path = %path.display(), "made a new {what}");
    Ok(key)
}

/// Refuses a key file whose mode lets group or others at it: anyone who can read it can
/// open sealed credentials or sign checkpoints.
pub(crate) fn refuse_open_key(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read the mode of `{}`", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(input_error(anyhow::anyhow!(
                "the key file `{p}` is open to group or others (mode {m:o}); \
                 fix it with `chmod 600 {p}`",
                p = path.display(),
                m = mode & 0o777,
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Workload sign-in for the configured `[[oidc_issuer]]` blocks; off when there are none.
pub fn workloads(config: &Config) -> Result<Option<warden_engine::workload::Workloads>, Failure> {
    if config.oidc_issuers.is_empty() {
        return Ok(None);
    }
    let verifier = warden_oidc::Verifier::new(config.oidc_issuers.clone())
        .map_err(|e| input_error(anyhow::anyhow!(e)))?;
    Ok(Some(warden_engine::workload::Workloads {
        verifier: std::sync::Arc::new(verifier),
    }))
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

    #[cfg(unix)]
    #[test]
    fn a_key_file_open_to_others_is_refused_naming_the_fix() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let c = config(&dir.path().join("data/secret.key"));
        let made = sealing_key(&c).ok().unwrap();
        let data = dir.path().join("data");
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for mode in [0o640, 0o604, 0o660, 0o602] {
            std::fs::set_permissions(&c.secrets.key_file, std::fs::Permissions::from_mode(mode))
                .unwrap();
            let e = sealing_key(&c).err().unwrap();
            let p = c.secrets.key_file.display();
            let msg = format!("{:#}", e.error);
            assert!(msg.contains(&format!("`{p}`")), "{msg}");
            assert!(msg.contains(&format!("chmod 600 {p}")), "{msg}");
            assert_eq!(e.code, crate::EXIT_INPUT);
        }
        std::fs::set_permissions(&c.secrets.key_file, std::fs::Permissions::from_mode(0o400))
            .unwrap();
        assert_eq!(sealing_key(&c).ok().unwrap(), made);
    }

    #[test]
    fn a_damaged_key_file_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "not a key").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = sealing_key(&config(&path)).err().unwrap();
        assert!(e.error.to_string().contains("32 bytes"), "{}", e.error);
    }
}
