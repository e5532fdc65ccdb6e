//! The inject phase: creates the experiment template (with the dead man's switch as its
//! stop condition), checks the blast radius again, starts the experiment and waits until
//! FIS runs it.

use std::time::Duration;

use tokio::sync::watch;

use super::connect::local_dns;
use super::{cadence, error, Connected, Record, Stop};
use crate::aws::Clients;
use crate::fault;
use crate::journal::{EventKind, Phase};
use crate::observe::{self, ExperimentView};
use crate::plan;
use crate::report::{self, ExperimentInfo};
use crate::scenario::ResolvedFault;
use crate::status::ExperimentStatus;

/// Injects the fault: returns the experiment's view once FIS runs it (or ran it, when it
/// ended before the first poll that saw it running).
pub(super) async fn inject(rec: &mut Record, connected: &Connected) -> Result<watch::Receiver<ExperimentView>, Stop> {
    rec.interrupted()?;
    rec.journal.record(EventKind::PhaseStarted { phase: Phase::Inject });
    let clients = &connected.clients;
    let template_id = match rec.loaded.fault.clone() {
        Some(ResolvedFault::TemplateId(id)) => id,
        Some(ResolvedFault::Template(t)) => create_template(rec, clients, &t).await?,
        // `run::phases` takes the restore test's way without a disaster template.
        None => {
            return Err(error(
                "no disaster template to inject (a restore test starts its restore job instead)",
            ))
        }
    };
    if let Some(caps) = &rec.loaded.scenario.blast_radius {
        // Targets may have changed since the plan: check again right before injecting.
        let fresh = plan::resolve(&rec.loaded, clients, local_dns(rec))
            .await
            .map_err(|e| error(format!("plan: {e}")))?;
        crate::blast::check(&fresh, caps).map_err(|e| error(e.to_string()))?;
    }
    let rx = start(rec, clients, template_id).await?;
    wait_running(rec, rx).await
}

/// Arms the dead man's switch (unless the scenario turns it off) and creates the
/// template with it as a stop condition; the template as run is kept in the run folder.
async fn create_template(rec: &mut Record, clients: &Clients, t: &serde_json::Value) -> Result<String, Stop> {
    let settings = rec.loaded.scenario.dead_man_switch.clone().unwrap_or_default();
    let template = if settings.enabled {
        let switch = crate::switch::arm(clients, &rec.run_id, &settings, &rec.journal)
            .await
            .map_err(|e| error(e.to_string()))?;
        rec.progress.line(&format!(
            "dead man's switch armed: the fault ends by itself {} s after the harness goes silent",
            (switch.fires_after + switch.period).as_secs()
        ));
        let with = crate::switch::with_stop_condition(t, &switch);
        rec.held.switch = Some(switch);
        with
    } else {
        rec.journal.record(EventKind::Note {
            message: "dead man's switch off (dead_man_switch.enabled: false): a killed harness leaves the fault running until `drdrill cleanup`".into(),
        });
        t.clone()
    };
    let as_run = serde_json::to_vec_pretty(&template).unwrap_or_default();
    if let Err(e) = report::write_atomic(&rec.run_dir, report::TEMPLATE_FILE, &as_run) {
        rec.progress
            .line(&format!("cannot write {}: {e}", report::TEMPLATE_FILE));
    }
    let id = fault::create_template(clients, &template, &rec.run_id)
        .await
        .map_err(|e| error(e.to_string()))?;
    rec.journal.record(EventKind::TemplateCreated {
        template_id: id.clone(),
    });
    rec.held.template_created = Some(id.clone());
    Ok(id)
}

/// Starts the experiment, journals FIS's clock offset, and starts its observer.
async fn start(
    rec: &mut Record,
    clients: &Clients,
    template_id: String,
) -> Result<watch::Receiver<ExperimentView>, Stop> {
    let started = fault::start(clients, &template_id, &rec.run_id, &rec.loaded.scenario.name)
        .await
        .map_err(|e| error(e.to_string()))?;
    let id = started.experiment_id.clone();
    rec.journal.record(EventKind::ExperimentStarted {
        experiment_id: id.clone(),
    });
    // FIS's times (action start and end times, which date the fault) come from FIS's
    // clock: StartExperiment's round trip and the creationTime in its answer bound the
    // offset (see `fault::ClockOffset`).
    let clock = started.clock_offset();
    let round_trip_ms = started.received_unix_ms - started.sent_unix_ms;
    rec.journal.record(EventKind::Note {
        message: match clock.basis {
            fault::OffsetBasis::CreationTime => format!(
                "FIS clock offset {:+.1} ms ± {:.1} ms (creationTime within StartExperiment's {round_trip_ms:.1} ms round trip)",
                clock.offset_ms, clock.bound_ms
            ),
            fault::OffsetBasis::RoundTrip => format!(
                "StartExperiment's answer has no creationTime: FIS's clock is assumed to agree with this machine's within the call's round trip (± {:.1} ms)",
                clock.bound_ms
            ),
        },
    });
    rec.progress
        .line(&format!("experiment {id} started (template {template_id})"));
    rec.experiment = Some(ExperimentInfo {
        id: id.clone(),
        template_id,
        clock_offset: Some(clock),
        ..Default::default()
    });
    let sent_unix_ms = started.sent_unix_ms.floor() as i64;
    let (observer, rx) = observe::watch_experiment(clients, &rec.journal, id, clock, sent_unix_ms, &cadence(rec));
    rec.held.observers.push(observer);
    rec.held.view = Some(rx.clone());
    Ok(rx)
}

/// Waits (60 s at most) until the experiment runs, or ended having run.
async fn wait_running(
    rec: &mut Record,
    mut rx: watch::Receiver<ExperimentView>,
) -> Result<watch::Receiver<ExperimentView>, Stop> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let view = rx.borrow_and_update().clone();
        update_experiment(rec, &view);
        let ran = view.running_between_unix_ms.is_some() || view.fault_start_unix_ms().is_some();
        if view.status == ExperimentStatus::Running || (view.ended && ran) {
            return Ok(rx);
        }
        if view.ended {
            return Err(error(format!(
                "the experiment ended as {} before running: {}",
                view.status,
                view.reason.unwrap_or_default()
            )));
        }
        tokio::select! {
            biased;
            _ = rec.interrupt.cancelled() => rec.interrupted()?,
            changed = tokio::time::timeout_at(deadline, rx.changed()) => {
                if changed.is_err() {
                    return Err(error("the experiment did not start running within 60 s"));
                }
            }
        }
    }
}

/// Copies what the observer saw into the report's experiment: status, when it ran (as
/// observed) and ended, and when its first fault action started (per FIS).
pub(super) fn update_experiment(rec: &mut Record, view: &ExperimentView) {
    if let Some(e) = rec.experiment.as_mut() {
        e.status = view.status.clone();
        // Not FIS's experiment startTime: AWS stamps that while the experiment is still
        // `initiating`. The `running` transition as observed, to within its polls.
        if let Some((after, seen)) = view.running_between_unix_ms {
            let mid = after + (seen - after) / 2;
            e.start_unix_ms = Some(mid);
            e.start_precision_ms = Some((seen - mid) as f64);
        }
        if view.end_unix_ms.is_some() {
            e.end_unix_ms = view.end_unix_ms;
        }
        if let Some(t) = view.fault_start_unix_ms() {
            e.fault_start_unix_ms = Some(t);
        }
    }
}
