//! A report assembled from a run's facts, its journal and its probe tally: the one way a
//! report is made, live at the end of a run ([`crate::run`]) and when a run folder is
//! read back ([`super::load`]). The numbers come from [`crate::analysis::measure`]; this
//! adds what is not measured (the scenario, the experiment, the objectives' verdict).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{report_events, ExperimentInfo, Report, ScenarioInfo, StrategyInfo, SCHEMA_VERSION};
use crate::analysis::{self, InjectTime, LostWrite, Measurements, RecoveryRule, SendCounts};
use crate::journal::Event;
use crate::scenario::Objectives;
use crate::traffic::ProbeSummary;
use crate::verdict::{self, Verdict};

/// The name of the facts file in a run folder.
pub const FACTS_FILE: &str = "facts.json";

/// Why a run ended early, with the verdict it gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, as the report says it.
    pub reason: String,
}

/// The `backup_coverage` objective's result when the scenario sets it: the gate's, or a
/// failure when the run ended before the gate ran.
fn backup_coverage(facts: &RunFacts) -> Option<verdict::ObjectiveResult> {
    facts.objectives.backup_coverage.as_ref().filter(|c| c.enabled())?;
    Some(
        facts
            .backup_coverage
            .clone()
            .unwrap_or_else(|| verdict::ObjectiveResult {
                name: "backup_coverage".into(),
                target: 0.0,
                measured: None,
                unit: "count".into(),
                pass: false,
                message: "not evaluated: the run ended before the backup coverage gate ran".into(),
            }),
    )
}

/// What a run knew besides its journal and its probe log — the scenario, the target, the
/// plan, the experiment, `t_inject`, the sender's own counts, the lost writes, the rule
/// and objectives — written to `facts.json` when the report is made, so that the report
/// can be made again from the run folder exactly as it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFacts {
    /// Run id.
    pub run_id: String,
    /// The scenario.
    pub scenario: ScenarioInfo,
    /// `local:<stack file>` or `aws:<region>`.
    pub target: String,
    /// The DR strategy of a local target's stack, if it states one.
    pub strategy: Option<StrategyInfo>,
    /// The resolved plan.
    pub plan: Option<Value>,
    /// When the run started, unix ms.
    pub t0_unix_ms: i64,
    /// When the report was made, unix ms.
    pub finished_unix_ms: i64,
    /// The experiment, once started.
    pub experiment: Option<ExperimentInfo>,
    /// `t_inject`, once the fault began.
    pub inject: Option<InjectTime>,
    /// When the fault ended, unix ms.
    pub fault_end_unix_ms: Option<i64>,
    /// The sender's own counts, once the probes stopped.
    pub sends: Option<SendCounts>,
    /// The writes verification could not read back, once verified.
    pub lost: Option<Vec<LostWrite>>,
    /// How recovery is confirmed (absent: not known, no recovery computed).
    pub rule: Option<RecoveryRule>,
    /// The scenario's objectives.
    pub objectives: Objectives,
    /// Why the run ended early, if it did.
    pub stopped: Option<Stopped>,
    /// The backup coverage gate's result, when `objectives.backup_coverage` asked for it
    /// and the run got as far as running it (before any fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_coverage: Option<verdict::ObjectiveResult>,
}

impl RunFacts {
    /// Writes `facts.json` into `dir` atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        super::write_atomic(dir, FACTS_FILE, text.as_bytes())
    }
}

/// The report of a run: its `facts`, its journal (`events`, in order) and the tally of
/// its probe log (`None`: no probe was sent).
pub fn assemble(facts: &RunFacts, events: &[Event], probes: Option<&ProbeSummary>) -> Report {
    let m = probes.map_or_else(Measurements::default, |probes| {
        analysis::measure(&analysis::Inputs {
            probes,
            sends: facts.sends,
            t0_unix_ms: facts.t0_unix_ms,
            finished_unix_ms: facts.finished_unix_ms,
            events,
            inject: facts.inject,
            fault_end_unix_ms: facts.fault_end_unix_ms,
            rule: facts.rule,
            lost: facts.lost.as_deref(),
        })
    });
    let t_inject = facts.inject.map(|i| i.unix_ms);
    let observer_blind = super::blind::intervals(
        events,
        t_inject,
        facts.finished_unix_ms,
        m.rto_breakdown.as_ref(),
        m.t_inject_source,
    );
    let mut objectives = verdict::check(
        &facts.objectives,
        &verdict::Measured {
            rto_ms: m.rto_ms,
            rpo_ms: m.data_loss.as_ref().map(|d| d.rpo_ms),
            lost_writes: m.data_loss.as_ref().map(|d| d.lost_writes as u64),
            availability_during_fault: m.availability_during_fault,
            p99_during_fault_ms: m.p99_during_fault_ms,
        },
    );
    objectives.extend(backup_coverage(facts));
    let (verdict, reason) = match &facts.stopped {
        Some(s) => (s.verdict, Some(s.reason.clone())),
        None => verdict::of_checked(&objectives, m.measurement_degraded.as_deref()),
    };
    Report {
        schema_version: SCHEMA_VERSION,
        run_id: facts.run_id.clone(),
        scenario: facts.scenario.clone(),
        target: facts.target.clone(),
        verdict,
        exit_code: verdict.exit_code(),
        reason,
        complete: facts.stopped.is_none(),
        t0_unix_ms: facts.t0_unix_ms,
        finished_unix_ms: facts.finished_unix_ms,
        t_inject_unix_ms: t_inject,
        experiment: facts.experiment.clone(),
        rto_ms: m.rto_ms,
        rto_uncertainty_ms: m.rto_uncertainty_ms,
        rpo_uncertainty_ms: m.rpo_uncertainty_ms,
        uncertainty: m.uncertainty,
        t_inject_source: m.t_inject_source,
        outage_ms: m.outage_ms,
        recovery: m.recovery,
        rto_breakdown: m.rto_breakdown,
        restore: m.restore,
        data_loss: m.data_loss,
        availability_during_fault: m.availability_during_fault,
        p99_during_fault_ms: m.p99_during_fault_ms,
        objectives,
        probes: m.probes,
        timeline: m.timeline,
        events: report_events(events, facts.t0_unix_ms),
        plan: facts.plan.clone(),
        measurement_degraded: m.measurement_degraded,
        observer_blind,
        strategy: facts.strategy.clone(),
    }
}
