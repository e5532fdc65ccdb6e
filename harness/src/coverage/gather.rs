//! The gate's inputs read from AWS, every listing followed page by page (`NextToken`,
//! `PaginationToken`): `ListBackupPlans` / `GetBackupPlan` (rules),
//! `ListBackupSelections` / `GetBackupSelection` (selections), the region's resources and
//! tags from the Resource Groups Tagging API's `GetResources` (to resolve tag conditions
//! and wildcards), and `ListRecoveryPointsByBackupVault` for each rule's vault and each
//! copy action's destination vault (in the destination's region).
//!
//! AWS: <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_Operations_AWS_Backup.html>,
//! <https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html>.

use std::collections::BTreeMap;

use aws_sdk_backup::types::{BackupRule, Conditions};
use drdrill_localstack::backup::schedule::{
    DEFAULT_COMPLETION_WINDOW_MINUTES, DEFAULT_EXPRESSION, DEFAULT_START_WINDOW_MINUTES,
};

use super::model::{vault_of_arn, CopyAction, Inputs, Lifecycle, Plan, RecoveryPoint, Rule, Selection};
use super::select::{self, Condition, SelectionSpec, Tagged};
use super::CoverageError;
use crate::aws::describe_error;

/// Most pages read from one listing (AWS's pages hold up to 1000 items).
const MAX_PAGES: usize = 100;

/// Where the gate's calls go: one SDK configuration, from which a client per region is made.
#[derive(Debug, Clone)]
pub struct GateClients {
    conf: aws_config::SdkConfig,
}

impl GateClients {
    /// Clients made from `conf` (endpoint, credentials); the region is set per call.
    pub fn new(conf: aws_config::SdkConfig) -> GateClients {
        GateClients { conf }
    }

    fn backup(&self, region: &str) -> aws_sdk_backup::Client {
        aws_sdk_backup::Client::from_conf(
            aws_sdk_backup::config::Builder::from(&self.conf)
                .region(aws_sdk_backup::config::Region::new(region.to_string()))
                .build(),
        )
    }

    fn tagging(&self, region: &str) -> aws_sdk_resourcegroupstagging::Client {
        aws_sdk_resourcegroupstagging::Client::from_conf(
            aws_sdk_resourcegroupstagging::config::Builder::from(&self.conf)
                .region(aws_sdk_resourcegroupstagging::config::Region::new(region.to_string()))
                .build(),
        )
    }
}

fn aws_err<E>(
    call: String,
) -> impl FnOnce(
    aws_sdk_backup::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> CoverageError
where
    E: aws_sdk_backup::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| CoverageError::Aws {
        call,
        message: describe_error(&e),
    }
}

/// Reads the plans of `region` (only those whose name or id is in `only`, when given),
/// resolves their selections, and lists the recovery points of every vault they name.
pub async fn gather(
    clients: &GateClients,
    region: &str,
    only: Option<&[String]>,
    now_ms: i64,
    time_factor: f64,
) -> Result<Inputs, CoverageError> {
    let backup = clients.backup(region);
    let tagged = region_resources(clients, region).await?;
    let mut plans = Vec::new();
    for (id, name) in list_plans(&backup).await? {
        if only.is_some_and(|o| !o.iter().any(|w| *w == id || *w == name)) {
            continue;
        }
        plans.push(read_plan(&backup, region, &id, &tagged).await?);
    }
    if let Some(wanted) = only {
        if let Some(missing) = wanted
            .iter()
            .find(|w| !plans.iter().any(|p| p.id == **w || p.name == **w))
        {
            return Err(CoverageError::NoSuchPlan {
                plan: missing.clone(),
                region: region.to_string(),
            });
        }
    }
    let mut inputs = Inputs {
        plans,
        now_ms,
        time_factor,
        ..Inputs::default()
    };
    let mut vaults: Vec<(String, String)> = Vec::new();
    for p in &inputs.plans {
        for r in &p.rules {
            vaults.push((p.region.clone(), r.vault.clone()));
            vaults.extend(
                r.copy_actions
                    .iter()
                    .filter_map(|c| vault_of_arn(&c.destination_vault_arn)),
            );
        }
    }
    vaults.sort();
    vaults.dedup();
    for v in vaults {
        match list_recovery_points(&clients.backup(&v.0), &v).await {
            Ok(points) => {
                inputs.recovery_points.insert(v, points);
            }
            Err(CoverageError::Aws { message, .. }) if message.contains("ResourceNotFoundException") => {
                inputs.missing_vaults.insert(v, message);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(inputs)
}

/// Every plan of the region as (id, name).
async fn list_plans(backup: &aws_sdk_backup::Client) -> Result<Vec<(String, String)>, CoverageError> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = backup
            .list_backup_plans()
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("ListBackupPlans".into()))?;
        out.extend(page.backup_plans_list().iter().filter_map(|p| {
            Some((
                p.backup_plan_id()?.to_string(),
                p.backup_plan_name().unwrap_or_default().to_string(),
            ))
        }));
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// One plan: its rules (AWS's defaults filled in) and its selections resolved.
async fn read_plan(
    backup: &aws_sdk_backup::Client,
    region: &str,
    id: &str,
    tagged: &[Tagged],
) -> Result<Plan, CoverageError> {
    let got = backup
        .get_backup_plan()
        .backup_plan_id(id)
        .send()
        .await
        .map_err(aws_err(format!("GetBackupPlan({id})")))?;
    let body = got.backup_plan();
    let name = body.map(|b| b.backup_plan_name().to_string()).unwrap_or_default();
    let rules = body.map(|b| b.rules().iter().map(rule).collect()).unwrap_or_default();
    let mut selections = Vec::new();
    for sid in list_selections(backup, id).await? {
        let sel = backup
            .get_backup_selection()
            .backup_plan_id(id)
            .selection_id(&sid)
            .send()
            .await
            .map_err(aws_err(format!("GetBackupSelection({id}, {sid})")))?;
        if let Some(b) = sel.backup_selection() {
            selections.push(Selection {
                name: b.selection_name().to_string(),
                resources: select::resolve(&spec(b), tagged),
            });
        }
    }
    Ok(Plan {
        name,
        id: id.to_string(),
        region: region.to_string(),
        rules,
        selections,
    })
}

/// The ids of every selection of plan `id`, following `NextToken`.
async fn list_selections(backup: &aws_sdk_backup::Client, id: &str) -> Result<Vec<String>, CoverageError> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = backup
            .list_backup_selections()
            .backup_plan_id(id)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err(format!("ListBackupSelections({id})")))?;
        out.extend(
            page.backup_selections_list()
                .iter()
                .filter_map(|s| s.selection_id())
                .map(str::to_string),
        );
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

fn lifecycle(l: &aws_sdk_backup::types::Lifecycle) -> Lifecycle {
    Lifecycle {
        delete_after_days: l.delete_after_days(),
        move_to_cold_storage_after_days: l.move_to_cold_storage_after_days(),
    }
}

/// A rule with AWS's documented defaults for what it leaves out.
fn rule(r: &BackupRule) -> Rule {
    Rule {
        name: r.rule_name().to_string(),
        id: r.rule_id().map(str::to_string),
        vault: r.target_backup_vault_name().to_string(),
        schedule: r.schedule_expression().unwrap_or(DEFAULT_EXPRESSION).to_string(),
        start_window_minutes: r.start_window_minutes().unwrap_or(DEFAULT_START_WINDOW_MINUTES),
        completion_window_minutes: r
            .completion_window_minutes()
            .unwrap_or(DEFAULT_COMPLETION_WINDOW_MINUTES),
        lifecycle: r.lifecycle().map(lifecycle),
        copy_actions: r
            .copy_actions()
            .iter()
            .map(|c| CopyAction {
                destination_vault_arn: c.destination_backup_vault_arn().to_string(),
                lifecycle: c.lifecycle().map(lifecycle),
            })
            .collect(),
    }
}

fn conditions(c: Option<&Conditions>) -> Vec<Condition> {
    let Some(c) = c else { return Vec::new() };
    let mut out = Vec::new();
    for (op, params) in [
        ("StringEquals", c.string_equals()),
        ("StringNotEquals", c.string_not_equals()),
        ("StringLike", c.string_like()),
        ("StringNotLike", c.string_not_like()),
    ] {
        out.extend(params.iter().map(|p| Condition {
            op: op.to_string(),
            key: p.condition_key().unwrap_or_default().to_string(),
            value: p.condition_value().unwrap_or_default().to_string(),
        }));
    }
    out
}

fn spec(b: &aws_sdk_backup::types::BackupSelection) -> SelectionSpec {
    SelectionSpec {
        resources: b.resources().to_vec(),
        not_resources: b.not_resources().to_vec(),
        list_of_tags: b
            .list_of_tags()
            .iter()
            .map(|t| Condition {
                op: t.condition_type().as_str().to_string(),
                key: t.condition_key().to_string(),
                value: t.condition_value().to_string(),
            })
            .collect(),
        conditions: conditions(b.conditions()),
    }
}

/// The region's tagged resources with their tags (Resource Groups Tagging API).
async fn region_resources(clients: &GateClients, region: &str) -> Result<Vec<Tagged>, CoverageError> {
    let tagging = clients.tagging(region);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = tagging
            .get_resources()
            .set_pagination_token(token)
            .send()
            .await
            .map_err(|e| CoverageError::Aws {
                call: "GetResources".into(),
                message: describe_error(&e),
            })?;
        for m in page.resource_tag_mapping_list() {
            let tags: BTreeMap<String, String> = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            out.push((m.resource_arn().unwrap_or_default().to_string(), tags));
        }
        token = page.pagination_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// Every recovery point in a vault.
async fn list_recovery_points(
    backup: &aws_sdk_backup::Client,
    vault: &(String, String),
) -> Result<Vec<RecoveryPoint>, CoverageError> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = backup
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(&vault.1)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err(format!(
                "ListRecoveryPointsByBackupVault({}/{})",
                vault.0, vault.1
            )))?;
        out.extend(page.recovery_points().iter().map(|rp| RecoveryPoint {
            arn: rp.recovery_point_arn().unwrap_or_default().to_string(),
            vault: vault.1.clone(),
            region: vault.0.clone(),
            resource_arn: rp.resource_arn().unwrap_or_default().to_string(),
            status: rp.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            creation_ms: rp.creation_date().map_or(0, |d| d.to_millis().unwrap_or(0)),
            lifecycle: rp.lifecycle().map(lifecycle),
            created_by_rule: rp.created_by().and_then(|c| c.backup_rule_id()).map(str::to_string),
        }));
        token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}
