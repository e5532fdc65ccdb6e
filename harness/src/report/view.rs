//! What every renderer shows, derived once from a [`Report`]: the spans and moments on
//! the time axis (fault window, outage, data-loss window, observer events), the phases,
//! the top failure reasons, requests by zone, and how numbers are written.
//!
//! All times here are ms since the report's `t0_unix_ms`, like the report's own
//! `t_ms`; renderers show them relative to [`View::origin_ms`] (the injection when
//! there was one).

use std::collections::{BTreeMap, BTreeSet};

use super::{Report, ReportEvent};
use crate::journal::EventKind;
use crate::status::{ExperimentStatus, HealthCheckStatus, TargetHealthState};
use crate::verdict::ObjectiveResult;

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
        let end_of_data = report
            .timeline
            .last()
            .map(|p| p.t_ms + 100)
            .into_iter()
            .chain(report.events.iter().map(|e| e.t_ms))
            .max()
            .unwrap_or(0);
        let experiment_end = report
            .experiment
            .as_ref()
            .and_then(|e| rel(e.end_unix_ms, t0))
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
            });
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
        let after_inject = |e: &&ReportEvent| inject.is_none_or(|i| e.t_ms >= i);
        let unhealthy = report
            .events
            .iter()
            .filter(after_inject)
            .find(|e| matches!(&e.kind, EventKind::TargetHealth { state, .. } if state.is_out_of_service()))
            .map(|e| e.t_ms);
        // The first answer seen (no `previous`) is not a change.
        let mut dns = report
            .events
            .iter()
            .filter(after_inject)
            .find(|e| matches!(&e.kind, EventKind::DnsAnswerChanged { previous: Some(_), .. }))
            .map(|e| e.t_ms);
        let mut health_check_failed = report
            .events
            .iter()
            .filter(after_inject)
            .find(|e| {
                matches!(
                    &e.kind,
                    EventKind::Route53HealthCheck {
                        status: HealthCheckStatus::Unhealthy,
                        ..
                    }
                )
            })
            .map(|e| e.t_ms);
        let mut healthy_again = unhealthy.and_then(|from| all_healthy_again(&report.events, from));
        let mut unhealthy = unhealthy;
        // The run's own breakdown (ms after injection) wins over what is derived here.
        if let (Some(b), Some(i)) = (&report.rto_breakdown, inject) {
            unhealthy = b.targets_unhealthy_ms.map(|t| t + i).or(unhealthy);
            healthy_again = b.targets_healthy_again_ms.map(|t| t + i).or(healthy_again);
            health_check_failed = b.health_check_failed_ms.map(|t| t + i).or(health_check_failed);
            dns = b.dns_changed_ms.map(|t| t + i).or(dns);
        }
        let moments = vec![
            Moment {
                label: "fault injected (experiment running)",
                t_ms: inject,
                bound_ms: None,
            },
            Moment {
                label: "first failed probe",
                t_ms: first_failure,
                bound_ms: None,
            },
            Moment {
                label: "load balancer took a target out of service",
                t_ms: unhealthy,
                bound_ms: None,
            },
            Moment {
                label: HEALTH_CHECK_FAILED,
                t_ms: health_check_failed,
                bound_ms: None,
            },
            Moment {
                label: DNS_CHANGED,
                t_ms: dns,
                bound_ms: None,
            },
            Moment {
                label: "steady state back (recovered)",
                t_ms: recovered,
                bound_ms: rto_bound_ms(report),
            },
            Moment {
                label: "experiment ended",
                t_ms: experiment_end,
                bound_ms: None,
            },
            Moment {
                label: "every target healthy again",
                t_ms: healthy_again,
                bound_ms: None,
            },
        ];
        let phases = phases(&report.events, end_of_data);
        let stopped_in = (!report.complete)
            .then(|| {
                phases
                    .iter()
                    .rev()
                    .find(|p| p.phase != "report")
                    .map(|p| p.phase.clone())
            })
            .flatten();
        let mut failures: Vec<(String, u64)> = report.probes.failures.iter().map(|(k, n)| (k.clone(), *n)).collect();
        failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let zones: BTreeSet<String> = report
            .timeline
            .iter()
            .flat_map(|p| p.served_by.keys())
            .chain(report.probes.by_served_by.keys())
            .map(|s| zone_of(s).to_string())
            .collect();
        let start = report.timeline.first().map_or(0, |p| p.t_ms).min(0);
        // The chart ends with the traffic (or the fault, the outage or the data-loss
        // window when they last longer): verification and reporting come after it.
        let traffic_end = report.timeline.last().map(|p| p.t_ms + 100);
        let end = [
            traffic_end,
            fault.map(|s| s.to_ms),
            outage.map(|s| s.to_ms),
            data_loss.map(|s| s.to_ms),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(end_of_data);
        let end = end + 500;
        let origin_ms = inject.unwrap_or(0);
        let markers = markers(report, first_failure, recovered, data_loss)
            .into_iter()
            .filter(|m| (start..=end).contains(&m.t_ms))
            .collect();
        View {
            report,
            origin_ms,
            origin_label: if inject.is_some() { "injection" } else { "run start" },
            fault,
            outage,
            data_loss,
            rto_bound_ms: rto_bound_ms(report),
            rpo_bound_ms: rpo_bound_ms(report),
            markers,
            moments,
            phases,
            stopped_in,
            failures,
            zones: zones.into_iter().collect(),
            range: Span {
                from_ms: start,
                to_ms: end.max(start + 1000),
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

/// When every target that went unhealthy after `from` is healthy again.
fn all_healthy_again(events: &[ReportEvent], from: i64) -> Option<i64> {
    let mut down: BTreeSet<&str> = BTreeSet::new();
    let mut last_up = None;
    for e in events.iter().filter(|e| e.t_ms >= from) {
        let EventKind::TargetHealth { target, state, .. } = &e.kind else {
            continue;
        };
        let target = target.as_str();
        if *state == TargetHealthState::Healthy {
            if down.remove(target) && down.is_empty() {
                last_up = Some(e.t_ms);
            }
        } else {
            down.insert(target);
            last_up = None;
        }
    }
    last_up
}

fn phases(events: &[ReportEvent], end: i64) -> Vec<PhaseSpan> {
    let starts: Vec<(&str, i64)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PhaseStarted { phase } => Some((phase.name(), e.t_ms)),
            _ => None,
        })
        .collect();
    let finished = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::RunFinished { .. }))
        .map(|e| e.t_ms);
    starts
        .iter()
        .enumerate()
        .map(|(i, (phase, from))| {
            let to = starts.get(i + 1).map(|s| s.1).or(finished).unwrap_or(end).max(*from);
            PhaseSpan {
                phase: phase.to_string(),
                span: Span {
                    from_ms: *from,
                    to_ms: to,
                },
            }
        })
        .collect()
}

fn markers(r: &Report, first_failure: Option<i64>, recovered: Option<i64>, loss: Option<Span>) -> Vec<Marker> {
    let mut out = Vec::new();
    // Target health changes at the same moment with the same state are one marker.
    let mut health: BTreeMap<(i64, TargetHealthState), BTreeSet<String>> = BTreeMap::new();
    for e in &r.events {
        match &e.kind {
            EventKind::ExperimentState { status, .. } => {
                if matches!(status, ExperimentStatus::Pending | ExperimentStatus::Initiating) {
                    continue;
                }
                out.push(Marker {
                    lane: Lane::Experiment,
                    t_ms: e.t_ms,
                    label: status.to_string(),
                    tone: if *status == ExperimentStatus::Running {
                        Tone::Bad
                    } else {
                        Tone::Neutral
                    },
                });
            }
            EventKind::TargetHealth {
                target, zone, state, ..
            } => {
                let zone = zone.clone().unwrap_or_else(|| target.clone());
                health.entry((e.t_ms, state.clone())).or_default().insert(zone);
            }
            EventKind::GuardrailTripped { .. } | EventKind::Signal { .. } | EventKind::StopRequested { .. } => out
                .push(Marker {
                    lane: Lane::Experiment,
                    t_ms: e.t_ms,
                    label: e.name().replace('_', " "),
                    tone: Tone::Bad,
                }),
            EventKind::DnsAnswerChanged { .. } | EventKind::Route53HealthCheck { .. } => out.push(Marker {
                lane: Lane::Dns,
                t_ms: e.t_ms,
                label: dns_label(e),
                tone: Tone::Neutral,
            }),
            _ => {}
        }
    }
    let inject = r.t_inject_unix_ms.map(|t| t - r.t0_unix_ms);
    for ((t_ms, state), zones) in health {
        let count = r
            .events
            .iter()
            .filter(|e| e.t_ms == t_ms && matches!(&e.kind, EventKind::TargetHealth { state: s, .. } if *s == state))
            .count();
        // Targets found healthy before the fault (preflight) are not news.
        if state == TargetHealthState::Healthy && inject.is_none_or(|i| t_ms < i) {
            continue;
        }
        out.push(Marker {
            lane: Lane::Targets,
            t_ms,
            label: format!("{count} {state} ({})", zones.into_iter().collect::<Vec<_>>().join(", ")),
            tone: match state {
                TargetHealthState::Healthy => Tone::Good,
                s if s.is_out_of_service() || s == TargetHealthState::Unavailable => Tone::Bad,
                _ => Tone::Neutral,
            },
        });
    }
    if let Some(t) = first_failure {
        out.push(Marker {
            lane: Lane::Outage,
            t_ms: t,
            label: "first failure".into(),
            tone: Tone::Bad,
        });
    }
    if let Some(t) = recovered {
        out.push(Marker {
            lane: Lane::Outage,
            t_ms: t,
            label: "recovered".into(),
            tone: Tone::Good,
        });
    }
    if let (Some(span), Some(d)) = (loss, &r.data_loss) {
        out.push(Marker {
            lane: Lane::DataLoss,
            t_ms: span.from_ms,
            label: format!("{} lost writes", d.lost_writes),
            tone: Tone::Bad,
        });
    }
    out.sort_by(|a, b| a.lane.cmp(&b.lane).then(a.t_ms.cmp(&b.t_ms)));
    out
}

/// The label of a DNS or Route 53 event: its kind and what it saw now (the answers, or
/// the health check's status).
fn dns_label(e: &ReportEvent) -> String {
    let kind = e.name().replace('_', " ");
    match &e.kind {
        EventKind::DnsAnswerChanged { answers, .. } => format!("{kind}: {}", answers.join(" ")),
        EventKind::Route53HealthCheck { status, .. } => format!("{kind}: {status}"),
        _ => kind,
    }
}

/// `1234` ms as `1.23 s`.
pub fn secs(ms: i64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// `1234` ms as `+1.23 s` (always signed).
pub fn signed_secs(ms: i64) -> String {
    let sign = if ms < 0 { "−" } else { "+" };
    format!("{sign}{:.2} s", ms.unsigned_abs() as f64 / 1000.0)
}

/// An optional duration, `—` when absent.
pub fn opt_secs(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".into(), secs)
}

/// Whether [`with_uncertainty`] writes a sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// A duration: `1.98 s ± 0.02 s`.
    Unsigned,
    /// An offset from the injection: `+1.98 s ± 0.02 s`, `−0.45 s ± 0.10 s`.
    Signed,
}

/// A measured figure with its uncertainty, the one way every report writes it:
/// `1.98 s ± 0.02 s` (RTO, RPO, the data-loss window's ends; in summary.md, junit.xml,
/// report.html, the summary printed at the end of a run, the game-day tables, the
/// history and the comparison).
///
/// - The bound is rounded **up** to the printed precision, never down: a figure is never
///   claimed more precise than it is (15 ms prints as `± 0.02 s`).
/// - The precision is 2 decimals of seconds (10 ms) — at least that, always — and 3
///   (1 ms, the resolution of the report's times) when the bound is below 10 ms, where
///   2 decimals would overstate it (3 ms is `± 0.003 s`, not `± 0.01 s`).
/// - The value is rounded (half away from zero) to the same number of decimals as the
///   bound, so the two read together.
/// - `bound_ms` `None` — a report written before the uncertainty was recorded, or a
///   figure that is exact by definition (an RPO of 0 when nothing was lost) — prints the
///   value alone, exactly as such reports always printed it: `1.98 s` (`+1.98 s`).
pub fn with_uncertainty(value_ms: i64, bound_ms: Option<i64>, sign: Sign) -> String {
    let Some(bound_ms) = bound_ms else {
        return match sign {
            Sign::Unsigned => secs(value_ms),
            Sign::Signed => signed_secs(value_ms),
        };
    };
    let bound = bound_ms.max(0).unsigned_abs();
    let (decimals, step) = if bound < 10 { (3, 1) } else { (2, 10) };
    let value = (value_ms.unsigned_abs() + step / 2) / step;
    let bound = bound.div_ceil(step);
    let scale = 10u64.pow(decimals as u32);
    let num = |n: u64| format!("{}.{:0decimals$}", n / scale, n % scale);
    let sign = match (sign, value_ms < 0) {
        (Sign::Unsigned, true) => "-",
        (Sign::Signed, true) => "−",
        (Sign::Signed, false) => "+",
        (Sign::Unsigned, false) => "",
    };
    format!("{sign}{} s ± {} s", num(value), num(bound))
}

/// A bound in fractional ms rounded up to whole ms.
fn ceil_ms(ms: f64) -> i64 {
    ms.max(0.0).ceil() as i64
}

/// The ± bound of the report's RTO, ms (rounded up): `rto_uncertainty_ms`, else derived
/// from `uncertainty` (probe interval + `t_inject` precision + clock offset); `None` in
/// reports written before uncertainties were recorded.
pub fn rto_bound_ms(r: &Report) -> Option<i64> {
    r.rto_uncertainty_ms
        .or_else(|| r.uncertainty.map(|u| ceil_ms(u.rto_ms())))
}

/// The ± bound of the report's RPO and of the data-loss window's ends relative to the
/// injection, ms (rounded up): `rpo_uncertainty_ms`, else derived from `uncertainty`
/// (`t_inject` precision + clock offset). `None` in reports written before uncertainties
/// were recorded, and when no write was lost: the RPO is then 0 by definition, not a
/// measurement.
pub fn rpo_bound_ms(r: &Report) -> Option<i64> {
    if r.data_loss.as_ref().is_some_and(|d| d.lost_writes == 0) {
        return None;
    }
    r.rpo_uncertainty_ms
        .or_else(|| r.uncertainty.map(|u| ceil_ms(u.rpo_ms())))
}

/// The ± bound of an objective's measured value, ms: the RTO's for `rto`, the RPO's for
/// `rpo`, `None` for the others (counts and ratios carry none).
pub fn objective_bound_ms(r: &Report, o: &ObjectiveResult) -> Option<i64> {
    objective_bound(o, rto_bound_ms(r), rpo_bound_ms(r))
}

/// The ± bound of an objective's measured value given the RTO's and the RPO's bounds
/// (for rows that keep them, like a game day's).
pub fn objective_bound(o: &ObjectiveResult, rto_bound_ms: Option<i64>, rpo_bound_ms: Option<i64>) -> Option<i64> {
    match o.name.as_str() {
        "rto" => rto_bound_ms,
        "rpo" => rpo_bound_ms,
        _ => None,
    }
}

/// A value in an objective's unit, for a reader: durations in s or ms, ratios in %.
pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "ms" if v.abs() >= 1000.0 => format!("{:.2} s", v / 1000.0),
        "ms" => format!("{} ms", trim_float(v, 1)),
        "ratio" => format!("{}%", trim_float(v * 100.0, 2)),
        "count" | "writes" => trim_float(v, 0),
        other => format!("{} {other}", trim_float(v, 3)),
    }
}

fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The objective's target with its comparison, e.g. `≤ 10.00 s` or `≥ 50%`.
pub fn fmt_target(o: &ObjectiveResult) -> String {
    let op = if o.unit == "ratio" { "≥" } else { "≤" };
    format!("{op} {}", fmt_value(o.target, &o.unit))
}

/// The objective's measured value, with its uncertainty when `bound_ms` is given
/// ([`objective_bound_ms`]); `not measured` when absent.
pub fn fmt_measured(o: &ObjectiveResult, bound_ms: Option<i64>) -> String {
    match (o.measured, bound_ms) {
        (None, _) => "not measured".into(),
        (Some(m), Some(b)) if o.unit == "ms" => with_uncertainty(m.round() as i64, Some(b), Sign::Unsigned),
        (Some(m), _) => fmt_value(m, &o.unit),
    }
}

/// The objective's one-sentence result. With a bound ([`objective_bound_ms`]) the
/// measured value carries its uncertainty: `RTO 1.99 s ± 0.12 s ≤ 10.00 s (8.01 s to
/// spare)`, `RPO 0.999 s ± 0.005 s > 0 ms (over by 999 ms)`; without one (older reports,
/// counts, ratios, nothing measured) it is the message the run recorded.
pub fn objective_message(o: &ObjectiveResult, bound_ms: Option<i64>) -> String {
    match (o.measured, bound_ms) {
        (Some(m), Some(_)) if o.unit == "ms" => {
            let title = objective_title(&o.name);
            let measured = fmt_measured(o, bound_ms);
            let target = fmt_value(o.target, &o.unit);
            if m <= o.target {
                let spare = fmt_value(o.target - m, &o.unit);
                format!("{title} {measured} ≤ {target} ({spare} to spare)")
            } else {
                let over = fmt_value(m - o.target, &o.unit);
                format!("{title} {measured} > {target} (over by {over})")
            }
        }
        _ => o.message.clone(),
    }
}

/// A human name for an objective id.
pub fn objective_title(name: &str) -> String {
    match name {
        "rto" => "RTO".into(),
        "rpo" => "RPO".into(),
        "lost_writes" => "lost writes".into(),
        "availability_during_fault" => "availability during the fault".into(),
        "p99_during_fault" => "p99 latency during the fault".into(),
        other => other.replace('_', " "),
    }
}

/// Unix ms as an RFC 3339 UTC time with ms (`2026-01-02T03:04:05.678Z`).
pub fn utc(unix_ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Unix ms as a short UTC time (`2026-01-02 03:04:05 UTC`).
pub fn utc_short(unix_ms: i64) -> String {
    let full = utc(unix_ms);
    format!("{} UTC", full.get(..19).unwrap_or(&full).replace('T', " "))
}

/// A real report (the fixture run of `db-failover-async`: RTO 1.99 s, RPO 0.999 s, 70
/// writes lost from −0.999 s to −0.019 s) with the uncertainty a run records: probes every
/// 10 ms, `t_inject` to within the 100 ms polling interval, a clock offset within 4.2 ms.
#[cfg(test)]
pub(crate) fn uncertain_report() -> Report {
    let mut r: Report = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/db-failover-async/report.json"
    )))
    .expect("fixture report.json");
    let u = crate::analysis::Uncertainty {
        probe_interval_ms: 10.0,
        t_inject_ms: 100.0,
        clock_offset_ms: 4.2,
    };
    r.uncertainty = Some(u);
    r.rto_uncertainty_ms = Some(ceil_ms(u.rto_ms()));
    r.rpo_uncertainty_ms = Some(ceil_ms(u.rpo_ms()));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value is printed to the bound's precision — 2 decimals of seconds, 3 when the
    /// bound is under 10 ms — and the bound is rounded up, never down.
    #[test]
    fn a_figure_is_printed_with_its_bound_rounded_up() {
        let f = |v, b| with_uncertainty(v, Some(b), Sign::Unsigned);
        assert_eq!(f(1_980, 20), "1.98 s ± 0.02 s");
        assert_eq!(f(450, 100), "0.45 s ± 0.10 s");
        assert_eq!(f(1_984, 15), "1.98 s ± 0.02 s", "15 ms rounds up to 0.02 s");
        assert_eq!(f(1_984, 11), "1.98 s ± 0.02 s", "11 ms rounds up, not to 0.01 s");
        assert_eq!(f(1_985, 10), "1.99 s ± 0.01 s", "the value rounds half up");
        assert_eq!(f(1_984, 9), "1.984 s ± 0.009 s", "under 10 ms: ms precision");
        assert_eq!(f(1_984, 0), "1.984 s ± 0.000 s");
        assert_eq!(f(0, 115), "0.00 s ± 0.12 s");
        assert_eq!(f(41_500, 1_234), "41.50 s ± 1.24 s");
        assert_eq!(f(3_600_004, 20), "3600.00 s ± 0.02 s");
        assert_eq!(f(1_980, -5), "1.980 s ± 0.000 s", "a negative bound is no bound");
    }

    /// Offsets from the injection carry their sign (a true minus for negative ones).
    #[test]
    fn an_offset_is_signed() {
        let f = |v, b| with_uncertainty(v, b, Sign::Signed);
        assert_eq!(f(1_980, Some(20)), "+1.98 s ± 0.02 s");
        assert_eq!(f(-999, Some(105)), "−1.00 s ± 0.11 s");
        assert_eq!(f(-19, Some(105)), "−0.02 s ± 0.11 s");
        assert_eq!(f(-19, None), "−0.02 s");
        assert_eq!(f(0, None), "+0.00 s");
    }

    /// A report written before uncertainties were recorded prints the value alone, as it
    /// always did.
    #[test]
    fn without_a_bound_the_value_is_printed_alone() {
        assert_eq!(with_uncertainty(1_984, None, Sign::Unsigned), "1.98 s");
        assert_eq!(with_uncertainty(1_984, None, Sign::Unsigned), secs(1_984));
        assert_eq!(with_uncertainty(1_984, None, Sign::Signed), signed_secs(1_984));
    }

    /// The bounds come from the report's rounded-up fields, else from what they are made
    /// of; none for old reports, and none for an RPO of 0 with nothing lost.
    #[test]
    fn bounds_come_from_the_report() {
        let mut r = uncertain_report();
        assert_eq!((rto_bound_ms(&r), rpo_bound_ms(&r)), (Some(115), Some(105)));
        r.rto_uncertainty_ms = None;
        r.rpo_uncertainty_ms = None;
        assert_eq!(
            (rto_bound_ms(&r), rpo_bound_ms(&r)),
            (Some(115), Some(105)),
            "114.2 ms and 104.2 ms rounded up"
        );
        r.uncertainty = None;
        assert_eq!((rto_bound_ms(&r), rpo_bound_ms(&r)), (None, None), "an old report");
        let mut r = uncertain_report();
        if let Some(d) = r.data_loss.as_mut() {
            d.lost_writes = 0;
            d.rpo_ms = 0;
        }
        assert_eq!(rpo_bound_ms(&r), None, "nothing lost: RPO is exactly 0");
        assert_eq!(rto_bound_ms(&r), Some(115));
    }

    /// RTO and RPO objectives say their measured value with its uncertainty and keep
    /// saying by how much they were met or missed; the others keep the run's message.
    #[test]
    fn objectives_carry_the_uncertainty() {
        let r = uncertain_report();
        let by = |name: &str| r.objectives.iter().find(|o| o.name == name).unwrap();
        let (rto, rpo, lost) = (by("rto"), by("rpo"), by("lost_writes"));
        assert_eq!(fmt_measured(rto, objective_bound_ms(&r, rto)), "1.99 s ± 0.12 s");
        assert_eq!(
            objective_message(rto, objective_bound_ms(&r, rto)),
            "RTO 1.99 s ± 0.12 s ≤ 10.00 s (8.01 s to spare)"
        );
        assert_eq!(
            objective_message(rpo, objective_bound_ms(&r, rpo)),
            "RPO 1.00 s ± 0.11 s > 0 ms (over by 999 ms)"
        );
        assert_eq!(objective_bound_ms(&r, lost), None);
        assert_eq!(objective_message(lost, None), lost.message);
        assert_eq!(fmt_measured(rto, None), "1.99 s", "old reports");
        assert_eq!(objective_message(rto, None), rto.message);
    }

    /// The view writes the headline numbers, the data-loss window's ends and the
    /// recovery moment (the RTO) with their bounds.
    #[test]
    fn the_view_writes_rto_rpo_and_the_window_with_their_bounds() {
        let r = uncertain_report();
        let v = View::new(&r);
        assert_eq!(v.rto(), "1.99 s ± 0.12 s");
        assert_eq!(v.rpo(), "1.00 s ± 0.11 s");
        assert_eq!(v.data_loss_window(), "−1.00 s ± 0.11 s → −0.02 s ± 0.11 s");
        let recovered = v.moments.iter().find(|m| m.label.contains("recovered")).unwrap();
        assert_eq!(recovered.bound_ms, Some(115));
        assert!(v.moments.iter().filter(|m| m.bound_ms.is_some()).count() == 1);
    }
}
