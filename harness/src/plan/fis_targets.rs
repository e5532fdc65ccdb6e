//! Which resources an FIS template target resolves to, predicted the way FIS resolves it
//! ("Targets for AWS FIS", <https://docs.aws.amazon.com/fis/latest/userguide/targets.html>):
//! - **identify** by `resourceArns`, or by `resourceTags` (every tag must be present), or
//!   by the resource type's target `parameters` alone;
//! - **narrow** by the target `parameters` (`availabilityZoneIdentifier`, `vpc`,
//!   `writerAvailabilityZoneIdentifiers`, `availabilityZoneIdentifiers`);
//! - **filter**: each filter's `path` names an attribute of the resource's Describe output
//!   in Pascal case (`Placement.AvailabilityZone`); a list on the way is expanded; a
//!   resource passes a filter when any value found at the path equals any of the filter's
//!   values, and must pass every filter;
//! - **select**: `ALL`, `COUNT(n)` or `PERCENT(n)` of what matched (see [`selected`]).
//!
//! Every page of every Describe call is read. A path that is not an attribute of the
//! resource type's Describe output, or a parameter FIS does not define for it, is an
//! error naming it: a preview that silently ignored it would show a wider blast radius
//! than FIS's, or a narrower one.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{aws_err, PlanError, PlannedResource};
use crate::aws::Clients;

/// One resource as FIS sees it: its identity, the attributes filters are evaluated on,
/// and what the plan shows of it.
#[derive(Debug, Clone)]
pub struct Described {
    /// Its ARN (as FIS matches `resourceArns`).
    pub arn: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its Describe output, with AWS's Pascal-case member names.
    pub attributes: Value,
    /// What the plan shows.
    pub shown: PlannedResource,
}

/// A template target, as the template gives it.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    /// `resourceType`.
    pub resource_type: String,
    /// `resourceArns`.
    pub arns: Vec<String>,
    /// `resourceTags`.
    pub tags: BTreeMap<String, String>,
    /// `filters`: (path, values).
    pub filters: Vec<(String, Vec<String>)>,
    /// `parameters`.
    pub parameters: BTreeMap<String, String>,
}

impl TargetSpec {
    /// Reads a target of an FIS template in AWS's JSON.
    pub fn from_json(spec: &Value) -> TargetSpec {
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let map = |v: Option<&Value>| -> BTreeMap<String, String> {
            v.and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        TargetSpec {
            resource_type: spec
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            arns: strings(spec.get("resourceArns")),
            tags: map(spec.get("resourceTags")),
            filters: spec
                .get("filters")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            let path = f.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
                            (path, strings(f.get("values")))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            parameters: map(spec.get("parameters")),
        }
    }
}

/// The target parameters FIS defines per resource type
/// (<https://docs.aws.amazon.com/fis/latest/userguide/targets.html#target-parameters>).
fn known_parameters(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "aws:ec2:subnet" => &["availabilityZoneIdentifier", "vpc"],
        "aws:rds:cluster" => &["writerAvailabilityZoneIdentifiers"],
        "aws:rds:db" => &["availabilityZoneIdentifiers"],
        _ => &[],
    }
}

/// Lists the resources `spec` matches now (before selection); `None` when resources of
/// its type are not previewed.
pub async fn resolve(
    target: &str,
    spec: &TargetSpec,
    clients: &Clients,
) -> Result<Option<Vec<PlannedResource>>, PlanError> {
    let known = known_parameters(&spec.resource_type);
    if let Some(p) = spec.parameters.keys().find(|p| !known.contains(&p.as_str())) {
        return Err(PlanError::Template(format!(
            "target {target}: parameter {p:?} is not one FIS defines for {} ({})",
            spec.resource_type,
            if known.is_empty() {
                "it has none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let Some(all) = describe_all(spec, clients).await? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for r in all {
        if matches(target, spec, &r)? {
            out.push(r.shown);
        }
    }
    Ok(Some(out))
}

/// Whether a described resource is identified by `spec` and passes its parameters and
/// filters.
pub fn matches(target: &str, spec: &TargetSpec, r: &Described) -> Result<bool, PlanError> {
    let identified = if !spec.arns.is_empty() {
        spec.arns.contains(&r.arn)
    } else {
        spec.tags.iter().all(|(k, v)| r.tags.get(k) == Some(v))
    };
    if !identified || !parameters_match(spec, r) {
        return Ok(false);
    }
    for (path, values) in &spec.filters {
        let found = values_at(&r.attributes, path).ok_or_else(|| {
            PlanError::Template(format!(
                "target {target}: filter path {path:?} is not an attribute of {}'s Describe output (paths are Pascal case, e.g. {})",
                spec.resource_type,
                example_path(&spec.resource_type)
            ))
        })?;
        if !found.iter().any(|f| values.contains(f)) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn example_path(resource_type: &str) -> &'static str {
    match resource_type {
        "aws:ec2:instance" => "Placement.AvailabilityZone, State.Name",
        "aws:ec2:subnet" => "AvailabilityZone, VpcId",
        "aws:rds:cluster" => "Engine, DBClusterMembers.IsClusterWriter",
        "aws:rds:db" => "AvailabilityZone, Engine",
        _ => "AvailabilityZone",
    }
}

/// A comma-separated parameter's items (FIS takes AZ names or AZ ids).
fn items(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parameters_match(spec: &TargetSpec, r: &Described) -> bool {
    let zone_is = |zone: Option<&Value>, zone_id: Option<&Value>, wanted: &str| {
        zone.and_then(Value::as_str) == Some(wanted) || zone_id.and_then(Value::as_str) == Some(wanted)
    };
    spec.parameters.iter().all(|(name, value)| {
        let a = &r.attributes;
        match name.as_str() {
            "availabilityZoneIdentifier" => zone_is(a.get("AvailabilityZone"), a.get("AvailabilityZoneId"), value),
            "vpc" => a.get("VpcId").and_then(Value::as_str) == Some(value.as_str()),
            "availabilityZoneIdentifiers" => items(value).any(|z| zone_is(a.get("AvailabilityZone"), None, z)),
            // The writer's zone is not in DescribeDBClusters' output: `describe_all` puts it
            // beside the members.
            "writerAvailabilityZoneIdentifiers" => items(value).any(|z| zone_is(a.get("drdrill:WriterZone"), None, z)),
            _ => false,
        }
    })
}

/// The nodes with every list among them replaced by its items.
fn expand(nodes: Vec<&Value>) -> Vec<&Value> {
    nodes
        .into_iter()
        .flat_map(|n| match n {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

/// The values found at a dotted path, lists expanded on the way; `None` when the path
/// leads nowhere (a member missing from a described object, or a path below a plain
/// value). The attribute trees carry every member they know, `null` when AWS gave none,
/// so a missing member is an unknown path; below an empty list nothing can be checked.
pub fn values_at(v: &Value, path: &str) -> Option<Vec<String>> {
    let mut current = vec![v];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for node in expand(current) {
            match node {
                Value::Object(members) => next.push(members.get(segment)?),
                Value::Null => {}
                _ => return None,
            }
        }
        current = next;
    }
    Some(
        expand(current)
            .into_iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
    )
}

/// How many of `matched` resources a selection mode picks, as FIS does: `ALL`, `COUNT(n)`
/// (at most the matched), `PERCENT(n)` rounded down ("Selection mode",
/// <https://docs.aws.amazon.com/fis/latest/userguide/targets.html#target-selection-mode>).
/// An unknown mode counts as `ALL` (the scenario reader refuses one before a plan is made).
pub fn selected(matched: usize, mode: Option<&str>) -> usize {
    let mode = mode.unwrap_or("ALL");
    let number = |prefix: &str| -> Option<usize> { mode.strip_prefix(prefix)?.strip_suffix(')')?.trim().parse().ok() };
    if let Some(n) = number("COUNT(") {
        return n.min(matched);
    }
    if let Some(p) = number("PERCENT(") {
        return matched * p.min(100) / 100;
    }
    matched
}

fn tags_of<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> (BTreeMap<String, String>, Value) {
    let mut map = BTreeMap::new();
    let mut list = Vec::new();
    for (k, v) in pairs {
        if let Some(k) = k {
            map.insert(k.to_string(), v.unwrap_or_default().to_string());
        }
        list.push(json!({"Key": k, "Value": v}));
    }
    (map, Value::Array(list))
}

/// Every resource of the spec's type (all pages), described; `None` for a type drdrill
/// does not preview. Identification by ARN or tag is passed to the API as a filter where
/// it can be, to keep within the API budget on large accounts.
async fn describe_all(spec: &TargetSpec, clients: &Clients) -> Result<Option<Vec<Described>>, PlanError> {
    use aws_sdk_ec2::types::Filter;
    let suffix = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
    let tag_filters: Vec<Filter> = spec
        .tags
        .iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
        .collect();
    match spec.resource_type.as_str() {
        "aws:ec2:instance" => {
            let mut req = clients.ec2.describe_instances();
            if spec.arns.is_empty() {
                req = req.set_filters(Some(tag_filters));
            } else {
                req = req.set_instance_ids(Some(spec.arns.iter().map(|a| suffix(a)).collect()));
            }
            let reservations = req
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(aws_err("DescribeInstances"))?;
            let region = clients_region(clients);
            Ok(Some(
                reservations
                    .iter()
                    .flat_map(|r| {
                        let owner = r.owner_id().unwrap_or_default().to_string();
                        r.instances().iter().map(move |i| (owner.clone(), i))
                    })
                    .map(|(owner, i)| instance(&region, &owner, i))
                    .collect(),
            ))
        }
        "aws:ec2:subnet" => {
            let mut req = clients.ec2.describe_subnets();
            if spec.arns.is_empty() {
                req = req.set_filters(Some(tag_filters));
            } else {
                req = req.set_subnet_ids(Some(spec.arns.iter().map(|a| suffix(a)).collect()));
            }
            let subnets = req
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(aws_err("DescribeSubnets"))?;
            Ok(Some(subnets.iter().map(subnet).collect()))
        }
        "aws:rds:cluster" | "aws:rds:db" => {
            let instances = clients
                .rds
                .describe_db_instances()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(aws_err("DescribeDBInstances"))?;
            if spec.resource_type == "aws:rds:db" {
                return Ok(Some(instances.iter().map(db_instance).collect()));
            }
            let zones: BTreeMap<&str, &str> = instances
                .iter()
                .filter_map(|i| Some((i.db_instance_identifier()?, i.availability_zone()?)))
                .collect();
            let clusters = clients
                .rds
                .describe_db_clusters()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(aws_err("DescribeDBClusters"))?;
            Ok(Some(clusters.iter().map(|c| cluster(c, &zones)).collect()))
        }
        _ => Ok(None),
    }
}

fn clients_region(clients: &Clients) -> String {
    clients
        .ec2
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_string(), ToString::to_string)
}

fn instance(region: &str, owner: &str, i: &aws_sdk_ec2::types::Instance) -> Described {
    let id = i.instance_id().unwrap_or_default();
    let zone = i.placement().and_then(|p| p.availability_zone());
    let (tags, tag_list) = tags_of(i.tags().iter().map(|t| (t.key(), t.value())));
    let groups = |gs: &[aws_sdk_ec2::types::GroupIdentifier]| -> Value {
        gs.iter()
            .map(|g| json!({"GroupId": g.group_id(), "GroupName": g.group_name()}))
            .collect()
    };
    let attributes = json!({
        "InstanceId": id,
        "InstanceType": i.instance_type().map(|t| t.as_str()),
        "ImageId": i.image_id(),
        "KeyName": i.key_name(),
        "Architecture": i.architecture().map(|a| a.as_str()),
        "Platform": i.platform().map(|p| p.as_str()),
        "PlatformDetails": i.platform_details(),
        "PrivateIpAddress": i.private_ip_address(),
        "PrivateDnsName": i.private_dns_name(),
        "PublicIpAddress": i.public_ip_address(),
        "PublicDnsName": i.public_dns_name(),
        "SubnetId": i.subnet_id(),
        "VpcId": i.vpc_id(),
        "Placement": {
            "AvailabilityZone": zone,
            "AvailabilityZoneId": i.placement().and_then(|p| p.availability_zone_id()),
            "GroupName": i.placement().and_then(|p| p.group_name()),
            "Tenancy": i.placement().and_then(|p| p.tenancy()).map(|t| t.as_str()),
        },
        "State": {
            "Name": i.state().and_then(|s| s.name()).map(|n| n.as_str()),
            "Code": i.state().and_then(|s| s.code()),
        },
        "Monitoring": { "State": i.monitoring().and_then(|m| m.state()).map(|s| s.as_str()) },
        "IamInstanceProfile": {
            "Arn": i.iam_instance_profile().and_then(|p| p.arn()),
            "Id": i.iam_instance_profile().and_then(|p| p.id()),
        },
        "SecurityGroups": groups(i.security_groups()),
        "NetworkInterfaces": i.network_interfaces().iter().map(|n| json!({
            "NetworkInterfaceId": n.network_interface_id(),
            "SubnetId": n.subnet_id(),
            "VpcId": n.vpc_id(),
            "PrivateIpAddress": n.private_ip_address(),
            "Groups": groups(n.groups()),
        })).collect::<Vec<_>>(),
        "Tags": tag_list,
    });
    Described {
        arn: format!("arn:aws:ec2:{region}:{owner}:instance/{id}"),
        tags,
        attributes,
        shown: PlannedResource {
            id: id.to_string(),
            zone: zone.map(str::to_string),
            subnet: i.subnet_id().map(str::to_string),
            detail: None,
        },
    }
}

fn subnet(s: &aws_sdk_ec2::types::Subnet) -> Described {
    let id = s.subnet_id().unwrap_or_default();
    let (tags, tag_list) = tags_of(s.tags().iter().map(|t| (t.key(), t.value())));
    let attributes = json!({
        "SubnetId": id,
        "SubnetArn": s.subnet_arn(),
        "VpcId": s.vpc_id(),
        "AvailabilityZone": s.availability_zone(),
        "AvailabilityZoneId": s.availability_zone_id(),
        "CidrBlock": s.cidr_block(),
        "State": s.state().map(|st| st.as_str()),
        "OwnerId": s.owner_id(),
        "DefaultForAz": s.default_for_az(),
        "MapPublicIpOnLaunch": s.map_public_ip_on_launch(),
        "AvailableIpAddressCount": s.available_ip_address_count(),
        "Tags": tag_list,
    });
    Described {
        arn: s.subnet_arn().unwrap_or_default().to_string(),
        tags,
        attributes,
        shown: PlannedResource {
            id: id.to_string(),
            zone: s.availability_zone().map(str::to_string),
            subnet: Some(id.to_string()),
            detail: None,
        },
    }
}

fn cluster(c: &aws_sdk_rds::types::DbCluster, zones: &BTreeMap<&str, &str>) -> Described {
    let id = c.db_cluster_identifier().unwrap_or_default();
    let writer = c
        .db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier());
    let writer_zone = writer.and_then(|w| zones.get(w).copied());
    let (tags, tag_list) = tags_of(c.tag_list().iter().map(|t| (t.key(), t.value())));
    let attributes = json!({
        "DBClusterIdentifier": id,
        "DBClusterArn": c.db_cluster_arn(),
        "Engine": c.engine(),
        "EngineVersion": c.engine_version(),
        "EngineMode": c.engine_mode(),
        "Status": c.status(),
        "MultiAZ": c.multi_az(),
        "Endpoint": c.endpoint(),
        "ReaderEndpoint": c.reader_endpoint(),
        "DBSubnetGroup": c.db_subnet_group(),
        "AvailabilityZones": c.availability_zones(),
        "DBClusterMembers": c.db_cluster_members().iter().map(|m| json!({
            "DBInstanceIdentifier": m.db_instance_identifier(),
            "IsClusterWriter": m.is_cluster_writer(),
            "PromotionTier": m.promotion_tier(),
        })).collect::<Vec<_>>(),
        "TagList": tag_list,
        "drdrill:WriterZone": writer_zone,
    });
    Described {
        arn: c.db_cluster_arn().unwrap_or_default().to_string(),
        tags,
        attributes,
        // A cluster has no zone of its own (blast-radius zone caps do not apply to it);
        // the plan shows its writer.
        shown: PlannedResource {
            id: id.to_string(),
            zone: None,
            subnet: None,
            detail: Some(format!("writer {}", writer.unwrap_or("?"))),
        },
    }
}

fn db_instance(i: &aws_sdk_rds::types::DbInstance) -> Described {
    let id = i.db_instance_identifier().unwrap_or_default();
    let (tags, tag_list) = tags_of(i.tag_list().iter().map(|t| (t.key(), t.value())));
    let attributes = json!({
        "DBInstanceIdentifier": id,
        "DBInstanceArn": i.db_instance_arn(),
        "DBInstanceClass": i.db_instance_class(),
        "DBClusterIdentifier": i.db_cluster_identifier(),
        "Engine": i.engine(),
        "EngineVersion": i.engine_version(),
        "DBInstanceStatus": i.db_instance_status(),
        "AvailabilityZone": i.availability_zone(),
        "SecondaryAvailabilityZone": i.secondary_availability_zone(),
        "MultiAZ": i.multi_az(),
        "TagList": tag_list,
    });
    Described {
        arn: i.db_instance_arn().unwrap_or_default().to_string(),
        tags,
        attributes,
        shown: PlannedResource {
            id: id.to_string(),
            zone: i.availability_zone().map(str::to_string),
            subnet: None,
            detail: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(attributes: Value, tags: &[(&str, &str)]) -> Described {
        Described {
            arn: "arn:aws:ec2:us-east-1:123456789012:instance/i-1".into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            attributes,
            shown: PlannedResource {
                id: "i-1".into(),
                zone: None,
                subnet: None,
                detail: None,
            },
        }
    }

    fn spec(filters: &[(&str, &[&str])]) -> TargetSpec {
        TargetSpec {
            resource_type: "aws:ec2:instance".into(),
            filters: filters
                .iter()
                .map(|(p, vs)| (p.to_string(), vs.iter().map(|v| v.to_string()).collect()))
                .collect(),
            ..TargetSpec::default()
        }
    }

    /// Paths walk Pascal-case members and expand lists; values come back as text.
    #[test]
    fn paths_expand_lists() {
        let v = json!({"NetworkInterfaces": [
            {"Groups": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}]},
            {"Groups": [{"GroupId": "sg-3"}]},
        ], "State": {"Code": 16}, "Tags": []});
        assert_eq!(
            values_at(&v, "NetworkInterfaces.Groups.GroupId"),
            Some(vec!["sg-1".into(), "sg-2".into(), "sg-3".into()])
        );
        assert_eq!(values_at(&v, "State.Code"), Some(vec!["16".into()]));
        assert_eq!(
            values_at(&v, "Tags.Key"),
            Some(vec![]),
            "an empty list: known path, no value"
        );
        assert_eq!(values_at(&v, "State.Nmae"), None);
        assert_eq!(values_at(&v, "placement"), None, "paths are case-sensitive Pascal case");
    }

    /// Filters AND together; the values of one filter OR; any value found at a path may
    /// match ("Resource filters" in the FIS user guide).
    #[test]
    fn filters_and_values_or() {
        let r = resource(
            json!({"State": {"Name": "running"}, "Placement": {"AvailabilityZone": "us-east-1a"},
                   "SecurityGroups": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}]}),
            &[],
        );
        let m = |f: &[(&str, &[&str])]| matches("T", &spec(f), &r).unwrap();
        assert!(m(&[("State.Name", &["stopped", "running"])]));
        assert!(!m(&[
            ("State.Name", &["running"]),
            ("Placement.AvailabilityZone", &["us-east-1b"])
        ]));
        assert!(m(&[("SecurityGroups.GroupId", &["sg-2"])]));
        assert!(!m(&[("SecurityGroups.GroupId", &["sg-9"])]));
        let err = matches("T", &spec(&[("VpcID", &["vpc-1"])]), &r)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"VpcID\"") && err.contains("target T"), "{err}");
    }

    /// Identification: ARNs, else every tag present with its value.
    #[test]
    fn identified_by_arn_or_all_tags() {
        let r = resource(json!({}), &[("app", "web"), ("tier", "front")]);
        let mut s = spec(&[]);
        s.tags = [("app".to_string(), "web".to_string())].into();
        assert!(matches("T", &s, &r).unwrap());
        s.tags.insert("tier".into(), "back".into());
        assert!(!matches("T", &s, &r).unwrap());
        s.tags.clear();
        s.arns = vec!["arn:aws:ec2:us-east-1:123456789012:instance/i-2".into()];
        assert!(!matches("T", &s, &r).unwrap());
        s.arns.push(r.arn.clone());
        assert!(matches("T", &s, &r).unwrap());
    }

    /// Subnet parameters take an AZ name or id; cluster writers are matched by zone.
    #[test]
    fn parameters_narrow() {
        let subnet = resource(
            json!({"AvailabilityZone": "us-east-1a", "AvailabilityZoneId": "use1-az1", "VpcId": "vpc-1"}),
            &[],
        );
        let mut s = TargetSpec {
            resource_type: "aws:ec2:subnet".into(),
            ..TargetSpec::default()
        };
        s.parameters
            .insert("availabilityZoneIdentifier".into(), "use1-az1".into());
        assert!(matches("S", &s, &subnet).unwrap());
        s.parameters.insert("vpc".into(), "vpc-2".into());
        assert!(!matches("S", &s, &subnet).unwrap());
        let cluster = resource(json!({"drdrill:WriterZone": "us-east-1b"}), &[]);
        let mut c = TargetSpec {
            resource_type: "aws:rds:cluster".into(),
            ..TargetSpec::default()
        };
        c.parameters.insert(
            "writerAvailabilityZoneIdentifiers".into(),
            "us-east-1a, us-east-1b".into(),
        );
        assert!(matches("C", &c, &cluster).unwrap());
        c.parameters
            .insert("writerAvailabilityZoneIdentifiers".into(), "us-east-1a".into());
        assert!(!matches("C", &c, &cluster).unwrap());
    }

    /// COUNT is capped by what matched; PERCENT rounds down as FIS does.
    #[test]
    fn selection_modes() {
        assert_eq!(selected(5, None), 5);
        assert_eq!(selected(5, Some("COUNT(2)")), 2);
        assert_eq!(selected(1, Some("COUNT(3)")), 1);
        assert_eq!(selected(5, Some("PERCENT(50)")), 2);
        assert_eq!(selected(4, Some("PERCENT(25)")), 1);
        assert_eq!(selected(3, Some("PERCENT(10)")), 0);
        assert_eq!(selected(0, Some("PERCENT(100)")), 0);
    }
}
