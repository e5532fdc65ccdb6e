//! `bench_drills`: RTO and lost-write accuracy against the local stack's ground truth,
//! and where a drill's wall time goes.
//!
//! Runs every scenario given (default: the shipped `scenarios/*.yaml`) through
//! `drdrill::run::run` with the embedded local stack, exactly as `drdrill run` does, and
//! compares the report with the stack's ground truth:
//! - RTO: measured `rto_ms` vs the truth's serving false → true after injection (as in
//!   `tests/tests/drill_local.rs`); goal |error| ≤ 2 probe intervals + 50 ms.
//! - Lost writes: the ids verification found missing vs the ids the stack's failovers
//!   dropped; goal 0 difference.
//! - Time: the run's wall time split into what the stack and the scenario make it wait
//!   (targets becoming healthy, the baseline, the FIS experiment, recovery with its
//!   stable window, the verification grace when writes are missing) and the harness's
//!   own overhead (everything else: stack start, plan, settling, verify reads, report,
//!   shutdown); goal overhead ≤ 1 s. Around the probes: from the run's start to the
//!   first probe sent (of which the stack's health checks are a wait) and from the last
//!   probe's end to the verdict (of which the verification grace, when writes are
//!   missing, is a wait), from `probes.csv` and the journal.
//!
//! - Partial outages (the truth's serving fraction between 0 and 1 where the outage
//!   ends, e.g. `tests/scenarios/partial-*.yaml`): the truth's end T is when the serving
//!   fraction is back to 1.0 for good, f the share of probes the outage fails there; each
//!   case is printed with its signed error (measured − truth) and its tolerance, 2 probe
//!   intervals + 50 ms + 1/(f × rate), and the mean signed error with the bias allowed,
//!   the mean of 1 interval + 1/(2 f × rate).
//!
//! `--rates` and `--connections` run every file once per combination, overriding the
//! scenario's traffic rate and connection policy (keep-alive with a 2 s max age).
//!
//! Prints one table per figure and a JSON line per run (prefixed `json:`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Parser;
use drdrill::run::{Interrupt, RunOptions};
use drdrill::scenario::{ConnectionPolicy, Rate, RateUnit};
use drdrill_localstack::truth::{Truth, TruthEvent};
use serde_json::{json, Value};

#[path = "../tests/common/outage.rs"]
mod outage;

/// RTO and lost-write accuracy vs ground truth, and time to verdict, per scenario.
#[derive(Debug, Parser)]
struct Args {
    /// Scenario files (default: every `scenarios/*.yaml` of this workspace).
    files: Vec<PathBuf>,
    /// Runs per scenario.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Where run folders go (default: a temporary folder, removed at the end).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run every file at each of these rates per second (comma-separated), instead of
    /// the scenario's own.
    #[arg(long, value_delimiter = ',')]
    rates: Vec<f64>,
    /// Run every file with each of these connection policies (`keep-alive` with a 2 s
    /// max age, `fresh`; comma-separated), instead of the scenario's own.
    #[arg(long, value_delimiter = ',', value_parser = ["keep-alive", "fresh"])]
    connections: Vec<String>,
}

/// What a run overrides in its scenario's traffic.
#[derive(Debug, Clone, Default)]
struct Variant {
    rate: Option<f64>,
    connection: Option<String>,
}

impl Variant {
    /// Every combination of the given rates and connections (one empty variant if none).
    fn all(rates: &[f64], connections: &[String]) -> Vec<Variant> {
        let rates: Vec<Option<f64>> = if rates.is_empty() {
            vec![None]
        } else {
            rates.iter().copied().map(Some).collect()
        };
        let connections: Vec<Option<String>> = if connections.is_empty() {
            vec![None]
        } else {
            connections.iter().cloned().map(Some).collect()
        };
        rates
            .iter()
            .flat_map(|rate| {
                connections.iter().map(|connection| Variant {
                    rate: *rate,
                    connection: connection.clone(),
                })
            })
            .collect()
    }
}

/// A partial outage's figures against the truth's serving fraction.
struct Partial {
    /// f: the share of probes the outage fails where it ends.
    failing_share: f64,
    /// T − t_inject, ms.
    truth_rto_ms: i64,
    /// measured − truth, ms.
    signed_error_ms: Option<i64>,
    /// 2 intervals + 50 ms + 1/(f × rate).
    tolerance_ms: f64,
    /// 1 interval + 1/(2 f × rate): this case's share of the bias allowed.
    bias_allowance_ms: f64,
}

/// One run's figures.
struct Row {
    scenario: String,
    rate: f64,
    connection: String,
    verdict: String,
    measured_rto_ms: Option<i64>,
    truth_rto_ms: Option<i64>,
    tolerance_ms: f64,
    measured_lost: Option<usize>,
    truth_lost: usize,
    lost_id_mismatches: Option<usize>,
    partial: Option<Partial>,
    time: TimeSplit,
}

/// Where the wall time of one run went, ms.
#[derive(Default)]
struct TimeSplit {
    wall: f64,
    health_wait: f64,
    baseline: f64,
    fault: f64,
    recovery: f64,
    verify_grace: f64,
    /// From the run's start to the first probe sent.
    to_first_probe: f64,
    /// From the last probe's end to the run's finish (its verdict).
    after_last_probe: f64,
}

impl TimeSplit {
    /// The harness's own time before the first probe: all of it but the health checks.
    fn start_overhead(&self) -> f64 {
        (self.to_first_probe - self.health_wait).max(0.0)
    }

    /// The harness's own time after the last probe: all of it but the verification grace.
    fn finish_overhead(&self) -> f64 {
        (self.after_last_probe - self.verify_grace).max(0.0)
    }

    fn waits(&self) -> f64 {
        self.health_wait + self.baseline + self.fault + self.recovery + self.verify_grace
    }

    fn overhead(&self) -> f64 {
        self.wall - self.waits()
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let files = if args.files.is_empty() {
        shipped_scenarios()?
    } else {
        args.files.clone()
    };
    let temp = tempfile::tempdir()?;
    let out = args.out.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let runtime = tokio::runtime::Runtime::new().context("starting the Tokio runtime")?;
    let variants = Variant::all(&args.rates, &args.connections);
    let mut rows = Vec::new();
    for file in &files {
        for variant in &variants {
            for _ in 0..args.repeat.max(1) {
                let row = runtime.block_on(run_one(file, variant, &out))?;
                print_json(&row);
                rows.push(row);
            }
        }
    }
    print_tables(&rows);
    Ok(())
}

fn shipped_scenarios() -> anyhow::Result<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !drdrill::gameday::is_gameday_file(p))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no scenario in {}", dir.display());
    }
    Ok(files)
}

async fn run_one(file: &Path, variant: &Variant, out: &Path) -> anyhow::Result<Row> {
    let started = Instant::now();
    let started_unix_ms = drdrill::journal::now_unix_ms();
    let mut loaded = drdrill::scenario::load(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(rate) = variant.rate {
        loaded.scenario.traffic.rate = Rate::new(rate, RateUnit::Second);
    }
    match variant.connection.as_deref() {
        Some("fresh") => loaded.scenario.traffic.connection = ConnectionPolicy::Fresh,
        Some(_) => {
            loaded.scenario.traffic.connection = ConnectionPolicy::KeepAlive {
                max_age: std::time::Duration::from_secs(2),
            }
        }
        None => {}
    }
    let rate = loaded.scenario.traffic.rate.per_second();
    let connection = match loaded.scenario.traffic.connection {
        ConnectionPolicy::Fresh => "fresh".to_owned(),
        ConnectionPolicy::KeepAlive { .. } => "keep-alive".to_owned(),
    };
    // A client reaching the app by a Route 53 name may use the old answer for its TTL
    // (1 s in the shipped strategy stacks) after the ground truth's change.
    let dns_slack_ms = if loaded.scenario.app.route53.is_some() {
        1000.0
    } else {
        0.0
    };
    let baseline_ms = loaded.scenario.timings.baseline.get().as_secs_f64() * 1000.0;
    let grace_ms = loaded.scenario.timings.verification_grace.get().as_secs_f64() * 1000.0;
    let opts = RunOptions {
        out_dir: out.to_path_buf(),
        yes: false,
        quiet: true,
    };
    let outcome = drdrill::run::run(drdrill::run::Drill::new(loaded, &opts), Interrupt::new()).await?;
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let report = serde_json::to_value(&outcome.report)?;
    let truth = outcome.ground_truth.clone().unwrap_or_default();
    let events = read_events(&outcome.run_dir.join("events.jsonl"))?;

    let t_inject = report["t_inject_unix_ms"].as_i64();
    let measured_lost_ids: Option<Vec<String>> = report["data_loss"]["lost_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    let truth_lost_ids = outage::truth_lost_ids(&truth);
    let lost_id_mismatches = measured_lost_ids.as_ref().map(|measured| {
        let only_measured = measured
            .iter()
            .filter(|id| truth_lost_ids.binary_search(id).is_err())
            .count();
        let only_truth = truth_lost_ids.iter().filter(|id| !measured.contains(id)).count();
        only_measured + only_truth
    });

    let mut time = split_time(
        wall,
        baseline_ms,
        grace_ms,
        &events,
        &truth,
        measured_lost_ids.as_deref(),
    );
    let (first_sent_us, last_done_us) = probe_span(&outcome.run_dir.join(drdrill::traffic::PROBES_FILE))?;
    let finished = events
        .iter()
        .find(|e| e["kind"] == "run_finished")
        .and_then(|e| e["t_unix_ms"].as_i64())
        .context("the journal has no run_finished")?;
    time.to_first_probe = first_sent_us as f64 / 1000.0 - started_unix_ms as f64;
    time.after_last_probe = finished as f64 - last_done_us as f64 / 1000.0;
    // A partial outage of the load balancer (not of a Route 53 entry name, whose truth is
    // the entry's): dated by the serving fraction.
    let has_entry = truth.iter().any(|e| matches!(e.what, Truth::EntryServing { .. }));
    let measured_rto_ms = report["rto_ms"].as_i64();
    let partial = t_inject
        .filter(|_| !has_entry)
        .and_then(|t| Some((t, outage::truth_outage(&truth, t)?)))
        .filter(|(_, o)| o.is_partial())
        .map(|(t, o)| Partial {
            failing_share: o.failing_share,
            truth_rto_ms: o.rto_ms(t),
            signed_error_ms: measured_rto_ms.map(|m| m - o.rto_ms(t)),
            tolerance_ms: outage::rto_tolerance_ms(rate, o.failing_share),
            bias_allowance_ms: outage::bias_allowance_ms(rate, o.failing_share),
        });
    Ok(Row {
        scenario: report["scenario"]["name"].as_str().unwrap_or("?").to_owned(),
        rate,
        connection,
        verdict: report["verdict"].as_str().unwrap_or("?").to_owned(),
        measured_rto_ms,
        truth_rto_ms: t_inject.and_then(|t| truth_rto_ms(&truth, t)),
        tolerance_ms: 2.0 * 1000.0 / rate + 50.0 + dns_slack_ms,
        measured_lost: measured_lost_ids.as_ref().map(Vec::len),
        truth_lost: truth_lost_ids.len(),
        lost_id_mismatches,
        partial,
        time,
    })
}

/// Ground-truth RTO: from injection to the first time the stack serves again after it
/// first stopped serving (0 when it never stopped); `None` when it never came back. For a
/// multi-region stack with an entry name, "serving" is the entry's (`entry_serving`).
fn truth_rto_ms(truth: &[TruthEvent], t_inject: i64) -> Option<i64> {
    let has_entry = truth.iter().any(|e| matches!(e.what, Truth::EntryServing { .. }));
    let serving = |e: &TruthEvent| match &e.what {
        Truth::EntryServing { serving, .. } if has_entry => Some(*serving),
        Truth::Serving { serving } if !has_entry => Some(*serving),
        _ => None,
    };
    let Some(lost) = truth
        .iter()
        .find(|e| e.t_unix_ms >= t_inject - 50 && serving(e) == Some(false))
    else {
        return Some(0);
    };
    truth
        .iter()
        .find(|e| e.t_unix_ms >= lost.t_unix_ms && serving(e) == Some(true))
        .map(|back| back.t_unix_ms - t_inject)
}

/// When the first probe was sent and the last one ended, unix µs, from the probe log.
fn probe_span(path: &Path) -> anyhow::Result<(i64, i64)> {
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    drdrill::traffic::visit_probe_log(path, |r| {
        first = first.min(r.sent_unix_us);
        last = last.max(r.done_unix_us);
    })?;
    if first > last {
        bail!("{} holds no probe", path.display());
    }
    Ok((first, last))
}

/// The journal's events as JSON values.
fn read_events(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("{}: bad line", path.display())))
        .collect()
}

/// Splits the wall time: the waits the stack and the scenario impose, the rest is the
/// harness's overhead.
fn split_time(
    wall: f64,
    baseline_ms: f64,
    grace_ms: f64,
    events: &[Value],
    truth: &[TruthEvent],
    lost: Option<&[String]>,
) -> TimeSplit {
    let at = |kind: &str, phase: Option<&str>| {
        events
            .iter()
            .find(|e| e["kind"] == kind && phase.is_none_or(|p| e["phase"] == p))
            .and_then(|e| e["t_unix_ms"].as_i64())
    };
    let span = |from: Option<i64>, to: Option<i64>| match (from, to) {
        (Some(a), Some(b)) if b >= a => (b - a) as f64,
        _ => 0.0,
    };
    let run_started = at("run_started", None);
    // The stack's health checks: until the last target left `initial` for `healthy`
    // before the fault (targets that come back after it pass `initial` again).
    let inject = at("phase_started", Some("inject")).unwrap_or(i64::MAX);
    let healthy = truth
        .iter()
        .filter(|e| matches!(&e.what, Truth::TargetHealth { from, to, .. } if from == "initial" && to == "healthy"))
        .map(|e| e.t_unix_ms)
        .filter(|t| *t < inject)
        .max();
    TimeSplit {
        wall,
        health_wait: span(run_started, healthy),
        baseline: baseline_ms,
        fault: span(
            at("phase_started", Some("inject")),
            at("phase_started", Some("recover")),
        ),
        recovery: span(
            at("phase_started", Some("recover")),
            at("phase_started", Some("verify")),
        ),
        // Missing writes are retried for the whole grace before they count as lost.
        verify_grace: if lost.is_some_and(|l| !l.is_empty()) {
            grace_ms
        } else {
            0.0
        },
        ..TimeSplit::default()
    }
}

fn print_json(row: &Row) {
    let partial = row.partial.as_ref().map(|p| {
        json!({
            "failing_share": p.failing_share,
            "truth_rto_ms": p.truth_rto_ms,
            "signed_error_ms": p.signed_error_ms,
            "tolerance_ms": p.tolerance_ms,
            "bias_allowance_ms": p.bias_allowance_ms,
        })
    });
    let line = json!({
        "scenario": row.scenario,
        "rate": row.rate,
        "connection": row.connection,
        "partial": partial,
        "verdict": row.verdict,
        "rto_ms": { "measured": row.measured_rto_ms, "truth": row.truth_rto_ms, "tolerance": row.tolerance_ms },
        "lost_writes": { "measured": row.measured_lost, "truth": row.truth_lost, "id_mismatches": row.lost_id_mismatches },
        "time_ms": {
            "wall": row.time.wall,
            "health_wait": row.time.health_wait,
            "baseline": row.time.baseline,
            "fault": row.time.fault,
            "recovery": row.time.recovery,
            "verify_grace": row.time.verify_grace,
            "overhead": row.time.overhead(),
            "to_first_probe": row.time.to_first_probe,
            "after_last_probe": row.time.after_last_probe,
            "start_overhead": row.time.start_overhead(),
            "finish_overhead": row.time.finish_overhead(),
        },
    });
    println!("json: {line}");
}

fn print_tables(rows: &[Row]) {
    println!();
    println!(
        "RTO and lost writes vs ground truth (goal: |RTO error| <= 2 probe intervals + 50 ms, 0 lost-write error)"
    );
    println!(
        "{:<24} {:>7} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>6} {:>5}",
        "scenario", "rate/s", "rto_meas", "rto_true", "|error|", "allowed", "lost_m", "lost_t", "id_err", "met"
    );
    for r in rows {
        let error = match (r.measured_rto_ms, r.truth_rto_ms) {
            (Some(m), Some(t)) => Some((m - t).abs()),
            _ => None,
        };
        let lost_error = r.measured_lost.map(|m| m.abs_diff(r.truth_lost));
        let met = error.is_some_and(|e| e as f64 <= r.tolerance_ms)
            && lost_error == Some(0)
            && r.lost_id_mismatches == Some(0);
        let show = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        println!(
            "{:<24} {:>7} {:>9} {:>9} {:>8} {:>8.0} {:>6} {:>6} {:>6} {:>5}",
            r.scenario,
            r.rate,
            show(r.measured_rto_ms),
            show(r.truth_rto_ms),
            show(error),
            r.tolerance_ms,
            r.measured_lost.map_or("-".to_owned(), |v| v.to_string()),
            r.truth_lost,
            r.lost_id_mismatches.map_or("-".to_owned(), |v| v.to_string()),
            if met { "yes" } else { "NO" }
        );
    }
    print_partial_table(rows);
    println!();
    println!(
        "Time to verdict in-process, ms (waits = stack health checks + baseline + fault + recovery + verify grace)"
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>11} {:>11}",
        "scenario",
        "wall",
        "health",
        "baseline",
        "fault",
        "recovery",
        "grace",
        "waits",
        "overhead",
        "1st_probe",
        "after_last"
    );
    for r in rows {
        let t = &r.time;
        println!(
            "{:<24} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>9.0} {:>11.1} {:>11.1}",
            r.scenario,
            t.wall,
            t.health_wait,
            t.baseline,
            t.fault,
            t.recovery,
            t.verify_grace,
            t.waits(),
            t.overhead(),
            t.to_first_probe,
            t.after_last_probe
        );
    }
}

/// The partial outages, per case: signed error and tolerance, and the mean signed error
/// with the bias allowed (printed only when some run was a partial outage).
fn print_partial_table(rows: &[Row]) {
    let partial: Vec<(&Row, &Partial)> = rows.iter().filter_map(|r| Some((r, r.partial.as_ref()?))).collect();
    if partial.is_empty() {
        return;
    }
    println!();
    println!(
        "Partial outages vs the truth's serving fraction (T: back to 1.0 for good; goal: |error| <= 2 intervals + 50 ms + 1/(f x rate))"
    );
    println!(
        "{:<24} {:>7} {:>10} {:>7} {:>9} {:>9} {:>8} {:>8} {:>5}",
        "scenario", "rate/s", "connection", "f", "rto_meas", "rto_true", "error", "allowed", "met"
    );
    for (r, p) in &partial {
        let met = p.signed_error_ms.is_some_and(|e| (e as f64).abs() <= p.tolerance_ms);
        println!(
            "{:<24} {:>7} {:>10} {:>7.4} {:>9} {:>9} {:>8} {:>8.0} {:>5}",
            r.scenario,
            r.rate,
            r.connection,
            p.failing_share,
            r.measured_rto_ms.map_or("-".to_owned(), |v| v.to_string()),
            p.truth_rto_ms,
            p.signed_error_ms.map_or("-".to_owned(), |v| format!("{v:+}")),
            p.tolerance_ms,
            if met { "yes" } else { "NO" }
        );
    }
    let errors: Vec<(f64, f64)> = partial
        .iter()
        .filter_map(|(_, p)| Some((p.signed_error_ms? as f64, p.bias_allowance_ms)))
        .collect();
    if !errors.is_empty() {
        let n = errors.len() as f64;
        let mean = errors.iter().map(|(e, _)| e).sum::<f64>() / n;
        let allowed = errors.iter().map(|(_, a)| a).sum::<f64>() / n;
        let met = mean.abs() <= allowed;
        println!(
            "mean signed error over {} cases: {mean:+.1} ms (allowed +/-{allowed:.1} ms; no bias: {})",
            errors.len(),
            if met { "yes" } else { "NO" }
        );
    }
}
