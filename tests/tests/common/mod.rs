//! Helpers shared by the end-to-end drill tests.

use std::path::Path;

use drdrill::run::{Interrupt, RunOptions, RunOutcome};

/// Runs the scenario file at `path` to its end against its embedded stack, quietly, into
/// a fresh temporary folder (returned with the outcome, so it lives as long as needed).
pub async fn run_scenario(path: &Path) -> (RunOutcome, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let loaded = drdrill::scenario::load(path).unwrap();
    let opts = RunOptions {
        out_dir: out.path().to_path_buf(),
        yes: false,
        quiet: true,
    };
    let outcome = drdrill::run::run(loaded, &opts, Interrupt::new()).await.unwrap();
    (outcome, out)
}
