//! The fault: turning a template in AWS's JSON into the FIS calls that create it and
//! start, stop and tag an experiment for one run.

use std::collections::HashMap;

use aws_sdk_fis::types::{
    CreateExperimentTemplateActionInput, CreateExperimentTemplateStopConditionInput,
    CreateExperimentTemplateTargetInput, ExperimentTemplateTargetInputFilter,
};
use serde_json::Value;

use crate::aws::{describe_error, Clients};

/// The tag that marks every template and experiment drdrill creates.
pub const RUN_TAG: &str = "drdrill:run-id";

/// How long stopping an experiment may take before drdrill gives up and says so.
pub const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

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
    const CALL: &str = "CreateExperimentTemplate";
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
            .map_err(|e| err(CALL, format!("target {name}: {e}")))?;
        let target = CreateExperimentTemplateTargetInput::builder()
            .set_resource_type(s(t, "resourceType").map(str::to_string))
            .set_resource_arns(strs(t.get("resourceArns")))
            .set_resource_tags(str_map(t.get("resourceTags")))
            .set_filters(filters)
            .set_selection_mode(s(t, "selectionMode").map(str::to_string))
            .set_parameters(str_map(t.get("parameters")))
            .build()
            .map_err(|e| err(CALL, format!("target {name}: {e}")))?;
        targets.insert(name.clone(), target);
    }
    let mut actions = HashMap::new();
    for (name, a) in template.get("actions").and_then(Value::as_object).into_iter().flatten() {
        let action = CreateExperimentTemplateActionInput::builder()
            .set_action_id(s(a, "actionId").map(str::to_string))
            .set_description(s(a, "description").map(str::to_string))
            .set_parameters(str_map(a.get("parameters")))
            .set_targets(str_map(a.get("targets")))
            .set_start_after(strs(a.get("startAfter")))
            .build()
            .map_err(|e| err(CALL, format!("action {name}: {e}")))?;
        actions.insert(name.clone(), action);
    }
    let stop_conditions = template
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
        .map_err(|e| err(CALL, format!("stopConditions: {e}")))?
        .unwrap_or_else(|| {
            CreateExperimentTemplateStopConditionInput::builder()
                .source("none")
                .build()
                .map(|c| vec![c])
                .unwrap_or_default()
        });
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
        .map_err(|e| err(CALL, describe_error(&e)))?;
    out.experiment_template()
        .and_then(|t| t.id())
        .map(str::to_string)
        .ok_or_else(|| err(CALL, "the answer has no template id"))
}

/// Starts an experiment from the template, tagged with the run id and scenario.
pub async fn start(clients: &Clients, template_id: &str, run_id: &str, scenario: &str) -> Result<String, FaultError> {
    const CALL: &str = "StartExperiment";
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
    out.experiment()
        .and_then(|e| e.id())
        .map(str::to_string)
        .ok_or_else(|| err(CALL, "the answer has no experiment id"))
}

/// Stops an experiment and waits (up to `timeout`) until FIS says it has ended.
pub async fn stop_and_wait(
    clients: &Clients,
    experiment_id: &str,
    timeout: std::time::Duration,
) -> Result<String, FaultError> {
    const CALL: &str = "StopExperiment";
    let deadline = tokio::time::Instant::now() + timeout;
    let bounded = || CALL_TIMEOUT.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
    let mut stop_sent = false;
    let mut last_error = String::from("no answer");
    loop {
        if !stop_sent {
            match tokio::time::timeout(bounded(), clients.fis.stop_experiment().id(experiment_id).send()).await {
                Ok(Ok(_)) => stop_sent = true,
                Ok(Err(e)) => {
                    last_error = describe_error(&e);
                    tracing::warn!(error = %last_error, "StopExperiment failed; retrying");
                }
                Err(_) => last_error = format!("no answer within {CALL_TIMEOUT:?}"),
            }
        }
        let got = tokio::time::timeout(bounded(), clients.fis.get_experiment().id(experiment_id).send()).await;
        if let Ok(Ok(out)) = got {
            let status = out
                .experiment()
                .and_then(|e| e.state())
                .and_then(|s| s.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if crate::observe::is_final(&status) {
                return Ok(status);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let why = if stop_sent {
                "FIS accepted the stop but the experiment has not ended".to_string()
            } else {
                format!("last error: {last_error}")
            };
            return Err(err(
                CALL,
                format!("experiment {experiment_id} did not stop within {timeout:?} ({why})"),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Deletes a template drdrill created (best effort; the run's outcome does not depend on it).
pub async fn delete_template(clients: &Clients, template_id: &str) {
    if let Err(e) = clients.fis.delete_experiment_template().id(template_id).send().await {
        tracing::warn!(template_id, error = %describe_error(&e), "could not delete the experiment template");
    }
}
