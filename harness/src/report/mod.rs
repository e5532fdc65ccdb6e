//! Reports: `report.json` (a versioned schema) built from the analysis, the traffic
//! outcome and the journal, the short summary printed at the end of a run, and every
//! other view of a run rendered from `report.json` + `events.jsonl`:
//!
//! - [`junit`]: `junit.xml`, one test case per objective and per phase, for CI;
//! - [`markdown`]: `summary.md`, short enough for a CI step summary or a PR comment;
//! - [`html`]: `report.html`, one self-contained page with the SVG timeline of [`chart`];
//! - [`history`]: `history.jsonl` (one line per run), the trend table and `history.html`;
//! - [`compare`]: two runs side by side, objective by objective;
//! - [`gameday`]: a game day's combined report — the comparison table of its scenarios
//!   (strategy, standing cost, RTO and its breakdown, RPO, lost writes, availability) in
//!   `gameday.json`, `summary.md` and `report.html` with the bar charts of [`bars`].
//!
//! [`load`] reads a run folder back (rebuilding what it can from the journal and the
//! probe log when `report.json` is missing), [`formats`] chooses and writes the files,
//! and [`view`] derives once what every renderer shows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analysis::{DataLoss, Recovery, RtoBreakdown, Uncertainty};
pub use crate::analysis::{ProbeStats, TimelinePoint};
use crate::verdict::{ObjectiveResult, Verdict};

pub mod assemble;
pub mod bars;
pub mod blind;
pub mod chart;
pub mod compare;
pub mod error;
pub mod events;
pub mod formats;
pub mod gameday;
pub mod history;
pub mod html;
pub mod junit;
pub mod load;
pub mod manifest;
pub mod markdown;
pub mod markdown_table;
mod templates;
pub mod view;

pub use events::{report_events, ReportEvent};
pub use formats::{
    publish, rerender, write_formats, Format, Formats, PublishError, PublishOptions, PublishOutcome, RenderError,
    RerenderError, Rerendered,
};
pub use load::{load_run, LoadError, LoadedRun};

/// Version of the `report.json` schema; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The scenario a report is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Name.
    pub name: String,
    /// File it was loaded from.
    pub path: PathBuf,
    /// What it proves.
    pub description: Option<String>,
}

/// The experiment of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExperimentInfo {
    /// Experiment id.
    pub id: String,
    /// Template id.
    pub template_id: String,
    /// Last status seen.
    pub status: crate::status::ExperimentStatus,
    /// When it started running, unix ms: when drdrill saw it enter `running` (the middle
    /// of the last GetExperiment before and the first one after).
    pub start_unix_ms: Option<i64>,
    /// When it ended, unix ms (FIS's `endTime`, corrected by `clock_offset`).
    pub end_unix_ms: Option<i64>,
    /// When the fault began per FIS: the earliest `startTime` of the experiment's fault
    /// actions (not `aws:fis:wait`), unix ms on this machine's clock (FIS's time minus
    /// `clock_offset.offset_ms`), ± 1 ms (FIS's timestamp resolution) ±
    /// `clock_offset.bound_ms`. `t_inject` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_start_unix_ms: Option<i64>,
    /// FIS's clock minus this machine's, bounded by the experiment's `creationTime`, which
    /// FIS stamped during the StartExperiment call (see [`crate::fault::ClockOffset`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset: Option<crate::fault::ClockOffset>,
    /// ± how precisely `start_unix_ms` dates the `running` transition, ms (half the time
    /// between the two GetExperiment calls it lies between).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_precision_ms: Option<f64>,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Run id.
    pub run_id: String,
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// `local:<stack>` or `aws:<region>`.
    pub target: String,
    /// Outcome.
    pub verdict: Verdict,
    /// Exit code of the run.
    pub exit_code: i32,
    /// Why, when the verdict is `aborted` or `error`.
    pub reason: Option<String>,
    /// False when the run did not get to verify and analyse everything.
    pub complete: bool,
    /// Origin of every `t_ms`, unix ms (the run's start).
    pub t0_unix_ms: i64,
    /// When the run finished, unix ms.
    pub finished_unix_ms: i64,
    /// `t_inject`: when the fault's effect began, unix ms (see `t_inject_source`).
    pub t_inject_unix_ms: Option<i64>,
    /// Where `t_inject` was read from: FIS's per-action start time, or the observed
    /// `running` transition when FIS gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_inject_source: Option<crate::analysis::InjectSource>,
    /// The experiment.
    pub experiment: Option<ExperimentInfo>,
    /// Measured RTO, ms (`null` when it never recovered or there was no fault).
    pub rto_ms: Option<i64>,
    /// The ± bound of `rto_ms`, ms (rounded up): what bounds it is in `uncertainty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_uncertainty_ms: Option<i64>,
    /// The ± bound of the RPO and of the data-loss window's ends, ms (rounded up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_uncertainty_ms: Option<i64>,
    /// What the uncertainties are made of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<Uncertainty>,
    /// Time below the steady-state threshold, ms.
    pub outage_ms: Option<i64>,
    /// RTO details.
    pub recovery: Option<Recovery>,
    /// Where the recovery time went (observers' view), ms after injection.
    #[serde(default)]
    pub rto_breakdown: Option<RtoBreakdown>,
    /// A restore drill: the recovery point and restore job used, the switch, and the
    /// data age (AWS Backup's own times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<crate::analysis::RestoreDrill>,
    /// Lost writes and RPO.
    pub data_loss: Option<DataLoss>,
    /// Success ratio between injection and the end of the experiment.
    pub availability_during_fault: Option<f64>,
    /// p99 latency between injection and the end of the experiment, ms.
    pub p99_during_fault_ms: Option<f64>,
    /// Objectives.
    pub objectives: Vec<ObjectiveResult>,
    /// Probe totals.
    pub probes: ProbeStats,
    /// Success and latency over time.
    pub timeline: Vec<TimelinePoint>,
    /// The journal, typed (written as `{t_ms, kind, detail}`; see [`events`]).
    #[serde(deserialize_with = "events::deserialize_events")]
    pub events: Vec<ReportEvent>,
    /// The resolved plan.
    pub plan: Option<Value>,
    /// Why the measurement cannot be trusted (the prober could not keep its schedule),
    /// when it cannot; such a run's verdict is `error`, whatever the objectives say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_degraded: Option<String>,
    /// When observers were blind (their AWS calls throttled or failing), with the figures
    /// measured while they were: those figures are not clean observations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observer_blind: Vec<blind::BlindInterval>,
    /// The DR strategy of the target stack and its standing cost, when the stack states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyInfo>,
}

/// The DR strategy a run's target implements, for the strategy comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyInfo {
    /// `backup-restore`, `pilot-light`, `warm-standby` or `active-active`.
    pub name: String,
    /// App instances running while nothing is wrong.
    pub instances: u32,
    /// Database instances running while nothing is wrong.
    pub databases: u32,
    /// Estimated monthly price in US dollars of what runs while nothing is wrong.
    pub usd_per_month: f64,
}

impl StrategyInfo {
    /// The strategy the stack file of a `local` target states, if any (`None` for `aws`
    /// targets and for stack files that cannot be read).
    pub fn of_target(target: &crate::scenario::Target) -> Option<StrategyInfo> {
        let crate::scenario::Target::Local { stack } = target else {
            return None;
        };
        let stack = drdrill_localstack::Stack::load(stack).ok()?;
        stack.strategy.map(|s| StrategyInfo {
            name: s.kind.name().to_owned(),
            instances: s.standing_cost.instances,
            databases: s.standing_cost.databases,
            usd_per_month: s.standing_cost.usd_per_month,
        })
    }
}

/// The name of the report file in a run folder.
pub const REPORT_FILE: &str = "report.json";
/// The name of the journal in a run folder.
pub const EVENTS_FILE: &str = "events.jsonl";

impl Report {
    /// Writes `report.json` into `dir` atomically: to a temporary file in the same
    /// folder, flushed to disk, then renamed over the old one, so a run killed while
    /// writing leaves either the previous report or the new one, never half of one.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(dir, REPORT_FILE, text.as_bytes())
    }
}

/// Writes `dir/name` atomically: to a temporary file in the same folder, flushed to
/// disk, then renamed into place, so a crash leaves the old file or the new one, never
/// half of one.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| path)
}

/// The copy of the scenario file as run, in a run folder.
pub const SCENARIO_FILE: &str = "scenario.yaml";
/// The FIS experiment template as drdrill sent it to CreateExperimentTemplate (with the
/// dead man's switch's stop condition; the run-id tag is added in the call), in a run
/// folder.
pub const TEMPLATE_FILE: &str = "template.json";

impl ProbeStats {
    /// One line: totals, latency, schedule lag, late and dropped sends.
    pub fn line(&self) -> String {
        format!(
            "{} sent, {} ok, {} failed; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; schedule lag p99 {:.2} ms; {} late (> {:.0} ms), {} dropped",
            self.sent,
            self.ok,
            self.failed,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.schedule_lag_p99_ms,
            self.late_sends,
            self.late_threshold_ms,
            self.dropped_sends
        )
    }
}

/// A signed offset from injection, e.g. `+1.98 s` or `−0.01 s`, with its ± bound when
/// given (`+1.98 s ± 0.02 s`).
fn offset(v: Option<i64>, bound_ms: Option<i64>) -> String {
    v.map_or("—".into(), |v| {
        view::with_uncertainty(v, bound_ms, view::Sign::Signed)
    })
}

/// A duration, e.g. `1.98 s`, with its ± bound when given (`1.98 s ± 0.02 s`).
fn ms(v: Option<i64>, bound_ms: Option<i64>) -> String {
    v.map_or("—".into(), |v| {
        view::with_uncertainty(v, bound_ms, view::Sign::Unsigned)
    })
}

/// The short summary printed at the end of a run.
pub fn summary_text(r: &Report, run_dir: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "verdict: {} (exit {})",
        r.verdict.as_str().to_uppercase(),
        r.exit_code
    );
    if let Some(reason) = &r.reason {
        let _ = writeln!(s, "reason: {reason}");
    }
    let (rto_bound, rpo_bound) = (view::rto_bound_ms(r), view::rpo_bound_ms(r));
    let _ = writeln!(
        s,
        "RTO {}   outage {}   RPO {}   lost writes {}/{}",
        ms(r.rto_ms, rto_bound),
        ms(r.outage_ms, None),
        ms(r.data_loss.as_ref().map(|d| d.rpo_ms), rpo_bound),
        r.data_loss.as_ref().map_or("—".into(), |d| d.lost_writes.to_string()),
        r.data_loss.as_ref().map_or("—".into(), |d| d.acked_writes.to_string()),
    );
    if let Some(b) = &r.rto_breakdown {
        let by_dns = b.health_check_failed_ms.is_some() || b.dns_changed_ms.is_some();
        let detection = if by_dns {
            format!(
                "targets unhealthy {}, health check failed {}",
                offset(b.targets_unhealthy_ms, None),
                offset(b.health_check_failed_ms, None)
            )
        } else {
            format!("targets unhealthy {}", offset(b.targets_unhealthy_ms, None))
        };
        let failover = if by_dns {
            format!("   failover: DNS answer changed {}", offset(b.dns_changed_ms, None))
        } else {
            String::new()
        };
        // A restore test has no experiment: its "fault" ends when the switch finished.
        let ended = if r.experiment.is_none() && r.restore.is_some() {
            "restore and switch ended"
        } else {
            "experiment ended"
        };
        let _ = writeln!(
            s,
            "  after injection: first failure {}   detection: {detection}{failover}   recovery: {ended} {}, recovered {}",
            offset(b.first_failure_ms, None),
            offset(b.experiment_ended_ms, None),
            offset(b.recovered_ms, rto_bound)
        );
    }
    let _ = writeln!(s, "probes {}", r.probes.line());
    for o in &r.objectives {
        let message = view::objective_message(o, view::objective_bound_ms(r, o));
        let _ = writeln!(s, "  [{}] {message}", if o.pass { "pass" } else { "FAIL" });
    }
    let _ = writeln!(s, "report: {}", run_dir.join("report.json").display());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::uncertain_report;

    /// The summary printed at the end of a run carries the ± on RTO, RPO, the recovery
    /// and the RTO and RPO objectives; the value alone for a report without them.
    #[test]
    fn summary_text_prints_every_figure_with_its_uncertainty() {
        let r = uncertain_report();
        let s = summary_text(&r, Path::new("reports/run"));
        assert!(
            s.contains("RTO 1.99 s ± 0.12 s   outage 2.10 s   RPO 1.00 s ± 0.11 s   lost writes 70/"),
            "{s}"
        );
        assert!(s.contains("recovered +1.99 s ± 0.12 s"), "{s}");
        assert!(
            s.contains("[pass] RTO 1.99 s ± 0.12 s ≤ 10.00 s (8.01 s to spare)"),
            "{s}"
        );
        assert!(s.contains("[FAIL] RPO 1.00 s ± 0.11 s > 0 ms (over by 999 ms)"), "{s}");
        let mut old = r.clone();
        old.uncertainty = None;
        old.rto_uncertainty_ms = None;
        old.rpo_uncertainty_ms = None;
        let s = summary_text(&old, Path::new("reports/run"));
        assert!(!s.contains('±') && s.contains("RTO 1.99 s   outage"), "{s}");
    }
}
