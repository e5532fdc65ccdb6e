//! The backup coverage gate against the local stack's AWS Backup, through the official
//! `aws-sdk-backup` client: it passes on a stack whose plan ran, and fails — naming the
//! resource ARN and the rule — when the newest recovery point is older than the rule's
//! schedule gap plus its windows, when a required cross-region copy is missing, and when a
//! recovery point's retention differs from the plan's. Also `drdrill plan` on a scenario
//! with `objectives.backup_coverage` (coverage section, exit code 1 on findings). And, with
//! the stack's listings one item a page, the gate follows every `NextToken` and
//! `PaginationToken`.
//!
//! Expected bounds follow AWS's documented rule semantics
//! (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html>): an
//! hourly `cron(0 * ? * * *)` rule with a 60-minute start window and a 120-minute
//! completion window allows 1 h + 3 h = 4 h, which the stack's `time_factor: 3600` makes
//! 4 s of wall clock.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_backup::types::{
    BackupPlanInput, BackupRuleInput, BackupSelection, Condition, ConditionType, CopyAction, Lifecycle,
};
use drdrill::coverage::{check, gather, Coverage, GateClients, Problem};
use drdrill_localstack::LocalStack;
use support::bin::drdrill;
use support::repo;
use support::stack::start_stack;

const ROLE: &str = "arn:aws:iam::000000000000:role/service-role/AWSBackupDefaultServiceRole";
const EAST_DB: &str = "arn:aws:rds:us-east-1:000000000000:db:east-db-1";
/// The dormant plan's vaults, created by the tests (the shipped plan's `east-vault` and
/// `west-vault` get its hourly recovery points of the same database).
const EAST_VAULT: &str = "dormant-east";
const WEST_VAULT: &str = "arn:aws:backup:us-west-2:000000000000:backup-vault:dormant-west";

async fn conf(ls: &LocalStack) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(ls.endpoint_url())
        .credentials_provider(aws_credential_types::Credentials::from_keys("AKIDTEST", "secret", None))
        .load()
        .await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The gate on the plans named, now, at the stack's time factor (3600).
async fn gate(ls: &LocalStack, plans: &[&str]) -> Coverage {
    let clients = GateClients::new(conf(ls).await);
    let only: Vec<String> = plans.iter().map(|p| p.to_string()).collect();
    let inputs = gather(&clients, "us-east-1", Some(&only), now_ms(), 3600.0)
        .await
        .unwrap();
    check(&inputs)
}

/// Runs the gate every 50 ms until `want` holds of its result or `limit` passes; the last
/// result and whether it held.
async fn gate_until(
    ls: &LocalStack,
    plans: &[&str],
    limit: Duration,
    want: impl Fn(&Coverage) -> bool,
) -> (bool, Coverage) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let c = gate(ls, plans).await;
        if want(&c) {
            return (true, c);
        }
        if std::time::Instant::now() >= deadline {
            return (false, c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The shipped `backup-plans` stack: its hourly plan (selection by tag `Backup: drill`,
/// copy to us-west-2) runs every second of wall clock.
async fn stack() -> LocalStack {
    start_stack(&repo().join("localstack/stacks/backup-plans.yaml")).await
}

/// Once the plan has run (its first recovery point and its copy completed), the gate
/// passes: the tag selection resolves (through GetResources) to the tagged database, whose
/// newest recovery point and copy are younger than 4 s with the plan's retention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_passes_once_the_plan_has_run() {
    let ls = stack().await;
    let (passed, last) = gate_until(&ls, &["hourly-with-copy"], Duration::from_secs(20), Coverage::pass).await;
    assert!(passed, "{}", drdrill::coverage::render(&last));
    assert_eq!(last.checked.len(), 1);
    assert_eq!(last.checked[0].resource, EAST_DB);
    assert_eq!(last.checked[0].allowed_ms, Some(4_000));
    ls.shutdown().await;
}

/// A plan whose hourly rule only fires in 2099 (so it never runs now, but its gap is still
/// an hour) covering the database, with a copy action to us-west-2 and a 7-day lifecycle.
async fn dormant_plan(ls: &LocalStack, backup: &aws_sdk_backup::Client) -> String {
    backup
        .create_backup_vault()
        .backup_vault_name(EAST_VAULT)
        .send()
        .await
        .unwrap();
    let west = aws_sdk_backup::Client::from_conf(
        aws_sdk_backup::config::Builder::from(&conf(ls).await)
            .region(aws_sdk_backup::config::Region::new("us-west-2"))
            .build(),
    );
    west.create_backup_vault()
        .backup_vault_name("dormant-west")
        .send()
        .await
        .unwrap();
    let keep7 = Lifecycle::builder().delete_after_days(7).build();
    let rule = BackupRuleInput::builder()
        .rule_name("hourly-2099")
        .target_backup_vault_name(EAST_VAULT)
        .schedule_expression("cron(0 * ? * * 2099)")
        .start_window_minutes(60)
        .completion_window_minutes(120)
        .lifecycle(keep7.clone())
        .copy_actions(
            CopyAction::builder()
                .destination_backup_vault_arn(WEST_VAULT)
                .lifecycle(keep7)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let plan = BackupPlanInput::builder()
        .backup_plan_name("dormant")
        .rules(rule)
        .build()
        .unwrap();
    let id = backup.create_backup_plan().backup_plan(plan).send().await.unwrap();
    let id = id.backup_plan_id().unwrap().to_string();
    let sel = BackupSelection::builder()
        .selection_name("the-db")
        .iam_role_arn(ROLE)
        .resources(EAST_DB)
        .build()
        .unwrap();
    backup
        .create_backup_selection()
        .backup_plan_id(&id)
        .backup_selection(sel)
        .send()
        .await
        .unwrap();
    id
}

/// An on-demand backup of the database into the dormant plan's vault with `delete_after_days`; waits
/// until it is COMPLETED and returns its recovery point ARN.
async fn back_up_now(backup: &aws_sdk_backup::Client, delete_after_days: i64) -> String {
    let job = backup
        .start_backup_job()
        .backup_vault_name(EAST_VAULT)
        .resource_arn(EAST_DB)
        .iam_role_arn(ROLE)
        .lifecycle(Lifecycle::builder().delete_after_days(delete_after_days).build())
        .send()
        .await
        .unwrap();
    let id = job.backup_job_id().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (mut done, mut rp) = (false, String::new());
    while !done && std::time::Instant::now() < deadline {
        if let Ok(j) = backup.describe_backup_job().backup_job_id(&id).send().await {
            rp = j.recovery_point_arn().unwrap_or_default().to_string();
            done = j.state().map(|s| s.as_str()) == Some("COMPLETED");
        }
        if !done {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(done, "backup job {id} did not complete");
    rp
}

/// With only an on-demand recovery point (AWS runs copy actions for the plan's own jobs),
/// the copy is missing at once; once the recovery point is older than the 4 s bound the
/// gate also says it is too old — both naming the database's ARN and the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_fails_on_a_missing_copy_and_then_on_age() {
    let ls = stack().await;
    let backup = aws_sdk_backup::Client::new(&conf(&ls).await);
    dormant_plan(&ls, &backup).await;
    let rp = back_up_now(&backup, 7).await;
    let fresh = gate(&ls, &["dormant"]).await;
    let shown = drdrill::coverage::render(&fresh);
    // The copy is missing from the start; the only other finding there may be, on a slow
    // machine that took over 4 s to get here, is the age one checked below.
    let f = fresh
        .findings
        .iter()
        .find(|f| matches!(f.problem, Problem::NoRecoveryPoint { ref vault } if vault == "us-west-2/dormant-west"))
        .unwrap_or_else(|| panic!("no missing-copy finding: {shown}"));
    assert!(
        fresh
            .findings
            .iter()
            .all(|g| std::ptr::eq(g, f) || matches!(g.problem, Problem::TooOld { .. })),
        "{shown}"
    );
    assert_eq!(f.copy_to.as_deref(), Some(WEST_VAULT));
    let text = f.to_string();
    assert!(text.contains(EAST_DB) && text.contains("rule hourly-2099"), "{text}");

    let (aged, last) = gate_until(&ls, &["dormant"], Duration::from_secs(15), |c| {
        c.findings.iter().any(|f| matches!(f.problem, Problem::TooOld { .. }))
    })
    .await;
    assert!(aged, "{}", drdrill::coverage::render(&last));
    let old = last
        .findings
        .iter()
        .find(|f| matches!(f.problem, Problem::TooOld { .. }))
        .unwrap();
    let Problem::TooOld {
        age_ms,
        allowed_ms,
        ref recovery_point,
        ..
    } = old.problem
    else {
        unreachable!()
    };
    assert_eq!(allowed_ms, 4_000);
    assert!(age_ms > allowed_ms);
    assert_eq!(recovery_point, &rp);
    let text = old.to_string();
    assert!(
        text.contains(EAST_DB) && text.contains("rule hourly-2099") && text.contains("allowed 4s"),
        "{text}"
    );
    ls.shutdown().await;
}

/// A recovery point kept 35 days where the plan says 7 fails retention, naming the
/// resource, the rule and both lifecycles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_fails_when_retention_differs_from_the_plan() {
    let ls = stack().await;
    let backup = aws_sdk_backup::Client::new(&conf(&ls).await);
    dormant_plan(&ls, &backup).await;
    let rp = back_up_now(&backup, 35).await;
    let c = gate(&ls, &["dormant"]).await;
    let f = c
        .findings
        .iter()
        .find(|f| matches!(f.problem, Problem::Retention { .. }))
        .unwrap_or_else(|| panic!("no retention finding: {}", drdrill::coverage::render(&c)));
    let text = f.to_string();
    assert!(
        text.contains(EAST_DB) && text.contains("rule hourly-2099") && text.contains(&rp),
        "{text}"
    );
    assert!(
        text.contains("delete after 35 d") && text.contains("delete after 7 d"),
        "{text}"
    );
    ls.shutdown().await;
}

/// The bundled plans stack, written to `dir`, with every listing one item a page
/// (`backup.page_size: 1`, `tagging: { page_size: 1 }`).
fn one_item_pages(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("localstack/stacks/backup-plans.yaml")).unwrap();
    let text =
        text.replacen("  time_factor: 3600", "  page_size: 1\n  time_factor: 3600", 1) + "tagging: { page_size: 1 }\n";
    let path = dir.join("one-item-pages.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// With one item a page the gate still reads everything it needs: the dormant plan is on
/// the second page of ListBackupPlans (the stack file's plan is older), one of its two
/// selections on the second page of ListBackupSelections, the tagged database (which the
/// selection by tag resolves to) on the last page of GetResources (ARNs in order: the
/// three `ec2` instances before `rds`), and the older of
/// the vault's two recovery points on the second page of ListRecoveryPointsByBackupVault
/// (newest first) — and its 35-day lifecycle, against the plan's 7, is the one retention
/// finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_follows_every_page_of_every_listing() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&one_item_pages(dir.path())).await;
    let backup = aws_sdk_backup::Client::new(&conf(&ls).await);
    let id = dormant_plan(&ls, &backup).await;
    let by_tag = BackupSelection::builder()
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
    backup
        .create_backup_selection()
        .backup_plan_id(&id)
        .backup_selection(by_tag)
        .send()
        .await
        .unwrap();
    let old = back_up_now(&backup, 35).await;
    let new = back_up_now(&backup, 7).await;

    let clients = GateClients::new(conf(&ls).await);
    let only = ["dormant".to_string()];
    let inputs = gather(&clients, "us-east-1", Some(&only), now_ms(), 3600.0)
        .await
        .unwrap();
    assert_eq!(inputs.plans.len(), 1);
    assert_eq!(inputs.plans[0].id, id);
    let mut selections: Vec<(&str, Vec<&str>)> = inputs.plans[0]
        .selections
        .iter()
        .map(|s| (s.name.as_str(), s.resources.iter().map(String::as_str).collect()))
        .collect();
    selections.sort();
    assert_eq!(selections, [("by-tag", vec![EAST_DB]), ("the-db", vec![EAST_DB])]);
    let vault = ("us-east-1".to_string(), EAST_VAULT.to_string());
    let points: BTreeSet<&str> = inputs.recovery_points[&vault].iter().map(|r| r.arn.as_str()).collect();
    assert_eq!(points, BTreeSet::from([old.as_str(), new.as_str()]));
    let c = check(&inputs);
    let retention: Vec<&str> = c
        .findings
        .iter()
        .filter_map(|f| match &f.problem {
            Problem::Retention { recovery_point, .. } => Some(recovery_point.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(retention, [old.as_str()], "{}", drdrill::coverage::render(&c));
    ls.shutdown().await;
}

/// `drdrill plan` on a scenario whose `backup_coverage` names a plan that has never run
/// prints the coverage section naming the resource and the rule, and exits 1 (an
/// objective missed), as documented.
#[test]
fn plan_prints_coverage_and_exits_1_on_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = never_running_plan(dir.path(), "PT20S");
    let out = drdrill().arg("plan").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("backup coverage: FAIL"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("FAIL resource"))
        .unwrap_or_else(|| panic!("no finding in:\n{stdout}"));
    assert!(line.contains(EAST_DB) && line.contains("rule hourly"), "{line}");
    assert!(stderr.contains("backup coverage failed"), "{stderr}");
}

/// The bundled coverage scenario in `dir` against the bundled plans stack, with the
/// hourly rule moved to 2099 (it never runs, so the gate must find its resource
/// uncovered) and the regional outage's actions lasting `outage` (ISO 8601).
fn never_running_plan(dir: &std::path::Path, outage: &str) -> std::path::PathBuf {
    let stack = std::fs::read_to_string(repo().join("localstack/stacks/backup-plans.yaml")).unwrap();
    let stack = stack.replace("cron(0 * ? * * *)", "cron(0 * ? * * 2099)");
    std::fs::write(dir.join("stack.yaml"), stack).unwrap();
    let scenario = std::fs::read_to_string(repo().join("scenarios/backup-coverage.yaml")).unwrap();
    let scenario = scenario.replace("../localstack/stacks/backup-plans.yaml", "stack.yaml");
    std::fs::create_dir_all(dir.join("fis")).unwrap();
    for entry in std::fs::read_dir(repo().join("scenarios/fis")).unwrap() {
        let p = entry.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap().replace("PT20S", outage);
        std::fs::write(dir.join("fis").join(p.file_name().unwrap()), text).unwrap();
    }
    let path = dir.join("backup-coverage.yaml");
    std::fs::write(&path, scenario).unwrap();
    path
}

/// `drdrill run` checks the `backup_coverage` objective too, before the fault: the report
/// holds it among the objectives, failed and naming the uncovered database, and the run
/// fails on it (exit 1) however well the drill itself went.
#[test]
fn run_fails_the_backup_coverage_objective_naming_the_resource() {
    let dir = tempfile::tempdir().unwrap();
    let path = never_running_plan(dir.path(), "PT1S");
    let out_dir = dir.path().join("reports");
    let out = drdrill()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .arg("-q")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run_dir = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("no run folder; stderr:\n{stderr}"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    let objective = report["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "backup_coverage")
        .unwrap_or_else(|| panic!("no backup_coverage objective in {}", report["objectives"]));
    assert_eq!(objective["pass"], false, "{objective}");
    let message = objective["message"].as_str().unwrap();
    assert!(message.contains(EAST_DB) && message.contains("hourly"), "{message}");
    assert_eq!(report["verdict"], "fail", "{}", report["reason"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}
