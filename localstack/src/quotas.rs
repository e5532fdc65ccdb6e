//! API request quotas: token buckets per service and operation group, as AWS throttles
//! its APIs, configured by a stack file's `quotas:` section.
//!
//! A request takes one token from every bucket whose rule matches its service and
//! operation (Route 53's `GetHealthCheckStatus` draws on its own bucket *and* the
//! account-wide one); when any of them is empty, nothing is taken and the request is
//! throttled. A bucket holds at most `capacity` tokens and regains `refill_per_second`
//! tokens every second. The endpoint ([`crate::api`]) checks the quotas before any
//! service sees the request and answers a throttled one in its service's error shape.
//!
//! A stack without a `quotas:` section is not throttled at all (local drills poll fast;
//! the harness's default cadence for local targets relies on it). A `quotas:` section
//! enforces AWS's documented buckets ([`aws_defaults`]) unless it says `defaults: none`;
//! its `buckets:` replace a default with the same service and operations, or add one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;

/// The services a bucket may name: the SigV4 signing names the endpoint serves.
pub const SERVICES: &[&str] = &[
    "elasticloadbalancing",
    "ec2",
    "rds",
    "fis",
    "route53",
    "sts",
    "monitoring",
    "backup",
    "tagging",
];

/// A stack file's `quotas:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// Which buckets apply before `buckets`: AWS's documented ones (the default) or none.
    #[serde(default)]
    pub defaults: Defaults,
    /// Buckets that replace the default with the same `service` and `operations`, or add to them.
    #[serde(default)]
    pub buckets: Vec<BucketSpec>,
}

/// The buckets a `quotas:` section starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Defaults {
    /// AWS's documented buckets ([`aws_defaults`]).
    #[default]
    Aws,
    /// No bucket but those listed.
    None,
}

/// One token bucket rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawBucket")]
pub struct BucketSpec {
    /// SigV4 signing name of the service, e.g. `elasticloadbalancing`, `route53`.
    pub service: String,
    /// Operations the bucket covers: an operation name or a pattern with `*`
    /// (`Describe*`, `*`).
    pub operations: String,
    /// Most tokens the bucket holds (the burst); at least 1.
    pub capacity: f64,
    /// Tokens added per second (the sustained rate); above 0.
    pub refill_per_second: f64,
    /// One bucket per matching operation (EC2 throttles each API on its own) instead of
    /// one shared by all of them.
    pub per_operation: bool,
}

/// The file form of [`BucketSpec`], checked on the way in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    service: String,
    operations: String,
    capacity: f64,
    refill_per_second: f64,
    #[serde(default)]
    per_operation: bool,
}

impl TryFrom<RawBucket> for BucketSpec {
    type Error = String;

    fn try_from(r: RawBucket) -> Result<Self, Self::Error> {
        if !SERVICES.contains(&r.service.as_str()) {
            return Err(format!(
                "quotas: unknown service {:?}; expected one of {}",
                r.service,
                SERVICES.join(", ")
            ));
        }
        if r.operations.is_empty() {
            return Err("quotas: operations must not be empty (use \"*\" for every operation)".into());
        }
        if !(r.capacity.is_finite() && r.capacity >= 1.0) {
            return Err(format!("quotas: capacity {} must be at least 1", r.capacity));
        }
        if !(r.refill_per_second.is_finite() && r.refill_per_second > 0.0) {
            return Err(format!(
                "quotas: refill_per_second {} must be above 0",
                r.refill_per_second
            ));
        }
        Ok(BucketSpec {
            service: r.service,
            operations: r.operations,
            capacity: r.capacity,
            refill_per_second: r.refill_per_second,
            per_operation: r.per_operation,
        })
    }
}

fn bucket(service: &str, operations: &str, capacity: f64, refill: f64, per_operation: bool) -> BucketSpec {
    BucketSpec {
        service: service.into(),
        operations: operations.into(),
        capacity,
        refill_per_second: refill,
        per_operation,
    }
}

/// AWS's documented default buckets (per account and region; Route 53 is global).
///
/// FIS publishes no API request rates (its quotas page,
/// <https://docs.aws.amazon.com/fis/latest/userguide/fis-quotas.html>, and
/// <https://docs.aws.amazon.com/general/latest/gr/fis.html> list resource quotas only),
/// so FIS is not throttled by default; a stack file can add a bucket for it.
pub fn aws_defaults() -> Vec<BucketSpec> {
    vec![
        // ELB API v2, non-mutating `Describe*`: bucket 40, refill 10/s, per account and
        // region. https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html
        // (The page calls the code `ThrottlingException`; the awsQuery wire code the SDKs
        // see is `Throttling`, e.g. https://github.com/aws/aws-cli/issues/8604.)
        bucket("elasticloadbalancing", "Describe*", 40.0, 10.0, false),
        // EC2 request rate limiting is per API; non-mutating actions (`Describe*`):
        // bucket 100, refill 20/s. https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
        bucket("ec2", "Describe*", 100.0, 20.0, true),
        // RDS: "up to 300 requests in a burst and a sustained 12 requests per second".
        // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html
        bucket("rds", "*", 300.0, 12.0, false),
        // Route 53: all operations combined (account level) bucket 50, refill 10/s; every
        // request also draws on its operation's bucket, GetHealthCheckStatus 4, refill 1/s
        // (and GetHealthCheckLastFailureReason the same); the other operations' own
        // buckets (50, 10/s by default) never bind before the account's.
        // https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html
        bucket("route53", "*", 50.0, 10.0, false),
        bucket("route53", "GetHealthCheckStatus", 4.0, 1.0, false),
        bucket("route53", "GetHealthCheckLastFailureReason", 4.0, 1.0, false),
    ]
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A request refused because a bucket it draws on is empty.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{service} {operation} throttled by the bucket for {bucket} (capacity {capacity}, refill {refill_per_second}/s)"
)]
pub struct Throttled {
    /// The service's signing name.
    pub service: String,
    /// The operation.
    pub operation: String,
    /// The empty bucket's `operations` pattern.
    pub bucket: String,
    /// Its capacity.
    pub capacity: f64,
    /// Its refill rate per second.
    pub refill_per_second: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The token buckets of one region (Route 53's are the top-level region's).
#[derive(Debug, Default)]
pub struct Quotas {
    rules: Vec<BucketSpec>,
    state: Mutex<HashMap<(usize, String), Bucket>>,
}

impl Quotas {
    /// The buckets a stack's `quotas:` section asks for; none without one.
    pub fn new(config: Option<&QuotaConfig>) -> Quotas {
        let Some(config) = config else {
            return Quotas::default();
        };
        let mut rules = match config.defaults {
            Defaults::Aws => aws_defaults(),
            Defaults::None => Vec::new(),
        };
        for b in &config.buckets {
            match rules
                .iter_mut()
                .find(|r| r.service == b.service && r.operations == b.operations)
            {
                Some(r) => *r = b.clone(),
                None => rules.push(b.clone()),
            }
        }
        Quotas {
            rules,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &[BucketSpec] {
        &self.rules
    }

    /// Takes a token for one request from every matching bucket, or none when one of
    /// them is empty.
    pub fn take(&self, service: &str, operation: &str) -> Result<(), Throttled> {
        self.take_at(service, operation, Instant::now())
    }

    /// [`Quotas::take`] at a given instant (for tests).
    pub fn take_at(&self, service: &str, operation: &str, now: Instant) -> Result<(), Throttled> {
        let matching: Vec<(usize, &BucketSpec)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.service == service && glob(&r.operations, operation))
            .collect();
        if matching.is_empty() {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys = Vec::with_capacity(matching.len());
        for (i, rule) in &matching {
            let key = (
                *i,
                if rule.per_operation {
                    operation.to_string()
                } else {
                    String::new()
                },
            );
            let b = state.entry(key.clone()).or_insert(Bucket {
                tokens: rule.capacity,
                at: now,
            });
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rule.refill_per_second).min(rule.capacity);
            b.at = now;
            if b.tokens < 1.0 {
                return Err(Throttled {
                    service: service.to_string(),
                    operation: operation.to_string(),
                    bucket: rule.operations.clone(),
                    capacity: rule.capacity,
                    refill_per_second: rule.refill_per_second,
                });
            }
            keys.push(key);
        }
        for key in keys {
            if let Some(b) = state.get_mut(&key) {
                b.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Patterns match by `*` runs; a plain name matches only itself.
    #[test]
    fn globs() {
        assert!(glob("*", "DescribeTargetHealth"));
        assert!(glob("Describe*", "DescribeTargetHealth"));
        assert!(!glob("Describe*", "RegisterTargets"));
        assert!(glob("GetHealthCheckStatus", "GetHealthCheckStatus"));
        assert!(!glob("GetHealthCheckStatus", "GetHealthCheck"));
        assert!(glob("*Health*", "DescribeTargetHealth"));
        assert!(!glob("A*A", "A"));
    }

    /// A bucket lets `capacity` requests through at once, then one per refill interval.
    #[test]
    fn burst_then_refill() {
        let q = Quotas::new(Some(&QuotaConfig {
            defaults: Defaults::None,
            buckets: vec![bucket("elasticloadbalancing", "Describe*", 2.0, 4.0, false)],
        }));
        let t0 = Instant::now();
        assert!(q.take_at("elasticloadbalancing", "DescribeTargetHealth", t0).is_ok());
        assert!(q.take_at("elasticloadbalancing", "DescribeLoadBalancers", t0).is_ok());
        let e = q
            .take_at("elasticloadbalancing", "DescribeTargetHealth", t0)
            .unwrap_err();
        assert_eq!(e.bucket, "Describe*");
        // Other operations and services are not covered.
        assert!(q.take_at("elasticloadbalancing", "RegisterTargets", t0).is_ok());
        assert!(q.take_at("ec2", "DescribeInstances", t0).is_ok());
        // 250 ms later one token is back (4/s), not two.
        let t1 = t0 + Duration::from_millis(250);
        assert!(q.take_at("elasticloadbalancing", "DescribeTargetHealth", t1).is_ok());
        assert!(q.take_at("elasticloadbalancing", "DescribeTargetHealth", t1).is_err());
        // Never more than the capacity, however long it rested.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..2 {
            assert!(q.take_at("elasticloadbalancing", "DescribeTargetHealth", t2).is_ok());
        }
        assert!(q.take_at("elasticloadbalancing", "DescribeTargetHealth", t2).is_err());
    }

    /// Route 53's GetHealthCheckStatus drains its own small bucket and the account's; a
    /// refused request takes from neither.
    #[test]
    fn route53_draws_on_both_buckets() {
        let q = Quotas::new(Some(&QuotaConfig::default()));
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(q.take_at("route53", "GetHealthCheckStatus", t0).is_ok());
        }
        let e = q.take_at("route53", "GetHealthCheckStatus", t0).unwrap_err();
        assert_eq!(e.bucket, "GetHealthCheckStatus");
        // The account bucket lost 4 (not 5): 46 more of any operation pass.
        for _ in 0..46 {
            assert!(q.take_at("route53", "ListHostedZones", t0).is_ok());
        }
        assert_eq!(q.take_at("route53", "ListHostedZones", t0).unwrap_err().bucket, "*");
    }

    /// EC2's buckets are per API: one exhausted Describe* leaves the others alone; a
    /// listed bucket replaces the default with the same service and operations.
    #[test]
    fn ec2_per_operation_and_overrides() {
        let q = Quotas::new(Some(&QuotaConfig {
            defaults: Defaults::Aws,
            buckets: vec![bucket("ec2", "Describe*", 1.0, 0.5, true)],
        }));
        assert_eq!(q.rules().iter().filter(|r| r.service == "ec2").count(), 1);
        let t0 = Instant::now();
        assert!(q.take_at("ec2", "DescribeInstances", t0).is_ok());
        assert!(q.take_at("ec2", "DescribeInstances", t0).is_err());
        assert!(q.take_at("ec2", "DescribeSubnets", t0).is_ok());
        // No section: nothing is throttled.
        let none = Quotas::new(None);
        for _ in 0..1000 {
            assert!(none.take("route53", "GetHealthCheckStatus").is_ok());
        }
    }
}
