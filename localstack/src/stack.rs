//! Stack files: the YAML description of the local stack (zones, subnets, instances, load
//! balancer, database, timings), parsed and checked before anything starts.

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
}

/// Active health checks of a target group, as in ELBv2.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Path requested on each target.
    pub path: String,
    /// Time between checks of one target.
    pub interval: Dur,
    /// A check without an answer within this time fails.
    pub timeout: Dur,
    /// Consecutive successes to become healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold: u32,
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
    /// How long the app waits for the database before answering 503.
    #[serde(default = "default_db_timeout")]
    pub app_db_timeout: Dur,
}

fn default_boot() -> Dur {
    Dur(Duration::from_millis(500))
}
fn default_db_timeout() -> Dur {
    Dur(Duration::from_secs(1))
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            instance_boot: default_boot(),
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
        Ok(stack)
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
        for (k, v) in [
            ("healthy_threshold", hc.healthy_threshold),
            ("unhealthy_threshold", hc.unhealthy_threshold),
        ] {
            if !(1..=10).contains(&v) {
                return err(&format!("{hck}.{k}"), format!("{v} is outside 1..=10"));
            }
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

    /// A malformed duration is an error naming the value.
    #[test]
    fn bad_duration_is_refused() {
        let text = SHIPPED.replacen("interval: 500ms", "interval: soon", 1);
        let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
        assert!(e.contains("soon"), "{e}");
    }
}
