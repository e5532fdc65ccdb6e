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

use serde_json::Value;

use super::{PlanError, PlannedResource};
use crate::aws::Clients;

mod describe;

use describe::describe_all;

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
        let list = |v: Option<&Value>| strings(v.unwrap_or(&Value::Null));
        let map = |v: Option<&Value>| string_map(v.unwrap_or(&Value::Null));
        TargetSpec {
            resource_type: spec
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            arns: list(spec.get("resourceArns")),
            tags: map(spec.get("resourceTags")),
            filters: spec
                .get("filters")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            let path = f.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
                            (path, list(f.get("values")))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            parameters: map(spec.get("parameters")),
        }
    }
}

/// The strings of a JSON list (other items skipped); empty for anything but a list.
pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The string members of a JSON object (others skipped); empty for anything but an
/// object.
pub(super) fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
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

#[cfg(test)]
mod tests;
