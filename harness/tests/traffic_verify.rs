//! The verify phase against a real local HTTP server: it finds exactly the
//! acknowledged writes the server lost, and retries until the grace ends.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use drdrill::traffic::{verify_writes, ConnectionPolicy, Prober, RunClock};
use support::traffic::{config, read_spec, TestServer};

/// After a run of writes, the server "forgets" three acknowledged ids and
/// corrupts a fourth; verify reports exactly those four as lost (ordered by
/// ack time) and every other write as verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_exactly_the_forgotten_writes() {
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(server.base_url(), 200.0, ConnectionPolicy::Fresh);
    cfg.write_ratio = 1.0;
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let outcome = handle.stop().await;
    let acked = outcome.acks.read_all().expect("acks.csv reads back");
    assert!(acked.len() >= 60, "only {} writes acknowledged", acked.len());
    assert_eq!(acked.len() as u64, outcome.probes.ok);

    let mut lost_expected = BTreeSet::new();
    for write in [&acked[3], &acked[17], &acked[acked.len() - 1]] {
        server.forget(&write.id);
        lost_expected.insert(write.id.clone());
    }
    server.put(&acked[30].id, "something else");
    lost_expected.insert(acked[30].id.clone());

    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let verify = verify_writes(
        &server.base_url(),
        &read_spec(),
        None,
        acked.clone(),
        grace,
        Duration::from_secs(1),
    )
    .await
    .expect("verify");
    let took = started.elapsed();

    let lost: BTreeSet<String> = verify.lost.iter().map(|w| w.id.clone()).collect();
    assert_eq!(lost, lost_expected);
    assert_eq!(verify.verified, acked.len() - lost_expected.len());
    assert!(verify.lost.windows(2).all(|w| w[0].acked_unix_ms <= w[1].acked_unix_ms));
    // Missing writes were retried until the grace ended, and not much longer.
    assert!(took >= grace, "gave up after {took:?}");
    assert!(took < grace + Duration::from_secs(1), "took {took:?}");
}

/// A write that is missing (404) at first but appears during the grace
/// period is verified, not lost: reads are retried with backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_reappears_within_the_grace_is_verified() {
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(server.base_url(), 100.0, ConnectionPolicy::Fresh);
    cfg.write_ratio = 1.0;
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let acked = handle.stop().await.acks.read_all().expect("acks.csv reads back");
    assert!(acked.len() >= 10);

    let late = acked[5].clone();
    server.forget(&late.id);
    let restore = {
        let base = server.base_url();
        let late = late.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let client = reqwest::Client::builder().no_proxy().build().expect("client");
            client
                .put(format!("{base}/items/{}", late.id))
                .body(late.body.clone())
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    let verify = verify_writes(
        &server.base_url(),
        &read_spec(),
        Some(&[200]),
        acked.clone(),
        Duration::from_secs(2),
        Duration::from_secs(1),
    )
    .await
    .expect("verify");
    assert_eq!(restore.await.expect("join").expect("restore write"), 201);
    assert_eq!(verify.lost, Vec::new());
    assert_eq!(verify.verified, acked.len());
}
