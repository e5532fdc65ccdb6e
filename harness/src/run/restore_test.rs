//! A restore test: a `fault.restore` block without a disaster template. Nothing is
//! injected; the inject phase starts the AWS Backup restore job, whose creation is
//! `t_inject`, and the observe phase follows the restore job and the switch until the
//! switch finished (the recover phase then waits for the steady state after it).
//!
//! **`t_inject`** is the restore job's `CreationDate` (AWS Backup's clock) on this
//! machine's clock. AWS Backup stamps it while it handles StartRestoreJob, so, as FIS's
//! `creationTime` inside StartExperiment does for FIS's clock ([`crate::fault::ClockOffset`]),
//! it lies inside that call on this machine's clock: the call bounds the offset between
//! the two clocks by half its round trip, which `t_inject` carries as its clock offset
//! (precision: the 1 ms of the timestamp). Brought to this machine's clock the
//! `CreationDate` therefore falls in the middle of the call; using the call's own time
//! would give the same instant, but the job's own stamp is what AWS Backup reports (and
//! the report's breakdown is in its times). When DescribeRestoreJob gives no
//! `CreationDate`, `t_inject` is the call's middle ± half its round trip.
//!
//! There is no disaster experiment to stop: cleanup stops the switch experiment if it
//! runs (`super::restore::cleanup`); the restore job itself cannot be cancelled on AWS.

use std::time::Duration;

use super::restore::{self, failed, Failure};
use super::{observe_fault, Connected, Record, Stop};
use crate::analysis::{InjectSource, InjectTime};
use crate::aws::backup::StartedJob;
use crate::fault::{ClockOffset, OffsetBasis, FIS_TIME_RESOLUTION_MS};
use crate::journal::{now_unix_ms, EventKind, Phase};
use crate::traffic::LiveStats;

/// The inject phase of a restore test: starts the restore job, dates `t_inject` from
/// it (kept in the record and journaled), and hands the rest of the restore step (the
/// job's end, the switch) to a task held for cleanup.
pub(super) async fn start(rec: &mut Record, connected: &Connected, live: &LiveStats) -> Result<(), Stop> {
    rec.interrupted()?;
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Inject });
    let Some(step) = restore::step(rec, connected, live) else {
        return Err(super::error("a restore test needs fault.restore"));
    };
    let timeout = step.spec.timeout();
    let began = tokio::time::Instant::now();
    let started = async {
        let (job, point) = restore::start_job(&step).await?;
        let state = crate::aws::backup::describe(&step.backup_client(), &job.id)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok::<_, Failure>((job, point, state.creation_unix_ms))
    };
    let (job, point, creation) = tokio::select! {
        biased;
        _ = rec.interrupt.cancelled() => return rec.interrupted(),
        r = tokio::time::timeout(timeout, started) => match r {
            Ok(r) => r.map_err(Failure::into_stop)?,
            Err(_) => return Err(super::error(format!(
                "restore: the restore job did not start within fault.restore.timeout ({})",
                humantime::format_duration(timeout)
            ))),
        },
    };
    let inject = inject_time(&job, creation);
    rec.journal.record(EventKind::Note {
        message: note(&job, creation, &inject),
    });
    rec.journal.record(restore::started_event(
        &step,
        &point,
        &job.id,
        None,
        inject.to_restore_test(),
    ));
    rec.progress.line(&format!(
        "restore test: restore job {} of {} started (no disaster)",
        job.id, point.arn
    ));
    rec.restore_inject = Some(inject);
    let left = timeout.saturating_sub(began.elapsed());
    rec.held.restore = Some(restore::spawn_rest(step, job.id, left));
    Ok(())
}

/// `t_inject` of a restore test: the job's `CreationDate` on this machine's clock, the
/// offset bounded by the StartRestoreJob call (see the module's documentation).
fn inject_time(job: &StartedJob, creation_unix_ms: Option<i64>) -> InjectTime {
    let clock = ClockOffset::from_call(job.sent_unix_ms, job.received_unix_ms, creation_unix_ms);
    match (creation_unix_ms, clock.basis) {
        (Some(c), OffsetBasis::CreationTime) => InjectTime {
            unix_ms: clock.to_local(c),
            source: InjectSource::RestoreJobCreation,
            // AWS Backup's timestamps carry milliseconds, as FIS's do.
            precision_ms: FIS_TIME_RESOLUTION_MS,
            clock_offset_ms: clock.bound_ms,
        },
        _ => {
            let half = (job.received_unix_ms - job.sent_unix_ms).max(0.0) / 2.0;
            InjectTime {
                unix_ms: (job.sent_unix_ms + half).round() as i64,
                source: InjectSource::RestoreJobCall,
                precision_ms: half,
                clock_offset_ms: 0.0,
            }
        }
    }
}

/// The journal's note on how `t_inject` was dated.
fn note(job: &StartedJob, creation: Option<i64>, inject: &InjectTime) -> String {
    let round_trip = job.received_unix_ms - job.sent_unix_ms;
    match creation {
        Some(c) => format!(
            "restore test (no disaster): t_inject is restore job {}'s CreationDate {c} (AWS Backup's clock), {} on this machine's clock ± {:.1} ms clock offset (within StartRestoreJob's {round_trip:.1} ms round trip)",
            job.id, inject.unix_ms, inject.clock_offset_ms
        ),
        None => format!(
            "restore test (no disaster): restore job {} has no CreationDate; t_inject is the middle of StartRestoreJob's {round_trip:.1} ms round trip",
            job.id
        ),
    }
}

/// The observe phase of a restore test: follows the restore step until the job
/// completed and the switch finished (its failure or timeout ends the run), checking the
/// guardrail meanwhile; returns when the step ended (unix ms), the "fault end" the
/// recover phase waits for the steady state after. `timings.max_fault_duration` does
/// not apply: nothing is injected, and `fault.restore.timeout` bounds the step.
pub(super) async fn observe(rec: &mut Record, live: &LiveStats) -> Result<i64, Stop> {
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Observe });
    let started = super::t_inject(rec).map_or_else(now_unix_ms, |t| t.unix_ms);
    loop {
        rec.interrupted()?;
        observe_fault::check_guardrail(rec, live, started)?;
        if rec.held.restore.as_ref().is_none_or(|r| r.is_finished()) {
            let end = restore::finish(rec).await?.unwrap_or_else(now_unix_ms);
            rec.fault_end_unix_ms = Some(end);
            return Ok(end);
        }
        let settled = live.settled_until_unix_ms();
        let w = live.window(settled - 1000, settled);
        rec.progress
            .status("restore", super::ratio(w.ok, w.completed), "restore job and switch");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = rec.interrupt.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CreationDate inside the call dates t_inject in the call's middle, ± half the
    /// round trip as clock offset; without it, the call's middle ± half the round trip as
    /// precision.
    #[test]
    fn t_inject_from_the_job() {
        let job = StartedJob {
            id: "j".into(),
            sent_unix_ms: 1_000.0,
            received_unix_ms: 1_020.0,
        };
        // AWS Backup's clock 5 s ahead: its stamp is 6_012 (1_012 here).
        let t = inject_time(&job, Some(6_012));
        assert_eq!(t.source, InjectSource::RestoreJobCreation);
        assert_eq!(t.precision_ms, 1.0);
        assert!((t.clock_offset_ms - 10.5).abs() < 1e-9, "{t:?}");
        assert!((1_000..=1_020).contains(&t.unix_ms), "{t:?}");
        let t = inject_time(&job, None);
        assert_eq!(t.source, InjectSource::RestoreJobCall);
        assert_eq!((t.unix_ms, t.precision_ms, t.clock_offset_ms), (1_010, 10.0, 0.0));
    }
}
