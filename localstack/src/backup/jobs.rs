//! Backup, copy and restore jobs, recovery points and their lifecycle: what
//! [`Backup::run`] advances every few milliseconds (rules firing on the compressed clock,
//! jobs taking and completing their snapshot, copies arriving, recovery points moving to
//! cold storage and being deleted), and the job operations of the API.
//!
//! AWS: <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartBackupJob.html>,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartRestoreJob.html>,
//! <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html>.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::clock::DAY_MS;
use super::engine::{new_id, Backup, BackupJob, CopyInFlight, Creator, JobState, RecoveryPoint, RestoreJob};
use super::model::{BackupError, CopyAction, Lifecycle};
use super::schedule::{Schedule, DEFAULT_COMPLETION_WINDOW_MINUTES, DEFAULT_EXPRESSION, DEFAULT_START_WINDOW_MINUTES};
use crate::truth::{now_unix_ms, Truth};

/// How often the engine advances.
const TICK: Duration = Duration::from_millis(10);

/// How long a copy job retries (AWS time) before it fails: "the copy job enters a retry
/// phase that lasts for 2 hours" (<https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html>).
const COPY_RETRY_MS: i64 = 2 * 3_600_000;

/// What StartBackupJob takes.
#[derive(Debug, Clone, Default)]
pub struct BackupJobRequest {
    /// The vault (in the call's region).
    pub vault_name: String,
    /// The resource.
    pub resource_arn: String,
    /// The role.
    pub iam_role_arn: String,
    /// Minutes (AWS time) it may wait to start.
    pub start_window_minutes: Option<i64>,
    /// Minutes (AWS time) it has to complete.
    pub complete_window_minutes: Option<i64>,
    /// The recovery point's lifecycle.
    pub lifecycle: Option<Lifecycle>,
    /// Tags for the recovery point.
    pub recovery_point_tags: BTreeMap<String, String>,
}

impl Backup {
    /// Advances every job and rule until `cancel`.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = every.tick() => {}
            }
            self.tick(now_unix_ms());
        }
    }

    /// One step at real time `now`: fire due rules, start and finish jobs, land copies,
    /// finish restores, apply lifecycles.
    fn tick(&self, now: i64) {
        let changed = self.fire_rules(now)
            | self.advance_backups(now)
            | self.land_copies(now)
            | self.finish_restores(now)
            | self.apply_lifecycles(now);
        if changed {
            self.notify();
        }
    }

    /// Starts a job per selected resource of every rule whose firing is due.
    fn fire_rules(&self, now: i64) -> bool {
        let mut st = self.lock();
        let mut jobs = Vec::new();
        for p in 0..st.plans.len() {
            for r in 0..st.plans[p].rule_ids.len() {
                if st.plans[p].next_fire_ms[r].is_none_or(|t| t > now) {
                    continue;
                }
                let plan = st.plans[p].clone();
                let rule = &plan.input.rules[r];
                let expr = rule.schedule_expression.as_deref().unwrap_or(DEFAULT_EXPRESSION);
                st.plans[p].next_fire_ms[r] = Schedule::parse(expr).ok().and_then(|s| self.next_fire(&s, now));
                st.plans[p].last_execution_ms = Some(now);
                let selections: Vec<_> = st.selections.iter().filter(|s| s.plan_id == plan.id).cloned().collect();
                let mut chosen: Vec<(String, String)> = Vec::new();
                for (arn, tags, _) in self.resources(&plan.region) {
                    if let Some(s) = selections.iter().find(|s| s.input.selects(&arn, &tags)) {
                        chosen.push((arn, s.input.iam_role_arn.clone()));
                    }
                }
                for (arn, role) in chosen {
                    let req = BackupJobRequest {
                        vault_name: rule.target_backup_vault_name.clone(),
                        resource_arn: arn,
                        iam_role_arn: role,
                        start_window_minutes: rule.start_window_minutes,
                        complete_window_minutes: rule.completion_window_minutes,
                        lifecycle: rule.lifecycle.clone(),
                        recovery_point_tags: rule.recovery_point_tags.clone(),
                    };
                    let by = Creator {
                        plan_id: plan.id.clone(),
                        plan_arn: plan.arn.clone(),
                        plan_version: plan.version_id.clone(),
                        rule_id: plan.rule_ids[r].clone(),
                    };
                    jobs.push(self.new_job(&plan.region, req, rule.copy_actions.clone(), Some(by), now));
                }
            }
        }
        let fired = !jobs.is_empty();
        st.backup_jobs.extend(jobs);
        fired
    }

    /// A job in state CREATED.
    fn new_job(
        &self,
        region: &str,
        req: BackupJobRequest,
        copy_actions: Vec<CopyAction>,
        created_by: Option<Creator>,
        now: i64,
    ) -> BackupJob {
        let id = new_id();
        let start = req.start_window_minutes.unwrap_or(DEFAULT_START_WINDOW_MINUTES);
        let complete = req.complete_window_minutes.unwrap_or(DEFAULT_COMPLETION_WINDOW_MINUTES);
        BackupJob {
            recovery_point_arn: format!(
                "arn:aws:rds:{region}:{}:snapshot:awsbackup:job-{}",
                self.account,
                id.to_lowercase()
            ),
            id,
            region: region.to_string(),
            vault_name: req.vault_name,
            resource_arn: req.resource_arn,
            iam_role_arn: req.iam_role_arn,
            created_ms: now,
            start_by_ms: now + self.clock.real_span(start * 60_000),
            complete_by_ms: now + self.clock.real_span((start + complete) * 60_000),
            state: JobState::Created,
            status_message: None,
            completion_ms: None,
            data_ms: None,
            data: None,
            due_ms: None,
            lifecycle: req.lifecycle,
            copy_actions,
            recovery_point_tags: req.recovery_point_tags,
            created_by,
        }
    }

    /// CREATED jobs take their data when the database is reachable (or expire after their
    /// start window); RUNNING jobs complete when due, making their recovery point.
    fn advance_backups(&self, now: i64) -> bool {
        let mut st = self.lock();
        let mut changed = false;
        let mut done = Vec::new();
        for job in st.backup_jobs.iter_mut() {
            match job.state {
                JobState::Created if now > job.start_by_ms => {
                    job.state = JobState::Expired;
                    job.status_message = Some("The backup job did not start within its start window".into());
                    changed = true;
                }
                JobState::Created => {
                    let Some(w) = super::arn_region(&job.resource_arn).and_then(|r| self.world(r)) else {
                        continue;
                    };
                    if !w.db_reachable() {
                        continue;
                    }
                    let Some(data) = w.db_data() else { continue };
                    let t = &self.timings;
                    let took = t.backup_base.0 + t.backup_per_1000_writes.0 * data.len() as u32 / 1000;
                    job.due_ms = Some(now + took.as_millis() as i64);
                    job.data = Some(Arc::new(data));
                    job.data_ms = Some(now);
                    job.state = JobState::Running;
                    changed = true;
                }
                JobState::Running if job.due_ms.is_some_and(|d| d <= now) => {
                    job.state = JobState::Completed;
                    job.completion_ms = Some(now);
                    done.push(job.clone());
                    changed = true;
                }
                _ => {}
            }
        }
        for job in done {
            let rp = self.recovery_point_of(&job, now);
            for a in &job.copy_actions {
                st.copies.push(CopyInFlight {
                    source_arn: rp.arn.clone(),
                    destination_vault_arn: a.destination_backup_vault_arn.clone(),
                    lifecycle: a.lifecycle.clone(),
                    due_ms: now + self.timings.copy_duration.0.as_millis() as i64,
                    give_up_ms: now + self.clock.real_span(COPY_RETRY_MS),
                });
            }
            self.log.record_in(
                Some(&rp.region),
                Truth::Backup {
                    snapshot: rp.arn.clone(),
                    phase: "taken".into(),
                    in_region: rp.region.clone(),
                    writes: rp.data.len(),
                    taken_unix_ms: rp.created_ms,
                },
            );
            st.recovery_points.push(rp);
        }
        changed
    }

    /// The recovery point a completed job made.
    fn recovery_point_of(&self, job: &BackupJob, now: i64) -> RecoveryPoint {
        let created = job.data_ms.unwrap_or(now);
        let resource_tags = super::arn_region(&job.resource_arn)
            .and_then(|r| self.world(r))
            .map(|w| w.stack.database.tags.clone())
            .unwrap_or_default();
        let mut tags = resource_tags;
        tags.extend(job.recovery_point_tags.clone());
        let (cold, delete) = self.lifecycle_at(created, job.lifecycle.as_ref());
        RecoveryPoint {
            arn: job.recovery_point_arn.clone(),
            region: job.region.clone(),
            vault_name: job.vault_name.clone(),
            resource_arn: job.resource_arn.clone(),
            created_ms: created,
            completion_ms: now,
            data: job.data.clone().unwrap_or_default(),
            lifecycle: job.lifecycle.clone(),
            cold_at_ms: cold,
            delete_at_ms: delete,
            source_vault_arn: None,
            created_by: job.created_by.clone(),
            iam_role_arn: job.iam_role_arn.clone(),
            tags,
            source_db_id: job.resource_arn.rsplit(':').next().unwrap_or_default().to_string(),
        }
    }

    /// When a recovery point created at `created` moves to cold storage and is deleted
    /// (real unix ms), its lifecycle days counted in AWS time.
    pub(super) fn lifecycle_at(&self, created: i64, l: Option<&Lifecycle>) -> (Option<i64>, Option<i64>) {
        let at = |days: Option<i64>| days.map(|d| created + self.clock.real_span(d * DAY_MS));
        l.map_or((None, None), |l| {
            (at(l.move_to_cold_storage_after_days), at(l.delete_after_days))
        })
    }

    /// Copies whose time has come arrive in their vault, unless the two regions are cut
    /// apart: the copy then retries until the cut ends or its retry window passes (the
    /// copy job fails). A copy keeps its source's creation date, from which its lifecycle
    /// counts: "The creation date refers to when the source was created, not when the copy
    /// was created" (<https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html>).
    fn land_copies(&self, now: i64) -> bool {
        let mut st = self.lock();
        let (due, waiting): (Vec<_>, Vec<_>) = st.copies.drain(..).partition(|c| c.due_ms <= now);
        st.copies = waiting;
        let mut retry = Vec::new();
        let mut changed = false;
        for c in due {
            let Some(src) = st.recovery_points.iter().find(|r| r.arn == c.source_arn).cloned() else {
                continue;
            };
            let Some(dest) = st.vaults.iter().find(|v| v.arn == c.destination_vault_arn).cloned() else {
                continue;
            };
            let (from, to) = (self.world(&src.region), self.world(&dest.region));
            let cut = match (from, to) {
                (Some(f), Some(t)) => f.cross_region_cut(&t.stack.region) || t.cross_region_cut(&f.stack.region),
                _ => true,
            };
            if cut && src.region != dest.region {
                if now < c.give_up_ms {
                    retry.push(c);
                }
                continue;
            }
            let (cold, delete) = self.lifecycle_at(src.created_ms, c.lifecycle.as_ref());
            let rp = RecoveryPoint {
                arn: format!(
                    "arn:aws:rds:{}:{}:snapshot:awsbackup:copyjob-{}",
                    dest.region,
                    self.account,
                    uuid::Uuid::new_v4()
                ),
                region: dest.region.clone(),
                vault_name: dest.name.clone(),
                completion_ms: now,
                lifecycle: c.lifecycle.clone(),
                cold_at_ms: cold,
                delete_at_ms: delete,
                source_vault_arn: Some(super::vault_arn(&src.region, &self.account, &src.vault_name)),
                ..src
            };
            self.log.record_in(
                Some(&rp.region),
                Truth::Backup {
                    snapshot: rp.arn.clone(),
                    phase: "copied".into(),
                    in_region: rp.region.clone(),
                    writes: rp.data.len(),
                    taken_unix_ms: rp.created_ms,
                },
            );
            st.recovery_points.push(rp);
            changed = true;
        }
        st.copies.extend(retry);
        changed
    }

    /// Moves recovery points to cold storage and deletes them when their lifecycle says.
    fn apply_lifecycles(&self, now: i64) -> bool {
        let mut st = self.lock();
        let before = st.recovery_points.len();
        st.recovery_points.retain(|r| r.delete_at_ms.is_none_or(|d| d > now));
        before != st.recovery_points.len()
    }

    /// StartBackupJob: a job backing up `resource_arn` into the call region's vault.
    pub fn start_backup_job(&self, region: &str, req: BackupJobRequest) -> Result<BackupJob, BackupError> {
        self.vault(region, &req.vault_name)?;
        if !self
            .resources(region)
            .iter()
            .any(|(arn, _, _)| *arn == req.resource_arn)
        {
            return Err(BackupError::InvalidParameter(format!(
                "ResourceArn {} is not a database of {region} in this stack",
                req.resource_arn
            )));
        }
        super::engine::check_lifecycle(req.lifecycle.as_ref())
            .map_err(|e| BackupError::InvalidParameter(format!("Lifecycle: {e}")))?;
        let job = self.new_job(region, req, Vec::new(), None, now_unix_ms());
        self.lock().backup_jobs.push(job.clone());
        self.notify();
        Ok(job)
    }

    /// DescribeBackupJob.
    pub fn backup_job(&self, region: &str, id: &str) -> Result<BackupJob, BackupError> {
        self.lock()
            .backup_jobs
            .iter()
            .find(|j| j.region == region && j.id == id)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Cannot find backup job {id}")))
    }

    /// ListRecoveryPointsByBackupVault: the vault's recovery points, newest first.
    pub fn recovery_points_in(&self, region: &str, vault: &str) -> Result<Vec<RecoveryPoint>, BackupError> {
        self.vault(region, vault)?;
        let mut out: Vec<RecoveryPoint> = self
            .lock()
            .recovery_points
            .iter()
            .filter(|r| r.region == region && r.vault_name == vault)
            .cloned()
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.created_ms));
        Ok(out)
    }

    /// ListRecoveryPointsByResource: the resource's recovery points in the region's
    /// vaults, newest first.
    pub fn recovery_points_of(&self, region: &str, resource_arn: &str) -> Vec<RecoveryPoint> {
        let mut out: Vec<RecoveryPoint> = self
            .lock()
            .recovery_points
            .iter()
            .filter(|r| r.region == region && r.resource_arn == resource_arn)
            .cloned()
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.created_ms));
        out
    }

    /// DescribeRecoveryPoint (and the recovery point of GetRecoveryPointRestoreMetadata).
    pub fn recovery_point(&self, region: &str, vault: &str, arn: &str) -> Result<RecoveryPoint, BackupError> {
        self.vault(region, vault)?;
        self.lock()
            .recovery_points
            .iter()
            .find(|r| r.region == region && r.vault_name == vault && r.arn == arn)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Recovery point {arn} not found in vault {vault}")))
    }

    /// ListTags: the tags of a recovery point, vault or plan of `region`.
    pub fn tags(&self, region: &str, arn: &str) -> Result<BTreeMap<String, String>, BackupError> {
        let st = self.lock();
        let rp = st.recovery_points.iter().find(|r| r.region == region && r.arn == arn);
        let vault = st.vaults.iter().find(|v| v.region == region && v.arn == arn);
        let plan = st.plans.iter().find(|p| p.region == region && p.arn == arn);
        rp.map(|r| r.tags.clone())
            .or_else(|| vault.map(|v| v.tags.clone()))
            .or_else(|| plan.map(|p| p.tags.clone()))
            .ok_or_else(|| BackupError::NotFound(format!("Resource {arn} not found in {region}")))
    }

    /// GetRecoveryPointRestoreMetadata's `RestoreMetadata` for an RDS recovery point.
    pub fn restore_metadata(&self, rp: &RecoveryPoint) -> BTreeMap<String, String> {
        let multi_az = super::arn_region(&rp.resource_arn)
            .and_then(|r| self.world(r))
            .is_some_and(|w| w.stack.database.standby.is_some());
        [
            ("DBInstanceIdentifier", rp.source_db_id.clone()),
            ("Engine", "postgres".to_string()),
            ("Port", "5432".to_string()),
            ("MultiAZ", multi_az.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// StartRestoreJob: restores the recovery point into the database its metadata's
    /// `DBInstanceIdentifier` names (default: the source's id) in the recovery point's
    /// region — one the stack declares, absent or being replaced. The database is
    /// unavailable until the job completes and then holds exactly the recovery point's data.
    pub fn start_restore_job(
        &self,
        region: &str,
        rp_arn: &str,
        metadata: &BTreeMap<String, String>,
        iam_role_arn: Option<String>,
    ) -> Result<RestoreJob, BackupError> {
        let rp = self
            .lock()
            .recovery_points
            .iter()
            .find(|r| r.region == region && r.arn == rp_arn)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Recovery point {rp_arn} not found in {region}")))?;
        let db_id = metadata
            .get("DBInstanceIdentifier")
            .cloned()
            .unwrap_or(rp.source_db_id.clone());
        let target = self
            .worlds
            .iter()
            .find(|w| w.stack.region == region && w.stack.database.primary.id == db_id)
            .cloned()
            .ok_or_else(|| {
                BackupError::InvalidParameter(format!(
                    "Metadata DBInstanceIdentifier {db_id:?}: the local stack restores only into a database its stack file declares in {region}"
                ))
            })?;
        let created_resource_arn = super::db_arn(region, &self.account, &db_id);
        let mut st = self.lock();
        if st
            .restore_jobs
            .iter()
            .any(|j| j.status == "RUNNING" && j.created_resource_arn == created_resource_arn)
        {
            return Err(BackupError::InvalidRequest(format!(
                "A restore into {db_id} is already running"
            )));
        }
        let lost = self.lost_writes(&rp);
        let writes = rp.data.len();
        let t = &self.timings;
        let took = t.restore_base.0 + t.restore_per_1000_writes.0 * writes as u32 / 1000;
        let now = now_unix_ms();
        target.db_restore(HashMap::clone(&rp.data), took);
        let job = RestoreJob {
            id: new_id(),
            region: region.to_string(),
            recovery_point_arn: rp.arn.clone(),
            recovery_point_created_ms: rp.created_ms,
            source_resource_arn: rp.resource_arn.clone(),
            created_ms: now,
            completion_ms: None,
            status: "RUNNING",
            status_message: None,
            created_resource_arn,
            iam_role_arn,
            due_ms: now + took.as_millis() as i64,
            writes,
            lost_write_ids: lost,
        };
        self.log.record_in(Some(region), restore_truth(&job, "started"));
        st.restore_jobs.push(job.clone());
        drop(st);
        self.notify();
        Ok(job)
    }

    /// The writes the recovery point's source database holds now that the recovery point
    /// lacks (or holds with another body), sorted.
    fn lost_writes(&self, rp: &RecoveryPoint) -> Vec<String> {
        let source = super::arn_region(&rp.resource_arn).and_then(|r| self.world(r));
        let had = source.and_then(|w| w.db_data()).unwrap_or_default();
        let mut lost: Vec<String> = had
            .iter()
            .filter(|(id, body)| rp.data.get(*id) != Some(*body))
            .map(|(id, _)| id.clone())
            .collect();
        lost.sort();
        lost
    }

    /// Restore jobs whose time has come complete.
    fn finish_restores(&self, now: i64) -> bool {
        let mut st = self.lock();
        let mut changed = false;
        for j in st
            .restore_jobs
            .iter_mut()
            .filter(|j| j.status == "RUNNING" && j.due_ms <= now)
        {
            j.status = "COMPLETED";
            j.completion_ms = Some(now);
            self.log.record_in(Some(&j.region), restore_truth(j, "completed"));
            changed = true;
        }
        changed
    }

    /// DescribeRestoreJob.
    pub fn restore_job(&self, region: &str, id: &str) -> Result<RestoreJob, BackupError> {
        self.lock()
            .restore_jobs
            .iter()
            .find(|j| j.region == region && j.id == id)
            .cloned()
            .ok_or_else(|| BackupError::NotFound(format!("Cannot find restore job {id}")))
    }

    /// Waits until restore job `id` is no longer running; its final state.
    pub async fn wait_restore(&self, region: &str, id: &str) -> Result<RestoreJob, BackupError> {
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let job = self.restore_job(region, id)?;
            if job.status != "RUNNING" {
                return Ok(job);
            }
            if rx.changed().await.is_err() {
                return Ok(job);
            }
        }
    }
}

/// The ground truth of a restore job at `phase` (`started` or `completed`).
fn restore_truth(j: &RestoreJob, phase: &str) -> Truth {
    Truth::RestoreJob {
        restore_job_id: j.id.clone(),
        phase: phase.to_string(),
        recovery_point_arn: j.recovery_point_arn.clone(),
        recovery_point_created_unix_ms: j.recovery_point_created_ms,
        source_resource_arn: j.source_resource_arn.clone(),
        created_resource_arn: j.created_resource_arn.clone(),
        created_unix_ms: j.created_ms,
        completed_unix_ms: j.completion_ms,
        data_age_ms: j.completion_ms.map(|c| c - j.recovery_point_created_ms),
        writes: j.writes,
        lost_write_ids: j.lost_write_ids.clone(),
    }
}
