//! The run journal: one typed event per thing that happened, appended to `events.jsonl`
//! and flushed as it happens, so an interrupted run still leaves its evidence.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Current unix time in milliseconds.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now on this machine's clock, unix ms with sub-millisecond precision (for timing calls
/// whose round trip bounds a service's clock offset).
pub fn now_unix_ms_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// A restore test's `t_inject` as its `restore_job_started` event carries it (the
/// report's `analysis::InjectTime` is made from it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RestoreTestInject {
    /// `t_inject`, unix ms on this machine's clock.
    pub unix_ms: i64,
    /// Whether it is the job's `CreationDate` (else the StartRestoreJob call's middle).
    pub from_creation_date: bool,
    /// ± precision, ms.
    pub precision_ms: f64,
    /// ± bound of the clock offset, ms.
    pub clock_offset_ms: f64,
}

/// The phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Targets resolved and healthy; steady state over the baseline.
    Preflight,
    /// The experiment is started.
    Inject,
    /// The fault runs while traffic and observers record.
    Observe,
    /// The experiment has ended; waiting for the steady state.
    Recover,
    /// Every acknowledged write is read back.
    Verify,
    /// Numbers are computed and written.
    Report,
}

impl Phase {
    /// The phase's name as the journal writes it, e.g. `preflight`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Inject => "inject",
            Phase::Observe => "observe",
            Phase::Recover => "recover",
            Phase::Verify => "verify",
            Phase::Report => "report",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The run began.
    RunStarted {
        /// Run id.
        run_id: String,
        /// Scenario name.
        scenario: String,
    },
    /// A phase began.
    PhaseStarted {
        /// Which.
        phase: Phase,
    },
    /// Something worth noting (plain text).
    Note {
        /// The text.
        message: String,
    },
    /// The FIS template was created for this run.
    TemplateCreated {
        /// Template id.
        template_id: String,
    },
    /// StartExperiment was accepted.
    ExperimentStarted {
        /// Experiment id.
        experiment_id: String,
    },
    /// The experiment's state changed (as observed with GetExperiment).
    ExperimentState {
        /// New status.
        status: crate::status::ExperimentStatus,
        /// FIS's reason.
        reason: Option<String>,
    },
    /// An action's state changed, or FIS first reported its start or end time.
    ActionState {
        /// Action name.
        action: String,
        /// New status.
        status: crate::status::ActionStatus,
        /// The action's `startTime` per FIS, once reported: unix ms on this machine's
        /// clock (FIS's time corrected by the clock offset's midpoint, see
        /// [`crate::fault::ClockOffset`]). Absent in journals written before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_unix_ms: Option<i64>,
        /// The action's `endTime` per FIS, once reported, on the same clock.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end_unix_ms: Option<i64>,
    },
    /// A load balancer target's health changed (DescribeTargetHealth).
    TargetHealth {
        /// Instance id.
        target: String,
        /// Its zone, when known.
        zone: Option<String>,
        /// New state.
        state: crate::status::TargetHealthState,
        /// ELB reason code.
        reason: Option<String>,
    },
    /// The answer for the app's Route 53 name, as its resolver gives it without caching,
    /// was first seen (`previous` absent) or changed.
    DnsAnswerChanged {
        /// The name.
        name: String,
        /// The addresses answered before, sorted; absent for the first answer seen.
        previous: Option<Vec<String>>,
        /// The addresses answered now, sorted (empty: the name has no address now).
        answers: Vec<String>,
    },
    /// A Route 53 health check of the app's records was first seen (`previous` absent) or
    /// changed status (GetHealthCheckStatus).
    Route53HealthCheck {
        /// Health check id.
        health_check_id: String,
        /// `healthy` or `unhealthy`.
        status: crate::status::HealthCheckStatus,
        /// The status before; absent for the first one seen.
        previous: Option<crate::status::HealthCheckStatus>,
        /// The checkers' latest status report, e.g. `Failure: HTTP Status Code 502, Bad Gateway`.
        report: Option<String>,
    },
    /// One AWS call of an observer failed: throttled, answered with another AWS error,
    /// or not answered at all (a transport failure). Every such call is journaled.
    ObserverCallFailed {
        /// The observer: `fis`, `elbv2` or `route53`.
        observer: String,
        /// The AWS service (SigV4 signing name), e.g. `elasticloadbalancing`.
        service: String,
        /// The operation, e.g. `DescribeTargetHealth`.
        operation: String,
        /// `throttled`, `error` (another AWS error) or `transport` (no HTTP answer).
        failure: String,
        /// The HTTP status of the answer; absent for a transport failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// AWS's error code, e.g. `Throttling`, `AccessDenied`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        /// The error as the user is shown it.
        message: String,
        /// How long the observer waits before its next call, ms (backing off).
        retry_in_ms: u64,
    },
    /// An observer was blind: every call it made from `from_unix_ms` until `to_unix_ms`
    /// failed, so what it watches may have changed unseen. Journaled when a call succeeds
    /// again or the observer stops.
    ObserverBlind {
        /// The observer: `fis`, `elbv2` or `route53`.
        observer: String,
        /// The AWS service (SigV4 signing name).
        service: String,
        /// The operation.
        operation: String,
        /// When the first failed call of the streak was sent, unix ms.
        from_unix_ms: i64,
        /// When the observer could see again (the next successful answer) or stopped, unix ms.
        to_unix_ms: i64,
        /// Failed calls in the streak.
        failed_calls: u32,
        /// Of those, throttled.
        throttled_calls: u32,
        /// The last AWS error code of the streak, if any answer carried one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
    },
    /// The restore drill started an AWS Backup restore job (StartRestoreJob accepted).
    RestoreJobStarted {
        /// AWS Backup's restore job id.
        restore_job_id: String,
        /// The region of the Backup calls (the vault's).
        region: String,
        /// The recovery point restored.
        recovery_point_arn: String,
        /// The vault holding it.
        vault: String,
        /// The recovery point's `CreationDate` (when its data was taken), unix ms.
        recovery_point_creation_unix_ms: i64,
        /// When drdrill's probes saw the outage that started the restore, unix ms (absent
        /// with `start: at_inject`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_unix_ms: Option<i64>,
        /// In a restore test (no disaster template): `t_inject`, the job's `CreationDate`
        /// on this machine's clock with its precision and clock offset (so that a report
        /// rebuilt from the journal dates the drill as the live one did).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inject: Option<RestoreTestInject>,
    },
    /// The restore job ended (DescribeRestoreJob), with AWS Backup's own times.
    RestoreJobFinished {
        /// AWS Backup's restore job id.
        restore_job_id: String,
        /// `COMPLETED`, `FAILED` or `ABORTED`.
        status: crate::status::RestoreJobStatus,
        /// The job's `CreationDate`, unix ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        creation_unix_ms: Option<i64>,
        /// The job's `CompletionDate`, unix ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        completion_unix_ms: Option<i64>,
        /// The resource it created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_resource_arn: Option<String>,
        /// AWS Backup's status message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_message: Option<String>,
    },
    /// The switch experiment (pointing the app at the restored resource) started.
    SwitchStarted {
        /// Its FIS experiment id.
        experiment_id: String,
    },
    /// The switch experiment ended.
    SwitchFinished {
        /// Its FIS experiment id.
        experiment_id: String,
        /// FIS's end state (`completed`, `failed`, `stopped`).
        status: crate::status::ExperimentStatus,
        /// FIS's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The first failed probe after injection.
    FirstFailure,
    /// Steady state is back (start of the first stable window).
    Recovered,
    /// A guardrail stopped the run.
    GuardrailTripped {
        /// Success ratio seen.
        success_ratio: f64,
        /// For how long, ms.
        for_ms: u64,
    },
    /// A signal asked the run to stop.
    Signal {
        /// SIGINT or SIGTERM.
        name: String,
    },
    /// StopExperiment was called.
    StopRequested {
        /// Why.
        reason: String,
    },
    /// Verification finished.
    Verified {
        /// Writes acknowledged.
        acked: usize,
        /// Of those, not read back.
        lost: usize,
    },
    /// The run ended.
    RunFinished {
        /// pass, fail, aborted or error.
        verdict: crate::verdict::Verdict,
        /// The process exit code.
        exit_code: i32,
    },
}

impl EventKind {
    /// The kind's name as written in `events.jsonl` and `report.json` (`kind`), e.g.
    /// `target_health`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RunStarted { .. } => "run_started",
            EventKind::PhaseStarted { .. } => "phase_started",
            EventKind::Note { .. } => "note",
            EventKind::TemplateCreated { .. } => "template_created",
            EventKind::ExperimentStarted { .. } => "experiment_started",
            EventKind::ExperimentState { .. } => "experiment_state",
            EventKind::ActionState { .. } => "action_state",
            EventKind::TargetHealth { .. } => "target_health",
            EventKind::DnsAnswerChanged { .. } => "dns_answer_changed",
            EventKind::Route53HealthCheck { .. } => "route53_health_check",
            EventKind::ObserverCallFailed { .. } => "observer_call_failed",
            EventKind::ObserverBlind { .. } => "observer_blind",
            EventKind::RestoreJobStarted { .. } => "restore_job_started",
            EventKind::RestoreJobFinished { .. } => "restore_job_finished",
            EventKind::SwitchStarted { .. } => "switch_started",
            EventKind::SwitchFinished { .. } => "switch_finished",
            EventKind::FirstFailure => "first_failure",
            EventKind::Recovered => "recovered",
            EventKind::GuardrailTripped { .. } => "guardrail_tripped",
            EventKind::Signal { .. } => "signal",
            EventKind::StopRequested { .. } => "stop_requested",
            EventKind::Verified { .. } => "verified",
            EventKind::RunFinished { .. } => "run_finished",
        }
    }

    /// The event's fields without its `kind`, as a JSON object (`{}` for a kind
    /// without fields): the `detail` of a report event.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        fields.remove("kind");
        fields
    }
}

/// A timestamped event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time, ms.
    pub t_unix_ms: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The journal could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the journal {path}: {source}")]
pub struct JournalError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

struct Inner {
    out: BufWriter<File>,
    events: Vec<Event>,
    failed: Option<std::io::Error>,
}

/// Appends events to `events.jsonl` and keeps them for the report. Cheap to clone.
#[derive(Clone)]
pub struct Journal {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

impl Journal {
    /// Creates `dir/events.jsonl`.
    pub fn create(dir: &Path) -> Result<Journal, JournalError> {
        let path = dir.join("events.jsonl");
        let file = File::create(&path).map_err(|source| JournalError {
            path: path.clone(),
            source,
        })?;
        Ok(Journal {
            path,
            inner: Arc::new(Mutex::new(Inner {
                out: BufWriter::new(file),
                events: Vec::new(),
                failed: None,
            })),
        })
    }

    /// Records an event now, writing and flushing it at once.
    pub fn record(&self, kind: EventKind) -> Event {
        self.record_at(now_unix_ms(), kind)
    }

    /// Records an event with a given timestamp.
    pub fn record_at(&self, t_unix_ms: i64, kind: EventKind) -> Event {
        let ev = Event { t_unix_ms, kind };
        tracing::debug!(?ev, "journal");
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let line = serde_json::to_string(&ev).unwrap_or_default();
        let res = writeln!(inner.out, "{line}").and_then(|_| inner.out.flush());
        if let Err(e) = res {
            if inner.failed.is_none() {
                inner.failed = Some(e);
            }
        }
        inner.events.push(ev.clone());
        ev
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).events.clone()
    }

    /// The first write error, if any (the in-memory events are still complete).
    pub fn check(&self) -> Result<(), JournalError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match inner.failed.take() {
            Some(source) => Err(JournalError {
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    /// Reads a journal back (for `drdrill report`), skipping a torn last line.
    pub fn read(path: &Path) -> Result<Vec<Event>, JournalError> {
        let text = std::fs::read_to_string(path).map_err(|source| JournalError {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event is on disk as soon as it is recorded, and reads back equal.
    #[test]
    fn events_are_flushed_as_they_happen() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path()).unwrap();
        j.record(EventKind::PhaseStarted {
            phase: Phase::Preflight,
        });
        let on_disk = Journal::read(&dir.path().join("events.jsonl")).unwrap();
        assert_eq!(on_disk.len(), 1);
        j.record(EventKind::Signal { name: "SIGINT".into() });
        let on_disk = Journal::read(&dir.path().join("events.jsonl")).unwrap();
        assert_eq!(on_disk, j.events());
    }

    /// Every kind's name is the `kind` serde writes for it.
    #[test]
    fn a_kind_s_name_is_its_serde_tag() {
        let kinds = [
            EventKind::FirstFailure,
            EventKind::Recovered,
            EventKind::Route53HealthCheck {
                health_check_id: "hc".into(),
                status: "healthy".into(),
                previous: None,
                report: None,
            },
            EventKind::RunFinished {
                verdict: crate::verdict::Verdict::Pass,
                exit_code: 0,
            },
        ];
        for k in kinds {
            assert_eq!(serde_json::to_value(&k).unwrap()["kind"], k.name());
            assert!(!k.fields().contains_key("kind"));
        }
    }

    /// An `action_state` line written before actions had start and end times still reads,
    /// and one with them round-trips.
    #[test]
    fn action_state_times_are_optional() {
        let old = r#"{"t_unix_ms":5,"kind":"action_state","action":"Stop","status":"running"}"#;
        let ev: Event = serde_json::from_str(old).unwrap();
        assert_eq!(
            ev.kind,
            EventKind::ActionState {
                action: "Stop".into(),
                status: "running".into(),
                start_unix_ms: None,
                end_unix_ms: None,
            }
        );
        assert_eq!(serde_json::to_string(&ev).unwrap(), old);
        let new = Event {
            t_unix_ms: 9,
            kind: EventKind::ActionState {
                action: "Stop".into(),
                status: "completed".into(),
                start_unix_ms: Some(3),
                end_unix_ms: Some(8),
            },
        };
        let back: Event = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }
}
