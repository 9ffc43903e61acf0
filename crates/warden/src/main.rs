//! The `warden` command: decide requests, check and test bundles, mint API tokens and
//! verify the audit chain.

mod alert;
mod audit_cmd;
mod bundle_cmd;
mod checkpoint;
mod clock;
mod config;
mod connector;
mod console;
mod itsm;
mod login_cmd;
mod policy_cmd;
mod report_cmd;
mod review_cmd;
mod serve_cmd;
mod setup;
mod telemetry;
mod token_cmd;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use warden_model::{ActiveGrant, Request, Timestamp, request::from_json};
use warden_policy::{Bundle, DecisionInput};

/// Exit code for a usage or input error (DESIGN §5).
const EXIT_INPUT: u8 = 2;
/// Exit code for a failed check, test or load.
const EXIT_FAILED: u8 = 1;

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Policy-controlled, just-in-time access behind your ITSM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide one request against a bundle and print the decision as JSON.
    Decide(DecideArgs),
    /// Check or test a bundle.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Run the API and the job worker.
    Serve(setup::ConfigArg),
    /// Mint or revoke API tokens.
    #[command(subcommand)]
    Token(token_cmd::TokenCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Activate a bundle on a running deployment.
    #[command(subcommand)]
    Bundle(bundle_cmd::BundleCommand),
    /// Write the evidence report: access correctness per metric and control, over a window.
    Report(report_cmd::ReportArgs),
    /// Access reviews: start a campaign's run now.
    #[command(subcommand)]
    Review(review_cmd::ReviewCommand),
    /// Print a one-time link that signs a person in to the web console; it is valid for
    /// ten minutes and works once.
    LoginLink(login_cmd::LoginLinkArgs),
}

#[derive(clap::Args)]
struct DecideArgs {
    /// The bundle directory.
    #[arg(long, env = "WARDEN_BUNDLE", default_value = "examples/bundle")]
    bundle: PathBuf,
    /// The request as JSON; `-` reads standard input.
    #[arg(long, required_unless_present = "replay", conflicts_with = "replay")]
    request: Option<String>,
    /// Re-decide the stored request with this id against its stored bundle and inputs, and
    /// report whether the decision is identical (exit 0) or not (exit 1); with `--all`
    /// and no id, every stored request.
    #[arg(long, num_args = 0..=1, value_name = "ID", conflicts_with_all = ["at", "grants"])]
    replay: Option<Option<String>>,
    /// With `--replay`: replay every stored request and print how many are identical and
    /// which differ (exit 0 only when none differ).
    #[arg(long, requires = "replay")]
    all: bool,
    #[command(flatten)]
    config: setup::ConfigArg,
    /// The instant to decide at (RFC 3339); defaults to the request's `requested_at`, then now.
    #[arg(long)]
    at: Option<String>,
    /// A JSON array of the subject's active grants: `[{ "role": "…", "expires_at": "…" }]`.
    #[arg(long)]
    grants: Option<PathBuf>,
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: EXIT_FAILED,
            error: e.into(),
        }
    }
}

fn input_error(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_INPUT,
        error: e.into(),
    }
}

/// mimalloc instead of the C library's allocator: a decision allocates many small, short-lived
/// objects (Cedar's values and answers, the decision's strings), and with glibc's `malloc`
/// about an eighth of a decision's time went to allocating and freeing (BENCHMARKS.md,
/// change 12). The benchmark programs that stand for the server use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decide(args) => decide(&args),
        Command::Policy(cmd) => policy_cmd::run(&cmd),
        Command::Serve(arg) => serve_cmd::run(&arg),
        Command::Token(cmd) => token_cmd::run(&cmd),
        Command::Audit(cmd) => audit_cmd::run(&cmd),
        Command::Bundle(cmd) => bundle_cmd::run(&cmd),
        Command::Report(args) => report_cmd::run(&args),
        Command::Review(command) => review_cmd::run(&command),
        Command::LoginLink(args) => login_cmd::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            #[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
            {
                eprintln!("error: {:#}", f.error);
            }
            ExitCode::from(f.code)
        }
    }
}

/// An engine on the configured store and bundle, for replaying stored decisions.
async fn replay_engine(config: &config::Config) -> Result<warden_engine::Engine, Failure> {
    let store = setup::open_store(config).await?;
    let bundle = load_bundle(&config.bundle.path)?;
    Ok(warden_engine::Engine::new(
        store,
        bundle,
        std::sync::Arc::new(warden_engine::SystemClock),
        warden_engine::EngineConfig::default(),
    )
    .await
    .context("cannot start the engine")?)
}

/// `warden decide --replay --all`: re-decides every stored request, a page at a time, and
/// prints each one that differs, then the counts.
fn replay_all(config: &setup::ConfigArg) -> Result<u8, Failure> {
    let config = setup::start(config)?;
    let tally = setup::block_on(async {
        let engine = replay_engine(&config).await?;
        let tally = engine
            .replay_all(warden_engine::replay::REPLAY_PAGE, |v| {
                if !v.identical {
                    let problem = v.problem.as_ref().map(|p| format!(" ({p})"));
                    #[expect(clippy::print_stdout, reason = "the report is the command's output")]
                    {
                        println!("different: {}{}", v.request_id, problem.unwrap_or_default());
                    }
                }
            })
            .await
            .context("cannot replay the stored requests")?;
        engine.store().close().await;
        Ok::<_, Failure>(tally)
    })??;
    #[expect(clippy::print_stdout, reason = "the report is the command's output")]
    {
        println!(
            "{} identical, {} different",
            tally.identical, tally.different
        );
    }
    Ok(if tally.different == 0 { 0 } else { EXIT_FAILED })
}

/// `warden decide --replay ID`: re-decides a stored request.
fn replay(config: &setup::ConfigArg, id: &str) -> Result<u8, Failure> {
    let config = setup::start(config)?;
    let report = setup::block_on(async {
        let engine = replay_engine(&config).await?;
        engine.replay(id).await.map_err(|e| match e {
            warden_engine::EngineError::NotFound(m) => input_error(anyhow::anyhow!(m)),
            other => Failure::from(anyhow::Error::new(other)),
        })
    })??;
    let json = serde_json::to_string_pretty(&report)?;
    #[expect(
        clippy::print_stdout,
        reason = "the replay report is the command's output"
    )]
    {
        println!("{json}");
    }
    Ok(if report.identical { 0 } else { EXIT_FAILED })
}

/// Loads a bundle, turning its errors into `file:line: message` lines.
fn load_bundle(dir: &Path) -> Result<Bundle, Failure> {
    Bundle::load(dir).map_err(|e| Failure {
        code: EXIT_FAILED,
        error: anyhow::anyhow!("the bundle is invalid:\n{e}"),
    })
}

fn read_input(source: &str) -> Result<Vec<u8>, Failure> {
    if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the request from standard input")
            .map_err(input_error)?;
        Ok(buf)
    } else {
        std::fs::read(source)
            .with_context(|| format!("cannot read `{source}`"))
            .map_err(input_error)
    }
}

fn decide(args: &DecideArgs) -> Result<u8, Failure> {
    match (&args.replay, args.all) {
        (Some(None), true) => return replay_all(&args.config),
        (Some(Some(id)), false) => return replay(&args.config, id),
        (Some(Some(_)), true) => {
            return Err(input_error(anyhow::anyhow!(
                "`--replay` takes a request id or `--all`, not both"
            )));
        }
        (Some(None), false) => {
            return Err(input_error(anyhow::anyhow!(
                "`--replay` needs a request id, or `--all` for every stored request"
            )));
        }
        (None, _) => {}
    }
    let source = args.request.as_deref().unwrap_or("-");
    let request = Request::from_json(&read_input(source)?)
        .map_err(|e| input_error(anyhow::anyhow!("invalid request: {e}")))?;
    let grants: Vec<ActiveGrant> = match &args.grants {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read `{}`", path.display()))
                .map_err(input_error)?;
            from_json(&bytes).map_err(|e| input_error(anyhow::anyhow!("invalid grants: {e}")))?
        }
        None => Vec::new(),
    };
    let at = match &args.at {
        Some(t) => Timestamp::parse(t).map_err(|e| input_error(anyhow::anyhow!("`--at`: {e}")))?,
        None => request.requested_at.unwrap_or_else(clock::now),
    };
    let bundle = load_bundle(&args.bundle)?;
    let decision = bundle.decide(&DecisionInput {
        request: &request,
        grants: &grants,
        open_reviews: &[],
        at,
    });
    let json = serde_json::to_string_pretty(&decision)?;
    #[expect(clippy::print_stdout, reason = "the decision is the command's output")]
    {
        println!("{json}");
    }
    Ok(0)
}
