//! The FIS API of the local stack, driven by the official `aws-sdk-fis` client: every
//! operation round-trips, errors carry FIS's error types, and target resolution selects
//! what the template says.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_fis::error::ProvideErrorMetadata;
use aws_sdk_fis::operation::create_experiment_template::CreateExperimentTemplateError;
use aws_sdk_fis::operation::get_experiment_template::GetExperimentTemplateError;
use aws_sdk_fis::operation::start_experiment::StartExperimentError;
use common::{app_subnets_in, instances_in, wait_until, Env};
use serde_json::json;

/// The service error a FIS call (`$call`: the request, before `.send()`) fails with.
macro_rules! service_error {
    ($call:expr) => {
        $call.send().await.unwrap_err().into_service_error()
    };
}

fn secs(t: &aws_sdk_fis::primitives::DateTime) -> f64 {
    t.as_secs_f64()
}

/// Untags `key` from resource `arn` and asserts that the tag keys `left` remain.
async fn untag_leaves(fis: &aws_sdk_fis::Client, arn: &str, key: &str, left: &[&str]) {
    fis.untag_resource()
        .resource_arn(arn)
        .tag_keys(key)
        .send()
        .await
        .unwrap();
    let tags = fis.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().keys().collect::<Vec<_>>(), left);
}

/// The status name of an experiment a FIS answer carries (which must have one).
fn status_of(e: Option<&aws_sdk_fis::types::Experiment>) -> String {
    e.unwrap().state().unwrap().status().unwrap().as_str().to_string()
}

/// Create/Get/List/Delete ExperimentTemplate, StartExperiment, GetExperiment (experiment
/// states through to `completed`, action states with start and end times), StopExperiment,
/// ListExperiments (tags visible in the summaries), ListActions, GetAction and
/// Tag/Untag/ListTagsForResource all round-trip through the official SDK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fis_operation_round_trips() {
    let env = Env::multi_az().await;
    let fis = &env.fis;

    // Templates.
    let template = json!({
        "description": "wait a little",
        "targets": {},
        "actions": {
            "First": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT0.5S"}},
            "Second": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT0.5S"}, "startAfter": ["First"]}
        },
        "tags": {"Team": "sre"}
    });
    let tid = env.create_template(&template).await;
    let got = fis.get_experiment_template().id(&tid).send().await.unwrap();
    let t = got.experiment_template().unwrap();
    assert_eq!(t.id(), Some(tid.as_str()));
    assert_eq!(t.description(), Some("wait a little"));
    assert_eq!(t.role_arn(), Some(common::ROLE));
    let actions = t.actions().unwrap();
    assert_eq!(actions["Second"].start_after(), ["First".to_string()]);
    assert_eq!(actions["First"].parameters().unwrap()["duration"], "PT0.5S");
    assert_eq!(t.tags().unwrap()["Team"], "sre");
    let t_arn = t.arn().unwrap().to_string();
    assert!(t.creation_time().is_some() && t.last_update_time().is_some());
    let listed = fis.list_experiment_templates().send().await.unwrap();
    let summary = listed
        .experiment_templates()
        .iter()
        .find(|s| s.id() == Some(tid.as_str()))
        .expect("template listed");
    assert_eq!(summary.tags().unwrap()["Team"], "sre");

    // Tags on the template.
    fis.tag_resource()
        .resource_arn(&t_arn)
        .tags("Owner", "drdrill")
        .send()
        .await
        .unwrap();
    let tags = fis.list_tags_for_resource().resource_arn(&t_arn).send().await.unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!((tags["Team"].as_str(), tags["Owner"].as_str()), ("sre", "drdrill"));
    untag_leaves(fis, &t_arn, "Team", &["Owner"]).await;

    // An experiment that runs to completion.
    let started = fis
        .start_experiment()
        .experiment_template_id(&tid)
        .tags("drdrill:run", "run-1")
        .send()
        .await
        .unwrap();
    let exp = started.experiment().unwrap();
    let eid = exp.id().unwrap().to_string();
    // As AWS answers StartExperiment: already `initiating` (see faults_fis_times.rs).
    assert_eq!(exp.state().unwrap().status().unwrap().as_str(), "initiating");
    assert_eq!(exp.experiment_template_id(), Some(tid.as_str()));
    let order = ["pending", "initiating", "running", "completed"];
    let seen = std::sync::Mutex::new(vec!["initiating".to_string()]);
    wait_until(Duration::from_secs(5), "the experiment completes", || async {
        let out = fis.get_experiment().id(&eid).send().await.unwrap();
        let s = status_of(out.experiment());
        let mut seen = seen.lock().unwrap();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        s == "completed"
    })
    .await;
    let seen = seen.into_inner().unwrap();
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| {
            order
                .iter()
                .position(|o| o == s)
                .unwrap_or_else(|| panic!("unexpected state {s}"))
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "states go forward: {seen:?}");
    assert!(seen.contains(&"running".to_string()), "running was observed: {seen:?}");
    let out = fis.get_experiment().id(&eid).send().await.unwrap();
    let exp = out.experiment().unwrap();
    let (start, end) = (secs(exp.start_time().unwrap()), secs(exp.end_time().unwrap()));
    let acts = exp.actions().unwrap();
    let (first, second) = (&acts["First"], &acts["Second"]);
    for a in [first, second] {
        assert_eq!(a.state().unwrap().status().unwrap().as_str(), "completed");
        assert_eq!(a.action_id(), Some("aws:fis:wait"));
    }
    let (f0, f1) = (secs(first.start_time().unwrap()), secs(first.end_time().unwrap()));
    let (s0, s1) = (secs(second.start_time().unwrap()), secs(second.end_time().unwrap()));
    assert!(
        start <= f0 && f0 < f1 && f1 <= s0 && s0 < s1 && s1 <= end,
        "times in order: {start} {f0} {f1} {s0} {s1} {end}"
    );
    assert!(f1 - f0 >= 0.45 && s1 - s0 >= 0.45, "each wait lasted its duration");
    assert_eq!(exp.tags().unwrap()["drdrill:run"], "run-1");

    // ListExperiments shows the tags, so a client can find its own experiments.
    let listed = fis.list_experiments().send().await.unwrap();
    let mine: Vec<_> = listed
        .experiments()
        .iter()
        .filter(|e| {
            e.tags()
                .is_some_and(|t| t.get("drdrill:run").map(String::as_str) == Some("run-1"))
        })
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id(), Some(eid.as_str()));
    assert_eq!(mine[0].state().unwrap().status().unwrap().as_str(), "completed");
    let by_template = fis
        .list_experiments()
        .experiment_template_id(&tid)
        .send()
        .await
        .unwrap();
    assert_eq!(by_template.experiments().len(), 1);

    // Tags on the experiment.
    let e_arn = exp.arn().unwrap().to_string();
    fis.tag_resource()
        .resource_arn(&e_arn)
        .tags("Phase", "inject")
        .send()
        .await
        .unwrap();
    untag_leaves(fis, &e_arn, "drdrill:run", &["Phase"]).await;

    // StopExperiment on a running experiment.
    let eid2 = env.start_experiment(&tid).await;
    env.wait_experiment(&eid2, "running", Duration::from_secs(2)).await;
    let stopping = fis.stop_experiment().id(&eid2).send().await.unwrap();
    let status = status_of(stopping.experiment());
    assert!(matches!(status.as_str(), "stopping" | "stopped"), "{status}");
    env.wait_experiment(&eid2, "stopped", Duration::from_secs(2)).await;
    let acts = env.action_statuses(&eid2).await;
    assert_eq!(acts["First"], "stopped");
    assert_eq!(acts["Second"], "cancelled");
    let by_template = fis
        .list_experiments()
        .experiment_template_id(&tid)
        .send()
        .await
        .unwrap();
    assert_eq!(by_template.experiments().len(), 2);

    // Actions.
    let list = fis.list_actions().send().await.unwrap();
    let ids: BTreeSet<&str> = list.actions().iter().filter_map(|a| a.id()).collect();
    for id in [
        "aws:ec2:stop-instances",
        "aws:network:disrupt-connectivity",
        "aws:rds:failover-db-cluster",
        "aws:rds:reboot-db-instances",
        "aws:fis:wait",
    ] {
        assert!(ids.contains(id), "{id} listed in {ids:?}");
    }
    let action = fis.get_action().id("aws:ec2:stop-instances").send().await.unwrap();
    let action = action.action().unwrap();
    assert_eq!(action.id(), Some("aws:ec2:stop-instances"));
    let params = action.parameters().unwrap();
    assert_eq!(params["startInstancesAfterDuration"].required(), Some(false));
    assert_eq!(
        action.targets().unwrap()["Instances"].resource_type(),
        Some("aws:ec2:instance")
    );
    let action = fis
        .get_action()
        .id("aws:network:disrupt-connectivity")
        .send()
        .await
        .unwrap();
    assert_eq!(
        action.action().unwrap().parameters().unwrap()["duration"].required(),
        Some(true)
    );

    // Delete.
    let deleted = fis.delete_experiment_template().id(&tid).send().await.unwrap();
    assert_eq!(deleted.experiment_template().unwrap().id(), Some(tid.as_str()));
    let gone = fis.get_experiment_template().id(&tid).send().await.unwrap_err();
    assert!(matches!(
        gone.into_service_error(),
        GetExperimentTemplateError::ResourceNotFoundException(_)
    ));
    let listed = fis.list_experiment_templates().send().await.unwrap();
    assert!(listed
        .experiment_templates()
        .iter()
        .all(|s| s.id() != Some(tid.as_str())));
}

/// An unsupported action id is a ValidationException whose message names the id; an
/// unknown template id is a ResourceNotFoundException for Get and StartExperiment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_fis_error_types() {
    let env = Env::start(common::shipped_stack("multi-az")).await;
    let template = json!({
        "targets": {"Insts": instances_in("us-east-1a")},
        "actions": {"Spot": {"actionId": "aws:ec2:send-spot-instance-interruptions", "targets": {"Instances": "Insts"}}}
    });
    let err = common::template_request(&env.fis, &template).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("aws:ec2:send-spot-instance-interruptions"),
        "message names the action id: {err:?}"
    );
    assert!(matches!(err, CreateExperimentTemplateError::ValidationException(_)));

    let err = service_error!(env.fis.get_experiment_template().id("EXTnope"));
    assert!(
        matches!(err, GetExperimentTemplateError::ResourceNotFoundException(_)),
        "{err:?}"
    );
    let err = service_error!(env.fis.start_experiment().experiment_template_id("EXTnope"));
    assert!(
        matches!(err, StartExperimentError::ResourceNotFoundException(_)),
        "{err:?}"
    );
    assert!(err.message().unwrap_or_default().contains("EXTnope"), "{err:?}");
    let err = service_error!(env.fis.get_experiment().id("EXPnope"));
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = service_error!(env.fis.stop_experiment().id("EXPnope"));
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = service_error!(env.fis.get_action().id("aws:ec2:nope"));
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

/// Target resolution, checked with ListExperimentResolvedTargets: resourceTags plus a
/// `Placement.AvailabilityZone` filter select exactly that zone's instances; COUNT(1) picks
/// one instance, PERCENT(50) half of them; a subnet `AvailabilityZone` filter picks the
/// zone's subnets. (The actions wait behind a long `aws:fis:wait` and are cancelled by
/// StopExperiment, so nothing is actually hit.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_resolve_by_tags_filters_and_selection_mode() {
    let env = Env::start(common::shipped_stack("multi-az")).await;
    let mut one = instances_in("us-east-1a");
    one["filters"] = json!([]);
    one["selectionMode"] = json!("COUNT(1)");
    let mut half = one.clone();
    half["selectionMode"] = json!("PERCENT(50)");
    let stop = |target: &str| json!({"actionId": "aws:ec2:stop-instances", "targets": {"Instances": target}, "startAfter": ["Wait"]});
    let template = json!({
        "targets": {
            "ZoneB": instances_in("us-east-1b"),
            "One": one,
            "Half": half,
            "SubnetsC": app_subnets_in("us-east-1c")
        },
        "actions": {
            "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT30S"}},
            "StopB": stop("ZoneB"),
            "StopOne": stop("One"),
            "StopHalf": stop("Half"),
            "CutC": {"actionId": "aws:network:disrupt-connectivity", "parameters": {"duration": "PT1S"},
                     "targets": {"Subnets": "SubnetsC"}, "startAfter": ["Wait"]}
        }
    });
    let tid = env.create_template(&template).await;
    let eid = env.start_running(&tid).await;

    let out = env.resolved_targets(&eid).await;
    let by_target = |name: &str| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = out
            .iter()
            .filter(|r| r.target_name() == Some(name))
            .map(|r| {
                let info = r.target_information().cloned().unwrap_or_default();
                (
                    r.resource_type().unwrap_or_default().to_string(),
                    info.get("identifier").cloned().unwrap_or_default(),
                    info.get("arn").cloned().unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let zone_b = by_target("ZoneB");
    let ids: Vec<&str> = zone_b.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids, ["i-app1b1", "i-app1b2"]);
    for (ty, id, arn) in &zone_b {
        assert_eq!(ty, "aws:ec2:instance");
        assert_eq!(arn, &format!("arn:aws:ec2:us-east-1:000000000000:instance/{id}"));
    }
    let all_app: BTreeSet<String> = env.all_instances().into_iter().map(|(id, _)| id).collect();
    let one = by_target("One");
    assert_eq!(one.len(), 1, "{one:?}");
    let half = by_target("Half");
    assert_eq!(half.len(), all_app.len() / 2, "{half:?}");
    assert!(one.iter().chain(&half).all(|(_, id, _)| all_app.contains(id)));
    let subnets: Vec<String> = by_target("SubnetsC")
        .into_iter()
        .map(|(ty, id, _)| {
            assert_eq!(ty, "aws:ec2:subnet");
            id
        })
        .collect();
    assert_eq!(subnets, ["subnet-app-1c"]);

    // Filtering by target name on the server.
    let only = env
        .fis
        .list_experiment_resolved_targets()
        .experiment_id(&eid)
        .target_name("ZoneB")
        .send()
        .await
        .unwrap();
    assert_eq!(only.resolved_targets().len(), 2);
    assert!(only.resolved_targets().iter().all(|r| r.target_name() == Some("ZoneB")));

    env.fis.stop_experiment().id(&eid).send().await.unwrap();
    env.wait_experiment(&eid, "stopped", Duration::from_secs(2)).await;
    let acts = env.action_statuses(&eid).await;
    assert_eq!(acts["Wait"], "stopped");
    for a in ["StopB", "StopOne", "StopHalf", "CutC"] {
        assert_eq!(acts[a], "cancelled", "{a}");
    }
    assert!(env.truth_of("fault_applied").await.is_empty(), "nothing was hit");
    assert!(env.all_running());
}
