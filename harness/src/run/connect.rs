//! The connect phase: reaches the target (starting the embedded local stack, or checking
//! the AWS account), refuses to run over experiments earlier runs left running, and
//! resolves the plan, checking its blast radius.

use super::{error, Connected, Record, Stop, AWS_CALLS_FILE};
use crate::aws::Clients;
use crate::journal::{EventKind, Phase};
use crate::plan::Plan;
use crate::preview::{self, PreviewError, Rendered};
use crate::report::manifest::Provenance;

/// Connects and resolves the plan. The local stack is held from the moment it runs (for
/// cleanup and the ground truth); the clients and the plan are recorded once the plan
/// passes its blast-radius check.
pub(super) async fn connect(rec: &mut Record) -> Result<Connected, Stop> {
    rec.journal.record(EventKind::PhaseStarted {
        phase: Phase::Preflight,
    });
    let connected = preview::connect(&rec.loaded.scenario)
        .await
        .map_err(|e| error(e.to_string()))?;
    if let Some(local) = &connected.local {
        rec.progress.line(&format!("local stack at {}", local.endpoint_url()));
    }
    backup_coverage(rec, &connected).await;
    rec.provenance = Provenance {
        account_id: Some(connected.account_id),
        region: Some(connected.region),
    };
    let clients = connected.clients;
    rec.held.local = connected.local;
    let calls_path = rec.run_dir.join(AWS_CALLS_FILE);
    if let Err(e) = clients.calls.write_to(&calls_path) {
        // The drill can still be measured; the calls stay in memory (`CallLog::pending`).
        tracing::warn!(path = %calls_path.display(), error = %e, "cannot write the AWS call log");
    }
    refuse_leftovers(rec, &clients).await?;
    let plan = resolve(rec, &clients).await?;
    rec.clients = Some(clients.clone());
    rec.plan = Some(plan.clone());
    Ok(Connected { clients, plan })
}

/// Runs the backup coverage gate when `objectives.backup_coverage` asks for it, before
/// anything is injected (as `drdrill plan` does): its findings are shown and journaled,
/// and its result is kept for the report's objectives. A gate that cannot run (an AWS
/// call failed) fails the objective, saying why; the drill goes on.
async fn backup_coverage(rec: &mut Record, connected: &crate::target::Connected) {
    let sc = &rec.loaded.scenario;
    let Some(gate) = sc.objectives.backup_coverage.as_ref().filter(|g| g.enabled()) else {
        return;
    };
    let result = match crate::coverage::evaluate(gate, connected, &sc.target).await {
        Ok(coverage) => {
            for line in crate::coverage::render(&coverage)
                .lines()
                .filter(|l| !l.trim().is_empty())
            {
                rec.progress.line(line);
            }
            crate::coverage::objective_result(&coverage)
        }
        Err(e) => crate::verdict::ObjectiveResult {
            name: "backup_coverage".into(),
            target: 0.0,
            measured: None,
            unit: "count".into(),
            pass: false,
            message: format!("not evaluated: {e}"),
        },
    };
    rec.journal.record(EventKind::Note {
        message: format!("backup coverage: {}", result.message),
    });
    rec.backup_coverage = Some(result);
}

/// Resolves the plan and checks its blast radius (as `drdrill plan` does), showing the
/// plan, and the caps when the scenario has them, even when a cap is exceeded.
async fn resolve(rec: &mut Record, clients: &Clients) -> Result<Plan, Stop> {
    match preview::resolve_checked(&rec.loaded, clients, local_dns(rec)).await {
        Ok(checked) => {
            show(rec, &checked.rendered);
            Ok(checked.plan)
        }
        Err(PreviewError::BlastRadius { plan, error: exceeded }) => {
            show(rec, &plan);
            Err(error(exceeded.to_string()))
        }
        Err(e) => Err(error(format!("plan: {e}"))),
    }
}

/// The plan's text, then the blast-radius check's, each on its own progress line.
fn show(rec: &mut Record, rendered: &Rendered) {
    rec.progress.line(rendered.plan.trim_end());
    if let Some(blast) = &rendered.blast {
        rec.progress.line(blast.trim_end());
    }
}

/// The embedded local stack's DNS server, if any.
pub(super) fn local_dns(rec: &Record) -> Option<std::net::SocketAddr> {
    rec.held.local.as_ref().map(|l| l.dns_addr())
}

/// Refuses to run while an experiment from an earlier drdrill run is unfinished on this
/// target: its fault may still be in effect (the run that started it was killed), and
/// this run would measure it too. The warning names each one and how to stop them.
async fn refuse_leftovers(rec: &Record, clients: &Clients) -> Result<(), Stop> {
    let leftovers = crate::cleanup::find_leftovers(clients).await.map_err(|e| {
        error(format!(
            "cannot check for experiments left running by earlier runs: {e}"
        ))
    })?;
    if leftovers.is_empty() {
        return Ok(());
    }
    for l in &leftovers {
        let message = format!("{l} was started by an earlier drdrill run and has not ended");
        eprintln!("warning: {message}");
        rec.journal.record(EventKind::Note { message });
    }
    Err(error(format!(
        "refusing to run: {} experiment(s) from earlier drdrill runs are still unfinished on this target ({}), so a fault may be in effect; if no other drill is running, stop them with `drdrill cleanup {}` and run again",
        leftovers.len(),
        leftovers.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", "),
        rec.loaded.path.display()
    )))
}
