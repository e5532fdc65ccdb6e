//! The gate's checks on hand-built inventories; expected bounds follow from AWS's
//! documented schedule and window semantics
//! (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html>:
//! StartWindowMinutes, CompletionWindowMinutes, defaults 8 hours and 7 days).

use std::collections::BTreeMap;

use drdrill_localstack::backup::schedule::Schedule;

use super::model::{CopyAction, Inventory, Lifecycle, Plan, RecoveryPoint, Resource, Rule, Selection, TagCondition, TagOp};
use super::{allowed, check, longest_gap, Problem};

const EAST_DB: &str = "arn:aws:rds:us-east-1:000000000000:db:east-db-1";
const WEST_VAULT: &str = "arn:aws:backup:us-west-2:000000000000:backup-vault:west-vault";
/// 2026-12-07T00:00:00Z, a Monday.
const NOW: i64 = 1_796_601_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn gap(expr: &str) -> i64 {
    longest_gap(&Schedule::parse(expr).unwrap(), NOW).unwrap()
}

/// Hourly, daily, weekdays-only and monthly schedules: their longest gaps are an hour,
/// a day, a weekend (Friday to Monday) and the longest month.
#[test]
fn longest_gap_of_documented_schedules() {
    assert_eq!(gap("cron(0 * ? * * *)"), HOUR);
    assert_eq!(gap("cron(0 5 ? * * *)"), DAY);
    assert_eq!(gap("cron(0 5 ? * MON-FRI *)"), 3 * DAY);
    assert_eq!(gap("cron(0 5 1 * ? *)"), 31 * DAY);
}

/// The bound is gap + start window + completion window, divided by the time factor:
/// hourly with windows of 60 and 120 minutes at 900 AWS seconds per second is
/// 4 s + 4 s + 8 s; a rule without settings takes AWS's defaults.
#[test]
fn allowed_age_scales_with_the_time_factor() {
    let a = allowed(&hourly_rule(), NOW, 900.0).unwrap();
    assert_eq!((a.gap_ms, a.start_window_ms, a.completion_window_ms), (4_000, 4_000, 8_000));
    assert_eq!(a.total_ms(), 16_000);
    let defaults = Rule {
        schedule: None,
        start_window_minutes: None,
        completion_window_minutes: None,
        ..hourly_rule()
    };
    let d = allowed(&defaults, NOW, 1.0).unwrap();
    assert_eq!(d.total_ms(), DAY + 8 * HOUR + 7 * DAY);
    let bad = Rule {
        schedule: Some("rate(1 hour)".into()),
        ..hourly_rule()
    };
    assert!(allowed(&bad, NOW, 1.0).is_err());
}

fn hourly_rule() -> Rule {
    Rule {
        name: "hourly".into(),
        id: Some("rule-1".into()),
        vault: "east-vault".into(),
        schedule: Some("cron(0 * ? * * *)".into()),
        start_window_minutes: Some(60),
        completion_window_minutes: Some(120),
        lifecycle: Some(Lifecycle {
            move_to_cold_storage_after_days: None,
            delete_after_days: Some(35),
        }),
        copy_actions: vec![],
    }
}

fn point(vault: &str, region: &str, age_ms: i64, lifecycle: Option<Lifecycle>) -> RecoveryPoint {
    RecoveryPoint {
        arn: format!("arn:aws:rds:{region}:000000000000:snapshot:awsbackup:job-{vault}-{age_ms}"),
        resource_arn: EAST_DB.into(),
        vault: vault.into(),
        region: region.into(),
        status: "COMPLETED".into(),
        creation_ms: NOW - age_ms,
        lifecycle,
        rule_id: Some("rule-1".into()),
    }
}

/// A plan selecting the database by tag, its rule hourly at time factor 900 (16 s
/// allowed), and `points` in the vaults.
fn inventory(rule: Rule, points: Vec<RecoveryPoint>) -> Inventory {
    let selection = Selection {
        name: "by-tag".into(),
        list_of_tags: vec![TagCondition {
            op: TagOp::Equals,
            key: "Backup".into(),
            value: "drill".into(),
        }],
        ..Selection::default()
    };
    let mut recovery_points: BTreeMap<(String, String), Vec<RecoveryPoint>> = BTreeMap::new();
    for p in points {
        recovery_points
            .entry((p.region.clone(), p.vault.clone()))
            .or_default()
            .push(p);
    }
    let db = Resource {
        arn: EAST_DB.into(),
        tags: [("Backup".to_string(), "drill".to_string())].into(),
    };
    Inventory {
        plans: vec![Plan {
            name: "drill-plan".into(),
            id: "plan-1".into(),
            region: "us-east-1".into(),
            rules: vec![rule],
            selections: vec![selection],
        }],
        resources: [("us-east-1".to_string(), vec![db])].into(),
        recovery_points,
        now_ms: NOW,
        time_factor: 900.0,
    }
}

fn retained() -> Option<Lifecycle> {
    hourly_rule().lifecycle
}

/// A fresh recovery point with the rule's lifecycle: the gate passes, one pair checked.
#[test]
fn fresh_point_passes() {
    let v = check(&inventory(hourly_rule(), vec![point("east-vault", "us-east-1", 10_000, retained())]), &[]);
    assert!(v.passed(), "{}", v.render());
    assert_eq!(v.checked, 1);
}

/// A newest point older than 16 s fails naming the resource, the plan and the rule;
/// a newer one that is only PARTIAL does not count.
#[test]
fn too_old_point_fails_naming_resource_and_rule() {
    let mut partial = point("east-vault", "us-east-1", 1_000, retained());
    partial.status = "PARTIAL".into();
    let old = point("east-vault", "us-east-1", 17_000, retained());
    let v = check(&inventory(hourly_rule(), vec![partial, old.clone()]), &[]);
    assert_eq!(v.findings.len(), 1, "{}", v.render());
    let f = &v.findings[0];
    assert_eq!(f.resource.as_deref(), Some(EAST_DB));
    assert_eq!((f.plan.as_str(), f.rule.as_deref()), ("drill-plan", Some("hourly")));
    match &f.problem {
        Problem::TooOld {
            age_ms,
            allowed,
            recovery_point,
            copy,
            ..
        } => {
            assert_eq!((*age_ms, allowed.total_ms(), *copy), (17_000, 16_000, false));
            assert_eq!(recovery_point, &old.arn);
        }
        other => panic!("expected TooOld, got {other:?}"),
    }
    let line = f.to_string();
    assert!(line.contains(EAST_DB) && line.contains("rule hourly"), "{line}");
}

/// A copy action to another region's vault with no copy there fails as a missing copy
/// in that region; with a fresh copy it passes.
#[test]
fn missing_copy_fails_and_present_copy_passes() {
    let rule = Rule {
        copy_actions: vec![CopyAction {
            destination_vault_arn: WEST_VAULT.into(),
            lifecycle: None,
        }],
        ..hourly_rule()
    };
    let own = point("east-vault", "us-east-1", 5_000, retained());
    let v = check(&inventory(rule.clone(), vec![own.clone()]), &[]);
    assert_eq!(v.findings.len(), 1, "{}", v.render());
    assert!(matches!(
        &v.findings[0].problem,
        Problem::NoRecoveryPoint { region, vault, copy: true, .. } if region == "us-west-2" && vault == "west-vault"
    ));
    let copy = point("west-vault", "us-west-2", 3_000, retained());
    let v = check(&inventory(rule, vec![own, copy]), &[]);
    assert!(v.passed(), "{}", v.render());
}

/// A point whose lifecycle is not the rule's fails; one made by another rule is not
/// held to this rule's lifecycle.
#[test]
fn lifecycle_must_equal_the_rules() {
    let short = Some(Lifecycle {
        move_to_cold_storage_after_days: None,
        delete_after_days: Some(7),
    });
    let v = check(&inventory(hourly_rule(), vec![point("east-vault", "us-east-1", 5_000, short)]), &[]);
    assert_eq!(v.findings.len(), 1, "{}", v.render());
    assert!(matches!(v.findings[0].problem, Problem::LifecycleDiffers { .. }));
    let mut other = point("east-vault", "us-east-1", 5_000, short);
    other.rule_id = Some("rule-of-another-plan".into());
    let v = check(&inventory(hourly_rule(), vec![other]), &[]);
    assert!(v.passed(), "{}", v.render());
}

/// At 86 400 AWS seconds per second a day lasts 1 s: a point 2 s old with
/// DeleteAfterDays 1 should have been deleted.
#[test]
fn point_past_delete_after_days_fails() {
    let one_day = Some(Lifecycle {
        move_to_cold_storage_after_days: None,
        delete_after_days: Some(1),
    });
    let rule = Rule {
        lifecycle: one_day,
        ..hourly_rule()
    };
    let mut inv = inventory(
        rule,
        vec![
            point("east-vault", "us-east-1", 100, one_day),
            point("east-vault", "us-east-1", 2_000, one_day),
        ],
    );
    inv.time_factor = 86_400.0;
    let v = check(&inv, &[]);
    assert_eq!(v.findings.len(), 1, "{}", v.render());
    assert!(matches!(
        v.findings[0].problem,
        Problem::PastRetention {
            age_ms: 2_000,
            limit_ms: 1_000,
            ..
        }
    ));
}

/// A selection that covers nothing and a named plan that does not exist both fail the gate.
#[test]
fn empty_selection_and_missing_plan_fail() {
    let mut inv = inventory(hourly_rule(), vec![]);
    inv.resources.clear();
    let v = check(&inv, &["drill-plan".into(), "nightly".into()]);
    let problems: Vec<&Problem> = v.findings.iter().map(|f| &f.problem).collect();
    assert_eq!(v.checked, 0);
    assert!(problems.contains(&&Problem::PlanMissing), "{}", v.render());
    assert!(
        problems.contains(&&Problem::SelectionEmpty {
            selection: "by-tag".into()
        }),
        "{}",
        v.render()
    );
}
