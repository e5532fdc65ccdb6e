//! The run's report: what the phases gathered written down as the run's facts
//! (`facts.json`), the probe log read back, and both handed to
//! [`crate::report::assemble`] — the same code that rebuilds a report from the run
//! folder, so a rebuilt report equals the live one.

use super::{t_inject, Record, Stop};
use crate::analysis::{RecoveryRule, SendCounts};
use crate::journal::{now_unix_ms, EventKind, Phase};
use crate::report::assemble::{assemble, RunFacts, Stopped};
use crate::report::{self, Report, ScenarioInfo};
use crate::scenario::Target;
use crate::traffic::{ProbeSummary, TrafficOutcome};

/// Builds the report; `stopped` says why the run ended early, if it did.
pub(super) fn build_report(rec: &mut Record, stopped: Option<Stop>) -> Report {
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Report });
    // What became of the credentials during the run (renewed, or not renewable).
    if let Some(credentials) = rec.clients.as_ref().and_then(|c| c.credentials.clone()) {
        for (at, message) in credentials.take_notes() {
            rec.progress.line(&message);
            rec.journal.record_at(at, EventKind::Note { message });
        }
    }
    let facts = facts(rec, stopped);
    if let Err(e) = facts.write(&rec.run_dir) {
        rec.progress
            .line(&format!("cannot write {}: {e}", report::assemble::FACTS_FILE));
    }
    let probes = rec.traffic.as_ref().map(|t| probe_summary(rec, t));
    let report = assemble(&facts, &rec.journal.events(), probes.as_ref());
    // The outage's edges, journaled once found (a rebuilt report finds them again).
    if let Some(r) = &report.recovery {
        if let Some(f) = r.first_failure_unix_ms {
            rec.journal.record_at(f, EventKind::FirstFailure);
        }
        if let Some(t) = r.recovered_unix_ms {
            rec.journal.record_at(t, EventKind::Recovered);
        }
    }
    report
}

/// What the run knew, for `facts.json`.
fn facts(rec: &Record, stopped: Option<Stop>) -> RunFacts {
    let sc = &rec.loaded.scenario;
    RunFacts {
        run_id: rec.run_id.clone(),
        scenario: ScenarioInfo {
            name: sc.name.clone(),
            path: rec.loaded.path.clone(),
            description: sc.description.clone(),
        },
        target: match &sc.target {
            Target::Local { stack } => format!("local:{}", stack.display()),
            Target::Aws(a) => format!("aws:{}", a.region),
        },
        strategy: report::StrategyInfo::of_target(&sc.target),
        plan: rec.plan.as_ref().and_then(|p| serde_json::to_value(p).ok()),
        t0_unix_ms: rec.t0_unix_ms,
        finished_unix_ms: now_unix_ms(),
        experiment: rec.experiment.clone(),
        inject: t_inject(rec),
        fault_end_unix_ms: rec.fault_end_unix_ms,
        sends: rec.traffic.as_ref().map(|t| SendCounts {
            dropped_sends: t.dropped_sends,
            max_in_flight: t.max_in_flight,
            acked_writes: t.acks.len(),
            late_threshold_us: t.probes.late_threshold.as_micros() as u64,
        }),
        lost: rec.lost.clone(),
        rule: Some(RecoveryRule {
            success_ratio: sc.steady_state.success_ratio,
            stable_for_ms: sc.timings.stable_for.get().as_millis() as i64,
        }),
        objectives: sc.objectives.clone(),
        stopped: stopped.map(|s| Stopped {
            verdict: s.verdict,
            reason: s.reason,
        }),
        backup_coverage: rec.backup_coverage.clone(),
    }
}

/// The probes' tally, read back from `probes.csv` — as a rebuilt report reads it. Only
/// when the log could not be written whole (a disk error, journaled) do the live counters
/// stand in.
fn probe_summary(rec: &Record, traffic: &TrafficOutcome) -> ProbeSummary {
    let whole = traffic.errors.is_empty();
    let read = traffic
        .probe_log
        .as_ref()
        .filter(|_| whole)
        .map(|log| crate::traffic::tally_file(&log.probes_path, traffic.probes.late_threshold));
    match read {
        Some(Ok(log)) if log.skipped == 0 && log.summary.sent == traffic.probes.sent => log.summary,
        other => {
            let why = match other {
                Some(Err(e)) => e.to_string(),
                Some(Ok(log)) => format!(
                    "it holds {} of {} probes ({} unreadable lines)",
                    log.summary.sent, traffic.probes.sent, log.skipped
                ),
                None => "it could not be written whole".into(),
            };
            rec.journal.record(EventKind::Note {
                message: format!(
                    "the report counts the probes as they were counted live: the probe log is incomplete ({why}); its timeline holds only the span the live counters keep (a minute before the fault and everything after)"
                ),
            });
            traffic.probes.clone()
        }
    }
}
