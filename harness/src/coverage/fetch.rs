//! Reads the gate's [`Inventory`] from AWS: the plans of each region asked for
//! (ListBackupPlans, GetBackupPlan, ListBackupSelections, GetBackupSelection), the
//! region's tagged resources (Resource Groups Tagging API GetResources, paginated), and
//! the recovery points of every vault a rule or copy action names
//! (ListRecoveryPointsByBackupVault, in the vault's own region). Read-only calls only.

use std::collections::BTreeMap;

use aws_sdk_backup::types as bk;

use super::model::{vault_of_arn, CopyAction, Inventory, Lifecycle, Plan, RecoveryPoint, Resource, Rule, Selection, TagCondition, TagOp};
use super::Verdict;
use crate::aws::describe_error;

/// The clients of one region the gate calls.
#[derive(Debug, Clone)]
pub struct RegionClients {
    /// AWS Backup.
    pub backup: aws_sdk_backup::Client,
    /// Resource Groups Tagging API.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

/// Why the coverage could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    /// An AWS call failed.
    #[error("{call} failed: {message}")]
    Aws {
        /// The call, e.g. `ListBackupPlans(us-east-1)`.
        call: String,
        /// AWS's error, as [`describe_error`] words it.
        message: String,
    },
}

/// Maps a failed SDK call to [`CoverageError::Aws`].
fn aws_err<E>(call: String) -> impl FnOnce(aws_sdk_backup::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> CoverageError
where
    E: aws_sdk_backup::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| CoverageError::Aws {
        call,
        message: describe_error(&e),
    }
}

/// Reads the inventory and checks it: the plans of `regions` (those named in `only`
/// when it is not empty) at `time_factor` AWS seconds per real second.
pub async fn gate(
    clients_for: &dyn Fn(&str) -> RegionClients,
    regions: &[String],
    only: &[String],
    time_factor: f64,
) -> Result<Verdict, CoverageError> {
    let inv = inventory(clients_for, regions, time_factor).await?;
    Ok(super::check(&inv, only))
}

/// Reads the plans of `regions`, their regions' tagged resources and every vault their
/// rules and copy actions name; `now_ms` is taken after the last call.
pub async fn inventory(
    clients_for: &dyn Fn(&str) -> RegionClients,
    regions: &[String],
    time_factor: f64,
) -> Result<Inventory, CoverageError> {
    let mut inv = Inventory {
        time_factor,
        ..Inventory::default()
    };
    for region in regions {
        let c = clients_for(region);
        inv.plans.extend(plans(&c.backup, region).await?);
        inv.resources.insert(region.clone(), tagged(&c.tagging, region).await?);
    }
    let mut vaults: Vec<(String, String)> = Vec::new();
    for plan in &inv.plans {
        for rule in &plan.rules {
            vaults.push((plan.region.clone(), rule.vault.clone()));
            vaults.extend(rule.copy_actions.iter().filter_map(|c| vault_of_arn(&c.destination_vault_arn)));
        }
    }
    vaults.sort();
    vaults.dedup();
    for (region, vault) in vaults {
        let points = recovery_points(&clients_for(&region).backup, &region, &vault).await?;
        inv.recovery_points.insert((region, vault), points);
    }
    inv.now_ms = now_ms();
    Ok(inv)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Every plan of the region with its rules and selections.
async fn plans(backup: &aws_sdk_backup::Client, region: &str) -> Result<Vec<Plan>, CoverageError> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = backup
            .list_backup_plans()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(aws_err(format!("ListBackupPlans({region})")))?;
        ids.extend(page.backup_plans_list().iter().filter_map(|p| p.backup_plan_id().map(str::to_string)));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let got = backup
            .get_backup_plan()
            .backup_plan_id(&id)
            .send()
            .await
            .map_err(aws_err(format!("GetBackupPlan({id})")))?;
        let Some(doc) = got.backup_plan() else { continue };
        out.push(Plan {
            name: doc.backup_plan_name().to_string(),
            id: id.clone(),
            region: region.to_string(),
            rules: doc.rules().iter().map(rule).collect(),
            selections: selections(backup, &id).await?,
        });
    }
    Ok(out)
}

/// A plan's selections.
async fn selections(backup: &aws_sdk_backup::Client, plan_id: &str) -> Result<Vec<Selection>, CoverageError> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = backup
            .list_backup_selections()
            .backup_plan_id(plan_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(aws_err(format!("ListBackupSelections({plan_id})")))?;
        ids.extend(page.backup_selections_list().iter().filter_map(|s| s.selection_id().map(str::to_string)));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let got = backup
            .get_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(&id)
            .send()
            .await
            .map_err(aws_err(format!("GetBackupSelection({plan_id}, {id})")))?;
        if let Some(s) = got.backup_selection() {
            out.push(selection(s));
        }
    }
    Ok(out)
}

fn lifecycle(l: &bk::Lifecycle) -> Lifecycle {
    Lifecycle {
        move_to_cold_storage_after_days: l.move_to_cold_storage_after_days(),
        delete_after_days: l.delete_after_days(),
    }
}

fn rule(r: &bk::BackupRule) -> Rule {
    Rule {
        name: r.rule_name().to_string(),
        id: r.rule_id().map(str::to_string),
        vault: r.target_backup_vault_name().to_string(),
        schedule: r.schedule_expression().map(str::to_string),
        start_window_minutes: r.start_window_minutes(),
        completion_window_minutes: r.completion_window_minutes(),
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

/// A condition's tag key: `aws:ResourceTag/` is the documented prefix in `Conditions`;
/// `ListOfTags` examples use the bare key.
fn tag_key(key: &str) -> String {
    key.strip_prefix("aws:ResourceTag/").unwrap_or(key).to_string()
}

fn selection(s: &bk::BackupSelection) -> Selection {
    let mut conditions = Vec::new();
    if let Some(c) = s.conditions() {
        for (op, params) in [
            (TagOp::Equals, c.string_equals()),
            (TagOp::NotEquals, c.string_not_equals()),
            (TagOp::Like, c.string_like()),
            (TagOp::NotLike, c.string_not_like()),
        ] {
            conditions.extend(params.iter().map(|p| TagCondition {
                op,
                key: tag_key(p.condition_key().unwrap_or_default()),
                value: p.condition_value().unwrap_or_default().to_string(),
            }));
        }
    }
    Selection {
        name: s.selection_name().to_string(),
        resources: s.resources().to_vec(),
        not_resources: s.not_resources().to_vec(),
        list_of_tags: s
            .list_of_tags()
            .iter()
            .map(|t| TagCondition {
                op: TagOp::Equals,
                key: tag_key(t.condition_key()),
                value: t.condition_value().to_string(),
            })
            .collect(),
        conditions,
    }
}

/// The region's tagged resources (GetResources, every page).
async fn tagged(tagging: &aws_sdk_resourcegroupstagging::Client, region: &str) -> Result<Vec<Resource>, CoverageError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = tagging
            .get_resources()
            .set_pagination_token(token.take())
            .send()
            .await
            .map_err(|e| CoverageError::Aws {
                call: format!("GetResources({region})"),
                message: describe_error(&e),
            })?;
        for m in page.resource_tag_mapping_list() {
            let Some(arn) = m.resource_arn() else { continue };
            let tags: BTreeMap<String, String> = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            out.push(Resource {
                arn: arn.to_string(),
                tags,
            });
        }
        match page.pagination_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// A vault's recovery points (every page); a vault that does not exist has none.
async fn recovery_points(
    backup: &aws_sdk_backup::Client,
    region: &str,
    vault: &str,
) -> Result<Vec<RecoveryPoint>, CoverageError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sent = backup
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(vault)
            .set_next_token(token.take())
            .send()
            .await;
        let page = match sent {
            Ok(p) => p,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(out),
            Err(e) => return Err(aws_err(format!("ListRecoveryPointsByBackupVault({region}, {vault})"))(e)),
        };
        out.extend(page.recovery_points().iter().map(|rp| recovery_point(rp, region, vault)));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

fn recovery_point(rp: &bk::RecoveryPointByBackupVault, region: &str, vault: &str) -> RecoveryPoint {
    let ms = |d: &aws_smithy_types::DateTime| d.to_millis().unwrap_or(0);
    RecoveryPoint {
        arn: rp.recovery_point_arn().unwrap_or_default().to_string(),
        resource_arn: rp.resource_arn().unwrap_or_default().to_string(),
        vault: vault.to_string(),
        region: region.to_string(),
        status: rp.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        creation_ms: rp.creation_date().map_or(0, ms),
        lifecycle: rp.lifecycle().map(lifecycle),
        rule_id: rp.created_by().and_then(|c| c.backup_rule_id()).map(str::to_string),
    }
}
