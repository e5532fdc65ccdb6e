//! AWS Backup's state in the local stack, shared by every region (each vault, plan and
//! job lives in one region; copies cross them), and the operations on vaults, plans and
//! selections. Jobs and recovery points are in [`super::jobs`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::clock::{start_clock, AwsClock};
use super::model::{BackupError, Lifecycle, PlanInput, SelectionInput};
use super::schedule::{Schedule, DEFAULT_EXPRESSION};
use super::{plan_arn, vault_arn};
use crate::config::DbRole;
use crate::config::{BackupConfig, BackupTimings, Stack, MAX_PAGE_SIZE};
use crate::truth::{now_unix_ms, GroundTruth};
use crate::world::World;

/// A backup vault.
#[derive(Debug, Clone)]
pub struct Vault {
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// `arn:aws:backup:{region}:{account}:backup-vault:{name}`.
    pub arn: String,
    /// When it was created (unix ms).
    pub created_ms: i64,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The creator's request id, if given.
    pub creator_request_id: Option<String>,
}

/// A backup plan with its rules' ids and the real time each rule fires next.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Its id (a UUID).
    pub id: String,
    /// Its region.
    pub region: String,
    /// `arn:aws:backup:{region}:{account}:backup-plan:{id}`.
    pub arn: String,
    /// Its version id.
    pub version_id: String,
    /// When it was created (unix ms).
    pub created_ms: i64,
    /// The plan as given.
    pub input: PlanInput,
    /// Each rule's id, in rule order.
    pub rule_ids: Vec<String>,
    /// Each rule's next firing (real unix ms), in rule order.
    pub next_fire_ms: Vec<Option<i64>>,
    /// When a rule of the plan last started jobs (unix ms).
    pub last_execution_ms: Option<i64>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The creator's request id, if given.
    pub creator_request_id: Option<String>,
}

/// A selection of resources for a plan.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Its id (a UUID).
    pub id: String,
    /// The plan it belongs to.
    pub plan_id: String,
    /// When it was created (unix ms).
    pub created_ms: i64,
    /// The selection as given.
    pub input: SelectionInput,
    /// The creator's request id, if given.
    pub creator_request_id: Option<String>,
}

/// AWS's `BackupJobState` values the local stack uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its resource (within the start window).
    Created,
    /// Taking the backup.
    Running,
    /// Its recovery point is complete.
    Completed,
    /// Did not start within its start window.
    Expired,
    /// Failed (see its status message).
    Failed,
}

impl JobState {
    /// AWS's name, e.g. `COMPLETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Expired => "EXPIRED",
            JobState::Failed => "FAILED",
        }
    }
}

/// The plan and rule that started a job (AWS's `RecoveryPointCreator`).
#[derive(Debug, Clone)]
pub struct Creator {
    /// The plan's id.
    pub plan_id: String,
    /// The plan's ARN.
    pub plan_arn: String,
    /// The plan's version id.
    pub plan_version: String,
    /// The rule's id.
    pub rule_id: String,
}

/// A backup job.
#[derive(Debug, Clone)]
pub struct BackupJob {
    /// Its id (a UUID, upper case as AWS's).
    pub id: String,
    /// Its region (the vault's).
    pub region: String,
    /// The vault its recovery point goes into.
    pub vault_name: String,
    /// The recovery point it makes (known from the start, as AWS answers it).
    pub recovery_point_arn: String,
    /// The resource backed up.
    pub resource_arn: String,
    /// The role given.
    pub iam_role_arn: String,
    /// When it was created (unix ms).
    pub created_ms: i64,
    /// Latest real time it may start.
    pub start_by_ms: i64,
    /// Latest real time it may complete.
    pub complete_by_ms: i64,
    /// Its state.
    pub state: JobState,
    /// Why it failed or expired.
    pub status_message: Option<String>,
    /// When it completed (unix ms).
    pub completion_ms: Option<i64>,
    /// When the data was taken (unix ms), once running.
    pub data_ms: Option<i64>,
    /// The data taken, once running.
    pub data: Option<Arc<HashMap<String, String>>>,
    /// When it completes (real unix ms), once running.
    pub due_ms: Option<i64>,
    /// The recovery point's lifecycle.
    pub lifecycle: Option<Lifecycle>,
    /// Copies to make once complete.
    pub copy_actions: Vec<super::model::CopyAction>,
    /// Tags for the recovery point.
    pub recovery_point_tags: BTreeMap<String, String>,
    /// The plan and rule, for scheduled jobs.
    pub created_by: Option<Creator>,
}

/// A recovery point in a vault.
#[derive(Debug, Clone)]
pub struct RecoveryPoint {
    /// `arn:aws:rds:{region}:{account}:snapshot:awsbackup:job-{id}` (a copy:
    /// `...:awsbackup:copyjob-{id}`).
    pub arn: String,
    /// Its vault's region.
    pub region: String,
    /// Its vault's name.
    pub vault_name: String,
    /// The resource it was taken of.
    pub resource_arn: String,
    /// When its data was taken (unix ms); a copy keeps its source's.
    pub created_ms: i64,
    /// When it (or, for a copy, the copy) completed (unix ms).
    pub completion_ms: i64,
    /// The data.
    pub data: Arc<HashMap<String, String>>,
    /// Its lifecycle.
    pub lifecycle: Option<Lifecycle>,
    /// When it moves to cold storage (real unix ms).
    pub cold_at_ms: Option<i64>,
    /// When it is deleted (real unix ms).
    pub delete_at_ms: Option<i64>,
    /// The vault it was copied from, for a copy.
    pub source_vault_arn: Option<String>,
    /// The plan and rule that made it.
    pub created_by: Option<Creator>,
    /// The role of the job.
    pub iam_role_arn: String,
    /// Its tags: the resource's, then the rule's `RecoveryPointTags`.
    pub tags: BTreeMap<String, String>,
    /// The DB instance id of the resource.
    pub source_db_id: String,
}

/// A restore job.
#[derive(Debug, Clone)]
pub struct RestoreJob {
    /// Its id (a UUID, upper case).
    pub id: String,
    /// Its region (the recovery point's).
    pub region: String,
    /// The recovery point restored.
    pub recovery_point_arn: String,
    /// The recovery point's creation (unix ms).
    pub recovery_point_created_ms: i64,
    /// The resource the recovery point was taken of.
    pub source_resource_arn: String,
    /// When it was created (unix ms).
    pub created_ms: i64,
    /// When it completed (unix ms).
    pub completion_ms: Option<i64>,
    /// `RUNNING`, `COMPLETED` or `FAILED`.
    pub status: &'static str,
    /// Why it failed.
    pub status_message: Option<String>,
    /// The database it creates.
    pub created_resource_arn: String,
    /// The role given.
    pub iam_role_arn: Option<String>,
    /// When it completes (real unix ms).
    pub due_ms: i64,
    /// Writes restored.
    pub writes: usize,
    /// Acknowledged writes of the source database (at restore start) the recovery point lacks.
    pub lost_write_ids: Vec<String>,
}

/// Everything AWS Backup holds.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) vaults: Vec<Vault>,
    pub(super) plans: Vec<Plan>,
    pub(super) selections: Vec<Selection>,
    pub(super) backup_jobs: Vec<BackupJob>,
    pub(super) recovery_points: Vec<RecoveryPoint>,
    pub(super) copies: Vec<CopyInFlight>,
    pub(super) restore_jobs: Vec<RestoreJob>,
}

/// AWS Backup for every region of a stack.
pub struct Backup {
    pub(super) account: String,
    pub(super) worlds: Vec<Arc<World>>,
    pub(super) clock: AwsClock,
    pub(super) timings: BackupTimings,
    pub(super) page_size: usize,
    pub(super) log: Arc<GroundTruth>,
    pub(super) state: Mutex<State>,
    pub(super) changed: watch::Sender<u64>,
}

/// A new upper-case UUID, as AWS's job ids are.
pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

impl Backup {
    /// AWS Backup over `worlds` (every region, the top-level first), with the stack's
    /// `backup:` section (or `backups:` shorthand) created through the same operations as
    /// the API's. Nothing runs until [`Backup::run`].
    pub fn new(stack: &Stack, worlds: Vec<Arc<World>>, log: Arc<GroundTruth>) -> Arc<Backup> {
        let config = stack.backup_config();
        let (changed, _) = watch::channel(0);
        let b = Arc::new(Backup {
            account: stack.account_id.clone(),
            worlds,
            clock: start_clock(config.as_ref(), now_unix_ms()),
            timings: config.as_ref().map(|c| c.timings.clone()).unwrap_or_default(),
            page_size: config.as_ref().map_or(MAX_PAGE_SIZE, |c| c.page_size),
            log,
            state: Mutex::new(State::default()),
            changed,
        });
        if let Some(c) = config {
            if let Err(e) = b.apply(stack, &c) {
                tracing::error!(error = %e, "the stack's backup section could not be created");
            }
        }
        b
    }

    /// Creates the section's vaults, plans and selections.
    fn apply(&self, stack: &Stack, c: &BackupConfig) -> Result<(), BackupError> {
        for v in &c.vaults {
            let region = v.region.as_deref().unwrap_or(&stack.region);
            self.create_vault(region, &v.name, v.tags.clone(), None)?;
        }
        for p in &c.plans {
            let region = p.region.as_deref().unwrap_or(&stack.region);
            let plan = self.create_plan(region, p.plan.clone(), p.tags.clone(), None)?;
            for s in &p.selections {
                self.create_selection(region, &plan.id, s.clone(), None)?;
            }
        }
        Ok(())
    }

    /// The compressed clock.
    pub fn clock(&self) -> AwsClock {
        self.clock
    }

    /// The account id in ARNs.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// How many items a List* page holds without `MaxResults` (`backup.page_size`).
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes those waiting on a change.
    pub(super) fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// The world of `region`.
    pub(super) fn world(&self, region: &str) -> Option<&Arc<World>> {
        self.worlds.iter().find(|w| w.stack.region == region)
    }

    /// The existing databases of `region`: (DB instance ARN, tags, world).
    pub(super) fn resources(&self, region: &str) -> Vec<(String, BTreeMap<String, String>, Arc<World>)> {
        self.worlds
            .iter()
            .filter(|w| w.stack.region == region && w.with_db(|db| db.role()) != DbRole::Absent)
            .map(|w| {
                let arn = super::db_arn(region, &self.account, &w.stack.database.primary.id);
                (arn, w.stack.database.tags.clone(), w.clone())
            })
            .collect()
    }

    /// CreateBackupVault.
    pub fn create_vault(
        &self,
        region: &str,
        name: &str,
        tags: BTreeMap<String, String>,
        creator_request_id: Option<String>,
    ) -> Result<Vault, BackupError> {
        let valid = (2..=50).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(BackupError::InvalidParameter(format!(
                "BackupVaultName {name:?} must be 2-50 characters of letters, digits, - and _"
            )));
        }
        let mut st = self.lock();
        if st.vaults.iter().any(|v| v.region == region && v.name == name) {
            return Err(BackupError::AlreadyExists(format!(
                "Backup vault with the same name already exists: {name}"
            )));
        }
        let v = Vault {
            name: name.to_string(),
            region: region.to_string(),
            arn: vault_arn(region, &self.account, name),
            created_ms: now_unix_ms(),
            tags,
            creator_request_id,
        };
        st.vaults.push(v.clone());
        Ok(v)
    }

    /// ListBackupVaults: the region's vaults, with their recovery point counts.
    pub fn list_vaults(&self, region: &str) -> Vec<(Vault, usize)> {
        let st = self.lock();
        st.vaults
            .iter()
            .filter(|v| v.region == region)
            .map(|v| {
                let n = st
                    .recovery_points
                    .iter()
                    .filter(|r| r.region == region && r.vault_name == v.name)
                    .count();
                (v.clone(), n)
            })
            .collect()
    }

    /// The vault `name` of `region`.
    pub fn vault(&self, region: &str, name: &str) -> Result<Vault, BackupError> {
        self.lock()
            .vaults
            .iter()
            .find(|v| v.region == region && v.name == name)
            .cloned()
            .ok_or_else(|| vault_not_found(region, name))
    }

    /// CreateBackupPlan: checks every rule (schedule, windows, lifecycle, vaults) and
    /// schedules it.
    pub fn create_plan(
        &self,
        region: &str,
        input: PlanInput,
        tags: BTreeMap<String, String>,
        creator_request_id: Option<String>,
    ) -> Result<Plan, BackupError> {
        let schedules = self.check_plan(region, &input)?;
        let now = now_unix_ms();
        let id = uuid::Uuid::new_v4().to_string();
        let plan = Plan {
            arn: plan_arn(region, &self.account, &id),
            id,
            region: region.to_string(),
            version_id: uuid::Uuid::new_v4().simple().to_string(),
            created_ms: now,
            rule_ids: input.rules.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect(),
            next_fire_ms: schedules.iter().map(|s| self.next_fire(s, now)).collect(),
            input,
            last_execution_ms: None,
            tags,
            creator_request_id,
        };
        self.lock().plans.push(plan.clone());
        Ok(plan)
    }

    /// The real time a schedule fires next after real time `now`.
    pub(super) fn next_fire(&self, s: &Schedule, now: i64) -> Option<i64> {
        s.next_after(self.clock.to_aws(now)).map(|aws| self.clock.to_real(aws))
    }

    /// Each rule's parsed schedule, or the first thing wrong with the plan, naming the rule.
    fn check_plan(&self, region: &str, input: &PlanInput) -> Result<Vec<Schedule>, BackupError> {
        if input.rules.is_empty() {
            return Err(BackupError::InvalidParameter(
                "BackupPlan.Rules: a plan needs at least one rule".into(),
            ));
        }
        let mut out = Vec::new();
        for r in &input.rules {
            let bad = |what: String| BackupError::InvalidParameter(format!("Rule {:?}: {what}", r.rule_name));
            if input.rules.iter().filter(|o| o.rule_name == r.rule_name).count() > 1 {
                return Err(bad("RuleName is not unique in the plan".into()));
            }
            let expr = r.schedule_expression.as_deref().unwrap_or(DEFAULT_EXPRESSION);
            out.push(Schedule::parse(expr).map_err(|e| bad(format!("ScheduleExpression: {e}")))?);
            self.vault(region, &r.target_backup_vault_name)?;
            if r.start_window_minutes.is_some_and(|m| m < 60) {
                return Err(bad("StartWindowMinutes must be at least 60".into()));
            }
            if r.completion_window_minutes.is_some_and(|m| m < 1) {
                return Err(bad("CompletionWindowMinutes must be positive".into()));
            }
            check_lifecycle(r.lifecycle.as_ref()).map_err(|e| bad(format!("Lifecycle: {e}")))?;
            for a in &r.copy_actions {
                check_lifecycle(a.lifecycle.as_ref()).map_err(|e| bad(format!("CopyActions Lifecycle: {e}")))?;
                self.vault_by_arn(&a.destination_backup_vault_arn)
                    .map_err(|e| bad(format!("CopyActions: {e}")))?;
            }
        }
        Ok(out)
    }

    /// The vault with ARN `arn` (any region).
    pub fn vault_by_arn(&self, arn: &str) -> Result<Vault, BackupError> {
        self.lock()
            .vaults
            .iter()
            .find(|v| v.arn == arn)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Backup vault {arn} does not exist")))
    }

    /// GetBackupPlan.
    pub fn plan(&self, region: &str, id: &str) -> Result<Plan, BackupError> {
        self.lock()
            .plans
            .iter()
            .find(|p| p.region == region && p.id == id)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Failed reading Backup plan with provided version: {id}")))
    }

    /// ListBackupPlans: the region's plans, oldest first.
    pub fn list_plans(&self, region: &str) -> Vec<Plan> {
        self.lock()
            .plans
            .iter()
            .filter(|p| p.region == region)
            .cloned()
            .collect()
    }

    /// CreateBackupSelection.
    pub fn create_selection(
        &self,
        region: &str,
        plan_id: &str,
        input: SelectionInput,
        creator_request_id: Option<String>,
    ) -> Result<Selection, BackupError> {
        self.plan(region, plan_id)?;
        if input.selection_name.is_empty() || input.selection_name.len() > 50 {
            return Err(BackupError::InvalidParameter(
                "BackupSelection.SelectionName must be 1-50 characters".into(),
            ));
        }
        if let Some(t) = input.list_of_tags.iter().find(|t| t.condition_type != "STRINGEQUALS") {
            return Err(BackupError::InvalidParameter(format!(
                "BackupSelection.ListOfTags: ConditionType {:?} is not STRINGEQUALS",
                t.condition_type
            )));
        }
        let s = Selection {
            id: uuid::Uuid::new_v4().to_string(),
            plan_id: plan_id.to_string(),
            created_ms: now_unix_ms(),
            input,
            creator_request_id,
        };
        self.lock().selections.push(s.clone());
        Ok(s)
    }

    /// GetBackupSelection.
    pub fn selection(&self, region: &str, plan_id: &str, id: &str) -> Result<Selection, BackupError> {
        self.plan(region, plan_id)?;
        self.lock()
            .selections
            .iter()
            .find(|s| s.plan_id == plan_id && s.id == id)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Selection {id} of plan {plan_id} does not exist")))
    }

    /// ListBackupSelections.
    pub fn list_selections(&self, region: &str, plan_id: &str) -> Result<Vec<Selection>, BackupError> {
        self.plan(region, plan_id)?;
        Ok(self
            .lock()
            .selections
            .iter()
            .filter(|s| s.plan_id == plan_id)
            .cloned()
            .collect())
    }
}

/// `ResourceNotFoundException` for a vault.
pub(super) fn vault_not_found(region: &str, name: &str) -> BackupError {
    BackupError::NotFound(format!("Backup vault {name} does not exist in {region}"))
}

/// AWS's lifecycle rules: positive days, and deletion at least 90 days after a move to
/// cold storage (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_Lifecycle.html>).
pub(super) fn check_lifecycle(l: Option<&Lifecycle>) -> Result<(), String> {
    let Some(l) = l else { return Ok(()) };
    if l.delete_after_days.is_some_and(|d| d < 1) || l.move_to_cold_storage_after_days.is_some_and(|d| d < 1) {
        return Err("days must be at least 1".into());
    }
    if let (Some(cold), Some(delete)) = (l.move_to_cold_storage_after_days, l.delete_after_days) {
        if delete < cold + 90 {
            return Err(format!(
                "DeleteAfterDays ({delete}) must be at least 90 days after MoveToColdStorageAfterDays ({cold})"
            ));
        }
    }
    Ok(())
}

/// A copy on its way into another vault (the copy jobs in `jobs.rs` move it along).
#[derive(Debug, Clone)]
pub(crate) struct CopyInFlight {
    pub(super) source_arn: String,
    pub(super) destination_vault_arn: String,
    pub(super) lifecycle: Option<Lifecycle>,
    pub(super) due_ms: i64,
    pub(super) give_up_ms: i64, // stops retrying across a cross-region cut then (real unix ms)
}
