//! `fault.restore`: the restore drill's block — after the disaster (the FIS experiment),
//! or once the baseline held in a restore test (no disaster template), drdrill restores a
//! recovery point through AWS Backup (StartRestoreJob), waits for the restore job, then
//! runs the switch (an FIS experiment whose action is
//! `aws:ssm:start-automation-execution`) that points the app at the restored resource.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::duration::DurationStr;

/// The placeholder drdrill always fills in the switch template: the ARN of the resource
/// the restore job created (DescribeRestoreJob's `CreatedResourceArn`).
pub const RESTORED_RESOURCE_ARN: &str = "restored_resource_arn";

/// Default for `restore.timeout`: how long the restore job and the switch may take.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The `fault.restore` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// The region the AWS Backup calls go to (the vault's region, where the restore
    /// happens); default: the target's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The protected resource whose recovery point is restored.
    pub resource: ResourceSelector,
    /// Only recovery points in this backup vault (by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
    /// `latest` (the newest COMPLETED recovery point; the default) or a recovery point ARN.
    #[serde(default = "latest", skip_serializing_if = "is_latest")]
    pub recovery_point: String,
    /// The IAM role AWS Backup assumes to create the restored resource
    /// (StartRestoreJob's `IamRoleArn`; drdrill needs `iam:PassRole` on it).
    pub iam_role_arn: String,
    /// Restore metadata, merged over GetRecoveryPointRestoreMetadata's answer
    /// (e.g. `DBInstanceIdentifier`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// When the restore starts: `on_detection` (once the probes fall below the steady
    /// state; the default after a disaster) or `at_inject` (as soon as the fault's effect
    /// began; the default, and the only choice, in a restore test without a disaster
    /// template). [`super::Fault::restore_start`] resolves the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<RestoreStart>,
    /// How long the restore job and the switch may take together; the run is aborted
    /// after it (the restore job itself cannot be cancelled on AWS). Default 30m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationStr>,
    /// The recovery step run once the restore job completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<Switch>,
}

fn latest() -> String {
    "latest".to_owned()
}

fn is_latest(s: &String) -> bool {
    s == "latest"
}

impl Restore {
    /// `restore.timeout`, or [`DEFAULT_TIMEOUT`].
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout.map_or(DEFAULT_TIMEOUT, DurationStr::get)
    }

    /// The chosen recovery point: `None` for `latest`, else its ARN.
    pub fn recovery_point_arn(&self) -> Option<&str> {
        (!is_latest(&self.recovery_point)).then_some(self.recovery_point.as_str())
    }
}

/// Which resource's recovery points to use: exactly one of `arn` and `tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceSelector {
    /// The protected resource's ARN, e.g. `arn:aws:rds:us-east-1:000000000000:db:east-db-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Every tag the recovery point's resource must carry (ListTags of each recovery
    /// point of the vault, which AWS Backup copies from the resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// When the restore starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestoreStart {
    /// Once drdrill's probes see the outage (success below the steady state); needs a
    /// disaster template (without one there is nothing to detect).
    OnDetection,
    /// As soon as the fault's effect began (`t_inject`); in a restore test the restore
    /// job's start is `t_inject`.
    AtInject,
}

/// The switch: an FIS experiment template (file or inline) run after the restore job
/// completed, typically one `aws:ssm:start-automation-execution` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// FIS experiment template JSON file, relative to the scenario file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_file: Option<PathBuf>,
    /// The template written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
    /// Values for `{{name}}` placeholders; `{{restored_resource_arn}}` is always provided
    /// by drdrill (the restore job's `CreatedResourceArn`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// A rule of `fault.restore` broken: the key below `fault.restore` and the message.
/// `disaster`: whether the fault has a disaster template (else it is a restore test).
pub(crate) fn check(r: &Restore, disaster: bool) -> Result<(), (String, String)> {
    let fail = |k: &str, m: String| Err((format!("fault.restore.{k}"), m));
    if !disaster && r.start == Some(RestoreStart::OnDetection) {
        return fail(
            "start",
            "on_detection needs a disaster template (fault.template_file, template or template_id): a restore test injects nothing, so there is no outage to detect; use at_inject (the default without a template) or give the disaster".into(),
        );
    }
    match (&r.resource.arn, &r.resource.tags) {
        (Some(_), Some(_)) | (None, None) => {
            return fail("resource", "exactly one of arn and tags is required".into());
        }
        (Some(arn), None) if !is_arn(arn) => {
            return fail(
                "resource.arn",
                format!("{arn:?} is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"),
            );
        }
        (None, Some(tags)) if tags.is_empty() => return fail("resource.tags", "must name at least one tag".into()),
        _ => {}
    }
    if let Some(arn) = r.recovery_point_arn() {
        if !is_arn(arn) {
            return fail(
                "recovery_point",
                format!("{arn:?} is neither \"latest\" nor a recovery point ARN"),
            );
        }
    }
    if !r.iam_role_arn.starts_with("arn:") || !r.iam_role_arn.contains(":role/") {
        return fail(
            "iam_role_arn",
            format!(
                "{:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                r.iam_role_arn
            ),
        );
    }
    if let Some(region) = &r.region {
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return fail("region", format!("{region:?} is not a region name (e.g. us-west-2)"));
        }
    }
    if r.vault.as_ref().is_some_and(String::is_empty) {
        return fail("vault", "must not be empty".into());
    }
    if r.timeout.is_some_and(|t| t.get().is_zero()) {
        return fail("timeout", "must be greater than 0".into());
    }
    if let Some(s) = &r.switch {
        match (&s.template_file, &s.template) {
            (Some(_), Some(_)) | (None, None) => {
                return fail("switch", "exactly one of template_file and template is required".into());
            }
            _ => {}
        }
        if s.parameters.contains_key(RESTORED_RESOURCE_ARN) {
            return fail(
                &format!("switch.parameters.{RESTORED_RESOURCE_ARN}"),
                "is provided by drdrill (the restore job's CreatedResourceArn); remove it".into(),
            );
        }
    }
    Ok(())
}

/// The switch template (as loaded) with `{{restored_resource_arn}}` replaced by `arn`.
pub fn fill_switch(template: &serde_json::Value, arn: &str) -> serde_json::Value {
    let mut filled = template.clone();
    let value = BTreeMap::from([(RESTORED_RESOURCE_ARN.to_owned(), arn.to_owned())]);
    // Every other placeholder was filled at load time; a switch that does not name the
    // restored resource is fine.
    let _ = super::params::substitute(&mut filled, &value);
    filled
}

/// Whether `s` has the six colon-separated parts of an ARN with a service and resource.
fn is_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && !parts[2].is_empty() && !parts[5].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restore(yaml: &str) -> Restore {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const BASE: &str = "resource: { arn: 'arn:aws:rds:us-east-1:000000000000:db:east-db-1' }\niam_role_arn: arn:aws:iam::000000000000:role/r\n";

    /// Defaults: latest recovery point, on detection, 30 minutes.
    #[test]
    fn defaults() {
        let r = restore(BASE);
        assert_eq!(r.recovery_point_arn(), None);
        assert_eq!(r.start, None);
        assert_eq!(r.timeout(), std::time::Duration::from_secs(1800));
        assert_eq!(check(&r, true), Ok(()));
        assert_eq!(check(&r, false), Ok(()));
    }

    /// Each broken rule names its key.
    #[test]
    fn broken_rules_name_the_key() {
        let cases = [
            (
                "resource: { arn: a, tags: { k: v } }\niam_role_arn: arn:aws:iam::1:role/r\n",
                "fault.restore.resource",
            ),
            (
                "resource: { arn: east-db-1 }\niam_role_arn: arn:aws:iam::1:role/r\n",
                "fault.restore.resource.arn",
            ),
            (
                "resource: { tags: {} }\niam_role_arn: arn:aws:iam::1:role/r\n",
                "fault.restore.resource.tags",
            ),
            (
                &format!("{BASE}recovery_point: newest\n"),
                "fault.restore.recovery_point",
            ),
            (
                "resource: { tags: { a: b } }\niam_role_arn: drdrill-role\n",
                "fault.restore.iam_role_arn",
            ),
            (&format!("{BASE}region: US West\n"), "fault.restore.region"),
            (&format!("{BASE}timeout: 0s\n"), "fault.restore.timeout"),
            (
                &format!("{BASE}switch: {{ parameters: {{ a: b }} }}\n"),
                "fault.restore.switch",
            ),
            (
                &format!("{BASE}switch: {{ template: {{}}, parameters: {{ restored_resource_arn: x }} }}\n"),
                "fault.restore.switch.parameters.restored_resource_arn",
            ),
        ];
        for (yaml, key) in cases {
            let (k, m) = check(&restore(yaml), true).unwrap_err();
            assert_eq!(k, key, "{yaml}: {m}");
        }
    }

    /// Without a disaster template, `on_detection` is refused naming the key and why;
    /// `at_inject` is accepted, and after a disaster both are.
    #[test]
    fn on_detection_needs_a_disaster() {
        let r = restore(&format!("{BASE}start: on_detection\n"));
        let (k, m) = check(&r, false).unwrap_err();
        assert_eq!(k, "fault.restore.start");
        assert!(m.contains("nothing") || m.contains("no outage"), "{m}");
        assert_eq!(check(&r, true), Ok(()));
        let r = restore(&format!("{BASE}start: at_inject\n"));
        assert_eq!(check(&r, false), Ok(()));
        assert_eq!(check(&r, true), Ok(()));
    }
}
