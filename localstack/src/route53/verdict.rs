//! How Route 53 decides whether an endpoint is healthy, as "How Amazon Route 53 determines
//! whether a health check is healthy" describes it: several health checkers, one per
//! region of the check's `Regions`, each judge the endpoint on their own — unhealthy after
//! `FailureThreshold` consecutive failed probes, healthy again after as many consecutive
//! successes — and Route 53 considers the endpoint healthy when more than 18% of the
//! checkers report it healthy.
//!
//! Pure state: no I/O, no clock (times are handed in).

use std::net::{IpAddr, Ipv4Addr};

use super::model::CHECKER_REGIONS;
use super::Observation;

/// Route 53 considers an endpoint healthy when more than this share of its checkers,
/// in percent, report it healthy.
pub const HEALTHY_PERCENT: usize = 18;

/// Whether Route 53 considers an endpoint healthy given its checkers' verdicts: more than
/// [`HEALTHY_PERCENT`] of them healthy. No checkers at all (nothing probes) is healthy.
pub fn considered_healthy(verdicts: impl IntoIterator<Item = bool>) -> bool {
    let (mut healthy, mut all) = (0usize, 0usize);
    for v in verdicts {
        all += 1;
        healthy += usize::from(v);
    }
    all == 0 || healthy * 100 > all * HEALTHY_PERCENT
}

/// The address a checker of this region reports in its observations: one per region,
/// from TEST-NET-1 (192.0.2.0/24, RFC 5737, for documentation): it routes nowhere, is not
/// a real Route 53 checker's, and is never connected to — the probes really come from
/// this machine.
pub fn checker_ip(region: &str) -> IpAddr {
    let i = CHECKER_REGIONS
        .iter()
        .position(|r| *r == region)
        .unwrap_or(CHECKER_REGIONS.len());
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11 + i as u8))
}

/// One health checker of a health check: where it is, its own verdict with the failure
/// threshold, and its latest report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    /// Its region.
    pub region: String,
    /// Its address as GetHealthCheckStatus reports it (see [`checker_ip`]).
    pub ip_address: IpAddr,
    /// Whether it judges the endpoint healthy now (every checker starts healthy).
    pub healthy: bool,
    /// Its latest report, once it probed.
    pub last: Option<Observation>,
    ok_streak: u32,
    fail_streak: u32,
}

impl Checker {
    /// A checker in `region` that has not probed yet.
    pub fn new(region: &str) -> Checker {
        Checker {
            region: region.to_string(),
            ip_address: checker_ip(region),
            healthy: true,
            last: None,
            ok_streak: 0,
            fail_streak: 0,
        }
    }

    /// Applies one probe finished at `now_ms` (`ok` already accounts for `Inverted`;
    /// `detail` is the text after `Success: `/`Failure: `). Returns whether the checker's
    /// verdict changed.
    pub fn record(&mut self, ok: bool, detail: &str, threshold: u32, now_ms: i64) -> bool {
        let from = self.healthy;
        if ok {
            self.ok_streak += 1;
            self.fail_streak = 0;
            self.healthy |= self.ok_streak >= threshold;
        } else {
            self.fail_streak += 1;
            self.ok_streak = 0;
            self.healthy &= self.fail_streak < threshold;
        }
        self.report(ok, detail, threshold, now_ms);
        self.healthy != from
    }

    /// Updates the latest report: it carries the verdict and the latest probe that agrees
    /// with it; a probe that disagrees only moves the checked time.
    fn report(&mut self, ok: bool, detail: &str, threshold: u32, now_ms: i64) {
        let status = if ok == self.healthy {
            format!("{}: {detail}", if ok { "Success" } else { "Failure" })
        } else if self.last.is_none() {
            format!("Success: healthy until {threshold} consecutive probes fail (latest probe: {detail})")
        } else {
            if let Some(last) = &mut self.last {
                last.checked_unix_ms = now_ms;
            }
            return;
        };
        self.last = Some(Observation {
            status,
            checked_unix_ms: now_ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented rule with Route 53's eight default regions: 2 of 8 healthy is 25%
    /// (> 18%), healthy; 1 of 8 is 12.5% (≤ 18%), unhealthy. With three regions one
    /// healthy checker (33%) is enough.
    #[test]
    fn more_than_18_percent_healthy() {
        let verdicts = |healthy: usize, all: usize| (0..all).map(move |i| i < healthy);
        assert!(considered_healthy(verdicts(8, 8)));
        assert!(considered_healthy(verdicts(2, 8)));
        assert!(!considered_healthy(verdicts(1, 8)));
        assert!(!considered_healthy(verdicts(0, 8)));
        assert!(considered_healthy(verdicts(1, 3)));
        assert!(!considered_healthy(verdicts(0, 3)));
        // Exactly 18% is not more than 18%.
        assert!(!considered_healthy(verdicts(9, 50)));
        assert!(considered_healthy(verdicts(10, 50)));
        assert!(considered_healthy(std::iter::empty()));
    }

    /// A checker turns unhealthy after `threshold` consecutive failures and healthy after
    /// as many consecutive successes; a lone probe the other way changes nothing.
    #[test]
    fn threshold_per_checker() {
        let mut c = Checker::new("eu-west-1");
        assert!(!c.record(true, "HTTP Status Code 200, OK", 3, 1));
        assert_eq!(c.last.as_ref().unwrap().status, "Success: HTTP Status Code 200, OK");
        assert!(!c.record(false, "HTTP Status Code 503, Service Unavailable", 3, 2));
        assert!(!c.record(false, "HTTP Status Code 503, Service Unavailable", 3, 3));
        let last = c.last.clone().unwrap();
        assert_eq!(
            (last.status.as_str(), last.checked_unix_ms),
            ("Success: HTTP Status Code 200, OK", 3)
        );
        assert!(c.record(false, "HTTP Status Code 503, Service Unavailable", 3, 4));
        assert!(!c.healthy);
        assert_eq!(
            c.last.as_ref().unwrap().status,
            "Failure: HTTP Status Code 503, Service Unavailable"
        );
        assert!(!c.record(true, "HTTP Status Code 200, OK", 3, 5));
        assert!(!c.record(false, "HTTP Status Code 503, Service Unavailable", 3, 6));
        assert!(!c.record(true, "HTTP Status Code 200, OK", 3, 7));
        assert!(!c.record(true, "HTTP Status Code 200, OK", 3, 8));
        assert!(c.record(true, "HTTP Status Code 200, OK", 3, 9));
        assert!(c.healthy);
    }

    /// A first probe that fails leaves the checker healthy and says so.
    #[test]
    fn first_failure_is_reported_as_still_healthy() {
        let mut c = Checker::new("us-east-1");
        assert!(!c.record(false, "Connection refused", 2, 1));
        let status = &c.last.as_ref().unwrap().status;
        assert!(
            status.starts_with("Success: healthy until 2 consecutive probes fail"),
            "{status}"
        );
    }

    /// Every checker region has its own documentation-range address.
    #[test]
    fn checker_addresses_are_distinct_test_net() {
        let ips: std::collections::HashSet<IpAddr> = CHECKER_REGIONS.iter().map(|r| checker_ip(r)).collect();
        assert_eq!(ips.len(), CHECKER_REGIONS.len());
        assert!(ips.iter().all(|ip| ip.to_string().starts_with("192.0.2.")));
    }
}
