//! The one analysis of a run: the measured numbers of its report, computed from the
//! probe tally (read back from `probes.csv`), the journal and what the run knew besides
//! (`t_inject`, the fault's end, the lost writes, the recovery rule). A live report and
//! one rebuilt from the run folder both come from [`measure`], so they are equal by
//! construction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{data_loss, recovery, rto_breakdown, DataLoss, HealthChange, InjectSource, InjectTime, LostWrite};
use super::{Recovery, Route53Changes, RtoBreakdown, Series, Uncertainty};
use crate::journal::{Event, EventKind};
use crate::traffic::{ProbeSummary, BUCKET_MS, INTERVAL_MS};

/// Probe totals and latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    /// Probes sent.
    pub sent: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
    /// Reads of acknowledged writes answered 404 (served, but the data was gone; counted in `ok`).
    pub missing_reads: u64,
    /// Latency p50 from the scheduled time, ms.
    pub p50_ms: f64,
    /// Latency p99, ms.
    pub p99_ms: f64,
    /// Latency max, ms.
    pub max_ms: f64,
    /// Dispatch lag p99 (actual send − scheduled), ms.
    pub schedule_lag_p99_ms: f64,
    /// Dispatch lag max, ms.
    pub schedule_lag_max_ms: f64,
    /// Probes sent later than `late_threshold_ms` after their scheduled time.
    #[serde(default)]
    pub late_sends: u64,
    /// Dispatch lag above which a probe counts as late, ms.
    #[serde(default)]
    pub late_threshold_ms: f64,
    /// Due probes not sent because too many were still in flight.
    #[serde(default)]
    pub dropped_sends: u64,
    /// Latencies above the histogram bound (counted at the bound).
    pub saturated: u64,
    /// Failures by kind.
    pub failures: BTreeMap<String, u64>,
    /// Probes by `served-by` (instance/az/region).
    pub by_served_by: BTreeMap<String, u64>,
}

/// One point of the timeline (per 100 ms of scheduled time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the interval, ms since `t0_unix_ms`.
    pub t_ms: i64,
    /// Probes that succeeded.
    pub ok: u64,
    /// Probes that failed.
    pub failed: u64,
    /// Latency p99 in the interval, ms.
    pub p99_ms: Option<f64>,
    /// Completed probes in the interval by `served-by` (instance/az/region). Absent in
    /// reports written before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub served_by: BTreeMap<String, u64>,
}

/// What the sending side knew that the probe log does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SendCounts {
    /// Due probes not sent because `max_in_flight` probes were still running.
    pub dropped_sends: u64,
    /// The in-flight cap of the run.
    pub max_in_flight: usize,
    /// Writes acknowledged during the run.
    pub acked_writes: usize,
    /// The dispatch lag above which a probe counted as late, µs.
    pub late_threshold_us: u64,
}

/// How recovery is confirmed: the scenario's `steady_state.success_ratio` held for
/// `timings.stable_for`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecoveryRule {
    /// Success ratio that counts as steady state.
    pub success_ratio: f64,
    /// How long it must hold, ms.
    pub stable_for_ms: i64,
}

/// What [`measure`] is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The probes' tally.
    pub probes: &'a ProbeSummary,
    /// What the sender counted besides (absent for a run that never got that far).
    pub sends: Option<SendCounts>,
    /// The run's start, unix ms (timeline times are relative to it).
    pub t0_unix_ms: i64,
    /// When the report was made, unix ms (the fault's end when the experiment's is unknown).
    pub finished_unix_ms: i64,
    /// The journal.
    pub events: &'a [Event],
    /// `t_inject`, if the fault began.
    pub inject: Option<InjectTime>,
    /// When the fault ended, unix ms.
    pub fault_end_unix_ms: Option<i64>,
    /// How recovery is confirmed; without it (a run killed before its report) no
    /// recovery is computed.
    pub rule: Option<RecoveryRule>,
    /// The writes verification could not read back, once verified.
    pub lost: Option<&'a [LostWrite]>,
}

/// The measured numbers of a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurements {
    /// Probe totals and latency.
    pub probes: ProbeStats,
    /// Per 100 ms of scheduled time.
    pub timeline: Vec<TimelinePoint>,
    /// Why the measurement cannot be trusted (late or dropped sends), if so.
    pub measurement_degraded: Option<String>,
    /// RTO, ms; `None` when it never recovered or recovery was not computed.
    pub rto_ms: Option<i64>,
    /// ± bound of the RTO.
    pub rto_uncertainty_ms: Option<i64>,
    /// ± bound of the RPO.
    pub rpo_uncertainty_ms: Option<i64>,
    /// What bounds the numbers.
    pub uncertainty: Option<Uncertainty>,
    /// Where `t_inject` was read from.
    pub t_inject_source: Option<InjectSource>,
    /// Time serving below steady state, ms.
    pub outage_ms: Option<i64>,
    /// How recovery was found.
    pub recovery: Option<Recovery>,
    /// Where the recovery time went.
    pub rto_breakdown: Option<RtoBreakdown>,
    /// Lost writes and the RPO.
    pub data_loss: Option<DataLoss>,
    /// Share of probes served from `t_inject` to the fault's end.
    pub availability_during_fault: Option<f64>,
    /// Worst per-100 ms latency p99 during the fault, ms.
    pub p99_during_fault_ms: Option<f64>,
    /// A restore drill's restore job, recovery point and data age (see
    /// [`super::restore_drill`]).
    pub restore: Option<super::RestoreDrill>,
}

fn hist_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

fn max_ms(h: &hdrhistogram::Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.max() as f64 / 1000.0
    }
}

/// Probe totals and latency of `probes`.
pub fn probe_stats(probes: &ProbeSummary, sends: Option<SendCounts>) -> ProbeStats {
    let mut failures = BTreeMap::new();
    for b in &probes.buckets {
        for (kind, n) in b.failures.by_name() {
            if n > 0 {
                *failures.entry(kind.to_string()).or_insert(0) += u64::from(n);
            }
        }
    }
    ProbeStats {
        sent: probes.sent,
        ok: probes.ok,
        failed: probes.failed,
        missing_reads: probes.buckets.iter().map(|b| u64::from(b.missing)).sum(),
        p50_ms: hist_ms(&probes.latency, 0.5),
        p99_ms: hist_ms(&probes.latency, 0.99),
        max_ms: max_ms(&probes.latency),
        schedule_lag_p99_ms: hist_ms(&probes.schedule_lag, 0.99),
        schedule_lag_max_ms: max_ms(&probes.schedule_lag),
        late_sends: probes.late_sends,
        late_threshold_ms: probes.late_threshold.as_secs_f64() * 1000.0,
        dropped_sends: sends.map_or(0, |s| s.dropped_sends),
        saturated: probes.saturated,
        failures,
        by_served_by: probes.by_served_by.clone(),
    }
}

/// The timeline: counts, `served-by` and latency p99 per 100 ms of scheduled time.
pub fn timeline(probes: &ProbeSummary, t0_unix_ms: i64) -> Vec<TimelinePoint> {
    let slot_of = |unix_ms: i64| unix_ms.div_euclid(INTERVAL_MS) * INTERVAL_MS;
    let mut points: BTreeMap<i64, TimelinePoint> = BTreeMap::new();
    for b in &probes.buckets {
        let slot = slot_of(b.start_unix_ms);
        let p = points.entry(slot).or_insert(TimelinePoint {
            t_ms: slot - t0_unix_ms,
            ..TimelinePoint::default()
        });
        p.ok += u64::from(b.ok);
        p.failed += u64::from(b.failed);
    }
    for (start, counts) in probes.served_by.intervals() {
        if let Some(p) = points.get_mut(&slot_of(start)) {
            for (by, n) in counts {
                *p.served_by.entry(by.to_string()).or_default() += n;
            }
        }
    }
    for l in probes.latency_intervals.iter().filter(|l| l.count > 0) {
        if let Some(p) = points.get_mut(&slot_of(l.start_unix_ms)) {
            p.p99_ms = Some(l.p99_us as f64 / 1000.0);
        }
    }
    points.into_values().collect()
}

/// Why a measurement cannot be trusted — probes dropped at the in-flight cap, or more
/// than [`crate::traffic::MAX_LATE_SHARE`] of them sent late — or `None`.
pub fn degraded(probes: &ProbeSummary, sends: SendCounts) -> Option<String> {
    crate::traffic::degraded_reason(
        probes.sent,
        probes.late_sends,
        probes.late_threshold,
        sends.dropped_sends,
        sends.max_in_flight,
    )
}

/// The target health changes in the journal, in journal order.
fn health_changes(events: &[Event]) -> Vec<HealthChange<'_>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TargetHealth { target, state, .. } => Some((e.t_unix_ms, target.as_str(), state)),
            _ => None,
        })
        .collect()
}

/// Every measured number of a report, from `inputs` (see the module doc).
pub fn measure(inputs: &Inputs<'_>) -> Measurements {
    let probes = inputs.probes;
    let mut m = Measurements {
        probes: probe_stats(probes, inputs.sends),
        timeline: timeline(probes, inputs.t0_unix_ms),
        measurement_degraded: inputs.sends.and_then(|s| degraded(probes, s)),
        restore: super::restore_drill(inputs.events, None),
        ..Measurements::default()
    };
    let Some(inject) = inputs.inject else {
        return m;
    };
    let ti = inject.unix_ms;
    let series = Series::from_buckets(&probes.buckets, BUCKET_MS);
    let end = inputs.fault_end_unix_ms.unwrap_or(inputs.finished_unix_ms);
    let (ok, failed) = series.counts(ti, end);
    m.availability_during_fault = Some(if ok + failed > 0 {
        ok as f64 / (ok + failed) as f64
    } else {
        1.0
    });
    m.p99_during_fault_ms = probes
        .latency_intervals
        .iter()
        .filter(|l| l.start_unix_ms >= ti - INTERVAL_MS && l.start_unix_ms < end && l.count > 0)
        .map(|l| l.p99_us as f64 / 1000.0)
        .reduce(f64::max);
    if let Some(lost) = inputs.lost {
        m.data_loss = Some(data_loss(inputs.sends.map_or(0, |s| s.acked_writes), lost, ti));
    }
    let Some(rule) = inputs.rule else {
        return m;
    };
    let rec = recovery(&series, ti, rule.success_ratio, rule.stable_for_ms);
    let u = Uncertainty {
        probe_interval_ms: series.mean_interval_ms(),
        t_inject_ms: inject.precision_ms,
        clock_offset_ms: inject.clock_offset_ms,
    };
    m.rto_ms = rec.rto_ms;
    m.outage_ms = Some(rec.outage_ms);
    m.uncertainty = Some(u);
    m.t_inject_source = Some(inject.source);
    m.rto_uncertainty_ms = rec.rto_ms.map(|_| u.rto_ms().ceil() as i64);
    m.rpo_uncertainty_ms = inputs.lost.map(|_| u.rpo_ms().ceil() as i64);
    let route53 = Route53Changes::from_events(inputs.events);
    m.restore = super::restore_drill(inputs.events, rec.recovered_unix_ms);
    if let (Some(d), None) = (m.restore.as_mut(), rec.first_failure_unix_ms) {
        // No outage (a restore test, typically): the app served throughout, the restored
        // data from the switch's end on.
        d.serving_without_outage();
    }
    let mut breakdown =
        rto_breakdown(ti, &health_changes(inputs.events), inputs.fault_end_unix_ms, &rec).with_route53(ti, &route53);
    breakdown.restore = m.restore.as_ref().map(|d| d.breakdown(ti));
    m.rto_breakdown = Some(breakdown);
    m.recovery = Some(rec);
    m
}
