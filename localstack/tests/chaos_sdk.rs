//! The Chaos API (`/_localstack/chaos/faults`, `/_localstack/chaos/effects`, in the shape
//! LocalStack documents) over real HTTP, seen through the official SDK crates with retries
//! off: a rule fails exactly the service, region and operation it names, in that
//! service's own error shape (restJson1, awsQuery, EC2, restXml, RPC v2 CBOR) with the
//! status and code it gives; POST/PATCH/DELETE replace, append and remove rules; the
//! latency effect delays every answer; bad documents are refused naming the rule.

mod common;

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_fis::error::{ProvideErrorMetadata, SdkError};
use common::test_stack;
use drdrill_localstack::LocalStack;
use serde_json::{json, Value};

/// The route53 test stack and an SDK config without retries (so each call is one request).
async fn start() -> (LocalStack, aws_config::SdkConfig) {
    let ls = common::Env::start(test_stack("route53")).await.ls;
    let conf = common::sdk_loader(&ls)
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    (ls, conf)
}

/// Sends `body` to the Chaos API with `method`; returns the status and JSON answer.
async fn chaos(ls: &LocalStack, method: reqwest::Method, kind: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/_localstack/chaos/{kind}", ls.endpoint_url());
    let resp = common::client(Duration::from_secs(5))
        .request(method, url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .expect("chaos API answers");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("answer body");
    (status, serde_json::from_slice(&bytes).expect("JSON answer"))
}

/// The Chaos API's `GET` answer for `kind`.
async fn get(ls: &LocalStack, kind: &str) -> Value {
    let url = format!("{}/_localstack/chaos/{kind}", ls.endpoint_url());
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes).expect("JSON answer")
}

/// The HTTP status and the SDK's parsed error code of a failed call.
fn status_and_code<E: ProvideErrorMetadata + std::fmt::Debug>(e: &SdkError<E>) -> (u16, Option<String>) {
    match e {
        SdkError::ServiceError(s) => (s.raw().status().as_u16(), s.err().code().map(str::to_string)),
        other => panic!("not a service error: {other:?}"),
    }
}

/// One rule per service: each named operation fails with the rule's status and code in
/// its protocol's shape, parsed so by the SDK; another operation of the same service, and
/// the same operation in a region no rule names, are untouched.
#[tokio::test]
async fn rules_fail_what_they_name_in_each_protocol() {
    let (ls, conf) = start().await;
    let rules = json!([
        { "service": "elbv2", "operation": "DescribeTargetHealth", "error": { "statusCode": 400, "code": "Throttling" } },
        { "service": "ec2", "operation": "DescribeInstances", "error": { "statusCode": 503, "code": "RequestLimitExceeded" } },
        { "service": "rds", "operation": "DescribeDBClusters" },
        { "service": "fis", "operation": "GetExperiment", "region": "us-east-1", "error": { "statusCode": 500, "code": "InternalServerException" } },
        { "service": "route53", "operation": "GetHealthCheckStatus", "error": { "statusCode": 400, "code": "Throttling" } },
        { "service": "cloudwatch", "operation": "PutMetricData", "error": { "statusCode": 503, "code": "ServiceUnavailable" } },
        { "service": "backup", "operation": "ListBackupVaults", "error": { "statusCode": 400, "code": "ThrottlingException" } },
        { "service": "resourcegroupstaggingapi", "operation": "GetResources", "error": { "statusCode": 400, "code": "ThrottledException" } },
        { "service": "fis", "region": "eu-west-1" }
    ]);
    let (status, listed) = chaos(&ls, reqwest::Method::POST, "faults", rules.clone()).await;
    assert_eq!((status, &listed), (200, &rules));

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let tg = elb
        .describe_target_groups()
        .send()
        .await
        .expect("DescribeTargetGroups untouched");
    let arn = tg.target_groups()[0].target_group_arn().unwrap().to_string();
    let e = elb
        .describe_target_health()
        .target_group_arn(&arn)
        .send()
        .await
        .expect_err("failed");
    assert_eq!(status_and_code(&e), (400, Some("Throttling".into())), "{e:?}");
    assert!(e.message().unwrap_or("").contains("Chaos API"), "{e:?}");

    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let e = ec2.describe_instances().send().await.expect_err("failed");
    assert_eq!(status_and_code(&e), (503, Some("RequestLimitExceeded".into())), "{e:?}");
    ec2.describe_subnets().send().await.expect("DescribeSubnets untouched");

    let rds = aws_sdk_rds::Client::new(&conf);
    let e = rds.describe_db_clusters().send().await.expect_err("failed");
    // LocalStack's default error: 503 ServiceUnavailable.
    assert_eq!(status_and_code(&e), (503, Some("ServiceUnavailable".into())), "{e:?}");

    let fis = aws_sdk_fis::Client::new(&conf);
    let e = fis.get_experiment().id("EXP1").send().await.expect_err("failed");
    assert_eq!(
        status_and_code(&e),
        (500, Some("InternalServerException".into())),
        "{e:?}"
    );
    fis.list_experiments().send().await.expect("ListExperiments untouched");

    let r53 = aws_sdk_route53::Client::new(&conf);
    let e = r53
        .get_health_check_status()
        .health_check_id("hc-primary")
        .send()
        .await
        .expect_err("failed");
    assert_eq!(status_and_code(&e), (400, Some("Throttling".into())), "{e:?}");
    r53.list_hosted_zones().send().await.expect("ListHostedZones untouched");

    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let e = cw
        .put_metric_data()
        .namespace("drdrill/Test")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("M")
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .expect_err("failed");
    assert_eq!(status_and_code(&e), (503, Some("ServiceUnavailable".into())), "{e:?}");
    cw.describe_alarms().send().await.expect("DescribeAlarms untouched");

    // restJson1 (AWS Backup's own body) and awsJson1.1 (the tagging API).
    let backup = aws_sdk_backup::Client::new(&conf);
    let e = backup.list_backup_vaults().send().await.expect_err("failed");
    assert_eq!(status_and_code(&e), (400, Some("ThrottlingException".into())), "{e:?}");
    assert!(e.message().unwrap_or("").contains("Chaos API"), "{e:?}");
    backup
        .list_backup_plans()
        .send()
        .await
        .expect("ListBackupPlans untouched");
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&conf);
    let e = tagging.get_resources().send().await.expect_err("failed");
    assert!(
        matches!(
            e.as_service_error(),
            Some(aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesError::ThrottledException(_))
        ),
        "{e:?}"
    );
    assert!(e.message().unwrap_or("").contains("Chaos API"), "{e:?}");

    // DELETE removes exactly the rules given; the rest stay in force.
    let (_, left) = chaos(&ls, reqwest::Method::DELETE, "faults", json!([rules[1]])).await;
    assert_eq!(left.as_array().unwrap().len(), rules.as_array().unwrap().len() - 1);
    ec2.describe_instances().send().await.expect("its rule was deleted");
    rds.describe_db_clusters().send().await.expect_err("still failed");
    // POST [] turns every fault off.
    let (_, none) = chaos(&ls, reqwest::Method::POST, "faults", json!([])).await;
    assert_eq!(none, json!([]));
    rds.describe_db_clusters().send().await.expect("no rule left");
    ls.shutdown().await;
}

/// PATCH appends; a rule with a probability fails about that share of calls (200 calls at
/// 0.5: between 60 and 140, beyond 5.6 standard deviations); the first matching rule
/// decides (a rule with probability 0 placed first shields the ones after it).
#[tokio::test]
async fn patch_appends_and_probability_is_a_share_of_calls() {
    let (ls, conf) = start().await;
    let (status, listed) = chaos(
        &ls,
        reqwest::Method::PATCH,
        "faults",
        json!([{ "service": "ec2", "operation": "DescribeSubnets", "probability": 0.5 }]),
    )
    .await;
    assert_eq!((status, listed.as_array().map(Vec::len)), (200, Some(1)));
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let mut failed = 0;
    for _ in 0..200 {
        failed += usize::from(ec2.describe_subnets().send().await.is_err());
    }
    assert!(
        (60..=140).contains(&failed),
        "{failed} of 200 failed at probability 0.5"
    );

    chaos(
        &ls,
        reqwest::Method::POST,
        "faults",
        json!([
            { "service": "ec2", "probability": 0 },
            { "service": "ec2" }
        ]),
    )
    .await;
    for _ in 0..20 {
        ec2.describe_subnets()
            .send()
            .await
            .expect("the first rule matches and never fires");
    }
    ls.shutdown().await;
}

/// The latency effect holds every AWS answer at least that long; GET shows it; 0 ends it.
#[tokio::test]
async fn latency_effect_delays_every_answer() {
    let (ls, conf) = start().await;
    let (status, effects) = chaos(&ls, reqwest::Method::POST, "effects", json!({ "latency": 400 })).await;
    assert_eq!((status, &effects), (200, &json!({ "latency": 400 })));
    let shown = get(&ls, "effects").await;
    assert_eq!(shown, json!({ "latency": 400 }));
    let fis = aws_sdk_fis::Client::new(&conf);
    let r53 = aws_sdk_route53::Client::new(&conf);
    let started = Instant::now();
    fis.list_experiments().send().await.expect("answered, late");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    r53.list_hosted_zones().send().await.expect("answered, late");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    chaos(&ls, reqwest::Method::POST, "effects", json!({ "latency": 0 })).await;
    // Without the effect a call is not held: bounded well below the effect's 400 ms
    // only to tell the two apart, on a loopback endpoint.
    let started = Instant::now();
    fis.list_experiments().send().await.expect("answered");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    ls.shutdown().await;
}

/// Bad documents are refused with 400 and an `error` naming the rule and what is wrong;
/// the rules in force are unchanged.
#[tokio::test]
async fn bad_documents_are_refused() {
    let (ls, _conf) = start().await;
    chaos(&ls, reqwest::Method::POST, "faults", json!([{ "service": "ec2" }])).await;
    for (body, expect) in [
        (json!([{}, { "service": "s3" }]), "rule 1: unknown service \"s3\""),
        (json!([{ "probability": 2 }]), "rule 0: probability 2"),
        (json!([{ "error": { "statusCode": 302 } }]), "error.statusCode 302"),
        (json!([{ "operaton": "X" }]), "unknown field `operaton`"),
        (json!({ "service": "ec2" }), "list of fault rules"),
    ] {
        let (status, answer) = chaos(&ls, reqwest::Method::POST, "faults", body.clone()).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(error.contains(expect), "{body}: {error}");
    }
    let (status, answer) = chaos(&ls, reqwest::Method::POST, "effects", json!({ "latency": "slow" })).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = chaos(&ls, reqwest::Method::PUT, "faults", json!([])).await;
    assert_eq!(status, 404, "{answer}");
    let rules = get(&ls, "faults").await;
    assert_eq!(rules, json!([{ "service": "ec2" }]));
    ls.shutdown().await;
}
