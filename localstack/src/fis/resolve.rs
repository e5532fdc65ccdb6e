//! Target resolution: which stack resources a template target selects, by ARNs, tags
//! and filters, then by selection mode.

use std::collections::BTreeMap;

use rand::seq::IndexedRandom;

use super::template::{parse_selection, Selection, TargetSpec};
use crate::world::World;

/// A resource a target resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `aws:ec2:instance`, ...
    pub resource_type: String,
    /// Its ARN.
    pub arn: String,
    /// Its id (instance id, subnet id, cluster or DB instance identifier).
    pub id: String,
}

struct Candidate {
    resource: Resource,
    tags: BTreeMap<String, String>,
    attrs: Vec<(&'static str, String)>,
}

/// The ARN of a resource of the stack.
pub fn arn(world: &World, resource_type: &str, id: &str) -> String {
    let (region, acct) = (&world.stack.region, &world.stack.account_id);
    match resource_type {
        "aws:ec2:instance" => format!("arn:aws:ec2:{region}:{acct}:instance/{id}"),
        "aws:ec2:subnet" => format!("arn:aws:ec2:{region}:{acct}:subnet/{id}"),
        "aws:rds:cluster" => format!("arn:aws:rds:{region}:{acct}:cluster:{id}"),
        _ => format!("arn:aws:rds:{region}:{acct}:db:{id}"),
    }
}

fn candidates(world: &World, resource_type: &str) -> Vec<Candidate> {
    let res = |id: &str| Resource {
        resource_type: resource_type.to_string(),
        arn: arn(world, resource_type, id),
        id: id.to_string(),
    };
    match resource_type {
        "aws:ec2:instance" => world
            .instances()
            .into_iter()
            .map(|i| Candidate {
                resource: res(&i.id),
                tags: i.tags.clone(),
                attrs: vec![
                    ("Placement.AvailabilityZone", i.zone.clone()),
                    ("State.Name", i.state.name().to_string()),
                    ("SubnetId", i.subnet.clone()),
                    ("InstanceId", i.id.clone()),
                ],
            })
            .collect(),
        "aws:ec2:subnet" => world
            .stack
            .subnets
            .iter()
            .map(|s| Candidate {
                resource: res(&s.id),
                tags: s.tags.clone(),
                attrs: vec![("AvailabilityZone", s.zone.clone()), ("SubnetId", s.id.clone())],
            })
            .collect(),
        "aws:rds:cluster" => vec![Candidate {
            resource: res(&world.stack.database.cluster),
            tags: BTreeMap::new(),
            attrs: vec![("DBClusterIdentifier", world.stack.database.cluster.clone())],
        }],
        _ => world.with_db(|db| {
            db.nodes()
                .iter()
                .map(|n| Candidate {
                    resource: res(&n.id),
                    tags: BTreeMap::new(),
                    attrs: vec![
                        ("AvailabilityZone", n.zone.clone()),
                        ("DBInstanceIdentifier", n.id.clone()),
                    ],
                })
                .collect()
        }),
    }
}

/// Resolves one target; an ARN that names nothing in the stack is an error.
pub fn resolve(world: &World, name: &str, spec: &TargetSpec) -> Result<Vec<Resource>, String> {
    let all = candidates(world, &spec.resource_type);
    if let Some(arns) = &spec.resource_arns {
        if let Some(bad) = arns.iter().find(|a| !all.iter().any(|c| &c.resource.arn == *a)) {
            return Err(format!("target {name}: resource {bad} does not exist"));
        }
    }
    let matching: Vec<Resource> = all
        .into_iter()
        .filter(|c| {
            spec.resource_arns
                .as_ref()
                .is_none_or(|arns| arns.contains(&c.resource.arn))
        })
        .filter(|c| {
            spec.resource_tags
                .as_ref()
                .is_none_or(|tags| tags.iter().all(|(k, v)| c.tags.get(k) == Some(v)))
        })
        .filter(|c| {
            spec.filters.as_ref().is_none_or(|filters| {
                filters.iter().all(|f| {
                    c.attrs
                        .iter()
                        .any(|(path, value)| *path == f.path && f.values.iter().any(|v| v == value))
                })
            })
        })
        .map(|c| c.resource)
        .collect();
    let n = match parse_selection(&spec.selection_mode)? {
        Selection::All => matching.len(),
        Selection::Count(n) => n.min(matching.len()),
        // FIS rounds a percentage of the identified targets down ("Selection mode",
        // https://docs.aws.amazon.com/fis/latest/userguide/targets.html#target-selection-mode).
        Selection::Percent(p) => matching.len() * p as usize / 100,
    };
    let mut chosen: Vec<Resource> = matching.choose_multiple(&mut rand::rng(), n).cloned().collect();
    chosen.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(chosen)
}
