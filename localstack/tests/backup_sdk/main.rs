//! AWS Backup on the local stack through the official `aws-sdk-backup` client: every
//! operation round-trips (ARN forms and member names as AWS's API reference gives them),
//! a plan's rule fires on the compressed clock and copies to the other region, lifecycles
//! move recovery points to cold storage and delete them, restores bring back exactly the
//! recovery point's writes (checked against the test's own acknowledged writes and the
//! ground truth), and errors come in AWS's codes.

#[path = "../common/mod.rs"]
mod common;
mod copies;
mod jobs;
mod paging;
mod setup;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_backup::primitives::DateTime;
use aws_sdk_backup::types::{BackupRuleInput, BackupSelection, Condition, ConditionType, Lifecycle};
use common::{expect_code, shipped_stack, wait_for, Env};
use drdrill_localstack::Stack;
use serde_json::Value;

const ACCOUNT: &str = "000000000000";
const ROLE: &str = "arn:aws:iam::000000000000:role/service-role/AWSBackupDefaultServiceRole";
const EAST_DB: &str = "arn:aws:rds:us-east-1:000000000000:db:east-db-1";

fn ms(t: Option<&DateTime>) -> i64 {
    let t = t.expect("a date");
    // Epoch seconds with fractions, read back through an f64: round to the millisecond.
    t.secs() * 1000 + i64::from((t.subsec_nanos() + 500_000) / 1_000_000)
}

/// Backup clients for us-east-1 and us-west-2, pointed at the stack.
async fn clients(env: &Env) -> (aws_sdk_backup::Client, aws_sdk_backup::Client) {
    let conf = common::sdk_loader(&env.ls).load().await;
    let east = aws_sdk_backup::Client::new(&conf);
    let west = aws_sdk_backup::Client::from_conf(
        aws_sdk_backup::config::Builder::from(&conf)
            .region(aws_sdk_backup::config::Region::new("us-west-2"))
            .build(),
    );
    (east, west)
}

/// Writes `ids` through the load balancer; each must be acknowledged.
async fn write_all(env: &Env, ids: &[String]) {
    for id in ids {
        assert_eq!(env.put_item(id, "v").await, Some(201), "write {id}");
    }
}

/// Waits (10 s) until backup job `id` completes; its recovery point ARN.
async fn wait_backup(b: &aws_sdk_backup::Client, id: &str) -> String {
    wait_for(Duration::from_secs(10), "the backup job completes", || async {
        let j = b.describe_backup_job().backup_job_id(id).send().await.ok()?;
        (j.state().map(|s| s.as_str()) == Some("COMPLETED"))
            .then(|| j.recovery_point_arn().unwrap_or_default().to_string())
    })
    .await
}

/// Waits (15 s) until restore job `id` completes; its description.
async fn wait_restore(
    b: &aws_sdk_backup::Client,
    id: &str,
) -> aws_sdk_backup::operation::describe_restore_job::DescribeRestoreJobOutput {
    wait_for(Duration::from_secs(15), "the restore job completes", || async {
        let j = b.describe_restore_job().restore_job_id(id).send().await.ok()?;
        (j.status().map(|s| s.as_str()) == Some("COMPLETED")).then_some(j)
    })
    .await
}

/// The ground truth's completed restore of job `id`.
async fn restore_truth(env: &Env, id: &str) -> Value {
    env.truth_of("restore_job")
        .await
        .into_iter()
        .find(|e| e["restore_job_id"] == id && e["phase"] == "completed")
        .expect("a completed restore_job event")
}
