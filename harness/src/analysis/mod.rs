//! Analysis: the numbers of a drill, exactly as docs/design.md defines them, computed
//! from the per-bucket probe counts, the injection time and the writes that were lost.
//!
//! - RTO = `t_recover − t_inject`, where `t_recover` is the scheduled time of the first
//!   probe after the outage's last failure ([`recovery`] says how that failure is found
//!   and how the `stable_for` window confirms it); 0 when there was no outage; `None`
//!   when it never recovered.
//! - RPO = `t_inject − first lost ack` (0 when nothing was lost; never negative).
//! - The RTO breakdown splits it into detection (the load balancer marked a target
//!   unhealthy, a Route 53 health check failed), failover (the DNS answer changed) and
//!   recovery (serving again), from the observers' events.

use serde::{Deserialize, Serialize};

use crate::journal::{Event, EventKind};
use crate::status::{HealthCheckStatus, TargetHealthState};

mod recovery;
mod restore;
mod summary;

pub use recovery::{recovery, recovery_after_baseline, Recovery, Series, DETECT_EXCESS};
pub use restore::{restore_drill, RestoreBreakdown, RestoreDrill};
pub use summary::{
    degraded, measure, probe_stats, timeline, Inputs, Measurements, ProbeStats, RecoveryRule, SendCounts, TimelinePoint,
};

/// Where `t_inject` was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectSource {
    /// The earliest `startTime` FIS reports for the experiment's fault actions
    /// (GetExperiment, per action).
    FisActionStart,
    /// The moment drdrill saw the experiment `running` (FIS gave no action start time).
    ObservedRunning,
    /// A restore test (no disaster): the restore job's `CreationDate` (AWS Backup's
    /// clock), brought to this machine's clock by the offset its StartRestoreJob call
    /// bounds.
    RestoreJobCreation,
    /// A restore test whose DescribeRestoreJob gave no `CreationDate`: the middle of the
    /// StartRestoreJob call on this machine's clock, ± half its round trip.
    RestoreJobCall,
}

/// When the fault's effect began (`t_inject`), on this machine's clock, and how well
/// that is known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InjectTime {
    /// `t_inject`, unix ms on this machine's clock.
    pub unix_ms: i64,
    /// Where it was read from.
    pub source: InjectSource,
    /// ± how precisely the source dates the effect's start, ms (the timestamps'
    /// resolution for FIS's own times; the polling interval for an observed transition).
    pub precision_ms: f64,
    /// ± bound of the offset between this machine's clock and the endpoint's, ms (0 when
    /// the time was read on this machine's clock).
    pub clock_offset_ms: f64,
}

impl InjectTime {
    /// A restore test's `t_inject` as journaled.
    pub fn from_restore_test(j: &crate::journal::RestoreTestInject) -> InjectTime {
        InjectTime {
            unix_ms: j.unix_ms,
            source: if j.from_creation_date {
                InjectSource::RestoreJobCreation
            } else {
                InjectSource::RestoreJobCall
            },
            precision_ms: j.precision_ms,
            clock_offset_ms: j.clock_offset_ms,
        }
    }

    /// The same as journaled for a restore test (`None` unless it is dated by a restore
    /// job).
    pub fn to_restore_test(&self) -> Option<crate::journal::RestoreTestInject> {
        let from_creation_date = match self.source {
            InjectSource::RestoreJobCreation => true,
            InjectSource::RestoreJobCall => false,
            _ => return None,
        };
        Some(crate::journal::RestoreTestInject {
            unix_ms: self.unix_ms,
            from_creation_date,
            precision_ms: self.precision_ms,
            clock_offset_ms: self.clock_offset_ms,
        })
    }
}

/// What bounds the measured numbers: every figure is printed as `value ± bound`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Uncertainty {
    /// Mean interval between scheduled probes, ms: `t_recover` is dated to within it.
    pub probe_interval_ms: f64,
    /// ± precision of `t_inject`, ms.
    pub t_inject_ms: f64,
    /// ± bound of the clock offset between this machine and the endpoint that dated `t_inject`
    /// (FIS; AWS Backup in a restore test), ms.
    pub clock_offset_ms: f64,
}

impl Uncertainty {
    /// The bound of an RTO: `t_recover`'s probe interval plus `t_inject`'s precision and
    /// clock offset (worst case, added).
    pub fn rto_ms(&self) -> f64 {
        self.probe_interval_ms + self.t_inject_ms + self.clock_offset_ms
    }

    /// The bound of an RPO and of the data-loss window relative to injection: acks are
    /// timed on this machine's clock, so only `t_inject`'s precision and the clock offset.
    pub fn rpo_ms(&self) -> f64 {
        self.t_inject_ms + self.clock_offset_ms
    }
}

/// Where the recovery time went, from the observers' events, in ms after injection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtoBreakdown {
    /// First failed probe.
    pub first_failure_ms: Option<i64>,
    /// The load balancer first took a target out of service: `unhealthy`, `unused` or
    /// `draining` (detection; see [`TargetHealthState::is_out_of_service`]).
    pub targets_unhealthy_ms: Option<i64>,
    /// Every target the load balancer marked unhealthy after injection was healthy again.
    pub targets_healthy_again_ms: Option<i64>,
    /// A Route 53 health check of the entry point first reported unhealthy (detection,
    /// when the app is reached by a Route 53 name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_failed_ms: Option<i64>,
    /// The DNS answer for the app's name first changed (failover, when the app is reached
    /// by a Route 53 name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_changed_ms: Option<i64>,
    /// The experiment ended.
    pub experiment_ended_ms: Option<i64>,
    /// Steady state was back (`t_recover`).
    pub recovered_ms: Option<i64>,
    /// A restore drill's steps: detection, the restore job (AWS Backup's times), the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreBreakdown>,
}

/// A target health change as the observers saw it: (unix ms, target, state).
pub type HealthChange<'a> = (i64, &'a str, &'a TargetHealthState);

/// Builds the RTO breakdown from target health changes and the recovery numbers.
pub fn rto_breakdown(
    t_inject_unix_ms: i64,
    health: &[HealthChange<'_>],
    experiment_end_unix_ms: Option<i64>,
    recovery: &Recovery,
) -> RtoBreakdown {
    let rel = |t: i64| t - t_inject_unix_ms;
    let after: Vec<&HealthChange<'_>> = health.iter().filter(|(t, _, _)| *t >= t_inject_unix_ms).collect();
    let first_unhealthy = after.iter().find(|(_, _, s)| s.is_out_of_service()).map(|(t, _, _)| *t);
    let mut down: Vec<&str> = Vec::new();
    let mut back = None;
    for (t, target, state) in &after {
        if state.is_out_of_service() {
            if !down.contains(target) {
                down.push(target);
            }
        } else if **state == TargetHealthState::Healthy {
            down.retain(|d| d != target);
            if down.is_empty() && first_unhealthy.is_some_and(|u| *t > u) {
                back = Some(*t);
            }
        }
    }
    RtoBreakdown {
        first_failure_ms: recovery.first_failure_unix_ms.map(rel),
        targets_unhealthy_ms: first_unhealthy.map(rel),
        targets_healthy_again_ms: if down.is_empty() { back.map(rel) } else { None },
        health_check_failed_ms: None,
        dns_changed_ms: None,
        experiment_ended_ms: experiment_end_unix_ms.map(rel),
        recovered_ms: recovery.recovered_unix_ms.map(rel),
        restore: None,
    }
}

/// When the Route 53 observers saw things change (unix ms, in journal order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route53Changes {
    /// A health check of the app's records turned unhealthy.
    pub health_check_unhealthy: Vec<i64>,
    /// The DNS answer for the app's name changed (the first answer seen is not a change).
    pub dns_changed: Vec<i64>,
}

impl Route53Changes {
    /// Collects them from the journal.
    pub fn from_events(events: &[Event]) -> Route53Changes {
        let mut changes = Route53Changes::default();
        for e in events {
            match &e.kind {
                EventKind::Route53HealthCheck {
                    status: HealthCheckStatus::Unhealthy,
                    ..
                } => {
                    changes.health_check_unhealthy.push(e.t_unix_ms);
                }
                EventKind::DnsAnswerChanged { previous: Some(_), .. } => changes.dns_changed.push(e.t_unix_ms),
                _ => {}
            }
        }
        changes
    }
}

impl RtoBreakdown {
    /// Fills detection by a Route 53 health check and failover by DNS: the first of each
    /// at or after injection, in ms after it.
    pub fn with_route53(mut self, t_inject_unix_ms: i64, changes: &Route53Changes) -> RtoBreakdown {
        let first_after = |times: &[i64]| {
            times
                .iter()
                .copied()
                .filter(|t| *t >= t_inject_unix_ms)
                .min()
                .map(|t| t - t_inject_unix_ms)
        };
        self.health_check_failed_ms = first_after(&changes.health_check_unhealthy);
        self.dns_changed_ms = first_after(&changes.dns_changed);
        self
    }
}

/// A write that was acknowledged, with when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWrite {
    /// Write id.
    pub id: String,
    /// When the 2xx arrived, unix ms.
    pub acked_unix_ms: i64,
}

/// Data-loss numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataLoss {
    /// Writes acknowledged during the run.
    pub acked_writes: usize,
    /// Acknowledged writes that could not be read back.
    pub lost_writes: usize,
    /// `[first lost ack, last lost ack]`, unix ms.
    pub window_unix_ms: Option<(i64, i64)>,
    /// Length of that window.
    pub window_ms: i64,
    /// `t_inject − first lost ack`, at least 0.
    pub rpo_ms: i64,
    /// Ids of the lost writes, in ack order.
    pub lost_ids: Vec<String>,
}

/// Computes the data-loss window and RPO.
pub fn data_loss(acked_writes: usize, lost: &[LostWrite], t_inject_unix_ms: i64) -> DataLoss {
    let mut lost = lost.to_vec();
    lost.sort_by_key(|l| (l.acked_unix_ms, l.id.clone()));
    let window = lost
        .first()
        .zip(lost.last())
        .map(|(a, b)| (a.acked_unix_ms, b.acked_unix_ms));
    DataLoss {
        acked_writes,
        lost_writes: lost.len(),
        window_unix_ms: window,
        window_ms: window.map_or(0, |(a, b)| b - a),
        rpo_ms: window.map_or(0, |(a, _)| (t_inject_unix_ms - a).max(0)),
        lost_ids: lost.into_iter().map(|l| l.id).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Detection is the first unhealthy target after injection; "healthy again" waits for
    /// every target that went down.
    #[test]
    fn breakdown_from_health_changes() {
        let rec = Recovery {
            first_failure_unix_ms: Some(1_010),
            recovered_unix_ms: Some(3_000),
            recovered_unix_us: Some(3_000_000),
            rto_ms: Some(2_000),
            outage_ms: 1_000,
            failed_probes: 5,
            worst_window: None,
            background_failure_share: 0.0,
            last_failure_unix_us: None,
        };
        let (up, down) = (TargetHealthState::Healthy, TargetHealthState::Unhealthy);
        let health = [
            (900, "i-a", &up),
            (1_500, "i-a", &down),
            (1_600, "i-b", &down),
            (5_000, "i-a", &up),
            (6_000, "i-b", &up),
        ];
        let b = rto_breakdown(1_000, &health, Some(4_000), &rec);
        assert_eq!(b.first_failure_ms, Some(10));
        assert_eq!(b.targets_unhealthy_ms, Some(500));
        assert_eq!(b.targets_healthy_again_ms, Some(5_000));
        assert_eq!(b.experiment_ended_ms, Some(3_000));
        assert_eq!(b.recovered_ms, Some(2_000));
        let b = rto_breakdown(1_000, &health[..4], None, &rec);
        assert_eq!(b.targets_healthy_again_ms, None, "i-b never came back");
    }

    /// Detection by a health check and failover by DNS are the first changes at or after
    /// injection; the first DNS answer seen and healthy statuses do not count.
    #[test]
    fn breakdown_from_route53_events() {
        let event = |t_unix_ms, kind| Event { t_unix_ms, kind };
        let hc = |status: &str| EventKind::Route53HealthCheck {
            health_check_id: "hc".into(),
            status: status.into(),
            previous: None,
            report: None,
        };
        let dns = |previous: Option<&str>, now: &str| EventKind::DnsAnswerChanged {
            name: "app.drill.test".into(),
            previous: previous.map(|p| vec![p.to_string()]),
            answers: vec![now.to_string()],
        };
        let events = vec![
            event(100, dns(None, "127.0.0.1")),
            event(200, hc("healthy")),
            event(900, hc("unhealthy")),
            event(950, dns(Some("127.0.0.1"), "127.0.0.2")),
            event(1_400, hc("healthy")),
            event(1_700, hc("unhealthy")),
            event(2_300, dns(Some("127.0.0.2"), "127.0.0.1")),
        ];
        let changes = Route53Changes::from_events(&events);
        assert_eq!(changes.dns_changed, vec![950, 2_300]);
        assert_eq!(changes.health_check_unhealthy, vec![900, 1_700]);
        let b = RtoBreakdown::default().with_route53(1_000, &changes);
        assert_eq!(b.health_check_failed_ms, Some(700));
        assert_eq!(b.dns_changed_ms, Some(1_300));
        let none = RtoBreakdown::default().with_route53(5_000, &changes);
        assert_eq!((none.health_check_failed_ms, none.dns_changed_ms), (None, None));
    }

    /// The loss window spans the first to the last lost ack; RPO counts back from injection.
    #[test]
    fn data_loss_window_and_rpo() {
        let lost = vec![
            LostWrite {
                id: "b".into(),
                acked_unix_ms: 5_500,
            },
            LostWrite {
                id: "a".into(),
                acked_unix_ms: 5_100,
            },
        ];
        let d = data_loss(100, &lost, 6_000);
        assert_eq!(d.window_unix_ms, Some((5_100, 5_500)));
        assert_eq!(d.rpo_ms, 900);
        assert_eq!(d.lost_ids, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(data_loss(100, &[], 6_000).rpo_ms, 0);
    }
}
