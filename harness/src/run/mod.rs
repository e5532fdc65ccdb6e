//! Run: one drill through its phases — connect, preflight, inject, observe, recover,
//! verify — then cleanup and the report, with the experiment always stopped on every
//! way out.
//!
//! One file per job: [`interrupt`] (signals and panics as a cancellation), `connect`,
//! `preflight`, `inject`, `observe_fault` (the fault and the recovery), `restore` (a
//! restore drill's restore job and switch), `restore_test` (the inject and observe
//! phases of a restore without a disaster), `verify` and
//! `cleanup` (the phases), `traffic` (the scenario as the prober's configuration),
//! `report` (the live report), `publish` (what the run folder keeps) and `hooks` (test
//! hooks). Each phase takes what it needs
//! and returns what the next one needs; what cleanup must release and what the report
//! shows is kept in a `Record` as it is acquired.

use std::path::PathBuf;
use std::time::Duration;

use futures::FutureExt as _;
use tokio::sync::watch;

use crate::analysis::{self, LostWrite};
use crate::aws::Clients;
use crate::fault;
use crate::journal::{now_unix_ms, EventKind, Journal};
use crate::observe::{self, ExperimentView};
use crate::plan::Plan;
use crate::progress::Progress;
use crate::report::{ExperimentInfo, PublishOptions, Report};
use crate::scenario::{self, LoadedScenario, Target};
use crate::traffic::{DnsResolver, LiveStats, ProberHandle, TrafficOutcome};
use crate::verdict::Verdict;

mod cleanup;
mod connect;
mod hooks;
mod inject;
pub mod interrupt;
mod observe_fault;
mod preflight;
mod publish;
mod report;
mod restore;
mod restore_test;
mod traffic;
mod verify;

pub use interrupt::Interrupt;

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parent of the run folder.
    pub out_dir: PathBuf,
    /// Confirmation required to inject into an AWS account.
    pub yes: bool,
    /// No progress output.
    pub quiet: bool,
}

/// One drill to run: the scenario, how to run it, and what to publish besides
/// `report.json` (report formats, the history line, the CI step summary).
#[derive(Debug, Clone)]
pub struct Drill {
    /// The loaded, validated scenario.
    pub loaded: LoadedScenario,
    /// How it is run.
    pub options: RunOptions,
    /// What is published at the end.
    pub publish: PublishOptions,
}

impl Drill {
    /// A drill publishing the default set (every report format and the history line).
    pub fn new(loaded: LoadedScenario, options: &RunOptions) -> Drill {
        Drill {
            loaded,
            options: options.clone(),
            publish: PublishOptions::default(),
        }
    }

    /// The same drill, publishing `publish` instead.
    pub fn publishing(self, publish: &PublishOptions) -> Drill {
        Drill {
            publish: publish.clone(),
            ..self
        }
    }
}

/// The run could not even start (no run folder).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run folder or journal could not be created.
    #[error("cannot create the run folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be created.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// An `aws:` target without `--yes`.
    #[error("refusing to inject faults into an AWS account without --yes")]
    NotConfirmed,
}

/// What a finished run left.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The report written there.
    pub report: Report,
    /// The embedded local stack's ground truth at the end of the run, for tests and
    /// benchmarks that compare the measured numbers with it. The report never uses it.
    pub ground_truth: Option<Vec<drdrill_localstack::truth::TruthEvent>>,
}

/// Why the run ended early, with the verdict it gets.
struct Stop {
    verdict: Verdict,
    reason: String,
}

fn error(reason: impl Into<String>) -> Stop {
    Stop {
        verdict: Verdict::Error,
        reason: reason.into(),
    }
}

/// A new run id: UTC time, scenario name and a random suffix.
pub fn new_run_id(scenario: &str) -> String {
    let ts = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = ts.chars().filter(|c| *c != '-' && *c != ':').collect();
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{compact}-{scenario}-{}", &rand[..6])
}

/// The run folder's record of every AWS call the run made.
pub const AWS_CALLS_FILE: &str = "aws-calls.jsonl";

/// FIS has not answered GetExperiment at all (no HTTP answer) for this long: the target
/// is unreachable, and the run stops (and keeps trying to stop the experiment).
/// Throttling and other AWS errors are answers: they are journaled, not counted here.
pub const UNREACHABLE_LIMIT: Duration = Duration::from_secs(10);

/// What the run holds across its phases: the evidence the report is built from (each
/// piece set once the phase that produces it got that far) and, in [`Held`], what
/// cleanup releases on every way out. Phases hand each other their inputs as values;
/// none reads an optional field here to find them.
struct Record {
    run_id: String,
    run_dir: PathBuf,
    loaded: LoadedScenario,
    journal: Journal,
    progress: Progress,
    interrupt: Interrupt,
    t0_unix_ms: i64,
    /// The account and region, once connected (for the manifest).
    provenance: crate::report::manifest::Provenance,
    /// The clients, once the plan is resolved (cleanup stops the experiment with them; the
    /// report lists what became of their credentials).
    clients: Option<Clients>,
    plan: Option<Plan>,
    experiment: Option<ExperimentInfo>,
    traffic: Option<TrafficOutcome>,
    fault_end_unix_ms: Option<i64>,
    /// A restore test's `t_inject` (the restore job's creation), once the job started;
    /// with a disaster, `t_inject` comes from the experiment instead.
    restore_inject: Option<analysis::InjectTime>,
    lost: Option<Vec<LostWrite>>,
    /// The backup coverage gate's result (`objectives.backup_coverage`), once it ran.
    backup_coverage: Option<crate::verdict::ObjectiveResult>,
    held: Held,
}

/// What is running or was created, for cleanup to stop or delete on every way out.
#[derive(Default)]
struct Held {
    local: Option<drdrill_localstack::LocalStack>,
    /// The prober, when the run ends before verification stops it.
    prober: Option<ProberHandle>,
    template_created: Option<String>,
    /// The experiment as its observer sees it (whether it still runs).
    view: Option<watch::Receiver<ExperimentView>>,
    observers: Vec<observe::Observers>,
    /// The dead man's switch, while armed.
    switch: Option<crate::switch::Switch>,
    /// The restore step of a restore drill, while it runs.
    restore: Option<restore::RestoreRun>,
}

/// The connect phase's result: the target's clients and the resolved plan.
struct Connected {
    clients: Clients,
    plan: Plan,
}

/// The probes, once preflight started them.
struct Probing {
    prober: ProberHandle,
    live: LiveStats,
    /// The resolver of the app's Route 53 name (prober and verification share its cache).
    dns: Option<DnsResolver>,
}

impl Record {
    /// `Err` once the run was interrupted (journaling the signal, or the failure).
    fn interrupted(&self) -> Result<(), Stop> {
        match self.interrupt.reason() {
            Some(reason) if self.interrupt.triggered() && self.interrupt.is_failure() => {
                self.journal.record(EventKind::Note {
                    message: format!("stopping: {reason}"),
                });
                Err(error(format!("internal error: {reason}")))
            }
            Some(reason) if self.interrupt.triggered() => {
                self.journal.record(EventKind::Signal { name: reason.clone() });
                Err(Stop {
                    verdict: Verdict::Aborted,
                    reason: format!("interrupted by {reason}"),
                })
            }
            _ => Ok(()),
        }
    }

    /// Waits `d`, or ends early with [`Record::interrupted`]'s `Err` when the run is
    /// interrupted meanwhile.
    async fn pause(&self, d: Duration) -> Result<(), Stop> {
        tokio::select! {
            _ = self.interrupt.cancelled() => self.interrupted(),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }
}

/// Runs one drill to its report (the formats and history line `drill.publish` asks for).
/// Only a failure to create the run folder is an `Err`; everything else ends in a report
/// with a verdict. `shutdown` stops the run early (the experiment is stopped first).
pub async fn run(drill: Drill, shutdown: Interrupt) -> Result<RunOutcome, RunError> {
    let Drill {
        loaded,
        options,
        publish,
    } = drill;
    if matches!(loaded.scenario.target, Target::Aws(_)) && !options.yes {
        return Err(RunError::NotConfirmed);
    }
    let run_id = new_run_id(&loaded.scenario.name);
    let run_dir = options.out_dir.join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|source| RunError::Folder {
        path: run_dir.clone(),
        source,
    })?;
    let journal = Journal::create(&run_dir)?;
    journal.record(EventKind::RunStarted {
        run_id: run_id.clone(),
        scenario: loaded.scenario.name.clone(),
    });
    let mut rec = Record {
        run_id,
        run_dir: run_dir.clone(),
        loaded,
        journal,
        progress: Progress::new(options.quiet),
        interrupt: shutdown,
        t0_unix_ms: now_unix_ms(),
        provenance: Default::default(),
        clients: None,
        plan: None,
        experiment: None,
        traffic: None,
        fault_end_unix_ms: None,
        restore_inject: None,
        lost: None,
        backup_coverage: None,
        held: Held::default(),
    };
    rec.progress
        .line(&format!("run {} → {}", rec.run_id, run_dir.display()));
    publish::keep_scenario(&mut rec);
    let stopped = guarded(phases(&mut rec)).await.err();
    let cleanup = cleanup::cleanup(&mut rec).await;
    let stopped = match (stopped, cleanup) {
        // The experiment could not be stopped: whatever ended the run, it is an error.
        (Some(s), Err(c)) => Some(error(format!("{}; {}", s.reason, c.reason))),
        (Some(s), Ok(())) => Some(s),
        (None, Err(s)) => Some(s),
        (None, Ok(())) => None,
    };
    Ok(publish::finish(rec, stopped, &options.out_dir, &publish).await)
}

/// The phases in order, each handing the next what it needs. The probes run from
/// preflight to verification; when the run ends before verification they are parked in
/// [`Held`] for cleanup, which stops them after the experiment (so the report sees the
/// stop).
async fn phases(rec: &mut Record) -> Result<(), Stop> {
    let connected = connect::connect(rec).await?;
    let Probing { prober, live, dns } = preflight::start(rec, &connected).await?;
    let measured = guarded(async {
        // The live counters keep a bounded span: the baseline's checks read it whole, and
        // the recovery confirmation reads everything from the fault on.
        live.keep_from(Some(now_unix_ms()));
        preflight::baseline(rec, &live).await?;
        live.keep_from(Some(now_unix_ms()));
        let fault_end_unix_ms = if rec.loaded.fault.is_some() {
            let view = inject::inject(rec, &connected).await?;
            rec.held.restore = restore::spawn(rec, &connected, &live);
            let end = observe_fault::observe(rec, &connected, view, &live).await?;
            restore::finish(rec).await?;
            end
        } else {
            // A restore test: no disaster; the restore job's start is the injection.
            restore_test::start(rec, &connected, &live).await?;
            restore_test::observe(rec, &live).await?
        };
        observe_fault::recover(rec, &live, fault_end_unix_ms).await
    })
    .await;
    if let Err(stop) = measured {
        rec.held.prober = Some(prober);
        return Err(stop);
    }
    verify::verify(rec, &connected, prober, dns.as_ref()).await
}

/// Runs `phases`, turning a panic in them into an `error` stop naming it.
async fn guarded(phases: impl std::future::Future<Output = Result<(), Stop>>) -> Result<(), Stop> {
    match std::panic::AssertUnwindSafe(phases).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = interrupt::panic_message(payload.as_ref()).unwrap_or_default();
            Err(error(format!("internal error: panic: {message}")))
        }
    }
}

/// The observers' cadences: the scenario's `observers:`, defaults by target kind.
fn cadence(ctx: &Record) -> scenario::Cadence {
    let sc = &ctx.loaded.scenario;
    scenario::Cadence::for_target(&sc.target, sc.observers.as_ref())
}

/// The share of `completed` probes that were `ok`, if any completed.
fn ratio(ok: u64, completed: u64) -> Option<f64> {
    (completed > 0).then(|| ok as f64 / completed as f64)
}

/// `t_inject`: when the fault's effect began, and how well that is known.
///
/// - Per FIS: the earliest `startTime` among the experiment's fault actions (not
///   `aws:fis:wait`), on this machine's clock. Precision 1 ms: FIS stamps an action's
///   start itself when it starts the action and sends it as epoch seconds with
///   millisecond fractions, so the reading is exact to that resolution (how FIS's
///   stamp relates to the effect is FIS's contract; polling adds nothing since the
///   time is FIS's, not the poll's). The clock offset's bound comes on top.
/// - Otherwise (FIS reported no fault action start) the observed `running`
///   transition, on this machine's clock, with no clock offset: ± the polling interval,
///   or half the time between the last poll that did not see it and the first that did
///   when that is longer (GetExperiment failed or was slow in between).
/// - In a restore test (no experiment): the restore job's creation (see
///   `restore_test`).
fn t_inject(ctx: &Record) -> Option<analysis::InjectTime> {
    let Some(e) = ctx.experiment.as_ref() else {
        return ctx.restore_inject;
    };
    if let Some(unix_ms) = e.fault_start_unix_ms {
        return Some(analysis::InjectTime {
            unix_ms,
            source: analysis::InjectSource::FisActionStart,
            precision_ms: fault::FIS_TIME_RESOLUTION_MS,
            clock_offset_ms: e.clock_offset.map_or(0.0, |c| c.bound_ms),
        });
    }
    e.start_unix_ms.map(|unix_ms| analysis::InjectTime {
        unix_ms,
        source: analysis::InjectSource::ObservedRunning,
        precision_ms: e
            .start_precision_ms
            .unwrap_or(0.0)
            .max(cadence(ctx).fis.as_secs_f64() * 1000.0),
        clock_offset_ms: 0.0,
    })
}
