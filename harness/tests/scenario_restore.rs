//! The restore drill's scenario block (`fault.restore`): the shipped restore scenarios load
//! with every value as written and the switch template resolved (its parameters filled,
//! `{{restored_resource_arn}}` left for the run); bad blocks are refused naming the file,
//! the line and the key. A restore test (no disaster template) loads, and what it cannot
//! have (`start: on_detection`, the template's keys) is refused, as is a fault with
//! neither a template nor a restore block.

mod support;

use std::fs;

use drdrill::scenario::{self, restore::fill_switch, RestoreStart};
use support::repo;

const SCENARIO: &str = "backup-restore-region-outage.yaml";

/// A scratch copy of `scenarios/` holding `case.yaml` with `text`.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(text: &str) -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("fis")).expect("mkdir");
        for f in ["region-outage.json", "switch-to-restored.json"] {
            fs::copy(repo().join("scenarios/fis").join(f), dir.path().join("fis").join(f)).expect("copy");
        }
        fs::write(dir.path().join("case.yaml"), text).expect("write");
        Case { dir }
    }

    fn error(&self) -> String {
        match scenario::load(&self.dir.path().join("case.yaml")) {
            Ok(_) => panic!("loaded but should fail"),
            Err(e) => e.to_string(),
        }
    }
}

fn shipped() -> String {
    fs::read_to_string(repo().join("scenarios").join(SCENARIO)).expect("scenario")
}

/// The shipped scenario with `from` replaced by `to` (which must occur).
fn mutated(from: &str, to: &str) -> String {
    let text = shipped();
    assert!(text.contains(from), "scenario lacks {from:?}");
    text.replacen(from, to, 1)
}

/// The 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("needle")
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

/// Both shipped restore scenarios load; the region-outage one carries every value as
/// written, and its switch template has the scenario's parameters filled in and the
/// restored resource's placeholder left, which `fill_switch` then fills.
#[test]
fn shipped_restore_scenarios_load() {
    for name in [
        SCENARIO,
        "backup-restore-single-database.yaml",
        "backup-restore-test.yaml",
    ] {
        scenario::load(&repo().join("scenarios").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let loaded = scenario::load(&repo().join("scenarios").join(SCENARIO)).unwrap();
    let r = loaded.scenario.fault.restore.as_ref().expect("restore block");
    assert_eq!(r.region.as_deref(), Some("us-west-2"));
    assert_eq!(
        r.resource.arn.as_deref(),
        Some("arn:aws:rds:us-east-1:000000000000:db:east-db-1")
    );
    assert_eq!(r.vault.as_deref(), Some("backups-us-west-2"));
    assert_eq!(r.recovery_point_arn(), None);
    assert_eq!(r.metadata["DBInstanceIdentifier"], "west-db-1");
    assert_eq!(r.start, Some(RestoreStart::OnDetection));
    assert_eq!(r.timeout().as_secs(), 30);
    let switch = r.switch.as_ref().unwrap();
    assert_eq!(
        switch.template_file.as_deref(),
        Some(repo().join("scenarios/fis/switch-to-restored.json").as_path())
    );
    let template = loaded.switch.as_ref().expect("switch template resolved");
    let params = &template["actions"]["SwitchToRestored"]["parameters"];
    assert_eq!(
        params["documentArn"],
        "arn:aws:ssm:us-west-2:000000000000:document/drdrill-SwitchToRestoredDatabase"
    );
    let doc = params["documentParameters"].as_str().unwrap();
    assert!(doc.contains("{{restored_resource_arn}}"), "{doc}");
    let filled = fill_switch(template, "arn:aws:rds:us-west-2:000000000000:db:west-db-1");
    let doc: serde_json::Value = serde_json::from_str(
        filled["actions"]["SwitchToRestored"]["parameters"]["documentParameters"]
            .as_str()
            .unwrap(),
    )
    .expect("documentParameters is JSON once filled");
    assert_eq!(doc["DnsName"], "app.drill.test");
    assert_eq!(
        doc["RestoredResourceArn"],
        "arn:aws:rds:us-west-2:000000000000:db:west-db-1"
    );
}

/// A key the block does not have is refused at its line, naming it.
#[test]
fn unknown_key_in_restore_is_refused() {
    let text = mutated(
        "    vault: backups-us-west-2\n",
        "    vault: backups-us-west-2\n    snapshot: latest\n",
    );
    let message = Case::new(&text).error();
    assert_has(
        &message,
        &["case.yaml", "snapshot", &format!(":{}:", line_of(&text, "snapshot:"))],
    );
}

/// Each broken rule names the file, the line of the key and the key.
#[test]
fn broken_rules_name_file_line_and_key() {
    let cases = [
        (
            (
                "resource: { arn: \"arn:aws:rds:us-east-1:000000000000:db:east-db-1\" }",
                "resource: { arn: east-db-1 }",
            ),
            "fault.restore.resource.arn",
            "resource:",
        ),
        (
            ("recovery_point: latest", "recovery_point: newest"),
            "fault.restore.recovery_point",
            "recovery_point:",
        ),
        (
            (
                "iam_role_arn: arn:aws:iam::000000000000:role/drdrill-backup-restore",
                "iam_role_arn: drdrill-backup-restore",
            ),
            "fault.restore.iam_role_arn",
            "iam_role_arn:",
        ),
        (
            ("timeout: 30s", "timeout: 0s"),
            "fault.restore.timeout",
            "    timeout: 0s",
        ),
        (
            (
                "dns_name: app.drill.test }",
                "dns_name: app.drill.test, restored_resource_arn: x }",
            ),
            "fault.restore.switch.parameters.restored_resource_arn",
            "restored_resource_arn: x",
        ),
        (
            ("dns_name: app.drill.test }", "dns_name: app.drill.test, extra: x }"),
            "fault.restore.switch.parameters.extra",
            "extra: x",
        ),
    ];
    for ((from, to), key, needle) in cases {
        let text = mutated(from, to);
        let message = Case::new(&text).error();
        assert_has(&message, &["case.yaml", key]);
        assert!(
            message.contains(&format!(":{}:", line_of(&text, needle))),
            "{message:?} lacks the line of {needle:?}"
        );
    }
}

/// A switch template file that does not exist is refused naming the key and the file.
#[test]
fn missing_switch_template_is_refused() {
    let text = mutated("fis/switch-to-restored.json", "fis/no-such-switch.json");
    let message = Case::new(&text).error();
    assert_has(&message, &["fault.restore.switch.template_file", "no-such-switch.json"]);
}

/// The JSON Schema describes the block (so editors complete it).
#[test]
fn schema_has_the_restore_block() {
    let schema = serde_json::to_string(&scenario::json_schema()).unwrap();
    for key in [
        "iam_role_arn",
        "recovery_point",
        "on_detection",
        "restored_resource_arn",
    ] {
        assert!(schema.contains(key), "schema lacks {key}");
    }
}

/// The AWS example loads: by tag, with the switch's document and roles as parameters.
#[test]
fn aws_example_loads() {
    let loaded = scenario::load(&repo().join("examples/aws/backup-restore.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let r = loaded.scenario.fault.restore.as_ref().unwrap();
    assert_eq!(r.resource.tags.as_ref().unwrap()["Backup"], "drill");
    let t = loaded.switch.as_ref().unwrap();
    assert_eq!(
        t["actions"]["SwitchToRestored"]["parameters"]["documentArn"],
        "arn:aws:ssm:us-east-1:123456789012:document/SwitchAppToRestoredDatabase"
    );
}

/// The shipped restore test (no disaster template) loads: no fault to inject, the
/// restore starts at inject by default, and the switch is resolved.
#[test]
fn restore_test_loads_without_a_disaster() {
    let loaded = scenario::load(&repo().join("scenarios/backup-restore-test.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.fault, None);
    assert_eq!(loaded.scenario.fault.source, None);
    assert!(!loaded.scenario.fault.has_disaster());
    assert_eq!(loaded.scenario.fault.restore_start(), Some(RestoreStart::AtInject));
    assert!(loaded.switch.is_some());
}

/// The shipped disaster drill with its template line removed: a restore test.
fn without_template() -> String {
    mutated("  template_file: fis/region-outage.json\n", "")
}

/// `start: on_detection` without a disaster template is refused naming the file, the
/// line, the key and why; `at_inject` loads.
#[test]
fn on_detection_without_a_disaster_is_refused() {
    let text = without_template().replacen("    start: on_detection\n", "", 1);
    let text = text.replacen("  restore:\n", "  restore:\n    start: on_detection\n", 1);
    let message = Case::new(&text).error();
    assert_has(
        &message,
        &[
            "case.yaml",
            "fault.restore.start",
            "nothing",
            &format!(":{}:", line_of(&text, "start: on_detection")),
        ],
    );
    let at_inject = text.replacen("start: on_detection", "start: at_inject", 1);
    let case = Case::new(&at_inject);
    let loaded = scenario::load(&case.dir.path().join("case.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.scenario.fault.restore_start(), Some(RestoreStart::AtInject));
}

/// With a disaster template the default stays `on_detection`, exactly as before
/// (`backup-restore-single-database.yaml` does not set `start`).
#[test]
fn with_a_disaster_the_default_is_on_detection() {
    let loaded = scenario::load(&repo().join("scenarios/backup-restore-single-database.yaml")).unwrap();
    assert!(loaded.scenario.fault.has_disaster());
    assert_eq!(loaded.scenario.fault.restore.as_ref().unwrap().start, None);
    assert_eq!(loaded.scenario.fault.restore_start(), Some(RestoreStart::OnDetection));
}

/// A fault with neither a template nor a restore block is refused naming the file, the
/// key and what is missing.
#[test]
fn fault_without_template_or_restore_is_refused() {
    let text = without_template();
    let start = text.find("  restore:\n").expect("restore block");
    let end = text[start..].find("\nsteady_state:").expect("steady_state") + start + 1;
    let text = format!("{}  accept_unreverted: false\n{}", &text[..start], &text[end..]);
    let message = Case::new(&text).error();
    assert_has(&message, &["case.yaml", "fault", "template_file", "restore"]);
}

/// Keys that only apply to a disaster template are refused in a restore test, naming
/// the key.
#[test]
fn template_keys_without_a_template_are_refused() {
    for (extra, key) in [
        ("  parameters: { x: y }\n", "fault.parameters.x"),
        ("  accept_unreverted: true\n", "fault.accept_unreverted"),
        (
            "  accept_beyond_max_fault_duration: true\n",
            "fault.accept_beyond_max_fault_duration",
        ),
    ] {
        let text = without_template().replacen("fault:\n", &format!("fault:\n{extra}"), 1);
        let message = Case::new(&text).error();
        assert_has(&message, &["case.yaml", key, "restore test"]);
    }
}
