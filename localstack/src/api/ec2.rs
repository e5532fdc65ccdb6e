//! EC2 over its query protocol: instances (describe, stop, start), subnets and
//! availability zones of the stack, with EC2's filters (`Filter.N.Name`,
//! `Filter.N.Value.M`, `*`/`?` wildcards) and `<item>` lists without a Result wrapper.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::errors::{shorten, QueryError};
use super::ids::{stable_hex, vpc_id};
use super::params::Params;
use super::xml::{ec2_success, iso8601, Xml};
use super::Services;
use crate::world::{InstanceRec, InstanceState, World};

/// Answers one EC2 action.
pub fn handle(s: &Services, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let w = &s.world;
    match action {
        "DescribeInstances" => describe_instances(w, action, p, rid),
        "StopInstances" | "StartInstances" => stop_or_start_instances(w, action, p, rid),
        "DescribeSubnets" => describe_subnets(w, action, p, rid),
        "DescribeAvailabilityZones" => describe_availability_zones(w, action, p, rid),
        other => Err(QueryError::invalid_action("ec2", other)),
    }
}

/// DescribeInstances: the instances asked for (all by default) that pass the filters,
/// one reservation each, paged.
fn describe_instances(w: &Arc<World>, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let filters = filters(p, INSTANCE_FILTERS)?;
    let all = w.instances();
    let ids = p.list("InstanceId");
    check_instance_ids(&ids, &all)?;
    let chosen: Vec<&InstanceRec> = all
        .iter()
        .filter(|i| ids.is_empty() || ids.contains(&i.id))
        .filter(|i| filters.iter().all(|f| f.matches(&instance_values(w, i, &f.name))))
        .collect();
    if !ids.is_empty() && p.get("MaxResults").is_some() {
        return Err(QueryError::bad(
            "InvalidParameterCombination",
            "The parameter instancesSet cannot be used with the parameter maxResults",
        ));
    }
    let (chosen, next) = page(chosen, p)?;
    Ok(ec2_success(action, rid, |x| {
        x.elem("reservationSet", |x| {
            x.items("item", chosen, |x, i| {
                x.text(
                    "reservationId",
                    format!("r-{}", stable_hex(&format!("reservation/{}", i.id), 17)),
                );
                x.text("ownerId", &w.stack.account_id);
                x.elem("groupSet", |_| {});
                x.elem("instancesSet", |x| {
                    x.elem("item", |x| instance(x, w, i));
                });
            });
        });
        x.opt_text("nextToken", next.as_deref());
    }))
}

/// StopInstances or StartInstances (`action`): each instance's state before and now.
fn stop_or_start_instances(w: &Arc<World>, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let ids = p.list("InstanceId");
    if ids.is_empty() {
        return Err(QueryError::missing("InstanceId"));
    }
    let all = w.instances();
    check_instance_ids(&ids, &all)?;
    if let Some(t) = all
        .iter()
        .find(|i| ids.contains(&i.id) && i.state == InstanceState::Terminated)
    {
        return Err(QueryError::bad(
            "IncorrectInstanceState",
            format!(
                "The instance '{}' is not in a state from which it can be {}.",
                t.id,
                if action == "StopInstances" {
                    "stopped"
                } else {
                    "started"
                }
            ),
        ));
    }
    if p.flag("DryRun") {
        return Err(dry_run());
    }
    let changed = if action == "StopInstances" {
        w.stop_instances(&ids)
    } else {
        w.start_instances(&ids)
    };
    let changed = changed.map_err(|bad| instance_not_found(&[bad]))?;
    let now: BTreeMap<String, InstanceState> = w.instances().into_iter().map(|i| (i.id, i.state)).collect();
    Ok(ec2_success(action, rid, |x| {
        x.elem("instancesSet", |x| {
            x.items("item", &changed, |x, (id, prev)| {
                x.text("instanceId", id);
                state(x, "currentState", now.get(id).copied().unwrap_or(*prev));
                state(x, "previousState", *prev);
            });
        });
    }))
}

/// DescribeSubnets: the stack's subnets asked for that pass the filters, paged.
fn describe_subnets(w: &Arc<World>, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let filters = filters(p, SUBNET_FILTERS)?;
    let ids = p.list("SubnetId");
    let unknown: Vec<&String> = ids
        .iter()
        .filter(|id| !w.stack.subnets.iter().any(|s| &s.id == *id))
        .collect();
    if let Some(bad) = unknown.first() {
        return Err(QueryError::bad(
            "InvalidSubnetID.NotFound",
            format!("The subnet ID '{}' does not exist", shorten(bad)),
        ));
    }
    let chosen: Vec<(usize, &crate::config::Subnet)> = w
        .stack
        .subnets
        .iter()
        .enumerate()
        .filter(|(_, s)| ids.is_empty() || ids.contains(&s.id))
        .filter(|(i, s)| filters.iter().all(|f| f.matches(&subnet_values(w, *i, s, &f.name))))
        .collect();
    let (chosen, next) = page(chosen, p)?;
    Ok(ec2_success(action, rid, |x| {
        x.elem("subnetSet", |x| {
            x.items("item", chosen, |x, (i, s)| subnet(x, w, i, s));
        });
        x.opt_text("nextToken", next.as_deref());
    }))
}

/// DescribeAvailabilityZones: the stack's zones asked for that pass the filters.
fn describe_availability_zones(w: &Arc<World>, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let filters = filters(p, ZONE_FILTERS)?;
    let names = p.list("ZoneName");
    let zone_ids = p.list("ZoneId");
    let zones = &w.stack.zones;
    if let Some(bad) = names.iter().find(|n| !zones.contains(n)) {
        return Err(QueryError::bad(
            "InvalidParameterValue",
            format!("The zone '{}' does not exist.", shorten(bad)),
        ));
    }
    let chosen: Vec<(usize, &String)> = zones
        .iter()
        .enumerate()
        .filter(|(_, z)| names.is_empty() || names.contains(z))
        .filter(|(i, _)| zone_ids.is_empty() || zone_ids.contains(&zone_id(&w.stack.region, *i)))
        .filter(|(i, z)| filters.iter().all(|f| f.matches(&zone_values(w, *i, z, &f.name))))
        .collect();
    Ok(ec2_success(action, rid, |x| {
        x.elem("availabilityZoneInfo", |x| {
            x.items("item", chosen, |x, (i, z)| {
                x.text("zoneName", z);
                x.text("zoneId", zone_id(&w.stack.region, i));
                x.text("zoneState", "available");
                x.text("regionName", &w.stack.region);
                x.text("zoneType", "availability-zone");
                x.text("groupName", &w.stack.region);
                x.text("networkBorderGroup", &w.stack.region);
                x.text("optInStatus", "opt-in-not-required");
                x.elem("messageSet", |_| {});
            });
        });
    }))
}

/// The zone id of zone `index` in `region` (`us-east-1` → `use1-az1`).
pub fn zone_id(region: &str, index: usize) -> String {
    let short: String = region
        .split('-')
        .enumerate()
        .filter_map(|(i, part)| {
            if i == 0 || part.chars().all(|c| c.is_ascii_digit()) {
                Some(part.to_string())
            } else {
                part.chars().next().map(String::from)
            }
        })
        .collect();
    format!("{short}-az{}", index + 1)
}

fn dry_run() -> QueryError {
    QueryError::new(
        http::StatusCode::PRECONDITION_FAILED,
        "DryRunOperation",
        "Request would have succeeded, but DryRun flag is set.",
    )
}

fn instance_not_found(ids: &[String]) -> QueryError {
    let ids: Vec<String> = ids.iter().map(|i| shorten(i)).collect();
    let message = if ids.len() == 1 {
        format!("The instance ID '{}' does not exist", ids[0])
    } else {
        format!("The instance IDs '{}' do not exist", ids.join(", "))
    };
    QueryError::bad("InvalidInstanceID.NotFound", message)
}

/// Malformed ids first (`InvalidInstanceID.Malformed`), then unknown ones.
fn check_instance_ids(ids: &[String], all: &[InstanceRec]) -> Result<(), QueryError> {
    if let Some(bad) = ids.iter().find(|id| !id.starts_with("i-") || id.len() < 3) {
        return Err(QueryError::bad(
            "InvalidInstanceID.Malformed",
            format!("Invalid id: \"{}\"", shorten(bad)),
        ));
    }
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !all.iter().any(|i| &i.id == *id))
        .cloned()
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(instance_not_found(&unknown))
    }
}

fn state(x: &mut Xml, name: &str, s: InstanceState) {
    x.elem(name, |x| {
        x.text("code", s.code());
        x.text("name", s.name());
    });
}

fn tags(x: &mut Xml, tags: &BTreeMap<String, String>) {
    x.elem("tagSet", |x| {
        x.items("item", tags, |x, (k, v)| {
            x.text("key", k);
            x.text("value", v);
        });
    });
}

fn instance(x: &mut Xml, w: &World, i: &InstanceRec) {
    let ip = i.addr.ip();
    x.text("instanceId", &i.id);
    x.text("imageId", "ami-0d7d11a0000000000");
    state(x, "instanceState", i.state);
    x.text(
        "privateDnsName",
        format!("ip-{}.ec2.internal", ip.to_string().replace(['.', ':'], "-")),
    );
    x.text("dnsName", "");
    x.text("amiLaunchIndex", 0);
    x.text("instanceType", "t3.micro");
    x.text("launchTime", iso8601(i.launch_time_unix_ms));
    x.elem("placement", |x| {
        x.text("availabilityZone", &i.zone);
        x.text("tenancy", "default");
    });
    x.elem("monitoring", |x| {
        x.text("state", "disabled");
    });
    x.text("subnetId", &i.subnet);
    x.text("vpcId", vpc_id(w));
    x.text("privateIpAddress", ip);
    x.text("architecture", "x86_64");
    x.text("rootDeviceType", "ebs");
    x.text("rootDeviceName", "/dev/xvda");
    x.text("virtualizationType", "hvm");
    x.text("hypervisor", "xen");
    tags(x, &i.tags);
}

fn subnet(x: &mut Xml, w: &World, index: usize, s: &crate::config::Subnet) {
    let zone_index = w.stack.zones.iter().position(|z| z == &s.zone).unwrap_or(0);
    x.text("subnetId", &s.id);
    x.text(
        "subnetArn",
        format!("arn:aws:ec2:{}:{}:subnet/{}", w.stack.region, w.stack.account_id, s.id),
    );
    x.text("state", "available");
    x.text("ownerId", &w.stack.account_id);
    x.text("vpcId", vpc_id(w));
    x.text("cidrBlock", cidr(index));
    // A /24 less the five addresses AWS reserves in every subnet, less one primary
    // network interface per instance in it (VPC User Guide, "Subnet CIDR blocks",
    // https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
    let in_subnet = w
        .instances()
        .iter()
        .filter(|i| i.subnet == s.id && i.state != InstanceState::Terminated)
        .count();
    x.text("availableIpAddressCount", 251 - in_subnet.min(251));
    x.text("availabilityZone", &s.zone);
    x.text("availabilityZoneId", zone_id(&w.stack.region, zone_index));
    x.text("defaultForAz", false);
    x.text("mapPublicIpOnLaunch", false);
    tags(x, &s.tags);
}

/// The made-up CIDR of subnet `index`: `10.0.{index}.0/24`, continuing into `10.1.…`.
fn cidr(index: usize) -> String {
    format!("10.{}.{}.0/24", (index / 256) % 256, index % 256)
}

const INSTANCE_FILTERS: &[&str] = &[
    "availability-zone",
    "instance-state-name",
    "instance-state-code",
    "subnet-id",
    "instance-id",
    "vpc-id",
    "private-ip-address",
    "instance-type",
    "tag-key",
    "tag-value",
];
const SUBNET_FILTERS: &[&str] = &[
    "availability-zone",
    "availability-zone-id",
    "subnet-id",
    "vpc-id",
    "state",
    "cidr-block",
    "tag-key",
    "tag-value",
];
const ZONE_FILTERS: &[&str] = &["zone-name", "zone-id", "region-name", "state", "zone-type"];

/// One EC2 filter.
struct Filter {
    name: String,
    values: Vec<String>,
}

impl Filter {
    /// Whether any of the resource's values matches any of the filter's patterns.
    fn matches(&self, resource_values: &[String]) -> bool {
        resource_values
            .iter()
            .any(|rv| self.values.iter().any(|pat| glob(pat, rv)))
    }
}

/// Parses `Filter.N.Name` / `Filter.N.Value.M`; names outside `known` (other than
/// `tag:KEY`) are `InvalidParameterValue`.
fn filters(p: &Params, known: &[&str]) -> Result<Vec<Filter>, QueryError> {
    p.items("Filter")
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let name = f
                .get("Name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| QueryError::missing(&format!("Filter.{}.Name", i + 1)))?;
            let tag_key = name.strip_prefix("tag:").is_some_and(|k| !k.is_empty());
            if !tag_key && !known.contains(&name) {
                return Err(QueryError::bad(
                    "InvalidParameterValue",
                    format!("The filter '{}' is invalid", shorten(name)),
                ));
            }
            Ok(Filter {
                name: name.to_string(),
                values: f.list("Value"),
            })
        })
        .collect()
}

fn tag_values(tags: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    if let Some(key) = name.strip_prefix("tag:") {
        return tags.get(key).cloned().into_iter().collect();
    }
    match name {
        "tag-key" => tags.keys().cloned().collect(),
        "tag-value" => tags.values().cloned().collect(),
        _ => Vec::new(),
    }
}

fn instance_values(w: &World, i: &InstanceRec, name: &str) -> Vec<String> {
    let one = |v: String| vec![v];
    match name {
        "availability-zone" => one(i.zone.clone()),
        "instance-state-name" => one(i.state.name().to_string()),
        "instance-state-code" => one(i.state.code().to_string()),
        "subnet-id" => one(i.subnet.clone()),
        "instance-id" => one(i.id.clone()),
        "vpc-id" => one(vpc_id(w)),
        "private-ip-address" => one(i.addr.ip().to_string()),
        "instance-type" => one("t3.micro".to_string()),
        _ => tag_values(&i.tags, name),
    }
}

fn subnet_values(w: &World, index: usize, s: &crate::config::Subnet, name: &str) -> Vec<String> {
    let zone_index = w.stack.zones.iter().position(|z| z == &s.zone).unwrap_or(0);
    match name {
        "availability-zone" => vec![s.zone.clone()],
        "availability-zone-id" => vec![zone_id(&w.stack.region, zone_index)],
        "subnet-id" => vec![s.id.clone()],
        "vpc-id" => vec![vpc_id(w)],
        "state" => vec!["available".to_string()],
        "cidr-block" => vec![cidr(index)],
        _ => tag_values(&s.tags, name),
    }
}

fn zone_values(w: &World, index: usize, zone: &str, name: &str) -> Vec<String> {
    match name {
        "zone-name" => vec![zone.to_string()],
        "zone-id" => vec![zone_id(&w.stack.region, index)],
        "region-name" => vec![w.stack.region.clone()],
        "state" => vec!["available".to_string()],
        "zone-type" => vec!["availability-zone".to_string()],
        _ => Vec::new(),
    }
}

/// EC2 filter matching: `*` is any run of characters, `?` any one character. Linear
/// backtracking on the last `*`, so no input can make it slow.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Prefix of the page tokens this stack hands out (`nextToken`): the offset of the
/// next page's first item follows it. AWS's tokens are opaque; a client only passes them
/// back.
const TOKEN_PREFIX: &str = "drdrill-page-";

/// One page of `items` as EC2 pages them: `MaxResults` items (when given) from the offset `NextToken` names, and the token of
/// the next page when more remain (none on the last page). A token this stack did not
/// hand out is `InvalidParameterValue`, as EC2 answers a malformed token.
fn page<T>(items: Vec<T>, p: &Params) -> Result<(Vec<T>, Option<String>), QueryError> {
    let start = match p.get("NextToken") {
        None => 0,
        Some(t) => t
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                QueryError::bad(
                    "InvalidParameterValue",
                    format!("Invalid value '{}' for nextToken", shorten(t)),
                )
            })?,
    };
    // MaxResults is an integer in range by now (`check_integer_params`, before dispatch).
    let size = p
        .get("MaxResults")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let next = (end < total).then(|| format!("{TOKEN_PREFIX}{end}"));
    Ok((items.into_iter().skip(start).take(end - start).collect(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wildcards match like EC2's filters.
    #[test]
    fn glob_matches() {
        assert!(glob("us-east-1a", "us-east-1a"));
        assert!(!glob("us-east-1a", "us-east-1b"));
        assert!(glob("us-east-1*", "us-east-1b"));
        assert!(glob("*", ""));
        assert!(glob("i-app1?1", "i-app1c1"));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("*a*b", "xxaxxbxxc"));
        assert!(!glob("", "x"));
    }

    /// Zone ids follow AWS's short region form.
    #[test]
    fn zone_ids() {
        assert_eq!(zone_id("us-east-1", 0), "use1-az1");
        assert_eq!(zone_id("eu-west-2", 2), "euw2-az3");
    }
}
