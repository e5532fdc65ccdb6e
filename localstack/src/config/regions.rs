//! The multi-region sections of a stack file: cross-region replication, backups and the
//! recovery runbook, with the checks that tie them to the stack's regions.

use serde::Deserialize;

use super::{DbRole, Dur, Stack};

/// Asynchronous replication of one region's database into another's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// Region whose acknowledged writes are shipped.
    pub from: String,
    /// Region whose database applies them.
    pub to: String,
    /// How long after acknowledgement a write is applied in `to`.
    pub lag: Dur,
}

/// Database snapshots on a schedule, copied to another region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backups {
    /// Region whose database is snapshotted (the top-level region when absent).
    #[serde(default)]
    pub region: Option<String>,
    /// Time between snapshots.
    pub interval: Dur,
    /// Region the snapshots are copied to.
    pub copy_to: String,
    /// How long a copy takes to arrive.
    pub copy_duration: Dur,
    /// How many copied snapshots are kept (older ones are deleted).
    pub retention: u32,
    /// Restore time of an empty snapshot.
    pub restore_base: Dur,
    /// Extra restore time per 1000 writes in the snapshot.
    pub restore_per_1000_writes: Dur,
}

/// Recovery automation: steps run in order once the trigger fires.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// The Route 53 health check whose failure starts the runbook.
    pub trigger_health_check: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One runbook step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Promote the region's read replica to a standalone writer (replication from the old
    /// writer stops; what it had not shipped is lost).
    PromoteReplica {
        /// The region of the replica.
        region: String,
        /// How long promotion takes.
        duration: Dur,
    },
    /// Create the region's database from the latest backup copied there.
    RestoreBackup {
        /// The region to restore in.
        region: String,
    },
    /// Start the region's stopped instances and wait until the load balancer has them healthy.
    StartInstances {
        /// The region.
        region: String,
    },
    /// Point a Route 53 name at a load balancer (replacing every record set of the name).
    SwitchDns {
        /// The name, e.g. `app.drill.test`.
        name: String,
        /// The load balancer to alias.
        load_balancer: String,
    },
}

impl Step {
    /// A short description, e.g. `promote_replica us-west-2`.
    pub fn describe(&self) -> String {
        match self {
            Step::PromoteReplica { region, .. } => format!("promote_replica {region}"),
            Step::RestoreBackup { region } => format!("restore_backup {region}"),
            Step::StartInstances { region } => format!("start_instances {region}"),
            Step::SwitchDns { name, load_balancer } => format!("switch_dns {name} -> {load_balancer}"),
        }
    }
}

type Invalid = (String, String);

/// Checks replication, backups, the runbook and the strategy's entry against the regions
/// (`per_region` as [`Stack::region_stacks`] gives them), in the order their errors are
/// reported.
pub fn validate(stack: &Stack, per_region: &[Stack]) -> Result<(), Invalid> {
    validate_replication(stack, per_region)?;
    if let Some(b) = &stack.backups {
        let source = b.region.as_deref().unwrap_or(&stack.region);
        region_named(per_region, "backups.region".into(), source)?;
        region_named(per_region, "backups.copy_to".into(), &b.copy_to)?;
        if b.interval.0.is_zero() {
            return Err(("backups.interval".into(), "must be greater than 0".into()));
        }
        if !(1..=100).contains(&b.retention) {
            return Err((
                "backups.retention".into(),
                format!("{} is outside 1..=100", b.retention),
            ));
        }
    }
    if let Some(rb) = &stack.runbook {
        validate_runbook(stack, rb, per_region)?;
    }
    if let Some(st) = &stack.strategy {
        let known = stack.route53.as_ref().is_some_and(|r| {
            r.zones.iter().flat_map(|z| &z.records).any(|rec| {
                rec.name
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(st.entry.trim_end_matches('.'))
            })
        });
        if !known {
            return Err((
                "strategy.entry".into(),
                format!("no record named {:?} in `route53.zones`", st.entry),
            ));
        }
    }
    Ok(())
}

/// The region called `name`; an unknown one is an error at `key`.
fn region_named<'a>(per_region: &'a [Stack], key: String, name: &str) -> Result<&'a Stack, Invalid> {
    per_region
        .iter()
        .find(|r| r.region == name)
        .ok_or_else(|| (key, format!("unknown region {name:?}")))
}

/// Each replication link joins two known regions, once, into a database that exists, with
/// a lag; each replica has a link into it.
fn validate_replication(stack: &Stack, per_region: &[Stack]) -> Result<(), Invalid> {
    for (i, r) in stack.replication.iter().enumerate() {
        let k = |f: &str| format!("replication[{i}].{f}");
        region_named(per_region, k("from"), &r.from)?;
        let to = region_named(per_region, k("to"), &r.to)?;
        if r.from == r.to {
            return Err((k("to"), "must be another region than `from`".into()));
        }
        if r.lag.0.is_zero() {
            return Err((k("lag"), "must be greater than 0".into()));
        }
        if to.database.role == DbRole::Absent {
            return Err((k("to"), format!("the database of {} is `absent`", r.to)));
        }
        if stack.replication[..i].iter().any(|p| p.from == r.from && p.to == r.to) {
            return Err((k("to"), "duplicate replication link".into()));
        }
    }
    for (i, r) in per_region.iter().enumerate() {
        if r.database.role == DbRole::Replica && !stack.replication.iter().any(|l| l.to == r.region) {
            return Err((
                format!("regions[{}].database.role", i.saturating_sub(1)),
                format!("a replica needs a `replication` link into {}", r.region),
            ));
        }
    }
    Ok(())
}

/// The runbook is triggered by a known health check and has steps, each valid
/// ([`validate_step`]).
fn validate_runbook(stack: &Stack, rb: &Runbook, per_region: &[Stack]) -> Result<(), Invalid> {
    let known = stack
        .route53
        .as_ref()
        .is_some_and(|r| r.health_checks.iter().any(|h| h.id == rb.trigger_health_check));
    if !known {
        return Err((
            "runbook.trigger_health_check".into(),
            format!(
                "no health check {:?} in `route53.health_checks`",
                rb.trigger_health_check
            ),
        ));
    }
    if rb.steps.is_empty() {
        return Err(("runbook.steps".into(), "at least one step is needed".into()));
    }
    for (i, step) in rb.steps.iter().enumerate() {
        validate_step(stack, per_region, step, &|f: &str| format!("runbook.steps[{i}].{f}"))?;
    }
    Ok(())
}

/// One runbook step (`k` names its keys): a promotion of a replica, a restore into an
/// absent database that backups are copied to, a start in a known region, or a DNS switch
/// to a known load balancer of a name in a hosted zone.
fn validate_step(stack: &Stack, per_region: &[Stack], step: &Step, k: &dyn Fn(&str) -> String) -> Result<(), Invalid> {
    match step {
        Step::PromoteReplica { region: name, .. } => {
            if region_named(per_region, k("region"), name)?.database.role != DbRole::Replica {
                return Err((k("region"), format!("the database of {name} is not a `replica`")));
            }
        }
        Step::RestoreBackup { region: name } => {
            if region_named(per_region, k("region"), name)?.database.role != DbRole::Absent {
                return Err((k("region"), format!("the database of {name} is not `absent`")));
            }
            let shorthand = stack.backups.as_ref().is_some_and(|b| &b.copy_to == name);
            let vault = stack.backup.as_ref().is_some_and(|b| {
                b.vaults
                    .iter()
                    .any(|v| v.region.as_deref().unwrap_or(&stack.region) == name)
            });
            if !shorthand && !vault {
                return Err((
                    k("region"),
                    format!("no `backups` are copied to {name} and no `backup.vaults` vault is in it"),
                ));
            }
        }
        Step::StartInstances { region: name } => {
            region_named(per_region, k("region"), name)?;
        }
        Step::SwitchDns { name, load_balancer } => {
            if !per_region.iter().any(|r| &r.load_balancer.name == load_balancer) {
                return Err((k("load_balancer"), format!("unknown load balancer {load_balancer:?}")));
            }
            let in_zone = stack.route53.as_ref().is_some_and(|r| {
                r.zones.iter().any(|z| {
                    let zone = z.name.trim_end_matches('.').to_ascii_lowercase();
                    let n = name.trim_end_matches('.').to_ascii_lowercase();
                    n == zone || n.ends_with(&format!(".{zone}"))
                })
            });
            if !in_zone {
                return Err((k("name"), format!("{name:?} is in no zone of `route53.zones`")));
            }
        }
    }
    Ok(())
}
