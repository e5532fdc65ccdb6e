//! What the run folder keeps: the scenario as run (at the start), then the report in
//! every format asked for, the journal's finish, the history line and, last, the
//! manifest over everything the run wrote.

use std::path::Path;

use super::report::build_report;
use super::{Record, RunOutcome, Stop};
use crate::journal::{now_unix_ms, Event, EventKind};
use crate::report::{self, PublishOptions};

/// Keeps a copy of the scenario file in the run folder (the manifest covers it); a
/// scenario that cannot be read again is journaled, not fatal.
pub(super) fn keep_scenario(rec: &mut Record) {
    match std::fs::read(&rec.loaded.path) {
        Ok(bytes) => {
            if let Err(e) = report::write_atomic(&rec.run_dir, report::SCENARIO_FILE, &bytes) {
                rec.progress
                    .line(&format!("cannot write {}: {e}", report::SCENARIO_FILE));
            }
        }
        Err(e) => {
            rec.journal.record(EventKind::Note {
                message: format!(
                    "the scenario file {} could not be read again to keep a copy: {e}",
                    rec.loaded.path.display()
                ),
            });
        }
    }
}

/// Builds the report (`stopped`: why the run ended early, if it did), writes it and
/// publishes it under `out_dir`, records the finish, writes the manifest, and stops the
/// embedded local stack, keeping its ground truth.
pub(super) async fn finish(
    mut rec: Record,
    stopped: Option<Stop>,
    out_dir: &Path,
    publish: &PublishOptions,
) -> RunOutcome {
    let run_dir = rec.run_dir.clone();
    let mut report = build_report(&mut rec, stopped);
    // report.json (which lists the finish among its events) is written before the
    // journal records the finish: a run killed in between leaves a report and a journal
    // without the finish, never a journal that says finished without a report.
    let finished = Event {
        t_unix_ms: now_unix_ms(),
        kind: EventKind::RunFinished {
            verdict: report.verdict,
            exit_code: report.exit_code,
        },
    };
    let mut events = rec.journal.events();
    events.push(finished.clone());
    report.events = report::report_events(&events, rec.t0_unix_ms);
    if let Err(e) = report.write(&run_dir) {
        rec.progress.line(&format!("cannot write report.json: {e}"));
    }
    rec.journal.record_at(finished.t_unix_ms, finished.kind);
    for e in report::publish(&report, &run_dir, out_dir, publish).errors {
        eprintln!("warning: {e}");
    }
    if let Err(e) = rec.journal.check() {
        rec.progress.line(&e.to_string());
    }
    // Last: the digest of everything the run wrote (`drdrill report --verify`).
    if let Err(e) = report::manifest::write(&run_dir, &rec.run_id, &rec.provenance) {
        eprintln!("warning: cannot write {}: {e}", report::manifest::FILE);
    }
    let mut ground_truth = None;
    if let Some(local) = rec.held.local.take() {
        // The probes have stopped: what each database holds now is final (tests compare
        // a restore's lost writes with it; only a restore drill needs it, and it lists
        // every write).
        if rec.loaded.scenario.fault.restore.is_some() {
            local.record_database_contents();
        }
        ground_truth = Some(local.world.truth.snapshot());
        local.shutdown().await;
    }
    RunOutcome {
        run_dir,
        report,
        ground_truth,
    }
}
