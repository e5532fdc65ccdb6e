//! Running a game day: each scenario of the plan in order through [`crate::run`] (each
//! writes its own run folder and history line), with the plan's pauses, stopping early on
//! a signal or, when the plan says so, on the first scenario that does not pass; then the
//! game day's own folder with the combined report.

use std::path::PathBuf;
use std::time::Duration;

use super::load::{LoadedGameday, PlannedScenario};
use crate::journal::now_unix_ms;
use crate::progress::Progress;
use crate::report::gameday::{self as combined, ComparisonRow, GamedayReport, GAMEDAY_SCHEMA_VERSION};
use crate::report::{markdown, PublishOptions, Report};
use crate::run::{self, Drill, Interrupt, RunOptions, RunOutcome};
use crate::scenario::Target;
use crate::verdict::Verdict;

/// The game day could not start (nothing was run).
#[derive(Debug, thiserror::Error)]
pub enum GamedayRunError {
    /// The game day's folder could not be created.
    #[error("cannot create the game day's folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A scenario has an `aws:` target and `--yes` was not given.
    #[error("refusing to inject faults into an AWS account without --yes (scenario {scenario})")]
    NotConfirmed {
        /// The first scenario with an `aws:` target.
        scenario: String,
    },
}

/// What a finished game day left.
#[derive(Debug)]
pub struct GamedayOutcome {
    /// The game day's folder.
    pub dir: PathBuf,
    /// `gameday.json`, as written there.
    pub report: GamedayReport,
    /// Every scenario run that produced a report, in plan order.
    pub runs: Vec<RunOutcome>,
    /// Files written into the game day's folder (and the step summary).
    pub written: Vec<PathBuf>,
    /// What could not be written.
    pub errors: Vec<String>,
}

/// How bad a verdict is, for the game day's worst: its exit code's severity
/// ([`crate::exit_codes::severity`], the order `drdrill run` uses across several files).
pub fn severity(v: Verdict) -> u8 {
    crate::exit_codes::severity(v.exit_code())
}

fn worse(a: Verdict, b: Verdict) -> Verdict {
    if severity(b) > severity(a) {
        b
    } else {
        a
    }
}

/// Waits `d`, or less when the interrupt is triggered.
async fn pause(d: Duration, interrupt: &Interrupt) {
    tokio::select! {
        _ = interrupt.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

/// Runs the game day. `on_run` is called after each scenario's run (e.g. to print its
/// summary). Only a failure to start is an `Err`; every scenario's outcome, including one
/// whose run could not start, is a row of the combined report.
pub async fn run(
    g: LoadedGameday,
    opts: &RunOptions,
    publish: &PublishOptions,
    interrupt: Interrupt,
    on_run: &mut (dyn FnMut(&RunOutcome) + Send),
) -> Result<GamedayOutcome, GamedayRunError> {
    refuse_unconfirmed(&g, opts)?;
    let run_id = run::new_run_id(&format!("gameday-{}", g.plan.gameday));
    let dir = opts.out_dir.join(&run_id);
    std::fs::create_dir_all(&dir).map_err(|source| GamedayRunError::Folder {
        path: dir.clone(),
        source,
    })?;
    let started = now_unix_ms();
    let tally = run_scenarios(&g, opts, publish, &interrupt, on_run).await;
    let report = GamedayReport {
        schema_version: GAMEDAY_SCHEMA_VERSION,
        run_id,
        gameday: g.plan.gameday.clone(),
        description: g.plan.description.clone(),
        plan_path: g.path.clone(),
        verdict: tally.verdict,
        exit_code: tally.verdict.exit_code(),
        started_unix_ms: started,
        finished_unix_ms: now_unix_ms(),
        stop_on_first_failure: g.plan.stop_on_first_failure,
        stopped_early: tally.stopped_early,
        rows: tally.rows,
    };
    let mut outcome = GamedayOutcome {
        dir,
        report,
        runs: tally.runs,
        written: Vec::new(),
        errors: Vec::new(),
    };
    write_combined(&mut outcome, &tally.reports, publish);
    Ok(outcome)
}

/// Refuses a game day with an `aws:` target unless `--yes` was given.
fn refuse_unconfirmed(g: &LoadedGameday, opts: &RunOptions) -> Result<(), GamedayRunError> {
    if opts.yes {
        return Ok(());
    }
    match g
        .scenarios
        .iter()
        .find(|s| matches!(s.loaded.scenario.target, Target::Aws(_)))
    {
        Some(s) => Err(GamedayRunError::NotConfirmed {
            scenario: s.loaded.scenario.name.clone(),
        }),
        None => Ok(()),
    }
}

/// What the scenarios run so far came to.
struct Tally {
    /// One row per scenario, run or not.
    rows: Vec<ComparisonRow>,
    /// The runs that produced a report.
    runs: Vec<RunOutcome>,
    /// Their reports.
    reports: Vec<Report>,
    /// The worst verdict so far.
    verdict: Verdict,
    /// Why the rest of the scenarios are not run, once they are not.
    stopped_early: Option<String>,
}

/// Runs each scenario in plan order, with the plan's pauses, until a signal or (when the
/// plan says so) a scenario that does not pass; the rest become rows marked not run.
async fn run_scenarios(
    g: &LoadedGameday,
    opts: &RunOptions,
    publish: &PublishOptions,
    interrupt: &Interrupt,
    on_run: &mut (dyn FnMut(&RunOutcome) + Send),
) -> Tally {
    let mut progress = Progress::new(opts.quiet);
    let per_scenario = PublishOptions {
        step_summary: None,
        ..publish.clone()
    };
    let total = g.scenarios.len();
    let mut t = Tally {
        rows: Vec::with_capacity(total),
        runs: Vec::new(),
        reports: Vec::new(),
        verdict: Verdict::Pass,
        stopped_early: None,
    };
    for (i, planned) in g.scenarios.iter().enumerate() {
        let sc = &planned.loaded.scenario;
        if let (None, Some(reason)) = (&t.stopped_early, interrupt.reason()) {
            // A signal (or a failure) before this scenario started: it and the rest are
            // not run, and the game day is aborted (or an error after a failure).
            let v = if interrupt.is_failure() {
                Verdict::Error
            } else {
                Verdict::Aborted
            };
            t.verdict = worse(t.verdict, v);
            t.stopped_early = Some(format!("interrupted ({reason})"));
        }
        if let Some(why) = &t.stopped_early {
            t.rows.push(ComparisonRow::without_report(
                &sc.name,
                sc.description.clone(),
                &planned.loaded.path,
                None,
                format!("not run: {why}"),
            ));
            continue;
        }
        progress.line(&format!(
            "game day {}: scenario {} of {total}: {}",
            g.plan.gameday,
            i + 1,
            sc.name
        ));
        let drill = Drill::new(planned.loaded.clone(), opts).publishing(&per_scenario);
        let this = t.run_one(drill, planned, interrupt, on_run).await;
        t.verdict = worse(t.verdict, this);
        let last = i + 1 == total;
        if interrupt.reason().is_some() {
            // A signal after the run's last check leaves its verdict standing; the next
            // iteration reports the rest as not run.
            continue;
        }
        if g.plan.stop_on_first_failure && this != Verdict::Pass && !last {
            t.stopped_early = Some(format!("stop_on_first_failure: {} ended {}", sc.name, this.as_str()));
            continue;
        }
        if let (Some(d), false) = (planned.pause_after, last) {
            progress.line(&format!(
                "pausing {} before the next scenario",
                humantime::format_duration(d)
            ));
            pause(d, interrupt).await;
        }
    }
    t
}

impl Tally {
    /// Runs one scenario's drill and adds its row (and its run, when it has a report);
    /// returns its verdict (`error` when the run could not start).
    async fn run_one(
        &mut self,
        drill: Drill,
        planned: &PlannedScenario,
        interrupt: &Interrupt,
        on_run: &mut (dyn FnMut(&RunOutcome) + Send),
    ) -> Verdict {
        match run::run(drill, interrupt.clone()).await {
            Ok(outcome) => {
                on_run(&outcome);
                let name = outcome.run_dir.file_name().map(|n| n.to_string_lossy().into_owned());
                self.rows.push(ComparisonRow::from_report(&outcome.report, name));
                self.reports.push(outcome.report.clone());
                let v = outcome.report.verdict;
                self.runs.push(outcome);
                v
            }
            Err(e) => {
                eprintln!("error: {e}");
                let sc = &planned.loaded.scenario;
                self.rows.push(ComparisonRow::without_report(
                    &sc.name,
                    sc.description.clone(),
                    &planned.loaded.path,
                    Some(Verdict::Error),
                    e.to_string(),
                ));
                Verdict::Error
            }
        }
    }
}

/// Writes the combined report into the game day's folder and appends it to the step
/// summary, noting what was written and what could not be.
fn write_combined(outcome: &mut GamedayOutcome, reports: &[Report], publish: &PublishOptions) {
    match combined::write(&outcome.report, reports, &outcome.dir, &publish.formats) {
        Ok(files) => outcome.written = files,
        Err(e) => outcome.errors.push(e.to_string()),
    }
    if let Some(path) = publish.step_summary.as_ref().filter(|p| !p.as_os_str().is_empty()) {
        match append_summary(&outcome.report, path) {
            Ok(()) => outcome.written.push(path.clone()),
            Err(e) => outcome.errors.push(e),
        }
    }
}

fn append_summary(g: &GamedayReport, path: &std::path::Path) -> Result<(), String> {
    use std::io::Write as _;
    let text = combined::render_markdown(g).map_err(|e| e.to_string())?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()))
        .map_err(|e| {
            format!(
                "cannot append the {} to {}: {e}",
                markdown::SUMMARY_FILE,
                path.display()
            )
        })
}

/// The short text printed at the end of a game day: the verdict and one line per scenario.
pub fn summary_text(o: &GamedayOutcome) -> String {
    use std::fmt::Write as _;
    let g = &o.report;
    let mut s = format!(
        "game day {}: {} (exit {})\n",
        g.gameday,
        g.verdict.as_str().to_uppercase(),
        g.exit_code
    );
    if let Some(why) = &g.stopped_early {
        let _ = writeln!(s, "stopped early: {why}");
    }
    for r in &g.rows {
        let ms = |v: Option<i64>| v.map_or("—".to_string(), |v| format!("{:.2} s", v as f64 / 1000.0));
        let _ = writeln!(
            s,
            "  {:<8} {:<32} RTO {:>9}  RPO {:>9}  lost {}",
            r.verdict.map_or("not run", Verdict::as_str),
            r.label(),
            ms(r.rto_ms),
            ms(r.rpo_ms),
            r.lost_writes.map_or("—".to_string(), |l| l.to_string())
        );
    }
    let _ = writeln!(
        s,
        "game-day report: {}",
        o.dir.join(crate::report::html::HTML_FILE).display()
    );
    s
}
