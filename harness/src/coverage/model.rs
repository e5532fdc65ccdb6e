//! The coverage gate's inputs as plain data: backup plans with their rules and
//! selections, the resources a selection resolves to, and recovery points — what
//! [`super::gather`](mod@super::gather) reads from AWS Backup and the Resource Groups Tagging API, and what
//! [`super::check`](mod@super::check) judges.

use std::collections::BTreeMap;

use serde::Serialize;

/// A retention setting: AWS Backup's `Lifecycle`, in days of AWS time.
/// <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_Lifecycle.html>
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// Days after creation the recovery point is deleted.
    pub delete_after_days: Option<i64>,
    /// Days after creation the recovery point moves to cold storage.
    pub move_to_cold_storage_after_days: Option<i64>,
}

impl std::fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days = |d: Option<i64>| d.map_or("never".to_string(), |d| format!("{d} d"));
        write!(
            f,
            "delete after {}, cold storage after {}",
            days(self.delete_after_days),
            days(self.move_to_cold_storage_after_days)
        )
    }
}

/// A rule's copy to another vault (usually another region's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyAction {
    /// The destination vault's ARN (`arn:aws:backup:{region}:{account}:backup-vault:{name}`).
    pub destination_vault_arn: String,
    /// The copies' retention; `None` when the action gives none.
    pub lifecycle: Option<Lifecycle>,
}

/// One rule of a backup plan, with AWS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// `RuleName`.
    pub name: String,
    /// `RuleId`, when AWS gave one.
    pub id: Option<String>,
    /// `TargetBackupVaultName`: where the rule's recovery points go.
    pub vault: String,
    /// `ScheduleExpression` (AWS's default when the rule gives none).
    pub schedule: String,
    /// `StartWindowMinutes` (AWS's default: 480).
    pub start_window_minutes: i64,
    /// `CompletionWindowMinutes` (AWS's default: 10080).
    pub completion_window_minutes: i64,
    /// `Lifecycle`; `None` keeps recovery points forever.
    pub lifecycle: Option<Lifecycle>,
    /// `CopyActions`.
    pub copy_actions: Vec<CopyAction>,
}

/// One backup selection, resolved to the resources it covers now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// `SelectionName`.
    pub name: String,
    /// The ARNs of the resources it covers (after `NotResources`), sorted.
    pub resources: Vec<String>,
}

/// A backup plan with its rules and its selections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// `BackupPlanName`.
    pub name: String,
    /// `BackupPlanId`.
    pub id: String,
    /// The plan's region.
    pub region: String,
    /// Its rules.
    pub rules: Vec<Rule>,
    /// Its selections.
    pub selections: Vec<Selection>,
}

/// A recovery point as `ListRecoveryPointsByBackupVault` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryPoint {
    /// Its ARN.
    pub arn: String,
    /// The vault it is in (name).
    pub vault: String,
    /// The vault's region.
    pub region: String,
    /// The resource it backs up.
    pub resource_arn: String,
    /// `Status`: `COMPLETED`, `PARTIAL`, `DELETING`, `EXPIRED`.
    pub status: String,
    /// `CreationDate`, unix ms (the wall clock at which it was taken).
    pub creation_ms: i64,
    /// `Lifecycle`; `None` when it has none.
    pub lifecycle: Option<Lifecycle>,
    /// `CreatedBy.BackupRuleId`: the rule that made it; `None` for an on-demand backup.
    pub created_by_rule: Option<String>,
}

/// Everything the gate judges, with the time it judges at.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The plans checked.
    pub plans: Vec<Plan>,
    /// Recovery points per (region, vault name).
    pub recovery_points: BTreeMap<(String, String), Vec<RecoveryPoint>>,
    /// The vaults that could not be listed (they do not exist), per (region, vault name),
    /// with AWS's error.
    pub missing_vaults: BTreeMap<(String, String), String>,
    /// Now, unix ms (wall clock).
    pub now_ms: i64,
    /// Seconds of AWS time per real second: the local stack's `backup.time_factor`, 1 on AWS.
    pub time_factor: f64,
}

/// The region and name of a vault ARN (`arn:aws:backup:{region}:{account}:backup-vault:{name}`).
pub fn vault_of_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "backup", region, _, "backup-vault", name] if !region.is_empty() && !name.is_empty() => {
            Some((region.to_string(), name.to_string()))
        }
        _ => None,
    }
}
