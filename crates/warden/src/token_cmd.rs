//! `warden token create|revoke`: API tokens, minted from the operating system's random
//! source and stored only as a hash.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Subcommand;
use warden_model::{Duration, IdentityId, Scope};
use warden_store::{NewAuditEvent, TokenId, TokenRecord, token_hash};

use crate::setup::{self, ConfigArg};
use crate::{EXIT_FAILED, Failure, clock, input_error, load_bundle};

/// Token commands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Mint an API token for an active identity of the bundle's catalog; it is printed once.
    Create(CreateArgs),
    /// Revoke an API token by its id.
    Revoke(RevokeArgs),
}

/// `warden token create`.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// The identity the token acts as.
    #[arg(long)]
    identity: String,
    /// What the token may do: `intake`, `approve`, `admin`, `audit` or `broker`; repeat
    /// for several.
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    scopes: Vec<Scope>,
    /// For scope `broker`: the one request `source` the token may file under (required
    /// with `broker`, refused without it).
    #[arg(long)]
    source: Option<String>,
    /// How long the token lives (`90d`, `12h`, `P30D`); defaults to `tokens.default_ttl`.
    #[arg(long)]
    ttl: Option<Duration>,
    #[command(flatten)]
    config: ConfigArg,
}

/// `warden token revoke`.
#[derive(clap::Args)]
pub struct RevokeArgs {
    /// The token's id, as `token create` printed it.
    #[arg(long)]
    id: TokenId,
    #[command(flatten)]
    config: ConfigArg,
}

/// A token secret. It is printed once and otherwise only ever hashed.
struct Secret(String);

impl Secret {
    /// The secret's text: to print it once, or to hash it.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The prefix that makes a leaked Warden token recognisable to secret scanners.
const PREFIX: &str = "wdn_";

/// 32 bytes from the operating system's CSPRNG, as `wdn_` and unpadded base64url.
fn mint() -> anyhow::Result<Secret> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow!("cannot read the operating system's random source: {e}"))?;
    let secret = Secret(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)));
    bytes.fill(0);
    Ok(secret)
}

/// Runs a token command and returns its exit code.
pub fn run(cmd: &TokenCommand) -> Result<u8, Failure> {
    match cmd {
        TokenCommand::Create(args) => create(args),
        TokenCommand::Revoke(args) => revoke(args),
    }
}

fn create(args: &CreateArgs) -> Result<u8, Failure> {
    let config = setup::start(&args.config)?;
    let identity =
        IdentityId::parse(&args.identity).map_err(|e| input_error(anyhow!("`--identity`: {e}")))?;
    let bundle = load_bundle(&config.bundle.path)?;
    match bundle.catalog.identities.get(&identity) {
        None => {
            return Err(input_error(anyhow!(
                "identity `{identity}` is not in the catalog of the bundle `{}`",
                config.bundle.path.display()
            )));
        }
        Some(i) if !i.is_active() => {
            return Err(input_error(anyhow!(
                "identity `{identity}` is disabled in the catalog of the bundle `{}`",
                config.bundle.path.display()
            )));
        }
        Some(_) => {}
    }
    let broker = args.scopes.contains(&Scope::Broker);
    let source = match (&args.source, broker) {
        (None, true) => {
            return Err(input_error(anyhow!(
                "`--source`: a `broker` token must be bound to one source"
            )));
        }
        (Some(_), false) => {
            return Err(input_error(anyhow!(
                "`--source`: only a `broker` token is bound to a source"
            )));
        }
        (Some(s), true) => {
            let s = s.trim();
            if s.is_empty()
                || s.len() > warden_model::request::MAX_REF_LEN
                || s.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(input_error(anyhow!(
                    "`--source`: must be one word of at most {} characters",
                    warden_model::request::MAX_REF_LEN
                )));
            }
            if config.itsms.iter().any(|i| i.name == s) {
                return Err(input_error(anyhow!(
                    "`--source`: `{s}` is reserved for the configured ITSM adapter of that name"
                )));
            }
            Some(s.to_owned())
        }
        (None, false) => None,
    };
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .copied()
        .collect::<BTreeSet<Scope>>()
        .into_iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let ttl = args.ttl.unwrap_or(config.tokens.default_ttl);
    let now = clock::now();
    let expires_at = now.plus(ttl);
    let secret = mint()?;
    let record = TokenRecord {
        id: TokenId::new(),
        identity: identity.clone(),
        scopes,
        hash: token_hash(secret.expose()),
        created_at: now,
        revoked_at: None,
        expires_at: Some(expires_at),
        source,
    };
    let event = NewAuditEvent {
        at: now,
        actor: "cli".to_owned(),
        action: "token.created".to_owned(),
        request_id: None,
        grant_id: None,
        before_state: None,
        after_state: None,
        bundle_hash: Some(bundle.hash().to_owned()),
        data: serde_json::json!({
            "token_id": record.id.to_string(),
            "identity": identity.as_str(),
            "scopes": record.scopes,
            "source": record.source,
            "ttl": ttl.to_string(),
            "expires_at": expires_at.to_string(),
        }),
    };
    setup::block_on(async {
        let store = setup::open_store(&config).await?;
        let mut tx = store.begin().await.context("cannot start a transaction")?;
        tx.insert_token(&record)
            .await
            .context("cannot store the token")?;
        tx.append_audit(&event)
            .await
            .context("cannot append the audit event")?;
        tx.commit().await.context("cannot commit the token")?;
        store.close().await;
        Ok::<_, Failure>(())
    })??;
    tracing::info!(
        token_id = %record.id,
        identity = %identity,
        scopes = %record.scopes.join(" "),
        expires_at = %expires_at,
        "token created"
    );
    #[expect(clippy::print_stdout, reason = "the token is the command's output")]
    {
        println!("{}", secret.expose());
        println!("this token is shown once: warden keeps only its hash");
        println!(
            "id {}, identity `{identity}`, scopes {}, expires {expires_at}",
            record.id,
            record.scopes.join(" ")
        );
    }
    Ok(0)
}

fn revoke(args: &RevokeArgs) -> Result<u8, Failure> {
    let config = setup::start(&args.config)?;
    let id = args.id;
    let now = clock::now();
    let event = NewAuditEvent {
        at: now,
        actor: "cli".to_owned(),
        action: "token.revoked".to_owned(),
        request_id: None,
        grant_id: None,
        before_state: None,
        after_state: None,
        bundle_hash: None,
        data: serde_json::json!({ "token_id": id.to_string() }),
    };
    setup::block_on(async {
        let store = setup::open_store(&config).await?;
        let mut tx = store.begin().await.context("cannot start a transaction")?;
        if !tx
            .revoke_token(id, now)
            .await
            .context("cannot revoke the token")?
        {
            return Err(Failure {
                code: EXIT_FAILED,
                error: anyhow!("no token `{id}` is live: it does not exist or is revoked already"),
            });
        }
        tx.append_audit(&event)
            .await
            .context("cannot append the audit event")?;
        tx.commit().await.context("cannot commit the revocation")?;
        store.close().await;
        Ok(())
    })??;
    tracing::info!(token_id = %id, "token revoked");
    #[expect(clippy::print_stdout, reason = "the outcome is the command's output")]
    {
        println!("revoked token `{id}`");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_prefixed_unpadded_base64url_of_32_bytes() {
        let a = mint().unwrap();
        let b = mint().unwrap();
        assert_ne!(a.expose(), b.expose());
        let body = a.expose().strip_prefix(PREFIX).unwrap();
        assert_eq!(body.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert!(!body.contains('='));
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let s = mint().unwrap();
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
