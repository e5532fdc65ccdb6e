//! What every renderer shows, derived once from a [`Report`]: the spans and moments on
//! the time axis (fault window, outage, data-loss window, observer events), the phases,
//! the top failure reasons, requests by zone, and how numbers are written.
//!
//! All times here are ms since the report's `t0_unix_ms`, like the report's own
//! `t_ms`; renderers show them relative to [`View::origin_ms`] (the injection when
//! there was one).

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::journal::EventKind;

mod events;
mod figures;
mod moments;
mod restore;

use events::{all_healthy_again, markers, phases};
pub use figures::*;
pub use restore::RestoreLine;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::uncertain_report;

/// A span of time, ms since `t0_unix_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start.
    pub from_ms: i64,
    /// End (at least `from_ms`).
    pub to_ms: i64,
}

/// One moment of the recovery breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    /// What happened, for a reader.
    pub label: &'static str,
    /// When, ms since `t0_unix_ms`; `None` when it did not happen (or was not observed).
    pub t_ms: Option<i64>,
    /// The ± bound of the moment relative to the injection, ms, when the moment is a
    /// measured figure of the report (the recovery is the RTO: its bound); `None` for
    /// the others.
    pub bound_ms: Option<i64>,
}

/// The lanes of the timeline's event strip, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// The FIS experiment (the fault window) and its state changes.
    Experiment,
    /// From the first failed probe to the recovery.
    Outage,
    /// From the first to the last lost acknowledged write.
    DataLoss,
    /// Load balancer target health changes.
    Targets,
    /// DNS answer / Route 53 health changes.
    Dns,
}

impl Lane {
    /// Every lane, top to bottom.
    pub const ALL: [Lane; 5] = [Lane::Experiment, Lane::Outage, Lane::DataLoss, Lane::Targets, Lane::Dns];

    /// The lane's name on the chart.
    pub fn title(self) -> &'static str {
        match self {
            Lane::Experiment => "fault (FIS)",
            Lane::Outage => "outage",
            Lane::DataLoss => "data loss",
            Lane::Targets => "ELB targets",
            Lane::Dns => "DNS",
        }
    }
}

/// Whether a marker is good news, bad news or neither (its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Something broke (unhealthy, first failure, experiment running).
    Bad,
    /// Something came back (healthy, recovered).
    Good,
    /// Neither.
    Neutral,
}

/// An observer event placed on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Its lane.
    pub lane: Lane,
    /// When, ms since `t0_unix_ms`.
    pub t_ms: i64,
    /// Short label.
    pub label: String,
    /// Colour class.
    pub tone: Tone,
}

/// How long one phase of the run took.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    /// `preflight`, `inject`, `observe`, `recover`, `verify` or `report`.
    pub phase: String,
    /// Its span.
    pub span: Span,
}

/// Everything a renderer needs beyond the report's own fields.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// The report.
    pub report: &'a Report,
    /// Origin of displayed times, ms since `t0_unix_ms`: the injection, else 0.
    pub origin_ms: i64,
    /// What the origin is: `injection` or `run start`.
    pub origin_label: &'static str,
    /// The fault window (experiment running → ended).
    pub fault: Option<Span>,
    /// First failed probe → recovered (or the end of the data when it never recovered).
    pub outage: Option<Span>,
    /// First → last lost acknowledged write.
    pub data_loss: Option<Span>,
    /// The ± bound of the RTO, ms ([`rto_bound_ms`]).
    pub rto_bound_ms: Option<i64>,
    /// The ± bound of the RPO and of the data-loss window's ends relative to the
    /// injection, ms ([`rpo_bound_ms`]).
    pub rpo_bound_ms: Option<i64>,
    /// The recovery breakdown, in the order things are expected to happen.
    pub moments: Vec<Moment>,
    /// Observer events for the timeline strip (those within [`View::range`]).
    pub markers: Vec<Marker>,
    /// The phases the run went through.
    pub phases: Vec<PhaseSpan>,
    /// For a run that did not complete, the phase it stopped in.
    pub stopped_in: Option<String>,
    /// Failure kinds with counts, most frequent first.
    pub failures: Vec<(String, u64)>,
    /// Zones (or regions) seen in `served-by`, sorted.
    pub zones: Vec<String>,
    /// The displayed time range, ms since `t0_unix_ms`: from the first probe (or the run
    /// start) to half a second after the traffic, the fault, the outage and the
    /// data-loss window.
    pub range: Span,
}

fn rel(unix_ms: Option<i64>, t0: i64) -> Option<i64> {
    unix_ms.map(|t| t - t0)
}

/// The zone part of a `served-by` value (`instance/zone/region`), or the whole value.
pub fn zone_of(served_by: &str) -> &str {
    served_by
        .split('/')
        .nth(1)
        .filter(|z| !z.is_empty())
        .unwrap_or(served_by)
}

/// The moment a Route 53 health check of the app's records first failed (detection).
pub const HEALTH_CHECK_FAILED: &str = "Route 53 health check failed (detection)";
/// The moment the app name's DNS answer first changed (failover).
pub const DNS_CHANGED: &str = "DNS answer changed (failover)";

impl<'a> View<'a> {
    /// Derives the view of `report`.
    pub fn new(report: &'a Report) -> View<'a> {
        let t0 = report.t0_unix_ms;
        let inject = rel(report.t_inject_unix_ms, t0);
        let end_of_data = end_of_data(report);
        let experiment_end = experiment_end(report);
        let fault = inject.map(|from| Span {
            from_ms: from,
            to_ms: experiment_end.unwrap_or(end_of_data).max(from),
        });
        let recovery = report.recovery.as_ref();
        let first_failure = recovery.and_then(|r| rel(r.first_failure_unix_ms, t0));
        let recovered = recovery.and_then(|r| rel(r.recovered_unix_ms, t0));
        let outage = first_failure.map(|from| Span {
            from_ms: from,
            to_ms: recovered.unwrap_or(end_of_data).max(from),
        });
        let data_loss = report
            .data_loss
            .as_ref()
            .and_then(|d| d.window_unix_ms)
            .map(|(a, b)| Span {
                from_ms: a - t0,
                to_ms: (b - t0).max(a - t0),
            });
        let moments = moments::moments(
            report,
            moments::Known {
                inject,
                first_failure,
                recovered,
                experiment_end,
            },
        );
        let phases = phases(&report.events, end_of_data);
        let range = range(report, [fault, outage, data_loss], end_of_data);
        let markers = markers(report, first_failure, recovered, data_loss)
            .into_iter()
            .filter(|m| (range.from_ms..=range.to_ms).contains(&m.t_ms))
            .collect();
        View {
            report,
            origin_ms: inject.unwrap_or(0),
            origin_label: if inject.is_some() { "injection" } else { "run start" },
            fault,
            outage,
            data_loss,
            rto_bound_ms: rto_bound_ms(report),
            rpo_bound_ms: rpo_bound_ms(report),
            markers,
            moments,
            stopped_in: stopped_in(report, &phases),
            phases,
            failures: failures(report),
            zones: zones(report),
            range: Span {
                from_ms: range.from_ms,
                to_ms: range.to_ms.max(range.from_ms + 1000),
            },
        }
    }

    /// `t_ms` (since `t0_unix_ms`) relative to the origin, as `+1.23 s`.
    pub fn at(&self, t_ms: i64) -> String {
        signed_secs(t_ms - self.origin_ms)
    }

    /// `t_ms` relative to the origin with its ± bound, as `+1.23 s ± 0.02 s` (see
    /// [`with_uncertainty`]; the value alone when `bound_ms` is `None`).
    pub fn at_with(&self, t_ms: i64, bound_ms: Option<i64>) -> String {
        with_uncertainty(t_ms - self.origin_ms, bound_ms, Sign::Signed)
    }

    /// The measured RTO with its uncertainty, `—` when there is none.
    pub fn rto(&self) -> String {
        self.report.rto_ms.map_or_else(
            || "—".into(),
            |ms| with_uncertainty(ms, self.rto_bound_ms, Sign::Unsigned),
        )
    }

    /// The measured RPO with its uncertainty, `—` when writes were not verified.
    pub fn rpo(&self) -> String {
        self.report.data_loss.as_ref().map_or_else(
            || "—".into(),
            |d| with_uncertainty(d.rpo_ms, self.rpo_bound_ms, Sign::Unsigned),
        )
    }

    /// The data-loss window relative to the origin, each end with its uncertainty:
    /// `−0.98 s ± 0.10 s → −0.02 s ± 0.10 s`; `—` when nothing was lost.
    pub fn data_loss_window(&self) -> String {
        self.data_loss.map_or_else(
            || "—".into(),
            |s| {
                format!(
                    "{} → {}",
                    self.at_with(s.from_ms, self.rpo_bound_ms),
                    self.at_with(s.to_ms, self.rpo_bound_ms)
                )
            },
        )
    }

    /// Requests per zone in each timeline point: `(t_ms, zone index, count)`.
    pub fn requests_by_zone(&self) -> Vec<(i64, Vec<u64>)> {
        self.report
            .timeline
            .iter()
            .map(|p| {
                let mut counts = vec![0; self.zones.len()];
                for (by, n) in &p.served_by {
                    if let Ok(i) = self.zones.binary_search_by(|z| z.as_str().cmp(zone_of(by))) {
                        counts[i] += n;
                    }
                }
                (p.t_ms, counts)
            })
            .collect()
    }

    /// Probes per zone over the whole run, from `probes.by_served_by`.
    pub fn totals_by_zone(&self) -> Vec<(String, u64)> {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for (k, n) in &self.report.probes.by_served_by {
            *by.entry(zone_of(k).to_string()).or_default() += n;
        }
        by.into_iter().collect()
    }
}

/// The end of the data: the last timeline point's end, or the last event.
fn end_of_data(report: &Report) -> i64 {
    report
        .timeline
        .last()
        .map(|p| p.t_ms + 100)
        .into_iter()
        .chain(report.events.iter().map(|e| e.t_ms))
        .max()
        .unwrap_or(0)
}

/// When the experiment ended: FIS's end time, else the first final state seen.
fn experiment_end(report: &Report) -> Option<i64> {
    report
        .experiment
        .as_ref()
        .and_then(|e| rel(e.end_unix_ms, report.t0_unix_ms))
        .or_else(|| {
            report
                .events
                .iter()
                .find(|e| {
                    matches!(
                        &e.kind,
                        EventKind::ExperimentState { status, .. }
                            if status.is_final()
                    )
                })
                .map(|e| e.t_ms)
        })
}

/// The range markers are kept in: from the first probe (or the run start) to half a
/// second after the traffic, or after the fault, the outage or the data-loss window
/// (`windows`) when they last longer: verification and reporting come after it.
fn range(report: &Report, windows: [Option<Span>; 3], end_of_data: i64) -> Span {
    let start = report.timeline.first().map_or(0, |p| p.t_ms).min(0);
    let traffic_end = report.timeline.last().map(|p| p.t_ms + 100);
    let end = std::iter::once(traffic_end)
        .chain(windows.iter().map(|w| w.map(|s| s.to_ms)))
        .flatten()
        .max()
        .unwrap_or(end_of_data);
    Span {
        from_ms: start,
        to_ms: end + 500,
    }
}

/// For a run that did not complete, the phase it stopped in.
fn stopped_in(report: &Report, phases: &[PhaseSpan]) -> Option<String> {
    (!report.complete)
        .then(|| {
            phases
                .iter()
                .rev()
                .find(|p| p.phase != "report")
                .map(|p| p.phase.clone())
        })
        .flatten()
}

/// Failure kinds with counts, most frequent first.
fn failures(report: &Report) -> Vec<(String, u64)> {
    let mut failures: Vec<(String, u64)> = report.probes.failures.iter().map(|(k, n)| (k.clone(), *n)).collect();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    failures
}

/// Zones (or regions) seen in `served-by`, sorted.
fn zones(report: &Report) -> Vec<String> {
    let zones: BTreeSet<String> = report
        .timeline
        .iter()
        .flat_map(|p| p.served_by.keys())
        .chain(report.probes.by_served_by.keys())
        .map(|s| zone_of(s).to_string())
        .collect();
    zones.into_iter().collect()
}
