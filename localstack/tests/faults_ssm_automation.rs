//! FIS's `aws:ssm:start-automation-execution` on the local stack, through the official
//! FIS SDK: the built-in `drdrill-SwitchToRestoredDatabase` document starts the region's
//! stopped instances, waits until they are healthy and points the name at the region's
//! load balancer, and the action completes when it has; an unknown document fails the
//! action (and the experiment) as AWS would, and a template without `documentArn` or
//! `maxDuration` is refused at creation (both are required per the FIS actions reference,
//! <https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#ssm-actions-reference>).

mod common;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_fis::error::ProvideErrorMetadata;
use common::{shipped_stack, Env};
use drdrill_localstack::world::InstanceState;
use drdrill_localstack::Stack;
use serde_json::{json, Value};

const DOC: &str = "arn:aws:ssm:us-west-2:000000000000:document/drdrill-SwitchToRestoredDatabase";

/// The backup-restore strategy stack without its runbook (nothing switches on its own)
/// and with a us-west-2 database that already accepts writes (as after a restore).
fn stack() -> Stack {
    let path = shipped_stack("strategy-backup-restore");
    let text = std::fs::read_to_string(&path).unwrap();
    let runbook = text.find("\nrunbook:").unwrap();
    let speedups = text.find("\n# Relaxations").unwrap();
    // Without the runbook and with a database that runs, the stack states no strategy
    // (its standing cost would not match).
    let text = format!("{}{}", &text[..runbook], &text[speedups..]).replacen("role: absent", "role: writer", 1);
    Stack::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"))
}

/// A FIS client signing for us-west-2 (the document's region).
async fn west_fis(env: &Env) -> aws_sdk_fis::Client {
    let creds = aws_credential_types::Credentials::from_keys("AKIDDRDRILLTEST", "drdrill-test-secret", None);
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url(env.ls.endpoint_url())
        .credentials_provider(creds)
        .load()
        .await;
    aws_sdk_fis::Client::new(&conf)
}

fn template(parameters: Value) -> Value {
    json!({
        "description": "switch to the restored database",
        "targets": {},
        "actions": {"Switch": {"actionId": "aws:ssm:start-automation-execution", "parameters": parameters}},
        "stopConditions": [{"source": "none"}],
        "roleArn": common::ROLE
    })
}

/// Creates the template with `fis`, starts it, and waits (bounded) until it ends;
/// returns the experiment.
async fn run_to_end(fis: &aws_sdk_fis::Client, t: &Value) -> aws_sdk_fis::types::Experiment {
    let id = common::template_request(fis, t)
        .send()
        .await
        .unwrap()
        .experiment_template()
        .and_then(|t| t.id().map(str::to_string))
        .unwrap();
    let eid = fis
        .start_experiment()
        .experiment_template_id(id)
        .send()
        .await
        .unwrap()
        .experiment()
        .and_then(|e| e.id().map(str::to_string))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let e = fis
            .get_experiment()
            .id(&eid)
            .send()
            .await
            .unwrap()
            .experiment()
            .cloned()
            .unwrap();
        let status = e
            .state()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if matches!(status.as_str(), "completed" | "stopped" | "failed" | "cancelled") {
            return e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "experiment {eid} still {status} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The switch document starts us-west-2's stopped instances, waits until they are healthy
/// targets and points app.drill.test at west-alb; the action completes after all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_document_starts_instances_and_points_the_name() {
    let env = Env::start_stack(stack()).await;
    let west = env.ls.worlds[1].clone();
    assert!(west.instances().iter().all(|i| i.state == InstanceState::Stopped));
    let fis = west_fis(&env).await;
    let params = json!({
        "documentArn": DOC,
        "documentParameters": json!({"DnsName": "app.drill.test", "RestoredResourceArn": ["arn:aws:rds:us-west-2:000000000000:db:west-db-1"]}).to_string(),
        "maxDuration": "PT30S"
    });
    let e = run_to_end(&fis, &template(params)).await;
    let state = e.state().unwrap();
    assert_eq!(state.status().unwrap().as_str(), "completed", "{:?}", state.reason());
    let action = &e.actions().unwrap()["Switch"];
    assert_eq!(common::action_status(action), "completed");
    assert!(action.start_time().is_some() && action.end_time().is_some());
    assert!(west.instances().iter().all(|i| i.state == InstanceState::Running));
    let west_ip = west.lb_addr().unwrap().ip().to_string();
    let answers = env
        .ls
        .route53
        .answer_snapshot()
        .get(&("app.drill.test.".to_string(), "A".to_string()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(answers, vec![west_ip]);
    env.ls.shutdown().await;
}

/// A document the local stack does not know fails the action and the experiment, the
/// reason naming the document; nothing is started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_document_fails_the_action() {
    let env = Env::start_stack(stack()).await;
    let fis = west_fis(&env).await;
    let params = json!({
        "documentArn": "arn:aws:ssm:us-west-2:000000000000:document/NoSuchDocument",
        "maxDuration": "PT30S"
    });
    let e = run_to_end(&fis, &template(params)).await;
    assert_eq!(e.state().unwrap().status().unwrap().as_str(), "failed");
    let action = &e.actions().unwrap()["Switch"];
    assert_eq!(common::action_status(action), "failed");
    let reason = action.state().and_then(|s| s.reason()).unwrap_or_default();
    assert!(reason.contains("NoSuchDocument"), "{reason}");
    assert!(env.ls.worlds[1]
        .instances()
        .iter()
        .all(|i| i.state == InstanceState::Stopped));
    env.ls.shutdown().await;
}

/// `documentArn` and `maxDuration` are required: a template without either is a
/// ValidationException naming the parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_parameters_are_checked_at_creation() {
    let env = Env::start_stack(stack()).await;
    let fis = west_fis(&env).await;
    for (params, missing) in [
        (json!({"maxDuration": "PT30S"}), "documentArn"),
        (json!({"documentArn": DOC}), "maxDuration"),
    ] {
        let err = common::template_request(&fis, &template(params))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
        assert!(err.message().unwrap_or_default().contains(missing), "{err:?}");
    }
    env.ls.shutdown().await;
}
