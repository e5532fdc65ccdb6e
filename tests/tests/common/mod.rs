//! Helpers shared by the end-to-end drill tests.

// Each test binary uses a part of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use drdrill::run::{Interrupt, RunOptions, RunOutcome};
use drdrill_localstack::truth::{Truth, TruthEvent};

pub mod outage;

/// Runs the scenario file at `path` to its end against its embedded stack, quietly, into
/// a fresh temporary folder (returned with the outcome, so it lives as long as needed).
pub async fn run_scenario(path: &Path) -> (RunOutcome, tempfile::TempDir) {
    let loaded = drdrill::scenario::load(path).unwrap();
    run_loaded(loaded, false).await.unwrap()
}

/// Runs a loaded scenario to its end, quietly, into a fresh temporary folder (returned
/// with the outcome); `yes` confirms an `aws:` target. `Err` when the run could not start.
pub async fn run_loaded(
    loaded: drdrill::scenario::LoadedScenario,
    yes: bool,
) -> Result<(RunOutcome, tempfile::TempDir), String> {
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let opts = RunOptions {
        out_dir: out.path().to_path_buf(),
        yes,
        quiet: true,
    };
    let outcome = drdrill::run::run(drdrill::run::Drill::new(loaded, &opts), Interrupt::new())
        .await
        .map_err(|e| e.to_string())?;
    Ok((outcome, out))
}

/// GETs `url` (5 s timeout) and parses its JSON answer; panics naming the URL otherwise.
pub async fn get_json(url: &str) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let answer = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    answer.json().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
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

/// Most of the ground truth's lost writes a run may not have seen acknowledged: the
/// writes in flight when an outage cut their answers off. The old database committed them,
/// so the truth counts them; no answer reached the client, so drdrill does not.
pub const MAX_UNANSWERED_LOST: usize = 3;

/// Checks a run's lost write ids (`measured`) against the ids the ground truth says the
/// outage lost (`truth`, committed by the old database): `measured` must be exactly the
/// truth's ids the run saw acknowledged (its `acks.csv`), and the truth's other ids —
/// committed, never acknowledged — at most [`MAX_UNANSWERED_LOST`].
pub fn assert_lost_writes(run_dir: &Path, measured: &[String], truth: &[String], what: &str) {
    let path = run_dir.join("acks.csv");
    let mut acks = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let acked: std::collections::HashSet<String> = acks
        .records()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display()))[0].to_owned())
        .collect();
    let mut measured = measured.to_vec();
    measured.sort();
    let (mut expected, mut unanswered): (Vec<String>, Vec<String>) =
        truth.iter().cloned().partition(|id| acked.contains(id));
    expected.sort();
    unanswered.sort();
    assert_eq!(
        measured, expected,
        "{what}: the lost writes are the ground truth's that were acknowledged"
    );
    assert!(
        unanswered.len() <= MAX_UNANSWERED_LOST,
        "{what}: the ground truth lost {} writes never acknowledged: {unanswered:?}",
        unanswered.len()
    );
}

/// Ground-truth RTO of a strategy stack's entry name: from `t_inject` until the name
/// serves again after it first stopped serving (its `entry_serving` events).
pub fn entry_rto_ms(truth: &[TruthEvent], t_inject: i64) -> i64 {
    let entry: Vec<(i64, bool)> = truth
        .iter()
        .filter_map(|e| match &e.what {
            Truth::EntryServing { serving, .. } => Some((e.t_unix_ms, *serving)),
            _ => None,
        })
        .collect();
    let (_, back) = serving_outage(&entry, t_inject);
    back - t_inject
}

/// The outage a serving signal shows after a fault injected at `t_inject`: `(lost, back)`,
/// when it first stopped serving (stamped no earlier than [`outage::INJECT_SLACK_MS`]
/// before `t_inject`) and when it first served again after that. `serving` holds
/// `(t_unix_ms, serving)` changes, oldest first (the ground truth's `serving` events of a
/// load balancer, an entry name, a container). Panics, naming it, when the signal never
/// stopped or never came back: the drills these tests run always do both.
pub fn serving_outage(serving: &[(i64, bool)], t_inject: i64) -> (i64, i64) {
    let lost = serving
        .iter()
        .find(|(t, s)| *t >= t_inject - outage::INJECT_SLACK_MS && !*s)
        .expect("the stack stopped serving")
        .0;
    let back = serving
        .iter()
        .find(|(t, s)| *t >= lost && *s)
        .expect("the stack served again")
        .0;
    (lost, back)
}

/// The `serving` changes of the load balancer in an embedded stack's ground truth.
pub fn lb_serving(truth: &[TruthEvent]) -> Vec<(i64, bool)> {
    truth
        .iter()
        .filter_map(|e| match e.what {
            Truth::Serving { serving } => Some((e.t_unix_ms, serving)),
            _ => None,
        })
        .collect()
}
