//! `warden audit verify`: checks the audit hash chain end to end.

use anyhow::Context as _;
use clap::Subcommand;

use crate::setup::{self, ConfigArg};
use crate::{EXIT_FAILED, Failure};

/// Audit commands.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit hash chain end to end; exit 1 naming the first broken event.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs an audit command and returns its exit code.
pub fn run(cmd: &AuditCommand) -> Result<u8, Failure> {
    match cmd {
        AuditCommand::Verify { config } => verify(config),
    }
}

fn verify(arg: &ConfigArg) -> Result<u8, Failure> {
    let config = setup::start(arg)?;
    let report = setup::block_on(async {
        let store = setup::open_store(&config).await?;
        let report = store
            .verify_audit()
            .await
            .context("cannot read the audit chain")?;
        store.close().await;
        Ok::<_, Failure>(report)
    })??;
    match report.first_broken {
        None => {
            #[expect(clippy::print_stdout, reason = "the verdict is the command's output")]
            {
                println!("ok: {} events verified", report.checked);
            }
            Ok(0)
        }
        Some(broken) => {
            #[expect(clippy::print_stderr, reason = "a broken chain is reported on stderr")]
            {
                eprintln!("broken at event {}: {}", broken.seq, broken.reason);
            }
            Ok(EXIT_FAILED)
        }
    }
}
