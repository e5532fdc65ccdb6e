//! Experiment templates: the CreateExperimentTemplate input, checked against the action
//! catalog the way FIS checks it (unknown action ids, targets, `startAfter` names,
//! parameters and durations are ValidationExceptions naming the culprit).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalog;

/// A target filter (`Placement.AvailabilityZone` = `[us-east-1a]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Attribute path.
    pub path: String,
    /// Accepted values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// A template target: which resources an action hits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// e.g. `aws:ec2:instance`.
    pub resource_type: String,
    /// Explicit ARNs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arns: Option<Vec<String>>,
    /// Tags every resource must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tags: Option<BTreeMap<String, String>>,
    /// Attribute filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    /// `ALL`, `COUNT(n)` or `PERCENT(n)`.
    pub selection_mode: String,
    /// Resource-type parameters (unused locally, kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
}

/// A template action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDef {
    /// FIS action id.
    pub action_id: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Action parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Target key → template target name.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    /// Actions that must complete first.
    #[serde(default)]
    pub start_after: Vec<String>,
}

/// Alarm names the local stack evaluates itself, as the name part of an
/// `aws:cloudwatch:alarm` stop condition's ARN: `drdrill:serving-false-for-<ISO 8601
/// duration>` fires when the stack has not been serving (see `World::serving`) for that
/// long while the experiment runs, e.g.
/// `arn:aws:cloudwatch:us-east-1:000000000000:alarm:drdrill:serving-false-for-PT2S`.
/// Any other alarm is accepted, as FIS would pass it to CloudWatch, and never fires here.
pub const LOCAL_ALARM_PREFIX: &str = "drdrill:serving-false-for-";

/// The duration of a local alarm (see [`LOCAL_ALARM_PREFIX`]) named by an alarm ARN;
/// `None` when the ARN names another alarm.
pub fn local_alarm(arn: &str) -> Option<Result<std::time::Duration, String>> {
    let (_, name) = arn.split_once(":alarm:")?;
    let duration = name.strip_prefix(LOCAL_ALARM_PREFIX)?;
    Some(catalog::parse_duration(duration).map_err(|e| format!("alarm {name}: {e}")))
}

/// A stop condition (`aws:cloudwatch:alarm` or `none`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopCondition {
    /// Source.
    pub source: String,
    /// Alarm ARN, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The CreateExperimentTemplate input (and what a template stores).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInput {
    /// Idempotency token (ignored beyond presence).
    #[serde(default, skip_serializing)]
    pub client_token: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Stop conditions.
    #[serde(default)]
    pub stop_conditions: Vec<StopCondition>,
    /// Targets by name.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetSpec>,
    /// Actions by name.
    pub actions: BTreeMap<String, ActionDef>,
    /// IAM role (not checked locally).
    #[serde(default)]
    pub role_arn: String,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<serde_json::Value>,
    /// Kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_options: Option<serde_json::Value>,
}

/// How many resources a target picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every match.
    All,
    /// `n` random matches.
    Count(usize),
    /// `n` percent of the matches (rounded up).
    Percent(u32),
}

/// Parses `ALL`, `COUNT(n)`, `PERCENT(n)`.
pub fn parse_selection(s: &str) -> Result<Selection, String> {
    let inner = |prefix: &str| s.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if s == "ALL" {
        Ok(Selection::All)
    } else if let Some(n) = inner("COUNT(") {
        n.parse()
            .ok()
            .filter(|n| *n > 0)
            .map(Selection::Count)
            .ok_or_else(|| format!("bad selectionMode {s:?}"))
    } else if let Some(n) = inner("PERCENT(") {
        n.parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .map(Selection::Percent)
            .ok_or_else(|| format!("bad selectionMode {s:?}"))
    } else {
        Err(format!("bad selectionMode {s:?}: expected ALL, COUNT(n) or PERCENT(n)"))
    }
}

/// Checks a template the way FIS does at creation, in the order its errors are reported:
/// targets, actions, the startAfter order, stop conditions. Durations outside the range
/// AWS documents (see [`catalog::duration_range`]) are refused, naming the action and the
/// value; `short_durations` (the stack's `speedups.short_fault_durations`) lets ones
/// below AWS's minimum through.
pub fn validate(t: &TemplateInput, short_durations: bool) -> Result<(), String> {
    if t.actions.is_empty() {
        return Err("an experiment template needs at least one action".into());
    }
    for (name, target) in &t.targets {
        validate_target(name, target)?;
    }
    for (name, action) in &t.actions {
        validate_action(t, name, action, short_durations)?;
    }
    if let Some(cycle) = find_cycle(t) {
        return Err(format!("action {cycle}: startAfter forms a cycle"));
    }
    for sc in &t.stop_conditions {
        validate_stop_condition(sc)?;
    }
    Ok(())
}

/// A target: a supported resource type, chosen by ARNs or by tags (or filters), with a
/// valid selection mode.
fn validate_target(name: &str, target: &TargetSpec) -> Result<(), String> {
    if !matches!(
        target.resource_type.as_str(),
        "aws:ec2:instance" | "aws:ec2:subnet" | "aws:rds:cluster" | "aws:rds:db"
    ) {
        return Err(format!(
            "target {name}: resource type {} is not supported",
            target.resource_type
        ));
    }
    if target.resource_arns.is_none() && target.resource_tags.is_none() && target.filters.is_none() {
        return Err(format!(
            "target {name}: one of resourceArns, resourceTags or filters is required"
        ));
    }
    if target.resource_arns.is_some() && target.resource_tags.is_some() {
        return Err(format!(
            "target {name}: resourceArns and resourceTags cannot be combined"
        ));
    }
    parse_selection(&target.selection_mode).map_err(|e| format!("target {name}: {e}"))?;
    Ok(())
}

/// An action: a supported action type, startAfter naming actions of the template, the
/// targets its type takes, and its parameters.
fn validate_action(t: &TemplateInput, name: &str, action: &ActionDef, short_durations: bool) -> Result<(), String> {
    let Some(spec) = catalog::find(&action.action_id) else {
        return Err(format!(
            "action {name}: action type {} is not supported",
            action.action_id
        ));
    };
    for after in &action.start_after {
        if !t.actions.contains_key(after) {
            return Err(format!("action {name}: startAfter names unknown action {after}"));
        }
    }
    validate_action_targets(t, name, action, spec)?;
    for (param, value) in &action.parameters {
        validate_parameter(name, spec, param, value, short_durations)?;
    }
    for p in spec.parameters.iter().filter(|p| p.required) {
        if !action.parameters.contains_key(p.name) {
            return Err(format!(
                "action {name}: parameter {} is required for {}",
                p.name, spec.id
            ));
        }
    }
    Ok(())
}

/// An action's targets: the one key its type takes, naming a template target of the
/// resource type it needs.
fn validate_action_targets(
    t: &TemplateInput,
    name: &str,
    action: &ActionDef,
    spec: &catalog::ActionSpec,
) -> Result<(), String> {
    for (key, target_name) in &action.targets {
        let Some((want_key, want_type)) = spec.target else {
            return Err(format!("action {name}: {} takes no targets", spec.id));
        };
        if key != want_key {
            return Err(format!(
                "action {name}: {} takes target key {want_key}, not {key}",
                spec.id
            ));
        }
        let Some(target) = t.targets.get(target_name) else {
            return Err(format!("action {name}: target {target_name} is not defined"));
        };
        if target.resource_type != want_type {
            return Err(format!(
                "action {name}: target {target_name} is {}, {} needs {want_type}",
                target.resource_type, spec.id
            ));
        }
    }
    if let Some((key, _)) = spec.target {
        if !action.targets.contains_key(key) {
            return Err(format!("action {name}: target key {key} is required for {}", spec.id));
        }
    }
    Ok(())
}

/// One parameter of action `name`: known to its type, a duration within AWS's range, a
/// scope the local stack models.
fn validate_parameter(
    name: &str,
    spec: &catalog::ActionSpec,
    param: &str,
    value: &str,
    short_durations: bool,
) -> Result<(), String> {
    if !spec.parameters.iter().any(|p| p.name == param) {
        return Err(format!("action {name}: unknown parameter {param} for {}", spec.id));
    }
    if param == "duration" || param == "startInstancesAfterDuration" {
        let d = catalog::parse_duration(value).map_err(|e| format!("action {name}: {param}: {e}"))?;
        if let Some((min, max)) = catalog::duration_range(spec.id, param) {
            if d > max || (d < min && !short_durations) {
                let hint = if d < min {
                    " (a local stack allows shorter ones with `speedups: { short_fault_durations: true }`)"
                } else {
                    ""
                };
                return Err(format!(
                    "action {name} ({}): {param} {value} is outside the range AWS accepts: PT1M to PT12H{hint}",
                    spec.id
                ));
            }
        }
    }
    if param == "scope" && crate::network::Scope::parse(Some(value)).is_none() {
        return Err(format!(
            "action {name}: scope {value:?} is not supported locally (all, availability-zone; \
             the local stack has no S3, DynamoDB or prefix lists to cut off)"
        ));
    }
    Ok(())
}

/// A stop condition: none, or a CloudWatch alarm ARN (of this stack when it is local).
fn validate_stop_condition(sc: &StopCondition) -> Result<(), String> {
    match (sc.source.as_str(), sc.value.as_deref()) {
        ("none", _) => Ok(()),
        ("aws:cloudwatch:alarm", Some(arn)) if arn.starts_with("arn:") && arn.contains(":alarm:") => {
            match local_alarm(arn) {
                Some(Err(e)) => Err(format!("stop condition {arn}: {e}")),
                _ => Ok(()),
            }
        }
        ("aws:cloudwatch:alarm", other) => Err(format!(
            "stop condition aws:cloudwatch:alarm needs a CloudWatch alarm ARN as its value, not {other:?}"
        )),
        (source, _) => Err(format!("stop condition source {source} is not supported")),
    }
}

fn find_cycle(t: &TemplateInput) -> Option<String> {
    // Kahn's algorithm: whatever cannot be ordered sits on a cycle.
    let mut done: Vec<&str> = Vec::new();
    loop {
        let next = t
            .actions
            .iter()
            .find(|(n, a)| !done.contains(&n.as_str()) && a.start_after.iter().all(|s| done.contains(&s.as_str())));
        match next {
            Some((n, _)) => done.push(n),
            None => break,
        }
    }
    t.actions.keys().find(|n| !done.contains(&n.as_str())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(actions: serde_json::Value) -> TemplateInput {
        serde_json::from_value(serde_json::json!({
            "targets": {"Insts": {"resourceType": "aws:ec2:instance", "resourceTags": {"Tier": "app"}, "selectionMode": "ALL"}},
            "actions": actions,
            "roleArn": "arn:aws:iam::000000000000:role/fis"
        }))
        .unwrap()
    }

    /// An unsupported action id is refused, naming it.
    #[test]
    fn unsupported_action_is_named() {
        let t = template(
            serde_json::json!({"A": {"actionId": "aws:ec2:send-spot-instance-interruptions", "targets": {"Instances": "Insts"}}}),
        );
        assert!(validate(&t, true)
            .unwrap_err()
            .contains("aws:ec2:send-spot-instance-interruptions"));
    }

    /// startAfter must name an action and must not loop.
    #[test]
    fn start_after_is_checked() {
        let t = template(
            serde_json::json!({"A": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1S"}, "startAfter": ["B"]}}),
        );
        assert!(validate(&t, true).unwrap_err().contains("unknown action B"));
        let t = template(serde_json::json!({
            "A": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1S"}, "startAfter": ["B"]},
            "B": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1S"}, "startAfter": ["A"]}
        }));
        assert!(validate(&t, true).unwrap_err().contains("cycle"));
    }

    /// Selection modes parse and out-of-range ones are refused.
    #[test]
    fn selection_modes() {
        assert_eq!(parse_selection("COUNT(2)"), Ok(Selection::Count(2)));
        assert_eq!(parse_selection("PERCENT(50)"), Ok(Selection::Percent(50)));
        assert!(parse_selection("PERCENT(0)").is_err());
        assert!(parse_selection("SOME").is_err());
    }

    /// Durations outside AWS's documented PT1M–PT12H are refused naming the action, the
    /// parameter and the value; below the minimum only while the stack's
    /// `short_fault_durations` speedup is off; the cross-region route-table action, for
    /// which the reference documents no range, is left alone.
    #[test]
    fn durations_outside_aws_range_are_refused() {
        let subnets = |action: &str, d: &str| {
            let mut t = template(serde_json::json!({
                "Cut": {"actionId": action, "parameters": {"duration": d}, "targets": {"Subnets": "Subs"}}
            }));
            t.targets.insert(
                "Subs".into(),
                serde_json::from_value(serde_json::json!({
                    "resourceType": "aws:ec2:subnet", "resourceTags": {"Tier": "app"}, "selectionMode": "ALL"
                }))
                .unwrap(),
            );
            t
        };
        let e = validate(&subnets("aws:network:disrupt-connectivity", "PT5S"), false).unwrap_err();
        assert!(
            e.contains("action Cut (aws:network:disrupt-connectivity): duration PT5S")
                && e.contains("PT1M to PT12H")
                && e.contains("short_fault_durations"),
            "{e}"
        );
        assert!(validate(&subnets("aws:network:disrupt-connectivity", "PT5S"), true).is_ok());
        assert!(validate(&subnets("aws:network:disrupt-connectivity", "PT1M"), false).is_ok());
        assert!(validate(&subnets("aws:network:disrupt-connectivity", "PT13H"), true)
            .unwrap_err()
            .contains("PT13H"));
        assert!(validate(
            &subnets("aws:network:route-table-disrupt-cross-region-connectivity", "PT5S"),
            false
        )
        .is_ok());
        let stop = template(serde_json::json!({"Stop": {"actionId": "aws:ec2:stop-instances",
            "parameters": {"startInstancesAfterDuration": "PT30S"}, "targets": {"Instances": "Insts"}}}));
        assert!(validate(&stop, false)
            .unwrap_err()
            .contains("startInstancesAfterDuration PT30S"));
        let wait =
            template(serde_json::json!({"W": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT59S"}}}));
        assert!(validate(&wait, false)
            .unwrap_err()
            .contains("action W (aws:fis:wait): duration PT59S"));
    }
}
