//! Building the web console from `[ui]`: its public address (the bound one when
//! `public_url` is not set), its session lifetimes, its admin and audit groups, and single
//! sign-on when `[ui.oidc]` is set.

use std::path::Path;

use secrecy::SecretString;
use warden_engine::Engine;
use warden_engine::session::SessionRules;

use crate::config::Config;
use crate::{Failure, input_error};

/// The configuration key of the client secret's file, as errors name it.
const SECRET_KEY: &str = "ui.oidc.client_secret_file";

/// The console of `engine`, reached at `addr` unless `[ui] public_url` says otherwise.
/// With `[ui.oidc]`, the client secret is read now (a file open to group or others is
/// refused) and the provider is asked nothing until the first sign-in.
pub fn build(
    config: &Config,
    engine: Engine,
    addr: std::net::SocketAddr,
) -> Result<warden_console::Console, Failure> {
    let console = warden_console::Console::new(
        engine,
        warden_console::ConsoleConfig {
            public_url: config.ui.public_url(addr),
            session: SessionRules {
                idle: config.ui.idle_timeout,
                absolute: config.ui.session_lifetime,
            },
            admin_groups: config.ui.admin_groups.clone(),
            audit_groups: config.ui.audit_groups.clone(),
        },
    );
    let Some(oidc) = &config.ui.oidc else {
        return Ok(console);
    };
    let sign_in = warden_oidc::SignIn::new(warden_oidc::SignInConfig {
        issuer: oidc.issuer.clone(),
        client_id: oidc.client_id.clone(),
        client_secret: client_secret(&oidc.client_secret_file)?,
        redirect_url: oidc.redirect_url.clone(),
    })
    .map_err(|e| input_error(anyhow::anyhow!("`ui.oidc`: {e}")))?;
    tracing::info!(
        issuer = oidc.issuer,
        identity_claim = oidc.identity_claim,
        "console single sign-on is on"
    );
    Ok(console.with_oidc(sign_in, oidc.identity_claim.clone()))
}

/// The client secret: the first line of `path`, trimmed. A file that group or others may
/// read is refused as the sealing key's is; so is an empty one.
fn client_secret(path: &Path) -> Result<SecretString, Failure> {
    let named = |mut f: Failure| {
        f.error = f.error.context(format!("`{SECRET_KEY}`"));
        f
    };
    crate::setup::refuse_open_key(path).map_err(named)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        input_error(anyhow::anyhow!(
            "`{SECRET_KEY}`: cannot read `{}`: {e}",
            path.display()
        ))
    })?;
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.is_empty() {
        return Err(input_error(anyhow::anyhow!(
            "`{SECRET_KEY}`: the first line of `{}` is empty; it must hold the client secret",
            path.display()
        )));
    }
    Ok(SecretString::from(secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn private(path: &Path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = path;
    }

    #[test]
    fn the_secret_is_the_first_line_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client-secret");
        std::fs::write(&path, "  s3cret value \nsecond line\n").unwrap();
        private(&path);
        assert_eq!(
            client_secret(&path).ok().unwrap().expose_secret(),
            "s3cret value"
        );

        std::fs::write(&path, "\n").unwrap();
        let e = client_secret(&path).err().unwrap();
        let msg = format!("{:#}", e.error);
        assert!(msg.contains(SECRET_KEY) && msg.contains("empty"), "{msg}");

        let missing = dir.path().join("missing");
        let e = client_secret(&missing).err().unwrap();
        assert!(format!("{:#}", e.error).contains(SECRET_KEY));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_open_to_others_is_refused_naming_the_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client-secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = client_secret(&path).err().unwrap();
        let msg = format!("{:#}", e.error);
        assert!(msg.contains(SECRET_KEY), "{msg}");
        assert!(msg.contains("chmod 600"), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
        assert_eq!(e.code, crate::EXIT_INPUT);
    }
}
