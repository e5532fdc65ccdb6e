//! Stop conditions in FIS templates reach FIS exactly as written.

mod support;

use support::scenario::*;
use support::stack::*;

/// `aws:cloudwatch:alarm` stop conditions (a real CloudWatch alarm ARN and a local
/// `drdrill:serving-false-for-…` alarm) are passed through unchanged by the harness's
/// CreateExperimentTemplate call: the template FIS stores has the same stop conditions,
/// in the same order, and the run tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_stop_conditions_are_passed_through_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&fast_stack(dir.path())).await;
    let clients = drdrill::aws::Clients::local(&ls.endpoint_url(), "us-east-1").await;
    let mut template: serde_json::Value = serde_json::from_str(&repo_template("az-long-partition.json")).unwrap();
    let stop_conditions = serde_json::json!([
        { "source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:HighErrorRate" },
        { "source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:drdrill:serving-false-for-PT5S" }
    ]);
    template["stopConditions"] = stop_conditions.clone();
    let id = drdrill::fault::create_template(&clients, &template, "run-1")
        .await
        .unwrap();
    // The template as the stack stores it, in the shape CreateExperimentTemplate took it.
    let stored = serde_json::to_value(ls.fis.get_template(&id).unwrap().input).unwrap();
    assert_eq!(stored["stopConditions"], stop_conditions);
    assert_eq!(stored["tags"][drdrill::fault::RUN_TAG], "run-1");
    ls.shutdown().await;
}
