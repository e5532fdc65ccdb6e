//! Fine-grained counters: one bucket per 10 ms of *scheduled* send time (56 bytes
//! each, about 19 MiB for an hour), and the `served-by` counts per 100 ms. A table can
//! forget its oldest buckets and intervals (the live counters keep a bounded span; the
//! probe log on disk keeps everything), keeping their sums.
//!
//! Keying by the scheduled time puts a probe that timed out where the user
//! was hurt (when it should have been served), not when the timeout fired.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::probe::{FailureKind, ProbeOutcome};

/// Width of a bucket in milliseconds; bucket starts are multiples of it in unix time.
pub const BUCKET_MS: i64 = 10;

/// Width of a `served-by` interval in milliseconds (the report's timeline step).
pub const SERVED_MS: i64 = 100;

/// Failed probes by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Connection refused / unreachable / DNS failure.
    pub connect: u32,
    /// No complete response before the timeout.
    pub timeout: u32,
    /// Unexpected 5xx status.
    pub status_5xx: u32,
    /// Other unexpected status (e.g. 404).
    pub status_other: u32,
    /// Read-back body differed from what was written.
    pub body_mismatch: u32,
    /// Anything else (reset, malformed response, …).
    pub other: u32,
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
        *slot = slot.saturating_add(1);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Self) {
        self.connect = self.connect.saturating_add(other.connect);
        self.timeout = self.timeout.saturating_add(other.timeout);
        self.status_5xx = self.status_5xx.saturating_add(other.status_5xx);
        self.status_other = self.status_other.saturating_add(other.status_other);
        self.body_mismatch = self.body_mismatch.saturating_add(other.body_mismatch);
        self.other = self.other.saturating_add(other.other);
    }

    /// The counts by class name (`connect`, `timeout`, `status_5xx`, `status_other`,
    /// `body_mismatch`, `other`), in that order.
    pub fn by_name(&self) -> [(&'static str, u32); 6] {
        [
            ("connect", self.connect),
            ("timeout", self.timeout),
            ("status_5xx", self.status_5xx),
            ("status_other", self.status_other),
            ("body_mismatch", self.body_mismatch),
            ("other", self.other),
        ]
    }

    /// The sum over all classes.
    pub fn total(&self) -> u64 {
        self.by_name().iter().map(|&(_, n)| u64::from(n)).sum()
    }
}

/// Counters for the probes scheduled in `[start_unix_ms, start_unix_ms + BUCKET_MS)`.
/// Kept small (56 bytes): a run holds one per 10 ms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Start of the bucket (unix ms, a multiple of [`BUCKET_MS`]).
    pub start_unix_ms: i64,
    /// Probes dispatched.
    pub sent: u32,
    /// Probes that succeeded.
    pub ok: u32,
    /// Probes that failed (any class).
    pub failed: u32,
    /// Reads of acknowledged writes answered 404 (counted in `ok` as well: served).
    pub missing: u32,
    /// Failures by class; `failures.timeout` is the bucket's timeout count.
    pub failures: FailureCounts,
    /// Scheduled time of the earliest failed probe, µs after `start_unix_ms` (0 when
    /// none failed): the analysis dates an outage's start to the probe, not the bucket.
    pub first_failure_us: u16,
    /// Scheduled time of the latest failed probe, µs after `start_unix_ms` (0 when none
    /// failed): the analysis dates an outage's end to the probe, not the bucket.
    pub last_failure_us: u16,
    /// Scheduled time of the earliest successful probe, µs after `start_unix_ms` (0 when
    /// none succeeded): with the failures' times it tells where a run of failures ends.
    pub first_ok_us: u16,
}

// A run holds one bucket per 10 ms: keep it the size the docs state.
const _: () = assert!(std::mem::size_of::<Bucket>() == 56);
// A failure's offset inside its bucket, in µs, fits the u16 fields.
const _: () = assert!(BUCKET_MS * 1000 <= u16::MAX as i64 + 1);

impl Bucket {
    /// Probes that timed out.
    pub fn timeouts(&self) -> u32 {
        self.failures.timeout
    }

    /// Probes that finished (ok or failed).
    pub fn completed(&self) -> u32 {
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

/// Completed probes by `served-by` header value per [`SERVED_MS`] of scheduled time
/// (probes without the header are not counted). Values are interned: each interval
/// holds `(index into names, count)` pairs. Forgotten intervals still count in the totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedByIntervals {
    /// Start of `intervals[0]`.
    origin_unix_ms: i64,
    names: Vec<String>,
    /// Probes per name over the whole run, forgotten intervals included (parallel to `names`).
    name_totals: Vec<u64>,
    intervals: VecDeque<Vec<(u32, u32)>>,
}

impl ServedByIntervals {
    fn new(first_unix_ms: i64) -> Self {
        Self {
            origin_unix_ms: first_unix_ms.div_euclid(SERVED_MS) * SERVED_MS,
            ..Self::default()
        }
    }

    fn record(&mut self, scheduled_unix_ms: i64, name: &str, index: &mut HashMap<String, u32>) {
        let name = match index.get(name) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
                self.names.push(name.to_owned());
                self.name_totals.push(0);
                index.insert(name.to_owned(), i);
                i
            }
        };
        if let Some(total) = self.name_totals.get_mut(name as usize) {
            *total += 1;
        }
        let slot = usize::try_from((scheduled_unix_ms - self.origin_unix_ms).div_euclid(SERVED_MS)).unwrap_or(0);
        if self.intervals.len() <= slot {
            self.intervals.resize_with(slot + 1, Vec::new);
        }
        let counts = &mut self.intervals[slot];
        match counts.iter_mut().find(|(i, _)| *i == name) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => counts.push((name, 1)),
        }
    }

    /// Every interval that counted something: its start (unix ms) and `(value, count)`s.
    pub fn intervals(&self) -> impl Iterator<Item = (i64, impl Iterator<Item = (&str, u64)>)> {
        self.intervals
            .iter()
            .enumerate()
            .filter(|(_, counts)| !counts.is_empty())
            .map(|(slot, counts)| {
                let start = self.origin_unix_ms + slot as i64 * SERVED_MS;
                (
                    start,
                    counts
                        .iter()
                        .map(|&(i, n)| (self.names[i as usize].as_str(), u64::from(n))),
                )
            })
    }

    /// Probes served by `name` in the intervals lying wholly in `[from_unix_ms, to_unix_ms)`.
    pub fn count_within(&self, name: &str, from_unix_ms: i64, to_unix_ms: i64) -> u64 {
        self.intervals()
            .filter(|(start, _)| *start >= from_unix_ms && start.saturating_add(SERVED_MS) <= to_unix_ms)
            .flat_map(|(_, counts)| counts)
            .filter(|(by, _)| *by == name)
            .map(|(_, n)| n)
            .sum()
    }

    /// Probes per value over the whole run (forgotten intervals included).
    pub fn totals(&self) -> BTreeMap<String, u64> {
        self.names
            .iter()
            .cloned()
            .zip(self.name_totals.iter().copied())
            .collect()
    }

    /// Drops the intervals that end at or before `unix_ms` (their counts stay in the totals).
    fn forget_before(&mut self, unix_ms: i64) {
        let whole = usize::try_from((unix_ms - self.origin_unix_ms).div_euclid(SERVED_MS)).unwrap_or(0);
        let n = whole.min(self.intervals.len());
        self.intervals.drain(..n);
        self.origin_unix_ms += n as i64 * SERVED_MS;
    }
}

/// The buckets of a run from the first scheduled probe on — or, once older ones were
/// forgotten ([`BucketTable::forget_before`]), from the first one kept — and the
/// `served-by` counts.
#[derive(Debug, Clone)]
pub(crate) struct BucketTable {
    /// Start of `buckets[0]`.
    origin_ms: i64,
    buckets: VecDeque<Bucket>,
    /// Sums of the buckets forgotten.
    forgotten: WindowStats,
    served: ServedByIntervals,
    served_index: HashMap<String, u32>,
}

impl BucketTable {
    /// A table whose first bucket contains `first_unix_ms`.
    pub(crate) fn new(first_unix_ms: i64) -> Self {
        Self {
            origin_ms: first_unix_ms.div_euclid(BUCKET_MS) * BUCKET_MS,
            buckets: VecDeque::new(),
            forgotten: WindowStats::default(),
            served: ServedByIntervals::new(first_unix_ms),
            served_index: HashMap::new(),
        }
    }

    /// The index of the bucket holding `unix_ms` (clamped to the first bucket kept).
    fn index_of(&self, unix_ms: i64) -> usize {
        usize::try_from((unix_ms - self.origin_ms).div_euclid(BUCKET_MS)).unwrap_or(0)
    }

    fn bucket_mut(&mut self, unix_ms: i64) -> &mut Bucket {
        let index = self.index_of(unix_ms);
        if self.buckets.len() <= index {
            let origin = self.origin_ms;
            let from = self.buckets.len();
            self.buckets.extend((from..=index).map(|i| Bucket {
                start_unix_ms: origin + i as i64 * BUCKET_MS,
                ..Bucket::default()
            }));
        }
        &mut self.buckets[index]
    }

    /// Counts a probe dispatched for `scheduled_unix_ms`.
    pub(crate) fn record_sent(&mut self, scheduled_unix_ms: i64) {
        let bucket = self.bucket_mut(scheduled_unix_ms);
        bucket.sent = bucket.sent.saturating_add(1);
    }

    /// Counts a finished probe scheduled at `scheduled_unix_us` (µs).
    pub(crate) fn record_done(&mut self, scheduled_unix_us: i64, outcome: ProbeOutcome, served_by: Option<&str>) {
        let scheduled_unix_ms = scheduled_unix_us.div_euclid(1000);
        let bucket = self.bucket_mut(scheduled_unix_ms);
        let offset = u16::try_from(scheduled_unix_us - bucket.start_unix_ms * 1000).unwrap_or(u16::MAX);
        if outcome.is_ok() {
            bucket.first_ok_us = if bucket.ok == 0 {
                offset
            } else {
                bucket.first_ok_us.min(offset)
            };
        }
        match outcome {
            ProbeOutcome::Ok => bucket.ok = bucket.ok.saturating_add(1),
            ProbeOutcome::Missing => {
                bucket.ok = bucket.ok.saturating_add(1);
                bucket.missing = bucket.missing.saturating_add(1);
            }
            ProbeOutcome::Failed(kind) => {
                if bucket.failed == 0 {
                    (bucket.first_failure_us, bucket.last_failure_us) = (offset, offset);
                } else {
                    bucket.first_failure_us = bucket.first_failure_us.min(offset);
                    bucket.last_failure_us = bucket.last_failure_us.max(offset);
                }
                bucket.failed = bucket.failed.saturating_add(1);
                bucket.failures.add(kind);
            }
        }
        if let Some(name) = served_by {
            self.served.record(scheduled_unix_ms, name, &mut self.served_index);
        }
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
        for bucket in self.buckets.range(first.min(end)..end) {
            stats.sent += u64::from(bucket.sent);
            stats.ok += u64::from(bucket.ok);
            stats.failed += u64::from(bucket.failed);
        }
        stats.completed = stats.ok + stats.failed;
        stats
    }

    fn ceil_index(&self, unix_ms: i64) -> usize {
        let offset = unix_ms - self.origin_ms;
        usize::try_from((offset + BUCKET_MS - 1).div_euclid(BUCKET_MS)).unwrap_or(0)
    }

    /// Copies of the buckets that end at or before `to_unix_ms`, in time order: with
    /// `to_unix_ms` the settled watermark, exactly the buckets that are final.
    pub(crate) fn buckets_until(&self, to_unix_ms: i64) -> Vec<Bucket> {
        let end = usize::try_from((to_unix_ms - self.origin_ms).div_euclid(BUCKET_MS))
            .unwrap_or(0)
            .min(self.buckets.len());
        self.buckets.range(..end).cloned().collect()
    }

    /// Moves every bucket kept out, in time order (empty buckets included so the series
    /// is regular), leaving the table empty.
    pub(crate) fn take_buckets(&mut self) -> Vec<Bucket> {
        Vec::from(std::mem::take(&mut self.buckets))
    }

    /// Forgets the buckets that end at or before `unix_ms` (and the `served-by`
    /// intervals that do), keeping their sums: every probe in them must have finished.
    pub(crate) fn forget_before(&mut self, unix_ms: i64) {
        let whole = usize::try_from((unix_ms - self.origin_ms).div_euclid(BUCKET_MS)).unwrap_or(0);
        let n = whole.min(self.buckets.len());
        for bucket in self.buckets.drain(..n) {
            self.forgotten.sent += u64::from(bucket.sent);
            self.forgotten.ok += u64::from(bucket.ok);
            self.forgotten.failed += u64::from(bucket.failed);
        }
        self.forgotten.completed = self.forgotten.ok + self.forgotten.failed;
        self.origin_ms += n as i64 * BUCKET_MS;
        self.served.forget_before(unix_ms);
    }

    /// Counts for every probe scheduled before `unix_ms`, forgotten buckets included
    /// (exact when `unix_ms` is at or after the first bucket kept).
    pub(crate) fn counts_before(&self, unix_ms: i64) -> WindowStats {
        let kept = self.window(self.origin_ms, unix_ms);
        WindowStats {
            sent: self.forgotten.sent + kept.sent,
            ok: self.forgotten.ok + kept.ok,
            failed: self.forgotten.failed + kept.failed,
            completed: self.forgotten.completed + kept.completed,
        }
    }

    /// The `served-by` counts so far.
    pub(crate) fn served_by(&self) -> &ServedByIntervals {
        &self.served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `buckets_until` copies exactly the buckets that end at or before the time given:
    /// the bucket holding it (still filling) is left out.
    #[test]
    fn buckets_until_stops_at_the_last_whole_bucket() {
        let mut table = BucketTable::new(1_000);
        for t in [1_000, 1_012, 1_025, 1_031] {
            table.record_sent(t);
            table.record_done(t * 1000, ProbeOutcome::Ok, None);
        }
        let starts = |v: Vec<Bucket>| v.iter().map(|b| b.start_unix_ms).collect::<Vec<_>>();
        assert_eq!(starts(table.buckets_until(1_030)), [1_000, 1_010, 1_020]);
        assert_eq!(starts(table.buckets_until(1_029)), [1_000, 1_010]);
        assert_eq!(starts(table.buckets_until(999)), Vec::<i64>::new());
        assert_eq!(starts(table.buckets_until(5_000)), [1_000, 1_010, 1_020, 1_030]);
        assert_eq!(table.buckets_until(1_030)[1].ok, 1);
    }

    #[test]
    fn counts_land_in_the_bucket_of_the_scheduled_time() {
        let mut table = BucketTable::new(1_005);
        table.record_sent(1_005);
        table.record_sent(1_019);
        table.record_done(1_005_000, ProbeOutcome::Ok, Some("i-1/az-a/r"));
        table.record_done(
            1_019_250,
            ProbeOutcome::Failed(FailureKind::Timeout),
            Some("i-2/az-b/r"),
        );
        table.record_done(1_012_500, ProbeOutcome::Failed(FailureKind::Connect), None);
        assert_eq!(table.window(1_000, 1_010).ok, 1);
        assert_eq!(table.window(1_000, 1_020).completed, 3);
        assert_eq!(table.window(1_001, 1_020).completed, 2);
        assert_eq!(table.served_by().totals().len(), 2);
        let buckets = table.take_buckets();
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].start_unix_ms, 1_000);
        assert_eq!((buckets[0].sent, buckets[0].ok), (1, 1));
        assert_eq!(buckets[1].start_unix_ms, 1_010);
        assert_eq!((buckets[1].failed, buckets[1].timeouts()), (2, 1));
        // The failures are dated to the µs inside their bucket, whatever the order they finished in.
        assert_eq!(
            (buckets[1].first_failure_us, buckets[1].last_failure_us),
            (2_500, 9_250)
        );
        assert_eq!((buckets[0].first_ok_us, buckets[0].ok), (5_000, 1));
        // The buckets moved out: the table's windows are empty afterwards.
        assert_eq!(table.window(1_000, 1_020), WindowStats::default());
    }

    /// Forgetting old buckets changes nothing about the span kept, the sums before it
    /// or the `served-by` totals: the same probes tallied by a table that forgets
    /// nothing give the same answers.
    #[test]
    fn forgetting_keeps_the_recent_span_and_the_sums() {
        let (mut all, mut recent) = (BucketTable::new(1_000), BucketTable::new(1_000));
        for table in [&mut all, &mut recent] {
            for i in 0..600_i64 {
                let at = 1_000 + i * 7;
                table.record_sent(at);
                let outcome = if i % 5 == 0 {
                    ProbeOutcome::Failed(FailureKind::Status5xx)
                } else {
                    ProbeOutcome::Ok
                };
                table.record_done(at * 1000 + 300, outcome, Some(if i % 3 == 0 { "a" } else { "b" }));
            }
        }
        recent.forget_before(2_345);
        // Whole buckets before 2_345 are gone: the first kept starts at 2_340.
        assert_eq!(recent.buckets_until(i64::MAX)[0].start_unix_ms, 2_340);
        for (from, to) in [(2_340, 3_000), (2_500, 5_200), (3_333, 4_444)] {
            assert_eq!(recent.window(from, to), all.window(from, to), "window {from}..{to}");
        }
        for at in [2_340, 2_345, 4_000, 9_999] {
            assert_eq!(recent.counts_before(at), all.window(0, at), "before {at}");
        }
        assert_eq!(recent.served_by().totals(), all.served_by().totals());
        let starts: Vec<i64> = recent.served_by().intervals().map(|(t, _)| t).collect();
        assert_eq!(starts.first(), Some(&2_300));
        assert_eq!(
            recent.served_by().count_within("a", 2_300, 5_200),
            all.served_by().count_within("a", 2_300, 5_200)
        );
        // New probes still land in their buckets after the origin moved.
        recent.record_sent(5_300);
        all.record_sent(5_300);
        assert_eq!(recent.window(5_300, 5_310), all.window(5_300, 5_310));
    }

    /// `served-by` values are counted per 100 ms of scheduled time, interned once.
    #[test]
    fn served_by_counts_land_in_the_interval_of_the_scheduled_time() {
        let mut table = BucketTable::new(1_005);
        for (at, by) in [(1_005, "a"), (1_099, "a"), (1_100, "b"), (1_150, "a"), (1_420, "b")] {
            table.record_done(at * 1000, ProbeOutcome::Ok, Some(by));
        }
        table.record_done(1_420_000, ProbeOutcome::Ok, None);
        let served = table.served_by();
        let intervals: Vec<(i64, Vec<(&str, u64)>)> = served.intervals().map(|(t, c)| (t, c.collect())).collect();
        assert_eq!(
            intervals,
            vec![
                (1_000, vec![("a", 2)]),
                (1_100, vec![("b", 1), ("a", 1)]),
                (1_400, vec![("b", 1)])
            ]
        );
        assert_eq!(served.names.len(), 2);
        assert_eq!(served.count_within("a", 1_000, 1_200), 3);
        assert_eq!(served.count_within("a", 1_050, 1_200), 1);
        assert_eq!(served.totals(), [("a".to_string(), 3), ("b".to_string(), 2)].into());
    }
}
