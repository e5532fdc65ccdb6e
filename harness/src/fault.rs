//! The fault: turning a template in AWS's JSON into the FIS calls that create it and
//! start, stop and tag an experiment for one run.

use std::collections::HashMap;

use aws_sdk_fis::types::{
    CreateExperimentTemplateActionInput, CreateExperimentTemplateStopConditionInput,
    CreateExperimentTemplateTargetInput, ExperimentTemplateTargetInputFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::{describe_error, Clients};
use crate::journal::now_unix_ms_f64;
use crate::status::ExperimentStatus;

/// The tag that marks every template and experiment drdrill creates.
pub const RUN_TAG: &str = "drdrill:run-id";

/// How long stopping an experiment may take before drdrill gives up and says so.
pub const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How long [`stop_and_wait`] keeps trying once the credentials are refused and cannot be
/// renewed (time for the user to refresh them; each retry resolves the chain again).
pub const UNRENEWABLE_STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Longest time one FIS call may take while stopping (a black-holed endpoint must not
/// hang the stop past its deadline).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// An FIS call failed.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {message}")]
pub struct FaultError {
    /// The call.
    pub call: &'static str,
    /// Why.
    pub message: String,
}

fn err(call: &'static str, message: impl Into<String>) -> FaultError {
    FaultError {
        call,
        message: message.into(),
    }
}

fn strs(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
}

fn str_map(v: Option<&Value>) -> Option<HashMap<String, String>> {
    v.and_then(Value::as_object).map(|m| {
        m.iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect()
    })
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Creates the template (tagged with the run id) and returns its id.
pub async fn create_template(clients: &Clients, template: &Value, run_id: &str) -> Result<String, FaultError> {
    let targets = targets_input(template)?;
    let actions = actions_input(template)?;
    let stop_conditions = stop_conditions(template)?;
    let mut tags = str_map(template.get("tags")).unwrap_or_default();
    tags.insert(RUN_TAG.to_string(), run_id.to_string());
    let out = clients
        .fis
        .create_experiment_template()
        .client_token(format!("{run_id}-template"))
        .description(s(template, "description").unwrap_or("drdrill fault"))
        .set_stop_conditions(Some(stop_conditions))
        .set_targets(Some(targets))
        .set_actions(Some(actions))
        .role_arn(s(template, "roleArn").unwrap_or_default())
        .set_tags(Some(tags))
        .set_log_configuration(None)
        .send()
        .await
        .map_err(|e| err(CREATE, describe_error(&e)))?;
    out.experiment_template()
        .and_then(|t| t.id())
        .map(str::to_string)
        .ok_or_else(|| err(CREATE, "the answer has no template id"))
}

/// The call [`create_template`] makes, as its errors name it.
const CREATE: &str = "CreateExperimentTemplate";

/// The template's targets as CreateExperimentTemplate takes them.
fn targets_input(template: &Value) -> Result<HashMap<String, CreateExperimentTemplateTargetInput>, FaultError> {
    let mut targets = HashMap::new();
    for (name, t) in template.get("targets").and_then(Value::as_object).into_iter().flatten() {
        let filters = t.get("filters").and_then(Value::as_array).map(|a| {
            a.iter()
                .map(|f| {
                    ExperimentTemplateTargetInputFilter::builder()
                        .set_path(s(f, "path").map(str::to_string))
                        .set_values(strs(f.get("values")))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
        });
        let filters = filters
            .transpose()
            .map_err(|e| err(CREATE, format!("target {name}: {e}")))?;
        let target = CreateExperimentTemplateTargetInput::builder()
            .set_resource_type(s(t, "resourceType").map(str::to_string))
            .set_resource_arns(strs(t.get("resourceArns")))
            .set_resource_tags(str_map(t.get("resourceTags")))
            .set_filters(filters)
            .set_selection_mode(s(t, "selectionMode").map(str::to_string))
            .set_parameters(str_map(t.get("parameters")))
            .build()
            .map_err(|e| err(CREATE, format!("target {name}: {e}")))?;
        targets.insert(name.clone(), target);
    }
    Ok(targets)
}

/// The template's actions as CreateExperimentTemplate takes them.
fn actions_input(template: &Value) -> Result<HashMap<String, CreateExperimentTemplateActionInput>, FaultError> {
    let mut actions = HashMap::new();
    for (name, a) in template.get("actions").and_then(Value::as_object).into_iter().flatten() {
        let action = CreateExperimentTemplateActionInput::builder()
            .set_action_id(s(a, "actionId").map(str::to_string))
            .set_description(s(a, "description").map(str::to_string))
            .set_parameters(str_map(a.get("parameters")))
            .set_targets(str_map(a.get("targets")))
            .set_start_after(strs(a.get("startAfter")))
            .build()
            .map_err(|e| err(CREATE, format!("action {name}: {e}")))?;
        actions.insert(name.clone(), action);
    }
    Ok(actions)
}

/// The template's stop conditions, or FIS's `none` when it gives none.
fn stop_conditions(template: &Value) -> Result<Vec<CreateExperimentTemplateStopConditionInput>, FaultError> {
    Ok(template
        .get("stopConditions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    CreateExperimentTemplateStopConditionInput::builder()
                        .set_source(s(c, "source").map(str::to_string))
                        .set_value(s(c, "value").map(str::to_string))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| err(CREATE, format!("stopConditions: {e}")))?
        .unwrap_or_else(|| {
            CreateExperimentTemplateStopConditionInput::builder()
                .source("none")
                .build()
                .map(|c| vec![c])
                .unwrap_or_default()
        }))
}

/// The resolution of FIS's timestamps, ms: restJson1 sends them as epoch seconds with
/// millisecond fractions (e.g. `1616432464.025`).
pub const FIS_TIME_RESOLUTION_MS: f64 = 1.0;

/// An FIS timestamp as unix ms on FIS's clock (rounded to the millisecond FIS sends).
pub fn fis_unix_ms(t: &aws_sdk_fis::primitives::DateTime) -> i64 {
    (t.as_secs_f64() * 1000.0).round() as i64
}

/// What bounds [`ClockOffset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetBasis {
    /// The experiment's `creationTime` lies inside the StartExperiment call.
    CreationTime,
    /// StartExperiment's answer had no `creationTime`: the clocks are assumed to agree,
    /// within the call's round trip. This is an assumption, not a measurement.
    RoundTrip,
}

/// The offset between FIS's clock and this machine's (FIS − local), from FIS's own
/// timestamps.
///
/// FIS stamps the experiment's `creationTime` while it handles StartExperiment, so on
/// this machine's clock that instant lies between the moment the request was sent
/// (`t_send`) and the moment the answer arrived (`t_recv`):
/// `t_send ≤ creationTime − offset ≤ t_recv`, i.e.
/// `offset ∈ [creationTime − t_recv, creationTime − t_send]` (widened by the 1 ms
/// resolution of `creationTime`; SDK retries only widen the call, so the bound holds).
/// FIS times are corrected by the interval's midpoint, [`ClockOffset::offset_ms`], and
/// are then known to within its half-width, [`ClockOffset::bound_ms`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockOffset {
    /// FIS's clock minus this machine's, ms: the middle of the interval. An FIS time minus
    /// this is the same instant on this machine's clock.
    pub offset_ms: f64,
    /// ± half-width of the interval, ms: how far the true offset may be from `offset_ms`.
    pub bound_ms: f64,
    /// What bounds it.
    pub basis: OffsetBasis,
}

impl ClockOffset {
    /// The offset bounded by one call sent at `sent_unix_ms` and answered at
    /// `received_unix_ms` (this machine's clock) whose answer was stamped
    /// `creation_unix_ms` by FIS (FIS's clock, 1 ms resolution); without a stamp, the
    /// clocks are assumed to agree within the round trip.
    pub fn from_call(sent_unix_ms: f64, received_unix_ms: f64, creation_unix_ms: Option<i64>) -> ClockOffset {
        let round_trip = (received_unix_ms - sent_unix_ms).max(0.0);
        match creation_unix_ms {
            Some(c) => {
                let c = c as f64;
                let (low, high) = (c - received_unix_ms, c + FIS_TIME_RESOLUTION_MS - sent_unix_ms);
                ClockOffset {
                    offset_ms: (low + high) / 2.0,
                    bound_ms: (high - low) / 2.0,
                    basis: OffsetBasis::CreationTime,
                }
            }
            None => ClockOffset {
                offset_ms: 0.0,
                bound_ms: round_trip,
                basis: OffsetBasis::RoundTrip,
            },
        }
    }

    /// An FIS time (unix ms on FIS's clock) on this machine's clock.
    pub fn to_local(&self, fis_unix_ms: i64) -> i64 {
        (fis_unix_ms as f64 - self.offset_ms).round() as i64
    }
}

/// A started experiment, and the StartExperiment call's timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Experiment id.
    pub experiment_id: String,
    /// When the request was sent, unix ms on this machine's clock.
    pub sent_unix_ms: f64,
    /// When the answer arrived, unix ms on this machine's clock.
    pub received_unix_ms: f64,
    /// The experiment's `creationTime` in the answer, unix ms on FIS's clock.
    pub creation_unix_ms: Option<i64>,
}

impl Started {
    /// The clock offset this call bounds (see [`ClockOffset`]).
    pub fn clock_offset(&self) -> ClockOffset {
        ClockOffset::from_call(self.sent_unix_ms, self.received_unix_ms, self.creation_unix_ms)
    }
}

/// Starts an experiment from the template, tagged with the run id and scenario, timing
/// the call on this machine's clock.
pub async fn start(clients: &Clients, template_id: &str, run_id: &str, scenario: &str) -> Result<Started, FaultError> {
    const CALL: &str = "StartExperiment";
    let sent_unix_ms = now_unix_ms_f64();
    let out = clients
        .fis
        .start_experiment()
        .client_token(format!("{run_id}-experiment"))
        .experiment_template_id(template_id)
        .tags(RUN_TAG, run_id)
        .tags("drdrill:scenario", scenario)
        .send()
        .await
        .map_err(|e| err(CALL, describe_error(&e)))?;
    let received_unix_ms = now_unix_ms_f64();
    let exp = out.experiment();
    let experiment_id = exp
        .and_then(|e| e.id())
        .map(str::to_string)
        .ok_or_else(|| err(CALL, "the answer has no experiment id"))?;
    Ok(Started {
        experiment_id,
        sent_unix_ms,
        received_unix_ms,
        creation_unix_ms: exp.and_then(|e| e.creation_time()).map(fis_unix_ms),
    })
}

/// Stops an experiment and waits (up to `timeout`) until FIS says it has ended.
///
/// Calls are paced like the FIS observer's (`cadence.fis` apart), and while FIS throttles
/// or fails the wait doubles up to `cadence.max_backoff` (bounded by what is left of
/// `timeout`), so stopping a drill does not itself exhaust the account's FIS budget; the
/// last failure of either call is named when the experiment does not end in time. Every
/// call is in `aws-calls.jsonl` like any other.
pub async fn stop_and_wait(
    clients: &Clients,
    experiment_id: &str,
    timeout: std::time::Duration,
    cadence: &crate::scenario::Cadence,
) -> Result<ExperimentStatus, FaultError> {
    const CALL: &str = "StopExperiment";
    let deadline = tokio::time::Instant::now() + timeout;
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    let bounded = || CALL_TIMEOUT.min(left());
    let mut stop_sent = false;
    let mut last_error = String::from("no answer");
    let mut wait = cadence.fis;
    loop {
        let mut failed = false;
        if !stop_sent {
            match tokio::time::timeout(bounded(), clients.fis.stop_experiment().id(experiment_id).send()).await {
                Ok(Ok(_)) => stop_sent = true,
                Ok(Err(e)) => {
                    last_error = describe_error(&e);
                    failed = true;
                    tracing::warn!(error = %last_error, "StopExperiment failed; retrying");
                }
                Err(_) => {
                    last_error = format!("StopExperiment: no answer within {CALL_TIMEOUT:?}");
                    failed = true;
                }
            }
        }
        match tokio::time::timeout(bounded(), clients.fis.get_experiment().id(experiment_id).send()).await {
            Ok(Ok(out)) => {
                let status = out.experiment().map(|e| ExperimentStatus::of_fis(e.state()));
                if let Some(status) = status.filter(ExperimentStatus::is_final) {
                    return Ok(status);
                }
            }
            Ok(Err(e)) => {
                failed = true;
                if stop_sent {
                    last_error = describe_error(&e);
                }
            }
            Err(_) => failed = true,
        }
        // Credentials AWS refuses and the chain cannot renew: nothing of drdrill's can
        // stop the experiment; after a while for the user to refresh them (each retry
        // resolves the chain again), leave it to the dead man's switch.
        let unrenewable = clients.credentials.as_ref().and_then(|c| c.unrenewable_for());
        if unrenewable.is_some_and(|d| d >= UNRENEWABLE_STOP_LIMIT) {
            return Err(err(
                CALL,
                format!(
                    "experiment {experiment_id} could not be stopped: the session credentials expired and the credential chain gives no fresh ones (last error: {last_error}); the dead man's switch stops it, or refresh them and run `drdrill cleanup`"
                ),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            let why = if stop_sent {
                format!("FIS accepted the stop but the experiment has not ended; last error: {last_error}")
            } else {
                format!("last error: {last_error}")
            };
            return Err(err(
                CALL,
                format!("experiment {experiment_id} did not stop within {timeout:?} ({why})"),
            ));
        }
        wait = if failed {
            (wait * 2).min(cadence.max_backoff.max(cadence.fis))
        } else {
            cadence.fis
        };
        tokio::time::sleep(wait.min(left())).await;
    }
}

/// Deletes a template drdrill created (best effort; the run's outcome does not depend on it).
pub async fn delete_template(clients: &Clients, template_id: &str) {
    if let Err(e) = clients.fis.delete_experiment_template().id(template_id).send().await {
        tracing::warn!(template_id, error = %describe_error(&e), "could not delete the experiment template");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// creationTime inside the call bounds the offset to half the round trip (plus half
    /// FIS's 1 ms resolution), centred on it; FIS times are corrected by the midpoint.
    #[test]
    fn creation_time_bounds_the_clock_offset() {
        // FIS's clock runs 250 ms ahead; the call took 10 ms and was stamped in its middle.
        let c = ClockOffset::from_call(1_000.0, 1_010.0, Some(1_255));
        assert_eq!(c.basis, OffsetBasis::CreationTime);
        assert!((c.offset_ms - 250.5).abs() < 1e-9, "{c:?}");
        assert!((c.bound_ms - 5.5).abs() < 1e-9, "{c:?}");
        // The true offset, 250, is within the bound; an FIS time maps back near local time.
        assert!((250.0 - c.offset_ms).abs() <= c.bound_ms);
        assert_eq!(c.to_local(2_250), 2_000);
        // However the call's time splits around the stamp, the truth stays inside.
        for stamp in [1_250, 1_259] {
            let c = ClockOffset::from_call(1_000.0, 1_010.0, Some(stamp));
            assert!((250.0 - c.offset_ms).abs() <= c.bound_ms + 1e-9, "{stamp}: {c:?}");
        }
    }

    /// Without creationTime the clocks are assumed to agree within the round trip, and it
    /// says so.
    #[test]
    fn missing_creation_time_falls_back_to_the_round_trip() {
        let c = ClockOffset::from_call(1_000.0, 1_012.0, None);
        assert_eq!(
            c,
            ClockOffset {
                offset_ms: 0.0,
                bound_ms: 12.0,
                basis: OffsetBasis::RoundTrip
            }
        );
        assert_eq!(c.to_local(5_000), 5_000);
    }

    /// An FIS epoch-seconds timestamp with a millisecond fraction reads back to that
    /// millisecond (not one below, as flooring a binary fraction could).
    #[test]
    fn fis_times_read_to_the_millisecond() {
        let t = aws_sdk_fis::primitives::DateTime::from_secs_f64(1_616_432_464.025);
        assert_eq!(fis_unix_ms(&t), 1_616_432_464_025);
    }
}
