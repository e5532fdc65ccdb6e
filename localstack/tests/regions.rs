//! Multi-region stacks: requests signed for a region reach that region's services;
//! cross-region replication and its cut; the strategy runbooks after a regional outage
//! (promotion, restore from a copied backup, DNS switch) and what they lose, all checked
//! against the ground truth and the databases themselves.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use aws_config::BehaviorVersion;
use common::{shipped_stack, str_of, wait_for, wait_until, workspace_file, Ack, Env, Writer};
use drdrill_localstack::Stack;
use serde_json::Value;

/// The FIS template of a regional outage of us-east-1, as shipped.
fn region_outage() -> Value {
    let text = std::fs::read_to_string(workspace_file("scenarios/fis/region-outage.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// An ELBv2 client signing for `region`.
async fn elb(env: &Env, region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    let creds = aws_credential_types::Credentials::from_keys("AKIDDRDRILLTEST", "drdrill-test-secret", None);
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(env.ls.endpoint_url())
        .credentials_provider(creds)
        .load()
        .await;
    aws_sdk_elasticloadbalancingv2::Client::new(&conf)
}

/// Every address the DNS server may answer `app.drill.test` with now.
fn app_answer(env: &Env) -> Vec<String> {
    let snapshot = env.ls.route53.answer_snapshot();
    snapshot
        .get(&("app.drill.test.".to_string(), "A".to_string()))
        .cloned()
        .unwrap_or_default()
}

/// Waits until every runbook step has finished; panics when one failed.
async fn wait_runbook(env: &Env, steps: usize, within: Duration) {
    wait_until(within, "every runbook step finished", || async {
        let ev = env.truth_of("runbook_step").await;
        if let Some(f) = ev.iter().find(|e| e["phase"] == "failed") {
            panic!("runbook step failed: {f}");
        }
        ev.iter().filter(|e| e["phase"] == "finished").count() == steps
    })
    .await;
}

/// The four shipped strategy stacks load, and each states a standing cost that matches
/// what it runs; a stated cost that does not match is refused naming the key.
#[test]
fn strategy_stacks_load_and_their_cost_matches_what_runs() {
    for (name, instances) in [
        ("backup-restore", 3),
        ("pilot-light", 3),
        ("warm-standby", 4),
        ("active-active", 6),
    ] {
        let path = shipped_stack(&format!("strategy-{name}"));
        let stack = Stack::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let st = stack.strategy.as_ref().expect("a strategy");
        assert_eq!(st.kind.name(), name);
        assert_eq!(st.standing_cost.instances, instances, "{name}");
        assert_eq!(stack.region_names(), vec!["us-east-1", "us-west-2"]);
        let text = std::fs::read_to_string(&path).unwrap();
        let wrong = text.replace(
            &format!("instances: {instances}, databases"),
            &format!("instances: {}, databases", instances + 1),
        );
        let e = Stack::parse(Path::new("x.yaml"), &wrong).unwrap_err().to_string();
        assert!(e.contains("strategy.standing_cost.instances"), "{e}");
    }
}

/// Inconsistent multi-region sections are refused with the key that is wrong.
#[test]
fn bad_multi_region_sections_name_the_key() {
    let text = std::fs::read_to_string(shipped_stack("strategy-pilot-light")).unwrap();
    for (from, to, key) in [
        ("to: us-west-2, lag", "to: eu-west-9, lag", "replication[0].to"),
        (
            "trigger_health_check: hc-east",
            "trigger_health_check: hc-nope",
            "runbook.trigger_health_check",
        ),
        (
            "load_balancer: west-alb }",
            "load_balancer: no-alb }",
            "runbook.steps[2].load_balancer",
        ),
        ("name: west-alb", "name: east-alb", "regions"),
        ("lag: 500ms", "lag: 0s", "replication[0].lag"),
    ] {
        assert!(text.contains(from), "{from}");
        let e = Stack::parse(Path::new("x.yaml"), &text.replacen(from, to, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

/// Ids of a region failover's `lost_write_ids`.
fn lost_ids(failover: &Value) -> BTreeSet<String> {
    failover["lost_write_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Checks a failover's lost writes against what the writer saw: every acknowledged write
/// the new writer lacks is lost, and the ground truth (which counts what the old
/// database committed) may name one write more: the one the sequential writer had in
/// flight when the outage cut its answer off, committed but never acknowledged.
fn assert_lost_are_the_missing(lost: &BTreeSet<String>, missing: &BTreeSet<String>, acked: &[Ack]) {
    assert!(
        missing.is_subset(lost),
        "ground truth names every acknowledged write the new writer lacks: lost {lost:?}, missing {missing:?}"
    );
    let unacknowledged: Vec<&String> = lost.difference(missing).collect();
    assert!(
        unacknowledged.len() <= 1,
        "at most the write in flight beyond the acknowledged ones: {unacknowledged:?}"
    );
    assert!(
        unacknowledged.iter().all(|id| acked.iter().all(|a| &&a.id != id)),
        "{unacknowledged:?} was acknowledged, so it must be missing from the new writer to be lost"
    );
}

/// Starts the regional outage ([`region_outage`]) and waits until its network cut is
/// applied.
async fn start_region_outage(env: &Env) {
    let t = env.create_template(&region_outage()).await;
    let exp = env.start_experiment(&t).await;
    env.wait_fault_applied(&exp, "DisruptNetwork", Duration::from_secs(5))
        .await;
}

/// A request signed for us-west-2 reaches us-west-2's load balancers, one signed for
/// us-east-1 the top-level region's, and one for a region not in the stack is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_region_picks_the_regions_services() {
    let env = Env::start(shipped_stack("strategy-pilot-light")).await;
    for (region, lb) in [("us-east-1", "east-alb"), ("us-west-2", "west-alb")] {
        let out = elb(&env, region).await.describe_load_balancers().send().await.unwrap();
        let names: Vec<&str> = out
            .load_balancers()
            .iter()
            .filter_map(|l| l.load_balancer_name())
            .collect();
        assert_eq!(names, vec![lb], "{region}");
    }
    let err = elb(&env, "eu-west-1")
        .await
        .describe_load_balancers()
        .send()
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("eu-west-1"), "{err:?}");
    // Both load balancers listen on the same port, on their own addresses.
    let (east, west) = (env.ls.worlds[0].lb_addr().unwrap(), env.ls.worlds[1].lb_addr().unwrap());
    assert_eq!(east.port(), west.port());
    assert_ne!(east.ip(), west.ip());
    env.ls.shutdown().await;
}

/// Writes replicate to the other region after the lag; the route-table action cuts
/// replication for its duration (nothing arrives meanwhile) and it resumes afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_region_cut_holds_replication_until_it_ends() {
    let env = Env::start(shipped_stack("strategy-pilot-light")).await;
    env.wait_all_healthy().await;
    let west = env.ls.worlds[1].clone();
    assert_eq!(env.put_item("before-cut", "x").await, Some(201));
    wait_until(Duration::from_secs(5), "the write replicates to us-west-2", || async {
        west.db_data().unwrap_or_default().contains_key("before-cut")
    })
    .await;
    let text = std::fs::read_to_string(workspace_file("scenarios/fis/cross-region-replication-cut.json")).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    json["actions"]["CutCrossRegion"]["parameters"]["duration"] = "PT3S".into();
    let t = env.create_template(&json).await;
    let exp = env.start_experiment(&t).await;
    env.wait_fault_applied(&exp, "CutCrossRegion", Duration::from_secs(5))
        .await;
    assert_eq!(
        env.put_item("during-cut", "x").await,
        Some(201),
        "us-east-1 still serves"
    );
    // While the cut holds (no revert recorded yet), the write must not arrive.
    wait_until(
        Duration::from_secs(5),
        "the cut has lasted longer than the lag",
        || async {
            let reverted = !env.truth_of("fault_reverted").await.is_empty();
            assert!(
                reverted || !west.db_data().unwrap_or_default().contains_key("during-cut"),
                "a write crossed a cut link"
            );
            reverted
        },
    )
    .await;
    let cuts = env.truth_of("cross_region").await;
    assert!(
        cuts.iter().any(|e| e["other"] == "us-west-2" && e["cut"] == true),
        "{cuts:?}"
    );
    wait_until(Duration::from_secs(5), "the write replicates after the cut", || async {
        west.db_data().unwrap_or_default().contains_key("during-cut")
    })
    .await;
    env.ls.shutdown().await;
}

/// Pilot light: a regional outage of us-east-1 fails hc-east, the runbook promotes the
/// replica, starts us-west-2's instances and switches DNS; the writes it reports lost are
/// exactly the acknowledged ones us-west-2 does not have, and the entry serves from us-west-2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pilot_light_outage_promotes_and_loses_only_the_lag() {
    let env = Env::start(shipped_stack("strategy-pilot-light")).await;
    env.wait_all_healthy().await;
    let east_ip = env.ls.worlds[0].lb_addr().unwrap().ip().to_string();
    let west_lb = env.ls.worlds[1].lb_addr().unwrap();
    assert_eq!(app_answer(&env), vec![east_ip]);
    let writer = Writer::start(env.lb(), "pl");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() > 50
    })
    .await;
    start_region_outage(&env).await;
    wait_runbook(&env, 3, Duration::from_secs(30)).await;
    let (acked, _) = writer.finish().await;
    assert_eq!(
        app_answer(&env),
        vec![west_lb.ip().to_string()],
        "DNS points at us-west-2"
    );
    let failover = wait_for(Duration::from_secs(1), "a region failover is recorded", || async {
        env.truth_of("region_failover").await.pop()
    })
    .await;
    assert_eq!(str_of(&failover, "how"), "promote");
    let lost = lost_ids(&failover);
    let west = env.ls.worlds[1].db_data().unwrap();
    let missing: BTreeSet<String> = acked
        .iter()
        .filter(|a| !west.contains_key(&a.id))
        .map(|a| a.id.clone())
        .collect();
    assert!(!lost.is_empty(), "writes within the 500 ms lag are lost");
    assert_lost_are_the_missing(&lost, &missing, &acked);
    let entry = env.truth_of("entry_serving").await;
    let last = entry.last().unwrap();
    assert_eq!(last["serving"], true);
    assert_eq!(last["regions"], serde_json::json!(["us-west-2"]));
    // us-west-2 now takes writes.
    let r = env
        .http
        .put(format!("http://{west_lb}/items/after-failover"))
        .body("y")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    env.ls.shutdown().await;
}

/// Backup and restore: snapshots are taken and copied to us-west-2; after a regional
/// outage the runbook restores the latest copy; what it lost is every acknowledged write
/// newer than that snapshot, and the data's age is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_outage_restores_the_latest_copy() {
    let env = Env::start(shipped_stack("strategy-backup-restore")).await;
    env.wait_all_healthy().await;
    let writer = Writer::start(env.lb(), "br");
    wait_until(Duration::from_secs(15), "a snapshot with writes is copied", || async {
        env.truth_of("backup")
            .await
            .iter()
            .any(|e| e["phase"] == "copied" && e["writes"].as_u64() > Some(0))
    })
    .await;
    start_region_outage(&env).await;
    wait_runbook(&env, 3, Duration::from_secs(40)).await;
    let (acked, _) = writer.finish().await;
    let failover = env.truth_of("region_failover").await.pop().expect("a region failover");
    assert_eq!(str_of(&failover, "how"), "restore");
    assert!(failover["data_age_ms"].as_i64().unwrap() > 0);
    let lost = lost_ids(&failover);
    let west = env.ls.worlds[1].db_data().expect("restored");
    let missing: BTreeSet<String> = acked
        .iter()
        .filter(|a| !west.contains_key(&a.id))
        .map(|a| a.id.clone())
        .collect();
    assert!(!lost.is_empty());
    assert_lost_are_the_missing(&lost, &missing, &acked);
    assert!(west.len() < acked.len());
    let west_lb = env.ls.worlds[1].lb_addr().unwrap();
    assert_eq!(app_answer(&env), vec![west_lb.ip().to_string()]);
    env.ls.shutdown().await;
}

/// Active-active: both regions are answered; a regional outage drops us-east-1 from DNS
/// once hc-east fails, no promotion happens, and when the outage ends the regions
/// converge so no acknowledged write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_active_outage_drops_the_region_and_loses_nothing() {
    let env = Env::start(shipped_stack("strategy-active-active")).await;
    env.wait_all_healthy().await;
    let (east, west) = (env.ls.worlds[0].clone(), env.ls.worlds[1].clone());
    let writer = Writer::start(env.lb(), "aa");
    wait_until(Duration::from_secs(5), "writes are acknowledged", || async {
        writer.acked().len() > 50
    })
    .await;
    let mut json = region_outage();
    for a in ["DisruptNetwork", "StopInstances"] {
        let key = if a == "DisruptNetwork" {
            "duration"
        } else {
            "startInstancesAfterDuration"
        };
        json["actions"][a]["parameters"][key] = "PT4S".into();
    }
    let t = env.create_template(&json).await;
    let exp = env.start_experiment(&t).await;
    env.wait_fault_applied(&exp, "DisruptNetwork", Duration::from_secs(5))
        .await;
    let west_ip = west.lb_addr().unwrap().ip().to_string();
    wait_until(Duration::from_secs(10), "us-east-1 drops out of DNS", || async {
        app_answer(&env) == vec![west_ip.clone()]
    })
    .await;
    env.wait_experiment(&exp, "completed", Duration::from_secs(20)).await;
    let (acked, _) = writer.finish().await;
    assert!(env.truth_of("region_failover").await.is_empty());
    wait_until(
        Duration::from_secs(10),
        "both regions hold every acknowledged write",
        || async {
            let (e, w) = (east.db_data().unwrap(), west.db_data().unwrap());
            acked.iter().all(|a| e.contains_key(&a.id) && w.contains_key(&a.id))
        },
    )
    .await;
    env.ls.shutdown().await;
}
