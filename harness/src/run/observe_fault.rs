//! The observe and recover phases: follows the experiment until it ends (stopping the run
//! on a guardrail, the fault-duration cap, an unreachable target or credentials that
//! cannot be renewed), then waits until the steady state is back.

use std::time::Duration;

use tokio::sync::watch;

use super::inject::update_experiment;
use super::{error, ratio, t_inject, Connected, Record, Stop, UNREACHABLE_LIMIT};
use crate::analysis::{self, Series};
use crate::journal::{now_unix_ms, EventKind, Phase};
use crate::observe::ExperimentView;
use crate::traffic::{self, LiveStats};
use crate::verdict::Verdict;

/// Follows the experiment until it ends; returns when it ended (FIS's end time, or
/// now). An experiment that failed, or was stopped by someone else, ends the run.
pub(super) async fn observe(
    rec: &mut Record,
    connected: &Connected,
    mut rx: watch::Receiver<ExperimentView>,
    live: &LiveStats,
) -> Result<i64, Stop> {
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Observe });
    let started = t_inject(rec).map_or_else(now_unix_ms, |t| t.unix_ms);
    super::hooks::panic_in_a_task();
    let mut observer_alive = true;
    loop {
        let view = rx.borrow_and_update().clone();
        update_experiment(rec, &view);
        if view.ended {
            return ended(rec, view);
        }
        rec.interrupted()?;
        super::hooks::panic_here();
        if !observer_alive {
            return Err(error("the experiment observer stopped before the experiment ended"));
        }
        check_reachable(connected, &view)?;
        check_limits(rec, live, started)?;
        if rec.held.restore.as_ref().is_some_and(|r| r.is_finished()) {
            // The restore step ended while the fault runs: its failure ends the run now.
            super::restore::finish(rec).await?;
        }
        let settled = live.settled_until_unix_ms();
        let w = live.window(settled - 1000, settled);
        rec.progress.status(
            "fault",
            ratio(w.ok, w.completed),
            &format!("experiment {}", view.status),
        );
        tokio::select! {
            changed = rx.changed() => observer_alive = changed.is_ok(),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = rec.interrupt.cancelled() => {}
        }
    }
}

/// The experiment ended: when, or why that ends the run.
fn ended(rec: &mut Record, view: ExperimentView) -> Result<i64, Stop> {
    let end = view.end_unix_ms.unwrap_or_else(now_unix_ms);
    rec.fault_end_unix_ms = Some(end);
    rec.progress.line(&format!("experiment {}", view.status));
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
    Ok(end)
}

/// `Err` once drdrill can no longer see the experiment: credentials expired beyond
/// renewal, or FIS unanswered, for [`UNREACHABLE_LIMIT`].
fn check_reachable(connected: &Connected, view: &ExperimentView) -> Result<(), Stop> {
    let unrenewable = connected.clients.credentials.as_ref().and_then(|c| c.unrenewable_for());
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
    Ok(())
}

/// `Err` (aborted) when the guardrail trips on the settled probes, or the fault has run
/// longer than `timings.max_fault_duration` since `started`.
fn check_limits(rec: &Record, live: &LiveStats, started: i64) -> Result<(), Stop> {
    check_guardrail(rec, live, started)?;
    let sc = &rec.loaded.scenario;
    let cap = sc.timings.max_fault_duration.get().as_millis() as i64;
    if now_unix_ms() - started > cap {
        return Err(Stop {
            verdict: Verdict::Aborted,
            reason: format!(
                "the fault ran longer than timings.max_fault_duration ({})",
                sc.timings.max_fault_duration
            ),
        });
    }
    Ok(())
}

/// `Err` (aborted) when the guardrail trips on the settled probes of a whole
/// `guardrails.for` window after `started`.
pub(super) fn check_guardrail(rec: &Record, live: &LiveStats, started: i64) -> Result<(), Stop> {
    let sc = &rec.loaded.scenario;
    let settled = live.settled_until_unix_ms();
    if let Some(g) = &sc.guardrails {
        let span = g.for_duration.get().as_millis() as i64;
        let w = live.window(settled - span, settled);
        if settled - span >= started {
            if let Some(r) = ratio(w.ok, w.completed) {
                if r < g.abort_when_success_below {
                    rec.journal.record(EventKind::GuardrailTripped {
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
    Ok(())
}

/// Waits until the steady state is back after the fault ended at `fault_end`, or
/// `timings.recovery_timeout` passes (journaled; the report then shows no recovery).
pub(super) async fn recover(rec: &mut Record, live: &LiveStats, fault_end: i64) -> Result<(), Stop> {
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Recover });
    let sc = rec.loaded.scenario.clone();
    let stable = sc.timings.stable_for.get().as_millis() as i64;
    let threshold = sc.steady_state.success_ratio;
    let deadline = now_unix_ms() + sc.timings.recovery_timeout.get().as_millis() as i64;
    let inject = t_inject(rec).map(|t| t.unix_ms);
    rec.interrupted()?;
    loop {
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
            && recovery_confirmed(live, inject, threshold, stable)
        {
            rec.progress.line("steady state is back");
            return Ok(());
        }
        if now_unix_ms() > deadline {
            rec.journal.record(EventKind::Note {
                message: format!(
                    "steady state not back within timings.recovery_timeout ({})",
                    sc.timings.recovery_timeout
                ),
            });
            rec.progress
                .line("steady state did not come back within the recovery timeout");
            return Ok(());
        }
        rec.progress.status("recover", r, "waiting for the steady state");
        rec.pause(Duration::from_millis(100)).await?;
    }
}

/// Whether the report's recovery analysis, run on the probes settled so far, finds no
/// outage or a confirmed end of it. The settled buckets kept (from the pin set before the
/// fault on) with the counts of everything before the fault are what the analysis reads
/// of the run's series, and it scans forward, so what it confirms here the report finds
/// too.
fn recovery_confirmed(live: &LiveStats, inject: Option<i64>, threshold: f64, stable_ms: i64) -> bool {
    let Some(inject) = inject else {
        return true;
    };
    let series = Series::from_buckets(&live.settled_buckets(), traffic::BUCKET_MS);
    let before = live.counts_before(inject.div_euclid(traffic::BUCKET_MS) * traffic::BUCKET_MS);
    let rec = analysis::recovery_after_baseline(&series, inject, (before.ok, before.failed), threshold, stable_ms);
    rec.first_failure_unix_ms.is_none() || rec.recovered_unix_ms.is_some()
}
