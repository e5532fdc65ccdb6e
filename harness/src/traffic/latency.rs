//! Latency histograms: whole-run hdrhistograms with explicit bounds, and a
//! bounded per-100 ms series of summaries.
//!
//! All values are microseconds. Values above [`LATENCY_MAX_US`] are recorded
//! as the maximum and counted as saturated, never dropped.

use std::collections::{BTreeMap, VecDeque};

use hdrhistogram::Histogram;

/// The lowest value a histogram distinguishes (1 µs).
pub const LATENCY_MIN_US: u64 = 1;
/// The highest value a histogram tracks (1 hour); larger values saturate.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;
/// Significant figures of the whole-run histograms.
pub const LATENCY_SIGFIG: u8 = 3;
/// Width of a latency summary interval in milliseconds.
pub const INTERVAL_MS: i64 = 100;
/// Significant figures of the per-interval histograms (kept small: they are
/// short-lived and only reduced to percentiles).
const INTERVAL_SIGFIG: u8 = 2;

/// An empty histogram over `[LATENCY_MIN_US, LATENCY_MAX_US]`.
pub fn new_latency_histogram() -> Histogram<u64> {
    histogram_with(LATENCY_SIGFIG)
}

fn histogram_with(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(LATENCY_MIN_US, LATENCY_MAX_US, sigfig).expect("constant histogram bounds are valid")
}

/// A histogram that saturates out-of-range values and counts them.
#[derive(Debug, Clone)]
pub(crate) struct SaturatingHistogram {
    histogram: Histogram<u64>,
    saturated: u64,
}

impl SaturatingHistogram {
    /// An empty whole-run histogram.
    pub(crate) fn new() -> Self {
        Self {
            histogram: new_latency_histogram(),
            saturated: 0,
        }
    }

    /// Records `value_us`, saturating above [`LATENCY_MAX_US`].
    pub(crate) fn record(&mut self, value_us: u64) {
        if value_us > LATENCY_MAX_US {
            self.saturated += 1;
        }
        self.histogram.saturating_record(value_us.min(LATENCY_MAX_US));
    }

    /// Values that were above the maximum.
    pub(crate) fn saturated(&self) -> u64 {
        self.saturated
    }

    /// The histogram.
    pub(crate) fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }
}

/// Latency of the probes scheduled in one 100 ms interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// Start of the interval (unix ms, a multiple of [`INTERVAL_MS`]).
    pub start_unix_ms: i64,
    /// Probes that finished (ok or failed).
    pub count: u64,
    /// Median latency from the scheduled time, µs (2 significant figures).
    pub p50_us: u64,
    /// 99th percentile, µs (2 significant figures).
    pub p99_us: u64,
    /// Exact maximum, µs.
    pub max_us: u64,
}

#[derive(Debug, Clone)]
struct OpenInterval {
    histogram: Histogram<u64>,
    max_us: u64,
}

/// Per-interval histograms, reduced to a [`LatencySummary`] as soon as every
/// probe scheduled in the interval has finished, so only intervals still
/// waiting on in-flight probes hold a histogram.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntervalLatencies {
    open: BTreeMap<i64, OpenInterval>,
    closed: VecDeque<LatencySummary>,
}

impl IntervalLatencies {
    /// Records a probe scheduled at `scheduled_unix_ms` that took `latency_us`.
    pub(crate) fn record(&mut self, scheduled_unix_ms: i64, latency_us: u64) {
        let start = scheduled_unix_ms.div_euclid(INTERVAL_MS) * INTERVAL_MS;
        let interval = self.open.entry(start).or_insert_with(|| OpenInterval {
            histogram: histogram_with(INTERVAL_SIGFIG),
            max_us: 0,
        });
        interval.histogram.saturating_record(latency_us.min(LATENCY_MAX_US));
        interval.max_us = interval.max_us.max(latency_us);
    }

    /// Closes every interval that ends at or before `settled_until_unix_ms`.
    pub(crate) fn close_until(&mut self, settled_until_unix_ms: i64) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() + INTERVAL_MS > settled_until_unix_ms {
                break;
            }
            let start = *entry.key();
            let interval = entry.remove();
            self.closed.push_back(summarize(start, &interval));
        }
    }

    /// Closes everything (at the end of the run).
    pub(crate) fn close_all(&mut self) {
        self.close_until(i64::MAX);
    }

    /// Closed summaries whose interval starts at or after `from_unix_ms`.
    pub(crate) fn closed_since(&self, from_unix_ms: i64) -> Vec<LatencySummary> {
        let first = self.closed.partition_point(|s| s.start_unix_ms < from_unix_ms);
        self.closed.range(first..).copied().collect()
    }

    /// The closed summaries kept, in time order.
    pub(crate) fn closed(&self) -> Vec<LatencySummary> {
        self.closed.iter().copied().collect()
    }

    /// Forgets the closed summaries of intervals that end at or before `unix_ms`.
    pub(crate) fn forget_before(&mut self, unix_ms: i64) {
        let n = self
            .closed
            .partition_point(|s| s.start_unix_ms + INTERVAL_MS <= unix_ms);
        self.closed.drain(..n);
    }
}

fn summarize(start_unix_ms: i64, interval: &OpenInterval) -> LatencySummary {
    LatencySummary {
        start_unix_ms,
        count: interval.histogram.len(),
        p50_us: interval.histogram.value_at_quantile(0.5),
        p99_us: interval.histogram.value_at_quantile(0.99),
        max_us: interval.max_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_and_counts_values_above_one_hour() {
        let mut h = SaturatingHistogram::new();
        h.record(5);
        h.record(LATENCY_MAX_US * 2);
        assert_eq!(h.saturated(), 1);
        assert_eq!(h.histogram().len(), 2);
        assert!(h.histogram().max() >= LATENCY_MAX_US);
    }

    #[test]
    fn intervals_close_only_once_settled() {
        let mut intervals = IntervalLatencies::default();
        intervals.record(1_050, 1_000);
        intervals.record(1_099, 3_000);
        intervals.record(1_100, 9_000);
        intervals.close_until(1_150);
        assert_eq!(intervals.closed().len(), 1);
        let first = intervals.closed()[0];
        assert_eq!((first.start_unix_ms, first.count, first.max_us), (1_000, 2, 3_000));
        intervals.close_all();
        assert_eq!(intervals.closed().len(), 2);
        assert_eq!(intervals.closed_since(1_100).len(), 1);
    }
}
