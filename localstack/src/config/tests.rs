use super::*;

const SHIPPED: &str = include_str!("../../stacks/multi-az.yaml");

/// The shipped Multi-AZ stack file parses and has 3 zones with 2 instances each.
#[test]
fn shipped_multi_az_stack_is_valid() {
    let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
    assert_eq!(s.zones.len(), 3);
    assert_eq!(s.instances.len(), 6);
    assert_eq!(s.database.topology, Topology::MultiAz);
}

/// Unknown keys are rejected with the key's name and a line number.
#[test]
fn unknown_key_is_rejected_with_location() {
    let text = SHIPPED.replacen("region:", "regoin:", 1);
    let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
    assert!(e.contains("x.yaml") && e.contains("regoin"), "{e}");
}

/// An instance in a subnet that does not exist names the key path.
#[test]
fn inconsistent_reference_names_the_key() {
    let text = SHIPPED.replacen("subnet: subnet-app-1b", "subnet: subnet-nope", 1);
    let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
    assert!(
        e.contains("instances[") && e.contains(".subnet") && e.contains("subnet-nope"),
        "{e}"
    );
}

/// A standby in the primary's zone is refused.
#[test]
fn standby_in_same_zone_is_refused() {
    let text = SHIPPED.replacen("subnet: subnet-db-1b", "subnet: subnet-db-1a", 1);
    let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
    assert!(e.contains("database.standby.subnet"), "{e}");
}

/// `fis.initiating` is read from the stack file (the shipped ones set a short one),
/// defaults to AWS's few seconds when the section is absent, and is bounded.
#[test]
fn fis_initiating_is_a_named_setting() {
    let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
    assert_eq!(s.fis.initiating, Dur(Duration::from_millis(100)));
    assert!(s.region_stacks().iter().all(|r| r.fis.initiating == s.fis.initiating));
    let start = SHIPPED.find("\nfis:").expect("fis section") + 1;
    let end = SHIPPED[start..].find("initiating: 100ms\n").expect("initiating") + start + 18;
    let without = format!("{}{}", &SHIPPED[..start], &SHIPPED[end..]);
    let s = Stack::parse(Path::new("x.yaml"), &without).unwrap();
    assert_eq!(s.fis.initiating, Dur(Duration::from_secs(3)));
    let long = SHIPPED.replacen("initiating: 100ms", "initiating: 1h", 1);
    let e = Stack::parse(Path::new("x.yaml"), &long).unwrap_err().to_string();
    assert!(e.contains("fis.initiating"), "{e}");
    let typo = SHIPPED.replacen("initiating: 100ms", "initiatin: 100ms", 1);
    let e = Stack::parse(Path::new("x.yaml"), &typo).unwrap_err().to_string();
    assert!(e.contains("initiatin"), "{e}");
}

/// The shipped stack without its `speedups:` section.
fn without_speedups() -> String {
    let start = SHIPPED.find("# Relaxations of AWS's limits").expect("speedups comment");
    SHIPPED[..start].to_string()
}

/// AWS's health-check limits hold by default: the shipped stack's 500 ms interval
/// without `speedups.sub_second_health_checks` is refused naming the file, the line,
/// the key and AWS's range, and the setting that allows it; with it the stack loads and
/// says which relaxations it uses. Maxima and thresholds hold even with it.
#[test]
fn aws_health_check_limits_are_enforced_unless_relaxed_by_name() {
    let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
    assert_eq!(s.speedups_on(), ["sub_second_health_checks", "short_fault_durations"]);
    assert!(s.region_stacks().iter().all(|r| r.speedups == s.speedups));

    let strict = without_speedups();
    let e = Stack::parse(Path::new("x.yaml"), &strict).unwrap_err();
    let line = strict.lines().position(|l| l.contains("interval: 500ms")).unwrap() as u64 + 1;
    assert!(
        matches!(&e, StackError::AwsLimit { line: l, .. } if *l == line),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "x.yaml:{line}: load_balancer.target_group.health_check.interval: 500ms"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("5s to 5m") && msg.contains("sub_second_health_checks"),
        "{msg}"
    );

    // AWS-valid settings load without any speedup, which then reports none.
    let aws = strict
        .replacen("interval: 500ms", "interval: 5s", 1)
        .replacen("timeout: 250ms", "timeout: 2s", 1);
    let s = Stack::parse(Path::new("x.yaml"), &aws).unwrap();
    assert!(s.speedups_on().is_empty());
    let short_timeout = aws.replacen("timeout: 2s", "timeout: 1s", 1);
    let e = Stack::parse(Path::new("x.yaml"), &short_timeout)
        .unwrap_err()
        .to_string();
    assert!(e.contains("health_check.timeout: 1s") && e.contains("2s to 2m"), "{e}");

    for (from, to, key) in [
        ("healthy_threshold: 2", "healthy_threshold: 1", "healthy_threshold: 1"),
        (
            "unhealthy_threshold: 2",
            "unhealthy_threshold: 11",
            "unhealthy_threshold: 11",
        ),
    ] {
        let e = Stack::parse(Path::new("x.yaml"), &SHIPPED.replacen(from, to, 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(key.split(':').next().unwrap()) && e.contains("2 to 10"),
            "{e}"
        );
    }
    let long = SHIPPED
        .replacen("interval: 500ms", "interval: 301s", 1)
        .replacen("timeout: 250ms", "timeout: 2s", 1);
    let e = Stack::parse(Path::new("x.yaml"), &long).unwrap_err().to_string();
    assert!(e.contains("above AWS's maximum"), "{e}");
    let typo = SHIPPED.replacen("short_fault_durations", "short_faults", 1);
    let e = Stack::parse(Path::new("x.yaml"), &typo).unwrap_err().to_string();
    assert!(e.contains("short_faults"), "{e}");
}

/// `deregistration_delay` defaults to AWS's 300 s, is read from the stack file and is
/// bounded by ELB's 3600 s.
#[test]
fn deregistration_delay_is_a_stack_setting() {
    let s = Stack::parse(Path::new("multi-az.yaml"), SHIPPED).unwrap();
    assert_eq!(
        s.load_balancer.target_group.deregistration_delay,
        Dur(Duration::from_secs(1))
    );
    let text = SHIPPED.replacen("    deregistration_delay: 1s\n", "", 1);
    let s = Stack::parse(Path::new("x.yaml"), &text).unwrap();
    assert_eq!(
        s.load_balancer.target_group.deregistration_delay,
        Dur(Duration::from_secs(300))
    );
    let text = SHIPPED.replacen("deregistration_delay: 1s", "deregistration_delay: 2h", 1);
    let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
    assert!(e.contains("deregistration_delay"), "{e}");
}

/// A malformed duration is an error naming the value.
#[test]
fn bad_duration_is_refused() {
    let text = SHIPPED.replacen("interval: 500ms", "interval: soon", 1);
    let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
    assert!(e.contains("soon"), "{e}");
}

/// The `backups:` shorthand of the backup-restore stack (every 4 s, copied to us-west-2,
/// 3 kept) is one plan of AWS Backup: a daily rule with a day per 4 s, 3 days' retention
/// in both vaults, a copy to us-west-2's vault, and the us-east-1 database selected.
#[test]
fn backup_shorthand_is_one_plan_with_a_copy_action() {
    let text = include_str!("../../stacks/strategy-backup-restore.yaml");
    let s = Stack::parse(Path::new("strategy-backup-restore.yaml"), text).unwrap();
    let b = s.backup_config().expect("the shorthand gives a backup section");
    assert_eq!(b.time_factor, 86_400.0 / 4.0);
    let vaults: Vec<(&str, Option<&str>)> = b
        .vaults
        .iter()
        .map(|v| (v.name.as_str(), v.region.as_deref()))
        .collect();
    assert_eq!(
        vaults,
        vec![
            ("backups-us-east-1", Some("us-east-1")),
            ("backups-us-west-2", Some("us-west-2"))
        ]
    );
    let rule = &b.plans[0].plan.rules[0];
    assert_eq!(rule.schedule_expression.as_deref(), Some("cron(0 0 ? * * *)"));
    assert_eq!(rule.lifecycle.as_ref().and_then(|l| l.delete_after_days), Some(3));
    assert_eq!(
        rule.copy_actions[0].destination_backup_vault_arn,
        "arn:aws:backup:us-west-2:000000000000:backup-vault:backups-us-west-2"
    );
    assert_eq!(
        b.plans[0].selections[0].resources,
        vec!["arn:aws:rds:us-east-1:000000000000:db:east-db-1".to_string()]
    );
    assert_eq!(b.timings.restore_base.0, Duration::from_secs(4));
}

/// A stack may not have both `backups:` and `backup:`.
#[test]
fn backup_and_its_shorthand_are_exclusive() {
    let text = include_str!("../../stacks/strategy-backup-restore.yaml").to_string() + "backup: { time_factor: 2 }\n";
    let e = Stack::parse(Path::new("x.yaml"), &text).unwrap_err().to_string();
    assert!(e.contains("backup") && e.contains("shorthand"), "{e}");
}

/// A plan or selection member the stack does not model (a typo, or a feature it does not
/// have) is refused, naming it, instead of being dropped: the bundled plans stack with a
/// misspelt schedule key, then with an unmodelled selection member.
#[test]
fn unknown_backup_document_members_are_named() {
    let text = include_str!("../../stacks/backup-plans.yaml");
    assert!(Stack::parse(Path::new("backup-plans.yaml"), text).is_ok());
    let typo = text.replacen("ScheduleExpression: cron", "ScheduleExpresion: cron", 1);
    let e = Stack::parse(Path::new("x.yaml"), &typo).unwrap_err().to_string();
    assert!(e.contains("ScheduleExpresion"), "{e}");
    let extra = text.replacen(
        "selections:\n",
        "selections:\n        - { SelectionName: s, IamRoleArn: r, Color: blue }\n",
        1,
    );
    let e = Stack::parse(Path::new("x.yaml"), &extra).unwrap_err().to_string();
    assert!(e.contains("Color"), "{e}");
}

/// Page sizes are read within AWS's ranges (Backup MaxResults 1..=1000, GetResources
/// ResourcesPerPage 1..=100), default to the maxima, and an unknown `tagging:` key is
/// refused like any other.
#[test]
fn page_sizes_are_named_settings_within_aws_ranges() {
    let text = include_str!("../../stacks/backup-plans.yaml");
    let s = Stack::parse(Path::new("x.yaml"), text).unwrap();
    assert_eq!((s.backup_config().unwrap().page_size, s.tagging.page_size), (1000, 100));
    let small =
        text.replacen("  time_factor: 3600", "  page_size: 2\n  time_factor: 3600", 1) + "tagging: { page_size: 1 }\n";
    let s = Stack::parse(Path::new("x.yaml"), &small).unwrap();
    assert_eq!(
        (
            s.backup_config().unwrap().page_size,
            s.region_stacks()[1].tagging.page_size
        ),
        (2, 1)
    );
    for (bad, key) in [
        (
            text.replacen("  time_factor: 3600", "  page_size: 0\n  time_factor: 3600", 1),
            "backup.page_size",
        ),
        (
            text.replacen("  time_factor: 3600", "  page_size: 1001\n  time_factor: 3600", 1),
            "backup.page_size",
        ),
        (text.to_string() + "tagging: { page_size: 101 }\n", "tagging.page_size"),
        (text.to_string() + "tagging: { pagesize: 5 }\n", "pagesize"),
    ] {
        let e = Stack::parse(Path::new("x.yaml"), &bad).unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    }
}
