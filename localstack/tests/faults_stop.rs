//! StopExperiment in the middle of each action type reverts what the action did, promptly:
//! instances run and answer, subnets are reachable, the database takes writes, the ground
//! truth says the stack serves, and FIS reports the experiment and its actions stopped.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{db_cluster, instances_in, str_of, t_ms, wait_until, Env};
use serde_json::{json, Value};

/// How long the stack may take to be fully restored after StopExperiment (instance boot
/// and a health-check round included).
const RESTORE: Duration = Duration::from_secs(3);

/// Starts `template`, waits until `action` is in force (its fault applied, or running for
/// `aws:fis:wait`), stops the experiment and waits until FIS says `stopped`. Returns the
/// experiment id, the action statuses and the unix ms of the StopExperiment call.
async fn stop_mid(
    env: &Env,
    template: Value,
    action: &str,
    applies_fault: bool,
) -> (String, HashMap<String, String>, i64) {
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    if applies_fault {
        env.wait_fault_applied(&eid, action, Duration::from_secs(2)).await;
    } else {
        wait_until(Duration::from_secs(2), "the action runs", || async {
            env.action_statuses(&eid).await.get(action).map(String::as_str) == Some("running")
        })
        .await;
    }
    let t_stop = drdrill_localstack::truth::now_unix_ms();
    let out = env.fis.stop_experiment().id(&eid).send().await.expect("StopExperiment");
    let status = out
        .experiment()
        .and_then(|e| e.state())
        .and_then(|s| s.status())
        .map(|s| s.as_str().to_string());
    assert!(matches!(status.as_deref(), Some("stopping" | "stopped")), "{status:?}");
    env.wait_experiment(&eid, "stopped", Duration::from_secs(1)).await;
    let actions = env.action_statuses(&eid).await;
    assert_eq!(actions[action], "stopped", "{actions:?}");
    (eid, actions, t_stop)
}

/// Waits (at most [`RESTORE`]) until the stack is whole again: ground truth `serving` is
/// true, every instance is running and answers `/health` directly within 500 ms, and a
/// write through the load balancer is acknowledged. Returns how long it took.
async fn assert_restored(env: &Env) -> Duration {
    let began = Instant::now();
    let direct = common::client(Duration::from_millis(500));
    let instances = env.all_instances();
    let n = std::sync::atomic::AtomicUsize::new(0);
    wait_until(RESTORE, "the stack is restored", || async {
        if env.serving().await != Some(true) || !env.all_running() {
            return false;
        }
        for (_, addr) in &instances {
            match direct.get(format!("http://{addr}/health")).send().await {
                Ok(r) if r.status() == 200 => {}
                _ => return false,
            }
        }
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        env.put_item(&format!("after-stop-{i}"), "x").await == Some(201)
    })
    .await;
    began.elapsed()
}

/// The `fault_reverted` event of the experiment's action, which must exist.
async fn reverted_at(env: &Env, eid: &str, action: &str) -> i64 {
    let ev = env.truth_of("fault_reverted").await;
    let e = ev
        .iter()
        .find(|e| e["experiment"] == eid && e["action"] == action)
        .unwrap_or_else(|| panic!("{action} was reverted: {ev:?}"));
    t_ms(e)
}

/// Stopping during `aws:ec2:stop-instances` with a 60 s restart delay starts the AZ's
/// instances again right away (stopping → stopped → pending → running) instead of after 60 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_stop_instances_restarts_them() {
    let env = Env::multi_az().await;
    let template = json!({
        "targets": {"Insts": instances_in("us-east-1a")},
        "actions": {"Stop": {"actionId": "aws:ec2:stop-instances",
                             "parameters": {"startInstancesAfterDuration": "PT60S"},
                             "targets": {"Instances": "Insts"}}}
    });
    let (eid, _, t_stop) = stop_mid(&env, template, "Stop", true).await;
    assert!(reverted_at(&env, &eid, "Stop").await - t_stop < 500);
    assert_restored(&env).await;
    for (id, _) in env.zone_instances("us-east-1a") {
        let states: Vec<String> = env
            .truth_of("instance_state")
            .await
            .iter()
            .filter(|e| e["instance"] == id.as_str())
            .map(|e| str_of(e, "state"))
            .collect();
        // `stopped` is there unless the stop came within the stack's stopping time (a
        // start cuts a stop short, as the restart must never leave an instance down).
        let without_stopped: Vec<&str> = states.iter().map(String::as_str).filter(|s| *s != "stopped").collect();
        assert_eq!(without_stopped, ["stopping", "pending", "running"], "{id}: {states:?}");
        assert!(
            states.iter().filter(|s| *s == "stopped").count() <= 1,
            "{id}: {states:?}"
        );
    }
}

/// Stopping during `aws:network:disrupt-connectivity` (60 s) on all of an AZ's subnets,
/// including the database writer's, makes the subnets reachable and the database writable
/// again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_disrupt_connectivity_reconnects() {
    let env = Env::multi_az().await;
    let template = json!({
        "targets": {"Subnets": {
            "resourceType": "aws:ec2:subnet",
            "resourceTags": {"AzImpairmentPower": "DisruptSubnet"},
            "filters": [{"path": "AvailabilityZone", "values": ["us-east-1a"]}],
            "selectionMode": "ALL"}},
        "actions": {"Cut": {"actionId": "aws:network:disrupt-connectivity",
                            "parameters": {"duration": "PT60S"},
                            "targets": {"Subnets": "Subnets"}}}
    });
    let writer_cut = {
        let (eid, _, t_stop) = stop_mid(&env, template, "Cut", true).await;
        assert!(reverted_at(&env, &eid, "Cut").await - t_stop < 500);
        env.truth_of("db_availability")
            .await
            .iter()
            .any(|e| e["available"] == false)
    };
    assert!(
        writer_cut,
        "the writer's subnet was cut off (the database was unavailable)"
    );
    assert_restored(&env).await;
}

/// Stopping during `aws:rds:failover-db-cluster` ends the failover's outage at once: the
/// database is available again well before the failover duration would have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_failover_ends_the_outage() {
    let env = Env::multi_az().await;
    let template = json!({
        "targets": {"Cluster": db_cluster()},
        "actions": {"Failover": {"actionId": "aws:rds:failover-db-cluster", "targets": {"Clusters": "Cluster"}}}
    });
    let (eid, _, t_stop) = stop_mid(&env, template, "Failover", true).await;
    assert_restored(&env).await;
    let failover = env.truth_of("db_failover").await;
    assert_eq!(failover.len(), 1);
    let t_failover = t_ms(&failover[0]);
    let back = env.truth_of("db_availability").await;
    let back = back.iter().find(|e| e["available"] == true).expect("available again");
    let full = env.ls.world.stack.database.failover_duration.0.as_millis() as i64;
    assert!(
        t_ms(back) - t_stop < 500,
        "available {} ms after StopExperiment",
        t_ms(back) - t_stop
    );
    assert!(t_ms(back) - t_failover < full, "outage cut short of {full} ms");
    reverted_at(&env, &eid, "Failover").await;
}

/// Stopping during `aws:rds:reboot-db-instances` of the writer ends the reboot at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_reboot_ends_the_reboot() {
    let env = Env::multi_az().await;
    let template = json!({
        "targets": {"Writer": {"resourceType": "aws:rds:db",
                               "resourceArns": ["arn:aws:rds:us-east-1:000000000000:db:drill-db-1"],
                               "selectionMode": "ALL"}},
        "actions": {"Reboot": {"actionId": "aws:rds:reboot-db-instances", "targets": {"DBInstances": "Writer"}}}
    });
    let (eid, _, t_stop) = stop_mid(&env, template, "Reboot", true).await;
    assert_restored(&env).await;
    let avail = env.truth_of("db_availability").await;
    let down = avail
        .iter()
        .find(|e| e["available"] == false)
        .expect("the reboot made the database unavailable");
    assert_eq!(str_of(down, "reason"), "rebooting");
    let back = avail.iter().find(|e| e["available"] == true).expect("available again");
    assert!(
        t_ms(back) - t_stop < 500,
        "available {} ms after StopExperiment",
        t_ms(back) - t_stop
    );
    assert!(
        env.truth_of("db_failover").await.is_empty(),
        "no failover without forceFailover"
    );
    reverted_at(&env, &eid, "Reboot").await;
}

/// Stopping during `aws:fis:wait` (60 s) stops the wait and cancels the action queued
/// behind it, which therefore never touches the stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_wait_cancels_what_follows() {
    let env = Env::multi_az().await;
    let template = json!({
        "targets": {"Insts": instances_in("us-east-1a")},
        "actions": {
            "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT60S"}},
            "Stop": {"actionId": "aws:ec2:stop-instances", "targets": {"Instances": "Insts"}, "startAfter": ["Wait"]}
        }
    });
    let (_, actions, _) = stop_mid(&env, template, "Wait", false).await;
    assert_eq!(actions["Stop"], "cancelled");
    assert_restored(&env).await;
    assert!(env.truth_of("fault_applied").await.is_empty());
    assert!(env.truth_of("instance_state").await.is_empty());
}

/// Stopping the AZ power interruption template while all three of its actions are in force
/// (instances stopped, subnets black-holed, database failed over) reverts them together:
/// the stack is whole again within the same prompt deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_during_az_power_interruption_restores_everything() {
    let env = Env::multi_az().await;
    let path = common::workspace_file("scenarios/fis/az-power-interruption.json");
    let template: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("template file")).expect("template JSON");
    let tid = env.create_template(&template).await;
    let eid = env.start_experiment(&tid).await;
    for action in ["Stop-Instances", "Pause-network-connectivity", "Failover-RDS"] {
        env.wait_fault_applied(&eid, action, Duration::from_secs(2)).await;
    }
    assert_eq!(env.serving().await, Some(false), "the interruption is in force");
    env.fis.stop_experiment().id(&eid).send().await.expect("StopExperiment");
    env.wait_experiment(&eid, "stopped", Duration::from_secs(1)).await;
    let actions = env.action_statuses(&eid).await;
    assert_eq!(actions["Stop-Instances"], "stopped");
    assert_eq!(actions["Pause-network-connectivity"], "stopped");
    assert!(
        matches!(actions["Failover-RDS"].as_str(), "stopped" | "completed"),
        "{actions:?}"
    );
    assert_restored(&env).await;
    assert!(!env.ls.world.is_blocked("subnet-app-1a") && !env.ls.world.is_blocked("subnet-db-1a"));
}
