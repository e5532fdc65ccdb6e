//! What a stopped prober hands back ([`TrafficOutcome`]), and the overload honesty
//! rules: when a probe counts as late, how many may be in flight, and when a measurement
//! is degraded.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::buckets::{Bucket, ServedByIntervals};
use super::latency::LatencySummary;
use super::ledger::AckList;
use super::probe_log::ProbeLogSummary;
use super::tally::ProbeSummary;
use super::TrafficError;

/// Everything a stopped prober measured.
#[derive(Debug)]
pub struct TrafficOutcome {
    /// Scheduled time of the first probe (unix ms).
    pub started_unix_ms: i64,
    /// When the schedule stopped (unix ms); no probe was dispatched after it.
    pub stopped_unix_ms: i64,
    /// Per-10 ms counters by scheduled time, contiguous from the first probe.
    pub buckets: Vec<Bucket>,
    /// Finished probes per `served-by` value per 100 ms of scheduled time.
    pub served_by: ServedByIntervals,
    /// Per-100 ms latency summaries by scheduled time.
    pub latency_intervals: Vec<LatencySummary>,
    /// Latency of every finished probe (ok or failed; a timeout counts as
    /// the time until it fired), µs from the scheduled time.
    pub latency: Histogram<u64>,
    /// Dispatch time − scheduled time, µs, one value per probe sent.
    pub schedule_lag: Histogram<u64>,
    /// Latency values above 1 hour, recorded as 1 hour in `latency`.
    pub saturated_count: u64,
    /// Probes dispatched later than `late_threshold` after their scheduled time.
    pub late_sends: u64,
    /// Dispatch lag above which a probe counts as late.
    pub late_threshold: Duration,
    /// Due probes not sent because `max_in_flight` probes were still running.
    pub dropped_sends: u64,
    /// The in-flight cap of this run.
    pub max_in_flight: usize,
    /// Every acknowledged write: read back from `acks.csv` (memory does not grow with
    /// the run), with those the log could not write kept beside it.
    pub acks: AckList,
    /// Probes dispatched.
    pub sent: u64,
    /// Probes that succeeded.
    pub ok: u64,
    /// Probes that failed.
    pub failed: u64,
    /// Finished probes per `served-by` header value.
    pub by_served_by: BTreeMap<String, u64>,
    /// How many times the keep-alive client was rotated.
    pub client_rotations: u64,
    /// The run prefix of every write id (`<prefix>-<seq>`).
    pub run_prefix: String,
    /// Where the raw logs are; `None` if the writer task itself failed.
    pub probe_log: Option<ProbeLogSummary>,
    /// Problems that did not stop the run but may have lost evidence (probe
    /// log write errors, a crashed background task).
    pub errors: Vec<TrafficError>,
}

/// Share of late sends above which a measurement is degraded.
pub const MAX_LATE_SHARE: f64 = 0.01;

/// The dispatch lag above which a probe counts as late: two probe intervals, at least
/// 20 ms — beyond it, a probe lands in the wrong 10 ms bucket by more than the RTO's
/// stated tolerance.
pub fn late_threshold(rate_per_sec: f64) -> Duration {
    let two_intervals = if rate_per_sec > 0.0 { 2.0 / rate_per_sec } else { 0.0 };
    Duration::from_secs_f64(two_intervals).max(LATE_FLOOR)
}

/// The least dispatch lag that makes a probe late, whatever the rate.
pub const LATE_FLOOR: Duration = Duration::from_millis(20);

/// The most probes allowed in flight: twice what the rate keeps busy when every probe
/// runs to its timeout, plus 64. Probes end by their timeout, so only a machine that
/// cannot keep up reaches it.
pub fn max_in_flight(rate_per_sec: f64, timeout: Duration) -> usize {
    (rate_per_sec.max(0.0) * timeout.as_secs_f64() * 2.0).ceil() as usize + 64
}

impl TrafficOutcome {
    /// The probes' tally as the live counters kept it: what a report falls back on when
    /// the probe log could not be written whole.
    pub fn summary(&self) -> ProbeSummary {
        ProbeSummary {
            buckets: self.buckets.clone(),
            served_by: self.served_by.clone(),
            latency_intervals: self.latency_intervals.clone(),
            latency: self.latency.clone(),
            schedule_lag: self.schedule_lag.clone(),
            saturated: self.saturated_count,
            late_sends: self.late_sends,
            late_threshold: self.late_threshold,
            sent: self.sent,
            ok: self.ok,
            failed: self.failed,
            by_served_by: self.by_served_by.clone(),
        }
    }

    /// Why this measurement cannot be trusted (late or dropped sends), or `None`.
    pub fn degraded(&self) -> Option<String> {
        degraded_reason(
            self.sent,
            self.late_sends,
            self.late_threshold,
            self.dropped_sends,
            self.max_in_flight,
        )
    }
}

/// Why a measurement cannot be trusted, or `None`: `dropped_sends` due probes not sent
/// because `max_in_flight` were still running (the machine could not keep up), or more
/// than [`MAX_LATE_SHARE`] of the scheduled probes (`sent + dropped_sends`) sent more
/// than `late_threshold` late (the prober could not keep its schedule).
pub fn degraded_reason(
    sent: u64,
    late_sends: u64,
    late_threshold: Duration,
    dropped_sends: u64,
    max_in_flight: usize,
) -> Option<String> {
    let mut reasons = Vec::new();
    if dropped_sends > 0 {
        reasons.push(format!(
            "{dropped_sends} probes not sent: {max_in_flight} were still in flight (the machine could not keep up)"
        ));
    }
    let scheduled = sent + dropped_sends;
    if scheduled > 0 && late_sends as f64 / scheduled as f64 > MAX_LATE_SHARE {
        reasons.push(format!(
            "{late_sends} of {scheduled} probes sent more than {} ms late (over {}%): the prober could not keep its schedule",
            late_threshold.as_millis(),
            MAX_LATE_SHARE * 100.0
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
