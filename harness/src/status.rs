//! The states AWS reports, as types: FIS experiment and action statuses, ELB target
//! health states, Route 53 health check statuses, AWS Backup restore job statuses. Each is parsed once, where the SDK's
//! answer is read (`observe`, `run::preflight`), and carried typed through the journal,
//! the analysis and the report. In JSON each is the string AWS uses; a state AWS adds
//! later is kept verbatim ([`ExperimentStatus::Other`], …) rather than refused.

use std::fmt;

/// Defines a status enum whose variants are AWS's strings, with a catch-all `Other`.
macro_rules! aws_status {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A status this version does not know, as AWS sent it.
            Other(String),
        }

        impl $name {
            /// AWS's name for it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self::from(text.as_str())
            }
        }

        impl From<$name> for String {
            fn from(status: $name) -> String {
                status.as_str().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

aws_status! {
    /// A FIS experiment's status (`ExperimentState.status`, FIS API reference:
    /// <https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentState.html>).
    ExperimentStatus {
        /// Accepted, not yet started.
        Pending = "pending",
        /// Starting: targets are being resolved.
        Initiating = "initiating",
        /// Running its actions.
        Running = "running",
        /// Every action finished.
        Completed = "completed",
        /// StopExperiment was called or a stop condition fired; actions are being stopped.
        Stopping = "stopping",
        /// Stopped.
        Stopped = "stopped",
        /// An action failed.
        Failed = "failed",
        /// Cancelled before it ran (e.g. a stop condition in alarm at start).
        Cancelled = "cancelled",
    }
}

impl Default for ExperimentStatus {
    /// `pending`: what StartExperiment answers.
    fn default() -> Self {
        Self::Pending
    }
}

impl ExperimentStatus {
    /// The status in a FIS experiment's state as the SDK returned it (`Experiment` or
    /// `ExperimentSummary`; an answer without one is an empty unknown status).
    pub fn of_fis(state: Option<&aws_sdk_fis::types::ExperimentState>) -> Self {
        state
            .and_then(|s| s.status())
            .map_or_else(|| Self::Other(String::new()), |s| s.as_str().into())
    }

    /// Whether the experiment can no longer act: `completed`, `stopped`, `failed` or
    /// `cancelled` (an experiment in any other status, unknown ones included, may still act).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Stopped | Self::Failed | Self::Cancelled)
    }
}

aws_status! {
    /// A FIS action's status (`ExperimentActionState.status`, FIS API reference:
    /// <https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentActionState.html>).
    ActionStatus {
        /// Waiting for its start.
        Pending = "pending",
        /// Starting.
        Initiating = "initiating",
        /// Running.
        Running = "running",
        /// Finished.
        Completed = "completed",
        /// Not run: the experiment ended first.
        Cancelled = "cancelled",
        /// Being stopped.
        Stopping = "stopping",
        /// Stopped.
        Stopped = "stopped",
        /// Failed.
        Failed = "failed",
        /// Skipped: its targets resolved to nothing.
        Skipped = "skipped",
    }
}

impl Default for ActionStatus {
    /// `pending`: an action not yet started.
    fn default() -> Self {
        Self::Pending
    }
}

aws_status! {
    /// An ELB target's health state (`TargetHealth.State`, ELB API reference:
    /// <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html>).
    TargetHealthState {
        /// Registered; the first health checks are running.
        Initial = "initial",
        /// Passing its health checks.
        Healthy = "healthy",
        /// Failing its health checks.
        Unhealthy = "unhealthy",
        /// Being deregistered, still failing its checks.
        UnhealthyDraining = "unhealthy.draining",
        /// Not in use: its instance is stopped or terminated, or its zone is not enabled.
        Unused = "unused",
        /// Being deregistered.
        Draining = "draining",
        /// Health checks are disabled.
        Unavailable = "unavailable",
    }
}

impl TargetHealthState {
    /// The state in one target's DescribeTargetHealth description as the SDK returned
    /// it; `None` when the answer has none.
    pub fn of_elb(description: &aws_sdk_elasticloadbalancingv2::types::TargetHealthDescription) -> Option<Self> {
        description
            .target_health()
            .and_then(|h| h.state())
            .map(|s| s.as_str().into())
    }

    /// Whether a target in this state gets no new requests: `unhealthy` (failed its
    /// health checks), `unused` (its instance is stopped or terminated: ELB reports
    /// `Target.InvalidState` instead of running health checks) or `draining` (being
    /// deregistered). These are the states in which the load balancer has *detected*
    /// the loss.
    pub fn is_out_of_service(&self) -> bool {
        matches!(self, Self::Unhealthy | Self::Unused | Self::Draining)
    }
}

aws_status! {
    /// A Route 53 health check's status as drdrill derives it from the checkers' reports
    /// (`GetHealthCheckStatus`).
    HealthCheckStatus {
        /// Enough checkers report success.
        Healthy = "healthy",
        /// Too few do.
        Unhealthy = "unhealthy",
    }
}

aws_status! {
    /// An AWS Backup restore job's status (`DescribeRestoreJob` `Status`, AWS Backup API
    /// reference: <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DescribeRestoreJob.html>).
    RestoreJobStatus {
        /// Accepted, not yet running.
        Pending = "PENDING",
        /// Restoring.
        Running = "RUNNING",
        /// The restored resource exists.
        Completed = "COMPLETED",
        /// Aborted.
        Aborted = "ABORTED",
        /// Failed.
        Failed = "FAILED",
    }
}

impl RestoreJobStatus {
    /// Whether the job has ended: `COMPLETED`, `ABORTED` or `FAILED` (a status AWS adds
    /// later counts as still going, so drdrill keeps waiting for it, bounded by
    /// `fault.restore.timeout`).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Aborted | Self::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status reads from and writes to AWS's string, and one AWS adds later is
    /// kept as sent.
    #[test]
    fn statuses_round_trip_as_aws_strings() {
        for text in [
            "pending",
            "initiating",
            "running",
            "completed",
            "stopping",
            "stopped",
            "failed",
            "cancelled",
        ] {
            let status: ExperimentStatus = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert!(!matches!(status, ExperimentStatus::Other(_)), "{text}");
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!(text));
        }
        let later = ExperimentStatus::from("paused");
        assert_eq!(later, ExperimentStatus::Other("paused".into()));
        assert_eq!(later.as_str(), "paused");
        assert!(!later.is_final(), "an unknown status may still act");
        assert_eq!(
            TargetHealthState::from("unhealthy.draining"),
            TargetHealthState::UnhealthyDraining
        );
        assert_eq!(ActionStatus::from("skipped"), ActionStatus::Skipped);
        // AWS Backup's restore job statuses are upper case; only three are final.
        for (text, last) in [
            ("PENDING", false),
            ("RUNNING", false),
            ("COMPLETED", true),
            ("ABORTED", true),
            ("FAILED", true),
        ] {
            let status: RestoreJobStatus = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert!(!matches!(status, RestoreJobStatus::Other(_)), "{text}");
            assert_eq!(status.is_final(), last, "{text}");
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!(text));
        }
        assert!(!RestoreJobStatus::from("completed").is_final(), "AWS's case is kept");
    }

    /// The final statuses are FIS's four end states; detection counts ELB's three
    /// out-of-service states.
    #[test]
    fn final_and_out_of_service_states() {
        let finals: Vec<&str> = [
            "pending",
            "initiating",
            "running",
            "completed",
            "stopping",
            "stopped",
            "failed",
            "cancelled",
        ]
        .into_iter()
        .filter(|s| ExperimentStatus::from(*s).is_final())
        .collect();
        assert_eq!(finals, ["completed", "stopped", "failed", "cancelled"]);
        let out: Vec<&str> = [
            "initial",
            "healthy",
            "unhealthy",
            "unhealthy.draining",
            "unused",
            "draining",
            "unavailable",
        ]
        .into_iter()
        .filter(|s| TargetHealthState::from(*s).is_out_of_service())
        .collect();
        assert_eq!(out, ["unhealthy", "unused", "draining"]);
    }
}
