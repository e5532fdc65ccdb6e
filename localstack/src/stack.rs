//! Stack files: the YAML description of the local stack (zones, subnets, instances, load
//! balancer, database, timings), parsed and checked before anything starts.
//!
//! AWS's own limits hold by default (ALB health-check interval 5–300 s, timeout 2–120 s,
//! thresholds 2–10; FIS durations PT1M–PT12H, checked by the FIS engine); a stack file
//! relaxes them for fast local drills only by name, in its `speedups:` section (see
//! [`Speedups`]), and a value outside AWS's range without it is an error naming the file,
//! the line, the key and AWS's range.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a stack file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The file could not be read.
    #[error("{path}: cannot read stack file: {source}")]
    Read {
        /// The stack file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the stack types.
    #[error("{path}: {message}")]
    Parse {
        /// The stack file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value AWS would reject (an ALB health-check setting outside ELB's range) without
    /// the [`Speedups`] setting that allows it locally.
    #[error("{path}:{line}: {key}: {message}")]
    AwsLimit {
        /// The stack file.
        path: PathBuf,
        /// The line of the value in the stack file (1-based).
        line: u64,
        /// The key path of the value, e.g. `load_balancer.target_group.health_check.interval`.
        key: String,
        /// The value, AWS's range, and the setting that would allow it.
        message: String,
    },
    /// The file parsed but is inconsistent.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The stack file.
        path: PathBuf,
        /// The key path that is wrong, e.g. `instances[2].subnet`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A duration written as a humantime string (`500ms`, `2s`, `1m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map(Dur).map_err(|e| {
            serde::de::Error::custom(format!(
                "{s:?} is not a duration ({e}); expected e.g. \"500ms\" or \"2s\""
            ))
        })
    }
}

/// The whole stack: one region with its zones, instances, load balancer and database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// A name for the stack, shown in logs.
    pub name: String,
    /// The AWS region name this stack pretends to be.
    pub region: String,
    /// The 12-digit account id in ARNs and STS answers.
    #[serde(default = "default_account")]
    pub account_id: String,
    /// Availability zones, in order; zone `i` serves from `127.0.{i+1}.0/24`.
    pub zones: Vec<String>,
    /// Subnets, each in one zone.
    pub subnets: Vec<Subnet>,
    /// Application instances.
    pub instances: Vec<Instance>,
    /// The application load balancer in front of the instances.
    pub load_balancer: LoadBalancer,
    /// The database cluster behind the instances.
    pub database: Database,
    /// Stack-wide timings.
    #[serde(default)]
    pub timings: Timings,
    /// The FIS engine's timings (`fis: { initiating: 100ms }`).
    #[serde(default)]
    pub fis: FisSettings,
    /// Route 53: the DNS server's port, hosted zones with records, health checks.
    #[serde(default)]
    pub route53: Option<crate::route53::config::Route53Config>,
    /// The disaster-recovery strategy this stack implements, with its standing cost.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Further regions, each with its own zones, subnets, instances, load balancer and
    /// database; region `r` (the top-level one is 0) serves from its own loopback ranges.
    #[serde(default)]
    pub regions: Vec<RegionStack>,
    /// Asynchronous database replication between regions.
    #[serde(default)]
    pub replication: Vec<crate::regions::config::Replication>,
    /// Database snapshots on a schedule, copied to another region.
    #[serde(default)]
    pub backups: Option<crate::regions::config::Backups>,
    /// Recovery automation, run when a Route 53 health check fails, as a DR runbook would.
    #[serde(default)]
    pub runbook: Option<crate::regions::config::Runbook>,
    /// API request quotas (token buckets per service and operation group); without this
    /// section nothing is throttled. See [`crate::quotas`].
    #[serde(default)]
    pub quotas: Option<crate::quotas::QuotaConfig>,
    /// IAM actions answered access-denied and credentials that expire (`access:`), to
    /// see what a user sees when a permission is missing or a token runs out; without
    /// this section every call is allowed. See [`crate::access`].
    #[serde(default)]
    pub access: Option<crate::access::AccessConfig>,
    /// Named relaxations of AWS's limits for fast local drills (`speedups:`); every one is
    /// off unless the stack file turns it on. See [`Speedups`].
    #[serde(default)]
    pub speedups: Speedups,
}

/// Relaxations of AWS's own limits that make local drills fast (stack-file section
/// `speedups:`). The local stack enforces AWS's limits by default, so that a stack or a
/// template that works locally also works on an account; a stack file that wants
/// sub-second health checks or seconds-long faults says so here, by name:
///
/// ```yaml
/// speedups:
///   sub_second_health_checks: true   # ALB health-check interval < 5 s, timeout < 2 s
///   short_fault_durations: true      # FIS action durations < PT1M
///   short_alarm_periods: true        # CloudWatch alarm periods < 10 s
/// ```
///
/// `drdrill plan` reports which ones a stack turns on ([`Stack::speedups_on`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speedups {
    /// Accept ALB health-check intervals below AWS's minimum of 5 s and timeouts below its
    /// minimum of 2 s (AWS's maxima, 300 s and 120 s, and its thresholds, 2–10, still
    /// apply).
    #[serde(default)]
    pub sub_second_health_checks: bool,
    /// Accept FIS action durations below the PT1M minimum the FIS actions reference
    /// documents (`duration` of `aws:network:disrupt-connectivity` and `aws:fis:wait`,
    /// `startInstancesAfterDuration` of `aws:ec2:stop-instances`); the PT12H maximum
    /// still applies.
    #[serde(default)]
    pub short_fault_durations: bool,
    /// Accept CloudWatch alarm periods of whole seconds below the 10 s minimum
    /// PutMetricAlarm documents (10, 20, 30 or a multiple of 60), so that a dead man's
    /// switch fires within seconds in a local drill.
    #[serde(default)]
    pub short_alarm_periods: bool,
}

impl Speedups {
    /// The stack-file names of the relaxations turned on, in a fixed order (empty when
    /// the stack enforces every AWS limit).
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.sub_second_health_checks {
            out.push("sub_second_health_checks");
        }
        if self.short_fault_durations {
            out.push("short_fault_durations");
        }
        if self.short_alarm_periods {
            out.push("short_alarm_periods");
        }
        out
    }
}

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

fn default_account() -> String {
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
const MAX_DEREGISTRATION_DELAY: Duration = Duration::from_secs(3600);

/// Active health checks of a target group, as in ELBv2. AWS's ranges
/// (<https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html>):
/// interval 5–300 s, timeout 2–120 s, thresholds 2–10; a shorter interval or timeout
/// needs [`Speedups::sub_second_health_checks`].
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
    fn aws_limit_violation(&self, sub_second: bool) -> Option<(u64, &'static str, String)> {
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
const MAX_INITIATING: Duration = Duration::from_secs(300);

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

impl Stack {
    /// Reads, parses and validates a stack file.
    pub fn load(path: &Path) -> Result<Stack, StackError> {
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Stack::parse(path, &text)
    }

    /// Parses and validates stack YAML; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Stack, StackError> {
        let stack: Stack = serde_saphyr::from_str(text).map_err(|e| StackError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        stack.validate().map_err(|(key, message)| StackError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        })?;
        stack
            .check_aws_limits()
            .map_err(|(line, key, message)| StackError::AwsLimit {
                path: path.to_path_buf(),
                line,
                key,
                message,
            })?;
        Ok(stack)
    }

    /// The names of the [`Speedups`] this stack turns on (empty: every AWS limit is
    /// enforced), for `drdrill plan` to report.
    pub fn speedups_on(&self) -> Vec<&'static str> {
        self.speedups.enabled()
    }

    /// The first value of any region that AWS would reject, unless a speedup allows it.
    fn check_aws_limits(&self) -> Result<(), (u64, String, String)> {
        for (i, r) in self.region_stacks().iter().enumerate() {
            let prefix = if i == 0 {
                String::new()
            } else {
                format!("regions[{}].", i - 1)
            };
            let hc = &r.load_balancer.target_group.health_check;
            if let Some((line, key, message)) = hc.aws_limit_violation(self.speedups.sub_second_health_checks) {
                return Err((
                    line,
                    format!("{prefix}load_balancer.target_group.health_check.{key}"),
                    message,
                ));
            }
        }
        Ok(())
    }

    /// The zone of a subnet (validated to exist).
    pub fn subnet_zone(&self, subnet: &str) -> Option<&str> {
        self.subnets.iter().find(|s| s.id == subnet).map(|s| s.zone.as_str())
    }

    /// Every region of the stack as a one-region stack, the top-level region first: what
    /// one [`crate::world::World`] runs. Only the first keeps the stack-wide sections
    /// (Route 53, replication, backups, runbook, strategy).
    pub fn region_stacks(&self) -> Vec<Stack> {
        let mut first = self.clone();
        first.regions.clear();
        let mut out = vec![first];
        for r in &self.regions {
            out.push(Stack {
                name: self.name.clone(),
                region: r.region.clone(),
                account_id: self.account_id.clone(),
                zones: r.zones.clone(),
                subnets: r.subnets.clone(),
                instances: r.instances.clone(),
                load_balancer: r.load_balancer.clone(),
                database: r.database.clone(),
                timings: self.timings.clone(),
                fis: self.fis.clone(),
                route53: None,
                strategy: None,
                regions: Vec::new(),
                replication: Vec::new(),
                backups: None,
                runbook: None,
                quotas: self.quotas.clone(),
                access: self.access.clone(),
                speedups: self.speedups.clone(),
            });
        }
        out
    }

    /// Every region name, the top-level one first.
    pub fn region_names(&self) -> Vec<&str> {
        std::iter::once(self.region.as_str())
            .chain(self.regions.iter().map(|r| r.region.as_str()))
            .collect()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let per_region = self.region_stacks();
        for (i, r) in per_region.iter().enumerate() {
            let prefix = if i == 0 {
                String::new()
            } else {
                format!("regions[{}].", i - 1)
            };
            r.validate_region().map_err(|(k, m)| (format!("{prefix}{k}"), m))?;
        }
        if self.fis.initiating.0 > MAX_INITIATING {
            return Err((
                "fis.initiating".into(),
                format!("at most {}", humantime::format_duration(MAX_INITIATING)),
            ));
        }
        if self.regions.len() > 8 {
            return Err(("regions".into(), "at most 8 further regions".into()));
        }
        if let Some(access) = &self.access {
            crate::access::validate(access)?;
        }
        unique(per_region.iter().map(|r| r.region.as_str()), "regions")
            .map_err(|(_, m)| ("regions".to_string(), format!("{m} region (every region appears once)")))?;
        for (what, items) in [
            (
                "load balancer name",
                per_region
                    .iter()
                    .map(|r| r.load_balancer.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            (
                "database cluster",
                per_region.iter().map(|r| r.database.cluster.as_str()).collect(),
            ),
            (
                "subnet id",
                per_region
                    .iter()
                    .flat_map(|r| r.subnets.iter().map(|s| s.id.as_str()))
                    .collect(),
            ),
            (
                "instance id",
                per_region
                    .iter()
                    .flat_map(|r| r.instances.iter().map(|s| s.id.as_str()))
                    .collect(),
            ),
        ] {
            let mut seen = HashSet::new();
            if let Some(dup) = items.iter().find(|i| !seen.insert(**i)) {
                return Err((
                    "regions".into(),
                    format!("{what} {dup:?} is used in more than one region"),
                ));
            }
        }
        if per_region[0].database.role != DbRole::Writer {
            return Err((
                "database.role".into(),
                "the top-level region's database must be a `writer`".into(),
            ));
        }
        let lbs: Vec<&str> = per_region.iter().map(|r| r.load_balancer.name.as_str()).collect();
        if let Some(r53) = &self.route53 {
            r53.validate(&lbs)?;
        }
        crate::regions::config::validate(self, &per_region)?;
        if let Some(st) = &self.strategy {
            let instances = per_region
                .iter()
                .flat_map(|r| &r.instances)
                .filter(|i| i.state == InitialState::Running)
                .count() as u32;
            let databases: u32 = per_region
                .iter()
                .filter(|r| r.database.role != DbRole::Absent)
                .map(|r| 1 + u32::from(r.database.standby.is_some()))
                .sum();
            let c = &st.standing_cost;
            if c.instances != instances {
                return Err((
                    "strategy.standing_cost.instances".into(),
                    format!("{} stated, but {instances} instances run at start", c.instances),
                ));
            }
            if c.databases != databases {
                return Err((
                    "strategy.standing_cost.databases".into(),
                    format!(
                        "{} stated, but {databases} database instances run at start",
                        c.databases
                    ),
                ));
            }
            if !(c.usd_per_month.is_finite() && c.usd_per_month >= 0.0) {
                return Err((
                    "strategy.standing_cost.usd_per_month".into(),
                    "must be a non-negative number".into(),
                ));
            }
        }
        Ok(())
    }

    /// Checks one region's sections (zones, subnets, instances, load balancer, database).
    fn validate_region(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
        if self.zones.len() < 3 {
            return err(
                "zones",
                format!("at least 3 availability zones are needed, found {}", self.zones.len()),
            );
        }
        if self.zones.len() > 250 {
            return err("zones", "at most 250 zones".into());
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return err(
                "account_id",
                format!("{:?} is not a 12-digit account id", self.account_id),
            );
        }
        unique(self.zones.iter().map(String::as_str), "zones")?;
        let zones: HashSet<&str> = self.zones.iter().map(String::as_str).collect();
        unique(self.subnets.iter().map(|s| s.id.as_str()), "subnets")?;
        for (i, s) in self.subnets.iter().enumerate() {
            if !zones.contains(s.zone.as_str()) {
                return err(&format!("subnets[{i}].zone"), format!("unknown zone {:?}", s.zone));
            }
        }
        let subnets: HashSet<&str> = self.subnets.iter().map(|s| s.id.as_str()).collect();
        unique(self.instances.iter().map(|s| s.id.as_str()), "instances")?;
        let mut per_zone: HashMap<&str, usize> = HashMap::new();
        for (i, inst) in self.instances.iter().enumerate() {
            if !inst.id.starts_with("i-") {
                return err(
                    &format!("instances[{i}].id"),
                    format!("{:?} must start with \"i-\"", inst.id),
                );
            }
            let Some(zone) = self.subnet_zone(&inst.subnet) else {
                return err(
                    &format!("instances[{i}].subnet"),
                    format!("unknown subnet {:?}", inst.subnet),
                );
            };
            let n = per_zone.entry(zone).or_default();
            *n += 1;
            if *n > 240 {
                return err(
                    &format!("instances[{i}]"),
                    format!("more than 240 instances in zone {zone}"),
                );
            }
        }
        let instances: HashSet<&str> = self.instances.iter().map(|s| s.id.as_str()).collect();
        let tg = &self.load_balancer.target_group;
        for (i, t) in tg.targets.iter().enumerate() {
            if !instances.contains(t.as_str()) {
                return err(
                    &format!("load_balancer.target_group.targets[{i}]"),
                    format!("unknown instance {t:?}"),
                );
            }
        }
        let hc = &tg.health_check;
        let hck = "load_balancer.target_group.health_check";
        if !hc.path.starts_with('/') {
            return err(&format!("{hck}.path"), format!("{:?} must start with '/'", hc.path));
        }
        if hc.interval.0.is_zero() {
            return err(&format!("{hck}.interval"), "must be greater than 0".into());
        }
        if hc.timeout.0.is_zero() || hc.timeout.0 > hc.interval.0 {
            return err(
                &format!("{hck}.timeout"),
                "must be greater than 0 and at most the interval".into(),
            );
        }
        if tg.deregistration_delay.0 > MAX_DEREGISTRATION_DELAY {
            return err(
                "load_balancer.target_group.deregistration_delay",
                format!(
                    "at most {} (ELB's deregistration_delay.timeout_seconds is 0 to 3600 s)",
                    humantime::format_duration(MAX_DEREGISTRATION_DELAY)
                ),
            );
        }
        if self.load_balancer.idle_timeout.0.is_zero() {
            return err("load_balancer.idle_timeout", "must be greater than 0".into());
        }
        let db = &self.database;
        if !subnets.contains(db.primary.subnet.as_str()) {
            return err(
                "database.primary.subnet",
                format!("unknown subnet {:?}", db.primary.subnet),
            );
        }
        match (db.topology, &db.standby) {
            (Topology::Single, Some(_)) => return err("database.standby", "a `single` database has no standby".into()),
            (Topology::Single, None) => {}
            (_, None) => return err("database.standby", "required for this topology".into()),
            (_, Some(sb)) => {
                let Some(zone) = self.subnet_zone(&sb.subnet) else {
                    return err("database.standby.subnet", format!("unknown subnet {:?}", sb.subnet));
                };
                if Some(zone) == self.subnet_zone(&db.primary.subnet) {
                    return err(
                        "database.standby.subnet",
                        format!("the standby must be in another zone than the primary ({zone})"),
                    );
                }
                if sb.id == db.primary.id {
                    return err("database.standby.id", "must differ from the primary's id".into());
                }
            }
        }
        match (db.topology, db.replica_lag) {
            (Topology::AsyncReplica, None) => {
                return err("database.replica_lag", "required for `async-replica`".into())
            }
            (Topology::AsyncReplica, Some(_)) | (_, None) => {}
            (_, Some(_)) => return err("database.replica_lag", "only `async-replica` has a replica lag".into()),
        }
        Ok(())
    }
}

fn unique<'a>(items: impl Iterator<Item = &'a str>, key: &str) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, item) in items.enumerate() {
        if !seen.insert(item) {
            return Err((format!("{key}[{i}]"), format!("duplicate {item:?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../stacks/multi-az.yaml");

    /// The shipped Multi-AZ stack file parses and has 3 zones with 2 instances each.
    #[test]
    fn shipped_multi_az_stack_is_valid() {
        let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
        assert_eq!(s.zones.len(), 3);
        assert_eq!(s.instances.len(), 6);
        assert_eq!(s.database.topology, Topology::MultiAz);
    }

    /// Unknown keys are rejected with the key's name and a line number.
    #[test]
    fn unknown_key_is_rejected_with_location() {
        let text = SHIPPED.replacen("region:", "regoin:", 1);
        let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
        assert!(e.contains("x.yaml") && e.contains("regoin"), "{e}");
    }

    /// An instance in a subnet that does not exist names the key path.
    #[test]
    fn inconsistent_reference_names_the_key() {
        let text = SHIPPED.replacen("subnet: subnet-app-1b", "subnet: subnet-nope", 1);
        let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
        assert!(
            e.contains("instances[") && e.contains(".subnet") && e.contains("subnet-nope"),
            "{e}"
        );
    }

    /// A standby in the primary's zone is refused.
    #[test]
    fn standby_in_same_zone_is_refused() {
        let text = SHIPPED.replacen("subnet: subnet-db-1b", "subnet: subnet-db-1a", 1);
        let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
        assert!(e.contains("database.standby.subnet"), "{e}");
    }

    /// `fis.initiating` is read from the stack file (the shipped ones set a short one),
    /// defaults to AWS's few seconds when the section is absent, and is bounded.
    #[test]
    fn fis_initiating_is_a_named_setting() {
        let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
        assert_eq!(s.fis.initiating, Dur(Duration::from_millis(100)));
        assert!(s.region_stacks().iter().all(|r| r.fis.initiating == s.fis.initiating));
        let start = SHIPPED.find("\nfis:").expect("fis section") + 1;
        let end = SHIPPED[start..].find("initiating: 100ms\n").expect("initiating") + start + 18;
        let without = format!("{}{}", &SHIPPED[..start], &SHIPPED[end..]);
        let s = Stack::parse(Path::new("x.yaml"), &without).unwrap();
        assert_eq!(s.fis.initiating, Dur(Duration::from_secs(3)));
        let long = SHIPPED.replacen("initiating: 100ms", "initiating: 1h", 1);
        let e = Stack::parse(Path::new("x.yaml"), &long).unwrap_err().to_string();
        assert!(e.contains("fis.initiating"), "{e}");
        let typo = SHIPPED.replacen("initiating: 100ms", "initiatin: 100ms", 1);
        let e = Stack::parse(Path::new("x.yaml"), &typo).unwrap_err().to_string();
        assert!(e.contains("initiatin"), "{e}");
    }

    /// The shipped stack without its `speedups:` section.
    fn without_speedups() -> String {
        let start = SHIPPED.find("# Relaxations of AWS's limits").expect("speedups comment");
        SHIPPED[..start].to_string()
    }

    /// AWS's health-check limits hold by default: the shipped stack's 500 ms interval
    /// without `speedups.sub_second_health_checks` is refused naming the file, the line,
    /// the key and AWS's range, and the setting that allows it; with it the stack loads and
    /// says which relaxations it uses. Maxima and thresholds hold even with it.
    #[test]
    fn aws_health_check_limits_are_enforced_unless_relaxed_by_name() {
        let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
        assert_eq!(s.speedups_on(), ["sub_second_health_checks", "short_fault_durations"]);
        assert!(s.region_stacks().iter().all(|r| r.speedups == s.speedups));

        let strict = without_speedups();
        let e = Stack::parse(Path::new("x.yaml"), &strict).unwrap_err();
        let line = strict.lines().position(|l| l.contains("interval: 500ms")).unwrap() as u64 + 1;
        assert!(
            matches!(&e, StackError::AwsLimit { line: l, .. } if *l == line),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "x.yaml:{line}: load_balancer.target_group.health_check.interval: 500ms"
            )),
            "{msg}"
        );
        assert!(
            msg.contains("5s to 5m") && msg.contains("sub_second_health_checks"),
            "{msg}"
        );

        // AWS-valid settings load without any speedup, which then reports none.
        let aws = strict
            .replacen("interval: 500ms", "interval: 5s", 1)
            .replacen("timeout: 250ms", "timeout: 2s", 1);
        let s = Stack::parse(Path::new("x.yaml"), &aws).unwrap();
        assert!(s.speedups_on().is_empty());
        let short_timeout = aws.replacen("timeout: 2s", "timeout: 1s", 1);
        let e = Stack::parse(Path::new("x.yaml"), &short_timeout)
            .unwrap_err()
            .to_string();
        assert!(e.contains("health_check.timeout: 1s") && e.contains("2s to 2m"), "{e}");

        for (from, to, key) in [
            ("healthy_threshold: 2", "healthy_threshold: 1", "healthy_threshold: 1"),
            (
                "unhealthy_threshold: 2",
                "unhealthy_threshold: 11",
                "unhealthy_threshold: 11",
            ),
        ] {
            let e = Stack::parse(Path::new("x.yaml"), &SHIPPED.replacen(from, to, 1))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(key.split(':').next().unwrap()) && e.contains("2 to 10"),
                "{e}"
            );
        }
        let long =
            SHIPPED
                .replacen("interval: 500ms", "interval: 301s", 1)
                .replacen("timeout: 250ms", "timeout: 2s", 1);
        let e = Stack::parse(Path::new("x.yaml"), &long).unwrap_err().to_string();
        assert!(e.contains("above AWS's maximum"), "{e}");
        let typo = SHIPPED.replacen("short_fault_durations", "short_faults", 1);
        let e = Stack::parse(Path::new("x.yaml"), &typo).unwrap_err().to_string();
        assert!(e.contains("short_faults"), "{e}");
    }

    /// `deregistration_delay` defaults to AWS's 300 s, is read from the stack file and is
    /// bounded by ELB's 3600 s.
    #[test]
    fn deregistration_delay_is_a_stack_setting() {
        let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
        assert_eq!(
            s.load_balancer.target_group.deregistration_delay,
            Dur(Duration::from_secs(1))
        );
        let text = SHIPPED.replacen("    deregistration_delay: 1s\n", "", 1);
        let s = Stack::parse(Path::new("x.yaml"), &text).unwrap();
        assert_eq!(
            s.load_balancer.target_group.deregistration_delay,
            Dur(Duration::from_secs(300))
        );
        let text = SHIPPED.replacen("deregistration_delay: 1s", "deregistration_delay: 2h", 1);
        let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
        assert!(e.contains("deregistration_delay"), "{e}");
    }

    /// A malformed duration is an error naming the value.
    #[test]
    fn bad_duration_is_refused() {
        let text = SHIPPED.replacen("interval: 500ms", "interval: soon", 1);
        let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
        assert!(e.contains("soon"), "{e}");
    }
}
