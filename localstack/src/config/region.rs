//! The sections of one region in a stack file: subnets, instances, the load balancer with
//! its target group and health check, the database, and the stack-wide timings.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Dur;

/// A further region of a multi-region stack: the same sections as the top level's region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionStack {
    /// The AWS region name.
    pub region: String,
    /// Availability zones, in order.
    pub zones: Vec<String>,
    /// Subnets, each in one zone.
    pub subnets: Vec<Subnet>,
    /// Application instances.
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// The load balancer of this region (its name differs from every other region's).
    pub load_balancer: LoadBalancer,
    /// The database of this region.
    pub database: Database,
}

/// A disaster-recovery strategy, as the stack file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Backup and restore: nothing runs in the recovery region.
    BackupRestore,
    /// Pilot light: a database replica runs in the recovery region, no app instances.
    PilotLight,
    /// Warm standby: a replica and a small fleet run in the recovery region.
    WarmStandby,
    /// Multi-site active-active: every region serves and writes.
    ActiveActive,
}

impl StrategyKind {
    /// The kebab-case name used in stack files and reports.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::BackupRestore => "backup-restore",
            StrategyKind::PilotLight => "pilot-light",
            StrategyKind::WarmStandby => "warm-standby",
            StrategyKind::ActiveActive => "active-active",
        }
    }
}

/// The stack's DR strategy and what it costs while nothing is wrong.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Which strategy.
    pub kind: StrategyKind,
    /// The Route 53 name users reach the app by (ground truth records whether it serves).
    pub entry: String,
    /// What runs (and is paid for) while nothing is wrong.
    pub standing_cost: StandingCost,
}

/// Resources running while nothing is wrong, and their price.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StandingCost {
    /// App instances running across every region.
    pub instances: u32,
    /// Database instances running across every region (writers, standbys and replicas).
    pub databases: u32,
    /// Estimated monthly price in US dollars of what runs, for comparison between stacks.
    pub usd_per_month: f64,
}

pub(super) fn default_account() -> String {
    "000000000000".to_string()
}

/// A subnet in one availability zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// Subnet id, e.g. `subnet-app-1a`.
    pub id: String,
    /// Availability zone name.
    pub zone: String,
    /// Tags on the subnet.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An application instance (an HTTP server on its own loopback address).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Instance id, e.g. `i-app1a1`.
    pub id: String,
    /// The subnet it runs in (decides its zone).
    pub subnet: String,
    /// Tags on the instance.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// State at start: `running` (the default) or `stopped` (started by a runbook).
    #[serde(default)]
    pub state: InitialState,
}

/// The state an instance starts in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    /// Serving from the start.
    #[default]
    Running,
    /// Stopped until started (by the API or a runbook).
    Stopped,
}

/// The role of a region's database in cross-region replication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbRole {
    /// Accepts writes (the default).
    #[default]
    Writer,
    /// A read replica of another region's database: refuses writes until promoted.
    Replica,
    /// Not created yet: comes into being by restoring a backup.
    Absent,
}

/// The application load balancer: one HTTP listener and one target group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// Load balancer name.
    pub name: String,
    /// Listener port; 0 picks a free one.
    #[serde(default)]
    pub listener_port: u16,
    /// Address the listener binds; 127.0.200.1 when absent. `0.0.0.0` in a container, so
    /// that a published port reaches it (`DRDRILL_LB_BIND` overrides it).
    #[serde(default)]
    pub bind: Option<std::net::IpAddr>,
    /// `HOST[:PORT]` that DescribeLoadBalancers (DNSName) and DescribeListeners (Port)
    /// report: where clients reach the listener when that is not where it binds, e.g.
    /// through a container's published port (`DRDRILL_LB_ADVERTISE` overrides it).
    #[serde(default)]
    pub advertise: Option<String>,
    /// How long the proxy waits for a target's response before answering 504.
    #[serde(default = "default_idle")]
    pub idle_timeout: Dur,
    /// The target group.
    pub target_group: TargetGroup,
}

fn default_idle() -> Dur {
    Dur(Duration::from_secs(10))
}

/// A target group with its health-check settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// Target group name.
    pub name: String,
    /// Instance ids registered at start.
    pub targets: Vec<String>,
    /// Active health-check settings.
    pub health_check: HealthCheck,
    /// How long a deregistered target stays `draining` (no new requests, in-flight ones
    /// complete) before it leaves the group: ELB's target-group attribute
    /// `deregistration_delay.timeout_seconds`, 0–3600 s, AWS's default 300 s.
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay: Dur,
}

fn default_deregistration_delay() -> Dur {
    Dur(Duration::from_secs(300))
}

/// The most `deregistration_delay` may be (ELB: 3600 s).
pub(super) const MAX_DEREGISTRATION_DELAY: Duration = Duration::from_secs(3600);

/// Active health checks of a target group, as in ELBv2. AWS's ranges
/// (<https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html>):
/// interval 5–300 s, timeout 2–120 s, thresholds 2–10; a shorter interval or timeout
/// needs [`super::Speedups::sub_second_health_checks`].
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawHealthCheck")]
pub struct HealthCheck {
    /// Path requested on each target.
    pub path: String,
    /// Time between checks of one target.
    pub interval: Dur,
    /// A check without an answer within this time fails.
    pub timeout: Dur,
    /// Consecutive successes for an `unhealthy` target to become healthy (a newly
    /// registered target needs one).
    pub healthy_threshold: u32,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold: u32,
    /// Where each value is in the stack file, for error messages.
    lines: HealthCheckLines,
}

/// The stack-file lines of a health check's values.
#[derive(Debug, Clone, Copy, Default)]
struct HealthCheckLines {
    interval: u64,
    timeout: u64,
    healthy_threshold: u64,
    unhealthy_threshold: u64,
}

/// A health check as written, with the location of each value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealthCheck {
    path: String,
    interval: serde_saphyr::Spanned<Dur>,
    timeout: serde_saphyr::Spanned<Dur>,
    healthy_threshold: serde_saphyr::Spanned<u32>,
    unhealthy_threshold: serde_saphyr::Spanned<u32>,
}

impl From<RawHealthCheck> for HealthCheck {
    fn from(r: RawHealthCheck) -> HealthCheck {
        HealthCheck {
            path: r.path,
            lines: HealthCheckLines {
                interval: r.interval.referenced.line(),
                timeout: r.timeout.referenced.line(),
                healthy_threshold: r.healthy_threshold.referenced.line(),
                unhealthy_threshold: r.unhealthy_threshold.referenced.line(),
            },
            interval: r.interval.value,
            timeout: r.timeout.value,
            healthy_threshold: r.healthy_threshold.value,
            unhealthy_threshold: r.unhealthy_threshold.value,
        }
    }
}

/// ELB's health-check interval range.
const HC_INTERVAL: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
/// ELB's health-check timeout range.
const HC_TIMEOUT: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(120));
/// ELB's healthy/unhealthy threshold range.
const HC_THRESHOLD: (u32, u32) = (2, 10);

impl HealthCheck {
    /// The first value AWS would reject, as `(line, key, message)` (`key` relative to the
    /// health check); intervals and timeouts below AWS's minima pass when `sub_second` is
    /// set.
    pub(super) fn aws_limit_violation(&self, sub_second: bool) -> Option<(u64, &'static str, String)> {
        let fmt = |d: Duration| humantime::format_duration(d).to_string();
        let allow =
            "set `speedups: { sub_second_health_checks: true }` in the stack file to allow it for a local drill";
        for (key, line, value, (min, max), api) in [
            (
                "interval",
                self.lines.interval,
                self.interval.0,
                HC_INTERVAL,
                "HealthCheckIntervalSeconds",
            ),
            (
                "timeout",
                self.lines.timeout,
                self.timeout.0,
                HC_TIMEOUT,
                "HealthCheckTimeoutSeconds",
            ),
        ] {
            let range = format!("AWS accepts {} to {} ({api})", fmt(min), fmt(max));
            if value > max {
                return Some((line, key, format!("{} is above AWS's maximum: {range}", fmt(value))));
            }
            if value < min && !sub_second {
                return Some((
                    line,
                    key,
                    format!("{} is below AWS's minimum: {range}; {allow}", fmt(value)),
                ));
            }
        }
        for (key, line, value, api) in [
            (
                "healthy_threshold",
                self.lines.healthy_threshold,
                self.healthy_threshold,
                "HealthyThresholdCount",
            ),
            (
                "unhealthy_threshold",
                self.lines.unhealthy_threshold,
                self.unhealthy_threshold,
                "UnhealthyThresholdCount",
            ),
        ] {
            let (min, max) = HC_THRESHOLD;
            if !(min..=max).contains(&value) {
                return Some((
                    line,
                    key,
                    format!("{value} is outside AWS's range: AWS accepts {min} to {max} ({api})"),
                ));
            }
        }
        None
    }
}

/// Database replication topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// One node; a write is durable once it is on it.
    Single,
    /// A synchronous standby in another zone; a write is acknowledged when on both.
    MultiAz,
    /// A standby that applies writes after `replica_lag`; acknowledged on the primary.
    AsyncReplica,
}

/// The database cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Cluster identifier.
    pub cluster: String,
    /// Replication topology.
    pub topology: Topology,
    /// The writer node at start.
    pub primary: DbNode,
    /// The standby (required unless `single`).
    #[serde(default)]
    pub standby: Option<DbNode>,
    /// Replication lag of `async-replica`.
    #[serde(default)]
    pub replica_lag: Option<Dur>,
    /// Role in cross-region replication: `writer`, `replica` or `absent`.
    #[serde(default)]
    pub role: DbRole,
    /// How long writes fail while the cluster fails over.
    pub failover_duration: Dur,
    /// How long the node is unavailable while it reboots.
    pub reboot_duration: Dur,
    /// How long the writer must stay unreachable (its subnet cut off) before the cluster
    /// fails over to its standby by itself, as Aurora and RDS Multi-AZ do on losing the
    /// writer's AZ without anyone asking (detection; the failover then takes
    /// `failover_duration`). Default 20 s: with a failover of a few seconds that is
    /// AWS's "service is typically restored in less than 60 seconds, and often less
    /// than 30 seconds" (Aurora User Guide, "Fault tolerance for an Aurora DB cluster",
    /// <https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html>).
    /// Only a cluster with a standby fails over.
    #[serde(default = "default_auto_failover_after")]
    pub auto_failover_after: Dur,
    /// The TTL of the writer endpoint's DNS record, for which an app keeps using the node
    /// it resolved. After a failover the record points at the new writer once it is
    /// promoted, and an app that resolved the old one less than a TTL ago keeps sending
    /// to it — now a reader, which refuses writes (the read-only window). Default 5 s:
    /// "Aurora DNS zones use a short TTL of 5 seconds", and a client with the old address
    /// "connects to the previous primary instance (now a reader instance)" (AWS Knowledge
    /// Center, <https://repost.aws/knowledge-center/aurora-mysql-redirected-endpoint-writer>).
    #[serde(default = "default_endpoint_ttl")]
    pub endpoint_ttl: Dur,
    /// Tags on the database (its primary's DB instance ARN carries them: AWS Backup
    /// selections by tag and ListTags of its recovery points read them).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_auto_failover_after() -> Dur {
    Dur(Duration::from_secs(20))
}

fn default_endpoint_ttl() -> Dur {
    Dur(Duration::from_secs(5))
}

/// One database node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbNode {
    /// DB instance identifier.
    pub id: String,
    /// Subnet it runs in.
    pub subnet: String,
}

/// Stack-wide timings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    /// Time from StartInstances until the server listens again.
    #[serde(default = "default_boot")]
    pub instance_boot: Dur,
    /// How long a stopped instance stays `stopping` (its app already down, its target
    /// still registered and health-checked) before EC2 calls it `stopped` and ELB marks
    /// its target `unused`. On AWS an instance takes seconds to minutes to shut down.
    #[serde(default = "default_stopping")]
    pub instance_stopping: Dur,
    /// How long the app waits for the database before answering 503.
    #[serde(default = "default_db_timeout")]
    pub app_db_timeout: Dur,
}

fn default_boot() -> Dur {
    Dur(Duration::from_millis(500))
}
fn default_stopping() -> Dur {
    Dur(Duration::from_secs(2))
}
fn default_db_timeout() -> Dur {
    Dur(Duration::from_secs(1))
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            instance_boot: default_boot(),
            instance_stopping: default_stopping(),
            app_db_timeout: default_db_timeout(),
        }
    }
}

/// The FIS engine's timings (stack-file section `fis:`).
///
/// AWS keeps a started experiment `initiating` (resolving targets, checking permissions)
/// for a few seconds before its first actions start; the experiment's `startTime` is
/// stamped at StartExperiment, while it is still `initiating`
/// (<https://docs.aws.amazon.com/cli/latest/reference/fis/start-experiment.html>, example
/// output). A drill must therefore date the fault from the actions' own start times, not
/// from the experiment's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FisSettings {
    /// How long a started experiment stays `initiating` before its actions start
    /// (`initiating: 100ms`). Default 3 s, about what AWS takes; the bundled stack files
    /// set 100 ms so that drills stay fast.
    #[serde(default = "default_initiating")]
    pub initiating: Dur,
}

/// The most `fis.initiating` may be.
pub(super) const MAX_INITIATING: Duration = Duration::from_secs(300);

fn default_initiating() -> Dur {
    Dur(Duration::from_secs(3))
}

impl Default for FisSettings {
    fn default() -> Self {
        FisSettings {
            initiating: default_initiating(),
        }
    }
}
