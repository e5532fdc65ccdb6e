//! Every List* operation pages as AWS documents it, through the SDK's paginators: with
//! the stack's `backup.page_size: 2` each listing spans pages and still returns every item
//! once, in order; `MaxResults` bounds a page; out-of-range `MaxResults` and tokens the
//! listing did not issue are `InvalidParameterValueException`
//! (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupVaults.html>:
//! "Valid Range: Minimum value of 1. Maximum value of 1000.").

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_backup::types::BackupPlanInput;

use super::*;

/// The bundled plans stack with its hourly rule moved to 2099 (so only the test's own
/// backups exist) and pages of 2 items.
async fn small_pages() -> Env {
    let text = std::fs::read_to_string(shipped_stack("backup-plans")).unwrap();
    let text = text.replace("cron(0 * ? * * *)", "cron(0 * ? * * 2099)").replacen(
        "  time_factor: 3600",
        "  page_size: 2\n  time_factor: 3600",
        1,
    );
    Env::start_stack(Stack::parse(Path::new("paged.yaml"), &text).unwrap()).await
}

fn dormant_plan(name: &str) -> BackupPlanInput {
    let rule = BackupRuleInput::builder()
        .rule_name("never")
        .target_backup_vault_name("page-a")
        .schedule_expression("cron(0 5 ? * * 2099)")
        .build()
        .unwrap();
    BackupPlanInput::builder()
        .backup_plan_name(name)
        .rules(rule)
        .build()
        .unwrap()
}

/// An on-demand backup of the database into `page-a`; its recovery point once COMPLETED.
async fn back_up(b: &aws_sdk_backup::Client) -> String {
    let job = b
        .start_backup_job()
        .backup_vault_name("page-a")
        .resource_arn(EAST_DB)
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    wait_backup(b, job.backup_job_id().unwrap()).await
}

/// Vaults, plans, selections, recovery points (by vault and by resource) and tags each
/// span pages of 2 (or of `MaxResults`), and the SDK's paginators return every item the
/// test created exactly once, in the documented order of the listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_operation_pages_through_the_sdk() {
    let env = small_pages().await;
    let (east, _) = clients(&env).await;
    let mut tags = BTreeMap::new();
    for (i, name) in ["page-a", "page-b", "page-c", "page-d"].iter().enumerate() {
        tags.insert(format!("k{i}"), format!("v{i}"));
        east.create_backup_vault()
            .backup_vault_name(*name)
            .set_backup_vault_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .unwrap();
    }
    // Vaults oldest first: the stack file's, then the test's in creation order, 3 pages.
    let pages: Vec<_> = east
        .list_backup_vaults()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages.iter().map(|p| p.backup_vault_list().len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    let names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.backup_vault_list())
        .filter_map(|v| v.backup_vault_name().map(str::to_string))
        .collect();
    assert_eq!(names, ["east-vault", "page-a", "page-b", "page-c", "page-d"]);
    // MaxResults bounds a page and the token continues after it.
    let first = east.list_backup_vaults().max_results(3).send().await.unwrap();
    assert_eq!(first.backup_vault_list().len(), 3);
    let rest = east
        .list_backup_vaults()
        .max_results(3)
        .set_next_token(first.next_token().map(str::to_string))
        .send()
        .await
        .unwrap();
    let rest: Vec<&str> = rest
        .backup_vault_list()
        .iter()
        .filter_map(|v| v.backup_vault_name())
        .collect();
    assert_eq!(rest, ["page-c", "page-d"]);
    let all = east.list_backup_vaults().max_results(5).send().await.unwrap();
    assert_eq!((all.backup_vault_list().len(), all.next_token()), (5, None));

    // Plans: the stack's and the test's three, each once, oldest first.
    let mut ids = Vec::new();
    for name in ["plan-1", "plan-2", "plan-3"] {
        let p = east
            .create_backup_plan()
            .backup_plan(dormant_plan(name))
            .send()
            .await
            .unwrap();
        ids.push(p.backup_plan_id().unwrap().to_string());
    }
    let plans: Vec<_> = east
        .list_backup_plans()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = plans.iter().filter_map(|p| p.backup_plan_name()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(names[0], "hourly-with-copy");
    let mut sorted = names[1..].to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, ["plan-1", "plan-2", "plan-3"]);
    assert!(plans
        .windows(2)
        .all(|w| ms(w[0].creation_date()) <= ms(w[1].creation_date())));

    // Selections of one plan, one a page (the paginator's page size is MaxResults).
    for name in ["s1", "s2", "s3"] {
        let sel = BackupSelection::builder()
            .selection_name(name)
            .iam_role_arn(ROLE)
            .resources(EAST_DB)
            .build()
            .unwrap();
        east.create_backup_selection()
            .backup_plan_id(&ids[0])
            .backup_selection(sel)
            .send()
            .await
            .unwrap();
    }
    let pages: Vec<_> = east
        .list_backup_selections()
        .backup_plan_id(&ids[0])
        .into_paginator()
        .page_size(1)
        .send()
        .try_collect()
        .await
        .unwrap();
    let listed: Vec<_> = pages.iter().flat_map(|p| p.backup_selections_list()).collect();
    let mut names: Vec<&str> = listed.iter().filter_map(|s| s.selection_name()).collect();
    assert_eq!(pages.len(), 3);
    // Oldest first; selections made within the same millisecond are ordered by id.
    assert!(listed
        .windows(2)
        .all(|w| ms(w[0].creation_date()) <= ms(w[1].creation_date())));
    names.sort_unstable();
    assert_eq!(names, ["s1", "s2", "s3"]);

    // Recovery points, newest first, by vault and by resource (3 of them: 2 pages).
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(back_up(&east).await);
    }
    made.reverse();
    let by_vault = east
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("page-a")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let arns: Vec<&str> = by_vault.iter().filter_map(|r| r.recovery_point_arn()).collect();
    assert_eq!(arns, made);
    let by_resource = east
        .list_recovery_points_by_resource()
        .resource_arn(EAST_DB)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let arns: Vec<&str> = by_resource.iter().filter_map(|r| r.recovery_point_arn()).collect();
    assert_eq!(arns, made);
    // ByResourceArn filters the vault's listing (sent as `resourceArn`).
    let other = east
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("page-a")
        .by_resource_arn("arn:aws:rds:us-east-1:000000000000:db:other")
        .send()
        .await
        .unwrap();
    assert!(other.recovery_points().is_empty());

    // ListTags: 4 tags, 2 a page, merged back into the vault's tags.
    let arn = "arn:aws:backup:us-east-1:000000000000:backup-vault:page-d";
    let (mut merged, mut token, mut pages) = (BTreeMap::new(), None, 0);
    loop {
        let page = east
            .list_tags()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        merged.extend(page.tags().cloned().unwrap_or_default().into_iter());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!((merged, pages), (tags, 2));
    env.ls.shutdown().await;
}

/// MaxResults outside 1..=1000 (ListRecoveryPointsByResource of an RDS database: below
/// 20, "Amazon RDS requires a value of at least 20"), a garbled `nextToken` and one issued
/// by another listing are each `InvalidParameterValueException`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_page_parameters_are_refused_in_aws_codes() {
    let env = small_pages().await;
    let (east, _) = clients(&env).await;
    const BAD: &str = "InvalidParameterValueException";
    for n in [0, 1001, -1] {
        expect_code(east.list_backup_vaults().max_results(n).send().await, "vaults", BAD);
        expect_code(east.list_backup_plans().max_results(n).send().await, "plans", BAD);
        let rps = east
            .list_recovery_points_by_backup_vault()
            .backup_vault_name("east-vault");
        expect_code(rps.max_results(n).send().await, "recovery points", BAD);
        let tags = east
            .list_tags()
            .resource_arn("arn:aws:backup:us-east-1:000000000000:backup-vault:east-vault");
        expect_code(tags.max_results(n).send().await, "tags", BAD);
    }
    let by_db = || east.list_recovery_points_by_resource().resource_arn(EAST_DB);
    expect_code(by_db().max_results(19).send().await, "RDS below 20", BAD);
    by_db().max_results(20).send().await.unwrap();
    by_db().max_results(1000).send().await.unwrap();

    let err = expect_code(
        east.list_backup_vaults().next_token("garbage").send().await,
        "garbled",
        BAD,
    );
    assert!(format!("{err:?}").contains("NextToken"), "{err:?}");
    east.create_backup_vault()
        .backup_vault_name("v-2")
        .send()
        .await
        .unwrap();
    east.create_backup_vault()
        .backup_vault_name("v-3")
        .send()
        .await
        .unwrap();
    let first = east.list_backup_vaults().send().await.unwrap();
    let token = first.next_token().expect("3 vaults span pages of 2").to_string();
    expect_code(
        east.list_backup_plans().next_token(&token).send().await,
        "a vault token for plans",
        BAD,
    );
    let mut altered = token.clone();
    altered.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    expect_code(
        east.list_backup_vaults().next_token(altered).send().await,
        "an altered token",
        BAD,
    );
    let second = east.list_backup_vaults().next_token(&token).send().await.unwrap();
    assert_eq!((second.backup_vault_list().len(), second.next_token()), (1, None));
    env.ls.shutdown().await;
}
