//! `aws:ec2:stop-instances` really stops servers: connections are refused while the
//! instances are stopped, they come back after `startInstancesAfterDuration`, and the load
//! balancer's health checks follow with ELB's thresholds.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{instances_in, str_of, t_ms, wait_until, Env};
use serde_json::{json, Value};
use tokio::net::TcpStream;

fn stop_zone_template(zone: &str, restart: &str) -> Value {
    let mut target = instances_in(zone);
    target["filters"]
        .as_array_mut()
        .unwrap()
        .push(json!({"path": "State.Name", "values": ["running"]}));
    json!({
        "targets": {"Insts": target},
        "actions": {"Stop": {"actionId": "aws:ec2:stop-instances",
                             "parameters": {"startInstancesAfterDuration": restart},
                             "targets": {"Instances": "Insts"}}}
    })
}

/// Per instance, the ground-truth instance states in order with their timestamps.
async fn instance_states(env: &Env) -> HashMap<String, Vec<(String, i64)>> {
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for e in env.truth_of("instance_state").await {
        out.entry(str_of(&e, "instance"))
            .or_default()
            .push((str_of(&e, "state"), t_ms(&e)));
    }
    out
}

/// Stopping an AZ's instances with `startInstancesAfterDuration` PT3S: while stopped each
/// of them refuses TCP connections at once (an error, not a hang) while the other zones
/// keep accepting; afterwards they accept and answer again, and the ground truth records
/// stopped → pending → running for exactly those instances, ~3 s then ~boot time apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_instances_refuse_connections_until_restarted() {
    let env = Env::multi_az().await;
    let zone_a = env.zone_instances("us-east-1a");
    assert_eq!(zone_a.len(), 2);
    let others: Vec<_> = env
        .all_instances()
        .into_iter()
        .filter(|i| !zone_a.contains(i))
        .collect();

    let tid = env.create_template(&stop_zone_template("us-east-1a", "PT3S")).await;
    let eid = env.start_experiment(&tid).await;
    let t_applied = env.wait_fault_applied(&eid, "Stop", Duration::from_secs(2)).await;

    for (id, addr) in &zone_a {
        let began = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await;
        match r {
            Err(_) => panic!("connecting to stopped {id} hung"),
            Ok(Ok(_)) => panic!("stopped {id} accepted a connection"),
            Ok(Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{id}: {e}"),
        }
        assert!(began.elapsed() < Duration::from_millis(200), "refusal is immediate");
    }
    for (id, addr) in &others {
        TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{id} in another zone refused: {e}"));
    }
    // The checks above really happened while the instances were stopped.
    assert!(
        env.truth_of("fault_reverted").await.is_empty(),
        "checked inside the fault window"
    );

    let http = common::client(Duration::from_secs(1));
    wait_until(Duration::from_secs(6), "the zone's instances answer again", || async {
        for (_, addr) in &zone_a {
            match http.get(format!("http://{addr}/health")).send().await {
                Ok(r) if r.status() == 200 => {}
                _ => return false,
            }
        }
        true
    })
    .await;
    env.wait_experiment(&eid, "completed", Duration::from_secs(2)).await;

    let states = instance_states(&env).await;
    let boot = env.ls.world.stack.timings.instance_boot.0.as_millis() as i64;
    for (id, _) in &zone_a {
        let seq = &states[id];
        let names: Vec<&str> = seq.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["stopping", "stopped", "pending", "running"], "{id}");
        let (t_stop, t_pend, t_run) = (seq[0].1, seq[2].1, seq[3].1);
        let stopping = env.ls.world.stack.timings.instance_stopping.0.as_millis() as i64;
        assert!(
            (stopping - 20..=stopping + 200).contains(&(seq[1].1 - t_stop)),
            "{id} stopped ~{stopping} ms after it began stopping: {} ms",
            seq[1].1 - t_stop
        );
        assert!(
            (t_stop - t_applied).abs() <= 50,
            "{id} stopped when the fault was applied"
        );
        assert!(
            (2950..=3600).contains(&(t_pend - t_stop)),
            "{id} restarted after PT3S: {} ms",
            t_pend - t_stop
        );
        assert!(
            (boot - 20..=boot + 500).contains(&(t_run - t_pend)),
            "{id} booted in ~{boot} ms: {} ms",
            t_run - t_pend
        );
    }
    for (id, _) in &others {
        assert!(!states.contains_key(id), "{id} was not touched");
    }
}

/// Target health follows ELB's rules: after start every target goes initial → healthy
/// after one passing check; stopping an instance makes its target `unused`
/// (`Target.InvalidState`) at once (measured from the ground-truth fault_applied time),
/// and when it runs again it goes `initial` at once and healthy after one passing check
/// (within one interval + timeout + 100 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_health_follows_thresholds() {
    let t_start = truth_now();
    let env = Env::start(common::shipped_stack("multi-az")).await;
    env.wait_all_healthy().await;
    let hc = env.ls.world.stack.load_balancer.target_group.health_check.clone();
    let interval = hc.interval.0.as_millis() as i64;
    let tolerance = interval + hc.timeout.0.as_millis() as i64 + 100;
    // A new (or restarted) target needs one passing check, the first of which runs at once.
    let to_healthy = 0;

    let health = env.truth_of("target_health").await;
    for t in env.ls.world.targets() {
        let first = health
            .iter()
            .find(|e| e["target"] == t.id.as_str())
            .expect("a health event");
        assert_eq!(
            (str_of(first, "from").as_str(), str_of(first, "to").as_str()),
            ("initial", "healthy"),
            "{}",
            t.id
        );
        let after = t_ms(first) - t_start;
        assert!(
            after <= to_healthy + tolerance,
            "{} healthy {after} ms after start",
            t.id
        );
    }

    let zone_a = env.zone_instances("us-east-1a");
    let tid = env.create_template(&stop_zone_template("us-east-1a", "PT3S")).await;
    let eid = env.start_experiment(&tid).await;
    let t_applied = env.wait_fault_applied(&eid, "Stop", Duration::from_secs(2)).await;
    wait_until(Duration::from_secs(2), "the stopped targets are unused", || async {
        let unused: Vec<String> = env
            .truth_of("target_health")
            .await
            .iter()
            .filter(|e| e["to"] == "unused")
            .map(|e| str_of(e, "target"))
            .collect();
        zone_a.iter().all(|(id, _)| unused.contains(id))
    })
    .await;
    // The load balancer now routes around the unused targets, over both other zones.
    let mut zones = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let r = env
            .http
            .get(format!("http://{}/health", env.lb()))
            .send()
            .await
            .expect("load balancer answers");
        assert_eq!(r.status(), 200);
        let served_by = r.headers()["served-by"].to_str().unwrap().to_string();
        zones.insert(served_by.split('/').nth(1).unwrap_or_default().to_string());
    }
    assert_eq!(zones.into_iter().collect::<Vec<_>>(), ["us-east-1b", "us-east-1c"]);
    env.wait_experiment(&eid, "completed", Duration::from_secs(6)).await;
    env.wait_all_healthy().await;

    let events = env.truth().await;
    let running_at = |id: &str| {
        events
            .iter()
            .filter(|e| e["kind"] == "instance_state" && e["instance"] == id && e["state"] == "running")
            .map(t_ms)
            .next_back()
            .expect("running again")
    };
    for (id, _) in &zone_a {
        let changes: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "target_health" && e["target"] == id.as_str() && t_ms(e) >= t_applied)
            .collect();
        let seq: Vec<(String, String)> = changes.iter().map(|e| (str_of(e, "from"), str_of(e, "to"))).collect();
        assert_eq!(
            seq,
            [
                ("healthy".to_string(), "unused".to_string()),
                ("unused".to_string(), "initial".to_string()),
                ("initial".to_string(), "healthy".to_string())
            ],
            "{id}"
        );
        assert_eq!(str_of(changes[0], "reason"), "Target.InvalidState");
        assert_eq!(str_of(changes[1], "reason"), "Elb.InitialHealthChecking");
        // `unused` once EC2 calls the instance stopped, after the stack's stopping time.
        let down = t_ms(changes[0]) - t_applied;
        let stopping = env.ls.world.stack.timings.instance_stopping.0.as_millis() as i64;
        assert!(
            (stopping..=stopping + 150).contains(&down),
            "{id} unused {down} ms after the stop (expected once stopped, ~{stopping} ms)"
        );
        let again = t_ms(changes[1]) - running_at(id);
        assert!(
            (0..=20).contains(&again),
            "{id} initial {again} ms after running (expected at once)"
        );
        let up = t_ms(changes[2]) - running_at(id);
        assert!(
            (up - to_healthy).abs() <= tolerance,
            "{id} healthy {up} ms after running (expected {to_healthy} ± {tolerance})"
        );
    }
    let others_changed = events
        .iter()
        .filter(|e| e["kind"] == "target_health" && t_ms(e) >= t_applied)
        .any(|e| !zone_a.iter().any(|(id, _)| e["target"] == id.as_str()));
    assert!(!others_changed, "only the stopped zone's targets changed health");
}

fn truth_now() -> i64 {
    drdrill_localstack::truth::now_unix_ms()
}
