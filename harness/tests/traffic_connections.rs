//! Connection policies and failure classes against a real local HTTP server.

mod support;

use std::time::Duration;

use drdrill::traffic::{ConnectionPolicy, FailureCounts, Prober, RunClock, TrafficOutcome};
use support::traffic::{config, Mode, TestServer, SERIAL};
use support::wait::wait_for;

/// Runs 1 s of traffic at 100/s with `connection`; returns the outcome, the number of
/// TCP connections the server accepted and the longest a connection was used.
async fn run_for_one_second(connection: ConnectionPolicy) -> (TrafficOutcome, u64, Duration) {
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(server.base_url(), 100.0, connection);
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcome = handle.stop().await;
    assert_eq!(outcome.probes.failed, 0);
    assert_eq!(server.requests(), outcome.probes.sent);
    (outcome, server.connections(), server.longest_connection_use())
}

/// With `KeepAlive { max_age: 200ms }` connections are reused but replaced
/// every 200 ms: over 1 s the server sees one connection per 200 ms or so (the
/// requests come one at a time at 100/s), far fewer than requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_rotated_after_max_age() {
    let _serial = SERIAL.lock().await;
    let max_age = Duration::from_millis(200);
    let (outcome, connections, longest_use) = run_for_one_second(ConnectionPolicy::KeepAlive { max_age }).await;
    // No request went out on a connection older than max_age; 50 ms for the request to
    // reach the server's reading task.
    assert!(
        longest_use < max_age + Duration::from_millis(50),
        "used for {longest_use:?}"
    );
    assert!(
        outcome.connections_aged_out >= 3,
        "{} aged out",
        outcome.connections_aged_out
    );
    assert!(connections >= 4, "{connections} connections");
    assert_eq!(connections, outcome.connections_opened);
    assert!(
        connections * 4 <= outcome.probes.sent,
        "{connections} connections for {} requests",
        outcome.probes.sent
    );
}

/// With `Fresh` every request opens its own TCP connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_opens_one_connection_per_request() {
    let _serial = SERIAL.lock().await;
    let (outcome, connections, _) = run_for_one_second(ConnectionPolicy::Fresh).await;
    assert!(outcome.probes.sent >= 90);
    assert_eq!(connections, outcome.probes.sent);
}

/// With a long `max_age` a handful of pooled connections carry all requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_max_age_keeps_few_connections() {
    let _serial = SERIAL.lock().await;
    let (outcome, connections, _) = run_for_one_second(ConnectionPolicy::KeepAlive {
        max_age: Duration::from_secs(60),
    })
    .await;
    assert_eq!(outcome.connections_aged_out, 0);
    assert!(outcome.probes.sent >= 90);
    assert!(connections <= 3, "{connections} connections");
}

/// 503 answers count as `status_5xx`, a closed listener as `connect`
/// failures, each in the buckets of the probes' scheduled times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_classified() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = RunClock::start();
    let cfg = config(server.base_url(), 100.0, ConnectionPolicy::Fresh);
    let handle = Prober::start(cfg, clock, dir.path()).expect("start prober");
    let live = handle.live();
    wait_for("10 healthy probes", Duration::from_secs(5), || async {
        live.totals().ok >= 10
    })
    .await;

    server.set_mode(Mode::Unavailable);
    let unavailable_from = clock.now_unix_ms();
    wait_for("10 failures", Duration::from_secs(5), || async {
        live.totals().failed >= 10
    })
    .await;
    server.close_listener().await;
    let refused_from = clock.now_unix_ms();
    let failed_before = live.totals().failed;
    wait_for("10 more failures", Duration::from_secs(5), || async {
        live.totals().failed >= failed_before + 10
    })
    .await;
    let outcome = handle.stop().await;

    let mut before = FailureCounts::default();
    let mut unavailable = FailureCounts::default();
    let mut refused = FailureCounts::default();
    for bucket in &outcome.probes.buckets {
        // One bucket of slack on each switch: the switch is not bucket-aligned.
        if bucket.start_unix_ms + 10 < unavailable_from {
            before.merge(&bucket.failures);
        } else if bucket.start_unix_ms > unavailable_from && bucket.start_unix_ms + 10 < refused_from {
            unavailable.merge(&bucket.failures);
        } else if bucket.start_unix_ms > refused_from {
            refused.merge(&bucket.failures);
        }
    }
    assert_eq!(before.total(), 0, "{before:?}");
    assert!(unavailable.status_5xx >= 5, "{unavailable:?}");
    assert_eq!(
        unavailable.total(),
        u64::from(unavailable.status_5xx),
        "{unavailable:?}"
    );
    assert!(refused.connect >= 5, "{refused:?}");
    assert_eq!(refused.total(), u64::from(refused.connect), "{refused:?}");
    // 503s still name who answered.
    assert!(outcome.probes.by_served_by.values().sum::<u64>() >= outcome.probes.ok + u64::from(unavailable.status_5xx));
}
