//! End to end: `drdrill run` against the embedded local stack, with the measured numbers
//! compared to the stack's ground truth.

mod common;

use std::path::PathBuf;

use drdrill::run::RunOutcome;
use drdrill::verdict::Verdict;
use drdrill_localstack::truth::Truth;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

async fn run(name: &str) -> (RunOutcome, tempfile::TempDir) {
    common::run_scenario(&scenario(name)).await
}

/// Ground-truth RTO: from injection to the first time the stack serves again after it
/// first stopped serving.
fn truth_rto_ms(outcome: &RunOutcome, t_inject: i64) -> i64 {
    let truth = outcome.ground_truth.as_ref().expect("embedded stack ground truth");
    let lost = truth
        .iter()
        .find(|e| e.t_unix_ms >= t_inject - 50 && e.what == Truth::Serving { serving: false })
        .expect("the stack stopped serving");
    let back = truth
        .iter()
        .find(|e| e.t_unix_ms >= lost.t_unix_ms && e.what == Truth::Serving { serving: true })
        .expect("the stack served again");
    back.t_unix_ms - t_inject
}

/// The AZ power interruption passes its objectives; its RTO is within 2 probe intervals
/// + 50 ms of the ground truth and no acknowledged write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_power_interruption_matches_ground_truth() {
    let (outcome, _dir) = run("az-power-interruption.yaml").await;
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.objectives);
    assert_eq!(r.exit_code, 0);
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    let measured = r.rto_ms.expect("recovered");
    let truth = truth_rto_ms(&outcome, t_inject);
    let tolerance = 2 * 10 + 50;
    assert!(
        (measured - truth).abs() <= tolerance,
        "measured RTO {measured} ms vs ground truth {truth} ms (tolerance {tolerance} ms)"
    );
    let loss = r.data_loss.as_ref().expect("verified");
    assert!(loss.acked_writes > 100);
    assert_eq!(loss.lost_writes, 0);
    assert!(r.probes.failed > 0, "the fault must be visible to the prober");
    // The journal on disk has the whole run.
    let events = std::fs::read_to_string(outcome.run_dir.join("events.jsonl")).unwrap();
    assert!(events.contains("\"experiment_state\"") && events.contains("\"run_finished\""));
    assert!(outcome.run_dir.join("probes.csv").exists());
}

/// An async-replica failover loses exactly the writes the ground truth says it lost,
/// and the run fails its `rpo: 0s` objective with exit code 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_failover_lost_ids_equal_ground_truth() {
    let (outcome, _dir) = run("db-failover-async.yaml").await;
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.exit_code, 1);
    let mut truth_lost: Vec<String> = outcome
        .ground_truth
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.what {
            Truth::DbFailover { lost_write_ids, .. } => Some(lost_write_ids.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    truth_lost.sort();
    let mut measured = r.data_loss.as_ref().expect("verified").lost_ids.clone();
    measured.sort();
    assert!(!truth_lost.is_empty(), "the failover must lose the lag window");
    assert_eq!(measured, truth_lost);
    let rpo = r.objectives.iter().find(|o| o.name == "rpo").unwrap();
    assert!(!rpo.pass);
    // The loss window is at most the replication lag (1 s) plus the failover moment.
    let d = r.data_loss.as_ref().unwrap();
    assert!(d.rpo_ms > 500 && d.rpo_ms <= 1100, "rpo {} ms", d.rpo_ms);
}

/// A black-holed AZ shows up as timeouts (not hangs); the run finishes and the prober
/// keeps its schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_az_gives_timeouts_not_hangs() {
    let started = std::time::Instant::now();
    let (outcome, _dir) = run("az-network-partition.yaml").await;
    let r = &outcome.report;
    assert!(r.complete, "{:?}", r.reason);
    assert!(
        r.probes.failures.get("timeout").copied().unwrap_or(0) > 0,
        "{:?}",
        r.probes.failures
    );
    assert!(
        r.probes.max_ms <= 500.0 + 100.0,
        "latency max {} ms exceeds the timeout",
        r.probes.max_ms
    );
    assert!(
        r.probes.schedule_lag_p99_ms < 20.0,
        "schedule lag p99 {} ms",
        r.probes.schedule_lag_p99_ms
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.objectives);
}
