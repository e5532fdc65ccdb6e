//! Structural checks of an AWS FIS experiment template (the `CreateExperimentTemplate`
//! input shape), so that mistakes surface at load time rather than at injection.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// A problem inside a template, at a JSON path such as `actions.Stop.targets.Instances`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Dotted path inside the template (`[n]` for array items); empty for the root.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl TemplateError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for TemplateError {}

/// Checks that `template` is a usable FIS experiment template:
/// - a JSON object with a non-empty `actions` object;
/// - every action has a string `actionId`, string-valued `parameters`, `startAfter` naming
///   other existing actions without cycles, and `targets` naming entries of `targets`;
/// - every target has a `resourceType`, exactly one of `resourceArns` / `resourceTags`,
///   and a `selectionMode` of `ALL`, `COUNT(n)` or `PERCENT(n)`.
pub fn check(template: &Value) -> Result<(), TemplateError> {
    let root = template.as_object().ok_or_else(|| {
        TemplateError::new(
            "",
            "the template must be a JSON object (the CreateExperimentTemplate input)",
        )
    })?;
    let targets = match root.get("targets") {
        None => None,
        Some(value) => Some(object(value, "targets")?),
    };
    if let Some(targets) = targets {
        for (name, target) in targets {
            check_target(target, &format!("targets.{name}"))?;
        }
    }
    let actions = match root.get("actions") {
        None => {
            return Err(TemplateError::new(
                "actions",
                "missing; at least one action is required",
            ))
        }
        Some(value) => object(value, "actions")?,
    };
    if actions.is_empty() {
        return Err(TemplateError::new("actions", "at least one action is required"));
    }
    let mut after: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, action) in actions {
        let path = format!("actions.{name}");
        let predecessors = check_action(action, &path, actions, targets)?;
        after.insert(name, predecessors);
    }
    check_acyclic(&after)
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, TemplateError> {
    value
        .as_object()
        .ok_or_else(|| TemplateError::new(path, format!("must be an object, not {}", kind(value))))
}

fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, TemplateError> {
    value
        .as_str()
        .ok_or_else(|| TemplateError::new(path, format!("must be a string, not {}", kind(value))))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks one action and returns the names in its `startAfter`.
fn check_action<'a>(
    action: &'a Value,
    path: &str,
    actions: &Map<String, Value>,
    targets: Option<&Map<String, Value>>,
) -> Result<Vec<&'a str>, TemplateError> {
    let action = object(action, path)?;
    match action.get("actionId") {
        None => return Err(TemplateError::new(format!("{path}.actionId"), "missing")),
        Some(id) => {
            if string(id, &format!("{path}.actionId"))?.trim().is_empty() {
                return Err(TemplateError::new(format!("{path}.actionId"), "must not be empty"));
            }
        }
    }
    if let Some(parameters) = action.get("parameters") {
        let parameters_path = format!("{path}.parameters");
        for (key, value) in object(parameters, &parameters_path)? {
            string(value, &format!("{parameters_path}.{key}"))?;
        }
    }
    if let Some(refs) = action.get("targets") {
        let refs_path = format!("{path}.targets");
        for (key, value) in object(refs, &refs_path)? {
            let ref_path = format!("{refs_path}.{key}");
            let name = string(value, &ref_path)?;
            if !targets.is_some_and(|t| t.contains_key(name)) {
                return Err(TemplateError::new(
                    ref_path,
                    format!("unknown target {name:?}{}", known(targets)),
                ));
            }
        }
    }
    let mut predecessors = Vec::new();
    if let Some(start_after) = action.get("startAfter") {
        let list_path = format!("{path}.startAfter");
        let list = start_after
            .as_array()
            .ok_or_else(|| TemplateError::new(&list_path, format!("must be an array, not {}", kind(start_after))))?;
        for (index, value) in list.iter().enumerate() {
            let item_path = format!("{list_path}[{index}]");
            let name = string(value, &item_path)?;
            if !actions.contains_key(name) {
                return Err(TemplateError::new(
                    item_path,
                    format!("unknown action {name:?}{}", known(Some(actions))),
                ));
            }
            predecessors.push(name);
        }
    }
    Ok(predecessors)
}

/// `" (known: a, b)"`, or `" (none are defined)"`.
fn known(names: Option<&Map<String, Value>>) -> String {
    match names {
        Some(names) if !names.is_empty() => {
            let list: Vec<&str> = names.keys().map(String::as_str).collect();
            format!(" (known: {})", list.join(", "))
        }
        _ => " (none are defined)".to_owned(),
    }
}

fn check_target(target: &Value, path: &str) -> Result<(), TemplateError> {
    let target = object(target, path)?;
    match target.get("resourceType") {
        None => return Err(TemplateError::new(format!("{path}.resourceType"), "missing")),
        Some(value) => {
            string(value, &format!("{path}.resourceType"))?;
        }
    }
    match (target.get("resourceArns"), target.get("resourceTags")) {
        (Some(_), Some(_)) => {
            return Err(TemplateError::new(
                path,
                "give either resourceArns or resourceTags, not both",
            ))
        }
        (None, None) => return Err(TemplateError::new(path, "needs resourceArns or resourceTags")),
        (Some(arns), None) => {
            let arns_path = format!("{path}.resourceArns");
            let list = arns
                .as_array()
                .ok_or_else(|| TemplateError::new(&arns_path, format!("must be an array, not {}", kind(arns))))?;
            if list.is_empty() {
                return Err(TemplateError::new(arns_path, "must not be empty"));
            }
            for (index, arn) in list.iter().enumerate() {
                string(arn, &format!("{arns_path}[{index}]"))?;
            }
        }
        (None, Some(tags)) => {
            let tags_path = format!("{path}.resourceTags");
            for (key, value) in object(tags, &tags_path)? {
                string(value, &format!("{tags_path}.{key}"))?;
            }
        }
    }
    let mode_path = format!("{path}.selectionMode");
    let mode = match target.get("selectionMode") {
        None => return Err(TemplateError::new(mode_path, "missing (ALL, COUNT(n) or PERCENT(n))")),
        Some(value) => string(value, &mode_path)?,
    };
    check_selection_mode(mode).map_err(|message| TemplateError::new(mode_path, message))
}

fn check_selection_mode(mode: &str) -> Result<(), String> {
    let bad = || format!("{mode:?} is not ALL, COUNT(n) or PERCENT(n)");
    if mode == "ALL" {
        return Ok(());
    }
    let (number, max) = if let Some(rest) = mode.strip_prefix("COUNT(") {
        (rest.strip_suffix(')').ok_or_else(bad)?, u64::MAX)
    } else if let Some(rest) = mode.strip_prefix("PERCENT(") {
        (rest.strip_suffix(')').ok_or_else(bad)?, 100)
    } else {
        return Err(bad());
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match number.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(()),
        _ if max == 100 => Err(format!("{mode:?}: the percentage must be 1 to 100")),
        _ => Err(format!("{mode:?}: the count must be at least 1")),
    }
}

/// Rejects `startAfter` chains that loop, so the experiment could never start them.
fn check_acyclic(after: &BTreeMap<&str, Vec<&str>>) -> Result<(), TemplateError> {
    // Repeatedly remove actions whose predecessors are all removed (Kahn's algorithm).
    let mut done: BTreeSet<&str> = BTreeSet::new();
    loop {
        let ready: Vec<&str> = after
            .iter()
            .filter(|(name, preds)| !done.contains(*name) && preds.iter().all(|p| done.contains(p)))
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    let stuck: Vec<&str> = after.keys().copied().filter(|name| !done.contains(name)).collect();
    match stuck.first() {
        None => Ok(()),
        Some(first) => Err(TemplateError::new(
            format!("actions.{first}.startAfter"),
            format!("startAfter forms a cycle among actions {}", stuck.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "description": "stop one AZ",
            "targets": {
                "Instances": {
                    "resourceType": "aws:ec2:instance",
                    "resourceTags": {"Tier": "app"},
                    "selectionMode": "ALL"
                }
            },
            "actions": {
                "Stop": {
                    "actionId": "aws:ec2:stop-instances",
                    "parameters": {"startInstancesAfterDuration": "PT1M"},
                    "targets": {"Instances": "Instances"}
                },
                "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}, "startAfter": ["Stop"]}
            }
        })
    }

    fn error_of(mutate: impl FnOnce(&mut Value)) -> String {
        let mut template = valid();
        mutate(&mut template);
        check(&template).expect_err("should fail").to_string()
    }

    /// A well-formed template passes.
    #[test]
    fn valid_template_passes() {
        assert_eq!(check(&valid()), Ok(()));
    }

    /// Each structural mistake is reported at its JSON path.
    #[test]
    fn mistakes_name_their_path() {
        type Mutation = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|t| t["actions"]["Stop"]["targets"]["Instances"] = json!("Foo")),
                "actions.Stop.targets.Instances: unknown target \"Foo\"",
            ),
            (
                Box::new(|t| t["actions"]["Wait"]["startAfter"] = json!(["Nope"])),
                "actions.Wait.startAfter[0]: unknown action \"Nope\"",
            ),
            (
                Box::new(|t| t["actions"]["Stop"]["startAfter"] = json!(["Wait"])),
                "startAfter forms a cycle",
            ),
            (Box::new(|t| t["actions"] = json!({})), "actions: at least one action"),
            (
                Box::new(|t| t["actions"]["Stop"]["actionId"] = json!(3)),
                "actions.Stop.actionId: must be a string",
            ),
            (
                Box::new(|t| t["targets"]["Instances"]["selectionMode"] = json!("SOME")),
                "targets.Instances.selectionMode: \"SOME\" is not ALL",
            ),
            (
                Box::new(|t| t["targets"]["Instances"]["selectionMode"] = json!("PERCENT(101)")),
                "percentage must be 1 to 100",
            ),
            (
                Box::new(|t| t["targets"]["Instances"]["resourceArns"] = json!(["arn:x"])),
                "targets.Instances: give either resourceArns or resourceTags",
            ),
            (
                Box::new(|t| t["actions"]["Wait"]["parameters"]["duration"] = json!(60)),
                "actions.Wait.parameters.duration: must be a string",
            ),
            (Box::new(|t| *t = json!([])), "must be a JSON object"),
        ];
        for (mutate, expected) in cases {
            let message = error_of(mutate);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    /// Selection modes follow FIS: ALL, COUNT(n >= 1), PERCENT(1..=100).
    #[test]
    fn selection_modes() {
        for ok in ["ALL", "COUNT(1)", "COUNT(25)", "PERCENT(1)", "PERCENT(100)"] {
            assert_eq!(check_selection_mode(ok), Ok(()), "{ok}");
        }
        for bad in [
            "all",
            "COUNT(0)",
            "COUNT()",
            "COUNT(-1)",
            "PERCENT(0)",
            "PERCENT(50",
            "COUNT(1x)",
        ] {
            assert!(check_selection_mode(bad).is_err(), "{bad}");
        }
    }
}
