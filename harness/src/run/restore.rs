//! The restore step of a restore drill (`fault.restore`), run beside the observe phase:
//! waits for detection (the probes below the steady state) unless it starts at inject,
//! picks the recovery point, starts the AWS Backup restore job, polls DescribeRestoreJob
//! until it ends, then runs the switch experiment and waits until it ends. Every step is
//! a journal event; the report's restore section and breakdown are made from them. A
//! restore test (no disaster) starts the job itself (`super::restore_test`) and hands
//! the rest to [`spawn_rest`].
//!
//! A restore job cannot be cancelled on AWS (AWS Backup has no StopRestoreJob): a run
//! that ends early leaves it running. Cleanup stops the switch experiment if it runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{cadence, Connected, Record, Stop};
use crate::aws::backup::{self, RecoveryPoint, StartedJob};
use crate::aws::Clients;
use crate::fault;
use crate::journal::{now_unix_ms, EventKind, Journal, RestoreTestInject};
use crate::scenario::restore::{fill_switch, Restore, RestoreStart};
use crate::status::{ExperimentStatus, RestoreJobStatus};
use crate::traffic::LiveStats;
use crate::verdict::Verdict;

/// The switch experiment while it runs: the FIS client of its region and its id.
pub(super) type SwitchSlot = Arc<Mutex<Option<(aws_sdk_fis::Client, String)>>>;

/// The restore step, running; its task ends with when the restore and switch ended
/// (unix ms).
pub(super) struct RestoreRun {
    handle: tokio::task::JoinHandle<Result<i64, Failure>>,
    /// The switch experiment, for cleanup to stop while it runs.
    pub(super) switch: SwitchSlot,
}

impl RestoreRun {
    /// Whether the step has ended (done, failed or timed out).
    pub(super) fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// Why the restore step failed: an error, or (`aborted`) its timeout.
#[derive(Debug)]
pub(super) struct Failure {
    aborted: bool,
    pub(super) reason: String,
}

pub(super) fn failed(reason: impl Into<String>) -> Failure {
    Failure {
        aborted: false,
        reason: reason.into(),
    }
}

impl Failure {
    /// The run's stop for this failure: an error, or aborted on the timeout.
    pub(super) fn into_stop(self) -> Stop {
        Stop {
            verdict: if self.aborted { Verdict::Aborted } else { Verdict::Error },
            reason: format!("restore: {}", self.reason),
        }
    }
}

/// What the task needs, owned.
pub(super) struct Step {
    pub(super) spec: Restore,
    start: RestoreStart,
    switch_template: Option<serde_json::Value>,
    clients: Clients,
    pub(super) region: String,
    pub(super) journal: Journal,
    live: LiveStats,
    threshold: f64,
    poll: Duration,
    run_id: String,
    scenario: String,
    switch: SwitchSlot,
}

impl Step {
    /// The AWS Backup client of the restore's region.
    pub(super) fn backup_client(&self) -> aws_sdk_backup::Client {
        self.clients.backup_in(&self.region)
    }
}

/// The restore step of the scenario's `fault.restore`, ready to run (`None` without one).
pub(super) fn step(rec: &Record, connected: &Connected, live: &LiveStats) -> Option<Step> {
    let spec = rec.loaded.scenario.fault.restore.clone()?;
    let start = rec.loaded.scenario.fault.restore_start()?;
    let clients = connected.clients.clone();
    let region = spec
        .region
        .clone()
        .or_else(|| clients.sdk.region().map(|r| r.to_string()))
        .unwrap_or_default();
    Some(Step {
        spec,
        start,
        switch_template: rec.loaded.switch.clone(),
        clients,
        region,
        journal: rec.journal.clone(),
        live: live.clone(),
        threshold: rec.loaded.scenario.steady_state.success_ratio,
        poll: cadence(rec).fis,
        run_id: rec.run_id.clone(),
        scenario: rec.loaded.scenario.name.clone(),
        switch: SwitchSlot::default(),
    })
}

/// Starts the restore step when the scenario has `fault.restore` (right after inject):
/// detection (unless it starts at inject), the restore job, the switch, all within
/// `restore.timeout`.
pub(super) fn spawn(rec: &Record, connected: &Connected, live: &LiveStats) -> Option<RestoreRun> {
    let step = step(rec, connected, live)?;
    let switch = step.switch.clone();
    let handle = tokio::spawn(async move {
        let timeout = step.spec.timeout();
        let detected = match step.start {
            RestoreStart::AtInject => None,
            RestoreStart::OnDetection => Some(detect(&step).await),
        };
        let run = async {
            let (job, point) = start_job(&step).await?;
            step.journal
                .record(started_event(&step, &point, &job.id, detected, None));
            wait_and_switch(&step, &job.id).await
        };
        within(timeout, run).await
    });
    Some(RestoreRun { handle, switch })
}

/// Runs the rest of a restore step whose job `job` already started (a restore test):
/// waits for the job, then the switch, within what is left of `restore.timeout`.
pub(super) fn spawn_rest(step: Step, job: String, left: Duration) -> RestoreRun {
    let switch = step.switch.clone();
    let handle = tokio::spawn(async move { within(left, wait_and_switch(&step, &job)).await });
    RestoreRun { handle, switch }
}

/// `run`, or the timeout's `aborted` failure once `timeout` passed.
async fn within(
    timeout: Duration,
    run: impl std::future::Future<Output = Result<i64, Failure>>,
) -> Result<i64, Failure> {
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(Failure {
            aborted: true,
            reason: format!(
                "the restore and switch did not finish within fault.restore.timeout ({}); the restore job cannot be cancelled on AWS and may still run",
                humantime::format_duration(timeout)
            ),
        }),
    }
}

/// Waits until the settled probes of the last half second are below the steady state;
/// returns when that was seen (unix ms).
async fn detect(step: &Step) -> i64 {
    loop {
        let settled = step.live.settled_until_unix_ms();
        let w = step.live.window(settled - 500, settled);
        if w.completed > 0 && (w.ok as f64 / w.completed as f64) < step.threshold {
            return now_unix_ms();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Picks the recovery point and starts the restore job (StartRestoreJob, timed); the
/// caller journals it.
pub(super) async fn start_job(step: &Step) -> Result<(StartedJob, RecoveryPoint), Failure> {
    let client = step.backup_client();
    let point = backup::choose(&client, &step.spec, &step.region)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let metadata = backup::restore_metadata(&client, &point, &step.spec.metadata)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let job = backup::start(&client, &point, metadata, &step.spec.iam_role_arn)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok((job, point))
}

/// Waits for the restore job, then runs the switch (if any); when both ended (unix ms).
async fn wait_and_switch(step: &Step, job: &str) -> Result<i64, Failure> {
    let client = step.backup_client();
    let created = wait_job(step, &client, job).await?;
    if let Some(template) = &step.switch_template {
        run_switch(step, &fill_switch(template, &created)).await?;
    }
    Ok(now_unix_ms())
}

/// The journal's `restore_job_started`; `inject` only in a restore test.
pub(super) fn started_event(
    step: &Step,
    point: &RecoveryPoint,
    job: &str,
    detected: Option<i64>,
    inject: Option<RestoreTestInject>,
) -> EventKind {
    EventKind::RestoreJobStarted {
        restore_job_id: job.to_owned(),
        region: step.region.clone(),
        recovery_point_arn: point.arn.clone(),
        vault: point.vault.clone(),
        recovery_point_creation_unix_ms: point.creation_unix_ms,
        detected_unix_ms: detected,
        inject,
    }
}

/// Polls DescribeRestoreJob until the job ends; the created resource's ARN once COMPLETED.
async fn wait_job(step: &Step, client: &aws_sdk_backup::Client, job: &str) -> Result<String, Failure> {
    loop {
        let state = backup::describe(client, job).await.map_err(|e| failed(e.to_string()))?;
        if state.status.is_final() {
            step.journal.record(EventKind::RestoreJobFinished {
                restore_job_id: job.to_owned(),
                status: state.status.clone(),
                creation_unix_ms: state.creation_unix_ms,
                completion_unix_ms: state.completion_unix_ms,
                created_resource_arn: state.created_resource_arn.clone(),
                status_message: state.status_message.clone(),
            });
            if state.status != RestoreJobStatus::Completed {
                return Err(failed(format!(
                    "restore job {job} ended {}: {}",
                    state.status,
                    state.status_message.unwrap_or_default()
                )));
            }
            return state
                .created_resource_arn
                .ok_or_else(|| failed(format!("restore job {job} COMPLETED without a CreatedResourceArn")));
        }
        tokio::time::sleep(step.poll).await;
    }
}

/// Creates and starts the switch experiment in the restore's region and waits until it ends.
async fn run_switch(step: &Step, template: &serde_json::Value) -> Result<(), Failure> {
    let mut clients = step.clients.clone();
    clients.fis = clients.fis_in(&step.region);
    let run = format!("{}-switch", step.run_id);
    let template_id = fault::create_template(&clients, template, &run)
        .await
        .map_err(|e| failed(format!("switch: {e}")))?;
    let started = fault::start(&clients, &template_id, &run, &step.scenario)
        .await
        .map_err(|e| failed(format!("switch: {e}")))?;
    let id = started.experiment_id;
    *step.switch.lock().unwrap_or_else(|p| p.into_inner()) = Some((clients.fis.clone(), id.clone()));
    step.journal.record(EventKind::SwitchStarted {
        experiment_id: id.clone(),
    });
    let (status, reason) = loop {
        let out = clients
            .fis
            .get_experiment()
            .id(&id)
            .send()
            .await
            .map_err(|e| failed(format!("switch: GetExperiment: {}", crate::aws::describe_error(&e))))?;
        let state = out.experiment().and_then(|e| e.state());
        let status = ExperimentStatus::of_fis(state);
        if status.is_final() {
            break (status, state.and_then(|s| s.reason()).map(str::to_owned));
        }
        tokio::time::sleep(step.poll).await;
    };
    *step.switch.lock().unwrap_or_else(|p| p.into_inner()) = None;
    fault::delete_template(&clients, &template_id).await;
    step.journal.record(EventKind::SwitchFinished {
        experiment_id: id.clone(),
        status: status.clone(),
        reason: reason.clone(),
    });
    if status != ExperimentStatus::Completed {
        return Err(failed(format!(
            "the switch experiment {id} ended {status}: {}",
            reason.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Waits for the restore step (after the observe phase) and turns its failure into the
/// run's stop: an error, or aborted on its timeout. When the restore and switch ended
/// (unix ms); `None` when the run has no restore step.
pub(super) async fn finish(rec: &mut Record) -> Result<Option<i64>, Stop> {
    let Some(run) = rec.held.restore.as_mut() else {
        return Ok(None);
    };
    rec.progress.line("waiting for the restore job and the switch");
    let joined = tokio::select! {
        j = &mut run.handle => j,
        _ = rec.interrupt.cancelled() => return rec.interrupted().map(|()| None),
    };
    rec.held.restore = None;
    match joined {
        Ok(Ok(end)) => {
            rec.progress.line("restore job completed and switch done");
            Ok(Some(end))
        }
        Ok(Err(f)) => Err(f.into_stop()),
        Err(e) => Err(super::error(format!("restore: the restore task failed: {e}"))),
    }
}

/// On every way out: stops the restore task and, if it runs, the switch experiment.
pub(super) async fn cleanup(rec: &mut Record) {
    let Some(run) = rec.held.restore.take() else {
        return;
    };
    run.handle.abort();
    let running = run.switch.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let (Some((fis, id)), Some(clients)) = (running, rec.clients.as_ref()) {
        let mut c = clients.clone();
        c.fis = fis;
        rec.journal.record(EventKind::StopRequested {
            reason: format!("stopping the switch experiment {id}"),
        });
        let message = match fault::stop_and_wait(&c, &id, fault::STOP_TIMEOUT, &cadence(rec)).await {
            Ok(status) => format!("the switch experiment {id} ended {status}"),
            Err(e) => format!("could not stop the switch experiment {id}: {e}"),
        };
        rec.journal.record(EventKind::Note { message });
    }
    rec.journal.record(EventKind::Note {
        message: "a restore job cannot be cancelled on AWS (no StopRestoreJob): one started by this run keeps running"
            .into(),
    });
}
