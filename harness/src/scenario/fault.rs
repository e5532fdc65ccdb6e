//! The fault to inject: an AWS FIS experiment template (file, inline, or existing id),
//! the disaster; or, for a restore test, no template and only a `restore:` block.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fault section of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "FaultSpec", into = "FaultSpec")]
pub struct Fault {
    /// Where the FIS experiment template (the disaster) comes from; `None` for a restore
    /// test (a `restore:` block and no template: nothing is injected, the restore job
    /// starts at once).
    pub source: Option<FaultSource>,
    /// Values for `{{name}}` placeholders in the template's string values.
    pub parameters: BTreeMap<String, String>,
    /// Accept actions whose effect FIS does not undo when the experiment ends or is
    /// stopped (`aws:ec2:stop-instances` without `startInstancesAfterDuration`): refused
    /// unless this is `true`.
    pub accept_unreverted: bool,
    /// Accept actions that would run longer than `timings.max_fault_duration` (drdrill
    /// stops the experiment at that cap, before the template's own end): refused unless
    /// this is `true`.
    pub accept_beyond_max_fault_duration: bool,
    /// The restore drill: after the disaster (or, without a template, at once), restore a
    /// recovery point through AWS Backup and switch the app to it (see [`super::restore`]).
    pub restore: Option<super::restore::Restore>,
}

impl Fault {
    /// Whether a disaster template is given (`false` for a restore test).
    pub fn has_disaster(&self) -> bool {
        self.source.is_some()
    }

    /// When the restore starts, with its default resolved: `on_detection` after a
    /// disaster, `at_inject` (the restore job's start is `t_inject`) in a restore test.
    /// `None` without a `restore:` block.
    pub fn restore_start(&self) -> Option<super::restore::RestoreStart> {
        use super::restore::RestoreStart;
        let default = if self.has_disaster() {
            RestoreStart::OnDetection
        } else {
            RestoreStart::AtInject
        };
        self.restore.as_ref().map(|r| r.start.unwrap_or(default))
    }
}

/// Where the FIS experiment template comes from (exactly one in the file).
#[derive(Debug, Clone, PartialEq)]
pub enum FaultSource {
    /// `template_file`: a JSON file in the shape of FIS `CreateExperimentTemplate` input.
    /// As written it is relative to the scenario file's directory;
    /// [`crate::scenario::load`] replaces it with the joined path.
    TemplateFile(PathBuf),
    /// `template`: the same template written inline as a YAML mapping.
    Template(serde_json::Value),
    /// `template_id`: an experiment template that already exists in the account.
    TemplateId(String),
}

/// The fault ready to inject, produced by [`crate::scenario::load`].
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedFault {
    /// A template (from a file or inline) with parameters substituted and checked.
    Template(serde_json::Value),
    /// An existing experiment template id.
    TemplateId(String),
}

/// The actions of a template whose effect outlives the experiment: FIS does not undo them
/// when it ends or is stopped (by drdrill, or by the dead man's switch). Each as
/// `(action name, why)`.
pub fn unreverted_actions(template: &serde_json::Value) -> Vec<(String, String)> {
    let Some(actions) = template.get("actions").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    actions
        .iter()
        .filter(|(_, a)| a.get("actionId").and_then(serde_json::Value::as_str) == Some("aws:ec2:stop-instances"))
        .filter(|(_, a)| a.get("parameters").and_then(|p| p.get("startInstancesAfterDuration")).is_none())
        .map(|(name, _)| {
            (
                name.clone(),
                "aws:ec2:stop-instances without startInstancesAfterDuration leaves the instances stopped after the experiment, even when it is stopped".to_string(),
            )
        })
        .collect()
}

/// The actions of a template that would run longer than `cap` (their `duration` or
/// `startInstancesAfterDuration`, ISO 8601), each as `(action name, why)`: drdrill stops
/// the experiment at the cap, so the template as written would not run to its end, and a
/// harness that is not there to stop it leaves the action running for its whole length.
pub fn beyond_cap(template: &serde_json::Value, cap: std::time::Duration) -> Vec<(String, String)> {
    let Some(actions) = template.get("actions").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, action) in actions {
        for key in ["duration", "startInstancesAfterDuration"] {
            let Some(text) = action
                .get("parameters")
                .and_then(|p| p.get(key))
                .and_then(serde_json::Value::as_str)
            else {
                continue;
            };
            let Ok(d) = iso8601::duration(text).map(std::time::Duration::from) else {
                continue;
            };
            if d > cap {
                out.push((
                    name.clone(),
                    format!(
                        "{key} {text} is longer than timings.max_fault_duration ({}): drdrill would stop the experiment at the cap, and a harness that died would leave it running {text}",
                        humantime::format_duration(cap)
                    ),
                ));
            }
        }
    }
    out
}

/// The file form of [`Fault`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "anyOf" = [
        {"required": ["template_file"]},
        {"required": ["template"]},
        {"required": ["template_id"]},
        {"required": ["restore"]}
    ],
    "not" = {"anyOf": [
        {"required": ["template_file", "template"]},
        {"required": ["template_file", "template_id"]},
        {"required": ["template", "template_id"]}
    ]}
))]
struct FaultSpec {
    /// FIS experiment template JSON file, relative to the scenario file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template_file: Option<PathBuf>,
    /// FIS experiment template written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<serde_json::Value>,
    /// Id of an existing FIS experiment template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template_id: Option<String>,
    /// Replaces `{{name}}` placeholders in the template's string values. Every parameter
    /// must be used and every placeholder must have a value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    parameters: BTreeMap<String, String>,
    /// Accept actions whose effect FIS does not undo when the experiment ends or is
    /// stopped (`aws:ec2:stop-instances` without `startInstancesAfterDuration`, whose
    /// instances stay stopped); such a template is refused unless this is `true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    accept_unreverted: bool,
    /// Accept actions whose `duration` or `startInstancesAfterDuration` is longer than
    /// `timings.max_fault_duration` (drdrill cuts them at that cap); such a template is
    /// refused unless this is `true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    accept_beyond_max_fault_duration: bool,
    /// A restore drill: after the disaster (the experiment above), restore a recovery point
    /// through AWS Backup, wait for the restore job, then run the switch. Without a
    /// template it is a restore test: no disaster, the restore job starts at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restore: Option<super::restore::Restore>,
}

impl TryFrom<FaultSpec> for Fault {
    type Error = String;

    fn try_from(spec: FaultSpec) -> Result<Self, Self::Error> {
        let source = match (spec.template_file, spec.template, spec.template_id) {
            (Some(file), None, None) => Some(FaultSource::TemplateFile(file)),
            (None, Some(template), None) => Some(FaultSource::Template(template)),
            (None, None, Some(id)) => Some(FaultSource::TemplateId(id)),
            (None, None, None) if spec.restore.is_some() => None,
            (None, None, None) => {
                return Err(
                    "one of template_file, template, template_id is required (the disaster to inject), or a restore: block without them for a restore test (found none)"
                        .to_owned(),
                );
            }
            (file, template, id) => {
                let given: Vec<&str> = [
                    file.map(|_| "template_file"),
                    template.map(|_| "template"),
                    id.map(|_| "template_id"),
                ]
                .into_iter()
                .flatten()
                .collect();
                return Err(format!(
                    "exactly one of template_file, template, template_id is required (found {})",
                    given.join(" and ")
                ));
            }
        };
        Ok(Self {
            source,
            parameters: spec.parameters,
            accept_unreverted: spec.accept_unreverted,
            accept_beyond_max_fault_duration: spec.accept_beyond_max_fault_duration,
            restore: spec.restore,
        })
    }
}

impl From<Fault> for FaultSpec {
    fn from(fault: Fault) -> Self {
        let (template_file, template, template_id) = match fault.source {
            Some(FaultSource::TemplateFile(file)) => (Some(file), None, None),
            Some(FaultSource::Template(template)) => (None, Some(template), None),
            Some(FaultSource::TemplateId(id)) => (None, None, Some(id)),
            None => (None, None, None),
        };
        Self {
            template_file,
            template,
            template_id,
            parameters: fault.parameters,
            accept_unreverted: fault.accept_unreverted,
            accept_beyond_max_fault_duration: fault.accept_beyond_max_fault_duration,
            restore: fault.restore,
        }
    }
}
