//! The probe tally: every finished probe's record folded into what a report is computed
//! from — the 10 ms buckets, the `served-by` intervals, the per-100 ms latency summaries,
//! the whole-run latency and dispatch-lag histograms and the totals.
//!
//! One fold, whatever feeds it: the prober's live counters ([`super::LiveStats`]) fold
//! each probe as it is sent and as it ends, and a report (live or rebuilt) folds the
//! records read back from `probes.csv` ([`super::probe_log::tally_file`]), so every count
//! is made by the same code. Every figure is a function of the records alone: the
//! dispatch lag is `sent − scheduled` as the record states it.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::buckets::{Bucket, BucketTable, ServedByIntervals, WindowStats};
use super::latency::{IntervalLatencies, LatencySummary, SaturatingHistogram};
use super::probe::ProbeRecord;

/// What the probes of a run add up to.
#[derive(Debug, Clone)]
pub struct ProbeSummary {
    /// Per-10 ms counters by scheduled time, contiguous from the earliest probe.
    pub buckets: Vec<Bucket>,
    /// Finished probes per `served-by` value per 100 ms of scheduled time.
    pub served_by: ServedByIntervals,
    /// Per-100 ms latency summaries by scheduled time, in time order.
    pub latency_intervals: Vec<LatencySummary>,
    /// Latency of every probe, µs from its scheduled time.
    pub latency: Histogram<u64>,
    /// Dispatch lag (`sent − scheduled`) of every probe, µs.
    pub schedule_lag: Histogram<u64>,
    /// Latencies above one hour (recorded as one hour).
    pub saturated: u64,
    /// Probes sent more than `late_threshold` after their scheduled time.
    pub late_sends: u64,
    /// The dispatch lag above which a probe counted as late.
    pub late_threshold: Duration,
    /// Probes in the log.
    pub sent: u64,
    /// Of those, ok (a read answered 404 counts as served: see `ProbeOutcome::Missing`).
    pub ok: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Probes per `served-by` value over the whole run.
    pub by_served_by: BTreeMap<String, u64>,
}

/// Folds probe records into a [`ProbeSummary`].
#[derive(Debug)]
pub struct ProbeTally {
    buckets: BucketTable,
    intervals: IntervalLatencies,
    latency: SaturatingHistogram,
    lag: SaturatingHistogram,
    late_threshold: Duration,
    late: u64,
    sent: u64,
    ok: u64,
    failed: u64,
}

impl ProbeTally {
    /// An empty tally whose buckets start at the one holding `first_scheduled_unix_ms`
    /// (the earliest scheduled time of the records to come; earlier ones would be
    /// counted in the first bucket). A probe sent more than `late_threshold` after its
    /// scheduled time counts as late.
    pub fn new(first_scheduled_unix_ms: i64, late_threshold: Duration) -> Self {
        Self {
            buckets: BucketTable::new(first_scheduled_unix_ms),
            intervals: IntervalLatencies::default(),
            latency: SaturatingHistogram::new(),
            lag: SaturatingHistogram::new(),
            late_threshold,
            late: 0,
            sent: 0,
            ok: 0,
            failed: 0,
        }
    }

    /// Counts one probe read back from the log: sent, then finished.
    pub fn record(&mut self, record: &ProbeRecord) {
        self.record_sent(record.scheduled_unix_us.div_euclid(1000));
        self.record_done(record);
    }

    /// Counts a probe sent for `scheduled_unix_ms` (the live counters count it when it is
    /// dispatched, so that windows know what is in flight).
    pub fn record_sent(&mut self, scheduled_unix_ms: i64) {
        self.buckets.record_sent(scheduled_unix_ms);
        self.sent += 1;
    }

    /// Counts a probe that ended (ok, failed or timed out).
    pub fn record_done(&mut self, record: &ProbeRecord) {
        self.buckets
            .record_done(record.scheduled_unix_us, record.outcome, record.served_by.as_deref());
        self.latency.record(record.latency_us);
        self.intervals
            .record(record.scheduled_unix_us.div_euclid(1000), record.latency_us);
        let lag_us = u64::try_from(record.sent_unix_us - record.scheduled_unix_us).unwrap_or(0);
        if u128::from(lag_us) > self.late_threshold.as_micros() {
            self.late += 1;
        }
        self.lag.record(lag_us);
        if record.outcome.is_ok() {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
    }

    /// Counts for probes scheduled in `[from_unix_ms, to_unix_ms)`, at bucket
    /// granularity (buckets whose start lies in the range).
    pub(crate) fn window(&self, from_unix_ms: i64, to_unix_ms: i64) -> WindowStats {
        self.buckets.window(from_unix_ms, to_unix_ms)
    }

    /// Counts over everything tallied so far.
    pub(crate) fn totals(&self) -> WindowStats {
        WindowStats {
            sent: self.sent,
            ok: self.ok,
            failed: self.failed,
            completed: self.ok + self.failed,
        }
    }

    /// Copies of the buckets that end at or before `to_unix_ms`, in time order.
    pub(crate) fn buckets_until(&self, to_unix_ms: i64) -> Vec<Bucket> {
        self.buckets.buckets_until(to_unix_ms)
    }

    /// Forgets the buckets, `served-by` intervals and latency summaries that end at or
    /// before `unix_ms` (every probe in them must have finished). Totals, histograms and
    /// [`Self::counts_before`] still count them; windows and the summary's series start
    /// at the first one kept.
    pub(crate) fn forget_before(&mut self, unix_ms: i64) {
        self.buckets.forget_before(unix_ms);
        self.intervals.forget_before(unix_ms);
    }

    /// Counts for every probe scheduled before `unix_ms`, forgotten ones included.
    pub(crate) fn counts_before(&self, unix_ms: i64) -> WindowStats {
        self.buckets.counts_before(unix_ms)
    }

    /// Reduces the latency intervals that end at or before `settled_until_unix_ms` (every
    /// probe scheduled in them has ended) to their summaries.
    pub(crate) fn close_intervals_until(&mut self, settled_until_unix_ms: i64) {
        self.intervals.close_until(settled_until_unix_ms);
    }

    /// Summaries of the closed latency intervals starting at or after `from_unix_ms`.
    pub(crate) fn latency_intervals_since(&self, from_unix_ms: i64) -> Vec<LatencySummary> {
        self.intervals.closed_since(from_unix_ms)
    }

    /// The summary of every probe counted. The buckets are moved out (not copied):
    /// afterwards the tally keeps its totals, but its windows are empty.
    pub fn finish(&mut self) -> ProbeSummary {
        self.intervals.close_all();
        let served_by = self.buckets.served_by().clone();
        ProbeSummary {
            by_served_by: served_by.totals(),
            served_by,
            buckets: self.buckets.take_buckets(),
            latency_intervals: self.intervals.closed(),
            saturated: self.latency.saturated(),
            latency: self.latency.histogram().clone(),
            schedule_lag: self.lag.histogram().clone(),
            late_sends: self.late,
            late_threshold: self.late_threshold,
            sent: self.sent,
            ok: self.ok,
            failed: self.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{FailureKind, ProbeKind, ProbeOutcome};

    fn record(seq: u64, scheduled_unix_us: i64, lag_us: i64, outcome: ProbeOutcome) -> ProbeRecord {
        ProbeRecord {
            seq,
            kind: ProbeKind::Write,
            id: format!("w-{seq}"),
            scheduled_unix_us,
            sent_unix_us: scheduled_unix_us + lag_us,
            done_unix_us: scheduled_unix_us + 2_000,
            latency_us: 2_000,
            status: Some(201),
            outcome,
            served_by: Some("i-1/az-a/r".into()),
            error: None,
        }
    }

    /// Counts land in the bucket of the scheduled time whatever the order the records
    /// come in (the log is in completion order); late sends are those over the threshold;
    /// a 404 read-back counts as served.
    #[test]
    fn tallies_records_in_any_order() {
        let records = [
            record(2, 1_020_500, 30_000, ProbeOutcome::Failed(FailureKind::Timeout)),
            record(0, 1_000_100, 100, ProbeOutcome::Ok),
            record(1, 1_010_200, 20_001, ProbeOutcome::Missing),
        ];
        let mut tally = ProbeTally::new(1_000, Duration::from_millis(20));
        for r in &records {
            tally.record(r);
        }
        let s = tally.finish();
        assert_eq!((s.sent, s.ok, s.failed, s.late_sends), (3, 2, 1, 2));
        let per_bucket: Vec<(i64, u32, u32, u32)> = s
            .buckets
            .iter()
            .map(|b| (b.start_unix_ms, b.ok, b.failed, b.missing))
            .collect();
        assert_eq!(per_bucket, vec![(1_000, 1, 0, 0), (1_010, 1, 0, 1), (1_020, 0, 1, 0)]);
        assert_eq!(s.by_served_by.get("i-1/az-a/r"), Some(&3));
        assert_eq!(s.latency_intervals.len(), 1);
        assert_eq!(s.schedule_lag.max(), s.schedule_lag.highest_equivalent(30_000));
    }
}
