//! `warden audit verify` checks the audit hash chain end to end and against the signed
//! checkpoints; `warden audit checkpoint` signs the chain's head and appends it.

use clap::Subcommand;

use crate::checkpoint::{self, Signer, Verdict};
use crate::setup::{self, ConfigArg};
use crate::{EXIT_FAILED, Failure};

/// Audit commands.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit hash chain end to end and every signed checkpoint against it; exit 1
    /// naming the first broken event or checkpoint.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Sign the audit chain's head with the checkpoint key and append it to the checkpoint
    /// file.
    Checkpoint {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs an audit command and returns its exit code.
pub fn run(cmd: &AuditCommand) -> Result<u8, Failure> {
    match cmd {
        AuditCommand::Verify { config } => verify(config),
        AuditCommand::Checkpoint { config } => sign(config),
    }
}

fn verify(arg: &ConfigArg) -> Result<u8, Failure> {
    let config = setup::start(arg)?;
    let verdict = setup::block_on(async {
        let store = setup::open_store(&config).await?;
        let verdict = checkpoint::verify(&store, &config.audit.checkpoint_file).await;
        store.close().await;
        verdict
    })??;
    match verdict {
        Verdict::Sound {
            events,
            checkpoints,
            last,
        } => {
            let also = checkpoints
                .map(|n| format!(", {n} checkpoints verified"))
                .unwrap_or_default();
            let also = match last {
                Some((seq, at)) => format!("{also}, the last at event {seq} signed {at}"),
                None => also,
            };
            #[expect(clippy::print_stdout, reason = "the verdict is the command's output")]
            {
                println!("ok: {events} events verified{also}");
            }
            Ok(0)
        }
        Verdict::Broken(message) => {
            #[expect(clippy::print_stderr, reason = "a broken chain is reported on stderr")]
            {
                eprintln!("{message}");
            }
            Ok(EXIT_FAILED)
        }
    }
}

fn sign(arg: &ConfigArg) -> Result<u8, Failure> {
    let config = setup::start(arg)?;
    let signer = Signer::open(&config.audit)?;
    let written = setup::block_on(async {
        let store = setup::open_store(&config).await?;
        let written = signer.checkpoint(&store).await;
        store.close().await;
        written
    })??;
    let file = config.audit.checkpoint_file.display();
    let message = match written {
        Some(c) => format!(
            "checkpoint at event {} ({}) appended to `{file}`",
            c.seq, c.hash
        ),
        None => "no audit events yet: nothing to sign".to_owned(),
    };
    #[expect(clippy::print_stdout, reason = "the outcome is the command's output")]
    {
        println!("{message}");
    }
    Ok(0)
}
