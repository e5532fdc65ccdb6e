//! Vaults, plans and selections round-trip; errors come in AWS Backup's codes; a stack
//! file's bad schedule names its rule.

use super::*;

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
    // ListTags of a vault and a plan: the tags the stack file gives them.
    let stack_plan = plans
        .backup_plans_list()
        .iter()
        .find(|p| p.backup_plan_name() == Some("hourly-with-copy"))
        .and_then(|p| p.backup_plan_arn())
        .unwrap();
    let tags = east.list_tags().resource_arn(stack_plan).send().await.unwrap();
    assert_eq!(tags.tags().and_then(|t| t.get("Team")).map(String::as_str), Some("dr"));
    let vault_arn = "arn:aws:backup:us-east-1:000000000000:backup-vault:east-vault";
    let tags = east.list_tags().resource_arn(vault_arn).send().await.unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("Purpose")).map(String::as_str),
        Some("drill")
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
    let job = |vault: &str, arn: &str| {
        east.start_backup_job()
            .backup_vault_name(vault)
            .resource_arn(arn)
            .iam_role_arn(ROLE)
            .send()
    };
    expect_code(job("nope", EAST_DB).await, "backup into an unknown vault", NF);
    expect_code(
        job("east-vault", "arn:aws:rds:us-east-1:000000000000:db:nope").await,
        "backup of an unknown database",
        "InvalidParameterValueException",
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
