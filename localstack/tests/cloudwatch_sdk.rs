//! CloudWatch through the official `aws-sdk-cloudwatch` crate (Smithy RPC v2 CBOR): alarms
//! are created, listed and deleted; a heartbeat alarm with missing data treated as
//! breaching goes to ALARM once the heartbeats stop; and an FIS experiment with that alarm
//! as its stop condition is stopped by it — the dead man's switch, seen from the stack.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic};
use common::{app_subnets_in, Env};
use serde_json::json;

async fn client(env: &Env) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&common::sdk_loader(&env.ls).load().await)
}

fn dimension() -> Dimension {
    Dimension::builder().name("RunId").value("r1").build()
}

async fn beat(cw: &aws_sdk_cloudwatch::Client) {
    cw.put_metric_data()
        .namespace("drdrill")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Heartbeat")
                .dimensions(dimension())
                .value(1.0)
                .storage_resolution(1)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
}

/// A heartbeat alarm: SampleCount < 1 in each of 3 periods of 1 s, missing data breaching.
async fn put_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str, period: i32) -> Result<(), String> {
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("drdrill")
        .metric_name("Heartbeat")
        .dimensions(dimension())
        .statistic(Statistic::SampleCount)
        .period(period)
        .evaluation_periods(3)
        .datapoints_to_alarm(3)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .treat_missing_data("breaching")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {}", e.code().unwrap_or("?"), e.message().unwrap_or("")))
}

async fn state(cw: &aws_sdk_cloudwatch::Client, name: &str) -> Option<StateValue> {
    let out = cw
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("DescribeAlarms");
    out.metric_alarms().first().and_then(|a| a.state_value().cloned())
}

/// The alarm's life cycle through the SDK: created INSUFFICIENT_DATA with its ARN and
/// definition; while heartbeats come every 300 ms it goes to OK; when they stop, ALARM
/// after the 3 s of silence it allows (within one more period); a period under 10 s is
/// refused where the stack does not allow short periods (PutMetricAlarm's documented
/// 10/20/30/60n); DeleteAlarms of an unknown name is ResourceNotFound and deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_alarm_fires_after_the_silence() {
    let env = Env::multi_az().await;
    let cw = client(&env).await;
    let strict = put_alarm(&cw, "hb", 1)
        .await
        .expect_err("multi-az.yaml does not allow 1 s periods");
    assert!(
        strict.starts_with("InvalidParameterValue") && strict.contains("Period"),
        "{strict}"
    );

    let mut stack = drdrill_localstack::Stack::load(&common::shipped_stack("multi-az")).expect("stack");
    stack.speedups.short_alarm_periods = true;
    let env = Env::start_stack(stack).await;
    let cw = client(&env).await;
    beat(&cw).await;
    put_alarm(&cw, "hb", 1).await.expect("PutMetricAlarm");
    let out = cw
        .describe_alarms()
        .alarm_name_prefix("h")
        .send()
        .await
        .expect("DescribeAlarms");
    let a = &out.metric_alarms()[0];
    assert_eq!(
        a.alarm_arn(),
        Some("arn:aws:cloudwatch:us-east-1:000000000000:alarm:hb")
    );
    assert_eq!(a.state_value(), Some(&StateValue::InsufficientData));
    assert_eq!(
        (a.period(), a.evaluation_periods(), a.threshold()),
        (Some(1), Some(3), Some(1.0))
    );
    assert_eq!(a.treat_missing_data(), Some("breaching"));
    assert_eq!(a.dimensions(), [dimension()]);

    let started = Instant::now();
    let mut ok_seen = false;
    while started.elapsed() < Duration::from_secs(4) {
        beat(&cw).await;
        ok_seen |= state(&cw, "hb").await == Some(StateValue::Ok);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(ok_seen, "heartbeats every 300 ms keep the alarm OK");
    assert_eq!(state(&cw, "hb").await, Some(StateValue::Ok));
    let silent = Instant::now();
    common::wait_until(Duration::from_secs(6), "the alarm fires", || async {
        state(&cw, "hb").await == Some(StateValue::Alarm)
    })
    .await;
    let took = silent.elapsed();
    assert!(
        took >= Duration::from_millis(2_600) && took <= Duration::from_millis(4_500),
        "ALARM after {took:?} of silence (3 periods of 1 s, evaluated once a period)"
    );

    let e = cw
        .delete_alarms()
        .alarm_names("hb")
        .alarm_names("nope")
        .send()
        .await
        .expect_err("unknown name");
    assert_eq!(e.code(), Some("ResourceNotFound"));
    assert_eq!(state(&cw, "hb").await, Some(StateValue::Alarm), "nothing deleted");
    cw.delete_alarms().alarm_names("hb").send().await.expect("DeleteAlarms");
    assert_eq!(state(&cw, "hb").await, None);
}

/// FIS watches a stop condition's CloudWatch alarm: an experiment whose 30 s network cut
/// has the heartbeat alarm as its stop condition ends `stopped` once the heartbeats stop,
/// with the alarm named in its reason, and the cut is reverted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_is_stopped_by_its_alarm() {
    let mut stack = drdrill_localstack::Stack::load(&common::shipped_stack("multi-az")).expect("stack");
    stack.speedups.short_alarm_periods = true;
    let env = Env::start_stack(stack).await;
    env.wait_all_healthy().await;
    let cw = client(&env).await;
    beat(&cw).await;
    put_alarm(&cw, "switch", 1).await.expect("PutMetricAlarm");
    let arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:switch";
    let template = json!({
        "targets": {"Subnets": app_subnets_in("us-east-1c")},
        "actions": {"Cut": {"actionId": "aws:network:disrupt-connectivity",
                            "parameters": {"duration": "PT30S", "scope": "all"},
                            "targets": {"Subnets": "Subnets"}}},
        "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": arn}]
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    env.wait_fault_applied(&eid, "Cut", Duration::from_secs(2)).await;
    // The heartbeats stop now: 3 s of silence, then one period, then FIS stops it.
    env.wait_experiment(&eid, "stopped", Duration::from_secs(8)).await;
    let exp = env.fis.get_experiment().id(&eid).send().await.expect("GetExperiment");
    let reason = exp
        .experiment()
        .and_then(|e| e.state())
        .and_then(|s| s.reason())
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains(arn), "{reason}");
    assert_eq!(env.truth_of("fault_reverted").await.len(), 1, "the cut is reverted");
    assert!(!env.ls.world.is_blocked("subnet-app-1c"));
}
