//! Fine-grained counters: one bucket per 10 ms of *scheduled* send time.
//!
//! Keying by the scheduled time puts a probe that timed out where the user
//! was hurt (when it should have been served), not when the timeout fired.

use std::collections::{BTreeMap, HashMap};

use super::probe::{FailureKind, ProbeOutcome};

/// Width of a bucket in milliseconds; bucket starts are multiples of it in unix time.
pub const BUCKET_MS: i64 = 10;

/// Failed probes by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Connection refused / unreachable / DNS failure.
    pub connect: u64,
    /// No complete response before the timeout.
    pub timeout: u64,
    /// Unexpected 5xx status.
    pub status_5xx: u64,
    /// Other unexpected status (e.g. 404).
    pub status_other: u64,
    /// Read-back body differed from what was written.
    pub body_mismatch: u64,
    /// Anything else (reset, malformed response, …).
    pub other: u64,
}

impl FailureCounts {
    /// Counts one failure of `kind`.
    pub fn add(&mut self, kind: FailureKind) {
        let slot = match kind {
            FailureKind::Connect => &mut self.connect,
            FailureKind::Timeout => &mut self.timeout,
            FailureKind::Status5xx => &mut self.status_5xx,
            FailureKind::StatusOther => &mut self.status_other,
            FailureKind::BodyMismatch => &mut self.body_mismatch,
            FailureKind::Other => &mut self.other,
        };
        *slot += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Self) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.status_5xx += other.status_5xx;
        self.status_other += other.status_other;
        self.body_mismatch += other.body_mismatch;
        self.other += other.other;
    }

    /// The sum over all classes.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.status_5xx + self.status_other + self.body_mismatch + self.other
    }
}

/// Counters for the probes scheduled in `[start_unix_ms, start_unix_ms + BUCKET_MS)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Start of the bucket (unix ms, a multiple of [`BUCKET_MS`]).
    pub start_unix_ms: i64,
    /// Probes dispatched.
    pub sent: u64,
    /// Probes that succeeded.
    pub ok: u64,
    /// Probes that failed (any class).
    pub failed: u64,
    /// Reads of acknowledged writes answered 404 (counted in `ok` as well: served).
    pub missing: u64,
    /// Failures by class; `failures.timeout` is the bucket's timeout count.
    pub failures: FailureCounts,
    /// Completed probes by `served-by` header value (probes without the header
    /// are not counted here).
    pub served_by: BTreeMap<String, u64>,
}

impl Bucket {
    /// Probes that timed out.
    pub fn timeouts(&self) -> u64 {
        self.failures.timeout
    }

    /// Probes that finished (ok or failed).
    pub fn completed(&self) -> u64 {
        self.ok + self.failed
    }
}

/// Counts over a span of scheduled time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Probes dispatched.
    pub sent: u64,
    /// Probes that succeeded.
    pub ok: u64,
    /// Probes that failed.
    pub failed: u64,
    /// `ok + failed`.
    pub completed: u64,
}

/// A bucket as stored: served-by values interned to small indices.
#[derive(Debug, Clone, Default)]
struct RawBucket {
    sent: u64,
    ok: u64,
    missing: u64,
    failed: u64,
    failures: FailureCounts,
    served_by: Vec<(u32, u64)>,
}

/// All buckets of a run, from the first scheduled probe on.
#[derive(Debug, Clone)]
pub(crate) struct BucketTable {
    origin_ms: i64,
    buckets: Vec<RawBucket>,
    served_names: Vec<String>,
    served_index: HashMap<String, u32>,
}

impl BucketTable {
    /// A table whose first bucket contains `first_unix_ms`.
    pub(crate) fn new(first_unix_ms: i64) -> Self {
        Self {
            origin_ms: first_unix_ms.div_euclid(BUCKET_MS) * BUCKET_MS,
            buckets: Vec::new(),
            served_names: Vec::new(),
            served_index: HashMap::new(),
        }
    }

    /// The index of the bucket holding `unix_ms` (clamped to the first bucket).
    fn index_of(&self, unix_ms: i64) -> usize {
        usize::try_from((unix_ms - self.origin_ms).div_euclid(BUCKET_MS)).unwrap_or(0)
    }

    fn bucket_mut(&mut self, unix_ms: i64) -> &mut RawBucket {
        let index = self.index_of(unix_ms);
        if self.buckets.len() <= index {
            self.buckets.resize_with(index + 1, RawBucket::default);
        }
        &mut self.buckets[index]
    }

    /// Counts a probe dispatched for `scheduled_unix_ms`.
    pub(crate) fn record_sent(&mut self, scheduled_unix_ms: i64) {
        self.bucket_mut(scheduled_unix_ms).sent += 1;
    }

    /// Counts a finished probe scheduled at `scheduled_unix_ms`.
    pub(crate) fn record_done(&mut self, scheduled_unix_ms: i64, outcome: ProbeOutcome, served_by: Option<&str>) {
        let served = served_by.map(|name| self.intern(name));
        let bucket = self.bucket_mut(scheduled_unix_ms);
        match outcome {
            ProbeOutcome::Ok => bucket.ok += 1,
            ProbeOutcome::Missing => {
                bucket.ok += 1;
                bucket.missing += 1;
            }
            ProbeOutcome::Failed(kind) => {
                bucket.failed += 1;
                bucket.failures.add(kind);
            }
        }
        if let Some(index) = served {
            match bucket.served_by.iter_mut().find(|(i, _)| *i == index) {
                Some((_, count)) => *count += 1,
                None => bucket.served_by.push((index, 1)),
            }
        }
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&index) = self.served_index.get(name) {
            return index;
        }
        let index = u32::try_from(self.served_names.len()).unwrap_or(u32::MAX);
        self.served_names.push(name.to_owned());
        self.served_index.insert(name.to_owned(), index);
        index
    }

    /// Sums the buckets whose start lies in `[from_unix_ms, to_unix_ms)`.
    pub(crate) fn window(&self, from_unix_ms: i64, to_unix_ms: i64) -> WindowStats {
        let mut stats = WindowStats::default();
        if to_unix_ms <= from_unix_ms {
            return stats;
        }
        // First bucket whose start >= from; first bucket whose start >= to.
        let first = self.ceil_index(from_unix_ms);
        let end = self.ceil_index(to_unix_ms).min(self.buckets.len());
        for bucket in self.buckets.get(first..end).unwrap_or(&[]) {
            stats.sent += bucket.sent;
            stats.ok += bucket.ok;
            stats.failed += bucket.failed;
        }
        stats.completed = stats.ok + stats.failed;
        stats
    }

    fn ceil_index(&self, unix_ms: i64) -> usize {
        let offset = unix_ms - self.origin_ms;
        usize::try_from((offset + BUCKET_MS - 1).div_euclid(BUCKET_MS)).unwrap_or(0)
    }

    /// Every bucket, in time order (empty buckets included so the series is regular).
    pub(crate) fn to_buckets(&self) -> Vec<Bucket> {
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, raw)| Bucket {
                start_unix_ms: self.origin_ms + i as i64 * BUCKET_MS,
                sent: raw.sent,
                ok: raw.ok,
                missing: raw.missing,
                failed: raw.failed,
                failures: raw.failures,
                served_by: raw
                    .served_by
                    .iter()
                    .map(|&(index, count)| (self.served_names[index as usize].clone(), count))
                    .collect(),
            })
            .collect()
    }

    /// Completed probes per `served-by` value over the whole run.
    pub(crate) fn served_by_totals(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for raw in &self.buckets {
            for &(index, count) in &raw.served_by {
                *totals.entry(self.served_names[index as usize].clone()).or_insert(0) += count;
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_the_bucket_of_the_scheduled_time() {
        let mut table = BucketTable::new(1_005);
        table.record_sent(1_005);
        table.record_sent(1_019);
        table.record_done(1_005, ProbeOutcome::Ok, Some("i-1/az-a/r"));
        table.record_done(1_019, ProbeOutcome::Failed(FailureKind::Timeout), Some("i-2/az-b/r"));
        let buckets = table.to_buckets();
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].start_unix_ms, 1_000);
        assert_eq!((buckets[0].sent, buckets[0].ok), (1, 1));
        assert_eq!(buckets[1].start_unix_ms, 1_010);
        assert_eq!((buckets[1].failed, buckets[1].timeouts()), (1, 1));
        assert_eq!(buckets[1].served_by.get("i-2/az-b/r"), Some(&1));
        assert_eq!(table.window(1_000, 1_010).ok, 1);
        assert_eq!(table.window(1_000, 1_020).completed, 2);
        assert_eq!(table.window(1_001, 1_020).completed, 1);
        assert_eq!(table.served_by_totals().len(), 2);
    }
}
