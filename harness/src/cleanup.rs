//! Cleanup: find the FIS experiments a drdrill run left running (the run was killed with
//! SIGKILL, its machine died, or it could not reach FIS to stop them) by their
//! `drdrill:*` tags, and stop them, waiting until FIS says they have ended.
//!
//! `drdrill cleanup SCENARIO` calls [`cleanup`]; `drdrill run` calls [`find_leftovers`]
//! before anything else and refuses to run while one exists (a fault may still be in
//! effect, and the new run would measure it too). Cleanup assumes no other drill is
//! running against the same target: it stops every drdrill experiment there.

use std::time::Duration;

use aws_sdk_fis::types::{ExperimentSummary, ExperimentTemplateSummary};

use crate::aws::{describe_error, Clients};
use crate::fault::{self, RUN_TAG};
use crate::scenario::{Cadence, Target};
use crate::status::ExperimentStatus;

/// The tag with the scenario's name on every experiment drdrill starts.
pub const SCENARIO_TAG: &str = "drdrill:scenario";

/// Every experiment of the account and region (the SDK's paginator follows `nextToken`
/// and stops on a repeated one).
async fn all_experiments(clients: &Clients) -> Result<Vec<ExperimentSummary>, CleanupError> {
    clients
        .fis
        .list_experiments()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| CleanupError::List {
            call: "ListExperiments",
            message: describe_error(&e),
        })
}

/// Every experiment template of the account and region.
async fn all_templates(clients: &Clients) -> Result<Vec<ExperimentTemplateSummary>, CleanupError> {
    clients
        .fis
        .list_experiment_templates()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| CleanupError::List {
            call: "ListExperimentTemplates",
            message: describe_error(&e),
        })
}

/// An experiment started by drdrill that has not ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Experiment id.
    pub id: String,
    /// Its FIS status (`pending`, `initiating`, `running`, `stopping`).
    pub status: ExperimentStatus,
    /// The run that started it (`drdrill:run-id`).
    pub run_id: Option<String>,
    /// The scenario it belongs to (`drdrill:scenario`).
    pub scenario: Option<String>,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "experiment {} ({}; scenario {}, run {})",
            self.id,
            self.status,
            self.scenario.as_deref().unwrap_or("?"),
            self.run_id.as_deref().unwrap_or("?")
        )
    }
}

/// Why cleanup could not finish.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The target could not be reached or is not allowed.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// Listing experiments or templates failed.
    #[error("{call} failed: {message}")]
    List {
        /// The call.
        call: &'static str,
        /// Why.
        message: String,
    },
    /// The dead man's switch alarms could not be listed or deleted.
    #[error(transparent)]
    Switch(#[from] crate::switch::SwitchError),
    /// Some experiments could not be stopped.
    #[error("could not stop {}: {}", if .0.len() == 1 { "1 experiment".to_string() } else { format!("{} experiments", .0.len()) }, .0.join("; "))]
    Stop(Vec<String>),
}

/// What cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupSummary {
    /// Experiments stopped, with their final status.
    pub stopped: Vec<(Leftover, ExperimentStatus)>,
    /// Experiment templates drdrill had created and no run deleted.
    pub templates_deleted: Vec<String>,
    /// Dead man's switch alarms ([`crate::switch`]) of runs that are over.
    pub alarms_deleted: Vec<String>,
}

/// Whether a tag set marks something drdrill created.
fn is_drdrill(tags: Option<&std::collections::HashMap<String, String>>) -> bool {
    tags.is_some_and(|t| t.keys().any(|k| k == RUN_TAG || k.starts_with("drdrill:")))
}

/// Every experiment tagged by drdrill that is not in a final state.
pub async fn find_leftovers(clients: &Clients) -> Result<Vec<Leftover>, CleanupError> {
    let mut out = Vec::new();
    for e in all_experiments(clients).await? {
        let status = ExperimentStatus::of_fis(e.state());
        if !is_drdrill(e.tags()) || status.is_final() {
            continue;
        }
        let tag = |k: &str| e.tags().and_then(|t| t.get(k)).cloned();
        out.push(Leftover {
            id: e.id().unwrap_or_default().to_string(),
            status,
            run_id: tag(RUN_TAG),
            scenario: tag(SCENARIO_TAG),
        });
    }
    Ok(out)
}

/// Stops each leftover and waits (up to `timeout` each) until FIS says it ended;
/// `say` is told what happens.
pub async fn stop_leftovers(
    clients: &Clients,
    leftovers: &[Leftover],
    timeout: Duration,
    cadence: &Cadence,
    say: &mut dyn FnMut(String),
) -> Result<Vec<(Leftover, ExperimentStatus)>, CleanupError> {
    let mut stopped = Vec::new();
    let mut failed = Vec::new();
    for l in leftovers {
        say(format!("stopping {l}"));
        match fault::stop_and_wait(clients, &l.id, timeout, cadence).await {
            Ok(status) => {
                say(format!("experiment {} is {status}", l.id));
                stopped.push((l.clone(), status));
            }
            Err(e) => {
                say(format!("could not stop experiment {}: {e}", l.id));
                failed.push(format!("{}: {e}", l.id));
            }
        }
    }
    if failed.is_empty() {
        Ok(stopped)
    } else {
        Err(CleanupError::Stop(failed))
    }
}

/// Deletes the experiment templates drdrill created (tagged `drdrill:run-id`) that no
/// unfinished experiment uses; a run deletes its own, so these belong to killed runs.
pub async fn delete_leftover_templates(
    clients: &Clients,
    say: &mut dyn FnMut(String),
) -> Result<Vec<String>, CleanupError> {
    let in_use: std::collections::BTreeSet<String> = all_experiments(clients)
        .await?
        .iter()
        .filter(|e| !ExperimentStatus::of_fis(e.state()).is_final())
        .map(|e| e.experiment_template_id().unwrap_or_default().to_string())
        .collect();
    let mut deleted = Vec::new();
    for t in all_templates(clients).await? {
        let id = t.id().unwrap_or_default();
        let ours = t.tags().is_some_and(|tags| tags.contains_key(RUN_TAG));
        if ours && !in_use.contains(id) {
            fault::delete_template(clients, id).await;
            say(format!("deleted experiment template {id} left by a drdrill run"));
            deleted.push(id.to_string());
        }
    }
    Ok(deleted)
}

/// Deletes every dead man's switch alarm ([`crate::switch::ALARM_PREFIX`]); called once
/// every drdrill experiment has ended.
async fn delete_switch_alarms(clients: &Clients, say: &mut dyn FnMut(String)) -> Result<Vec<String>, CleanupError> {
    let names = crate::switch::list_alarms(clients).await?;
    if names.is_empty() {
        return Ok(names);
    }
    crate::switch::delete_alarms(clients, &names).await?;
    for n in &names {
        say(format!("deleted dead man's switch alarm {n}"));
    }
    Ok(names)
}

/// `drdrill cleanup`: connects to the scenario's target (an AWS target must be in the
/// account allow-list), stops every unfinished drdrill experiment there and waits until
/// each has ended, then deletes the templates and dead man's switch alarms drdrill left. `say` is told what happens.
///
/// The embedded local stack lives inside the drdrill process that started it, so
/// nothing can be left running there; a `local` target is reported as such.
pub async fn cleanup(target: &Target, say: &mut dyn FnMut(String)) -> Result<CleanupSummary, CleanupError> {
    if let Target::Local { stack } = target {
        say(format!(
            "target is the embedded local stack ({}): it runs inside the drdrill process and ends with it, so no experiment can be left running",
            stack.display()
        ));
        return Ok(CleanupSummary::default());
    }
    let connected = crate::target::connect(target).await?;
    let clients = connected.clients.clone();
    let leftovers = find_leftovers(&clients).await?;
    if leftovers.is_empty() {
        say("no drdrill experiment is running".to_string());
    }
    let stopped = stop_leftovers(
        &clients,
        &leftovers,
        fault::STOP_TIMEOUT,
        &Cadence::for_target(target, None),
        say,
    )
    .await;
    let templates = delete_leftover_templates(&clients, say).await;
    // Every drdrill experiment has ended now: no switch alarm is needed any more.
    let alarms = delete_switch_alarms(&clients, say).await;
    connected.close().await;
    Ok(CleanupSummary {
        stopped: stopped?,
        templates_deleted: templates?,
        alarms_deleted: alarms?,
    })
}
