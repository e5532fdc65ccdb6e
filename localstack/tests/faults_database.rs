//! `aws:rds:failover-db-cluster` under continuous writes through the load balancer: a
//! synchronous Multi-AZ standby loses nothing; an asynchronous replica loses exactly the
//! acknowledged writes inside its lag window, and the ground truth names them.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{db_cluster, read_back, str_of, t_ms, wait_until, Env, Writer};
use serde_json::{json, Value};

fn failover_template() -> Value {
    json!({
        "targets": {"Cluster": db_cluster()},
        "actions": {"Failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Cluster"}}}
    })
}

/// Runs a failover while `writer` writes; returns the failover's ground-truth event once
/// the experiment completed and writes are acknowledged again afterwards.
async fn fail_over_under_writes(env: &Env, writer: &Writer) -> Value {
    let tid = env.create_template(&failover_template()).await;
    let eid = env.start_experiment(&tid).await;
    env.wait_fault_applied(&eid, "Failover", Duration::from_secs(2)).await;
    env.wait_experiment(&eid, "completed", Duration::from_secs(5)).await;
    let failovers = env.truth_of("db_failover").await;
    assert_eq!(failovers.len(), 1, "{failovers:?}");
    let failover = failovers[0].clone();
    assert_eq!(str_of(&failover, "from"), "drill-db-1");
    assert_eq!(str_of(&failover, "to"), "drill-db-2");
    let t_failover = t_ms(&failover);
    wait_until(Duration::from_secs(5), "writes are acknowledged again after the failover", || async {
        writer.acked().iter().filter(|a| a.t_ms > t_failover).count() >= 20
    })
    .await;
    failover
}

/// Multi-AZ (synchronous standby): while one client writes continuously through the load
/// balancer, a failover refuses writes for a while but every write that got a 2xx can be
/// read back afterwards with its content, and the ground-truth failover lost nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_az_failover_loses_no_acknowledged_write() {
    let env = Env::multi_az().await;
    let writer = Writer::start(env.lb(), "maz");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async { writer.acked().len() >= 20 }).await;
    let failover = fail_over_under_writes(&env, &writer).await;
    let (acked, attempts) = writer.finish().await;
    assert!(acked.len() < attempts, "some writes were refused during the failover");
    let t_failover = t_ms(&failover);
    assert!(acked.iter().any(|a| a.t_ms < t_failover) && acked.iter().any(|a| a.t_ms > t_failover));

    assert_eq!(failover["lost_write_ids"], json!([]), "ground truth: nothing lost");
    let missing = read_back(&env, &acked).await;
    assert!(missing.is_empty(), "acknowledged writes missing: {missing:?}");
    let availability: Vec<bool> = env.truth_of("db_availability").await.iter().map(|e| e["available"] == true).collect();
    assert_eq!(availability, [false, true], "the database was unavailable once, then available");
}

/// Async replica (1 s lag): after a failover under continuous writes, the ground truth's
/// lost_write_ids is exactly the set of acknowledged writes that can no longer be read back
/// (GET → 404), it is not empty, and every lost write was acknowledged within the lag
/// window before the failover; every other acknowledged write reads back intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_replica_failover_loses_exactly_the_lag_window() {
    let env = Env::start(common::test_stack("async-replica")).await;
    env.wait_all_healthy().await;
    let lag = env.ls.world.stack.database.replica_lag.expect("replica lag").0.as_millis() as i64;
    let writer = Writer::start(env.lb(), "async");
    // Write for longer than the lag so that some writes have been replicated.
    wait_until(Duration::from_secs(5), "writes span more than the replica lag", || async {
        let acked = writer.acked();
        acked.len() >= 20 && acked.last().unwrap().t_ms - acked[0].t_ms > lag + 500
    })
    .await;
    let failover = fail_over_under_writes(&env, &writer).await;
    let (acked, _) = writer.finish().await;

    let lost: BTreeSet<String> = failover["lost_write_ids"]
        .as_array()
        .expect("lost_write_ids")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let missing = read_back(&env, &acked).await;
    assert!(!missing.is_empty(), "an async failover loses the lag window");
    assert_eq!(lost, missing, "ground truth names exactly the unreadable acknowledged writes");

    let t_failover = t_ms(&failover);
    for a in acked.iter().filter(|a| lost.contains(&a.id)) {
        assert!(a.t_ms >= t_failover - lag - 100 && a.t_ms <= t_failover + 1000, "{} acked in the lag window", a.id);
    }
    let replicated = acked.iter().filter(|a| a.t_ms < t_failover - lag - 100).count();
    assert!(replicated > 0, "writes older than the lag survived");
}
