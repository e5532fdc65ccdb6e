//! Cleanup, on every way out: stops the experiment (waiting until FIS says it stopped),
//! then the probes, disarms the dead man's switch, deletes the template the run created
//! and stops the observers.

use super::{cadence, error, Record, Stop};
use crate::fault;
use crate::journal::{now_unix_ms, EventKind};

/// Stops and deletes whatever the run still holds. `Err` only when the experiment could
/// not be stopped (it may still be running: the message says how to stop it).
pub(super) async fn cleanup(rec: &mut Record) -> Result<(), Stop> {
    let result = stop_experiment(rec).await;
    super::restore::cleanup(rec).await;
    if let Some(prober) = rec.held.prober.take() {
        rec.traffic = Some(prober.stop().await);
    }
    if let (Some(clients), Some(switch)) = (&rec.clients, rec.held.switch.take()) {
        switch.disarm(clients, &rec.journal).await;
    }
    if let (Some(clients), Some(t)) = (&rec.clients, &rec.held.template_created) {
        fault::delete_template(clients, t).await;
    }
    for observer in rec.held.observers.drain(..) {
        observer.stop().await;
    }
    rec.progress.finish();
    result
}

/// Stops the experiment if it is still running, and records how it ended.
async fn stop_experiment(rec: &mut Record) -> Result<(), Stop> {
    let mut result = Ok(());
    let mut stopped_as = None;
    if let (Some(clients), Some(exp)) = (&rec.clients, &rec.experiment) {
        let running = rec.held.view.as_ref().map(|rx| !rx.borrow().ended).unwrap_or(true);
        if running {
            rec.journal.record(EventKind::StopRequested {
                reason: rec.interrupt.reason().unwrap_or_else(|| "run ended early".into()),
            });
            rec.progress.line(&format!("stopping experiment {}", exp.id));
            match fault::stop_and_wait(clients, &exp.id, fault::STOP_TIMEOUT, &cadence(rec)).await {
                Ok(status) => {
                    rec.journal.record(EventKind::ExperimentState {
                        status: status.clone(),
                        reason: Some("stopped by drdrill".into()),
                    });
                    stopped_as = Some(status);
                }
                Err(e) => {
                    let message = format!(
                        "could not stop experiment {}: {e}; it may still be running: stop it with `drdrill cleanup {}`",
                        exp.id,
                        rec.loaded.path.display()
                    );
                    eprintln!("error: {message}");
                    rec.journal.record(EventKind::Note {
                        message: message.clone(),
                    });
                    result = Err(error(message));
                }
            }
        }
    }
    if let (Some(status), Some(exp)) = (stopped_as, rec.experiment.as_mut()) {
        exp.status = status;
        exp.end_unix_ms.get_or_insert_with(now_unix_ms);
    }
    result
}
