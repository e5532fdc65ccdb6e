//! The consistency checks of a parsed stack file: each region's sections, then what ties
//! regions and the stack-wide sections together (unique names, Route 53, replication,
//! the strategy's standing cost).

use std::collections::{HashMap, HashSet};

use super::*;

impl Stack {
    /// Checks the stack as a whole: every region, then what ties regions and the stack-wide
    /// sections together, in the order their errors are reported.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
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
            super::access::validate(access)?;
        }
        super::tagging::validate(&self.tagging)?;
        unique_across_regions(&per_region)?;
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
        super::regions::validate(self, &per_region)?;
        if let Some(b) = &self.backup {
            super::backup::validate(self, b)?;
        }
        if let Some(st) = &self.strategy {
            standing_cost_matches(st, &per_region)?;
        }
        Ok(())
    }

    /// Checks one region's sections (zones, subnets, instances, load balancer, database),
    /// in the order their errors are reported.
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
        self.validate_instances()?;
        self.validate_load_balancer()?;
        self.validate_database()
    }

    /// Instance ids are unique and start with `i-`, each in a known subnet, at most 240 per
    /// zone.
    fn validate_instances(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
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
        Ok(())
    }

    /// The targets are known instances; the health check, deregistration delay and idle
    /// timeout are within ELB's bounds.
    fn validate_load_balancer(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
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
        Ok(())
    }

    /// The database's nodes are in known subnets, the standby (per topology) in another
    /// zone than the primary, and a replica lag only for `async-replica`.
    fn validate_database(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
        let subnets: HashSet<&str> = self.subnets.iter().map(|s| s.id.as_str()).collect();
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

/// Every region appears once, and no load balancer name, database cluster, subnet id or
/// instance id is used in two regions.
fn unique_across_regions(per_region: &[Stack]) -> Result<(), (String, String)> {
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
    Ok(())
}

/// The strategy's standing cost states what the stack runs at start: its running
/// instances and database instances, and a non-negative monthly price.
fn standing_cost_matches(st: &Strategy, per_region: &[Stack]) -> Result<(), (String, String)> {
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
    Ok(())
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
