//! Helpers shared by the end-to-end drill tests.

// Each test binary uses a part of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

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
    let outcome = drdrill::run::run(drdrill::run::Drill::new(loaded, &opts), Interrupt::new())
        .await
        .unwrap();
    (outcome, out)
}

/// A file of the repository, by its path from the workspace root.
pub fn workspace(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Writes the shipped multi-AZ stack file with `extra` appended (a `quotas:` section, say)
/// into `dir`, and returns its path.
pub fn multi_az_with(dir: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(workspace("localstack/stacks/multi-az.yaml")).unwrap() + extra;
    let path = dir.join("multi-az-changed.yaml");
    std::fs::write(&path, text).unwrap();
    path
}
