//! Run: one drill through its phases — preflight, inject, observe, recover, verify,
//! report — with the experiment always stopped on every way out.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt as _;
use tokio_util::sync::CancellationToken;

use crate::analysis::{self, LostWrite, Series};
use crate::aws::Clients;
use crate::fault;
use crate::journal::{now_unix_ms, EventKind, Journal, Phase};
use crate::observe::{self, ExperimentView};
use crate::plan::{self, Plan};
use crate::progress::Progress;
use crate::report::{self, ExperimentInfo, ProbeStats, Report, ScenarioInfo, TimelinePoint};
use crate::scenario::{self, LoadedScenario, ResolvedFault, Target};
use crate::traffic::{self, DnsResolver, Prober, ProberHandle, RunClock, TrafficConfig, TrafficOutcome};
use crate::verdict::{self, Measured, Verdict};

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

/// A request to stop the run early (a signal, or a failure such as a panic in any task),
/// with its reason.
#[derive(Clone, Default)]
pub struct Interrupt {
    token: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
    failure: Arc<std::sync::atomic::AtomicBool>,
}

impl Interrupt {
    /// A fresh, untriggered interrupt.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }
    /// Asks the run to stop (`SIGINT`, `SIGTERM`, ...).
    pub fn trigger(&self, reason: &str) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert_with(|| reason.to_string());
        self.token.cancel();
    }
    /// Asks the run to stop because something failed (a panic in a task): the
    /// experiment is stopped as for a signal, and the verdict is `error` (exit 2).
    pub fn fail(&self, reason: &str) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.to_string());
            self.failure.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.token.cancel();
    }
    /// Whether it was triggered, and why.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    /// Whether it was triggered by a failure ([`Interrupt::fail`]) rather than a signal.
    pub fn is_failure(&self) -> bool {
        self.failure.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Installs a panic hook (kept for the life of the process, after the previous one
    /// has run) that fails this interrupt: a panic in any task, including ones the run
    /// spawned, makes the run stop the experiment and end with `error`.
    pub fn stop_on_panic(&self) {
        let interrupt = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            interrupt.fail(&format!("panic{at}: {message}"));
        }));
    }
    fn triggered(&self) -> bool {
        self.token.is_cancelled()
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

/// Everything the phases share.
struct Ctx {
    run_id: String,
    run_dir: PathBuf,
    loaded: LoadedScenario,
    journal: Journal,
    progress: Progress,
    interrupt: Interrupt,
    t0_unix_ms: i64,
    clients: Option<Clients>,
    plan: Option<Plan>,
    prober: Option<ProberHandle>,
    traffic: Option<TrafficOutcome>,
    template_created: Option<String>,
    experiment: Option<ExperimentInfo>,
    view: Option<tokio::sync::watch::Receiver<ExperimentView>>,
    fault_end_unix_ms: Option<i64>,
    lost: Option<Vec<LostWrite>>,
    local: Option<drdrill_localstack::LocalStack>,
    observers: Vec<observe::Observers>,
    /// The resolver of the app's Route 53 name (prober and verification share its cache).
    dns: Option<DnsResolver>,
    /// The dead man's switch, while armed.
    switch: Option<crate::switch::Switch>,
    /// The account and region, once connected (for the manifest).
    provenance: report::manifest::Provenance,
}

/// Runs one loaded scenario to its report (every report format and a line in
/// `<out>/history.jsonl`). Only a failure to create the run folder is an `Err`;
/// everything else ends in a report with a verdict.
pub async fn run(loaded: LoadedScenario, opts: &RunOptions, interrupt: Interrupt) -> Result<RunOutcome, RunError> {
    run_publishing(loaded, opts, &report::PublishOptions::default(), interrupt).await
}

/// [`run`], choosing what is published besides `report.json` (report formats, the
/// history line, the CI step summary).
pub async fn run_publishing(
    loaded: LoadedScenario,
    opts: &RunOptions,
    publish: &report::PublishOptions,
    interrupt: Interrupt,
) -> Result<RunOutcome, RunError> {
    if matches!(loaded.scenario.target, Target::Aws(_)) && !opts.yes {
        return Err(RunError::NotConfirmed);
    }
    let run_id = new_run_id(&loaded.scenario.name);
    let run_dir = opts.out_dir.join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|source| RunError::Folder {
        path: run_dir.clone(),
        source,
    })?;
    let journal = Journal::create(&run_dir)?;
    journal.record(EventKind::RunStarted {
        run_id: run_id.clone(),
        scenario: loaded.scenario.name.clone(),
    });
    let mut ctx = Ctx {
        run_id,
        run_dir: run_dir.clone(),
        loaded,
        journal,
        progress: Progress::new(opts.quiet),
        interrupt,
        t0_unix_ms: now_unix_ms(),
        clients: None,
        plan: None,
        prober: None,
        traffic: None,
        template_created: None,
        experiment: None,
        view: None,
        fault_end_unix_ms: None,
        lost: None,
        local: None,
        observers: Vec::new(),
        dns: None,
        switch: None,
        provenance: Default::default(),
    };
    ctx.progress
        .line(&format!("run {} → {}", ctx.run_id, run_dir.display()));
    // The scenario as run, beside what it produced (the manifest covers it).
    match std::fs::read(&ctx.loaded.path) {
        Ok(bytes) => {
            if let Err(e) = report::write_atomic(&run_dir, report::SCENARIO_FILE, &bytes) {
                ctx.progress
                    .line(&format!("cannot write {}: {e}", report::SCENARIO_FILE));
            }
        }
        Err(e) => {
            ctx.journal.record(EventKind::Note {
                message: format!(
                    "the scenario file {} could not be read again to keep a copy: {e}",
                    ctx.loaded.path.display()
                ),
            });
        }
    }
    let stopped = match std::panic::AssertUnwindSafe(phases(&mut ctx)).catch_unwind().await {
        Ok(result) => result.err(),
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Some(error(format!("internal error: panic: {message}")))
        }
    };
    let cleanup = cleanup(&mut ctx).await;
    let stopped = match (stopped, cleanup) {
        // The experiment could not be stopped: whatever ended the run, it is an error.
        (Some(s), Err(c)) => Some(error(format!("{}; {}", s.reason, c.reason))),
        (Some(s), Ok(())) => Some(s),
        (None, Err(s)) => Some(s),
        (None, Ok(())) => None,
    };
    let mut report = build_report(&mut ctx, stopped);
    // report.json (which lists the finish among its events) is written before the
    // journal records the finish: a run killed in between leaves a report and a journal
    // without the finish, never a journal that says finished without a report.
    let finished = crate::journal::Event {
        t_unix_ms: crate::journal::now_unix_ms(),
        kind: EventKind::RunFinished {
            verdict: report.verdict.as_str().into(),
            exit_code: report.exit_code,
        },
    };
    let mut events = ctx.journal.events();
    events.push(finished.clone());
    report.events = report::report_events(&events, ctx.t0_unix_ms);
    if let Err(e) = report.write(&run_dir) {
        ctx.progress.line(&format!("cannot write report.json: {e}"));
    }
    ctx.journal.record_at(finished.t_unix_ms, finished.kind);
    for e in report::publish(&report, &run_dir, &opts.out_dir, publish).errors {
        eprintln!("warning: {e}");
    }
    if let Err(e) = ctx.journal.check() {
        ctx.progress.line(&e.to_string());
    }
    // Last: the digest of everything the run wrote (`drdrill report --verify`).
    if let Err(e) = report::manifest::write(&run_dir, &ctx.run_id, &ctx.provenance) {
        eprintln!("warning: cannot write {}: {e}", report::manifest::FILE);
    }
    let mut ground_truth = None;
    if let Some(local) = ctx.local.take() {
        ground_truth = Some(local.world.truth.snapshot());
        local.shutdown().await;
    }
    Ok(RunOutcome {
        run_dir,
        report,
        ground_truth,
    })
}

async fn phases(ctx: &mut Ctx) -> Result<(), Stop> {
    connect(ctx).await?;
    preflight(ctx).await?;
    inject(ctx).await?;
    observe(ctx).await?;
    recover(ctx).await?;
    verify(ctx).await
}

fn check_interrupt(ctx: &Ctx) -> Result<(), Stop> {
    match ctx.interrupt.reason() {
        Some(reason) if ctx.interrupt.triggered() && ctx.interrupt.is_failure() => {
            ctx.journal.record(EventKind::Note {
                message: format!("stopping: {reason}"),
            });
            Err(error(format!("internal error: {reason}")))
        }
        Some(reason) if ctx.interrupt.triggered() => {
            ctx.journal.record(EventKind::Signal { name: reason.clone() });
            Err(Stop {
                verdict: Verdict::Aborted,
                reason: format!("interrupted by {reason}"),
            })
        }
        _ => Ok(()),
    }
}

/// The run folder's record of every AWS call the run made.
pub const AWS_CALLS_FILE: &str = "aws-calls.jsonl";

async fn connect(ctx: &mut Ctx) -> Result<(), Stop> {
    ctx.journal.record(EventKind::PhaseStarted {
        phase: Phase::Preflight,
    });
    plan::check_machine(&ctx.loaded.scenario).map_err(|e| error(e.to_string()))?;
    let connected = crate::target::connect(&ctx.loaded.scenario.target)
        .await
        .map_err(|e| error(e.to_string()))?;
    if let Some(local) = &connected.local {
        ctx.progress.line(&format!("local stack at {}", local.endpoint_url()));
    }
    ctx.provenance = report::manifest::Provenance {
        account_id: Some(connected.account_id),
        region: Some(connected.region),
    };
    let clients = connected.clients;
    ctx.local = connected.local;
    let calls_path = ctx.run_dir.join(AWS_CALLS_FILE);
    if let Err(e) = clients.calls.write_to(&calls_path) {
        // The drill can still be measured; the calls stay in memory (`CallLog::pending`).
        tracing::warn!(path = %calls_path.display(), error = %e, "cannot write the AWS call log");
    }
    refuse_leftovers(ctx, &clients).await?;
    let plan = plan::resolve(&ctx.loaded, &clients, local_dns(ctx))
        .await
        .map_err(|e| error(format!("plan: {e}")))?;
    ctx.progress.line(plan::render(&plan).trim_end());
    if let Some(caps) = &ctx.loaded.scenario.blast_radius {
        ctx.progress.line(crate::blast::render(&plan, caps).trim_end());
        crate::blast::check(&plan, caps).map_err(|e| error(e.to_string()))?;
    }
    ctx.clients = Some(clients);
    ctx.plan = Some(plan);
    Ok(())
}

/// The embedded local stack's DNS server, if any.
fn local_dns(ctx: &Ctx) -> Option<std::net::SocketAddr> {
    ctx.local.as_ref().map(|l| l.dns_addr())
}

/// Starts the observers of the app's Route 53 name (its DNS answers, the health checks of
/// its records) and builds the prober's resolver; nothing when it is reached by the load
/// balancer's own name.
fn watch_route53(ctx: &mut Ctx, clients: &Clients, plan: &Plan) -> Result<(), Stop> {
    let Some(dns) = &plan.dns else {
        return Ok(());
    };
    let nameserver = dns.nameserver();
    let uncached = DnsResolver::uncached(nameserver).map_err(|e| error(format!("DNS observer: {e}")))?;
    ctx.observers
        .push(observe::watch_dns(uncached, dns.name.clone(), &ctx.journal));
    if !dns.route53.health_check_ids.is_empty() {
        ctx.observers.push(observe::watch_health_checks(
            &clients.route53,
            dns.route53.health_check_ids.clone(),
            &ctx.journal,
            &cadence(ctx),
        ));
    }
    ctx.dns = Some(DnsResolver::new(nameserver).map_err(|e| error(format!("traffic: {e}")))?);
    Ok(())
}

/// Refuses to run while an experiment from an earlier drdrill run is unfinished on this
/// target: its fault may still be in effect (the run that started it was killed), and
/// this run would measure it too. The warning names each one and how to stop them.
async fn refuse_leftovers(ctx: &mut Ctx, clients: &crate::aws::Clients) -> Result<(), Stop> {
    let leftovers = crate::cleanup::find_leftovers(clients).await.map_err(|e| {
        error(format!(
            "cannot check for experiments left running by earlier runs: {e}"
        ))
    })?;
    if leftovers.is_empty() {
        return Ok(());
    }
    for l in &leftovers {
        let message = format!("{l} was started by an earlier drdrill run and has not ended");
        eprintln!("warning: {message}");
        ctx.journal.record(EventKind::Note { message });
    }
    Err(error(format!(
        "refusing to run: {} experiment(s) from earlier drdrill runs are still unfinished on this target ({}), so a fault may be in effect; if no other drill is running, stop them with `drdrill cleanup {}` and run again",
        leftovers.len(),
        leftovers.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", "),
        ctx.loaded.path.display()
    )))
}

/// Test hook, in debug builds only: `DRDRILL_TEST_PANIC=<point>` makes the run panic
/// at that point (`observe`: the run's own task; `task`: a task it spawns), so that tests
/// can prove a panic still stops the experiment.
fn test_panic_at(point: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("DRDRILL_TEST_PANIC").is_ok_and(|p| p == point)
}

/// The observers' cadences: the scenario's `observers:`, defaults by target kind.
fn cadence(ctx: &Ctx) -> scenario::Cadence {
    let sc = &ctx.loaded.scenario;
    scenario::Cadence::for_target(&sc.target, sc.observers.as_ref())
}

/// FIS has not answered GetExperiment at all (no HTTP answer) for this long: the target
/// is unreachable, and the run stops (and keeps trying to stop the experiment).
/// Throttling and other AWS errors are answers: they are journaled, not counted here.
pub const UNREACHABLE_LIMIT: Duration = Duration::from_secs(10);

fn traffic_config(loaded: &LoadedScenario, base_url: &str) -> TrafficConfig {
    let sc = &loaded.scenario;
    let spec = |t: &scenario::RequestTemplate| traffic::RequestSpec {
        method: t.method.clone(),
        path_template: t.path.clone(),
        body_template: t.body.clone(),
    };
    TrafficConfig {
        base_url: base_url.to_string(),
        rate_per_sec: sc.traffic.rate.per_second(),
        write_ratio: sc.traffic.write_ratio,
        timeout: sc.traffic.timeout.get(),
        connection: match sc.traffic.connection {
            scenario::ConnectionPolicy::Fresh => traffic::ConnectionPolicy::Fresh,
            scenario::ConnectionPolicy::KeepAlive { max_age } => traffic::ConnectionPolicy::KeepAlive { max_age },
        },
        write: spec(&sc.probe.write),
        read: spec(&sc.probe.read),
        expect_status: sc.probe.expect_status.clone(),
    }
}

/// Waits until every target is healthy, then checks the steady state over the baseline.
async fn preflight(ctx: &mut Ctx) -> Result<(), Stop> {
    let (clients, plan) = match (&ctx.clients, &ctx.plan) {
        (Some(c), Some(p)) => (c.clone(), p.clone()),
        _ => return Err(error("no plan")),
    };
    let sc = ctx.loaded.scenario.clone();
    let deadline = tokio::time::Instant::now() + sc.timings.recovery_timeout.get().max(Duration::from_secs(5));
    loop {
        check_interrupt(ctx)?;
        let out = match clients
            .elb
            .describe_target_health()
            .target_group_arn(&plan.target_group_arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let call = crate::aws::AwsCallError::from_sdk(&e);
                if observe::Failure::of(&call) != observe::Failure::Throttled || tokio::time::Instant::now() >= deadline
                {
                    return Err(error(format!("DescribeTargetHealth failed: {call}")));
                }
                // Throttled: wait a refill and ask again (the deadline still holds).
                ctx.progress
                    .status("preflight", None, "DescribeTargetHealth throttled; backing off");
                tokio::time::sleep(cadence(ctx).max_backoff.min(Duration::from_secs(2))).await;
                continue;
            }
        };
        let states: Vec<String> = out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                d.target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default()
            })
            .collect();
        let healthy = states.iter().filter(|s| *s == "healthy").count();
        if !states.is_empty() && healthy == states.len() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(error(format!(
                "preflight: only {healthy} of {} targets are healthy",
                states.len()
            )));
        }
        ctx.progress.status(
            "preflight",
            None,
            &format!("waiting for targets: {healthy}/{} healthy", states.len()),
        );
        tokio::time::sleep(observe::POLL).await;
    }
    let zones = plan
        .targets
        .iter()
        .filter_map(|t| Some((t.id.clone(), t.zone.clone()?)))
        .collect();
    let target_observer = observe::watch_targets(
        &clients,
        &ctx.journal,
        plan.target_group_arn.clone(),
        zones,
        &cadence(ctx),
    );
    ctx.observers.push(target_observer);
    watch_route53(ctx, &clients, &plan)?;
    let cfg = traffic_config(&ctx.loaded, plan.base_url());
    let prober = Prober::start_resolving(cfg, ctx.dns.clone(), RunClock::start(), &ctx.run_dir)
        .map_err(|e| error(format!("traffic: {e}")))?;
    let baseline_start = now_unix_ms();
    let baseline = sc.timings.baseline.get();
    let live = prober.live();
    ctx.prober = Some(prober);
    // Observers run until the end of the run; `cleanup` stops them.
    let baseline_end = baseline_start + baseline.as_millis() as i64;
    while now_unix_ms() < baseline_end {
        check_interrupt(ctx)?;
        let now = live.settled_until_unix_ms();
        let w = live.window(now - 1000, now);
        ctx.progress.status("baseline", ratio(w.ok, w.completed), "");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settle_deadline = tokio::time::Instant::now() + sc.traffic.timeout.get() + Duration::from_secs(2);
    while live.settled_until_unix_ms() < baseline_end && tokio::time::Instant::now() < settle_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let w = live.window(baseline_start, baseline_end);
    let threshold = sc.steady_state.success_ratio;
    match ratio(w.ok, w.completed) {
        None if baseline.is_zero() => {}
        None => return Err(error("preflight: no probe completed during the baseline")),
        Some(r) if r < threshold => {
            return Err(error(format!(
                "preflight: steady state does not hold before the fault: success {:.2}% < {:.2}% over the baseline",
                r * 100.0,
                threshold * 100.0
            )))
        }
        Some(_) => {}
    }
    if let Some(p99) = &sc.steady_state.p99 {
        let worst = live
            .latency_intervals_since(baseline_start)
            .iter()
            .filter(|l| l.start_unix_ms < baseline_end && l.count > 0)
            .map(|l| l.p99_us)
            .max();
        if let Some(worst) = worst {
            if worst as u128 > p99.get().as_micros() {
                return Err(error(format!(
                    "preflight: steady state does not hold: p99 {:.1} ms > {} over the baseline",
                    worst as f64 / 1000.0,
                    p99
                )));
            }
        }
    }
    ctx.progress.line(&format!(
        "preflight ok: steady state holds ({} probes in the baseline)",
        w.completed
    ));
    Ok(())
}

fn ratio(ok: u64, completed: u64) -> Option<f64> {
    (completed > 0).then(|| ok as f64 / completed as f64)
}

async fn inject(ctx: &mut Ctx) -> Result<(), Stop> {
    check_interrupt(ctx)?;
    ctx.journal.record(EventKind::PhaseStarted { phase: Phase::Inject });
    let clients = match (&ctx.clients, &ctx.plan) {
        (Some(c), Some(_)) => c.clone(),
        _ => return Err(error("no plan")),
    };
    let template_id = match &ctx.loaded.fault {
        ResolvedFault::TemplateId(id) => id.clone(),
        ResolvedFault::Template(t) => {
            let settings = ctx.loaded.scenario.dead_man_switch.clone().unwrap_or_default();
            let template = if settings.enabled {
                let switch = crate::switch::arm(&clients, &ctx.run_id, &settings, &ctx.journal)
                    .await
                    .map_err(|e| error(e.to_string()))?;
                ctx.progress.line(&format!(
                    "dead man's switch armed: the fault ends by itself {} s after the harness goes silent",
                    (switch.fires_after + switch.period).as_secs()
                ));
                let with = crate::switch::with_stop_condition(t, &switch);
                ctx.switch = Some(switch);
                with
            } else {
                ctx.journal.record(EventKind::Note {
                    message: "dead man's switch off (dead_man_switch.enabled: false): a killed harness leaves the fault running until `drdrill cleanup`".into(),
                });
                t.clone()
            };
            let as_run = serde_json::to_vec_pretty(&template).unwrap_or_default();
            if let Err(e) = report::write_atomic(&ctx.run_dir, report::TEMPLATE_FILE, &as_run) {
                ctx.progress
                    .line(&format!("cannot write {}: {e}", report::TEMPLATE_FILE));
            }
            let id = fault::create_template(&clients, &template, &ctx.run_id)
                .await
                .map_err(|e| error(e.to_string()))?;
            ctx.journal.record(EventKind::TemplateCreated {
                template_id: id.clone(),
            });
            ctx.template_created = Some(id.clone());
            id
        }
    };
    if let Some(caps) = &ctx.loaded.scenario.blast_radius {
        // Targets may have changed since the plan: check again right before injecting.
        let fresh = plan::resolve(&ctx.loaded, &clients, local_dns(ctx))
            .await
            .map_err(|e| error(format!("plan: {e}")))?;
        crate::blast::check(&fresh, caps).map_err(|e| error(e.to_string()))?;
    }
    let started = fault::start(&clients, &template_id, &ctx.run_id, &ctx.loaded.scenario.name)
        .await
        .map_err(|e| error(e.to_string()))?;
    let id = started.experiment_id.clone();
    ctx.journal.record(EventKind::ExperimentStarted {
        experiment_id: id.clone(),
    });
    // FIS's times (action start and end times, which date the fault) come from FIS's
    // clock: StartExperiment's round trip and the creationTime in its answer bound the
    // offset (see `fault::ClockOffset`).
    let clock = started.clock_offset();
    let round_trip_ms = started.received_unix_ms - started.sent_unix_ms;
    ctx.journal.record(EventKind::Note {
        message: match clock.basis {
            fault::OffsetBasis::CreationTime => format!(
                "FIS clock offset {:+.1} ms ± {:.1} ms (creationTime within StartExperiment's {round_trip_ms:.1} ms round trip)",
                clock.offset_ms, clock.bound_ms
            ),
            fault::OffsetBasis::RoundTrip => format!(
                "StartExperiment's answer has no creationTime: FIS's clock is assumed to agree with this machine's within the call's round trip (± {:.1} ms)",
                clock.bound_ms
            ),
        },
    });
    ctx.progress
        .line(&format!("experiment {id} started (template {template_id})"));
    ctx.experiment = Some(ExperimentInfo {
        id: id.clone(),
        template_id,
        clock_offset: Some(clock),
        ..Default::default()
    });
    let sent_unix_ms = started.sent_unix_ms.floor() as i64;
    let (observer, mut rx) = observe::watch_experiment(&clients, &ctx.journal, id, clock, sent_unix_ms, &cadence(ctx));
    ctx.observers.push(observer);
    ctx.view = Some(rx.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let view = rx.borrow_and_update().clone();
        update_experiment(ctx, &view);
        let ran = view.running_between_unix_ms.is_some() || view.fault_start_unix_ms().is_some();
        if view.status == "running" || (view.ended && ran) {
            break;
        }
        if view.ended {
            return Err(error(format!(
                "the experiment ended as {} before running: {}",
                view.status,
                view.reason.unwrap_or_default()
            )));
        }
        check_interrupt(ctx)?;
        if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
            return Err(error("the experiment did not start running within 60 s"));
        }
    }
    Ok(())
}

fn update_experiment(ctx: &mut Ctx, view: &ExperimentView) {
    if let Some(e) = ctx.experiment.as_mut() {
        e.status = view.status.clone();
        // Not FIS's experiment startTime: AWS stamps that while the experiment is still
        // `initiating`. The `running` transition as observed, to within its polls.
        if let Some((after, seen)) = view.running_between_unix_ms {
            let mid = after + (seen - after) / 2;
            e.start_unix_ms = Some(mid);
            e.start_precision_ms = Some((seen - mid) as f64);
        }
        if view.end_unix_ms.is_some() {
            e.end_unix_ms = view.end_unix_ms;
        }
        if let Some(t) = view.fault_start_unix_ms() {
            e.fault_start_unix_ms = Some(t);
        }
    }
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
fn t_inject(ctx: &Ctx) -> Option<analysis::InjectTime> {
    let e = ctx.experiment.as_ref()?;
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

async fn observe(ctx: &mut Ctx) -> Result<(), Stop> {
    ctx.journal.record(EventKind::PhaseStarted { phase: Phase::Observe });
    let sc = ctx.loaded.scenario.clone();
    let Some(mut rx) = ctx.view.clone() else {
        return Err(error("no experiment"));
    };
    let Some(live) = ctx.prober.as_ref().map(|p| p.live()) else {
        return Err(error("no traffic"));
    };
    let started = t_inject(ctx).map_or_else(now_unix_ms, |t| t.unix_ms);
    let cap = sc.timings.max_fault_duration.get().as_millis() as i64;
    if test_panic_at("task") {
        tokio::spawn(async { panic!("DRDRILL_TEST_PANIC=task") });
    }
    let mut observer_alive = true;
    loop {
        let view = rx.borrow_and_update().clone();
        update_experiment(ctx, &view);
        if view.ended {
            ctx.fault_end_unix_ms = view.end_unix_ms.or(Some(now_unix_ms()));
            ctx.progress.line(&format!("experiment {}", view.status));
            if view.status == "failed" {
                return Err(error(format!(
                    "the experiment failed: {}",
                    view.reason.unwrap_or_default()
                )));
            }
            if view.status == "stopped" {
                // drdrill stops experiments only on its way out, so FIS stopped this one
                // (a stop condition) or someone else did.
                return Err(Stop {
                    verdict: Verdict::Aborted,
                    reason: format!(
                        "the experiment was stopped outside drdrill (stop condition or operator): {}",
                        view.reason.unwrap_or_default()
                    ),
                });
            }
            return Ok(());
        }
        check_interrupt(ctx)?;
        if test_panic_at("observe") {
            panic!("DRDRILL_TEST_PANIC=observe");
        }
        if !observer_alive {
            return Err(error("the experiment observer stopped before the experiment ended"));
        }
        let unrenewable = ctx
            .clients
            .as_ref()
            .and_then(|c| c.credentials.as_ref())
            .and_then(|c| c.unrenewable_for());
        if unrenewable.is_some_and(|d| d >= UNREACHABLE_LIMIT) {
            return Err(error(format!(
                "the session credentials expired {} s ago and the credential chain gives no fresh ones: drdrill can neither see nor stop the experiment; refresh them (e.g. `aws sso login`); the dead man's switch stops it",
                UNREACHABLE_LIMIT.as_secs()
            )));
        }
        if let Some(since) = view.unreachable_since_unix_ms {
            if now_unix_ms() - since >= UNREACHABLE_LIMIT.as_millis() as i64 {
                return Err(error(format!(
                    "the target is unreachable: FIS has not answered GetExperiment for {} s",
                    UNREACHABLE_LIMIT.as_secs()
                )));
            }
        }
        let settled = live.settled_until_unix_ms();
        if let Some(g) = &sc.guardrails {
            let span = g.for_duration.get().as_millis() as i64;
            let w = live.window(settled - span, settled);
            if settled - span >= started {
                if let Some(r) = ratio(w.ok, w.completed) {
                    if r < g.abort_when_success_below {
                        ctx.journal.record(EventKind::GuardrailTripped {
                            success_ratio: r,
                            for_ms: span as u64,
                        });
                        return Err(Stop {
                            verdict: Verdict::Aborted,
                            reason: format!(
                                "guardrail: success {:.1}% below {:.1}% for {}",
                                r * 100.0,
                                g.abort_when_success_below * 100.0,
                                g.for_duration
                            ),
                        });
                    }
                }
            }
        }
        if now_unix_ms() - started > cap {
            return Err(Stop {
                verdict: Verdict::Aborted,
                reason: format!(
                    "the fault ran longer than timings.max_fault_duration ({})",
                    sc.timings.max_fault_duration
                ),
            });
        }
        let w = live.window(settled - 1000, settled);
        ctx.progress.status(
            "fault",
            ratio(w.ok, w.completed),
            &format!("experiment {}", view.status),
        );
        tokio::select! {
            changed = rx.changed() => observer_alive = changed.is_ok(),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = ctx.interrupt.token.cancelled() => {}
        }
    }
}

async fn recover(ctx: &mut Ctx) -> Result<(), Stop> {
    ctx.journal.record(EventKind::PhaseStarted { phase: Phase::Recover });
    let sc = ctx.loaded.scenario.clone();
    let Some(live) = ctx.prober.as_ref().map(|p| p.live()) else {
        return Err(error("no traffic"));
    };
    let stable = sc.timings.stable_for.get().as_millis() as i64;
    let threshold = sc.steady_state.success_ratio;
    let deadline = now_unix_ms() + sc.timings.recovery_timeout.get().as_millis() as i64;
    let fault_end = ctx.fault_end_unix_ms.unwrap_or_else(now_unix_ms);
    let inject = t_inject(ctx).map(|t| t.unix_ms);
    loop {
        check_interrupt(ctx)?;
        let settled = live.settled_until_unix_ms();
        let w = live.window(settled - stable, settled);
        let r = ratio(w.ok, w.completed);
        // Steady state is back once a whole stable window after the fault end holds and
        // the analysis that dates recovery in the report confirms it on the settled
        // probes: the probes stop here, so stopping before the report's own definition
        // holds would leave the RTO unmeasured (its window needs `stable_for` of probes
        // after the outage's last failure; this window may still hold a failure or two).
        if settled - stable >= fault_end
            && r.is_some_and(|r| r >= threshold)
            && recovery_confirmed(&live, inject, threshold, stable)
        {
            ctx.progress.line("steady state is back");
            return Ok(());
        }
        if now_unix_ms() > deadline {
            ctx.journal.record(EventKind::Note {
                message: format!(
                    "steady state not back within timings.recovery_timeout ({})",
                    sc.timings.recovery_timeout
                ),
            });
            ctx.progress
                .line("steady state did not come back within the recovery timeout");
            return Ok(());
        }
        ctx.progress.status("recover", r, "waiting for the steady state");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the report's recovery analysis, run on the probes settled so far, finds no
/// outage or a confirmed end of it. The settled buckets are a prefix of the run's series
/// and the analysis scans forward, so what it confirms here the report finds too.
fn recovery_confirmed(live: &traffic::LiveStats, inject: Option<i64>, threshold: f64, stable_ms: i64) -> bool {
    let Some(inject) = inject else {
        return true;
    };
    let series = Series::from_buckets(&live.settled_buckets(), traffic::BUCKET_MS);
    let rec = analysis::recovery(&series, inject, threshold, stable_ms);
    rec.first_failure_unix_ms.is_none() || rec.recovered_unix_ms.is_some()
}

async fn verify(ctx: &mut Ctx) -> Result<(), Stop> {
    ctx.journal.record(EventKind::PhaseStarted { phase: Phase::Verify });
    let Some(prober) = ctx.prober.take() else {
        return Err(error("no traffic"));
    };
    let outcome = prober.stop().await;
    let Some(plan) = &ctx.plan else {
        return Err(error("no plan"));
    };
    let sc = &ctx.loaded.scenario;
    let cfg = traffic_config(&ctx.loaded, plan.base_url());
    ctx.progress
        .line(&format!("verifying {} acknowledged writes", outcome.acks.len()));
    let verified = match outcome.acks.reader() {
        Ok(mut acks) => {
            let verified = traffic::verify_writes_resolving(
                plan.base_url(),
                ctx.dns.as_ref(),
                &cfg.read,
                sc.probe.expect_status.as_deref(),
                acks.by_ref(),
                sc.timings.verification_grace.get(),
                sc.traffic.timeout.get(),
            )
            .await;
            // A list that could not be read whole cannot tell what was lost.
            acks.finish().and(verified)
        }
        Err(e) => Err(e),
    };
    ctx.traffic = Some(outcome);
    let verified = verified.map_err(|e| error(format!("verify: {e}")))?;
    ctx.journal.record(EventKind::Verified {
        acked: verified.verified + verified.lost.len(),
        lost: verified.lost.len(),
    });
    ctx.lost = Some(
        verified
            .lost
            .iter()
            .map(|w| LostWrite {
                id: w.id.clone(),
                acked_unix_ms: w.acked_unix_ms,
            })
            .collect(),
    );
    Ok(())
}

/// Stops what is still running: the experiment (waiting until FIS says it stopped), the
/// traffic, and deletes the template the run created.
async fn cleanup(ctx: &mut Ctx) -> Result<(), Stop> {
    let mut result = Ok(());
    let mut stopped_as = None;
    if let (Some(clients), Some(exp)) = (&ctx.clients, &ctx.experiment) {
        let running = ctx.view.as_ref().map(|rx| !rx.borrow().ended).unwrap_or(true);
        if running {
            ctx.journal.record(EventKind::StopRequested {
                reason: ctx.interrupt.reason().unwrap_or_else(|| "run ended early".into()),
            });
            ctx.progress.line(&format!("stopping experiment {}", exp.id));
            match fault::stop_and_wait(clients, &exp.id, fault::STOP_TIMEOUT, &cadence(ctx)).await {
                Ok(status) => {
                    ctx.journal.record(EventKind::ExperimentState {
                        status: status.clone(),
                        reason: Some("stopped by drdrill".into()),
                    });
                    stopped_as = Some(status);
                }
                Err(e) => {
                    let message = format!(
                        "could not stop experiment {}: {e}; it may still be running: stop it with `drdrill cleanup {}`",
                        exp.id,
                        ctx.loaded.path.display()
                    );
                    eprintln!("error: {message}");
                    ctx.journal.record(EventKind::Note {
                        message: message.clone(),
                    });
                    result = Err(error(message));
                }
            }
        }
    }
    if let (Some(status), Some(exp)) = (stopped_as, ctx.experiment.as_mut()) {
        exp.status = status;
        exp.end_unix_ms.get_or_insert_with(now_unix_ms);
    }
    if let Some(prober) = ctx.prober.take() {
        ctx.traffic = Some(prober.stop().await);
    }
    if let (Some(clients), Some(switch)) = (&ctx.clients, ctx.switch.take()) {
        switch.disarm(clients, &ctx.journal).await;
    }
    if let (Some(clients), Some(t)) = (&ctx.clients, &ctx.template_created) {
        fault::delete_template(clients, t).await;
    }
    for observer in ctx.observers.drain(..) {
        observer.stop().await;
    }
    ctx.progress.finish();
    result
}

fn series(outcome: &TrafficOutcome) -> Series {
    Series::from_buckets(&outcome.buckets, traffic::BUCKET_MS)
}

fn hist_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

fn build_report(ctx: &mut Ctx, stopped: Option<Stop>) -> Report {
    ctx.journal.record(EventKind::PhaseStarted { phase: Phase::Report });
    // What became of the credentials during the run (renewed, or not renewable).
    if let Some(credentials) = ctx.clients.as_ref().and_then(|c| c.credentials.clone()) {
        for (at, message) in credentials.take_notes() {
            ctx.progress.line(&message);
            ctx.journal.record_at(at, EventKind::Note { message });
        }
    }
    let sc = &ctx.loaded.scenario;
    let inject = t_inject(ctx);
    let t_inject = inject.map(|t| t.unix_ms);
    let threshold = sc.steady_state.success_ratio;
    let stable = sc.timings.stable_for.get().as_millis() as i64;
    let mut rep = Report {
        schema_version: report::SCHEMA_VERSION,
        run_id: ctx.run_id.clone(),
        scenario: ScenarioInfo {
            name: sc.name.clone(),
            path: ctx.loaded.path.clone(),
            description: sc.description.clone(),
        },
        target: match &sc.target {
            Target::Local { stack } => format!("local:{}", stack.display()),
            Target::Aws(a) => format!("aws:{}", a.region),
        },
        verdict: Verdict::Error,
        exit_code: verdict::EXIT_ERROR,
        reason: None,
        complete: false,
        t0_unix_ms: ctx.t0_unix_ms,
        finished_unix_ms: now_unix_ms(),
        t_inject_unix_ms: t_inject,
        experiment: ctx.experiment.clone(),
        rto_ms: None,
        rto_uncertainty_ms: None,
        rpo_uncertainty_ms: None,
        uncertainty: None,
        t_inject_source: None,
        outage_ms: None,
        recovery: None,
        rto_breakdown: None,
        data_loss: None,
        availability_during_fault: None,
        p99_during_fault_ms: None,
        objectives: Vec::new(),
        probes: ProbeStats::default(),
        timeline: Vec::new(),
        events: Vec::new(),
        plan: ctx.plan.as_ref().and_then(|p| serde_json::to_value(p).ok()),
        measurement_degraded: None,
        observer_blind: Vec::new(),
        strategy: report::StrategyInfo::of_target(&sc.target),
    };
    if let Some(t) = &ctx.traffic {
        rep.probes = ProbeStats {
            sent: t.sent,
            ok: t.ok,
            failed: t.failed,
            missing_reads: t.buckets.iter().map(|b| u64::from(b.missing)).sum(),
            p50_ms: hist_ms(&t.latency, 0.5),
            p99_ms: hist_ms(&t.latency, 0.99),
            max_ms: if t.latency.is_empty() {
                0.0
            } else {
                t.latency.max() as f64 / 1000.0
            },
            schedule_lag_p99_ms: hist_ms(&t.schedule_lag, 0.99),
            schedule_lag_max_ms: if t.schedule_lag.is_empty() {
                0.0
            } else {
                t.schedule_lag.max() as f64 / 1000.0
            },
            late_sends: t.late_sends,
            late_threshold_ms: t.late_threshold.as_secs_f64() * 1000.0,
            dropped_sends: t.dropped_sends,
            saturated: t.saturated_count,
            failures: failure_totals(t),
            by_served_by: t.by_served_by.clone(),
        };
        rep.measurement_degraded = t.degraded();
        rep.timeline = timeline(t, ctx.t0_unix_ms);
        let s = series(t);
        if let Some(ti) = t_inject {
            let rec = analysis::recovery(&s, ti, threshold, stable);
            if let Some(f) = rec.first_failure_unix_ms {
                ctx.journal.record_at(f, EventKind::FirstFailure);
            }
            if let Some(r) = rec.recovered_unix_ms {
                ctx.journal.record_at(r, EventKind::Recovered);
            }
            rep.rto_ms = rec.rto_ms;
            rep.outage_ms = Some(rec.outage_ms);
            if let Some(inject) = inject {
                let u = analysis::Uncertainty {
                    probe_interval_ms: s.mean_interval_ms(),
                    t_inject_ms: inject.precision_ms,
                    clock_offset_ms: inject.clock_offset_ms,
                };
                rep.uncertainty = Some(u);
                rep.t_inject_source = Some(inject.source);
                rep.rto_uncertainty_ms = rep.rto_ms.map(|_| u.rto_ms().ceil() as i64);
                rep.rpo_uncertainty_ms = ctx.lost.as_ref().map(|_| u.rpo_ms().ceil() as i64);
            }
            let events = ctx.journal.events();
            let health: Vec<analysis::HealthChange<'_>> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::TargetHealth { target, state, .. } => {
                        Some((e.t_unix_ms, target.as_str(), state.as_str()))
                    }
                    _ => None,
                })
                .collect();
            let route53 = analysis::Route53Changes::from_events(&events);
            rep.rto_breakdown =
                Some(analysis::rto_breakdown(ti, &health, ctx.fault_end_unix_ms, &rec).with_route53(ti, &route53));
            rep.recovery = Some(rec);
            let end = ctx.fault_end_unix_ms.unwrap_or(rep.finished_unix_ms);
            let (ok, failed) = s.counts(ti, end);
            rep.availability_during_fault = ratio(ok, ok + failed).or(Some(1.0));
            rep.p99_during_fault_ms = t
                .latency_intervals
                .iter()
                .filter(|l| l.start_unix_ms >= ti - 100 && l.start_unix_ms < end && l.count > 0)
                .map(|l| l.p99_us as f64 / 1000.0)
                .reduce(f64::max);
            if let Some(lost) = &ctx.lost {
                rep.data_loss = Some(analysis::data_loss(t.acks.len(), lost, ti));
            }
        }
    }
    rep.observer_blind = report::blind::intervals(
        &ctx.journal.events(),
        rep.t_inject_unix_ms,
        rep.finished_unix_ms,
        rep.rto_breakdown.as_ref(),
        rep.t_inject_source,
    );
    let measured = Measured {
        rto_ms: rep.rto_ms,
        rpo_ms: rep.data_loss.as_ref().map(|d| d.rpo_ms),
        lost_writes: rep.data_loss.as_ref().map(|d| d.lost_writes as u64),
        availability_during_fault: rep.availability_during_fault,
        p99_during_fault_ms: rep.p99_during_fault_ms,
    };
    rep.objectives = verdict::check(&sc.objectives, &measured);
    match stopped {
        Some(s) => {
            rep.verdict = s.verdict;
            rep.reason = Some(s.reason);
        }
        None => {
            rep.complete = true;
            let (v, reason) = verdict::of_checked(&rep.objectives, rep.measurement_degraded.as_deref());
            rep.verdict = v;
            rep.reason = reason;
        }
    }
    rep.exit_code = rep.verdict.exit_code();
    rep
}

fn failure_totals(t: &TrafficOutcome) -> std::collections::BTreeMap<String, u64> {
    let mut totals = std::collections::BTreeMap::new();
    for b in &t.buckets {
        for (kind, n) in b.failures.by_name() {
            if n > 0 {
                *totals.entry(kind.to_string()).or_insert(0) += u64::from(n);
            }
        }
    }
    totals
}

fn timeline(t: &TrafficOutcome, t0: i64) -> Vec<TimelinePoint> {
    let mut points: std::collections::BTreeMap<i64, TimelinePoint> = std::collections::BTreeMap::new();
    for b in &t.buckets {
        let slot = b.start_unix_ms.div_euclid(100) * 100;
        let p = points.entry(slot).or_insert(TimelinePoint {
            t_ms: slot - t0,
            ok: 0,
            failed: 0,
            p99_ms: None,
            served_by: Default::default(),
        });
        p.ok += u64::from(b.ok);
        p.failed += u64::from(b.failed);
    }
    for (start, counts) in t.served_by.intervals() {
        if let Some(p) = points.get_mut(&(start.div_euclid(100) * 100)) {
            for (by, n) in counts {
                *p.served_by.entry(by.to_string()).or_default() += n;
            }
        }
    }
    for l in &t.latency_intervals {
        if let Some(p) = points.get_mut(&(l.start_unix_ms.div_euclid(100) * 100)) {
            if l.count > 0 {
                p.p99_ms = Some(l.p99_us as f64 / 1000.0);
            }
        }
    }
    points.into_values().collect()
}
