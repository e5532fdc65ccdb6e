//! AWS Backup on the local stack through the official `aws-sdk-backup` client: every
//! operation round-trips (ARN forms and member names as AWS's API reference gives them),
//! a plan's rule fires on the compressed clock and copies to the other region, lifecycles
//! move recovery points to cold storage and delete them, restores bring back exactly the
//! recovery point's writes (checked against the test's own acknowledged writes and the
//! ground truth), and errors come in AWS's codes.

mod common;

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

/// Vaults, plans and selections: what is created is listed and read back as given, with
/// AWS's ARN forms; the stack file's own vaults and plan are there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaults_plans_and_selections_round_trip() {
    let env = Env::start(shipped_stack("backup-plans")).await;
    let (east, _) = clients(&env).await;
    let v = east
        .create_backup_vault()
        .backup_vault_name("api-vault")
        .send()
        .await
        .unwrap();
    assert_eq!(
        v.backup_vault_arn(),
        Some("arn:aws:backup:us-east-1:000000000000:backup-vault:api-vault")
    );
    let vaults = east.list_backup_vaults().send().await.unwrap();
    let names: BTreeSet<&str> = vaults
        .backup_vault_list()
        .iter()
        .filter_map(|v| v.backup_vault_name())
        .collect();
    assert_eq!(names, BTreeSet::from(["api-vault", "east-vault"]));
    let rule = BackupRuleInput::builder()
        .rule_name("daily")
        .target_backup_vault_name("api-vault")
        .schedule_expression("cron(0 5 ? * * *)")
        .lifecycle(Lifecycle::builder().delete_after_days(35).build())
        .build()
        .unwrap();
    let plan = aws_sdk_backup::types::BackupPlanInput::builder()
        .backup_plan_name("api-plan")
        .rules(rule)
        .build()
        .unwrap();
    let created = east.create_backup_plan().backup_plan(plan).send().await.unwrap();
    let id = created.backup_plan_id().unwrap();
    assert_eq!(
        created.backup_plan_arn(),
        Some(format!("arn:aws:backup:us-east-1:{ACCOUNT}:backup-plan:{id}").as_str())
    );
    let got = east.get_backup_plan().backup_plan_id(id).send().await.unwrap();
    let p = got.backup_plan().unwrap();
    assert_eq!(p.backup_plan_name(), "api-plan");
    let r = &p.rules()[0];
    assert_eq!((r.rule_name(), r.target_backup_vault_name()), ("daily", "api-vault"));
    assert_eq!(r.schedule_expression(), Some("cron(0 5 ? * * *)"));
    assert_eq!(r.lifecycle().and_then(|l| l.delete_after_days()), Some(35));
    assert!(r.rule_id().is_some_and(|id| !id.is_empty()));
    assert_eq!(got.version_id(), created.version_id());
    let plans = east.list_backup_plans().send().await.unwrap();
    let names: BTreeSet<&str> = plans
        .backup_plans_list()
        .iter()
        .filter_map(|p| p.backup_plan_name())
        .collect();
    assert_eq!(names, BTreeSet::from(["api-plan", "hourly-with-copy"]));
    let sel = BackupSelection::builder()
        .selection_name("by-tag")
        .iam_role_arn(ROLE)
        .list_of_tags(
            Condition::builder()
                .condition_type(ConditionType::Stringequals)
                .condition_key("Backup")
                .condition_value("drill")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let s = east
        .create_backup_selection()
        .backup_plan_id(id)
        .backup_selection(sel)
        .send()
        .await
        .unwrap();
    let sid = s.selection_id().unwrap();
    let g = east
        .get_backup_selection()
        .backup_plan_id(id)
        .selection_id(sid)
        .send()
        .await
        .unwrap();
    let gs = g.backup_selection().unwrap();
    assert_eq!((gs.selection_name(), gs.iam_role_arn()), ("by-tag", ROLE));
    assert_eq!(gs.list_of_tags()[0].condition_value(), "drill");
    let l = east.list_backup_selections().backup_plan_id(id).send().await.unwrap();
    let ids: Vec<&str> = l
        .backup_selections_list()
        .iter()
        .filter_map(|s| s.selection_id())
        .collect();
    assert_eq!(ids, vec![sid]);
    env.ls.shutdown().await;
}

/// An on-demand backup, then writes, then a restore of it into the same database (the
/// accidental-deletion case): the database holds exactly the writes acknowledged before
/// the backup, the lost ids are exactly those after it, and the ground truth's record
/// agrees with what DescribeRestoreJob and DescribeRecoveryPoint answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_jobs_recovery_points_and_an_in_place_restore() {
    let mut stack = Stack::load(&shipped_stack("backup-plans")).unwrap();
    stack.backup.as_mut().unwrap().plans.clear();
    let env = Env::start_stack(stack).await;
    env.wait_all_healthy().await;
    let (east, _) = clients(&env).await;
    let before: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    let after: Vec<String> = (0..3).map(|i| format!("b{i}")).collect();
    write_all(&env, &before).await;
    let job = east
        .start_backup_job()
        .backup_vault_name("east-vault")
        .resource_arn(EAST_DB)
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let rp_arn = wait_backup(&east, job.backup_job_id().unwrap()).await;
    assert_eq!(job.recovery_point_arn(), Some(rp_arn.as_str()));
    let prefix = format!("arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:awsbackup:job-");
    assert!(rp_arn.starts_with(&prefix), "{rp_arn}");
    write_all(&env, &after).await;
    let d = east
        .describe_backup_job()
        .backup_job_id(job.backup_job_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(d.resource_arn(), Some(EAST_DB));
    assert!(ms(d.completion_date()) >= ms(d.creation_date()));
    let in_vault = east
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("east-vault")
        .send()
        .await
        .unwrap();
    let arns: Vec<&str> = in_vault
        .recovery_points()
        .iter()
        .filter_map(|r| r.recovery_point_arn())
        .collect();
    assert_eq!(arns, vec![rp_arn.as_str()]);
    let by_res = east
        .list_recovery_points_by_resource()
        .resource_arn(EAST_DB)
        .send()
        .await
        .unwrap();
    assert_eq!(by_res.recovery_points()[0].recovery_point_arn(), Some(rp_arn.as_str()));
    let rp = east
        .describe_recovery_point()
        .backup_vault_name("east-vault")
        .recovery_point_arn(&rp_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(rp.status().map(|s| s.as_str()), Some("COMPLETED"));
    assert_eq!(rp.storage_class().map(|s| s.as_str()), Some("WARM"));
    assert_eq!(rp.resource_arn(), Some(EAST_DB));
    let meta = east
        .get_recovery_point_restore_metadata()
        .backup_vault_name("east-vault")
        .recovery_point_arn(&rp_arn)
        .send()
        .await
        .unwrap();
    let meta = meta.restore_metadata().cloned().unwrap_or_default();
    assert_eq!(meta.get("DBInstanceIdentifier").map(String::as_str), Some("east-db-1"));
    // The recovery point carries the database's tags from the stack file.
    let tags = east.list_tags().resource_arn(&rp_arn).send().await.unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("Backup")).map(String::as_str),
        Some("drill")
    );
    let started = east
        .start_restore_job()
        .recovery_point_arn(&rp_arn)
        .set_metadata(Some(meta))
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let id = started.restore_job_id().unwrap();
    let done = wait_restore(&east, id).await;
    assert_eq!(done.created_resource_arn(), Some(EAST_DB));
    let data = env.ls.worlds[0].db_data().expect("restored");
    assert!(before.iter().all(|id| data.contains_key(id)));
    assert!(after.iter().all(|id| !data.contains_key(id)));
    let truth = restore_truth(&env, id).await;
    let lost: BTreeSet<String> = truth["lost_write_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(lost, after.iter().cloned().collect());
    assert_eq!(truth["recovery_point_arn"], rp_arn.as_str());
    let (created, completed) = (ms(done.creation_date()), ms(done.completion_date()));
    assert_eq!(truth["created_unix_ms"].as_i64(), Some(created));
    assert_eq!(truth["completed_unix_ms"].as_i64(), Some(completed));
    assert_eq!(
        truth["recovery_point_created_unix_ms"].as_i64(),
        Some(ms(rp.creation_date()))
    );
    assert_eq!(truth["data_age_ms"].as_i64(), Some(completed - ms(rp.creation_date())));
    // restore_base 1s: the restore of a handful of writes takes at least that.
    assert!(completed - created >= 1000, "{}", completed - created);
    env.ls.shutdown().await;
}

/// The stack's hourly rule fires every real second (time factor 3600), copies each
/// recovery point to west-vault with its source's creation date, and a copy restores
/// into us-west-2's absent database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rule_fires_on_the_compressed_clock_and_copies_across_regions() {
    let env = Env::start(shipped_stack("backup-plans")).await;
    env.wait_all_healthy().await;
    let (east, west) = clients(&env).await;
    write_all(&env, &["x1".to_string(), "x2".to_string()]).await;
    let points = wait_for(Duration::from_secs(10), "three scheduled recovery points", || async {
        let l = east
            .list_recovery_points_by_backup_vault()
            .backup_vault_name("east-vault")
            .send()
            .await
            .ok()?;
        (l.recovery_points().len() >= 3).then(|| l.recovery_points().to_vec())
    })
    .await;
    // Newest first; consecutive firings one AWS hour = 1000 real ms apart.
    for pair in points.windows(2) {
        let gap = ms(pair[0].creation_date()) - ms(pair[1].creation_date());
        assert!((850..=1150).contains(&gap), "gap {gap} ms");
    }
    let plan_id = east.list_backup_plans().send().await.unwrap().backup_plans_list()[0]
        .backup_plan_id()
        .unwrap()
        .to_string();
    assert_eq!(
        points[0].created_by().and_then(|c| c.backup_plan_id()),
        Some(plan_id.as_str())
    );
    let copy = wait_for(Duration::from_secs(10), "a copy in west-vault", || async {
        let l = west
            .list_recovery_points_by_backup_vault()
            .backup_vault_name("west-vault")
            .send()
            .await
            .ok()?;
        l.recovery_points().first().cloned()
    })
    .await;
    assert_eq!(
        copy.source_backup_vault_arn(),
        Some("arn:aws:backup:us-east-1:000000000000:backup-vault:east-vault")
    );
    assert!(copy
        .recovery_point_arn()
        .unwrap()
        .starts_with("arn:aws:rds:us-west-2:000000000000:snapshot:awsbackup:"));
    let source = east
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("east-vault")
        .send()
        .await
        .unwrap();
    assert!(source
        .recovery_points()
        .iter()
        .any(|r| ms(r.creation_date()) == ms(copy.creation_date())));
    let metadata: std::collections::HashMap<String, String> =
        [("DBInstanceIdentifier".to_string(), "west-db-1".to_string())].into();
    let r = west
        .start_restore_job()
        .recovery_point_arn(copy.recovery_point_arn().unwrap())
        .set_metadata(Some(metadata))
        .send()
        .await
        .unwrap();
    let done = wait_restore(&west, r.restore_job_id().unwrap()).await;
    assert_eq!(
        done.created_resource_arn(),
        Some("arn:aws:rds:us-west-2:000000000000:db:west-db-1")
    );
    let west_data = env.ls.worlds[1].db_data().expect("west-db-1 exists after the restore");
    assert!(west_data.contains_key("x1") && west_data.contains_key("x2"));
    env.ls.shutdown().await;
}

/// Lifecycle days run on the compressed clock (a day = 2 s at factor 43200): a recovery
/// point moves to COLD after MoveToColdStorageAfterDays, another is gone after
/// DeleteAfterDays; CalculatedLifecycle dates them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_moves_to_cold_storage_and_deletes() {
    let mut stack = Stack::load(&shipped_stack("backup-plans")).unwrap();
    let b = stack.backup.as_mut().unwrap();
    b.plans.clear();
    b.time_factor = 43_200.0;
    let env = Env::start_stack(stack).await;
    let (east, _) = clients(&env).await;
    let start = |l: Lifecycle| {
        east.start_backup_job()
            .backup_vault_name("east-vault")
            .resource_arn(EAST_DB)
            .iam_role_arn(ROLE)
            .lifecycle(l)
            .send()
    };
    let cold = start(Lifecycle::builder().move_to_cold_storage_after_days(1).build())
        .await
        .unwrap();
    let gone = start(Lifecycle::builder().delete_after_days(1).build()).await.unwrap();
    let cold_arn = wait_backup(&east, cold.backup_job_id().unwrap()).await;
    let gone_arn = wait_backup(&east, gone.backup_job_id().unwrap()).await;
    let describe = |arn: String| {
        east.describe_recovery_point()
            .backup_vault_name("east-vault")
            .recovery_point_arn(arn)
            .send()
    };
    let d = describe(gone_arn.clone()).await.unwrap();
    let delete_at = ms(d.calculated_lifecycle().and_then(|c| c.delete_at()));
    assert_eq!(delete_at - ms(d.creation_date()), 2000);
    wait_for(Duration::from_secs(6), "the cold recovery point is COLD", || async {
        let d = describe(cold_arn.clone()).await.ok()?;
        (d.storage_class().map(|s| s.as_str()) == Some("COLD")).then_some(())
    })
    .await;
    wait_for(Duration::from_secs(6), "the deleted recovery point is gone", || async {
        let l = east
            .list_recovery_points_by_backup_vault()
            .backup_vault_name("east-vault")
            .send()
            .await
            .ok()?;
        (!l.recovery_points()
            .iter()
            .any(|r| r.recovery_point_arn() == Some(gone_arn.as_str())))
        .then_some(())
    })
    .await;
    expect_code(
        describe(gone_arn).await,
        "describe deleted",
        "ResourceNotFoundException",
    );
    env.ls.shutdown().await;
}

/// Unknown vaults, plans, jobs and recovery points, a duplicate vault, a bad schedule
/// (named by its rule) and a missing parameter answer AWS's error codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_aws_backup_error_codes() {
    let env = Env::start(shipped_stack("backup-plans")).await;
    let (east, _) = clients(&env).await;
    const NF: &str = "ResourceNotFoundException";
    expect_code(east.get_backup_plan().backup_plan_id("nope").send().await, "plan", NF);
    expect_code(east.describe_backup_job().backup_job_id("nope").send().await, "job", NF);
    expect_code(
        east.describe_restore_job().restore_job_id("nope").send().await,
        "restore",
        NF,
    );
    expect_code(
        east.list_recovery_points_by_backup_vault()
            .backup_vault_name("nope")
            .send()
            .await,
        "vault",
        NF,
    );
    expect_code(
        east.describe_recovery_point()
            .backup_vault_name("east-vault")
            .recovery_point_arn("arn:aws:rds:us-east-1:000000000000:snapshot:awsbackup:job-x")
            .send()
            .await,
        "recovery point",
        NF,
    );
    expect_code(
        east.create_backup_vault().backup_vault_name("east-vault").send().await,
        "duplicate vault",
        "AlreadyExistsException",
    );
    let rule = BackupRuleInput::builder()
        .rule_name("broken")
        .target_backup_vault_name("east-vault")
        .schedule_expression("cron(0 5 * * *)")
        .build()
        .unwrap();
    let plan = aws_sdk_backup::types::BackupPlanInput::builder()
        .backup_plan_name("bad")
        .rules(rule)
        .build()
        .unwrap();
    let err = expect_code(
        east.create_backup_plan().backup_plan(plan).send().await,
        "bad schedule",
        "InvalidParameterValueException",
    );
    assert!(format!("{err:?}").contains("broken"), "{err:?}");
    // A raw call without Metadata: the SDK would refuse to send it.
    let url = format!("{}/restore-jobs", env.ls.endpoint_url());
    let auth =
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/backup/aws4_request, SignedHeaders=host, Signature=x";
    let r = env
        .http
        .put(url)
        .header("authorization", auth)
        .body(r#"{"RecoveryPointArn":"arn:x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()),
        Some("MissingParameterValueException")
    );
    let body: Value = r.json().await.unwrap();
    assert!(body["Message"].as_str().unwrap().contains("Metadata"), "{body}");
    env.ls.shutdown().await;
}

/// A stack file whose rule has a bad schedule is refused, naming the rule's key.
#[test]
fn a_stack_file_with_a_bad_schedule_names_the_rule() {
    let text = std::fs::read_to_string(shipped_stack("backup-plans")).unwrap();
    let bad = text.replace("cron(0 * ? * * *)", "cron(0 * * * * *)");
    let err = Stack::parse(std::path::Path::new("bad.yaml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("backup.plans[0].plan.Rules[0].ScheduleExpression"),
        "{err}"
    );
}
