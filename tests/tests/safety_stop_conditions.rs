//! The local stack's stop condition: an `aws:cloudwatch:alarm` whose ARN names the
//! local alarm `drdrill:serving-false-for-<ISO 8601 duration>` stops the experiment when
//! the stack has not been serving for that long; other alarms never fire locally. A run
//! whose experiment a stop condition stopped is aborted (exit 3).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use drdrill::run::{Interrupt, RunOptions};
use drdrill::verdict::Verdict;
use drdrill_localstack::fis::template::TemplateInput;
use drdrill_localstack::truth::Truth;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const LOCAL_ALARM: &str = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:drdrill:serving-false-for-PT1S";

fn template_with(stop_value: &str) -> serde_json::Value {
    let mut t: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("scenarios/fis/az-power-interruption.json")).unwrap(),
    )
    .unwrap();
    t["stopConditions"] = serde_json::json!([{ "source": "aws:cloudwatch:alarm", "value": stop_value }]);
    t
}

/// The AZ power interruption with the local alarm `serving-false-for-PT1S`: the stack
/// stops serving when the AZ's instances stop and the database fails over, so after a
/// second FIS stops the experiment itself, with the alarm in its reason. The run is
/// aborted (exit 3) with that reason, and every fault was reverted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_alarm_stops_the_experiment_and_aborts_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fis")).unwrap();
    std::fs::write(
        dir.path().join("fis/power-with-alarm.json"),
        serde_json::to_string_pretty(&template_with(LOCAL_ALARM)).unwrap(),
    )
    .unwrap();
    let scenario = std::fs::read_to_string(repo().join("scenarios/az-power-interruption.yaml"))
        .unwrap()
        .replace(
            "../localstack/stacks/multi-az.yaml",
            repo().join("localstack/stacks/multi-az.yaml").to_str().unwrap(),
        )
        .replace("fis/az-power-interruption.json", "fis/power-with-alarm.json");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, scenario).unwrap();
    let loaded = drdrill::scenario::load(&path).unwrap();
    let opts = RunOptions {
        out_dir: dir.path().join("out"),
        yes: false,
        quiet: true,
    };
    let outcome = drdrill::run::run(drdrill::run::Drill::new(loaded, &opts), Interrupt::new())
        .await
        .unwrap();
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Aborted, "{:?}", r.reason);
    assert_eq!(r.exit_code, 3);
    let reason = r.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("stop condition") && reason.contains("serving-false-for-PT1S"),
        "{reason}"
    );
    let exp = r.experiment.as_ref().expect("experiment");
    assert_eq!(exp.status, "stopped");
    let truth = outcome.ground_truth.expect("ground truth");
    let applied: Vec<&Truth> = truth
        .iter()
        .map(|e| &e.what)
        .filter(|w| matches!(w, Truth::FaultApplied { action_id, .. } if action_id != "aws:rds:failover-db-cluster"))
        .collect();
    let reverted = truth
        .iter()
        .filter(
            |e| matches!(&e.what, Truth::FaultReverted { action_id, .. } if action_id != "aws:rds:failover-db-cluster"),
        )
        .count();
    assert!(!applied.is_empty() && reverted == applied.len(), "{truth:#?}");
}

async fn stack() -> drdrill_localstack::LocalStack {
    let stack = drdrill_localstack::Stack::load(&repo().join("localstack/stacks/multi-az.yaml")).unwrap();
    drdrill_localstack::LocalStack::start(
        stack,
        drdrill_localstack::Options {
            endpoint: "127.0.0.1:0".parse().unwrap(),
        },
    )
    .await
    .unwrap()
}

fn input(t: serde_json::Value) -> TemplateInput {
    serde_json::from_value(t).unwrap()
}

/// Stop conditions are checked at CreateExperimentTemplate: an alarm needs an alarm
/// ARN, and a local alarm needs an ISO 8601 duration — each refusal names the culprit.
#[tokio::test]
async fn bad_stop_conditions_are_validation_errors() {
    let ls = stack().await;
    let bad = [
        (
            serde_json::json!([{ "source": "aws:cloudwatch:alarm" }]),
            "needs a CloudWatch alarm ARN",
        ),
        (
            serde_json::json!([{ "source": "aws:cloudwatch:alarm", "value": "HighErrors" }]),
            "\"HighErrors\"",
        ),
        (
            serde_json::json!([{ "source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-soon" }]),
            "serving-false-for-soon",
        ),
        (
            serde_json::json!([{ "source": "aws:sns:topic", "value": "arn:x" }]),
            "aws:sns:topic",
        ),
    ];
    for (conditions, needle) in bad {
        let mut t = template_with(LOCAL_ALARM);
        t["stopConditions"] = conditions;
        let e = ls.fis.create_template(input(t)).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    ls.shutdown().await;
}

/// An alarm the local stack does not evaluate is accepted and never fires: the same
/// fault with a CloudWatch alarm ARN runs to completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_alarms_never_fire_locally() {
    let ls = stack().await;
    let mut t = template_with("arn:aws:cloudwatch:us-east-1:000000000000:alarm:HighErrorRate");
    t["actions"]["Stop-Instances"]["parameters"]["startInstancesAfterDuration"] = serde_json::json!("PT2S");
    t["actions"]["Pause-network-connectivity"]["parameters"]["duration"] = serde_json::json!("PT2S");
    let id = ls.fis.create_template(input(t)).unwrap().id;
    let exp = ls.fis.start_experiment(&id, BTreeMap::new()).unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let s = ls.fis.get_experiment(&exp).unwrap().state.status.to_string();
        if matches!(s.as_str(), "completed" | "stopped" | "failed") {
            break s;
        }
        assert!(Instant::now() < deadline, "the experiment never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, "completed");
    ls.shutdown().await;
}
