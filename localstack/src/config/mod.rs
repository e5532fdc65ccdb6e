//! Stack files (the whole stack-file schema and its validation): the YAML description of the local stack (zones, subnets, instances, load
//! balancer, database, timings), parsed and checked before anything starts.
//!
//! AWS's own limits hold by default (ALB health-check interval 5–300 s, timeout 2–120 s,
//! thresholds 2–10; FIS durations PT1M–PT12H, checked by the FIS engine); a stack file
//! relaxes them for fast local drills only by name, in its `speedups:` section (see
//! [`Speedups`]), and a value outside AWS's range without it is an error naming the file,
//! the line, the key and AWS's range.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

mod access;
mod backup;
mod region;
mod regions;
mod route53;
mod tagging;
mod validate;

pub use access::{iam_prefix, AccessConfig};
pub use backup::{BackupConfig, BackupTimings, PlanSpec, VaultSpec, MAX_PAGE_SIZE};
pub use region::*;
pub use regions::{Backups, Replication, Runbook, Step};
pub use route53::{AliasSpec, CheckType, HealthCheckSpec, RecordSpec, Route53Config, ZoneSpec};
pub use tagging::{TaggingConfig, MAX_RESOURCES_PER_PAGE};

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
    pub route53: Option<Route53Config>,
    /// The disaster-recovery strategy this stack implements, with its standing cost.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Further regions, each with its own zones, subnets, instances, load balancer and
    /// database; region `r` (the top-level one is 0) serves from its own loopback ranges.
    #[serde(default)]
    pub regions: Vec<RegionStack>,
    /// Asynchronous database replication between regions.
    #[serde(default)]
    pub replication: Vec<Replication>,
    /// Database snapshots on a schedule, copied to another region.
    #[serde(default)]
    pub backups: Option<Backups>,
    /// AWS Backup: vaults, plans and selections in AWS's terms, and the compressed clock
    /// (see [`BackupConfig`]); `backups:` is its shorthand.
    #[serde(default)]
    pub backup: Option<BackupConfig>,
    /// Recovery automation, run when a Route 53 health check fails, as a DR runbook would.
    #[serde(default)]
    pub runbook: Option<Runbook>,
    /// API request quotas (token buckets per service and operation group); without this
    /// section nothing is throttled. See [`crate::quotas`].
    #[serde(default)]
    pub quotas: Option<crate::quotas::QuotaConfig>,
    /// IAM actions answered access-denied and credentials that expire (`access:`), to
    /// see what a user sees when a permission is missing or a token runs out; without
    /// this section every call is allowed. See [`crate::access`].
    #[serde(default)]
    pub access: Option<AccessConfig>,
    /// The Resource Groups Tagging API's local settings (`tagging: { page_size }`); every
    /// region has the same. See [`TaggingConfig`].
    #[serde(default)]
    pub tagging: TaggingConfig,
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
                backup: None,
                runbook: None,
                quotas: self.quotas.clone(),
                access: self.access.clone(),
                tagging: self.tagging.clone(),
                speedups: self.speedups.clone(),
            });
        }
        out
    }

    /// The AWS Backup the stack runs: its `backup:` section, or the `backups:` shorthand
    /// expressed as one; none when it has neither.
    pub fn backup_config(&self) -> Option<BackupConfig> {
        match (&self.backup, &self.backups) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(short)) => Some(backup::from_shorthand(self, short)),
            (None, None) => None,
        }
    }

    /// Every region name, the top-level one first.
    pub fn region_names(&self) -> Vec<&str> {
        std::iter::once(self.region.as_str())
            .chain(self.regions.iter().map(|r| r.region.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests;
