//! The shipped AZ power interruption template (`scenarios/fis/az-power-interruption.json`),
//! created with the official SDK from AWS's JSON and run against the Multi-AZ stack under
//! continuous writes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{read_back, t_ms, wait_until, workspace_file, Env, Writer};
use serde_json::{json, Value};

/// The AZ power interruption template runs to `completed`: it hits exactly us-east-1a's
/// instances and subnets and the database cluster; the ground truth shows the stack stop
/// serving and serve again (and serving at the end); the database failover lost nothing,
/// and every write acknowledged through the load balancer reads back afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_power_interruption_completes_without_losing_writes() {
    let path = workspace_file("scenarios/fis/az-power-interruption.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let template: Value = serde_json::from_str(&text).expect("template JSON");

    let env = Env::multi_az().await;
    let tid = env.create_template(&template).await;
    let got = env.fis.get_experiment_template().id(&tid).send().await.unwrap();
    let got = got.experiment_template().unwrap();
    let names: BTreeSet<&String> = got.actions().unwrap().keys().collect();
    let want: BTreeSet<&String> = template["actions"].as_object().unwrap().keys().collect();
    assert_eq!(names, want, "every action of the file was created");
    assert_eq!(got.tags().unwrap()["Name"], "AZ Impairment: Power Interruption");

    let writer = Writer::start(env.lb(), "power");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() >= 20
    })
    .await;
    let eid = env.start_running(&tid).await;

    let resolved = env.resolved_targets(&eid).await;
    let mut hit: Vec<(String, String)> = resolved
        .iter()
        .map(|r| {
            let id = r
                .target_information()
                .and_then(|i| i.get("identifier"))
                .cloned()
                .unwrap_or_default();
            (r.target_name().unwrap_or_default().to_string(), id)
        })
        .collect();
    hit.sort();
    let expect: Vec<(String, String)> = [
        ("IAM-role-instances", "i-app1a1"),
        ("IAM-role-instances", "i-app1a2"),
        ("RDS-Cluster", "drill-db"),
        ("Subnet", "subnet-app-1a"),
        ("Subnet", "subnet-db-1a"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(hit, expect);

    env.wait_experiment(&eid, "completed", Duration::from_secs(14)).await;
    let t_done = drdrill_localstack::truth::now_unix_ms();
    wait_until(
        Duration::from_secs(5),
        "the stack serves again and takes writes",
        || async {
            env.serving().await == Some(true) && writer.acked().iter().filter(|a| a.t_ms > t_done).count() >= 20
        },
    )
    .await;
    let (acked, attempts) = writer.finish().await;
    assert!(acked.len() < attempts, "some writes failed during the interruption");

    let events = env.truth().await;
    let t_first_fault = events
        .iter()
        .filter(|e| e["kind"] == "fault_applied")
        .map(t_ms)
        .min()
        .expect("faults applied");
    let serving: Vec<(i64, bool)> = events
        .iter()
        .filter(|e| e["kind"] == "serving")
        .map(|e| (t_ms(e), e["serving"] == true))
        .collect();
    let down = serving
        .iter()
        .find(|(t, s)| *t >= t_first_fault && !s)
        .expect("serving false during the fault");
    assert!(
        serving.iter().any(|(t, s)| *t > down.0 && *s),
        "serving true again: {serving:?}"
    );
    assert_eq!(serving.last().map(|(_, s)| *s), Some(true));
    let actions: BTreeSet<String> = events
        .iter()
        .filter(|e| e["kind"] == "fault_applied" && e["experiment"] == eid.as_str())
        .map(|e| common::str_of(e, "action_id"))
        .collect();
    assert_eq!(
        actions,
        [
            "aws:ec2:stop-instances",
            "aws:network:disrupt-connectivity",
            "aws:rds:failover-db-cluster"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );

    let failovers: Vec<&Value> = events.iter().filter(|e| e["kind"] == "db_failover").collect();
    assert_eq!(failovers.len(), 1);
    assert_eq!(failovers[0]["lost_write_ids"], json!([]));
    let missing = read_back(&env, &acked).await;
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let statuses = env.action_statuses(&eid).await;
    assert!(statuses.values().all(|s| s == "completed"), "{statuses:?}");
}
