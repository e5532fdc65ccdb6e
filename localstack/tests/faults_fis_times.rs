//! FIS experiment and action timing as AWS documents it, read with the official
//! `aws-sdk-fis` client: an experiment is `initiating` (with its `startTime` already
//! stamped) for the stack file's `fis.initiating` before its actions start; every action
//! carries its own state and `startTime` / `endTime`, which are the instants its effect
//! began and ended in the ground truth.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_fis::types::Experiment;
use common::{action_status, shipped_stack, str_of, t_ms, wait_for, wait_until, Env};
use drdrill_localstack::config::Dur;
use drdrill_localstack::truth::now_unix_ms;
use drdrill_localstack::Stack;
use serde_json::{json, Value};

/// How long experiments stay `initiating` in these tests: long enough to be seen for sure.
const INITIATING: Duration = Duration::from_millis(1000);

/// The shipped Multi-AZ stack with a longer `fis.initiating`, every target healthy.
async fn env() -> Env {
    let mut stack = Stack::load(&shipped_stack("multi-az")).unwrap_or_else(|e| panic!("{e}"));
    stack.fis.initiating = Dur(INITIATING);
    let env = Env::start_stack(stack).await;
    env.wait_all_healthy().await;
    env
}

/// An FIS timestamp as unix ms.
fn ms(t: Option<&aws_sdk_fis::primitives::DateTime>) -> Option<i64> {
    t.map(|t| (t.as_secs_f64() * 1000.0).round() as i64)
}

fn status(e: &Experiment) -> String {
    e.state()
        .and_then(|s| s.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// Each action's (status, startTime, endTime).
fn actions(e: &Experiment) -> HashMap<String, (String, Option<i64>, Option<i64>)> {
    e.actions()
        .into_iter()
        .flatten()
        .map(|(k, a)| (k.clone(), (action_status(a), ms(a.start_time()), ms(a.end_time()))))
        .collect()
}

async fn get(env: &Env, id: &str) -> Experiment {
    let out = env.fis.get_experiment().id(id).send().await.expect("GetExperiment");
    out.experiment().expect("experiment").clone()
}

/// The ground-truth event of `kind` for `action` of experiment `exp`.
fn truth_of<'a>(events: &'a [Value], kind: &str, exp: &str, action: &str) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["kind"] == kind && e["experiment"] == exp && str_of(e, "action") == action)
}

/// StartExperiment answers `initiating` with creationTime and startTime stamped inside the
/// call and every action `pending`; GetExperiment shows `initiating` for the configured
/// time, then `running`; a `startAfter` action stays `pending` while its predecessor (an
/// `aws:fis:wait`) runs; the experiment's startTime is before every action's; each fault
/// action's startTime and endTime equal the ground truth's `fault_applied` /
/// `fault_reverted` times (± 5 ms); the wait gets times too; every endTime is set once
/// the experiment completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_carry_the_times_of_their_effects() {
    let env = env().await;
    let tid = env
        .create_template(&json!({
            "description": "times",
            "targets": {
                "Subnet-1b": {"resourceType": "aws:ec2:subnet", "resourceArns": [
                    "arn:aws:ec2:us-east-1:000000000000:subnet/subnet-app-1b"], "selectionMode": "ALL"},
                "Instances-1a": {"resourceType": "aws:ec2:instance", "resourceTags": {"Tier": "app"},
                    "filters": [{"path": "Placement.AvailabilityZone", "values": ["us-east-1a"]}],
                    "selectionMode": "ALL"}
            },
            "actions": {
                "Black-hole": {"actionId": "aws:network:disrupt-connectivity",
                    "parameters": {"duration": "PT0.6S", "scope": "all"}, "targets": {"Subnets": "Subnet-1b"}},
                "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT0.3S"}},
                "Stop": {"actionId": "aws:ec2:stop-instances",
                    "parameters": {"startInstancesAfterDuration": "PT0.5S"},
                    "targets": {"Instances": "Instances-1a"}, "startAfter": ["Wait"]}
            }
        }))
        .await;

    let sent = now_unix_ms();
    let out = env
        .fis
        .start_experiment()
        .experiment_template_id(&tid)
        .send()
        .await
        .expect("StartExperiment");
    let received = now_unix_ms();
    let started = out.experiment().expect("experiment").clone();
    let eid = started.id().expect("id").to_string();
    assert_eq!(status(&started), "initiating");
    let created = ms(started.creation_time()).expect("creationTime");
    let exp_start = ms(started.start_time()).expect("startTime stamped at StartExperiment");
    assert!(
        sent <= created && created <= exp_start && exp_start <= received,
        "creationTime and startTime inside the call: {sent} ≤ {created} ≤ {exp_start} ≤ {received}"
    );
    for (name, (s, start, end)) in actions(&started) {
        assert_eq!((s.as_str(), start, end), ("pending", None, None), "{name}");
    }

    // Every answer until the experiment completed, in order.
    let seen = std::sync::Mutex::new(Vec::<Experiment>::new());
    wait_until(Duration::from_secs(15), "the experiment completes", || async {
        let e = get(&env, &eid).await;
        let done = status(&e) == "completed";
        assert!(!matches!(status(&e).as_str(), "failed" | "stopped"), "{e:?}");
        seen.lock().unwrap().push(e);
        done
    })
    .await;
    let seen = seen.into_inner().unwrap();
    let running_at = seen
        .iter()
        .position(|e| status(e) == "running")
        .expect("running was seen");
    assert!(running_at > 0, "initiating was seen first");
    for e in &seen[..running_at] {
        assert_eq!(status(e), "initiating");
        assert!(
            actions(e).values().all(|(s, t, _)| s == "pending" && t.is_none()),
            "{e:?}"
        );
    }
    let wait_running = seen
        .iter()
        .filter(|e| status(e) == "running" && actions(e)["Wait"].0 == "running")
        .collect::<Vec<_>>();
    assert!(!wait_running.is_empty(), "the wait was seen running");
    for e in wait_running {
        let a = actions(e);
        assert_eq!(
            (a["Stop"].0.as_str(), a["Stop"].1),
            ("pending", None),
            "startAfter waits"
        );
    }

    let done = get(&env, &eid).await;
    assert_eq!(ms(done.start_time()), Some(exp_start), "startTime does not move");
    let acts = actions(&done);
    for (name, (s, start, end)) in &acts {
        assert_eq!(s, "completed", "{name}");
        let (start, end) = (start.expect("startTime"), end.expect("endTime"));
        assert!(
            exp_start <= start && start <= end,
            "{name}: {exp_start} ≤ {start} ≤ {end}"
        );
    }
    let first_action = acts.values().filter_map(|a| a.1).min().unwrap();
    assert!(
        first_action - exp_start >= INITIATING.as_millis() as i64 - 5,
        "the actions start after the initiating time: experiment {exp_start}, first action {first_action}"
    );
    let end = ms(done.end_time()).expect("experiment endTime");
    assert!(acts.values().all(|a| a.2.unwrap() <= end));

    let truth = env.truth().await;
    for name in ["Black-hole", "Stop"] {
        let (_, start, end) = &acts[name];
        let applied = t_ms(truth_of(&truth, "fault_applied", &eid, name).expect("fault_applied"));
        let reverted = t_ms(truth_of(&truth, "fault_reverted", &eid, name).expect("fault_reverted"));
        assert!(
            (start.unwrap() - applied).abs() <= 5,
            "{name}: startTime {start:?} vs applied {applied}"
        );
        assert!(
            (end.unwrap() - reverted).abs() <= 5,
            "{name}: endTime {end:?} vs reverted {reverted}"
        );
    }
    let (_, w0, w1) = &acts["Wait"];
    let (w0, w1) = (w0.unwrap(), w1.unwrap());
    assert!(w1 - w0 >= 295, "the wait lasted its 0.3 s: {w0} → {w1}");
    assert!(acts["Stop"].1.unwrap() >= w1, "Stop started after the wait ended");
    assert!(
        truth_of(&truth, "fault_applied", &eid, "Wait").is_none(),
        "a wait injects nothing"
    );
}

/// StopExperiment while `initiating` ends it `stopped` with every action `cancelled` and
/// no action time, and nothing is injected; stopped while running, the reverted action
/// is `stopped` with its endTime equal to the ground truth's `fault_reverted` (± 5 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_dates_what_was_undone() {
    let env = env().await;
    let tid = env
        .create_template(&json!({
            "description": "long black-hole",
            "targets": {"Subnet-1b": {"resourceType": "aws:ec2:subnet", "resourceArns": [
                "arn:aws:ec2:us-east-1:000000000000:subnet/subnet-app-1b"], "selectionMode": "ALL"}},
            "actions": {"Black-hole": {"actionId": "aws:network:disrupt-connectivity",
                "parameters": {"duration": "PT60S", "scope": "all"}, "targets": {"Subnets": "Subnet-1b"}}}
        }))
        .await;

    // Stopped while initiating.
    let early = env.start_experiment(&tid).await;
    let out = env
        .fis
        .stop_experiment()
        .id(&early)
        .send()
        .await
        .expect("StopExperiment");
    let answered = status(out.experiment().expect("experiment"));
    assert!(matches!(answered.as_str(), "stopping" | "stopped"), "{answered}");
    env.wait_experiment(&early, "stopped", Duration::from_secs(5)).await;
    let e = get(&env, &early).await;
    assert_eq!(
        actions(&e)["Black-hole"],
        ("cancelled".to_string(), None, None),
        "nothing started"
    );
    assert!(truth_of(&env.truth().await, "fault_applied", &early, "Black-hole").is_none());

    // Stopped while the action runs.
    let late = env.start_experiment(&tid).await;
    let applied = env
        .wait_fault_applied(&late, "Black-hole", INITIATING + Duration::from_secs(5))
        .await;
    let start = wait_for(Duration::from_secs(5), "the action has a startTime", || async {
        actions(&get(&env, &late).await)["Black-hole"].1
    })
    .await;
    assert!((start - applied).abs() <= 5, "startTime {start} vs applied {applied}");
    env.fis
        .stop_experiment()
        .id(&late)
        .send()
        .await
        .expect("StopExperiment");
    env.wait_experiment(&late, "stopped", Duration::from_secs(5)).await;
    let (s, _, end) = actions(&get(&env, &late).await)["Black-hole"].clone();
    assert_eq!(s, "stopped");
    let reverted = t_ms(truth_of(&env.truth().await, "fault_reverted", &late, "Black-hole").expect("reverted"));
    let end = end.expect("endTime");
    assert!((end - reverted).abs() <= 5, "endTime {end} vs reverted {reverted}");
}
