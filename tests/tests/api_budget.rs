//! End to end: a whole drill under tight API quotas. The AZ network partition runs
//! against the shipped multi-AZ stack with a `quotas:` section that throttles ELBv2
//! DescribeTargetHealth and FIS GetExperiment far below the harness's local cadence; the
//! drill still completes with the verdict it has without throttling, the journal and
//! report.json carry the throttled calls and blind intervals (service and operation),
//! summary.md says so, and the experiment ended completed with every fault reverted.

mod common;

use common::workspace;

use drdrill::report::blind::BlindInterval;
use drdrill::verdict::Verdict;
use drdrill_localstack::truth::Truth;

/// Buckets well below the harness's local default cadence (10 calls/s each), refilling
/// slower than the SDK's own retries (3 attempts) can wait, so throttling reaches the
/// observers.
const TIGHT_QUOTAS: &str = r#"
quotas:
  defaults: none
  buckets:
    - { service: elasticloadbalancing, operations: DescribeTargetHealth, capacity: 8, refill_per_second: 0.2 }
    - { service: fis, operations: GetExperiment, capacity: 3, refill_per_second: 0.25 }
"#;

/// The throttled drill completes (pass, exit 0), reports its blind intervals and leaves
/// nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_under_tight_quotas_completes_and_reports_its_blindness() {
    let dir = tempfile::tempdir().unwrap();
    let stack_path = common::multi_az_with(dir.path(), TIGHT_QUOTAS);
    let scenario = std::fs::read_to_string(workspace("scenarios/az-network-partition.yaml"))
        .unwrap()
        .replace("../localstack/stacks/multi-az.yaml", &stack_path.display().to_string())
        .replace(
            "fis/az-network-partition.json",
            &workspace("scenarios/fis/az-network-partition.json")
                .display()
                .to_string(),
        );
    let scenario_path = dir.path().join("az-network-partition-tight.yaml");
    std::fs::write(&scenario_path, scenario).unwrap();

    let (outcome, _out) = common::run_scenario(&scenario_path).await;
    let r = &outcome.report;
    assert!(r.complete, "{:?}", r.reason);
    assert_eq!(r.verdict, Verdict::Pass, "{:?} {:#?}", r.reason, r.objectives);
    assert_eq!(r.exit_code, 0);

    // The journal has every throttled call, with its service, operation and code.
    let events = std::fs::read_to_string(outcome.run_dir.join("events.jsonl")).unwrap();
    let failed: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "observer_call_failed")
        .collect();
    for (service, operation, code) in [
        ("elasticloadbalancing", "DescribeTargetHealth", "Throttling"),
        ("fis", "GetExperiment", "ThrottlingException"),
    ] {
        assert!(
            failed.iter().any(|e| e["service"] == service
                && e["operation"] == operation
                && e["failure"] == "throttled"
                && e["error_code"] == code),
            "no throttled {operation} in the journal: {failed:#?}; aws-calls.jsonl: {}",
            std::fs::read_to_string(outcome.run_dir.join("aws-calls.jsonl")).unwrap_or_default()
        );
    }

    // report.json shows the blind intervals, per observer, with what they taint.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.run_dir.join("report.json")).unwrap()).unwrap();
    let blind: Vec<BlindInterval> = serde_json::from_value(json["observer_blind"].clone()).expect("observer_blind");
    for (observer, operation) in [("elbv2", "DescribeTargetHealth"), ("fis", "GetExperiment")] {
        let b = blind
            .iter()
            .find(|b| b.observer == observer && b.operation == operation)
            .unwrap_or_else(|| panic!("no blind interval of {observer}: {blind:#?}"));
        assert!(b.throttled_calls >= 1 && b.to_unix_ms >= b.from_unix_ms, "{b:?}");
    }
    let summary = std::fs::read_to_string(outcome.run_dir.join("summary.md")).unwrap();
    assert!(summary.contains("**Observers blind**"), "{summary}");
    assert!(summary.contains("elbv2 DescribeTargetHealth blind"), "{summary}");
    let html = std::fs::read_to_string(outcome.run_dir.join("report.html")).unwrap();
    assert!(
        html.contains(r#"id="blind""#) && html.contains("elbv2 DescribeTargetHealth blind"),
        "report.html does not show the blind intervals"
    );

    // junit.xml counts them, names the figures measured while blind (as report.json
    // does) and marks the RTO case not clean when any was.
    let junit = std::fs::read_to_string(outcome.run_dir.join("junit.xml")).unwrap();
    let count = format!(r#"name="observer_blind_intervals" value="{}""#, blind.len());
    assert!(junit.contains(&count), "{count} not in {junit}");
    let mut tainted: Vec<String> = blind.iter().flat_map(|b| b.measured_while_blind.clone()).collect();
    tainted.sort();
    tainted.dedup();
    let named = format!(r#"name="measured_while_blind" value="{}""#, tainted.join(","));
    assert!(junit.contains(&named), "{named} not in {junit}");
    assert!(junit.contains("elbv2 DescribeTargetHealth blind"), "{junit}");
    // (Every figure an observer gives is part of the RTO's breakdown or its t_inject.)
    if !tainted.is_empty() {
        assert!(
            junit.contains("not clean: measured while an observer was blind"),
            "{junit}"
        );
    }

    // A report rebuilt from the journal alone (as after a killed run: no report.json)
    // keeps every blind interval, with its calls.
    let copy = dir.path().join("rebuilt");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(outcome.run_dir.join("events.jsonl"), copy.join("events.jsonl")).unwrap();
    let rebuilt = drdrill::report::load::load_run(&copy).expect("rebuild from events.jsonl");
    assert!(rebuilt.rebuilt);
    let strip = |b: &[BlindInterval]| -> Vec<(String, String, i64, i64, u32, u32)> {
        b.iter()
            .map(|b| {
                (
                    b.observer.clone(),
                    b.operation.clone(),
                    b.from_unix_ms,
                    b.to_unix_ms,
                    b.failed_calls,
                    b.throttled_calls,
                )
            })
            .collect()
    };
    assert_eq!(strip(&rebuilt.report.observer_blind), strip(&blind));

    // Throttling is not "unreachable": the experiment was followed to its end, and the
    // stack reverted every fault it applied.
    let exp = r.experiment.as_ref().expect("experiment");
    assert_eq!(exp.status, "completed");
    let truth = outcome.ground_truth.as_ref().expect("ground truth");
    let applied = truth
        .iter()
        .filter(|e| matches!(&e.what, Truth::FaultApplied { experiment, .. } if *experiment == exp.id))
        .count();
    let reverted = truth
        .iter()
        .filter(|e| matches!(&e.what, Truth::FaultReverted { experiment, .. } if *experiment == exp.id))
        .count();
    assert!(
        applied >= 1 && reverted == applied,
        "applied {applied}, reverted {reverted}"
    );
}
