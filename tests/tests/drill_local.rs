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
    let (_, back) = common::serving_outage(&common::lb_serving(truth), t_inject);
    back - t_inject
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
    assert_rebuilt_equals_live(&outcome);
    // Every AWS call of the run is on record, one line per attempt, with its status and
    // request id: the calls the plan, the fault and the observers need are all there.
    let calls: Vec<drdrill::aws::AwsCall> = std::fs::read_to_string(outcome.run_dir.join("aws-calls.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let count = |service: &str, op: &str| {
        calls
            .iter()
            .filter(|c| c.service == service && c.operation == op)
            .count()
    };
    assert_eq!(count("fis", "StartExperiment"), 1, "{calls:#?}");
    assert_eq!(count("fis", "CreateExperimentTemplate"), 1);
    assert_eq!(count("sts", "GetCallerIdentity"), 0, "a local target checks no account");
    for (service, op) in [
        ("elasticloadbalancing", "DescribeLoadBalancers"),
        ("elasticloadbalancing", "DescribeListeners"),
        ("elasticloadbalancing", "DescribeTargetHealth"),
        ("ec2", "DescribeInstances"),
        ("fis", "GetExperiment"),
    ] {
        assert!(count(service, op) >= 1, "no {service} {op} in aws-calls.jsonl");
    }
    assert!(
        calls
            .iter()
            .all(|c| c.status.is_some_and(|s| (200..300).contains(&s)) && c.request_id.is_some()),
        "{calls:#?}"
    );
    let start = calls.iter().find(|c| c.operation == "StartExperiment").unwrap();
    assert!(
        start.params.starts_with("/experiments"),
        "REST path recorded: {}",
        start.params
    );
    let lb = calls.iter().find(|c| c.operation == "DescribeLoadBalancers").unwrap();
    assert!(
        lb.params.contains("drill-alb"),
        "form parameters recorded: {}",
        lb.params
    );
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
    assert_rebuilt_equals_live(&outcome);
}

/// A report rebuilt from the run folder (`report.json` removed: as after a run killed
/// while writing it) equals the live one field by field — RTO, recovery, breakdown, lost
/// writes, probe statistics, timeline, objectives, verdict — but for the two fields that
/// say it was rebuilt (`complete`, `reason`).
fn assert_rebuilt_equals_live(outcome: &RunOutcome) {
    let live: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.run_dir.join("report.json")).unwrap()).unwrap();
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&outcome.run_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "report.json") {
            std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let loaded = drdrill::report::load::load_run(copy.path()).expect("rebuild");
    assert!(loaded.rebuilt && loaded.skipped_lines == 0);
    assert!(!loaded.report.complete);
    let rebuilt = serde_json::to_value(&loaded.report).unwrap();
    let (live, rebuilt) = (live.as_object().unwrap(), rebuilt.as_object().unwrap());
    assert!(live.len() > 20, "a whole report");
    for (key, value) in live {
        if key == "complete" || key == "reason" {
            continue;
        }
        assert_eq!(
            rebuilt.get(key),
            Some(value),
            "field {key} of the rebuilt report differs"
        );
    }
    assert_eq!(rebuilt.len(), live.len(), "the same fields");
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

/// `t_inject` is FIS's own start time of the first fault action: in the shipped AZ drill
/// it equals the ground truth's first `fault_applied` of the run's experiment within its
/// stated precision + clock-offset bound + 5 ms, and no failed probe is dated more than
/// one probe interval (+ that bound) before it — neither in the report
/// (`recovery.first_failure_unix_ms`) nor in the raw probe log, where no probe that had
/// already finished before then failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_inject_is_when_fis_started_the_first_fault_action() {
    let path = scenario("az-power-interruption.yaml");
    let interval_ms = drdrill::scenario::load(&path)
        .unwrap()
        .scenario
        .traffic
        .rate
        .interval()
        .expect("a probe interval")
        .as_secs_f64()
        * 1000.0;
    let (outcome, _dir) = common::run_scenario(&path).await;
    let r = &outcome.report;
    assert!(r.complete, "{:?}", r.reason);
    let exp = r.experiment.as_ref().expect("experiment");
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    assert_eq!(exp.fault_start_unix_ms, Some(t_inject), "t_inject is FIS's fault start");
    let clock = exp.clock_offset.expect("clock offset bounded");
    assert_eq!(clock.basis, drdrill::fault::OffsetBasis::CreationTime);
    let bound_ms = drdrill::fault::FIS_TIME_RESOLUTION_MS + clock.bound_ms;

    let truth = outcome.ground_truth.as_ref().expect("embedded stack ground truth");
    let applied = truth
        .iter()
        .filter(|e| matches!(&e.what, Truth::FaultApplied { experiment, .. } if *experiment == exp.id))
        .map(|e| e.t_unix_ms)
        .min()
        .expect("the experiment applied faults");
    assert!(
        ((t_inject - applied) as f64).abs() <= bound_ms + 5.0,
        "t_inject {t_inject} vs first fault_applied {applied} (bound ±{bound_ms:.1} ms + 5 ms)"
    );

    let first_failure = r
        .recovery
        .as_ref()
        .and_then(|rec| rec.first_failure_unix_ms)
        .expect("probes failed");
    assert!(
        first_failure as f64 >= t_inject as f64 - interval_ms,
        "first failure {first_failure} more than {interval_ms} ms before t_inject {t_inject}"
    );
    // probes.csv: seq,kind,id,scheduled_unix_us,sent_unix_us,done_unix_us,latency_us,status,outcome,...
    // A probe scheduled shortly before t_inject may fail if it was still in flight when the
    // fault began; one that had finished more than an interval before cannot.
    let log = std::fs::read_to_string(outcome.run_dir.join("probes.csv")).unwrap();
    let too_early: Vec<&str> = log
        .lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.splitn(10, ',').collect();
            let us = |i: usize| f[i].parse::<i64>().expect("a time in µs") as f64 / 1000.0;
            let (scheduled, done, ok) = (us(3), us(5), matches!(f[8], "ok" | "missing"));
            !ok && scheduled >= t_inject as f64 - 2000.0 && done < t_inject as f64 - interval_ms - bound_ms
        })
        .collect();
    assert!(too_early.is_empty(), "failed before t_inject {t_inject}: {too_early:?}");
}
