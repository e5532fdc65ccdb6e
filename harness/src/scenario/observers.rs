//! The observers' API budget: how often each observer calls its AWS API (`observers:`),
//! and the defaults per target kind.
//!
//! On an AWS account the defaults use at most a fifth of each API's documented refill
//! rate, so a drill leaves the rest of the account's bucket to the console and to the
//! customer's own automation (Route 53's account-wide bucket is what failover runbooks
//! need). On the local stack they stay fast: it throttles only when its stack file has a
//! `quotas:` section, which is how tests make it throttle.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::DurationStr;
use super::target::Target;

/// How often the observers call AWS; every key is optional and defaults by target kind
/// (see [`Cadence::for_target`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObserverCadence {
    /// Time between FIS GetExperiment calls (experiment and action states). Default on
    /// AWS `1s` (FIS publishes no API rate; one call a second is a conservative
    /// assumption); on the local stack `100ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fis: Option<DurationStr>,
    /// Time between ELBv2 DescribeTargetHealth calls. Default on AWS `500ms`: a fifth of
    /// the `Describe*` bucket's refill of 10/s; on the local stack `100ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elbv2: Option<DurationStr>,
    /// Time between Route 53 GetHealthCheckStatus calls, across every observed health
    /// check (each check is polled every `n ×` this). Default on AWS `5s`: a fifth of the
    /// operation's refill of 1/s (it also draws on the account-wide bucket, 10/s, that
    /// the customer's failover automation shares); on the local stack `100ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<DurationStr>,
    /// Longest wait between calls while an API throttles or fails (the wait doubles from
    /// the cadence after each failed call, up to this). Default `10s` on AWS, `2s` locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<DurationStr>,
}

/// Shortest cadence or backoff a scenario may set.
pub const MIN_CADENCE: Duration = Duration::from_millis(10);

/// The resolved cadences of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Between GetExperiment calls.
    pub fis: Duration,
    /// Between DescribeTargetHealth calls.
    pub elbv2: Duration,
    /// Between GetHealthCheckStatus calls (all checks together).
    pub route53: Duration,
    /// Longest wait while an API throttles or fails.
    pub max_backoff: Duration,
}

impl Cadence {
    /// Defaults on an AWS account: at most a fifth of each documented refill rate.
    ///
    /// - ELBv2 `Describe*`: bucket 40, refill 10/s per account and region
    ///   (<https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html>)
    ///   → 2/s → 500 ms.
    /// - Route 53 GetHealthCheckStatus: bucket 4, refill 1/s, and the account-wide bucket
    ///   50, refill 10/s
    ///   (<https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html>)
    ///   → 0.2/s → 5 s.
    /// - FIS: no published API rate (<https://docs.aws.amazon.com/general/latest/gr/fis.html>
    ///   lists resource quotas only) → an assumed 1/s.
    pub const AWS: Cadence = Cadence {
        fis: Duration::from_secs(1),
        elbv2: Duration::from_millis(500),
        route53: Duration::from_secs(5),
        max_backoff: Duration::from_secs(10),
    };

    /// Defaults on the local stack: fast, since it throttles only when its stack file
    /// asks for quotas.
    pub const LOCAL: Cadence = Cadence {
        fis: Duration::from_millis(100),
        elbv2: Duration::from_millis(100),
        route53: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
    };

    /// The scenario's cadences: what `observers:` sets, the target kind's defaults for
    /// the rest.
    pub fn for_target(target: &Target, set: Option<&ObserverCadence>) -> Cadence {
        let base = match target {
            Target::Local { .. } => Cadence::LOCAL,
            Target::Aws(_) => Cadence::AWS,
        };
        let Some(set) = set else {
            return base;
        };
        let pick = |v: Option<DurationStr>, d: Duration| v.map_or(d, DurationStr::get);
        Cadence {
            fis: pick(set.fis, base.fis),
            elbv2: pick(set.elbv2, base.elbv2),
            route53: pick(set.route53, base.route53),
            max_backoff: pick(set.max_backoff, base.max_backoff),
        }
    }
}

/// The first key of `observers:` below [`MIN_CADENCE`], if any.
pub fn too_short(set: &ObserverCadence) -> Option<(&'static str, DurationStr)> {
    [
        ("fis", set.fis),
        ("elbv2", set.elbv2),
        ("route53", set.route53),
        ("max_backoff", set.max_backoff),
    ]
    .into_iter()
    .find_map(|(k, v)| v.filter(|d| d.get() < MIN_CADENCE).map(|d| (k, d)))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Defaults depend on the target kind; keys that are set win, the rest default.
    #[test]
    fn defaults_by_target_kind() {
        let local = Target::Local {
            stack: PathBuf::from("s.yaml"),
        };
        assert_eq!(Cadence::for_target(&local, None), Cadence::LOCAL);
        let set = ObserverCadence {
            elbv2: Some(DurationStr::new(Duration::from_secs(2))),
            ..Default::default()
        };
        let c = Cadence::for_target(&local, Some(&set));
        assert_eq!(c.elbv2, Duration::from_secs(2));
        assert_eq!(c.fis, Cadence::LOCAL.fis);
        // On AWS: within a fifth of each documented refill rate.
        let aws = Cadence::AWS;
        assert!(1.0 / aws.elbv2.as_secs_f64() <= 10.0 / 5.0);
        assert!(1.0 / aws.route53.as_secs_f64() <= 1.0 / 5.0);
        assert_eq!(too_short(&set), None);
        let zero = ObserverCadence {
            route53: Some(DurationStr::new(Duration::ZERO)),
            ..Default::default()
        };
        assert_eq!(too_short(&zero).map(|t| t.0), Some("route53"));
    }
}
