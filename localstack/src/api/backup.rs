//! AWS Backup over restJson1 (signing name `backup`): paths and methods as the SDK's URI
//! templates write them, bodies with AWS's PascalCase member names, dates as epoch
//! seconds, errors as `{"Code","Message"}` with `x-amzn-errortype` and HTTP 400.
//!
//! Every List* operation pages its answer ([`super::paging`]): `maxResults` within AWS's
//! range, else `InvalidParameterValueException`; without it, the stack's
//! `backup.page_size`; `NextToken` while more remain (absent on the last page, as AWS
//! answers); a `nextToken` this listing did not issue is `InvalidParameterValueException`.
//! Vaults, plans and selections are listed oldest first, recovery points newest first
//! (ties by ARN or id), tags by key.
//!
//! AWS: <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_Operations_AWS_Backup.html>.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::json_ok;
use super::paging::{newest_first, oldest_first, Page, Pager};
use super::{ApiRequest, ApiResponse, Services};
use crate::backup::jobs::BackupJobRequest;
use crate::backup::model::{BackupError, Lifecycle, PlanInput, SelectionInput};
use crate::backup::{Backup, BackupJob, Plan, RecoveryPoint, RestoreJob, Selection};
use crate::config::MAX_PAGE_SIZE;
use crate::truth::now_unix_ms;

/// An error in AWS Backup's shape.
pub fn error(status: StatusCode, code: &str, message: &str) -> ApiResponse {
    ApiResponse {
        status,
        content_type: "application/json",
        error_type: Some(code.to_string()),
        body: serde_json::to_vec(&json!({ "Code": code, "Message": message })).unwrap_or_default(),
    }
}

fn backup_error(e: BackupError) -> ApiResponse {
    error(StatusCode::BAD_REQUEST, e.code(), &e.to_string())
}

/// Epoch seconds with fractions, as restJson1 writes timestamps.
fn date(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// Parses a JSON body; a missing member is `MissingParameterValueException` naming it.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, BackupError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| {
        let m = e.to_string();
        match m.strip_prefix("missing field `") {
            Some(rest) => {
                BackupError::MissingParameter(format!("{} is required", rest.split('`').next().unwrap_or_default()))
            }
            None => BackupError::InvalidParameter(format!("invalid request body: {m}")),
        }
    })
}

fn decode(segment: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("x={segment}"))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
        .unwrap_or_else(|| segment.to_string())
}

fn query_value(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The smallest `MaxResults` of ListRecoveryPointsByResource for an RDS resource (every
/// resource of the local stack is one; the stack's own page size is not bound by it):
/// "Amazon RDS requires a value of at least 20."
/// (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListRecoveryPointsByResource.html>).
const RDS_MIN_RESULTS: usize = 20;

/// The pager of one List* call listing `scope`: its `maxResults` (checked against
/// `min..=1000`, AWS's documented range — "Valid Range: Minimum value of 1. Maximum value
/// of 1000." on each List* page, e.g.
/// <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupVaults.html> —
/// and `InvalidParameterValueException` outside it) or the stack's page size, and its
/// `nextToken`.
fn pager(b: &Backup, query: &str, scope: String, min: usize) -> Result<Pager, BackupError> {
    let limit = match query_value(query, "maxResults") {
        None => b.page_size(),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (min..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(BackupError::InvalidParameter(format!(
                    "MaxResults {v:?} is not within {min}..={MAX_PAGE_SIZE}"
                )))
            }
        },
    };
    Ok(Pager {
        scope,
        limit,
        token: query_value(query, "nextToken"),
        lifetime_ms: None,
    })
}

/// The page of `items` (each with its sort key) `p` points at; a bad token is AWS
/// Backup's `InvalidParameterValueException` (its error for a parameter value it cannot
/// use, <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupVaults.html#API_ListBackupVaults_Errors>).
fn page_of<T>(p: &Pager, items: Vec<(String, T)>) -> Result<Page<T>, BackupError> {
    p.page(items, now_unix_ms())
        .map_err(|e| BackupError::InvalidParameter(format!("NextToken: {e}")))
}

/// A List* answer: `member` holding `items`, and `NextToken` when more remain.
fn listed(member: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut v = json!({ member: items });
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateVaultInput {
    #[serde(default)]
    backup_vault_tags: BTreeMap<String, String>,
    #[serde(default)]
    creator_request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreatePlanInput {
    backup_plan: PlanInput,
    #[serde(default)]
    backup_plan_tags: BTreeMap<String, String>,
    #[serde(default)]
    creator_request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateSelectionInput {
    backup_selection: SelectionInput,
    #[serde(default)]
    creator_request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartBackupInput {
    backup_vault_name: String,
    resource_arn: String,
    iam_role_arn: String,
    #[serde(default)]
    start_window_minutes: Option<i64>,
    #[serde(default)]
    complete_window_minutes: Option<i64>,
    #[serde(default)]
    lifecycle: Option<Lifecycle>,
    #[serde(default)]
    recovery_point_tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartRestoreInput {
    recovery_point_arn: String,
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    iam_role_arn: Option<String>,
}

/// Answers one AWS Backup request in the region `s` serves.
pub fn handle(s: &Services, req: &ApiRequest) -> ApiResponse {
    match route(&s.backup, &s.world.stack.region, req) {
        Ok(Some(v)) => json_ok(v),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("no AWS Backup operation for {} {}", req.method, req.path),
        ),
        Err(e) => backup_error(e),
    }
}

/// The operation's answer, `None` when the path names none.
fn route(b: &Backup, region: &str, req: &ApiRequest) -> Result<Option<Value>, BackupError> {
    let raw: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let segs: Vec<String> = raw.iter().map(|s| decode(s)).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if let Some(v) = setup(b, region, req, &segs)? {
        return Ok(Some(v));
    }
    match listings(b, region, req, &segs)? {
        Some(v) => Ok(Some(v)),
        None => jobs(b, region, req, &segs),
    }
}

/// The paged listings of recovery points and tags.
fn listings(b: &Backup, region: &str, req: &ApiRequest, segs: &[&str]) -> Result<Option<Value>, BackupError> {
    let v = match (&req.method, segs) {
        (&Method::GET, ["backup-vaults", vault, "recovery-points"]) => {
            // ByResourceArn is the query parameter `resourceArn`, as the SDK writes it.
            let by = query_value(&req.query, "resourceArn");
            let scope = format!(
                "ListRecoveryPointsByBackupVault/{vault}/{}",
                by.as_deref().unwrap_or("*")
            );
            let p = pager(b, &req.query, scope, 1)?;
            let all = b.recovery_points_in(region, vault)?.into_iter();
            let mine = all.filter(|r| by.as_ref().is_none_or(|a| *a == r.resource_arn));
            let page = page_of(&p, mine.map(|r| (newest_first(r.created_ms, &r.arn), r)).collect())?;
            let list = page.items.iter().map(|r| recovery_point_json(b, r)).collect();
            listed("RecoveryPoints", list, page.next)
        }
        (&Method::GET, ["resources", arn, "recovery-points"]) => {
            let min = if arn.split(':').nth(2) == Some("rds") {
                RDS_MIN_RESULTS
            } else {
                1
            };
            let p = pager(b, &req.query, format!("ListRecoveryPointsByResource/{arn}"), min)?;
            let all = b.recovery_points_of(region, arn).into_iter();
            let page = page_of(&p, all.map(|r| (newest_first(r.created_ms, &r.arn), r)).collect())?;
            let list = page
                .items
                .iter()
                .map(|r| {
                    json!({"RecoveryPointArn": r.arn, "CreationDate": date(r.created_ms), "Status": "COMPLETED",
                           "BackupSizeBytes": size(r), "BackupVaultName": r.vault_name,
                           "ResourceName": r.source_db_id, "IsParent": false, "VaultType": "BACKUP_VAULT"})
                })
                .collect();
            listed("RecoveryPoints", list, page.next)
        }
        (&Method::GET, ["tags", arn]) => {
            let p = pager(b, &req.query, format!("ListTags/{arn}"), 1)?;
            let page = page_of(
                &p,
                b.tags(region, arn)?
                    .into_iter()
                    .map(|(k, v)| (k.clone(), (k, v)))
                    .collect(),
            )?;
            let mut v = json!({ "Tags": page.items.into_iter().collect::<BTreeMap<String, String>>() });
            if let Some(t) = page.next {
                v["NextToken"] = json!(t);
            }
            v
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// Vaults, plans and selections.
fn setup(b: &Backup, region: &str, req: &ApiRequest, segs: &[&str]) -> Result<Option<Value>, BackupError> {
    let v = match (&req.method, segs) {
        (&Method::PUT, ["backup-vaults", name]) => {
            let i: CreateVaultInput = parse(&req.body)?;
            let v = b.create_vault(region, name, i.backup_vault_tags, i.creator_request_id)?;
            json!({"BackupVaultName": v.name, "BackupVaultArn": v.arn, "CreationDate": date(v.created_ms)})
        }
        (&Method::GET, ["backup-vaults"]) => {
            let p = pager(b, &req.query, "ListBackupVaults".into(), 1)?;
            let all = b.list_vaults(region).into_iter();
            let page = page_of(
                &p,
                all.map(|(v, n)| (oldest_first(v.created_ms, &v.arn), (v, n))).collect(),
            )?;
            let list: Vec<Value> = page
                .items
                .into_iter()
                .map(|(v, n)| {
                    json!({"BackupVaultName": v.name, "BackupVaultArn": v.arn, "CreationDate": date(v.created_ms),
                           "NumberOfRecoveryPoints": n, "CreatorRequestId": v.creator_request_id, "Locked": false})
                })
                .collect();
            listed("BackupVaultList", list, page.next)
        }
        (&Method::PUT, ["backup", "plans"]) => {
            let i: CreatePlanInput = parse(&req.body)?;
            let p = b.create_plan(region, i.backup_plan, i.backup_plan_tags, i.creator_request_id)?;
            json!({"BackupPlanId": p.id, "BackupPlanArn": p.arn, "CreationDate": date(p.created_ms), "VersionId": p.version_id})
        }
        (&Method::GET, ["backup", "plans"]) => {
            let p = pager(b, &req.query, "ListBackupPlans".into(), 1)?;
            let all = b.list_plans(region).into_iter();
            let page = page_of(&p, all.map(|p| (oldest_first(p.created_ms, &p.arn), p)).collect())?;
            listed(
                "BackupPlansList",
                page.items.iter().map(plan_summary).collect(),
                page.next,
            )
        }
        (&Method::GET, ["backup", "plans", id]) => plan_json(&b.plan(region, id)?),
        (&Method::PUT, ["backup", "plans", id, "selections"]) => {
            let i: CreateSelectionInput = parse(&req.body)?;
            let s = b.create_selection(region, id, i.backup_selection, i.creator_request_id)?;
            json!({"SelectionId": s.id, "BackupPlanId": s.plan_id, "CreationDate": date(s.created_ms)})
        }
        (&Method::GET, ["backup", "plans", id, "selections"]) => {
            let p = pager(b, &req.query, format!("ListBackupSelections/{id}"), 1)?;
            let all = b.list_selections(region, id)?.into_iter();
            let page = page_of(&p, all.map(|s| (oldest_first(s.created_ms, &s.id), s)).collect())?;
            listed(
                "BackupSelectionsList",
                page.items.iter().map(selection_summary).collect(),
                page.next,
            )
        }
        (&Method::GET, ["backup", "plans", id, "selections", sid]) => {
            let s = b.selection(region, id, sid)?;
            json!({"BackupSelection": s.input, "SelectionId": s.id, "BackupPlanId": s.plan_id,
                   "CreationDate": date(s.created_ms), "CreatorRequestId": s.creator_request_id})
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// Backup and restore jobs, and single recovery points.
fn jobs(b: &Backup, region: &str, req: &ApiRequest, segs: &[&str]) -> Result<Option<Value>, BackupError> {
    let v = match (&req.method, segs) {
        (&Method::PUT, ["backup-jobs"]) => {
            let i: StartBackupInput = parse(&req.body)?;
            let j = b.start_backup_job(
                region,
                BackupJobRequest {
                    vault_name: i.backup_vault_name,
                    resource_arn: i.resource_arn,
                    iam_role_arn: i.iam_role_arn,
                    start_window_minutes: i.start_window_minutes,
                    complete_window_minutes: i.complete_window_minutes,
                    lifecycle: i.lifecycle,
                    recovery_point_tags: i.recovery_point_tags,
                },
            )?;
            json!({"BackupJobId": j.id, "RecoveryPointArn": j.recovery_point_arn,
                   "CreationDate": date(j.created_ms), "IsParent": false})
        }
        (&Method::GET, ["backup-jobs", id]) => backup_job_json(b, &b.backup_job(region, id)?),
        (&Method::GET, ["backup-vaults", vault, "recovery-points", arn]) => {
            recovery_point_json(b, &b.recovery_point(region, vault, arn)?)
        }
        (&Method::GET, ["backup-vaults", vault, "recovery-points", arn, "restore-metadata"]) => {
            let r = b.recovery_point(region, vault, arn)?;
            let v = b.vault(region, vault)?;
            json!({"BackupVaultArn": v.arn, "RecoveryPointArn": r.arn, "ResourceType": "RDS",
                   "RestoreMetadata": b.restore_metadata(&r)})
        }
        (&Method::PUT, ["restore-jobs"]) => {
            let i: StartRestoreInput = parse(&req.body)?;
            let j = b.start_restore_job(region, &i.recovery_point_arn, &i.metadata, i.iam_role_arn)?;
            json!({ "RestoreJobId": j.id })
        }
        (&Method::GET, ["restore-jobs", id]) => restore_job_json(b, &b.restore_job(region, id)?),
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// A recovery point's size: about 100 bytes a write.
fn size(r: &RecoveryPoint) -> i64 {
    r.data.len() as i64 * 100
}

/// The rules as GetBackupPlan answers them: the input with each rule's `RuleId`.
fn plan_json(p: &Plan) -> Value {
    let mut plan = serde_json::to_value(&p.input).unwrap_or(Value::Null);
    if let Some(rules) = plan.get_mut("Rules").and_then(Value::as_array_mut) {
        for (r, id) in rules.iter_mut().zip(&p.rule_ids) {
            r["RuleId"] = json!(id);
        }
    }
    let mut v = json!({"BackupPlan": plan, "BackupPlanId": p.id, "BackupPlanArn": p.arn,
                       "VersionId": p.version_id, "CreationDate": date(p.created_ms),
                       "CreatorRequestId": p.creator_request_id});
    if let Some(t) = p.last_execution_ms {
        v["LastExecutionDate"] = date(t);
    }
    v
}

fn plan_summary(p: &Plan) -> Value {
    let mut v = json!({"BackupPlanArn": p.arn, "BackupPlanId": p.id, "CreationDate": date(p.created_ms),
                       "VersionId": p.version_id, "BackupPlanName": p.input.backup_plan_name,
                       "CreatorRequestId": p.creator_request_id});
    if let Some(t) = p.last_execution_ms {
        v["LastExecutionDate"] = date(t);
    }
    v
}

fn selection_summary(s: &Selection) -> Value {
    json!({"SelectionId": s.id, "SelectionName": s.input.selection_name, "BackupPlanId": s.plan_id,
           "CreationDate": date(s.created_ms), "CreatorRequestId": s.creator_request_id,
           "IamRoleArn": s.input.iam_role_arn})
}

fn creator_json(c: &crate::backup::engine::Creator) -> Value {
    json!({"BackupPlanId": c.plan_id, "BackupPlanArn": c.plan_arn, "BackupPlanVersion": c.plan_version,
           "BackupRuleId": c.rule_id})
}

fn backup_job_json(b: &Backup, j: &BackupJob) -> Value {
    let mut v = json!({
        "AccountId": b.account(), "BackupJobId": j.id, "BackupVaultName": j.vault_name,
        "BackupVaultArn": crate::backup::vault_arn(&j.region, b.account(), &j.vault_name),
        "RecoveryPointArn": j.recovery_point_arn, "ResourceArn": j.resource_arn,
        "CreationDate": date(j.created_ms), "State": j.state.as_str(), "IamRoleArn": j.iam_role_arn,
        "ResourceType": "RDS", "StartBy": date(j.start_by_ms), "IsParent": false,
        "PercentDone": if j.completion_ms.is_some() { "100.0" } else { "0.0" },
        "BackupSizeInBytes": j.data.as_ref().map_or(0, |d| d.len() as i64 * 100),
    });
    if let Some(t) = j.completion_ms {
        v["CompletionDate"] = date(t);
    }
    if let Some(m) = &j.status_message {
        v["StatusMessage"] = json!(m);
    }
    if let Some(c) = &j.created_by {
        v["CreatedBy"] = creator_json(c);
    }
    v
}

/// A recovery point as DescribeRecoveryPoint and ListRecoveryPointsByBackupVault answer it.
fn recovery_point_json(b: &Backup, r: &RecoveryPoint) -> Value {
    let now = now_unix_ms();
    let cold = r.cold_at_ms.is_some_and(|t| t <= now);
    let mut v = json!({
        "RecoveryPointArn": r.arn, "BackupVaultName": r.vault_name,
        "BackupVaultArn": crate::backup::vault_arn(&r.region, b.account(), &r.vault_name),
        "ResourceArn": r.resource_arn, "ResourceType": "RDS", "ResourceName": r.source_db_id,
        "IamRoleArn": r.iam_role_arn, "Status": "COMPLETED", "StorageClass": if cold { "COLD" } else { "WARM" },
        "CreationDate": date(r.created_ms), "CompletionDate": date(r.completion_ms),
        "BackupSizeInBytes": size(r), "IsEncrypted": false, "IsParent": false, "VaultType": "BACKUP_VAULT",
    });
    if let Some(l) = &r.lifecycle {
        v["Lifecycle"] = serde_json::to_value(l).unwrap_or(Value::Null);
        let mut calc = json!({});
        if let Some(t) = r.cold_at_ms {
            calc["MoveToColdStorageAt"] = date(t);
        }
        if let Some(t) = r.delete_at_ms {
            calc["DeleteAt"] = date(t);
        }
        v["CalculatedLifecycle"] = calc;
    }
    if let Some(s) = &r.source_vault_arn {
        v["SourceBackupVaultArn"] = json!(s);
    }
    if let Some(c) = &r.created_by {
        v["CreatedBy"] = creator_json(c);
    }
    v
}

fn restore_job_json(b: &Backup, j: &RestoreJob) -> Value {
    let done = j.completion_ms.is_some();
    let mut v = json!({
        "AccountId": b.account(), "RestoreJobId": j.id, "RecoveryPointArn": j.recovery_point_arn,
        "RecoveryPointCreationDate": date(j.recovery_point_created_ms),
        "CreationDate": date(j.created_ms), "Status": j.status, "ResourceType": "RDS",
        "PercentDone": if done { "100.00%" } else { "0.00%" },
        "BackupSizeInBytes": j.writes as i64 * 100,
        "ExpectedCompletionTimeMinutes": ((j.due_ms - j.created_ms) as f64 / 60_000.0).ceil() as i64,
    });
    if let Some(t) = j.completion_ms {
        v["CompletionDate"] = date(t);
        v["CreatedResourceArn"] = json!(j.created_resource_arn);
    }
    if let Some(r) = &j.iam_role_arn {
        v["IamRoleArn"] = json!(r);
    }
    if let Some(m) = &j.status_message {
        v["StatusMessage"] = json!(m);
    }
    v
}
