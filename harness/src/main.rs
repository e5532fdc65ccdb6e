//! The `drdrill` command line: a thin edge over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use drdrill::run::{Interrupt, RunOptions};
use drdrill::verdict::{EXIT_ABORTED, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};

const EXIT_CODES: &str = "\
Exit codes:
  0  every objective was met
  1  an objective was missed
  2  the run could not be carried out (bad input, unreachable target, failed preflight)
  3  aborted by a guardrail or a signal (the experiment was stopped)";

/// Disaster-recovery drills: inject a fault with AWS FIS, drive traffic through the load
/// balancer, and measure the real RTO and the acknowledged writes that were lost.
#[derive(Parser)]
#[command(version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run drills: preflight, inject, observe, recover, verify, report.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// Scenario files, run in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where run folders are written.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Confirm injecting faults into an AWS account (required for `aws:` targets).
        #[arg(long)]
        yes: bool,
        /// No progress output (the summary is still printed).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Resolve a scenario and show what it would hit; injects nothing.
    Plan {
        /// Scenario file.
        file: PathBuf,
    },
    /// Check scenario files without touching anything.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(dispatch(cli)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            EXIT_ERROR
        }
    };
    ExitCode::from(code as u8)
}

async fn dispatch(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run { files, out, yes, quiet } => return run(files, out, yes, quiet).await,
        Command::Plan { file } => plan(file).await,
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            match serde_json::to_string_pretty(&drdrill::scenario::json_schema()) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: {e}"),
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => EXIT_PASS,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

fn validate(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut bad = 0;
    for f in files {
        match drdrill::scenario::load(f) {
            Ok(l) => println!("{}: ok ({})", f.display(), l.scenario.name),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} of {} scenario files are invalid", files.len());
    }
    Ok(())
}

async fn plan(file: PathBuf) -> anyhow::Result<()> {
    let loaded = drdrill::scenario::load(&file)?;
    let text = drdrill::plan::preview(&loaded).await?;
    print!("{text}");
    Ok(())
}

fn severity(code: i32) -> u8 {
    match code {
        EXIT_PASS => 0,
        EXIT_FAIL => 1,
        EXIT_ERROR => 2,
        _ => 3,
    }
}

async fn run(files: Vec<PathBuf>, out: PathBuf, yes: bool, quiet: bool) -> i32 {
    // Check every file before running any.
    let mut loaded = Vec::new();
    for f in &files {
        match drdrill::scenario::load(f) {
            Ok(l) => loaded.push(l),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        }
    }
    let interrupt = Interrupt::new();
    spawn_signal_listener(interrupt.clone());
    let opts = RunOptions {
        out_dir: out,
        yes,
        quiet,
    };
    let mut worst = EXIT_PASS;
    for l in loaded {
        match drdrill::run::run(l, &opts, interrupt.clone()).await {
            Ok(outcome) => {
                println!("{}", drdrill::report::summary_text(&outcome.report, &outcome.run_dir));
                if severity(outcome.report.exit_code) > severity(worst) {
                    worst = outcome.report.exit_code;
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                worst = if severity(worst) < 2 { EXIT_ERROR } else { worst };
            }
        }
        if interrupt.reason().is_some() {
            worst = EXIT_ABORTED;
            break;
        }
    }
    worst
}

fn spawn_signal_listener(interrupt: Interrupt) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            eprintln!("warning: cannot listen for signals");
            return;
        };
        loop {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            if interrupt.reason().is_some() {
                eprintln!("{name} again: still stopping the experiment, please wait");
            } else {
                eprintln!("{name}: stopping the experiment and writing the report");
            }
            interrupt.trigger(name);
        }
    });
}
