//! The gate's checks over plain data. Expected results follow from AWS Backup's
//! documented semantics: a rule fires on its cron schedule, a job may start up to
//! `StartWindowMinutes` later and must finish within `CompletionWindowMinutes` after
//! that, so a covered resource's newest recovery point is never older than the longest
//! gap between firings plus both windows; copies land in the destination vault;
//! `Lifecycle.DeleteAfterDays` removes recovery points when due.

use super::check::{check, Problem};
use super::model::{CopyAction, Inputs, Lifecycle, Plan, RecoveryPoint, Rule, Selection};

const HOUR: i64 = 3_600_000;
/// 2026-01-05T12:30:00Z.
const NOW: i64 = 1_767_571_200_000 + 12 * HOUR + 30 * 60_000;
const DB: &str = "arn:aws:rds:us-east-1:000000000000:db:east-db-1";
const WEST_VAULT: &str = "arn:aws:backup:us-west-2:000000000000:backup-vault:west-vault";

fn keep(days: i64) -> Option<Lifecycle> {
    Some(Lifecycle {
        delete_after_days: Some(days),
        move_to_cold_storage_after_days: None,
    })
}

/// An hourly rule (windows 60 and 120 minutes: a 4 h bound) into `east-vault`, keeping
/// recovery points 7 days, copying to us-west-2's `west-vault` when `copy`.
fn plan(copy: bool) -> Plan {
    Plan {
        name: "daily-db".into(),
        id: "plan-1".into(),
        region: "us-east-1".into(),
        rules: vec![Rule {
            name: "hourly".into(),
            id: Some("rule-1".into()),
            vault: "east-vault".into(),
            schedule: "cron(0 * ? * * *)".into(),
            start_window_minutes: 60,
            completion_window_minutes: 120,
            lifecycle: keep(7),
            copy_actions: if copy {
                vec![CopyAction {
                    destination_vault_arn: WEST_VAULT.into(),
                    lifecycle: keep(7),
                }]
            } else {
                Vec::new()
            },
        }],
        selections: vec![Selection {
            name: "db".into(),
            resources: vec![DB.into()],
        }],
    }
}

fn rp(region: &str, vault: &str, age_ms: i64, lifecycle: Option<Lifecycle>) -> RecoveryPoint {
    RecoveryPoint {
        arn: format!("arn:aws:rds:{region}:000000000000:snapshot:awsbackup:job-{age_ms}"),
        vault: vault.into(),
        region: region.into(),
        resource_arn: DB.into(),
        status: "COMPLETED".into(),
        creation_ms: NOW - age_ms,
        lifecycle,
        created_by_rule: Some("rule-1".into()),
    }
}

fn inputs(plan: Plan, points: Vec<RecoveryPoint>, time_factor: f64) -> Inputs {
    let mut i = Inputs {
        plans: vec![plan],
        now_ms: NOW,
        time_factor,
        ..Inputs::default()
    };
    for p in points {
        i.recovery_points
            .entry((p.region.clone(), p.vault.clone()))
            .or_default()
            .push(p);
    }
    i
}

/// A recovery point younger than gap + windows passes; the bound is 4 h for an hourly
/// rule with 60 + 120 minute windows.
#[test]
fn fresh_recovery_point_passes() {
    let c = check(&inputs(
        plan(false),
        vec![rp("us-east-1", "east-vault", 3 * HOUR, keep(7))],
        1.0,
    ));
    assert!(c.pass(), "{:?}", c.findings);
    assert_eq!(c.checked.len(), 1);
    assert_eq!(c.checked[0].allowed_ms, Some(4 * HOUR));
}

/// Older than the bound: a finding naming the resource, the plan and the rule, with the
/// age and the allowed age.
#[test]
fn stale_recovery_point_fails_naming_resource_and_rule() {
    let c = check(&inputs(
        plan(false),
        vec![rp("us-east-1", "east-vault", 5 * HOUR, keep(7))],
        1.0,
    ));
    assert_eq!(c.findings.len(), 1);
    let f = &c.findings[0];
    assert!(
        matches!(f.problem, Problem::TooOld { age_ms, allowed_ms, .. } if age_ms == 5 * HOUR && allowed_ms == 4 * HOUR)
    );
    let text = f.to_string();
    assert!(
        text.contains(DB) && text.contains("rule hourly") && text.contains("plan daily-db"),
        "{text}"
    );
    assert!(text.contains("5h old, allowed 4h"), "{text}");
}

/// Only COMPLETED recovery points count (AWS's RecoveryPointStatus); none at all is a
/// finding too.
#[test]
fn only_completed_recovery_points_count() {
    let mut partial = rp("us-east-1", "east-vault", HOUR, keep(7));
    partial.status = "PARTIAL".into();
    let c = check(&inputs(plan(false), vec![partial], 1.0));
    assert!(matches!(&c.findings[0].problem, Problem::NoRecoveryPoint { vault } if vault == "us-east-1/east-vault"));
}

/// A copy action needs a recovery point of the resource in the destination vault, in the
/// destination's region.
#[test]
fn missing_cross_region_copy_fails() {
    let source = rp("us-east-1", "east-vault", HOUR, keep(7));
    let c = check(&inputs(plan(true), vec![source.clone()], 1.0));
    assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
    assert_eq!(c.findings[0].copy_to.as_deref(), Some(WEST_VAULT));
    assert!(c.findings[0].to_string().contains("us-west-2/west-vault"));
    let copy = rp("us-west-2", "west-vault", HOUR, keep(7));
    assert!(check(&inputs(plan(true), vec![source, copy], 1.0)).pass());
}

/// A recovery point whose lifecycle differs from the rule's fails retention; one made by
/// another rule is not held to this rule.
#[test]
fn retention_must_match_the_rule() {
    let c = check(&inputs(
        plan(false),
        vec![rp("us-east-1", "east-vault", HOUR, keep(35))],
        1.0,
    ));
    assert!(
        matches!(&c.findings[0].problem, Problem::Retention { found, expected, .. } if *found == keep(35) && *expected == keep(7))
    );
    let mut other = rp("us-east-1", "east-vault", 2 * HOUR, keep(35));
    other.created_by_rule = Some("rule-2".into());
    let ok = rp("us-east-1", "east-vault", HOUR, keep(7));
    assert!(check(&inputs(plan(false), vec![ok, other], 1.0)).pass());
}

/// A recovery point older than DeleteAfterDays should be gone.
#[test]
fn overdue_recovery_point_fails() {
    let mut p = plan(false);
    p.rules[0].lifecycle = keep(1);
    let fresh = rp("us-east-1", "east-vault", HOUR, keep(1));
    let old = rp("us-east-1", "east-vault", 30 * HOUR, keep(1));
    let c = check(&inputs(p, vec![fresh, old], 1.0));
    assert_eq!(c.findings.len(), 1, "{:?}", c.findings);
    assert!(matches!(
        c.findings[0].problem,
        Problem::Overdue {
            delete_after_days: 1,
            ..
        }
    ));
}

/// On a compressed clock (3600 s of AWS time per second) the 4 h bound is 4 s of wall
/// clock: 5 s is too old, 3 s is not.
#[test]
fn time_factor_scales_the_bound() {
    let stale = check(&inputs(
        plan(false),
        vec![rp("us-east-1", "east-vault", 5_000, keep(7))],
        3600.0,
    ));
    assert!(matches!(
        stale.findings[0].problem,
        Problem::TooOld { allowed_ms: 4_000, .. }
    ));
    let fresh = check(&inputs(
        plan(false),
        vec![rp("us-east-1", "east-vault", 3_000, keep(7))],
        3600.0,
    ));
    assert!(fresh.pass(), "{:?}", fresh.findings);
}

/// A selection that covers nothing is a finding (a gate that checks nothing proves
/// nothing); the objective counts findings.
#[test]
fn empty_selection_and_objective() {
    let mut p = plan(false);
    p.selections[0].resources.clear();
    let c = check(&inputs(p, Vec::new(), 1.0));
    assert!(matches!(&c.findings[0].problem, Problem::EmptySelection { selection } if selection == "db"));
    let o = super::objective_result(&c);
    assert!(!o.pass);
    assert_eq!(o.measured, Some(1.0));
}
