//! Stopping an experiment while FIS throttles: `drdrill::fault::stop_and_wait` still
//! stops it and waits until FIS says it ended, and while its GetExperiment calls are
//! throttled it backs off (each wait after a failed call at least double the one before,
//! up to the cadence's `max_backoff`) instead of polling at its normal pace.

mod common;

use std::time::Duration;

use drdrill::scenario::Cadence;

/// GetExperiment: one token, refilled every 2 s; everything else unthrottled.
const QUOTAS: &str = r#"
quotas:
  defaults: none
  buckets:
    - { service: fis, operations: GetExperiment, capacity: 1, refill_per_second: 0.5 }
"#;

/// Stops a running experiment under a GetExperiment quota far below the local cadence
/// (10 calls/s): it ends `stopped`, throttled calls are in the call log, and the waits
/// between failed calls grow as documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_under_throttling_backs_off_and_still_stops() {
    let dir = tempfile::tempdir().unwrap();
    let stack_path = common::multi_az_with(dir.path(), QUOTAS);
    let stack = drdrill_localstack::Stack::load(&stack_path).unwrap_or_else(|e| panic!("{e}"));
    let local = drdrill_localstack::LocalStack::start(
        stack,
        drdrill_localstack::Options {
            endpoint: (std::net::Ipv4Addr::LOCALHOST, 0).into(),
        },
    )
    .await
    .expect("local stack starts");
    // The SDK's own retries off: every attempt in the call log is one of stop_and_wait's
    // calls, so the waits between them are its own.
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(local.endpoint_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("t", "t", None, None, "test"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let clients = drdrill::aws::Clients::from_conf(&conf);
    // A long partition, so that it is still running when the stop comes.
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::workspace("scenarios/fis/az-long-partition.json")).unwrap(),
    )
    .unwrap();
    let template_id = drdrill::fault::create_template(&clients, &template, "stop-backoff")
        .await
        .expect("template");
    let started = drdrill::fault::start(&clients, &template_id, "stop-backoff", "stop-backoff")
        .await
        .expect("experiment starts");

    // Spend GetExperiment's only token, so that stop_and_wait's first polls are throttled.
    clients
        .fis
        .get_experiment()
        .id(&started.experiment_id)
        .send()
        .await
        .expect("the bucket's one token");
    let cadence = Cadence::LOCAL;
    let status = drdrill::fault::stop_and_wait(&clients, &started.experiment_id, Duration::from_secs(30), &cadence)
        .await
        .expect("the experiment stops despite the throttling");
    assert_eq!(status, "stopped");

    let calls: Vec<_> = clients
        .calls
        .pending()
        .into_iter()
        .filter(|c| c.operation == "GetExperiment")
        .collect();
    let throttled = calls
        .iter()
        .filter(|c| c.error_code.as_deref() == Some("ThrottlingException"))
        .count();
    assert!(throttled >= 2, "the quota did not throttle the polling: {calls:#?}");
    // After the k-th failure in a row, the next call waits at least
    // min(fis cadence × 2^k, max_backoff) (timers never fire early).
    let mut streak = 0u32;
    for pair in calls.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.error_code.is_some() {
            streak += 1;
            let least = (cadence.fis * 2u32.pow(streak)).min(cadence.max_backoff);
            let gap = Duration::from_millis(u64::try_from(b.t_unix_ms - a.t_unix_ms).unwrap_or(0));
            assert!(
                gap + Duration::from_millis(2) >= least,
                "after {streak} failed call(s) the next came {gap:?} later, less than {least:?}: {calls:#?}"
            );
        } else {
            streak = 0;
        }
    }
    drdrill::fault::delete_template(&clients, &template_id).await;
    local.shutdown().await;
}
