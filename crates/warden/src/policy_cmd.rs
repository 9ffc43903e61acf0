//! `warden policy check|test|schema`.

use std::path::PathBuf;

use clap::Subcommand;
use warden_policy::case;

use crate::{EXIT_FAILED, Failure, load_bundle};

/// Bundle commands.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate the catalog and the policies.
    Check {
        /// The bundle directory.
        #[arg(long, env = "WARDEN_BUNDLE", default_value = "examples/bundle")]
        bundle: PathBuf,
    },
    /// Run the bundle's policy tests (`tests/*.toml`).
    Test {
        /// The bundle directory.
        #[arg(long, env = "WARDEN_BUNDLE", default_value = "examples/bundle")]
        bundle: PathBuf,
    },
    /// Print the Cedar schema generated from the catalog.
    Schema {
        /// The bundle directory.
        #[arg(long, env = "WARDEN_BUNDLE", default_value = "examples/bundle")]
        bundle: PathBuf,
    },
}

#[expect(clippy::print_stdout, reason = "these commands report on stdout")]
pub fn run(cmd: &PolicyCommand) -> Result<u8, Failure> {
    match cmd {
        PolicyCommand::Check { bundle } => {
            let b = load_bundle(bundle)?;
            println!(
                "ok: {} identities, {} systems, {} roles, {} policies; {}",
                b.catalog.identities.len(),
                b.catalog.systems.len(),
                b.catalog.roles.len(),
                b.policy_ids().len(),
                b.hash()
            );
            Ok(0)
        }
        PolicyCommand::Schema { bundle } => {
            let b = load_bundle(bundle)?;
            print!("{}", b.schema_text());
            Ok(0)
        }
        PolicyCommand::Test { bundle } => {
            let b = load_bundle(bundle)?;
            let results = case::run_all(&b).map_err(|e| Failure {
                code: EXIT_FAILED,
                error: anyhow::anyhow!("the policy tests cannot be read:\n{e}"),
            })?;
            let mut failed = 0;
            for r in &results {
                if r.passed() {
                    println!("ok    {}  ({})", r.name, r.location);
                } else {
                    failed += 1;
                    println!("FAIL  {}  ({})", r.name, r.location);
                    for m in &r.mismatches {
                        println!("        {m}");
                    }
                }
            }
            println!("{} passed, {} failed", results.len() - failed, failed);
            Ok(if failed == 0 { 0 } else { EXIT_FAILED })
        }
    }
}
