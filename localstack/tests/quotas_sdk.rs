//! API quotas through the official SDK crates (retries off): a stack file's `quotas:`
//! section throttles each service in its own protocol's error shape — ELBv2 and RDS
//! `Throttling` (400, awsQuery), EC2 `RequestLimitExceeded` (503), FIS
//! `ThrottlingException` (429, restJson1), Route 53 `Throttling` (400, restXml), AWS Backup
//! `ThrottlingException` (400, restJson1), the Resource Groups Tagging API
//! `ThrottledException` (400, awsJson1.1) — and the SDK parses each as that error code.

mod common;

use aws_sdk_fis::error::{ProvideErrorMetadata, SdkError};
use common::test_stack;
use drdrill_localstack::{LocalStack, Stack};

/// Tight buckets (capacity 1, refilled once a day) for one operation group of every service.
const QUOTAS: &str = r#"
quotas:
  defaults: none
  buckets:
    - { service: elasticloadbalancing, operations: "Describe*", capacity: 1, refill_per_second: 0.00001 }
    - { service: ec2, operations: "Describe*", capacity: 1, refill_per_second: 0.00001, per_operation: true }
    - { service: rds, operations: "*", capacity: 1, refill_per_second: 0.00001 }
    - { service: fis, operations: ListExperiments, capacity: 1, refill_per_second: 0.00001 }
    - { service: route53, operations: GetHealthCheckStatus, capacity: 1, refill_per_second: 0.00001 }
    - { service: backup, operations: ListBackupVaults, capacity: 1, refill_per_second: 0.00001 }
    - { service: tagging, operations: GetResources, capacity: 1, refill_per_second: 0.00001 }
"#;

/// The route53 test stack with [`QUOTAS`], and an SDK config without retries.
async fn start() -> (LocalStack, aws_config::SdkConfig) {
    common::route53_stack_with(QUOTAS).await
}

/// The HTTP status and the SDK's parsed error code of a failed call.
fn status_and_code<E: ProvideErrorMetadata + std::fmt::Debug>(e: &SdkError<E>) -> (u16, Option<String>) {
    match e {
        SdkError::ServiceError(s) => (s.raw().status().as_u16(), s.err().code().map(str::to_string)),
        other => panic!("not a service error: {other:?}"),
    }
}

/// One call of every throttled group passes, the next is refused with the service's own
/// code and status, and an operation outside the group is untouched.
#[tokio::test]
async fn each_protocol_throttles_in_its_own_shape() {
    let (ls, conf) = start().await;

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    elb.describe_load_balancers()
        .send()
        .await
        .expect("first Describe* passes");
    let e = elb
        .describe_target_groups()
        .send()
        .await
        .expect_err("second Describe* throttled");
    assert_eq!(status_and_code(&e), (400, Some("Throttling".into())), "{e:?}");
    assert_eq!(e.message(), Some("Rate exceeded"));

    let ec2 = aws_sdk_ec2::Client::new(&conf);
    ec2.describe_instances()
        .send()
        .await
        .expect("first DescribeInstances passes");
    let e = ec2.describe_instances().send().await.expect_err("second throttled");
    assert_eq!(status_and_code(&e), (503, Some("RequestLimitExceeded".into())), "{e:?}");
    // EC2's buckets are per API: DescribeSubnets has its own.
    ec2.describe_subnets()
        .send()
        .await
        .expect("another API's bucket is full");

    let rds = aws_sdk_rds::Client::new(&conf);
    rds.describe_db_clusters().send().await.expect("first RDS call passes");
    let e = rds
        .describe_db_instances()
        .send()
        .await
        .expect_err("second RDS call throttled");
    assert_eq!(status_and_code(&e), (400, Some("Throttling".into())), "{e:?}");

    let fis = aws_sdk_fis::Client::new(&conf);
    fis.list_experiments()
        .send()
        .await
        .expect("first ListExperiments passes");
    let e = fis.list_experiments().send().await.expect_err("second throttled");
    assert_eq!(status_and_code(&e), (429, Some("ThrottlingException".into())), "{e:?}");
    fis.list_actions().send().await.expect("ListActions has no bucket");

    let r53 = aws_sdk_route53::Client::new(&conf);
    let status = || r53.get_health_check_status().health_check_id("hc-primary").send();
    status().await.expect("first GetHealthCheckStatus passes");
    let e = status().await.expect_err("second throttled");
    assert_eq!(status_and_code(&e), (400, Some("Throttling".into())), "{e:?}");
    r53.list_hosted_zones()
        .send()
        .await
        .expect("ListHostedZones has no bucket");

    let backup = aws_sdk_backup::Client::new(&conf);
    backup
        .list_backup_vaults()
        .send()
        .await
        .expect("first ListBackupVaults passes");
    let e = backup.list_backup_vaults().send().await.expect_err("second throttled");
    assert_eq!(status_and_code(&e), (400, Some("ThrottlingException".into())), "{e:?}");
    assert_eq!(e.message(), Some("Rate exceeded"));
    backup
        .list_backup_plans()
        .send()
        .await
        .expect("ListBackupPlans has no bucket");

    let tagging = aws_sdk_resourcegroupstagging::Client::new(&conf);
    tagging.get_resources().send().await.expect("first GetResources passes");
    let e = tagging.get_resources().send().await.expect_err("second throttled");
    assert_eq!(status_and_code(&e), (400, Some("ThrottledException".into())), "{e:?}");
    assert!(
        matches!(
            e.as_service_error(),
            Some(aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesError::ThrottledException(_))
        ),
        "the SDK reads the tagging API's own throttling error: {e:?}"
    );
    ls.shutdown().await;
}

/// A `quotas:` section with bad values is refused when the stack file is parsed, naming
/// what is wrong.
#[test]
fn bad_quotas_are_refused() {
    let path = test_stack("route53");
    let base = std::fs::read_to_string(&path).expect("stack file");
    for (section, expect) in [
        (
            "quotas:\n  buckets: [{ service: s3, operations: '*', capacity: 1, refill_per_second: 1 }]\n",
            "unknown service",
        ),
        (
            "quotas:\n  buckets: [{ service: fis, operations: '*', capacity: 0, refill_per_second: 1 }]\n",
            "capacity",
        ),
        (
            "quotas:\n  buckets: [{ service: fis, operations: '*', capacity: 1, refill_per_second: 0 }]\n",
            "refill_per_second",
        ),
        ("quotas:\n  defaults: some\n", "defaults"),
        ("quotas:\n  bukets: []\n", "bukets"),
    ] {
        let e = Stack::parse(&path, &format!("{base}{section}")).expect_err(section);
        assert!(e.to_string().contains(expect), "{section}: {e}");
    }
}
