//! AWS Backup's documents as the API and the stack file write them (AWS's member names,
//! PascalCase: a plan or selection copied from an account's JSON works as is), and the
//! errors the Backup operations answer.
//!
//! AWS: <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupPlanInput.html>,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRuleInput.html>,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupSelection.html>.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A backup plan as CreateBackupPlan takes it (`BackupPlan`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanInput {
    /// The plan's display name.
    pub backup_plan_name: String,
    /// Its rules (at least one).
    pub rules: Vec<RuleInput>,
}

/// One rule of a plan (`BackupRuleInput`): when jobs start, into which vault, how long
/// their recovery points live and where they are copied.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleInput {
    /// The rule's display name, unique in the plan.
    pub rule_name: String,
    /// The vault (in the plan's region) recovery points go into.
    pub target_backup_vault_name: String,
    /// `cron(...)` in UTC; AWS's default [`super::schedule::DEFAULT_EXPRESSION`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Minutes (AWS time) a job may wait to start before it expires (default 480).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_window_minutes: Option<i64>,
    /// Minutes (AWS time) a started job has to complete (default 10080).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_window_minutes: Option<i64>,
    /// When recovery points move to cold storage and are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// Tags put on every recovery point the rule makes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recovery_point_tags: BTreeMap<String, String>,
    /// Copies of each completed recovery point into other vaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_actions: Vec<CopyAction>,
    /// Accepted and echoed; continuous backup is not modelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_continuous_backup: Option<bool>,
    /// Accepted and echoed; schedules are evaluated in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression_timezone: Option<String>,
}

/// A recovery point's lifecycle, in days of AWS time (`Lifecycle`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    /// Days after creation the recovery point moves to cold storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_to_cold_storage_after_days: Option<i64>,
    /// Days after creation the recovery point is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_after_days: Option<i64>,
    /// Accepted and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_to_archive_for_supported_resources: Option<bool>,
}

/// A copy of a rule's recovery points into another vault (`CopyAction`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyAction {
    /// The copy's lifecycle (none: kept forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// The destination vault, e.g. `arn:aws:backup:us-west-2:000000000000:backup-vault:west-vault`.
    pub destination_backup_vault_arn: String,
}

/// A selection of resources for a plan (`BackupSelection`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SelectionInput {
    /// The selection's display name.
    pub selection_name: String,
    /// The role AWS Backup assumes (not checked locally).
    pub iam_role_arn: String,
    /// Resource ARNs selected; `*` matches any run of characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Tag conditions (`STRINGEQUALS`), any of which selects a resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_of_tags: Vec<TagCondition>,
    /// Resource ARNs excluded (`*` as in `Resources`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_resources: Vec<String>,
    /// Conditions every selected resource must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Conditions>,
}

/// One `ListOfTags` condition (AWS: `Condition`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagCondition {
    /// `STRINGEQUALS`, the only type AWS defines.
    pub condition_type: String,
    /// The tag key.
    pub condition_key: String,
    /// The tag value.
    pub condition_value: String,
}

/// `Conditions`: tag tests all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Conditions {
    /// Tag equals value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_equals: Vec<ConditionParameter>,
    /// Tag differs from value (or is absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_not_equals: Vec<ConditionParameter>,
    /// Tag matches the pattern (`*` wildcards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_like: Vec<ConditionParameter>,
    /// Tag does not match the pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_not_like: Vec<ConditionParameter>,
}

/// One tag test of `Conditions`; tag keys are written `aws:ResourceTag/Key` (AWS's form)
/// or as the bare key.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConditionParameter {
    /// The tag key.
    pub condition_key: String,
    /// The value or pattern.
    pub condition_value: String,
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl SelectionInput {
    /// Whether the selection covers the resource `arn` with `tags`: named by `Resources` or
    /// one of `ListOfTags`, meeting every `Conditions` test, not in `NotResources`.
    pub fn selects(&self, arn: &str, tags: &BTreeMap<String, String>) -> bool {
        let tag = |key: &str| tags.get(key.strip_prefix("aws:ResourceTag/").unwrap_or(key));
        let named = self.resources.iter().any(|p| glob(p, arn))
            || self
                .list_of_tags
                .iter()
                .any(|c| tag(&c.condition_key) == Some(&c.condition_value));
        let c = self.conditions.clone().unwrap_or_default();
        let like = |p: &ConditionParameter| tag(&p.condition_key).is_some_and(|v| glob(&p.condition_value, v));
        let conditions = c
            .string_equals
            .iter()
            .all(|p| tag(&p.condition_key) == Some(&p.condition_value))
            && c.string_not_equals
                .iter()
                .all(|p| tag(&p.condition_key) != Some(&p.condition_value))
            && c.string_like.iter().all(like)
            && !c.string_not_like.iter().any(like);
        let excluded = self.not_resources.iter().any(|p| glob(p, arn));
        named && conditions && !excluded
    }
}

/// An AWS Backup error, by AWS's error code. Every one is HTTP 400, as the API reference
/// lists them (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupPlan.html#API_CreateBackupPlan_Errors>).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// `ResourceNotFoundException`: a vault, plan, selection, job or recovery point that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `InvalidParameterValueException`: a value out of range or malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// `MissingParameterValueException`: a required value not given.
    #[error("{0}")]
    MissingParameter(String),
    /// `AlreadyExistsException`: the vault exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// `InvalidRequestException`: the request cannot be done in the resource's state.
    #[error("{0}")]
    InvalidRequest(String),
}

impl BackupError {
    /// AWS's error code (`x-amzn-errortype`).
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::NotFound(_) => "ResourceNotFoundException",
            BackupError::InvalidParameter(_) => "InvalidParameterValueException",
            BackupError::MissingParameter(_) => "MissingParameterValueException",
            BackupError::AlreadyExists(_) => "AlreadyExistsException",
            BackupError::InvalidRequest(_) => "InvalidRequestException",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_glob_matches_wildcards_anywhere() {
        assert!(glob("arn:aws:rds:*:*:db:*", "arn:aws:rds:us-east-1:0:db:east-db-1"));
        assert!(glob("*", "x"));
        assert!(!glob("arn:aws:rds:*:db:west*", "arn:aws:rds:us-east-1:0:db:east-db-1"));
        assert!(glob("a*b*c", "aXbYc") && !glob("a*b*c", "aXcYb"));
    }

    /// AWS: Resources and ListOfTags select (either), Conditions restrict (all),
    /// NotResources exclude.
    #[test]
    fn backup_selection_combines_resources_tags_conditions_and_exclusions() {
        let tags: BTreeMap<String, String> = [("Backup".to_string(), "drill".to_string())].into();
        let mut s = SelectionInput {
            selection_name: "s".into(),
            iam_role_arn: "r".into(),
            resources: vec![],
            list_of_tags: vec![TagCondition {
                condition_type: "STRINGEQUALS".into(),
                condition_key: "Backup".into(),
                condition_value: "drill".into(),
            }],
            not_resources: vec![],
            conditions: None,
        };
        assert!(s.selects("arn:a", &tags));
        assert!(!s.selects("arn:a", &BTreeMap::new()));
        s.not_resources = vec!["arn:*".into()];
        assert!(!s.selects("arn:a", &tags));
        s.not_resources.clear();
        s.conditions = Some(Conditions {
            string_equals: vec![ConditionParameter {
                condition_key: "aws:ResourceTag/Backup".into(),
                condition_value: "other".into(),
            }],
            ..Conditions::default()
        });
        assert!(!s.selects("arn:a", &tags));
    }
}
