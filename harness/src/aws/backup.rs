//! The AWS Backup calls of a restore drill: find the recovery point to restore (by the
//! resource's ARN or by tags), its restore metadata, StartRestoreJob and
//! DescribeRestoreJob, each answer reduced to what the drill journals and reports.
//!
//! API reference: <https://docs.aws.amazon.com/aws-backup/latest/devguide/api-reference.html>.
//! A restore job cannot be cancelled through the API (there is no StopRestoreJob), so
//! drdrill only ever waits for one.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_backup::Client;

use super::describe_error;
use crate::scenario::restore::Restore;

/// A recovery point the drill may restore.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecoveryPoint {
    /// Its ARN.
    pub arn: String,
    /// The vault that holds it.
    pub vault: String,
    /// The protected resource it was taken of, when the answer names it.
    pub resource_arn: Option<String>,
    /// AWS Backup's `CreationDate` (when the backup was taken), unix ms.
    pub creation_unix_ms: i64,
}

/// A restore job as DescribeRestoreJob tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreJobState {
    /// `PENDING`, `RUNNING`, `COMPLETED`, `ABORTED` or `FAILED`.
    pub status: crate::status::RestoreJobStatus,
    /// AWS Backup's `CreationDate` of the job, unix ms.
    pub creation_unix_ms: Option<i64>,
    /// AWS Backup's `CompletionDate`, unix ms, once it ended.
    pub completion_unix_ms: Option<i64>,
    /// The resource the job created.
    pub created_resource_arn: Option<String>,
    /// AWS Backup's status message.
    pub status_message: Option<String>,
}

/// An AWS Backup call of the restore failed, or found nothing to restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The call was refused or not answered.
    #[error("AWS Backup {operation}: {message}")]
    Call {
        /// The operation.
        operation: &'static str,
        /// AWS's error, as the user is shown it.
        message: String,
    },
    /// No COMPLETED recovery point matches.
    #[error("no COMPLETED recovery point of {what} in {region}")]
    NoRecoveryPoint {
        /// The resource (ARN or tags) and vault asked for.
        what: String,
        /// The region searched.
        region: String,
    },
    /// An answer lacked a field the drill needs.
    #[error("AWS Backup {operation} answered without {field}")]
    Missing {
        /// The operation.
        operation: &'static str,
        /// The field.
        field: &'static str,
    },
}

fn call<E>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_backup::error::SdkError<E, aws_smithy_runtime_api::http::Response>) -> BackupError
where
    E: aws_sdk_backup::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| BackupError::Call {
        operation,
        message: describe_error(&e),
    }
}

fn unix_ms(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.map(|t| (t.as_secs_f64() * 1000.0).round() as i64)
}

/// The recovery point `spec` names: its ARN, or the newest COMPLETED one of the
/// resource (by ARN: ListRecoveryPointsByResource, or ListRecoveryPointsByBackupVault
/// filtered by the ARN when a vault is named; by tags: every recovery point of the
/// vault(s) whose ListTags carries every tag asked for — AWS Backup copies the
/// resource's tags onto its recovery points when the plan says so).
pub async fn choose(client: &Client, spec: &Restore, region: &str) -> Result<RecoveryPoint, BackupError> {
    let candidates = match (&spec.resource.arn, &spec.resource.tags) {
        (Some(arn), _) => by_arn(client, arn, spec.vault.as_deref()).await?,
        (None, Some(tags)) => by_tags(client, tags, spec.vault.as_deref()).await?,
        (None, None) => Vec::new(),
    };
    let chosen = match spec.recovery_point_arn() {
        Some(arn) => candidates.into_iter().find(|p| p.arn == arn),
        None => candidates.into_iter().max_by_key(|p| p.creation_unix_ms),
    };
    chosen.ok_or_else(|| BackupError::NoRecoveryPoint {
        what: describe_choice(spec),
        region: region.to_owned(),
    })
}

/// What `spec` asks for, in words, for messages and `drdrill plan`.
pub fn describe_choice(spec: &Restore) -> String {
    let resource = match (&spec.resource.arn, &spec.resource.tags) {
        (Some(arn), _) => arn.clone(),
        (None, Some(tags)) => {
            let t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("the resource tagged {}", t.join(", "))
        }
        (None, None) => "no resource".into(),
    };
    let point = spec
        .recovery_point_arn()
        .map_or("the newest".to_owned(), |a| format!("recovery point {a}"));
    match &spec.vault {
        Some(v) => format!("{point} of {resource} in vault {v}"),
        None => format!("{point} of {resource}"),
    }
}

async fn by_arn(client: &Client, arn: &str, vault: Option<&str>) -> Result<Vec<RecoveryPoint>, BackupError> {
    if let Some(vault) = vault {
        return in_vault(client, vault, Some(arn)).await;
    }
    let points = client
        .list_recovery_points_by_resource()
        .resource_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call("ListRecoveryPointsByResource"))?;
    Ok(points
        .iter()
        .filter_map(|p| {
            completed(p.status(), p.recovery_point_arn(), p.creation_date()).map(|(rp, created)| RecoveryPoint {
                arn: rp.to_owned(),
                vault: p.backup_vault_name().unwrap_or_default().to_owned(),
                resource_arn: Some(arn.to_owned()),
                creation_unix_ms: created,
            })
        })
        .collect())
}

/// The ARN and creation (unix ms) of a listed recovery point when it is COMPLETED.
fn completed<'a>(
    status: Option<&aws_sdk_backup::types::RecoveryPointStatus>,
    arn: Option<&'a str>,
    created: Option<&aws_smithy_types::DateTime>,
) -> Option<(&'a str, i64)> {
    if status.is_none_or(|s| s.as_str() != "COMPLETED") {
        return None;
    }
    Some((arn?, unix_ms(created)?))
}

/// The COMPLETED recovery points of `vault` (of `resource` when given).
async fn in_vault(client: &Client, vault: &str, resource: Option<&str>) -> Result<Vec<RecoveryPoint>, BackupError> {
    let points = client
        .list_recovery_points_by_backup_vault()
        .backup_vault_name(vault)
        .set_by_resource_arn(resource.map(str::to_owned))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call("ListRecoveryPointsByBackupVault"))?;
    Ok(points
        .iter()
        .filter_map(|p| {
            completed(p.status(), p.recovery_point_arn(), p.creation_date()).map(|(rp, created)| RecoveryPoint {
                arn: rp.to_owned(),
                vault: p.backup_vault_name().unwrap_or(vault).to_owned(),
                resource_arn: p.resource_arn().map(str::to_owned),
                creation_unix_ms: created,
            })
        })
        .collect())
}

async fn vault_names(client: &Client) -> Result<Vec<String>, BackupError> {
    let vaults = client
        .list_backup_vaults()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call("ListBackupVaults"))?;
    Ok(vaults
        .iter()
        .filter_map(|v| v.backup_vault_name().map(str::to_owned))
        .collect())
}

async fn by_tags(
    client: &Client,
    tags: &BTreeMap<String, String>,
    vault: Option<&str>,
) -> Result<Vec<RecoveryPoint>, BackupError> {
    let vaults = match vault {
        Some(v) => vec![v.to_owned()],
        None => vault_names(client).await?,
    };
    let mut out = Vec::new();
    for v in vaults {
        for p in in_vault(client, &v, None).await? {
            let listed = client
                .list_tags()
                .resource_arn(&p.arn)
                .send()
                .await
                .map_err(call("ListTags"))?;
            let have = listed.tags().cloned().unwrap_or_default();
            if tags.iter().all(|(k, val)| have.get(k) == Some(val)) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// GetRecoveryPointRestoreMetadata's answer with `overrides` merged over it.
pub async fn restore_metadata(
    client: &Client,
    point: &RecoveryPoint,
    overrides: &BTreeMap<String, String>,
) -> Result<HashMap<String, String>, BackupError> {
    let out = client
        .get_recovery_point_restore_metadata()
        .backup_vault_name(&point.vault)
        .recovery_point_arn(&point.arn)
        .send()
        .await
        .map_err(call("GetRecoveryPointRestoreMetadata"))?;
    let mut metadata = out.restore_metadata().cloned().unwrap_or_default();
    metadata.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(metadata)
}

/// A restore job StartRestoreJob accepted, and the call's timing on this machine's clock
/// (AWS Backup stamps the job's `CreationDate` while it handles the call, so the call
/// bounds the offset between its clock and this machine's, see
/// [`crate::fault::ClockOffset`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StartedJob {
    /// The restore job id.
    pub id: String,
    /// When the request was sent, unix ms.
    pub sent_unix_ms: f64,
    /// When the answer arrived, unix ms.
    pub received_unix_ms: f64,
}

/// StartRestoreJob, timed.
pub async fn start(
    client: &Client,
    point: &RecoveryPoint,
    metadata: HashMap<String, String>,
    iam_role_arn: &str,
) -> Result<StartedJob, BackupError> {
    let sent_unix_ms = crate::journal::now_unix_ms_f64();
    let out = client
        .start_restore_job()
        .recovery_point_arn(&point.arn)
        .set_metadata(Some(metadata))
        .iam_role_arn(iam_role_arn)
        .send()
        .await
        .map_err(call("StartRestoreJob"))?;
    let received_unix_ms = crate::journal::now_unix_ms_f64();
    let id = out.restore_job_id().map(str::to_owned).ok_or(BackupError::Missing {
        operation: "StartRestoreJob",
        field: "RestoreJobId",
    })?;
    Ok(StartedJob {
        id,
        sent_unix_ms,
        received_unix_ms,
    })
}

/// DescribeRestoreJob.
pub async fn describe(client: &Client, job_id: &str) -> Result<RestoreJobState, BackupError> {
    let out = client
        .describe_restore_job()
        .restore_job_id(job_id)
        .send()
        .await
        .map_err(call("DescribeRestoreJob"))?;
    let status = out
        .status()
        .map(|s| crate::status::RestoreJobStatus::from(s.as_str()))
        .ok_or(BackupError::Missing {
            operation: "DescribeRestoreJob",
            field: "Status",
        })?;
    Ok(RestoreJobState {
        status,
        creation_unix_ms: unix_ms(out.creation_date()),
        completion_unix_ms: unix_ms(out.completion_date()),
        created_resource_arn: out.created_resource_arn().map(str::to_owned),
        status_message: out.status_message().map(str::to_owned),
    })
}
