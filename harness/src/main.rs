//! The `drdrill` command line: a thin edge over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use drdrill::exit_codes::{self, EXIT_ABORTED, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};
use drdrill::gameday::DrillFile;
use drdrill::report::{Formats, PublishOptions};
use drdrill::run::{Drill, Interrupt, RunOptions};

/// Disaster-recovery drills: inject a fault with AWS FIS, drive traffic through the load
/// balancer, and measure the real RTO and the acknowledged writes that were lost.
#[derive(Parser)]
#[command(version, after_help = exit_codes::RUN_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run drills: preflight, inject, observe, recover, verify, report.
    ///
    /// A file with a top-level `gameday:` key is a game-day plan: its scenarios run in
    /// order, each into its own run folder, and the game day's folder gets the combined
    /// report (gameday.json, summary.md, report.html, junit.xml) with the comparison table.
    ///
    /// RTO = t_recover − t_inject. t_inject is the earliest start time FIS reports for
    /// the experiment's fault actions. t_recover is the scheduled time of the first probe
    /// after the outage's last failure (background failures seen in the baseline do not
    /// count as the outage's); the first `stable_for` window after it at the steady-state
    /// threshold confirms it but does not date it. Figures print with their uncertainty
    /// (probe interval + t_inject precision + clock offset): `RTO 1.98 s ± 0.02 s`.
    #[command(after_help = exit_codes::RUN_HELP)]
    Run {
        /// Scenario files or game-day plans, run in order.
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
        /// Report files to write, comma-separated: json, junit, md, html or all
        /// (report.json and events.jsonl are always written).
        #[arg(long, default_value = "all", value_parser = Formats::parse_list)]
        format: Formats,
        /// Also append summary.md to this file (GitHub Actions sets the variable).
        #[arg(long, env = "GITHUB_STEP_SUMMARY", value_name = "FILE")]
        step_summary: Option<PathBuf>,
    },
    /// Re-render a run folder's reports from report.json and events.jsonl, show the
    /// history of runs with regressions flagged, or compare two runs.
    #[command(after_help = exit_codes::REPORT_HELP)]
    Report(ReportArgs),
    /// Resolve a scenario (or each scenario of a game-day plan) and show what it would
    /// hit; injects nothing.
    ///
    /// With `objectives.backup_coverage`, also runs the backup coverage gate (every
    /// resource an AWS Backup plan covers has a recent enough recovery point, its copies
    /// and the plan's retention) and prints its section. Exit codes: 0 plan resolved
    /// (and coverage passed), 1 the coverage gate found problems, 2 the plan could not be
    /// resolved.
    Plan {
        /// Scenario file or game-day plan.
        file: PathBuf,
    },
    /// Stop the experiments killed drdrill runs left running on a scenario's target.
    ///
    /// Finds every experiment tagged `drdrill:*` that is not in a final state (left by a
    /// run that was killed with SIGKILL or lost its machine), stops each and waits until
    /// FIS says it has ended, then deletes the experiment templates such runs left.
    /// Assumes no other drill is running against the target. Exits 0 when nothing is
    /// left running, 2 otherwise. The embedded `local:` stack ends with its process, so
    /// nothing can be left there.
    Cleanup {
        /// Scenario file naming the target (an `aws:` target must allow-list the account),
        /// or a game-day plan (every target of its scenarios).
        file: PathBuf,
    },
    /// Check scenario files and game-day plans (and every scenario a plan lists) without
    /// touching anything.
    Validate {
        /// Scenario files or game-day plans.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of scenario files (or of game-day plans).
    Schema {
        /// The schema of game-day plans instead.
        #[arg(long)]
        gameday: bool,
    },
}

/// The allocator: returns freed memory to the system, so a long run's resident set stays
/// flat (glibc's per-thread arenas let it creep up on a flat heap).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
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

/// Crates whose debug and trace logs carry credentials or signed requests (access key
/// ids, SigV4 canonical requests, `Authorization` headers); capped at `info` whatever
/// `RUST_LOG` says, so that no log of drdrill holds them.
const CREDENTIAL_LOGGERS: &[&str] = &[
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_credential_types",
    "aws_config",
    "aws_runtime",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
];

/// `RUST_LOG` (default `warn`) with [`CREDENTIAL_LOGGERS`] capped at `info`.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let from_env = std::env::var("RUST_LOG").unwrap_or_default();
    let kept: Vec<&str> = from_env
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| !CREDENTIAL_LOGGERS.iter().any(|c| d.starts_with(c)))
        .collect();
    let mut spec = if kept.is_empty() {
        "warn".to_string()
    } else {
        kept.join(",")
    };
    for c in CREDENTIAL_LOGGERS {
        spec.push_str(&format!(",{c}=info"));
    }
    tracing_subscriber::EnvFilter::try_new(&spec).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
}

async fn dispatch(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run {
            files,
            out,
            yes,
            quiet,
            format,
            step_summary,
        } => {
            let publish = PublishOptions {
                formats: format,
                history: true,
                step_summary,
            };
            return run(files, out, yes, quiet, publish).await;
        }
        Command::Report(args) => return report_command(args),
        Command::Plan { file } => return plan(file).await,
        Command::Cleanup { file } => cleanup(file).await,
        Command::Validate { files } => validate(&files),
        Command::Schema { gameday } => {
            let schema = if gameday {
                drdrill::gameday::json_schema()
            } else {
                drdrill::scenario::json_schema()
            };
            match serde_json::to_string_pretty(&schema) {
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
        match drdrill::gameday::load_drill_file(f) {
            Ok(DrillFile::Scenario(l)) => println!("{}: ok ({})", f.display(), l.scenario.name),
            Ok(DrillFile::Gameday(g)) => println!(
                "{}: ok (game day {}: {})",
                f.display(),
                g.plan.gameday,
                g.scenarios
                    .iter()
                    .map(|s| s.loaded.scenario.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => {
                eprintln!("{e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} of {} files are invalid", files.len());
    }
    Ok(())
}

/// `drdrill plan`: 0 when every scenario's plan resolved (and its backup coverage gate,
/// if asked for, passed), 1 when a coverage gate failed, 2 when a plan could not be resolved.
async fn plan(file: PathBuf) -> i32 {
    let drill = match drdrill::gameday::load_drill_file(&file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    let scenarios = drill.scenarios();
    let mut worst = EXIT_PASS;
    for (i, loaded) in scenarios.iter().enumerate() {
        if let DrillFile::Gameday(g) = &drill {
            println!(
                "== game day {}: scenario {} of {}: {} ({})",
                g.plan.gameday,
                i + 1,
                scenarios.len(),
                loaded.scenario.name,
                loaded.path.display()
            );
        }
        let code = plan_one(loaded).await;
        worst = exit_codes::worst(worst, code);
        if code == EXIT_ERROR {
            break;
        }
    }
    worst
}

async fn plan_one(loaded: &drdrill::scenario::LoadedScenario) -> i32 {
    match drdrill::preview::preview(loaded).await {
        Ok(text) => {
            print!("{text}");
            EXIT_PASS
        }
        Err(drdrill::preview::PreviewError::BlastRadius { plan, error }) => {
            print!("{plan}");
            eprintln!("error: {:#}", anyhow::Error::from(error));
            EXIT_ERROR
        }
        Err(drdrill::preview::PreviewError::Coverage { plan, findings }) => {
            print!("{plan}");
            eprintln!("backup coverage failed: {findings} finding(s)");
            EXIT_FAIL
        }
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::from(e));
            EXIT_ERROR
        }
    }
}

async fn cleanup(file: PathBuf) -> anyhow::Result<()> {
    let drill = drdrill::gameday::load_drill_file(&file)?;
    let mut targets: Vec<&drdrill::scenario::Target> = Vec::new();
    for s in drill.scenarios() {
        if !targets.contains(&&s.scenario.target) {
            targets.push(&s.scenario.target);
        }
    }
    for target in targets {
        let mut say = |line: String| println!("{line}");
        let done = drdrill::cleanup::cleanup(target, &mut say).await?;
        println!(
            "cleanup done: {} experiment(s) stopped, {} template(s) deleted, {} dead man's switch alarm(s) deleted",
            done.stopped.len(),
            done.templates_deleted.len(),
            done.alarms_deleted.len()
        );
    }
    Ok(())
}

async fn run(files: Vec<PathBuf>, out: PathBuf, yes: bool, quiet: bool, publish: PublishOptions) -> i32 {
    // Check every file (and every scenario of every plan) before running any.
    let mut loaded = Vec::new();
    for f in &files {
        match drdrill::gameday::load_drill_file(f) {
            Ok(l) => loaded.push(l),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        }
    }
    let interrupt = Interrupt::new();
    spawn_signal_listener(interrupt.clone());
    interrupt.stop_on_panic();
    let opts = RunOptions {
        out_dir: out,
        yes,
        quiet,
    };
    let mut worst = EXIT_PASS;
    let total = loaded.len();
    for (i, l) in loaded.into_iter().enumerate() {
        let code = match l {
            DrillFile::Scenario(l) => {
                match drdrill::run::run(Drill::new(*l, &opts).publishing(&publish), interrupt.clone()).await {
                    Ok(outcome) => {
                        println!("{}", drdrill::report::summary_text(&outcome.report, &outcome.run_dir));
                        outcome.report.exit_code
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        EXIT_ERROR
                    }
                }
            }
            DrillFile::Gameday(g) => {
                let mut print = |o: &drdrill::run::RunOutcome| {
                    println!("{}", drdrill::report::summary_text(&o.report, &o.run_dir));
                };
                match drdrill::gameday::run(g, &opts, &publish, interrupt.clone(), &mut print).await {
                    Ok(outcome) => {
                        for e in &outcome.errors {
                            eprintln!("warning: {e}");
                        }
                        println!("{}", drdrill::gameday::summary_text(&outcome));
                        outcome.report.exit_code
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        EXIT_ERROR
                    }
                }
            }
        };
        worst = exit_codes::worst(worst, code);
        // A signal that arrived after the run's last check leaves a complete report, whose
        // verdict stands; scenarios not yet run make the whole invocation aborted.
        let unrun = i + 1 < total;
        if interrupt.reason().is_some() && unrun {
            if !interrupt.is_failure() {
                worst = EXIT_ABORTED;
            } else {
                worst = exit_codes::worst(worst, EXIT_ERROR);
            }
            break;
        }
        if interrupt.reason().is_some() {
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

/// `drdrill report`: exactly one of a run folder, `--history` or `--compare`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["run_dir", "history", "compare"])))]
struct ReportArgs {
    /// Run folder to re-render (a run killed before writing report.json is rendered
    /// from events.jsonl and probes.csv, marked incomplete), or a game day's folder
    /// (rendered from gameday.json and its scenarios' run folders).
    run_dir: Option<PathBuf>,
    /// Files to write, comma-separated: junit, md, html or all (report.json is the
    /// source and is never rewritten).
    #[arg(long, default_value = "all", value_parser = Formats::parse_list)]
    format: Formats,
    /// Print RTO, RPO, lost writes and verdict per scenario from DIR/history.jsonl, flag
    /// regressions, and write DIR/history.html with the trend.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "reports")]
    history: Option<PathBuf>,
    /// Check RUN_DIR against its manifest.json: name every file changed, missing or added
    /// since the run wrote it (exit 0 when none, 1 otherwise).
    #[arg(long)]
    verify: bool,
    /// Compare two run folders side by side, objective by objective.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"])]
    compare: Option<Vec<PathBuf>>,
    /// --history: flag RTO or RPO above the median of previous runs by more than this
    /// (e.g. 25% or 0.25).
    #[arg(long, default_value = "25%", value_parser = parse_margin)]
    margin: f64,
    /// --history: never flag an increase smaller than this (e.g. 500ms).
    #[arg(long, default_value = "500ms")]
    min_delta: humantime::Duration,
    /// --history: how many previous runs form the baseline.
    #[arg(long, default_value_t = 10)]
    window: usize,
}

fn parse_margin(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.trim().strip_suffix('%') {
        Some(p) => (p, 100.0),
        None => (s.trim(), 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v / scale),
        _ => Err(format!("{s:?} is not a margin (expected e.g. 25% or 0.25)")),
    }
}

fn report_command(args: ReportArgs) -> i32 {
    use drdrill::report::{compare, history};
    let result = if let Some(dir) = &args.history {
        let policy = history::RegressionPolicy {
            margin: args.margin,
            min_delta_ms: args.min_delta.as_millis() as i64,
            window: args.window.max(1),
        };
        report_history(dir, &policy)
    } else if let Some([a, b]) = args.compare.as_deref() {
        drdrill::report::load_run(a)
            .and_then(|a| Ok((a, drdrill::report::load_run(b)?)))
            .map(|(a, b)| {
                print!("{}", compare::render(&a.report, &b.report));
                EXIT_PASS
            })
            .map_err(anyhow::Error::from)
    } else if let (true, Some(dir)) = (args.verify, &args.run_dir) {
        report_verify(dir)
    } else if let Some(dir) = &args.run_dir {
        report_rerender(dir, &args.format)
    } else {
        Err(anyhow::anyhow!("nothing to do"))
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        EXIT_ERROR
    })
}

fn report_verify(dir: &std::path::Path) -> anyhow::Result<i32> {
    let found = drdrill::report::manifest::verify(dir)?;
    if found.is_empty() {
        println!("{}: every file matches manifest.json", dir.display());
        return Ok(EXIT_PASS);
    }
    for d in &found {
        println!("{d}");
    }
    println!("{}: {} file(s) differ from manifest.json", dir.display(), found.len());
    Ok(EXIT_FAIL)
}

fn report_rerender(dir: &std::path::Path, formats: &Formats) -> anyhow::Result<i32> {
    if drdrill::report::gameday::is_gameday_dir(dir) {
        for p in drdrill::report::gameday::rerender(dir, formats)? {
            println!("wrote {}", p.display());
        }
        return Ok(EXIT_PASS);
    }
    let done = drdrill::report::rerender(dir, formats)?;
    if done.run.rebuilt {
        eprintln!(
            "note: {} has no report.json; rendered from what the run left, marked incomplete",
            dir.display()
        );
    }
    if done.run.skipped_lines > 0 {
        eprintln!(
            "note: skipped {} unreadable line(s) (a torn last line?)",
            done.run.skipped_lines
        );
    }
    for p in &done.written {
        println!("wrote {}", p.display());
    }
    if done.written.is_empty() {
        eprintln!("note: nothing written (report.json is the source and is never rewritten)");
    }
    Ok(EXIT_PASS)
}

fn report_history(dir: &std::path::Path, policy: &drdrill::report::history::RegressionPolicy) -> anyhow::Result<i32> {
    use drdrill::report::history;
    let h = history::read(&dir.join(history::HISTORY_FILE))?;
    if !h.skipped_lines.is_empty() {
        eprintln!("note: skipped unreadable lines {:?} of history.jsonl", h.skipped_lines);
    }
    let trends = history::analyse(&h.entries, policy);
    print!("{}", history::table(&trends, policy));
    let page = history::write_html(dir, &trends, policy)?;
    println!("wrote {}", page.display());
    let regressed: Vec<&str> = trends
        .iter()
        .filter(|t| t.latest_regressed())
        .map(|t| t.scenario.as_str())
        .collect();
    if regressed.is_empty() {
        Ok(EXIT_PASS)
    } else {
        eprintln!("regression in the latest run of: {}", regressed.join(", "));
        Ok(EXIT_FAIL)
    }
}
