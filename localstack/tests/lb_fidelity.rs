//! The load balancer answers as an ALB does, checked through the official SDK crates and
//! real HTTP through the proxy: a stopped instance's target is `unused`
//! (`Target.InvalidState`) at once and gets no traffic; with every target `unused` the
//! load balancer answers 503; a started instance's target goes `initial` → `healthy` after
//! one passing check; deregistration drains; a bad health-check status is
//! `Target.ResponseCodeMismatch` and a group of only unhealthy targets fails open; AWS's
//! limits (FIS durations, query parameter ranges and types) are enforced with AWS's
//! errors unless the stack relaxes them by name.

mod common;

use drdrill_localstack::network::Scope;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthDescription};
use aws_sdk_rds::error::ProvideErrorMetadata;
use common::{shipped_stack, str_of, wait_until, Env};
use drdrill_localstack::Stack;

/// The SDK config pointed at the stack.
async fn sdk(env: &Env) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(env.ls.endpoint_url())
        .credentials_provider(aws_credential_types::Credentials::from_keys("AKIDTEST", "secret", None))
        .load()
        .await
}

/// The ELBv2 client and the target group's ARN.
async fn elb_client(env: &Env) -> (aws_sdk_elasticloadbalancingv2::Client, String) {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk(env).await);
    let tgs = elb.describe_target_groups().send().await.expect("DescribeTargetGroups");
    let arn = tgs.target_groups()[0].target_group_arn().expect("arn").to_string();
    (elb, arn)
}

/// DescribeTargetHealth: (id, state, reason, description) of every registered target.
async fn health(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    tg: &str,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    let out = elb
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .expect("DescribeTargetHealth");
    out.target_health_descriptions().iter().map(row).collect()
}

fn row(d: &TargetHealthDescription) -> (String, String, Option<String>, Option<String>) {
    let h = d.target_health().expect("health");
    (
        d.target().and_then(|t| t.id()).unwrap_or_default().to_string(),
        h.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        h.reason().map(|r| r.as_str().to_string()),
        h.description().map(str::to_string),
    )
}

/// `GET /health` through the load balancer: status and `served-by`.
async fn through_lb(env: &Env) -> (u16, String) {
    let r = env
        .http
        .get(format!("http://{}/health", env.lb()))
        .send()
        .await
        .expect("the load balancer answers");
    let by = r
        .headers()
        .get("served-by")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.status().as_u16(), by)
}

/// Stopping instances makes their targets `unused` (`Target.InvalidState`, "Target is in
/// the stopped state") once EC2 calls them stopped: the load balancer keeps serving
/// from the others. With every instance stopped every target is unused, the load balancer
/// answers 503 (no fail-open over unused targets) and the ground truth says not serving.
/// Started again, each target goes `unused` → `initial` (`Elb.InitialHealthChecking`) →
/// `healthy` after one passing check, and the load balancer serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_targets_are_unused_and_all_unused_answers_503() {
    let env = Env::multi_az().await;
    let (elb, tg) = elb_client(&env).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&env).await);
    let zone_a: Vec<String> = env.zone_instances("us-east-1a").into_iter().map(|(id, _)| id).collect();

    ec2.stop_instances()
        .set_instance_ids(Some(zone_a.clone()))
        .send()
        .await
        .expect("StopInstances");
    // `stopping` for the stack's stopping time (its app already down), then `stopped`.
    wait_until(
        Duration::from_secs(3),
        "the stopped zone's targets are unused",
        || async {
            health(&elb, &tg)
                .await
                .iter()
                .filter(|(id, ..)| zone_a.contains(id))
                .all(|(_, state, ..)| state == "unused")
        },
    )
    .await;
    for (id, state, reason, description) in health(&elb, &tg).await {
        if zone_a.contains(&id) {
            assert_eq!(state, "unused", "{id}");
            assert_eq!(reason.as_deref(), Some("Target.InvalidState"), "{id}");
            assert_eq!(description.as_deref(), Some("Target is in the stopped state"), "{id}");
        } else {
            assert_eq!((state.as_str(), reason), ("healthy", None), "{id}");
        }
    }
    for _ in 0..8 {
        let (status, by) = through_lb(&env).await;
        assert_eq!(status, 200, "a stopped target gets no traffic");
        assert!(!by.contains("us-east-1a"), "{by}");
    }
    assert_eq!(env.serving().await, Some(true));

    let all: Vec<String> = env.all_instances().into_iter().map(|(id, _)| id).collect();
    ec2.stop_instances()
        .set_instance_ids(Some(all.clone()))
        .send()
        .await
        .expect("StopInstances");
    wait_until(Duration::from_secs(3), "every target is unused", || async {
        health(&elb, &tg).await.iter().all(|(_, state, ..)| state == "unused")
    })
    .await;
    let rows = health(&elb, &tg).await;
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .all(|(_, s, r, _)| s == "unused" && r.as_deref() == Some("Target.InvalidState")),
        "{rows:?}"
    );
    assert_eq!(through_lb(&env).await.0, 503, "every target unused: 503, not fail-open");
    assert_eq!(env.serving().await, Some(false));
    let fraction = env.truth_of("serving_fraction").await;
    let last = fraction.last().expect("a serving_fraction event");
    // The fraction fell to 0 while the instances were stopping (still routable, none
    // answering); it is recorded on change, so their leaving the rotation adds no event.
    assert_eq!(last["answering"].as_u64(), Some(0), "{last}");
    assert_eq!(last["serving_fraction"].as_f64(), Some(0.0), "{last}");

    let t_start = drdrill_localstack::truth::now_unix_ms();
    ec2.start_instances()
        .set_instance_ids(Some(all.clone()))
        .send()
        .await
        .expect("StartInstances");
    wait_until(Duration::from_secs(5), "the load balancer serves again", || async {
        through_lb(&env).await.0 == 200
    })
    .await;
    env.wait_all_healthy().await;
    let events = env.truth_of("target_health").await;
    for id in &all {
        let seq: Vec<(String, String, String)> = events
            .iter()
            .filter(|e| e["target"] == id.as_str() && common::t_ms(e) >= t_start)
            .map(|e| {
                (
                    str_of(e, "from"),
                    str_of(e, "to"),
                    e["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            seq,
            [
                ("unused".into(), "initial".into(), "Elb.InitialHealthChecking".into()),
                ("initial".into(), "healthy".into(), String::new()),
            ],
            "{id}"
        );
    }
    env.ls.shutdown().await;
}

/// DeregisterTargets puts the target in `draining` (`Target.DeregistrationInProgress`)
/// for the group's deregistration delay (1 s in the shipped stack): a request already
/// sent to it completes, no new request reaches it (with it the only target left the
/// load balancer answers 503), and after the delay it has left the group
/// (`unused`, `Target.NotRegistered` when asked for by id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistered_targets_drain_then_leave() {
    let env = Env::multi_az().await;
    let (elb, tg) = elb_client(&env).await;
    let keep = "i-app1a1";
    let others: Vec<TargetDescription> = env
        .all_instances()
        .into_iter()
        .filter(|(id, _)| id != keep)
        .map(|(id, _)| TargetDescription::builder().id(id).build())
        .collect();
    elb.deregister_targets()
        .target_group_arn(&tg)
        .set_targets(Some(others))
        .send()
        .await
        .expect("DeregisterTargets");
    let rows = health(&elb, &tg).await;
    assert_eq!(rows.len(), 6, "draining targets are still listed");
    for (id, state, reason, description) in &rows {
        if id != keep {
            assert_eq!(state, "draining");
            assert_eq!(reason.as_deref(), Some("Target.DeregistrationInProgress"));
            assert_eq!(description.as_deref(), Some("Target deregistration is in progress"));
        }
    }
    for _ in 0..6 {
        let (status, by) = through_lb(&env).await;
        assert_eq!(status, 200);
        assert!(by.starts_with(keep), "no new request goes to a draining target: {by}");
    }
    wait_until(Duration::from_secs(3), "the drained targets left the group", || async {
        health(&elb, &tg).await.len() == 1
    })
    .await;

    // A request in flight to the last target (held by an unreachable database writer)
    // completes after the target starts draining.
    env.ls.world.block_subnets(&["subnet-db-1a".to_string()], Scope::All);
    let env_ref = &env;
    let in_flight = async move { env_ref.put_item("drain-1", "x").await };
    let deregister = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        elb.deregister_targets()
            .target_group_arn(&tg)
            .targets(TargetDescription::builder().id(keep).build())
            .send()
            .await
            .expect("DeregisterTargets");
        assert_eq!(through_lb(&env).await.0, 503, "only a draining target: 503");
        env.ls.world.unblock_subnets(&["subnet-db-1a".to_string()], Scope::All);
    };
    let (status, ()) = tokio::join!(in_flight, deregister);
    assert_eq!(status, Some(201), "the in-flight request completed");
    wait_until(Duration::from_secs(3), "the last target left the group", || async {
        health(&elb, &tg).await.is_empty()
    })
    .await;
    let out = elb
        .describe_target_health()
        .target_group_arn(&tg)
        .targets(TargetDescription::builder().id(keep).build())
        .send()
        .await
        .expect("DescribeTargetHealth by id");
    let (_, state, reason, _) = row(&out.target_health_descriptions()[0]);
    assert_eq!(
        (state.as_str(), reason.as_deref()),
        ("unused", Some("Target.NotRegistered"))
    );
    env.ls.shutdown().await;
}

/// A health check answered with a status other than 200 is `Target.ResponseCodeMismatch`
/// naming the code; with every target unhealthy the load balancer fails open and still
/// serves; a black-holed target's checks are `Target.Timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_failures_carry_aws_reason_codes() {
    let path = shipped_stack("multi-az");
    let text = std::fs::read_to_string(&path).expect("stack file");
    let stack = Stack::parse(&path, &text.replacen("path: /health", "path: /missing", 1)).expect("stack");
    let env = Env::start_stack(stack).await;
    let (elb, tg) = elb_client(&env).await;
    wait_until(Duration::from_secs(5), "every target is unhealthy", || async {
        health(&elb, &tg).await.iter().all(|(_, s, _, _)| s == "unhealthy")
    })
    .await;
    for (id, _, reason, description) in health(&elb, &tg).await {
        assert_eq!(reason.as_deref(), Some("Target.ResponseCodeMismatch"), "{id}");
        assert_eq!(
            description.as_deref(),
            Some("Health checks failed with these codes: [404]"),
            "{id}"
        );
    }
    assert_eq!(through_lb(&env).await.0, 200, "fail-open over unhealthy targets");
    env.ls.shutdown().await;

    let env = Env::multi_az().await;
    let (elb, tg) = elb_client(&env).await;
    env.ls.world.block_subnets(&["subnet-app-1b".to_string()], Scope::All);
    let zone_b: Vec<String> = env.zone_instances("us-east-1b").into_iter().map(|(id, _)| id).collect();
    wait_until(Duration::from_secs(5), "the black-holed targets time out", || async {
        health(&elb, &tg)
            .await
            .iter()
            .filter(|(id, ..)| zone_b.contains(id))
            .all(|(_, s, r, d)| {
                s == "unhealthy" && r.as_deref() == Some("Target.Timeout") && d.as_deref() == Some("Request timed out")
            })
    })
    .await;
    env.ls.shutdown().await;
}

/// Without `speedups.short_fault_durations` the FIS engine refuses a template whose
/// durations are below AWS's PT1M minimum, as FIS does: a ValidationException naming the
/// action and the value; PT1M is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_fault_durations_need_the_named_speedup() {
    let path = shipped_stack("multi-az");
    let text = std::fs::read_to_string(&path).expect("stack file");
    let strict = text.replacen("  short_fault_durations: true\n", "", 1);
    let stack = Stack::parse(&path, &strict).expect("stack");
    assert_eq!(stack.speedups_on(), ["sub_second_health_checks"]);
    let env = Env::start_stack(stack).await;
    let cut_for = |duration: &str| {
        serde_json::json!({
            "description": format!("a cut of {duration}"),
            "targets": {"Subs": {"resourceType": "aws:ec2:subnet", "resourceTags": {"Tier": "app"}, "selectionMode": "ALL"}},
            "actions": {"Cut": {
                "actionId": "aws:network:disrupt-connectivity",
                "parameters": {"duration": duration},
                "targets": {"Subnets": "Subs"}
            }}
        })
    };
    let e = common::template_request(&env.fis, &cut_for("PT5S"))
        .send()
        .await
        .expect_err("PT5S is below AWS's minimum");
    assert_eq!(e.code(), Some("ValidationException"));
    let msg = e.message().unwrap_or_default().to_string();
    assert!(
        msg.contains("Cut") && msg.contains("aws:network:disrupt-connectivity") && msg.contains("PT5S"),
        "{msg}"
    );
    assert!(e.into_service_error().is_validation_exception());
    let ok = common::template_request(&env.fis, &cut_for("PT1M")).send().await;
    assert!(ok.is_ok(), "{ok:?}");
    env.ls.shutdown().await;
}

/// Integer parameters out of AWS's range are refused through the SDKs with each service's
/// code (ELBv2 `ValidationError` for PageSize 0, RDS `InvalidParameterValue` for
/// MaxRecords 5, EC2 `InvalidParameterValue` for MaxResults 1), and malformed values
/// (`PageSize=notanumber`, `MaxRecords=abc`) are HTTP 400 `ValidationError` in the awsQuery
/// error shape, naming the parameter — never a 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_out_of_range_parameters_are_refused() {
    let env = Env::start(shipped_stack("multi-az")).await;
    let conf = sdk(&env).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let e = elb
        .describe_load_balancers()
        .page_size(0)
        .send()
        .await
        .expect_err("PageSize 0");
    assert_eq!(e.code(), Some("ValidationError"));
    assert!(e.message().unwrap_or_default().contains("PageSize"));
    assert!(elb.describe_load_balancers().page_size(400).send().await.is_ok());
    let rds = aws_sdk_rds::Client::new(&conf);
    let e = rds
        .describe_db_clusters()
        .max_records(5)
        .send()
        .await
        .expect_err("MaxRecords 5");
    assert_eq!(e.code(), Some("InvalidParameterValue"));
    assert!(e.message().unwrap_or_default().contains("MaxRecords"));
    assert!(rds.describe_db_instances().max_records(20).send().await.is_ok());
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let e = ec2
        .describe_instances()
        .max_results(1)
        .send()
        .await
        .expect_err("MaxResults 1");
    assert_eq!(e.code(), Some("InvalidParameterValue"));

    let raw = |service: &'static str, form: &'static str| {
        let url = format!("{}/", env.ls.endpoint_url());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header(
                    "authorization",
                    format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"),
                )
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .expect("the endpoint answers");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    for (service, form, param) in [
        (
            "elasticloadbalancing",
            "Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=notanumber",
            "PageSize",
        ),
        (
            "elasticloadbalancing",
            "Action=DescribeTargetGroups&Version=2015-12-01&PageSize=1.5",
            "PageSize",
        ),
        (
            "rds",
            "Action=DescribeDBClusters&Version=2014-10-31&MaxRecords=abc",
            "MaxRecords",
        ),
    ] {
        let (status, body) = raw(service, form).await;
        assert_eq!(status, 400, "{form}: {body}");
        assert!(
            body.contains("<ErrorResponse")
                && body.contains("<Code>ValidationError</Code>")
                && body.contains("<Type>Sender</Type>")
                && body.contains(param),
            "{form}: {body}"
        );
    }
    let (status, body) = raw("ec2", "Action=DescribeInstances&Version=2016-11-15&MaxResults=lots").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<Code>InvalidParameterValue</Code>") && body.contains("MaxResults"),
        "{body}"
    );
    env.ls.shutdown().await;
}
