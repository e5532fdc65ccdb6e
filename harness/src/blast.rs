//! Blast radius: the scenario's caps (`blast_radius: { max_targets, max_percent,
//! allowed_azs }`) checked against what each FIS action of the resolved plan would hit,
//! so that a run that would exceed one is refused before anything is injected.
//!
//! - `max_targets`: the resources an action hits after its selection mode (`ALL`: every
//!   match, `COUNT(n)`: at most `n`, `PERCENT(p)`: `p`% rounded down, as FIS does).
//! - `max_percent`: the share of the load balancer's registered targets an action takes
//!   out: instances it hits that are targets, or targets in the subnets it hits (by the
//!   target's subnet, or its zone when the subnet is unknown). Every matching resource
//!   counts, whatever the selection mode picks, since FIS picks at random.
//! - `allowed_azs`: every matching resource that has a zone (instances, subnets) must be
//!   in one of these zones. Clusters have no zone and are capped by `max_targets` only.
//!
//! An action whose resources cannot be previewed (a resource type the plan does not
//! list) is refused whenever a cap is set: an unchecked cap is no cap.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::plan::fis_targets::selected;
use crate::plan::{Plan, PlannedAction};
use crate::scenario::BlastRadius;

/// A run that would exceed a blast-radius cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blast radius: action {action} ({action_id}) {message}")]
pub struct BlastError {
    /// The action's name in the template.
    pub action: String,
    /// Its FIS action id.
    pub action_id: String,
    /// The cap exceeded, e.g. `blast_radius.max_targets`.
    pub cap: &'static str,
    /// What it would hit and the cap it exceeds.
    pub message: String,
}

/// The load balancer targets an action takes out (see the module docs).
fn targets_taken_out(plan: &Plan, action: &PlannedAction) -> usize {
    match action.resource_type.as_deref() {
        Some("aws:ec2:instance") => {
            let ids: BTreeSet<&str> = action.resources.iter().map(|r| r.id.as_str()).collect();
            plan.targets.iter().filter(|t| ids.contains(t.id.as_str())).count()
        }
        Some("aws:ec2:subnet") => {
            let subnets: BTreeSet<&str> = action.resources.iter().filter_map(|r| r.subnet.as_deref()).collect();
            let zones: BTreeSet<&str> = action.resources.iter().filter_map(|r| r.zone.as_deref()).collect();
            plan.targets
                .iter()
                .filter(|t| match (&t.subnet, &t.zone) {
                    (Some(subnet), _) => subnets.contains(subnet.as_str()),
                    (None, Some(zone)) => zones.contains(zone.as_str()),
                    (None, None) => true,
                })
                .count()
        }
        _ => 0,
    }
}

fn list(ids: impl Iterator<Item = String>) -> String {
    let ids: Vec<String> = ids.collect();
    const SHOWN: usize = 8;
    if ids.len() > SHOWN {
        format!("{}, … ({} more)", ids[..SHOWN].join(", "), ids.len() - SHOWN)
    } else {
        ids.join(", ")
    }
}

fn check_action(plan: &Plan, action: &PlannedAction, caps: &BlastRadius) -> Result<(), BlastError> {
    let violation = |cap: &'static str, message: String| BlastError {
        action: action.name.clone(),
        action_id: action.action_id.clone(),
        cap,
        message,
    };
    if action.target.is_none() {
        return Ok(());
    }
    if !action.previewed {
        return Err(violation(
            "blast_radius",
            format!(
                "hits resources of type {}, which cannot be previewed, so its blast radius cannot be checked",
                action.resource_type.as_deref().unwrap_or("?")
            ),
        ));
    }
    let hit = selected(action.resources.len(), action.selection.as_deref());
    if let Some(max) = caps.max_targets {
        if hit as u64 > max {
            return Err(violation(
                "blast_radius.max_targets",
                format!(
                    "would hit {hit} resources ({}), more than blast_radius.max_targets ({max})",
                    list(action.resources.iter().map(|r| r.id.clone()))
                ),
            ));
        }
    }
    if let Some(allowed) = &caps.allowed_azs {
        let outside: Vec<String> = action
            .resources
            .iter()
            .filter_map(|r| {
                let zone = r.zone.as_deref()?;
                (!allowed.iter().any(|a| a == zone)).then(|| format!("{} in {zone}", r.id))
            })
            .collect();
        if !outside.is_empty() {
            return Err(violation(
                "blast_radius.allowed_azs",
                format!(
                    "may hit {}, outside blast_radius.allowed_azs ({})",
                    list(outside.into_iter()),
                    allowed.join(", ")
                ),
            ));
        }
    }
    if let Some(max) = caps.max_percent {
        let total = plan.targets.len();
        let out = targets_taken_out(plan, action);
        if total > 0 && out * 100 > max as usize * total {
            return Err(violation(
                "blast_radius.max_percent",
                format!(
                    "would take out {out} of the {total} load balancer targets ({}%), more than blast_radius.max_percent ({max}%)",
                    out * 100 / total
                ),
            ));
        }
    }
    Ok(())
}

/// Checks every action of `plan` against `caps`; the first cap exceeded is the error.
pub fn check(plan: &Plan, caps: &BlastRadius) -> Result<(), BlastError> {
    plan.actions.iter().try_for_each(|a| check_action(plan, a, caps))
}

/// The caps and the check's outcome as text for the plan output.
pub fn render(plan: &Plan, caps: &BlastRadius) -> String {
    let mut parts = Vec::new();
    if let Some(n) = caps.max_targets {
        parts.push(format!("max_targets {n}"));
    }
    if let Some(p) = caps.max_percent {
        parts.push(format!("max_percent {p}%"));
    }
    if let Some(z) = &caps.allowed_azs {
        parts.push(format!("allowed_azs {}", z.join(", ")));
    }
    let mut s = String::new();
    let _ = writeln!(s, "blast radius: {}", parts.join(", "));
    for a in &plan.actions {
        let verdict = match check_action(plan, a, caps) {
            Ok(()) => format!(
                "within caps ({} resources, {} of {} targets)",
                selected(a.resources.len(), a.selection.as_deref()),
                targets_taken_out(plan, a),
                plan.targets.len()
            ),
            Err(e) => format!("EXCEEDS {}: {}", e.cap, e.message),
        };
        let _ = writeln!(s, "  action {}: {verdict}", a.name);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LoadBalancerInfo, PlannedResource, TargetInfo};

    fn instance(id: &str, zone: &str) -> PlannedResource {
        PlannedResource {
            id: id.into(),
            zone: Some(zone.into()),
            subnet: Some(format!("subnet-{zone}")),
            detail: None,
        }
    }

    fn plan(actions: Vec<PlannedAction>) -> Plan {
        let targets = ["a", "a", "b", "b", "c", "c"]
            .iter()
            .enumerate()
            .map(|(n, z)| TargetInfo {
                id: format!("i-{z}{n}"),
                zone: Some(format!("us-east-1{z}")),
                health: "healthy".into(),
                subnet: Some(format!("subnet-us-east-1{z}")),
            })
            .collect();
        Plan {
            scenario: "s".into(),
            load_balancer: LoadBalancerInfo {
                name: "lb".into(),
                arn: "arn".into(),
                dns_name: "lb".into(),
                port: 80,
                base_url: "http://lb:80".into(),
            },
            dns: None,
            target_group_arn: "tg".into(),
            targets,
            template: serde_json::Value::Null,
            existing_template_id: None,
            restore: None,
            actions,
            listener: crate::plan::ListenerInfo {
                arn: "listener".into(),
                protocol: "HTTP".into(),
                port: 80,
            },
            aws_rejections: Vec::new(),
        }
    }

    fn action(rtype: &str, selection: &str, resources: Vec<PlannedResource>) -> PlannedAction {
        PlannedAction {
            selected: selected(resources.len(), Some(selection)),
            name: "Act".into(),
            action_id: "aws:ec2:stop-instances".into(),
            target: Some("T".into()),
            resource_type: Some(rtype.into()),
            selection: Some(selection.into()),
            hits: Vec::new(),
            resources,
            parameters: Default::default(),
            start_after: Vec::new(),
            previewed: true,
        }
    }

    fn caps(max_targets: Option<u64>, max_percent: Option<u32>, azs: Option<&[&str]>) -> BlastRadius {
        BlastRadius {
            max_targets,
            max_percent,
            allowed_azs: azs.map(|z| z.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Each cap refuses exactly when exceeded, naming the action and the cap.
    #[test]
    fn caps_refuse_when_exceeded() {
        let two_in_a = vec![instance("i-a0", "us-east-1a"), instance("i-a1", "us-east-1a")];
        let p = plan(vec![action("aws:ec2:instance", "ALL", two_in_a.clone())]);
        assert_eq!(check(&p, &caps(Some(2), None, None)), Ok(()));
        let e = check(&p, &caps(Some(1), None, None)).unwrap_err();
        assert_eq!(e.cap, "blast_radius.max_targets");
        assert!(
            e.to_string().contains("action Act") && e.to_string().contains("(1)"),
            "{e}"
        );
        // COUNT(1) of the two stays within max_targets 1.
        let p1 = plan(vec![action("aws:ec2:instance", "COUNT(1)", two_in_a.clone())]);
        assert_eq!(check(&p1, &caps(Some(1), None, None)), Ok(()));
        // 2 of 6 targets is 33%.
        assert_eq!(check(&p, &caps(None, Some(34), None)), Ok(()));
        let e = check(&p, &caps(None, Some(33), None)).unwrap_err();
        assert_eq!(e.cap, "blast_radius.max_percent");
        assert!(e.message.contains("2 of the 6"), "{e}");
        // Zones.
        assert_eq!(check(&p, &caps(None, None, Some(&["us-east-1a"]))), Ok(()));
        let e = check(&p, &caps(None, None, Some(&["us-east-1b"]))).unwrap_err();
        assert_eq!(e.cap, "blast_radius.allowed_azs");
        assert!(e.message.contains("i-a0 in us-east-1a"), "{e}");
    }

    /// A subnet action takes out the targets in that subnet.
    #[test]
    fn subnet_actions_count_their_targets() {
        let subnet = PlannedResource {
            id: "subnet-us-east-1b".into(),
            zone: Some("us-east-1b".into()),
            subnet: Some("subnet-us-east-1b".into()),
            detail: None,
        };
        let p = plan(vec![action("aws:ec2:subnet", "ALL", vec![subnet])]);
        assert_eq!(targets_taken_out(&p, &p.actions[0]), 2);
        assert!(check(&p, &caps(None, Some(30), None)).is_err());
        assert!(check(&p, &caps(None, Some(40), None)).is_ok());
    }

    /// Resources that cannot be previewed are refused whenever a cap is set.
    #[test]
    fn unpreviewed_resources_are_refused() {
        let mut a = action("aws:ecs:task", "ALL", Vec::new());
        a.previewed = false;
        let p = plan(vec![a]);
        let e = check(&p, &caps(Some(100), None, None)).unwrap_err();
        assert!(e.message.contains("cannot be previewed"), "{e}");
    }
}
