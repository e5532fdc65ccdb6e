//! What a stopped prober hands back ([`TrafficOutcome`]), and the overload honesty
//! rules: when a probe counts as late, how many may be in flight, and when a measurement
//! is degraded.

use std::time::Duration;

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
    /// The probes' tally as the live counters kept it (buckets, latency, schedule lag,
    /// late sends, counts): what a report falls back on when the probe log could not be
    /// written whole; otherwise the report reads the log back.
    pub probes: ProbeSummary,
    /// Due probes not sent because `max_in_flight` probes were still running.
    pub dropped_sends: u64,
    /// The in-flight cap of this run.
    pub max_in_flight: usize,
    /// Every acknowledged write: read back from `acks.csv` (memory does not grow with
    /// the run), with those the log could not write kept beside it.
    pub acks: AckList,
    /// The most tasks sending probes at once (each sends one probe at a time).
    pub peak_workers: usize,
    /// TCP connections the prober opened.
    pub connections_opened: u64,
    /// Connections closed because they reached the keep-alive policy's `max_age`.
    pub connections_aged_out: u64,
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

/// The most probes ever in flight, whatever the rate and timeout. Each holds its task,
/// its request and often a connection, so this bounds the prober's memory when the
/// machine cannot keep up (issue 17's goal: 64 MiB when asked twice what it can send).
pub const IN_FLIGHT_CEILING: usize = 16_384;

/// The most probes a hanging target may hold in flight (`rate × timeout`, every probe
/// waiting for its timeout): half of [`IN_FLIGHT_CEILING`], so that the cap keeps its
/// margin of two. Traffic configs beyond it are refused.
pub const MAX_HANGING_PROBES: usize = IN_FLIGHT_CEILING / 2;

/// The most probes allowed in flight: twice what the rate keeps busy when every probe
/// runs to its timeout, plus 64, and never more than [`IN_FLIGHT_CEILING`]. Probes end
/// by their timeout, so only a machine that cannot keep up reaches it.
pub fn max_in_flight(rate_per_sec: f64, timeout: Duration) -> usize {
    let margin = (rate_per_sec.max(0.0) * timeout.as_secs_f64() * 2.0).ceil() as usize + 64;
    margin.min(IN_FLIGHT_CEILING)
}

/// How many probes a hanging target holds in flight at `rate_per_sec` with `timeout`
/// (`rate × timeout`, rounded up).
pub fn hanging_probes(rate_per_sec: f64, timeout: Duration) -> usize {
    (rate_per_sec.max(0.0) * timeout.as_secs_f64()).ceil() as usize
}

impl TrafficOutcome {
    /// Why this measurement cannot be trusted (late or dropped sends), or `None`.
    pub fn degraded(&self) -> Option<String> {
        degraded_reason(
            self.probes.sent,
            self.probes.late_sends,
            self.probes.late_threshold,
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
