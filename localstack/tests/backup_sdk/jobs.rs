//! Backup jobs, recovery points, lifecycles and restores: an in-place restore checked
//! against the ground truth, lifecycle days on the compressed clock, an expired job.

use super::*;

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
    // A second restore into the database being restored is refused.
    expect_code(
        east.start_restore_job()
            .recovery_point_arn(&rp_arn)
            .metadata("DBInstanceIdentifier", "east-db-1")
            .send()
            .await,
        "a second restore into east-db-1",
        "InvalidRequestException",
    );
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

/// A backup job whose database stays unreachable (a regional outage black-holes its
/// subnets) for its whole start window (60 AWS minutes = 1 s at factor 3600) is EXPIRED,
/// as AWS's job states say, and makes no recovery point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_job_expires_when_its_database_stays_unreachable() {
    let mut stack = Stack::load(&shipped_stack("backup-plans")).unwrap();
    stack.backup.as_mut().unwrap().plans.clear();
    let env = Env::start_stack(stack).await;
    env.wait_all_healthy().await;
    let (east, _) = clients(&env).await;
    let path = common::workspace_file("scenarios/fis/region-outage.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["actions"]["DisruptNetwork"]["parameters"]["duration"] = "PT5S".into();
    json["actions"]["StopInstances"]["parameters"]["startInstancesAfterDuration"] = "PT5S".into();
    let t = env.create_template(&json).await;
    let exp = env.start_experiment(&t).await;
    env.wait_fault_applied(&exp, "DisruptNetwork", Duration::from_secs(5))
        .await;
    let job = east
        .start_backup_job()
        .backup_vault_name("east-vault")
        .resource_arn(EAST_DB)
        .iam_role_arn(ROLE)
        .start_window_minutes(60)
        .send()
        .await
        .unwrap();
    let id = job.backup_job_id().unwrap();
    let d = wait_for(Duration::from_secs(4), "the job leaves CREATED", || async {
        let d = east.describe_backup_job().backup_job_id(id).send().await.ok()?;
        (d.state().map(|s| s.as_str()) != Some("CREATED")).then_some(d)
    })
    .await;
    assert_eq!(d.state().map(|s| s.as_str()), Some("EXPIRED"));
    assert!(d.completion_date().is_none());
    let waited = ms(d.start_by()) - ms(d.creation_date());
    assert_eq!(waited, 1000, "start window of 60 AWS minutes at factor 3600");
    let points = east
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("east-vault")
        .send()
        .await
        .unwrap();
    assert!(points.recovery_points().is_empty());
    env.ls.shutdown().await;
}
