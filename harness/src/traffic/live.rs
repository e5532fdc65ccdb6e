//! Live, shared view of a running prober: buckets, settledness, latency.
//!
//! The dispatcher and every probe task update it; the runner reads it while
//! the drill goes on (e.g. to decide recovery or trip a guardrail).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::buckets::{Bucket, WindowStats};
use super::latency::LatencySummary;
use super::probe::ProbeRecord;
use super::schedule::Schedule;
use super::settle::SettleTracker;
use super::tally::{ProbeSummary, ProbeTally};
use super::RunClock;

/// A cheap-to-clone handle on the live counters of a prober.
#[derive(Debug, Clone)]
pub struct LiveStats {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    schedule: Schedule,
    clock: RunClock,
    state: Mutex<LiveState>,
}

/// The one tally of the run's probes (the same fold a report makes of the probe log)
/// and which of them have ended.
#[derive(Debug)]
struct LiveState {
    tally: ProbeTally,
    settle: SettleTracker,
}

impl LiveStats {
    /// A live view for probes scheduled by `schedule`, reported through `clock`; a probe
    /// sent more than `late_threshold` after its scheduled time counts as late.
    pub(crate) fn new(schedule: Schedule, clock: RunClock, late_threshold: Duration) -> Self {
        let first_ms = clock.unix_ms(schedule.start());
        Self {
            shared: Arc::new(Shared {
                schedule,
                clock,
                state: Mutex::new(LiveState {
                    tally: ProbeTally::new(first_ms, late_threshold),
                    settle: SettleTracker::default(),
                }),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LiveState> {
        // Counters stay meaningful even if a holder panicked mid-update.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a dispatched probe.
    pub(crate) fn record_sent(&self, scheduled_unix_ms: i64) {
        self.lock().tally.record_sent(scheduled_unix_ms);
    }

    /// Counts a finished probe.
    pub(crate) fn record_done(&self, record: &ProbeRecord) {
        let mut state = self.lock();
        state.tally.record_done(record);
        if state.settle.finish(record.seq) {
            let settled = self.settled_ms_for(state.settle.watermark());
            state.tally.close_intervals_until(settled);
        }
    }

    fn settled_ms_for(&self, watermark: u64) -> i64 {
        let at = self.shared.schedule.at(watermark);
        self.shared.clock.unix_ms(at)
    }

    /// Counts for probes *scheduled* in `[from_unix_ms, to_unix_ms)`, at
    /// bucket granularity (buckets whose start lies in the range).
    /// Probes still in flight are in `sent` but not yet in `completed`. Once the
    /// prober stopped, the buckets belong to its outcome and windows are empty.
    pub fn window(&self, from_unix_ms: i64, to_unix_ms: i64) -> WindowStats {
        self.lock().tally.window(from_unix_ms, to_unix_ms)
    }

    /// Counts over the whole run so far.
    pub fn totals(&self) -> WindowStats {
        self.lock().tally.totals()
    }

    /// Every probe scheduled strictly before this unix ms has finished (ok,
    /// failed or timed out), so windows ending here are final.
    pub fn settled_until_unix_ms(&self) -> i64 {
        let watermark = self.lock().settle.watermark();
        self.settled_ms_for(watermark)
    }

    /// The buckets whose every probe has finished (they end at or before
    /// [`Self::settled_until_unix_ms`]), copied: the prefix of the series the run's
    /// analysis will see, so that a live decision can apply the analysis itself.
    pub fn settled_buckets(&self) -> Vec<Bucket> {
        let state = self.lock();
        let settled = self.settled_ms_for(state.settle.watermark());
        state.tally.buckets_until(settled)
    }

    /// Latency summaries of the closed 100 ms intervals starting at or after
    /// `from_unix_ms` (an interval closes once all its probes finished).
    pub fn latency_intervals_since(&self, from_unix_ms: i64) -> Vec<LatencySummary> {
        self.lock().tally.latency_intervals_since(from_unix_ms)
    }

    /// Closes all intervals and takes the tally's summary out (after the last probe). The
    /// buckets are moved, not copied: afterwards the live view keeps its totals, but its
    /// windows are empty.
    pub(crate) fn finish(&self) -> ProbeSummary {
        self.lock().tally.finish()
    }
}
