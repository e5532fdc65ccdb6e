//! Analysis: the numbers of a drill, exactly as DESIGN.md defines them, computed from
//! the per-bucket probe counts, the injection time and the writes that were lost.
//!
//! - RTO = `t_recover − t_inject`, where `t_recover` is the start of the first window of
//!   length `stable_for` after the first failure whose success ratio is at or above the
//!   steady-state threshold; 0 when no probe failed; `None` when it never recovered.
//! - RPO = `t_inject − first lost ack` (0 when nothing was lost; never negative).
//! - The RTO breakdown splits it into detection (the load balancer marked a target
//!   unhealthy, a Route 53 health check failed), failover (the DNS answer changed) and
//!   recovery (serving again), from the observers' events.

use serde::{Deserialize, Serialize};

use crate::journal::{Event, EventKind};

/// Probe counts per fixed bucket of scheduled send time.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Start of bucket 0, unix ms.
    pub start_unix_ms: i64,
    /// Bucket width, ms.
    pub bucket_ms: i64,
    /// Probes that succeeded, per bucket.
    pub ok: Vec<u64>,
    /// Probes that failed, per bucket.
    pub failed: Vec<u64>,
}

impl Series {
    fn index(&self, t_unix_ms: i64) -> usize {
        ((t_unix_ms - self.start_unix_ms).max(0) / self.bucket_ms.max(1)) as usize
    }

    fn time(&self, i: usize) -> i64 {
        self.start_unix_ms + i as i64 * self.bucket_ms
    }

    /// (ok, failed) in `[from, to)`.
    pub fn counts(&self, from_unix_ms: i64, to_unix_ms: i64) -> (u64, u64) {
        let (a, b) = (self.index(from_unix_ms), self.index(to_unix_ms).min(self.ok.len()));
        (a..b).fold((0, 0), |(o, f), i| (o + self.ok[i], f + self.failed[i]))
    }

    /// End of the last bucket, unix ms.
    pub fn end_unix_ms(&self) -> i64 {
        self.time(self.ok.len())
    }
}

/// Recovery numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Scheduled time of the first failed probe at or after injection.
    pub first_failure_unix_ms: Option<i64>,
    /// Start of the first stable window after the first failure.
    pub recovered_unix_ms: Option<i64>,
    /// Measured RTO; `None` when it never recovered within the data.
    pub rto_ms: Option<i64>,
    /// Time spent below the threshold, in 100 ms intervals after injection.
    pub outage_ms: i64,
    /// Failed probes at or after injection.
    pub failed_probes: u64,
    /// The 1 s window with the lowest success ratio: (start unix ms, ratio).
    pub worst_window: Option<(i64, f64)>,
}

/// Computes RTO, outage and the worst window.
pub fn recovery(series: &Series, t_inject_unix_ms: i64, threshold: f64, stable_for_ms: i64) -> Recovery {
    let start = series.index(t_inject_unix_ms);
    let first = (start..series.failed.len()).find(|&i| series.failed[i] > 0);
    let failed_probes = series.failed.iter().skip(start).sum();
    let mut outage_ms = 0;
    let step = (100 / series.bucket_ms.max(1)).max(1) as usize;
    let mut worst: Option<(i64, f64)> = None;
    let mut i = start;
    while i < series.ok.len() {
        let t = series.time(i);
        let (o, f) = series.counts(t, t + 100);
        if o + f > 0 && (o as f64 / (o + f) as f64) < threshold {
            outage_ms += 100;
        }
        let (o, f) = series.counts(t, t + 1000);
        if o + f > 0 && series.time(i) + 1000 <= series.end_unix_ms() {
            let r = o as f64 / (o + f) as f64;
            if worst.is_none_or(|(_, w)| r < w) {
                worst = Some((t, r));
            }
        }
        i += step;
    }
    let Some(first) = first else {
        return Recovery {
            first_failure_unix_ms: None,
            recovered_unix_ms: None,
            rto_ms: Some(0),
            outage_ms,
            failed_probes,
            worst_window: worst,
        };
    };
    let recovered = (first..series.ok.len())
        .filter(|&i| series.ok[i] + series.failed[i] > 0)
        .map(|i| series.time(i))
        .take_while(|&t| t + stable_for_ms <= series.end_unix_ms())
        .find(|&t| {
            let (o, f) = series.counts(t, t + stable_for_ms);
            o + f > 0 && o as f64 / (o + f) as f64 >= threshold
        });
    Recovery {
        first_failure_unix_ms: Some(series.time(first)),
        recovered_unix_ms: recovered,
        rto_ms: recovered.map(|t| (t - t_inject_unix_ms).max(0)),
        outage_ms,
        failed_probes,
        worst_window: worst,
    }
}

/// Where the recovery time went, from the observers' events, in ms after injection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtoBreakdown {
    /// First failed probe.
    pub first_failure_ms: Option<i64>,
    /// The load balancer first marked a target unhealthy (detection).
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
}

/// A target health change as the observers saw it: (unix ms, target, state).
pub type HealthChange<'a> = (i64, &'a str, &'a str);

/// Builds the RTO breakdown from target health changes and the recovery numbers.
pub fn rto_breakdown(
    t_inject_unix_ms: i64,
    health: &[HealthChange<'_>],
    experiment_end_unix_ms: Option<i64>,
    recovery: &Recovery,
) -> RtoBreakdown {
    let rel = |t: i64| t - t_inject_unix_ms;
    let after: Vec<&HealthChange<'_>> = health.iter().filter(|(t, _, _)| *t >= t_inject_unix_ms).collect();
    let first_unhealthy = after.iter().find(|(_, _, s)| *s == "unhealthy").map(|(t, _, _)| *t);
    let mut down: Vec<&str> = Vec::new();
    let mut back = None;
    for (t, target, state) in &after {
        if *state == "unhealthy" {
            if !down.contains(target) {
                down.push(target);
            }
        } else if *state == "healthy" {
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
                EventKind::Route53HealthCheck { status, .. } if status == "unhealthy" => {
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

    fn series(pattern: &[(u64, u64)]) -> Series {
        Series {
            start_unix_ms: 1_000_000,
            bucket_ms: 10,
            ok: pattern.iter().map(|p| p.0).collect(),
            failed: pattern.iter().map(|p| p.1).collect(),
        }
    }

    /// No failure after injection: RTO 0 and no outage.
    #[test]
    fn no_failure_means_rto_zero() {
        let s = series(&[(1, 0); 500]);
        let r = recovery(&s, 1_001_000, 0.99, 1000);
        assert_eq!(r.rto_ms, Some(0));
        assert_eq!(r.outage_ms, 0);
        assert_eq!(r.failed_probes, 0);
    }

    /// RTO is measured from injection to the start of the first stable window.
    #[test]
    fn rto_is_inject_to_first_stable_window() {
        // 1 s ok, 2 s failing (from 1 s), then ok for 3 s.
        let mut p = vec![(1, 0); 100];
        p.extend(vec![(0, 1); 200]);
        p.extend(vec![(1, 0); 300]);
        let s = series(&p);
        let t_inject = 1_000_000 + 900;
        let r = recovery(&s, t_inject, 1.0, 1000);
        assert_eq!(r.first_failure_unix_ms, Some(1_001_000));
        assert_eq!(r.recovered_unix_ms, Some(1_003_000));
        assert_eq!(r.rto_ms, Some(2100));
        assert_eq!(r.outage_ms, 2000);
        assert_eq!(r.failed_probes, 200);
        assert_eq!(r.worst_window.map(|w| w.1), Some(0.0));
    }

    /// A flapping recovery is not a recovery: the window must hold for stable_for.
    #[test]
    fn flapping_is_not_recovered() {
        let mut p = vec![(0, 1); 100];
        p.extend(vec![(1, 0); 50]);
        p.extend(vec![(0, 1); 10]);
        p.extend(vec![(1, 0); 200]);
        let s = series(&p);
        let r = recovery(&s, 1_000_000, 1.0, 1000);
        assert_eq!(r.recovered_unix_ms, Some(1_000_000 + 1600));
    }

    /// Never recovering within the data gives no RTO.
    #[test]
    fn never_recovered() {
        let mut p = vec![(1, 0); 10];
        p.extend(vec![(0, 1); 300]);
        let r = recovery(&series(&p), 1_000_000, 0.99, 1000);
        assert_eq!(r.rto_ms, None);
    }

    /// Detection is the first unhealthy target after injection; "healthy again" waits for
    /// every target that went down.
    #[test]
    fn breakdown_from_health_changes() {
        let rec = Recovery {
            first_failure_unix_ms: Some(1_010),
            recovered_unix_ms: Some(3_000),
            rto_ms: Some(2_000),
            outage_ms: 1_000,
            failed_probes: 5,
            worst_window: None,
        };
        let health = [
            (900, "i-a", "healthy"),
            (1_500, "i-a", "unhealthy"),
            (1_600, "i-b", "unhealthy"),
            (5_000, "i-a", "healthy"),
            (6_000, "i-b", "healthy"),
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
