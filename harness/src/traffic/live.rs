//! Live, shared view of a running prober: buckets, settledness, latency.
//!
//! The dispatcher and every probe task update it; the runner reads it while
//! the drill goes on (e.g. to decide recovery or trip a guardrail).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hdrhistogram::Histogram;

use super::buckets::{Bucket, BucketTable, ServedByIntervals, WindowStats};
use super::latency::{IntervalLatencies, LatencySummary, SaturatingHistogram};
use super::probe::ProbeRecord;
use super::schedule::Schedule;
use super::settle::SettleTracker;
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

#[derive(Debug)]
struct LiveState {
    buckets: BucketTable,
    settle: SettleTracker,
    intervals: IntervalLatencies,
    latency: SaturatingHistogram,
    latency_ok: SaturatingHistogram,
    totals: WindowStats,
}

/// Everything the live view accumulated, taken when the prober stops.
#[derive(Debug, Clone)]
pub(crate) struct LiveSnapshot {
    pub buckets: Vec<Bucket>,
    pub served_by: ServedByIntervals,
    pub by_served_by: BTreeMap<String, u64>,
    pub latency_intervals: Vec<LatencySummary>,
    pub latency: Histogram<u64>,
    pub latency_ok: Histogram<u64>,
    pub saturated_count: u64,
    pub totals: WindowStats,
}

impl LiveStats {
    /// A live view for probes scheduled by `schedule`, reported through `clock`.
    pub(crate) fn new(schedule: Schedule, clock: RunClock) -> Self {
        let first_ms = clock.unix_ms(schedule.start());
        Self {
            shared: Arc::new(Shared {
                schedule,
                clock,
                state: Mutex::new(LiveState {
                    buckets: BucketTable::new(first_ms),
                    settle: SettleTracker::default(),
                    intervals: IntervalLatencies::default(),
                    latency: SaturatingHistogram::new(),
                    latency_ok: SaturatingHistogram::new(),
                    totals: WindowStats::default(),
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
        let mut state = self.lock();
        state.buckets.record_sent(scheduled_unix_ms);
        state.totals.sent += 1;
    }

    /// Counts a finished probe.
    pub(crate) fn record_done(&self, record: &ProbeRecord) {
        let mut state = self.lock();
        state
            .buckets
            .record_done(record.scheduled_unix_us, record.outcome, record.served_by.as_deref());
        state.latency.record(record.latency_us);
        if record.outcome.is_ok() {
            state.latency_ok.record(record.latency_us);
            state.totals.ok += 1;
        } else {
            state.totals.failed += 1;
        }
        state.totals.completed += 1;
        state
            .intervals
            .record(record.scheduled_unix_us.div_euclid(1000), record.latency_us);
        if state.settle.finish(record.seq) {
            let settled = self.settled_ms_for(state.settle.watermark());
            state.intervals.close_until(settled);
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
        self.lock().buckets.window(from_unix_ms, to_unix_ms)
    }

    /// Counts over the whole run so far.
    pub fn totals(&self) -> WindowStats {
        self.lock().totals
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
        state.buckets.buckets_until(settled)
    }

    /// Latency summaries of the closed 100 ms intervals starting at or after
    /// `from_unix_ms` (an interval closes once all its probes finished).
    pub fn latency_intervals_since(&self, from_unix_ms: i64) -> Vec<LatencySummary> {
        self.lock().intervals.closed_since(from_unix_ms)
    }

    /// Closes all intervals and takes everything out (after the last probe). The
    /// buckets are moved, not copied: afterwards the live view keeps its totals, but its
    /// windows are empty.
    pub(crate) fn finish(&self) -> LiveSnapshot {
        let mut state = self.lock();
        state.intervals.close_all();
        LiveSnapshot {
            buckets: state.buckets.take_buckets(),
            served_by: state.buckets.served_by().clone(),
            by_served_by: state.buckets.served_by().totals(),
            latency_intervals: state.intervals.closed().to_vec(),
            latency: state.latency.histogram().clone(),
            latency_ok: state.latency_ok.histogram().clone(),
            saturated_count: state.latency.saturated(),
            totals: state.totals,
        }
    }
}
