//! The recovery breakdown: the moments of a run in the order things are expected to
//! happen, each derived from the journal's events unless the run recorded its own
//! breakdown.

use super::{all_healthy_again, rto_bound_ms, Moment, DNS_CHANGED, HEALTH_CHECK_FAILED};
use crate::journal::EventKind;
use crate::report::{Report, ReportEvent};
use crate::status::HealthCheckStatus;

/// The moments [`super::View::new`] has already derived, ms since `t0_unix_ms`.
pub(super) struct Known {
    /// The injection.
    pub inject: Option<i64>,
    /// The first failed probe.
    pub first_failure: Option<i64>,
    /// The steady state back.
    pub recovered: Option<i64>,
    /// The experiment's end.
    pub experiment_end: Option<i64>,
}

/// The observers' moments, ms since `t0_unix_ms`.
struct Observed {
    unhealthy: Option<i64>,
    healthy_again: Option<i64>,
    health_check_failed: Option<i64>,
    dns: Option<i64>,
}

/// When the observers first saw the fault, after the injection; the run's own breakdown
/// (ms after injection) wins over what is derived here.
fn observed(report: &Report, inject: Option<i64>) -> Observed {
    let after_inject = |e: &&ReportEvent| inject.is_none_or(|i| e.t_ms >= i);
    let first = |found: fn(&EventKind) -> bool| {
        report
            .events
            .iter()
            .filter(after_inject)
            .find(|e| found(&e.kind))
            .map(|e| e.t_ms)
    };
    let unhealthy = first(|k| matches!(k, EventKind::TargetHealth { state, .. } if state.is_out_of_service()));
    let mut o = Observed {
        unhealthy,
        healthy_again: unhealthy.and_then(|from| all_healthy_again(&report.events, from)),
        health_check_failed: first(|k| {
            matches!(
                k,
                EventKind::Route53HealthCheck {
                    status: HealthCheckStatus::Unhealthy,
                    ..
                }
            )
        }),
        // The first answer seen (no `previous`) is not a change.
        dns: first(|k| matches!(k, EventKind::DnsAnswerChanged { previous: Some(_), .. })),
    };
    if let (Some(b), Some(i)) = (&report.rto_breakdown, inject) {
        o.unhealthy = b.targets_unhealthy_ms.map(|t| t + i).or(o.unhealthy);
        o.healthy_again = b.targets_healthy_again_ms.map(|t| t + i).or(o.healthy_again);
        o.health_check_failed = b.health_check_failed_ms.map(|t| t + i).or(o.health_check_failed);
        o.dns = b.dns_changed_ms.map(|t| t + i).or(o.dns);
    }
    o
}

/// A moment that is not a measured figure (no bound).
fn moment(label: &'static str, t_ms: Option<i64>) -> Moment {
    Moment {
        label,
        t_ms,
        bound_ms: None,
    }
}

/// The recovery breakdown, in the order things are expected to happen.
pub(super) fn moments(report: &Report, k: Known) -> Vec<Moment> {
    let o = observed(report, k.inject);
    // A restore test injects nothing: no experiment to end, no outage to detect.
    let restore_test = report.experiment.is_none() && report.restore.is_some();
    let inject = if restore_test {
        "restore test started (no disaster: the restore job's creation)"
    } else {
        "fault injected (experiment running)"
    };
    let mut all = vec![
        moment(inject, k.inject),
        moment("first failed probe", k.first_failure),
        moment("load balancer took a target out of service", o.unhealthy),
        moment(HEALTH_CHECK_FAILED, o.health_check_failed),
    ];
    if let Some(d) = &report.restore {
        let rel = |t: Option<i64>| t.map(|t| t - report.t0_unix_ms);
        if !restore_test {
            all.push(moment(
                "probes saw the outage (restore started on detection)",
                rel(d.detected_unix_ms),
            ));
        }
        all.extend([
            moment("restore job created (AWS Backup)", rel(d.job_creation_unix_ms)),
            moment("restore job completed (AWS Backup)", rel(d.job_completion_unix_ms)),
            moment(
                "switch to the restored resource finished",
                rel(d.switch_finished_unix_ms),
            ),
        ]);
    }
    all.extend([
        moment(DNS_CHANGED, o.dns),
        Moment {
            label: "steady state back (recovered)",
            t_ms: k.recovered,
            bound_ms: rto_bound_ms(report),
        },
    ]);
    if report.experiment.is_some() {
        all.push(moment("experiment ended", k.experiment_end));
    }
    all.push(moment("every target healthy again", o.healthy_again));
    all
}
