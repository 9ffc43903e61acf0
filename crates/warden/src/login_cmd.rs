//! `warden login-link --identity ID`: a one-time sign-in link to the web console, for a
//! deployment without an identity provider (and for the first sign-in of one). The link's
//! secret is printed once and stored only as a hash; its making is audited.

use anyhow::anyhow;
use warden_engine::{EngineConfig, EngineError};
use warden_model::{Duration, IdentityId};

use crate::setup::{self, ConfigArg};
use crate::{Failure, input_error};

/// How long a sign-in link works: ten minutes.
const LINK_TTL_SECONDS: u64 = 600;

/// `warden login-link`.
#[derive(clap::Args)]
pub struct LoginLinkArgs {
    /// The person to sign in: an active human (or third-party) identity of the catalog.
    #[arg(long)]
    identity: String,
    #[command(flatten)]
    config: ConfigArg,
}

/// Prints the link; exit 2 for an identity that may not sign in.
pub fn run(args: &LoginLinkArgs) -> Result<u8, Failure> {
    let config = setup::start(&args.config)?;
    let identity =
        IdentityId::parse(&args.identity).map_err(|e| input_error(anyhow!("`--identity`: {e}")))?;
    let ttl = Duration::from_seconds(LINK_TTL_SECONDS)
        .ok_or_else(|| anyhow!("the link's lifetime is out of range"))?;
    let base = config.ui.public_url(config.server.listen);
    let link = setup::block_on(async {
        let engine = setup::open_engine(&config, EngineConfig::default()).await?;
        let made = engine.create_login_link(&identity, ttl, "cli").await;
        engine.store().close().await;
        let secret = made.map_err(|e: EngineError| match e {
            EngineError::Forbidden(m) | EngineError::NotFound(m) => {
                input_error(anyhow!("`--identity`: {m}"))
            }
            e => Failure::from(anyhow::Error::new(e).context("cannot make the sign-in link")),
        })?;
        Ok::<_, Failure>(format!("{base}/ui/login/link?token={}", secret.expose()))
    })??;
    #[expect(clippy::print_stdout, reason = "the link is the command's output")]
    {
        println!("{link}");
    }
    Ok(0)
}
