//! `aws:rds:failover-db-cluster` under continuous writes through the load balancer: a
//! synchronous Multi-AZ standby loses nothing; an asynchronous replica loses exactly the
//! acknowledged writes inside its lag window, and the ground truth names them.

mod common;

use drdrill_localstack::network::Scope;
use std::collections::BTreeSet;
use std::time::Duration;

use common::{db_cluster, read_back, str_of, t_ms, wait_until, Ack, Env, Writer};
use serde_json::{json, Value};

/// How long writes may take to be acknowledged again after a failover: the failover
/// itself, then up to one endpoint TTL for which an app keeps sending to the old writer
/// (see `the_old_writer_is_read_only_until_the_endpoint_ttl_runs_out`), plus 3 s for 20
/// writes at the writer's pace.
fn recovery_bound(env: &Env) -> Duration {
    let db = &env.ls.world.stack.database;
    db.failover_duration.0 + db.endpoint_ttl.0 + Duration::from_secs(3)
}

fn failover_template() -> Value {
    json!({
        "targets": {"Cluster": db_cluster()},
        "actions": {"Failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Cluster"}}}
    })
}

/// Runs a failover while `writer` writes; returns the failover's ground-truth event once
/// the experiment completed and writes are acknowledged again afterwards.
async fn fail_over_under_writes(env: &Env, writer: &Writer, new_writer: &str) -> Value {
    let tid = env.create_template(&failover_template()).await;
    let eid = env.start_experiment(&tid).await;
    env.wait_fault_applied(&eid, "Failover", Duration::from_secs(2)).await;
    env.wait_experiment(&eid, "completed", Duration::from_secs(5)).await;
    let failovers = env.truth_of("db_failover").await;
    assert_eq!(failovers.len(), 1, "{failovers:?}");
    let failover = failovers[0].clone();
    assert_eq!(str_of(&failover, "from"), "drill-db-1");
    assert_eq!(str_of(&failover, "to"), new_writer);
    let t_failover = t_ms(&failover);
    wait_until(
        recovery_bound(env),
        "writes are acknowledged again after the failover",
        || async { writer.acked().iter().filter(|a| a.t_ms > t_failover).count() >= 20 },
    )
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
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() >= 20
    })
    .await;
    let failover = fail_over_under_writes(&env, &writer, "drill-db-2").await;
    let (acked, attempts) = writer.finish().await;
    assert!(acked.len() < attempts, "some writes were refused during the failover");
    let t_failover = t_ms(&failover);
    assert!(acked.iter().any(|a| a.t_ms < t_failover) && acked.iter().any(|a| a.t_ms > t_failover));

    assert_eq!(failover["lost_write_ids"], json!([]), "ground truth: nothing lost");
    let missing = read_back(&env, &acked).await;
    assert!(missing.is_empty(), "acknowledged writes missing: {missing:?}");
    let availability: Vec<bool> = env
        .truth_of("db_availability")
        .await
        .iter()
        .map(|e| e["available"] == true)
        .collect();
    assert_eq!(
        availability,
        [false, true],
        "the database was unavailable once, then available"
    );
}

/// Async replica (1 s lag): after a failover under continuous writes, the ground truth's
/// lost_write_ids is exactly the set of acknowledged writes that can no longer be read back
/// (GET → 404), it is not empty, and every lost write was acknowledged within the lag
/// window before the failover; every other acknowledged write reads back intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_replica_failover_loses_exactly_the_lag_window() {
    let (env, lag, writer) = writing_past_the_lag("async").await;
    let failover = fail_over_under_writes(&env, &writer, "drill-db-2").await;
    let (acked, _) = writer.finish().await;

    let lost = lost_ids(&failover);
    let missing = read_back(&env, &acked).await;
    assert!(!missing.is_empty(), "an async failover loses the lag window");
    assert_eq!(
        lost, missing,
        "ground truth names exactly the unreadable acknowledged writes"
    );

    let t_failover = t_ms(&failover);
    for a in acked.iter().filter(|a| lost.contains(&a.id)) {
        assert!(
            a.t_ms >= t_failover - lag - 100 && a.t_ms <= t_failover + 1000,
            "{} acked in the lag window",
            a.id
        );
    }
    let replicated = acked.iter().filter(|a| a.t_ms < t_failover - lag - 100).count();
    assert!(replicated > 0, "writes older than the lag survived");
}

/// The async-replica stack, healthy, with a writer (ids prefixed `prefix`) that has
/// written for longer than the replica lag (so that some writes have been replicated);
/// also returns the lag in ms.
async fn writing_past_the_lag(prefix: &str) -> (Env, i64, Writer) {
    let env = Env::start(common::shipped_stack("async-replica")).await;
    env.wait_all_healthy().await;
    let lag = env
        .ls
        .world
        .stack
        .database
        .replica_lag
        .expect("replica lag")
        .0
        .as_millis() as i64;
    let writer = Writer::start(env.lb(), prefix);
    wait_until(
        Duration::from_secs(5),
        "writes span more than the replica lag",
        || async {
            let acked = writer.acked();
            acked.len() >= 20 && acked.last().unwrap().t_ms - acked[0].t_ms > lag + 500
        },
    )
    .await;
    (env, lag, writer)
}

/// Once `writer` has had 20 writes acknowledged after `failover`, stops it; returns its
/// acknowledged writes, the failover's lost write ids and the acknowledged writes that do
/// not read back.
async fn lost_and_missing(
    env: &Env,
    writer: Writer,
    failover: &Value,
) -> (Vec<Ack>, BTreeSet<String>, BTreeSet<String>) {
    let t_failover = t_ms(failover);
    wait_until(
        recovery_bound(env),
        "writes are acknowledged after the failover",
        || async { writer.acked().iter().filter(|a| a.t_ms > t_failover).count() >= 20 },
    )
    .await;
    let (acked, _) = writer.finish().await;
    let missing = read_back(env, &acked).await;
    (acked, lost_ids(failover), missing)
}

/// Ids of a failover's `lost_write_ids`.
fn lost_ids(failover: &Value) -> BTreeSet<String> {
    failover["lost_write_ids"]
        .as_array()
        .expect("lost_write_ids")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Multi-AZ, failover while the standby reboots: writes acknowledged by the primary alone
/// while the standby was down are lost, and the ground truth's lost_write_ids is exactly the
/// set of acknowledged writes that cannot be read back (no placeholder ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_during_standby_reboot_reports_exactly_the_lost_writes() {
    let env = Env::multi_az().await;
    let writer = Writer::start(env.lb(), "reboot");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() >= 20
    })
    .await;
    let template = json!({
        "targets": {
            "Standby": {"resourceType": "aws:rds:db",
                        "resourceArns": ["arn:aws:rds:us-east-1:000000000000:db:drill-db-2"],
                        "selectionMode": "ALL"},
            "Cluster": db_cluster()
        },
        "actions": {
            "RebootStandby": {"actionId": "aws:rds:reboot-db-instances", "targets": {"DBInstances": "Standby"}},
            "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT0.5S"}},
            "Failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Cluster"}, "startAfter": ["Wait"]}
        }
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    env.wait_experiment(&eid, "completed", Duration::from_secs(6)).await;
    let failovers = env.truth_of("db_failover").await;
    assert_eq!(failovers.len(), 1);
    let (_, lost, missing) = lost_and_missing(&env, writer, &failovers[0]).await;
    assert_eq!(
        lost, missing,
        "ground truth names exactly the unreadable acknowledged writes"
    );
}

/// Async replica: black-holing the writer's subnet also cuts replication, so failing over
/// 1.5 s into the cut (longer than the 1 s lag) still loses the writes acknowledged in the
/// lag window before the cut; the ground truth names exactly those, and they read back 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_replication_stops_when_the_writer_is_cut_off() {
    let (env, lag, writer) = writing_past_the_lag("cut").await;
    let template = json!({
        "targets": {
            "WriterSubnet": {"resourceType": "aws:ec2:subnet",
                             "resourceTags": {"Tier": "db"},
                             "filters": [{"path": "SubnetId", "values": ["subnet-db-1a"]}],
                             "selectionMode": "ALL"},
            "Cluster": db_cluster()
        },
        "actions": {
            "Cut": {"actionId": "aws:network:disrupt-connectivity", "parameters": {"duration": "PT3S"},
                    "targets": {"Subnets": "WriterSubnet"}},
            "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1.5S"}},
            "Failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Cluster"}, "startAfter": ["Wait"]}
        }
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    let t_cut = env.wait_fault_applied(&eid, "Cut", Duration::from_secs(2)).await;
    env.wait_experiment(&eid, "completed", Duration::from_secs(6)).await;
    let failovers = env.truth_of("db_failover").await;
    assert_eq!(failovers.len(), 1);
    let t_failover = t_ms(&failovers[0]);
    assert!(
        t_failover - t_cut > lag,
        "the failover came later than the lag after the cut"
    );
    let (acked, lost, missing) = lost_and_missing(&env, writer, &failovers[0]).await;
    assert!(
        !lost.is_empty(),
        "the writes in the lag window before the cut never reached the replica"
    );
    assert_eq!(
        lost, missing,
        "ground truth names exactly the unreadable acknowledged writes"
    );
    for a in acked.iter().filter(|a| lost.contains(&a.id)) {
        assert!(
            a.t_ms >= t_cut - lag - 100 && a.t_ms <= t_cut + 1000,
            "{} acked in the lag window before the cut",
            a.id
        );
    }
}

/// Single node: a "failover" restarts the one node; writes are refused for the failover
/// duration (ground truth: unavailable, then available again about that long after) and
/// every acknowledged write reads back afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_failover_restarts_without_loss() {
    let env = Env::start(common::test_stack("single")).await;
    env.wait_all_healthy().await;
    let writer = Writer::start(env.lb(), "single");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() >= 20
    })
    .await;
    let failover = fail_over_under_writes(&env, &writer, "drill-db-1").await;
    let (acked, attempts) = writer.finish().await;
    assert!(acked.len() < attempts, "writes were refused during the restart");
    assert_eq!(failover["lost_write_ids"], json!([]));
    let avail = env.truth_of("db_availability").await;
    assert_eq!(avail.len(), 2, "{avail:?}");
    let outage = t_ms(&avail[1]) - t_ms(&avail[0]);
    let full = env.ls.world.stack.database.failover_duration.0.as_millis() as i64;
    assert!(
        (full - 50..=full + 300).contains(&outage),
        "unavailable for {outage} ms (failover duration {full} ms)"
    );
    let missing = read_back(&env, &acked).await;
    assert!(missing.is_empty(), "acknowledged writes missing: {missing:?}");
}

/// Aurora-like automatic failover: with the writer's subnet cut off and no failover
/// asked for, the cluster promotes its standby once the writer has been unreachable for
/// `auto_failover_after` (1 s here), not before; writes through the load balancer are
/// acknowledged again by the new writer while the cut lasts, and every acknowledged
/// write reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_writer_fails_over_by_itself() {
    let detection = Duration::from_secs(1);
    let mut stack =
        drdrill_localstack::Stack::load(&common::shipped_stack("multi-az")).unwrap_or_else(|e| panic!("{e}"));
    stack.database.auto_failover_after = drdrill_localstack::config::Dur(detection);
    let env = Env::start_stack(stack).await;
    env.wait_all_healthy().await;
    let writer = Writer::start(env.lb(), "auto");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() >= 20
    })
    .await;
    let cut = vec!["subnet-db-1a".to_string()];
    let t_cut = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    env.ls.world.block_subnets(&cut, Scope::All);
    let failover = common::wait_for(Duration::from_secs(10), "the automatic failover", || async {
        env.truth_of("db_failover").await.first().cloned()
    })
    .await;
    assert_eq!(str_of(&failover, "from"), "drill-db-1");
    assert_eq!(str_of(&failover, "to"), "drill-db-2");
    assert_eq!(
        failover["lost_write_ids"],
        json!([]),
        "a synchronous standby loses nothing"
    );
    let t_failover = t_ms(&failover);
    assert!(
        t_failover - t_cut >= detection.as_millis() as i64,
        "failed over {} ms after the cut, before the detection time",
        t_failover - t_cut
    );
    wait_until(
        Duration::from_secs(10),
        "writes are acknowledged again, by the new writer, while the old one is still cut off",
        || async { writer.acked().iter().filter(|a| a.t_ms > t_failover).count() >= 20 },
    )
    .await;
    assert!(env.ls.world.is_blocked("subnet-db-1a"), "the cut still holds");
    env.ls.world.unblock_subnets(&cut, Scope::All);
    let (acked, _) = writer.finish().await;
    let missing = read_back(&env, &acked).await;
    assert!(missing.is_empty(), "acknowledged writes missing: {missing:?}");
    assert_eq!(env.truth_of("db_failover").await.len(), 1, "one failover only");
}

/// PUT `/items/{id}` straight to an app instance (not through the load balancer); the
/// status and body, or `None` when no answer came.
async fn put_via(addr: std::net::SocketAddr, id: &str) -> Option<(u16, String)> {
    let r = common::client(Duration::from_secs(3))
        .put(format!("http://{addr}/items/{id}"))
        .body("x")
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.unwrap_or_default()))
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// An Aurora-like failover seen from one app instance: it resolves the writer endpoint
/// with its first write (TTL 5 s, the stack's default as Aurora's), the failover fences the
/// old writer (writes fail), the endpoint then flips to the new writer, but the instance
/// keeps sending to the old one — now a reader — until its resolution is 5 s old, so its
/// writes are refused as read-only in between; an instance that resolves only after the
/// flip writes at once. The ground truth says the stack serves again only when the
/// read-only window ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_writer_is_read_only_until_the_endpoint_ttl_runs_out() {
    let env = Env::multi_az().await;
    let ttl = env.ls.world.stack.database.endpoint_ttl.0.as_millis() as i64;
    assert_eq!(ttl, 5_000, "Aurora's endpoint TTL is the default");
    let app_a = env.ls.world.instance_addr("i-app1a1").expect("i-app1a1");
    let app_b = env.ls.world.instance_addr("i-app1b1").expect("i-app1b1");
    // The instance resolves the endpoint while it handles this write: somewhere between
    // `resolved` and `answered`. Every bound below is taken from the side of that bracket
    // that makes it hold whatever the write's own latency was.
    let resolved = unix_ms();
    assert_eq!(put_via(app_a, "ttl-first").await.map(|r| r.0), Some(201));
    let answered = unix_ms();
    let tid = env.create_template(&failover_template()).await;
    env.start_experiment(&tid).await;

    // (sent, answered, status, body) of every write until one succeeds after a refusal.
    let mut seen: Vec<(i64, i64, u16, String)> = Vec::new();
    let deadline = answered + ttl + 10_000;
    while unix_ms() < deadline {
        let sent = unix_ms();
        if let Some((status, body)) = put_via(app_a, &format!("ttl-{}", seen.len())).await {
            let done = status == 201 && seen.iter().any(|(_, _, s, _)| *s != 201);
            seen.push((sent, unix_ms(), status, body));
            if done {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failover = env.truth_of("db_failover").await;
    assert_eq!(failover.len(), 1, "{failover:?}");
    let t_failover = t_ms(&failover[0]);
    let fenced = seen
        .iter()
        .filter(|(_, t, s, b)| *t > t_failover && *s == 503 && b.contains("FailingOver"));
    assert!(
        fenced.count() > 0,
        "writes fail while the failover fences the old writer: {seen:?}"
    );
    let read_only: Vec<_> = seen
        .iter()
        .filter(|(_, _, s, b)| *s == 503 && b.contains("ReadOnly"))
        .collect();
    assert!(
        !read_only.is_empty(),
        "the old writer, back as a reader, refuses writes: {seen:?}"
    );
    let (_, t_ok, _, _) = seen
        .last()
        .filter(|(_, _, s, _)| *s == 201)
        .expect("writes succeed again");
    assert!(
        *t_ok >= resolved + ttl,
        "the instance kept the old writer until its resolution was {ttl} ms old ({} ms)",
        t_ok - resolved
    );
    // A refusal was handled before the resolution expired, so it was sent before that.
    assert!(
        read_only.iter().all(|(sent, _, _, _)| *sent <= answered + ttl),
        "refusals end with the TTL ({} ms after the resolution at the latest): {read_only:?}",
        answered + ttl - resolved
    );

    assert_eq!(
        put_via(app_b, "ttl-other").await.map(|r| r.0),
        Some(201),
        "an instance that resolves after the flip writes to the new writer"
    );
    let serving_again = env
        .truth_of("serving")
        .await
        .into_iter()
        .filter(|e| t_ms(e) > t_failover && e["serving"] == true)
        .map(|e| t_ms(&e))
        .next()
        .expect("the ground truth says the stack serves again");
    // The stack re-evaluates the endpoint's entries every 5 ms; 500 ms covers a busy machine.
    assert!(
        (resolved + ttl..answered + ttl + 500).contains(&serving_again),
        "serving again when the read-only window ends: {} ms after the resolution began, {} ms after it was answered",
        serving_again - resolved,
        serving_again - answered
    );
}

/// A failover resets the connections to the old writer: a write waiting on a cut-off
/// writer fails at once with the failover (503), not after the app's database timeout
/// (504).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_resets_queries_waiting_on_the_old_writer() {
    let env = Env::multi_az().await;
    let app = env.ls.world.instance_addr("i-app1a1").expect("i-app1a1");
    let cut = vec!["subnet-db-1a".to_string()];
    env.ls.world.block_subnets(&cut, Scope::All);
    let write = tokio::spawn(put_via(app, "reset"));
    wait_until(Duration::from_millis(900), "the write waits on the writer", || async {
        env.ls.world.db_queries_waiting() == 1
    })
    .await;
    env.ls.world.db_failover();
    let (status, body) = write.await.expect("task").expect("an answer");
    assert_eq!((status, body.contains("FailingOver")), (503, true), "{body}");
    env.ls.world.unblock_subnets(&cut, Scope::All);
}
