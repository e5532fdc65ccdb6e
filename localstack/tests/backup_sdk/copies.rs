//! Scheduled rules on the compressed clock and their cross-region copies: the stack's
//! plan, the `backups:` shorthand, and copies across a cross-region cut.

use super::*;

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

/// The `backups:` shorthand takes its first backup when the stack starts (as the snapshot
/// loop it replaced did) and copies it to us-west-2 after `copy_duration` (500 ms), long
/// before its 4 s interval comes round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backups_shorthand_backs_up_at_start_and_copies() {
    let before = drdrill_localstack::truth::now_unix_ms();
    let env = Env::start(shipped_stack("strategy-backup-restore")).await;
    let copied = wait_for(Duration::from_secs(3), "a copy in us-west-2", || async {
        env.truth_of("backup")
            .await
            .into_iter()
            .find(|e| e["phase"] == "copied")
    })
    .await;
    assert_eq!(copied["in_region"], "us-west-2");
    let taken = copied["taken_unix_ms"].as_i64().unwrap();
    assert!(taken - before < 1000, "first backup {} ms after start", taken - before);
    assert!(copied["t_unix_ms"].as_i64().unwrap() - taken >= 500);
    env.ls.shutdown().await;
}

/// While a route-table action cuts us-east-1 off from us-west-2, no copy arrives there;
/// copies of recovery points taken during the cut retry (AWS's copy retry window: 2 AWS
/// hours, 2 s at factor 3600) and arrive once the cut ends, keeping their source's
/// creation date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_wait_out_a_cross_region_cut() {
    let env = Env::start(shipped_stack("backup-plans")).await;
    env.wait_all_healthy().await;
    let path = common::workspace_file("scenarios/fis/cross-region-replication-cut.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["actions"]["CutCrossRegion"]["parameters"]["duration"] = "PT3S".into();
    let t = env.create_template(&json).await;
    let exp = env.start_experiment(&t).await;
    env.wait_fault_applied(&exp, "CutCrossRegion", Duration::from_secs(5))
        .await;
    env.wait_experiment(&exp, "completed", Duration::from_secs(10)).await;
    // The cut as the world applied it (the ground truth's cross_region events).
    let cuts = env.truth_of("cross_region").await;
    let at = |cut: bool| {
        cuts.iter()
            .find(|e| e["cut"] == cut)
            .and_then(|e| e["t_unix_ms"].as_i64())
            .expect("cross_region events")
    };
    let (cut_at, reverted_at) = (at(true), at(false));
    let late = wait_for(
        Duration::from_secs(5),
        "a copy taken during the cut arrives",
        || async {
            env.truth_of("backup")
                .await
                .into_iter()
                .find(|e| e["phase"] == "copied" && e["taken_unix_ms"].as_i64().unwrap() > cut_at)
        },
    )
    .await;
    assert!(late["t_unix_ms"].as_i64().unwrap() >= reverted_at, "{late}");
    for e in env.truth_of("backup").await.iter().filter(|e| e["phase"] == "copied") {
        let t = e["t_unix_ms"].as_i64().unwrap();
        assert!(!(cut_at..reverted_at).contains(&t), "a copy crossed the cut: {e}");
    }
    env.ls.shutdown().await;
}
