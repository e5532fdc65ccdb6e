//! Live, shared view of a running prober: buckets, settledness, latency.
//!
//! The dispatcher and every probe task update it; the runner reads it while
//! the drill goes on (e.g. to decide recovery or trip a guardrail).
//!
//! Memory stays flat however long the run: settled buckets older than `LIVE_SPAN` (a minute) are
//! forgotten (their sums kept), except from the point a reader pinned with
//! [`LiveStats::keep_from`] on. Every probe is in `probes.csv`, which the report reads
//! back.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::buckets::{Bucket, WindowStats};
use super::latency::LatencySummary;
use super::probe::ProbeRecord;
use super::schedule::Schedule;
use super::settle::SettleTracker;
use super::tally::{ProbeSummary, ProbeTally};
use super::RunClock;

/// How far back the live counters keep settled buckets when nothing older is pinned:
/// the longest window a live reader asks for outside a pinned span is a second (the
/// progress line), so this leaves ample room.
pub const LIVE_SPAN: Duration = Duration::from_secs(60);

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
    /// Buckets from here on are kept whatever their age (`None`: only `LIVE_SPAN` (a minute)).
    keep_from_unix_ms: Option<i64>,
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
                    keep_from_unix_ms: None,
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
        self.settle(&mut state, record.seq);
    }

    /// Marks schedule position `seq` as never sent (dropped at the in-flight cap): it is
    /// not counted, but it is over, so the settled time can move past it.
    pub(crate) fn record_dropped(&self, seq: u64) {
        let mut state = self.lock();
        self.settle(&mut state, seq);
    }

    /// Marks `seq` over; when the settled prefix grows, closes what it settled and
    /// forgets what fell out of the kept span.
    fn settle(&self, state: &mut LiveState, seq: u64) {
        if state.settle.finish(seq) {
            let settled = self.settled_ms_for(state.settle.watermark());
            state.tally.close_intervals_until(settled);
            let horizon = settled - LIVE_SPAN.as_millis() as i64;
            let forget = state.keep_from_unix_ms.map_or(horizon, |k| k.min(horizon));
            state.tally.forget_before(forget);
        }
    }

    /// Keeps every bucket from `unix_ms` on, however old it gets (`None`: only the last
    /// `LIVE_SPAN` (a minute)): a reader that will analyse a span of the run pins its start. What
    /// was forgotten before the call stays forgotten.
    pub fn keep_from(&self, unix_ms: Option<i64>) {
        self.lock().keep_from_unix_ms = unix_ms;
    }

    /// Counts for every probe scheduled before `unix_ms`, forgotten buckets included.
    pub fn counts_before(&self, unix_ms: i64) -> WindowStats {
        self.lock().tally.counts_before(unix_ms)
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

    /// The buckets kept whose every probe has finished (they end at or before
    /// [`Self::settled_until_unix_ms`]), copied: the part of the series the run's
    /// analysis will see from the first bucket kept on, so that a live decision can apply
    /// the analysis itself.
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
    /// windows are empty. The summary's series holds only the buckets kept (see the module
    /// doc); its totals and histograms hold every probe.
    pub(crate) fn finish(&self) -> ProbeSummary {
        self.lock().tally.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Instant, UNIX_EPOCH};

    use super::*;
    use crate::traffic::{FailureKind, ProbeKind, ProbeOutcome};

    /// A live view of 100 probes/s from unix time 1 000 000 s, fed `seconds` of probes
    /// (every tenth one failed), each finishing in order.
    fn fed(seconds: u64, keep_from: Option<i64>) -> LiveStats {
        let start = Instant::now();
        let clock = RunClock::from_parts(start, UNIX_EPOCH + Duration::from_secs(1_000_000));
        let live = LiveStats::new(Schedule::new(start, 100.0), clock, Duration::from_millis(20));
        live.keep_from(keep_from);
        for seq in 0..seconds * 100 {
            let scheduled_unix_us = 1_000_000_000_000 + seq as i64 * 10_000;
            live.record_sent(scheduled_unix_us / 1000);
            let outcome = if seq % 10 == 0 {
                ProbeOutcome::Failed(FailureKind::Status5xx)
            } else {
                ProbeOutcome::Ok
            };
            live.record_done(&ProbeRecord {
                seq,
                kind: ProbeKind::Read,
                id: format!("r-{seq}"),
                scheduled_unix_us,
                sent_unix_us: scheduled_unix_us,
                done_unix_us: scheduled_unix_us + 1_000,
                latency_us: 1_000,
                status: Some(200),
                outcome,
                served_by: None,
                error: None,
            });
        }
        live
    }

    /// Without a pin, only the last `LIVE_SPAN` of settled buckets stays; the totals and
    /// the counts before any time still hold every probe.
    #[test]
    fn keeps_a_bounded_span_and_every_count() {
        let live = fed(90, None);
        let settled = live.settled_until_unix_ms();
        let kept = live.settled_buckets();
        let first = kept.first().expect("buckets kept").start_unix_ms;
        assert_eq!(
            first,
            settled - LIVE_SPAN.as_millis() as i64,
            "kept from {first}, settled {settled}"
        );
        assert_eq!(live.totals().sent, 9_000);
        let before = live.counts_before(1_000_000_000 + 45_000);
        assert_eq!((before.ok, before.failed), (4_050, 450));
        assert_eq!(live.window(settled - 1_000, settled).completed, 100);
    }

    /// A pin keeps everything from it on, however old.
    #[test]
    fn keeps_everything_from_the_pin() {
        let pin = 1_000_000_000 + 5_000;
        let live = fed(90, Some(pin));
        let kept = live.settled_buckets();
        assert_eq!(kept.first().map(|b| b.start_unix_ms), Some(pin));
        assert_eq!(live.window(pin, pin + 10_000).completed, 1_000);
        let before = live.counts_before(pin);
        assert_eq!((before.ok, before.failed), (450, 50));
    }
}
