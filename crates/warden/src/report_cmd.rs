//! `warden report`: the evidence report over a window, from the configured store and the
//! active bundle, as JSON, HTML or CSV, to standard output or a file.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use warden_engine::report::{Format, Window};
use warden_engine::{EngineConfig, EngineError};

use crate::setup::{self, ConfigArg};
use crate::{Failure, input_error};

/// The report's arguments.
#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The window's start (RFC 3339); default 30 days before `--until`.
    #[arg(long)]
    since: Option<String>,
    /// The window's end (RFC 3339); default now.
    #[arg(long)]
    until: Option<String>,
    /// `json`, `html` or `csv`.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write the report here instead of to standard output (written whole, then renamed
    /// into place, so a failed run never leaves half a report).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Writes the report; exit 0 whatever its statuses say (a breach is a finding, not a
/// failure of the command).
pub fn run(args: &ReportArgs) -> Result<u8, Failure> {
    let format = Format::parse(&args.format).map_err(input_error)?;
    let config = setup::start(&args.config)?;
    let text = setup::block_on(async {
        let engine = setup::open_engine(
            &config,
            EngineConfig {
                checkpoints: Some(Arc::new(crate::checkpoint::FileVerifier {
                    file: config.audit.checkpoint_file.clone(),
                })),
                goals: config.report.goals(),
                ..EngineConfig::default()
            },
        )
        .await?;
        let window = Window::parse(args.since.as_deref(), args.until.as_deref(), engine.now())
            .map_err(input_error)?;
        let report = engine
            .report(window, &config.report.goals())
            .await
            .map_err(|e: EngineError| {
                Failure::from(anyhow::Error::new(e).context("cannot make the report"))
            })?;
        engine.store().close().await;
        Ok::<_, Failure>(format.render(&report)?)
    })??;
    match &args.out {
        Some(path) => write_whole(path, &text)?,
        None => {
            #[expect(clippy::print_stdout, reason = "the report is the command's output")]
            {
                print!("{text}");
            }
        }
    }
    Ok(0)
}

/// Writes `text` to a temporary file beside `path` and renames it into place.
fn write_whole(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move the report to `{}`", path.display()))?;
    Ok(())
}
