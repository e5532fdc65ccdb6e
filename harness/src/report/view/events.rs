//! What the view derives from the journal's events: the phases, when every target was
//! healthy again, and the markers of the timeline's event strip.

use std::collections::{BTreeMap, BTreeSet};

use super::{Lane, Marker, PhaseSpan, Span, Tone};
use crate::journal::EventKind;
use crate::report::{Report, ReportEvent};
use crate::status::{ExperimentStatus, TargetHealthState};

/// When every target that went unhealthy after `from` is healthy again.
pub(super) fn all_healthy_again(events: &[ReportEvent], from: i64) -> Option<i64> {
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

/// The phases the run went through, each until the next one started (the last until the
/// run finished, else `end`).
pub(super) fn phases(events: &[ReportEvent], end: i64) -> Vec<PhaseSpan> {
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

/// Target health changes that happened at the same moment with the same state: one
/// marker, listing the zones.
type HealthChanges = BTreeMap<(i64, TargetHealthState), BTreeSet<String>>;

/// Every marker of the timeline's event strip, sorted by lane, then time.
pub(super) fn markers(
    r: &Report,
    first_failure: Option<i64>,
    recovered: Option<i64>,
    loss: Option<Span>,
) -> Vec<Marker> {
    let mut health = HealthChanges::new();
    let mut out = event_markers(r, &mut health);
    out.extend(health_markers(r, health));
    out.extend(outcome_markers(r, first_failure, recovered, loss));
    out.sort_by(|a, b| a.lane.cmp(&b.lane).then(a.t_ms.cmp(&b.t_ms)));
    out
}

/// The markers of the experiment's and the DNS observers' events; target health changes
/// are gathered into `health`.
fn event_markers(r: &Report, health: &mut HealthChanges) -> Vec<Marker> {
    let mut out = Vec::new();
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
    out
}

/// One marker per group of target health changes (healthy ones before the fault left out).
fn health_markers(r: &Report, health: HealthChanges) -> Vec<Marker> {
    let inject = r.t_inject_unix_ms.map(|t| t - r.t0_unix_ms);
    let mut out = Vec::new();
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
    out
}

/// The outage's ends and the start of the data loss.
fn outcome_markers(r: &Report, first_failure: Option<i64>, recovered: Option<i64>, loss: Option<Span>) -> Vec<Marker> {
    let mut out = Vec::new();
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
