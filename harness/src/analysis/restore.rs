//! The restore drill's numbers, from its journal events: which recovery point was
//! restored by which restore job, the RTO breakdown detection → restore job (AWS
//! Backup's own CreationDate and CompletionDate) → switch → serving, and the data age.
//!
//! **Data age** = the restore job's `CompletionDate` − the recovery point's
//! `CreationDate`: how old the data is at the moment it is available again, both times
//! AWS Backup's own. `data_age_at_serving_ms` uses `t_recover` (the client's view of
//! serving again) instead of the completion, or the switch's end when there was no
//! outage (a restore test without a disaster). The RPO stays DESIGN.md's (`t_inject − first
//! lost ack`, from the ack ledger read back through the app).

use serde::{Deserialize, Serialize};

use crate::journal::{Event, EventKind};

/// The restore drill as it happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreDrill {
    /// AWS Backup's restore job id.
    pub restore_job_id: String,
    /// The region of the Backup calls.
    pub region: String,
    /// The recovery point restored.
    pub recovery_point_arn: String,
    /// Its vault.
    pub vault: String,
    /// The recovery point's `CreationDate`, unix ms.
    pub recovery_point_creation_unix_ms: i64,
    /// When the probes saw the outage that started the restore, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_unix_ms: Option<i64>,
    /// When drdrill's StartRestoreJob was accepted, unix ms.
    pub started_unix_ms: i64,
    /// The job's final status (`COMPLETED`, `FAILED`, `ABORTED`), once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::status::RestoreJobStatus>,
    /// The job's `CreationDate`, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_creation_unix_ms: Option<i64>,
    /// The job's `CompletionDate`, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_completion_unix_ms: Option<i64>,
    /// The resource the job created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_resource_arn: Option<String>,
    /// The switch experiment's id, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_experiment_id: Option<String>,
    /// When the switch started, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_started_unix_ms: Option<i64>,
    /// When the switch ended, unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_finished_unix_ms: Option<i64>,
    /// The switch experiment's end state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_status: Option<crate::status::ExperimentStatus>,
    /// Restore job duration per AWS Backup: `CompletionDate − CreationDate`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_job_ms: Option<i64>,
    /// Data age: `CompletionDate − recovery point CreationDate`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_age_ms: Option<i64>,
    /// Data age when serving again: `t_recover − recovery point CreationDate`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_age_at_serving_ms: Option<i64>,
}

/// The restore drill of a journal (the first restore job started), with `t_recover`
/// (`recovered_unix_ms`) for the data age when serving; `None` when no restore job started.
pub fn restore_drill(events: &[Event], recovered_unix_ms: Option<i64>) -> Option<RestoreDrill> {
    let mut drill: Option<RestoreDrill> = None;
    for e in events {
        match (&e.kind, drill.as_mut()) {
            (
                EventKind::RestoreJobStarted {
                    restore_job_id,
                    region,
                    recovery_point_arn,
                    vault,
                    recovery_point_creation_unix_ms,
                    detected_unix_ms,
                    ..
                },
                None,
            ) => {
                drill = Some(RestoreDrill {
                    restore_job_id: restore_job_id.clone(),
                    region: region.clone(),
                    recovery_point_arn: recovery_point_arn.clone(),
                    vault: vault.clone(),
                    recovery_point_creation_unix_ms: *recovery_point_creation_unix_ms,
                    detected_unix_ms: *detected_unix_ms,
                    started_unix_ms: e.t_unix_ms,
                    ..RestoreDrill::default()
                })
            }
            (
                EventKind::RestoreJobFinished {
                    restore_job_id,
                    status,
                    creation_unix_ms,
                    completion_unix_ms,
                    created_resource_arn,
                    ..
                },
                Some(d),
            ) if *restore_job_id == d.restore_job_id => {
                d.status = Some(status.clone());
                d.job_creation_unix_ms = *creation_unix_ms;
                d.job_completion_unix_ms = *completion_unix_ms;
                d.created_resource_arn = created_resource_arn.clone();
            }
            (EventKind::SwitchStarted { experiment_id }, Some(d)) if d.switch_experiment_id.is_none() => {
                d.switch_experiment_id = Some(experiment_id.clone());
                d.switch_started_unix_ms = Some(e.t_unix_ms);
            }
            (
                EventKind::SwitchFinished {
                    experiment_id, status, ..
                },
                Some(d),
            ) if d.switch_experiment_id.as_ref() == Some(experiment_id) => {
                d.switch_finished_unix_ms = Some(e.t_unix_ms);
                d.switch_status = Some(status.clone());
            }
            _ => {}
        }
    }
    let mut d = drill?;
    d.restore_job_ms = d.job_completion_unix_ms.zip(d.job_creation_unix_ms).map(|(c, s)| c - s);
    d.data_age_ms = d.job_completion_unix_ms.map(|c| c - d.recovery_point_creation_unix_ms);
    d.data_age_at_serving_ms = recovered_unix_ms.map(|r| r - d.recovery_point_creation_unix_ms);
    Some(d)
}

/// The restore drill's part of the RTO breakdown, in ms after `t_inject`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreBreakdown {
    /// The probes saw the outage (detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_ms: Option<i64>,
    /// The restore job's `CreationDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_job_created_ms: Option<i64>,
    /// The restore job's `CompletionDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_job_completed_ms: Option<i64>,
    /// The switch experiment ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_finished_ms: Option<i64>,
}

impl RestoreDrill {
    /// With no outage (nothing to recover from: `t_recover` is undefined and the RTO 0),
    /// the restored data is served from the switch's end on (from the job's completion
    /// without a switch): `data_age_at_serving_ms` is dated from then.
    pub fn serving_without_outage(&mut self) {
        let serving = self.switch_finished_unix_ms.or(self.job_completion_unix_ms);
        self.data_age_at_serving_ms = serving.map(|s| s - self.recovery_point_creation_unix_ms);
    }

    /// The breakdown relative to `t_inject_unix_ms`.
    pub fn breakdown(&self, t_inject_unix_ms: i64) -> RestoreBreakdown {
        let rel = |t: Option<i64>| t.map(|t| t - t_inject_unix_ms);
        RestoreBreakdown {
            detected_ms: rel(self.detected_unix_ms),
            restore_job_created_ms: rel(self.job_creation_unix_ms),
            restore_job_completed_ms: rel(self.job_completion_unix_ms),
            switch_finished_ms: rel(self.switch_finished_unix_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64, kind: EventKind) -> Event {
        Event { t_unix_ms: t, kind }
    }

    /// The journal's restore events make the drill; data age and job duration are
    /// differences of AWS Backup's own times, and the breakdown is relative to t_inject.
    #[test]
    fn drill_from_events() {
        let events = vec![
            ev(
                1_500,
                EventKind::RestoreJobStarted {
                    restore_job_id: "job-1".into(),
                    region: "us-west-2".into(),
                    recovery_point_arn: "arn:rp".into(),
                    vault: "west-vault".into(),
                    recovery_point_creation_unix_ms: 400,
                    detected_unix_ms: Some(1_400),
                    inject: None,
                },
            ),
            // Another job's end is not this one's.
            ev(
                2_000,
                EventKind::RestoreJobFinished {
                    restore_job_id: "job-0".into(),
                    status: "FAILED".into(),
                    creation_unix_ms: Some(1),
                    completion_unix_ms: Some(2),
                    created_resource_arn: None,
                    status_message: None,
                },
            ),
            ev(
                6_000,
                EventKind::RestoreJobFinished {
                    restore_job_id: "job-1".into(),
                    status: "COMPLETED".into(),
                    creation_unix_ms: Some(1_510),
                    completion_unix_ms: Some(5_900),
                    created_resource_arn: Some("arn:db".into()),
                    status_message: None,
                },
            ),
            ev(
                6_100,
                EventKind::SwitchStarted {
                    experiment_id: "EXP1".into(),
                },
            ),
            ev(
                8_000,
                EventKind::SwitchFinished {
                    experiment_id: "EXP1".into(),
                    status: "completed".into(),
                    reason: None,
                },
            ),
        ];
        let d = restore_drill(&events, Some(8_400)).unwrap();
        assert_eq!(d.status, Some(crate::status::RestoreJobStatus::Completed));
        assert_eq!(d.restore_job_ms, Some(5_900 - 1_510));
        assert_eq!(d.data_age_ms, Some(5_900 - 400));
        assert_eq!(d.data_age_at_serving_ms, Some(8_400 - 400));
        assert_eq!(d.switch_finished_unix_ms, Some(8_000));
        let b = d.breakdown(1_000);
        assert_eq!(
            b,
            RestoreBreakdown {
                detected_ms: Some(400),
                restore_job_created_ms: Some(510),
                restore_job_completed_ms: Some(4_900),
                switch_finished_ms: Some(7_000),
            }
        );
        assert_eq!(restore_drill(&events[1..], None), None);
    }
}
