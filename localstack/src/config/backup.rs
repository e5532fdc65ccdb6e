//! The stack file's `backup:` section: AWS Backup vaults, plans and selections in AWS's
//! own terms (a plan's `plan:` is CreateBackupPlan's `BackupPlan` document, a selection is
//! CreateBackupSelection's `BackupSelection`), the compressed clock and the local timings;
//! and the older `backups:` shorthand expressed as such a section.
//!
//! ```yaml
//! backup:
//!   time_factor: 900            # seconds of AWS time per real second (default 1)
//!   first_backup_at_start: false # true: the first rule fires 20 ms after start
//!   page_size: 1000             # List* page size without MaxResults (1..=1000)
//!   timings: { restore_base: 4s, restore_per_1000_writes: 1s }
//!   vaults:
//!     - { name: east-vault, region: us-east-1 }
//!     - { name: west-vault, region: us-west-2 }
//!   plans:
//!     - region: us-east-1       # default: the stack's top-level region
//!       plan:
//!         BackupPlanName: hourly
//!         Rules:
//!           - RuleName: hourly
//!             TargetBackupVaultName: east-vault
//!             ScheduleExpression: cron(0 * ? * * *)
//!             Lifecycle: { DeleteAfterDays: 1 }
//!             CopyActions:
//!               - DestinationBackupVaultArn: arn:aws:backup:us-west-2:000000000000:backup-vault:west-vault
//!       selections:
//!         - SelectionName: tagged
//!           IamRoleArn: arn:aws:iam::000000000000:role/drdrill-backup
//!           ListOfTags: [{ ConditionType: STRINGEQUALS, ConditionKey: Backup, ConditionValue: drill }]
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{Backups, Dur, Stack};
use crate::backup_model::model::{CopyAction, Lifecycle, PlanInput, RuleInput, SelectionInput};
use crate::backup_model::schedule::Schedule;

/// AWS Backup in the local stack (`backup:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Seconds of AWS time per real second (default 1): schedules, windows and lifecycle
    /// days run this much faster; the API's dates stay real.
    #[serde(default = "one")]
    pub time_factor: f64,
    /// How long jobs take, in real time.
    #[serde(default)]
    pub timings: BackupTimings,
    /// Vaults, each in one region.
    #[serde(default)]
    pub vaults: Vec<VaultSpec>,
    /// Plans with their selections.
    #[serde(default)]
    pub plans: Vec<PlanSpec>,
    /// Start AWS time 20 ms (real) before the first rule's next firing instead of at the
    /// real time, so that the first backup is taken when the stack starts (as the `backups:`
    /// shorthand always did; default false).
    #[serde(default)]
    pub first_backup_at_start: bool,
    /// How many items a List* page holds when the call gives no `MaxResults` (default
    /// [`MAX_PAGE_SIZE`], AWS's largest `MaxResults`); a small one makes every listing
    /// span pages, to test that a client follows `NextToken`.
    #[serde(default = "max_page_size")]
    pub page_size: usize,
}

/// AWS Backup's largest `MaxResults` ("Valid Range: Minimum value of 1. Maximum value of
/// 1000.", e.g. <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupVaults.html>).
pub const MAX_PAGE_SIZE: usize = 1000;

fn max_page_size() -> usize {
    MAX_PAGE_SIZE
}

fn one() -> f64 {
    1.0
}

/// How long backup, copy and restore jobs take (real time).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupTimings {
    /// A backup job of an empty database (default 200ms).
    #[serde(default = "d200ms")]
    pub backup_base: Dur,
    /// Extra backup time per 1000 writes (default 100ms).
    #[serde(default = "d100ms")]
    pub backup_per_1000_writes: Dur,
    /// A copy job into another vault (default 500ms).
    #[serde(default = "d500ms")]
    pub copy_duration: Dur,
    /// A restore job of an empty recovery point (default 2s).
    #[serde(default = "d2s")]
    pub restore_base: Dur,
    /// Extra restore time per 1000 writes (default 500ms).
    #[serde(default = "d500ms")]
    pub restore_per_1000_writes: Dur,
}

fn d100ms() -> Dur {
    Dur(Duration::from_millis(100))
}
fn d200ms() -> Dur {
    Dur(Duration::from_millis(200))
}
fn d500ms() -> Dur {
    Dur(Duration::from_millis(500))
}
fn d2s() -> Dur {
    Dur(Duration::from_secs(2))
}

impl Default for BackupTimings {
    fn default() -> Self {
        BackupTimings {
            backup_base: d200ms(),
            backup_per_1000_writes: d100ms(),
            copy_duration: d500ms(),
            restore_base: d2s(),
            restore_per_1000_writes: d500ms(),
        }
    }
}

/// A vault (`CreateBackupVault`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSpec {
    /// The vault's name, unique in its region.
    pub name: String,
    /// Its region (default: the top-level region).
    #[serde(default)]
    pub region: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A plan (`CreateBackupPlan`) and its selections (`CreateBackupSelection`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// The plan's region (default: the top-level region).
    #[serde(default)]
    pub region: Option<String>,
    /// AWS's `BackupPlan` document (a member this stack does not know is an error).
    #[serde(deserialize_with = "strict")]
    pub plan: PlanInput,
    /// AWS's `BackupSelection` documents (a member this stack does not know is an error).
    #[serde(default, deserialize_with = "strict")]
    pub selections: Vec<SelectionInput>,
    /// The plan's tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Reads one of AWS's documents, refusing members the model does not read (the API, as
/// AWS's, ignores them; a stack file that names one expects an effect it would not have):
/// the error names each, e.g. `Rules[0].AdvancedBackupSettings`.
fn strict<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error as _;
    let value = serde_json::Value::deserialize(d)?;
    let mut unknown = Vec::new();
    let parsed = serde_ignored::deserialize(value, |path| unknown.push(path.to_string())).map_err(D::Error::custom)?;
    if unknown.is_empty() {
        Ok(parsed)
    } else {
        Err(D::Error::custom(format!(
            "unknown member(s) {} (this stack reads AWS's documented members it models; see docs/local-stack.md)",
            unknown.join(", ")
        )))
    }
}

type Invalid = (String, String);

/// Checks the `backup:` section against the regions: a positive time factor, vaults in
/// known regions (unique per region), plans whose rules have valid schedules and target
/// vaults of their region and whose copy actions name declared vaults.
pub fn validate(stack: &Stack, b: &BackupConfig) -> Result<(), Invalid> {
    if stack.backups.is_some() {
        return Err((
            "backup".into(),
            "`backups:` is the shorthand of one `backup:` plan; use one of them".into(),
        ));
    }
    if !(b.time_factor.is_finite() && b.time_factor > 0.0) {
        return Err(("backup.time_factor".into(), format!("{} is not > 0", b.time_factor)));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&b.page_size) {
        return Err((
            "backup.page_size".into(),
            format!(
                "{} is not within AWS's MaxResults range 1..={MAX_PAGE_SIZE}",
                b.page_size
            ),
        ));
    }
    let regions = stack.region_names();
    let mut arns = Vec::new();
    for (i, v) in b.vaults.iter().enumerate() {
        let region = v.region.as_deref().unwrap_or(&stack.region);
        if !regions.contains(&region) {
            return Err((
                format!("backup.vaults[{i}].region"),
                format!("unknown region {region:?}"),
            ));
        }
        let arn = crate::backup_model::vault_arn(region, &stack.account_id, &v.name);
        if arns.contains(&arn) {
            return Err((format!("backup.vaults[{i}].name"), format!("duplicate vault {arn}")));
        }
        arns.push(arn);
    }
    for (i, p) in b.plans.iter().enumerate() {
        let region = p.region.as_deref().unwrap_or(&stack.region);
        if !regions.contains(&region) {
            return Err((
                format!("backup.plans[{i}].region"),
                format!("unknown region {region:?}"),
            ));
        }
        for (j, r) in p.plan.rules.iter().enumerate() {
            let k = |f: &str| format!("backup.plans[{i}].plan.Rules[{j}].{f}");
            let own = crate::backup_model::vault_arn(region, &stack.account_id, &r.target_backup_vault_name);
            if !arns.contains(&own) {
                return Err((k("TargetBackupVaultName"), format!("no vault {own} in `backup.vaults`")));
            }
            if let Some(e) = &r.schedule_expression {
                Schedule::parse(e).map_err(|e| (k("ScheduleExpression"), e.to_string()))?;
            }
            for (c, a) in r.copy_actions.iter().enumerate() {
                if !arns.contains(&a.destination_backup_vault_arn) {
                    return Err((
                        k(&format!("CopyActions[{c}].DestinationBackupVaultArn")),
                        format!("no vault {} in `backup.vaults`", a.destination_backup_vault_arn),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The `backups:` shorthand as a `backup:` section: a vault in the source region and one
/// in `copy_to`, one plan whose one daily rule fires every `interval` (the time factor is
/// a day per interval), keeps `retention` days (so `retention` recovery points) in both
/// vaults, and copies to `copy_to`'s vault; its one selection is the source database.
pub fn from_shorthand(stack: &Stack, b: &Backups) -> BackupConfig {
    let source = b.region.clone().unwrap_or_else(|| stack.region.clone());
    let source_db = stack
        .region_stacks()
        .into_iter()
        .find(|r| r.region == source)
        .map(|r| r.database.primary.id.clone())
        .unwrap_or_default();
    let acct = &stack.account_id;
    let vault = |r: &str| format!("backups-{r}");
    let lifecycle = Some(Lifecycle {
        delete_after_days: Some(i64::from(b.retention)),
        ..Lifecycle::default()
    });
    let interval_s = b.interval.0.as_secs_f64().max(0.001);
    BackupConfig {
        time_factor: 86_400.0 / interval_s,
        first_backup_at_start: true,
        page_size: MAX_PAGE_SIZE,
        timings: BackupTimings {
            backup_base: Dur(Duration::ZERO),
            backup_per_1000_writes: Dur(Duration::ZERO),
            copy_duration: b.copy_duration,
            restore_base: b.restore_base,
            restore_per_1000_writes: b.restore_per_1000_writes,
        },
        vaults: [&source, &b.copy_to]
            .into_iter()
            .map(|r| VaultSpec {
                name: vault(r),
                region: Some(r.clone()),
                tags: BTreeMap::new(),
            })
            .collect(),
        plans: vec![PlanSpec {
            region: Some(source.clone()),
            plan: PlanInput {
                backup_plan_name: "backups".into(),
                rules: vec![RuleInput {
                    rule_name: "every-interval".into(),
                    target_backup_vault_name: vault(&source),
                    schedule_expression: Some("cron(0 0 ? * * *)".into()),
                    start_window_minutes: None,
                    completion_window_minutes: None,
                    lifecycle: lifecycle.clone(),
                    recovery_point_tags: BTreeMap::new(),
                    copy_actions: vec![CopyAction {
                        lifecycle,
                        destination_backup_vault_arn: crate::backup_model::vault_arn(
                            &b.copy_to,
                            acct,
                            &vault(&b.copy_to),
                        ),
                    }],
                    enable_continuous_backup: None,
                    schedule_expression_timezone: None,
                }],
            },
            selections: vec![SelectionInput {
                selection_name: "database".into(),
                iam_role_arn: format!("arn:aws:iam::{acct}:role/service-role/AWSBackupDefaultServiceRole"),
                resources: vec![format!("arn:aws:rds:{source}:{acct}:db:{source_db}")],
                list_of_tags: Vec::new(),
                not_resources: Vec::new(),
                conditions: None,
            }],
            tags: BTreeMap::new(),
        }],
    }
}
