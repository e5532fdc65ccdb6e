//! Describing the resources of the types drdrill previews (EC2 instances and subnets, RDS
//! instances and clusters), every page, into [`Described`]: the ARN and tags FIS
//! identifies them by, the Pascal-case attributes its filters read, and what the plan
//! shows.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use serde_json::{json, Value};

use super::super::aws_err;
use super::{Described, PlanError, PlannedResource, TargetSpec};
use crate::aws::Clients;

/// The tags as a map (what `resourceTags` is matched against) and as AWS's `Key`/`Value`
/// list (what filters read).
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
pub(super) async fn describe_all(spec: &TargetSpec, clients: &Clients) -> Result<Option<Vec<Described>>, PlanError> {
    Ok(Some(match spec.resource_type.as_str() {
        "aws:ec2:instance" => describe_instances(spec, clients).await?,
        "aws:ec2:subnet" => describe_subnets(spec, clients).await?,
        "aws:rds:cluster" | "aws:rds:db" => describe_rds(spec, clients).await?,
        _ => return Ok(None),
    }))
}

/// How an EC2 Describe call is narrowed to the spec: by the ids at the end of its ARNs,
/// else by its tags as filters (`tag:KEY` = value). Exactly one of the two is set.
fn ec2_selection(spec: &TargetSpec) -> (Option<Vec<Filter>>, Option<Vec<String>>) {
    if !spec.arns.is_empty() {
        let id = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
        return (None, Some(spec.arns.iter().map(|a| id(a)).collect()));
    }
    let filters = spec
        .tags
        .iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
        .collect();
    (Some(filters), None)
}

/// The EC2 instances the spec identifies (by id from its ARNs, else by its tags).
async fn describe_instances(spec: &TargetSpec, clients: &Clients) -> Result<Vec<Described>, PlanError> {
    let (filters, ids) = ec2_selection(spec);
    let pages = clients
        .ec2
        .describe_instances()
        .set_filters(filters)
        .set_instance_ids(ids);
    let reservations = pages.into_paginator().items().send().try_collect().await;
    let reservations = reservations.map_err(aws_err("DescribeInstances"))?;
    let region = clients_region(clients);
    Ok(reservations
        .iter()
        .flat_map(|r| {
            let owner = r.owner_id().unwrap_or_default().to_string();
            r.instances().iter().map(move |i| (owner.clone(), i))
        })
        .map(|(owner, i)| instance(&region, &owner, i))
        .collect())
}

/// The subnets the spec identifies (by id from its ARNs, else by its tags).
async fn describe_subnets(spec: &TargetSpec, clients: &Clients) -> Result<Vec<Described>, PlanError> {
    let (filters, ids) = ec2_selection(spec);
    let pages = clients.ec2.describe_subnets().set_filters(filters).set_subnet_ids(ids);
    let subnets = pages.into_paginator().items().send().try_collect().await;
    Ok(subnets
        .map_err(aws_err("DescribeSubnets"))?
        .iter()
        .map(subnet)
        .collect())
}

/// Every RDS instance (`aws:rds:db`), or every cluster with its writer's zone taken from
/// the instances (`aws:rds:cluster`).
async fn describe_rds(spec: &TargetSpec, clients: &Clients) -> Result<Vec<Described>, PlanError> {
    let instances = clients.rds.describe_db_instances().into_paginator().items().send();
    let instances = instances.try_collect().await.map_err(aws_err("DescribeDBInstances"))?;
    if spec.resource_type == "aws:rds:db" {
        return Ok(instances.iter().map(db_instance).collect());
    }
    let zones: BTreeMap<&str, &str> = instances
        .iter()
        .filter_map(|i| Some((i.db_instance_identifier()?, i.availability_zone()?)))
        .collect();
    let clusters = clients.rds.describe_db_clusters().into_paginator().items().send();
    let clusters = clusters.try_collect().await.map_err(aws_err("DescribeDBClusters"))?;
    Ok(clusters.iter().map(|c| cluster(c, &zones)).collect())
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
