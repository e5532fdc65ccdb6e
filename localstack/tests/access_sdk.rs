//! A stack file's `access:` section through the official SDK crates: a denied IAM action,
//! named by its IAM prefix (`tag:`, `cloudwatch:`, `backup:`), is refused in its service's
//! own error shape — Resource Groups Tagging and AWS Backup `AccessDeniedException`,
//! CloudWatch `AccessDenied` — with the message naming the action, and the service's other
//! operations still answer.

mod common;

use aws_sdk_fis::error::{ProvideErrorMetadata, SdkError};

const ACCESS: &str = r#"
access:
  deny: [tag:GetResources, cloudwatch:DescribeAlarms, backup:ListBackupVaults]
"#;

fn code_and_message<E: ProvideErrorMetadata + std::fmt::Debug>(e: &SdkError<E>) -> (u16, String, String) {
    match e {
        SdkError::ServiceError(s) => (
            s.raw().status().as_u16(),
            s.err().code().unwrap_or_default().to_string(),
            s.err().message().unwrap_or_default().to_string(),
        ),
        other => panic!("not a service error: {other:?}"),
    }
}

#[tokio::test]
async fn denied_actions_are_refused_by_their_iam_name() {
    let (ls, conf) = common::route53_stack_with(ACCESS).await;

    let tagging = aws_sdk_resourcegroupstagging::Client::new(&conf);
    let e = tagging.get_resources().send().await.expect_err("denied");
    let (status, code, message) = code_and_message(&e);
    assert_eq!((status, code.as_str()), (403, "AccessDeniedException"), "{e:?}");
    assert!(message.contains("perform: tag:GetResources"), "{message}");

    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let e = cw.describe_alarms().send().await.expect_err("denied");
    let (status, code, message) = code_and_message(&e);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"), "{e:?}");
    assert!(message.contains("perform: cloudwatch:DescribeAlarms"), "{message}");
    cw.put_metric_data()
        .namespace("drdrill/Test")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("M")
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData is allowed");

    let backup = aws_sdk_backup::Client::new(&conf);
    let e = backup.list_backup_vaults().send().await.expect_err("denied");
    let (status, code, message) = code_and_message(&e);
    assert_eq!((status, code.as_str()), (403, "AccessDeniedException"), "{e:?}");
    assert!(message.contains("perform: backup:ListBackupVaults"), "{message}");
    backup
        .list_backup_plans()
        .send()
        .await
        .expect("ListBackupPlans is allowed");
    ls.shutdown().await;
}
