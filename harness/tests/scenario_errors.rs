//! Every class of bad scenario gives an error naming the file, the key and, where the YAML
//! locates it, the line and column.

mod support;

use std::fs;
use std::path::Path;

use drdrill::scenario::{self, ScenarioError};
use support::fixtures::scenario_fixtures as fixtures;

fn valid_text() -> String {
    fs::read_to_string(fixtures().join("az-power-interruption.yaml")).expect("fixture")
}

/// A scratch copy of the fixtures directory holding `case.yaml` with `text`.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("fis")).expect("mkdir");
        fs::copy(
            fixtures().join("fis/az-power-interruption.json"),
            dir.path().join("fis/az-power-interruption.json"),
        )
        .expect("copy template");
        fs::write(dir.path().join("case.yaml"), text).expect("write case");
        Self { dir }
    }

    fn write(&self, relative: &str, text: &str) {
        fs::write(self.dir.path().join(relative), text).expect("write");
    }

    fn load(&self) -> Result<scenario::LoadedScenario, ScenarioError> {
        scenario::load(&self.dir.path().join("case.yaml"))
    }

    fn error(&self) -> String {
        match self.load() {
            Ok(loaded) => panic!("loaded but should fail: {:?}", loaded.scenario),
            Err(e) => e.to_string(),
        }
    }
}

/// The valid fixture with `from` replaced by `to` (which must occur).
fn mutated(from: &str, to: &str) -> String {
    let text = valid_text();
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

fn error_for(from: &str, to: &str) -> String {
    Case::new(&mutated(from, to)).error()
}

/// Asserts the message contains each of `parts`.
fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

/// The 1-based line of the first line of the valid fixture containing `needle`.
fn line_of(needle: &str) -> usize {
    valid_text()
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("needle in fixture")
}

/// A YAML syntax error reports the file with line:column and the key it is under.
#[test]
fn yaml_syntax_error_has_line_and_column() {
    let message = error_for("name: az-power-interruption", "name: az-power-interruption: x");
    let line = line_of("name: az-power-interruption");
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:28: name: "),
            "mapping values are not allowed",
        ],
    );
    let message = error_for("  rate: 50/s", "  rate: [50/s");
    let line = line_of("  rate: 50/s");
    assert_has(&message, &[&format!("case.yaml:{line}:9: traffic.rate: ")]);
}

/// Broken YAML (an unclosed flow sequence) is reported where the parser gives up, with
/// line and column.
#[test]
fn unclosed_flow_sequence_has_position() {
    let message = error_for("  expect_status: [200, 201, 204]", "  expect_status: [200, 201, 204");
    let line = line_of("traffic:");
    assert_has(&message, &[&format!("case.yaml:{line}:")]);
}

/// An unknown top-level key is named, with its line, and the allowed keys are listed.
#[test]
fn unknown_key_names_it_and_its_line() {
    let message = error_for("traffic:\n", "trafic:\n");
    let line = line_of("traffic:");
    assert_has(
        &message,
        &[&format!("case.yaml:{line}:1: "), "unknown field \"trafic\"", "traffic"],
    );
}

/// An unknown nested key names the enclosing section's key path.
#[test]
fn unknown_nested_key_names_section() {
    let message = error_for("  write_ratio: 0.5", "  write_ratio: 0.5\n  burst: 3");
    let line = line_of("  write_ratio: 0.5") + 1;
    assert_has(
        &message,
        &[&format!("case.yaml:{line}:3: traffic: "), "unknown field \"burst\""],
    );
}

/// A bad duration names the key, the value and the expected form.
#[test]
fn bad_duration_names_key() {
    let message = error_for("  timeout: 1s", "  timeout: soon");
    let line = line_of("  timeout: 1s");
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:12: traffic.timeout: "),
            "\"soon\" is not a duration",
            "expected e.g.",
        ],
    );
}

/// A negative duration is rejected as negative.
#[test]
fn negative_duration_is_rejected() {
    let message = error_for("  stable_for: 2s", "  stable_for: -2s");
    assert_has(&message, &["case.yaml:", "timings.stable_for: ", "negative"]);
}

/// A bad rate names the key, the value and an example.
#[test]
fn bad_rate_names_key() {
    let message = error_for("  rate: 50/s", "  rate: abc");
    let line = line_of("  rate: 50/s");
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:9: traffic.rate: "),
            "\"abc\" is not a rate",
            "\"50/s\"",
        ],
    );
}

/// A rate above the maximum is out of range.
#[test]
fn too_high_rate_is_rejected() {
    let message = error_for("  rate: 50/s", "  rate: 200000/s");
    assert_has(&message, &["case.yaml:", "traffic.rate: ", "at most 100000/s"]);
}

/// An out-of-range ratio names the key and points at the value.
#[test]
fn out_of_range_ratio_names_key() {
    let message = error_for("  write_ratio: 0.5", "  write_ratio: 1.5");
    let line = line_of("  write_ratio: 0.5");
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:16: traffic.write_ratio: "),
            "1.5 is out of range",
        ],
    );
    let message = error_for("  success_ratio: 0.99", "  success_ratio: 0");
    assert_has(&message, &["case.yaml:", "steady_state.success_ratio: ", "above 0"]);
}

/// A missing template file names the key and the joined path, with the OS reason.
#[test]
fn missing_template_file_names_path() {
    let case = Case::new(&mutated("fis/az-power-interruption.json", "fis/missing.json"));
    let err = case.load().expect_err("missing file");
    let message = err.to_string();
    let line = line_of("template_file:");
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:18: fault.template_file: cannot read "),
            &format!("{}", Path::new("fis").join("missing.json").display()),
            "No such file or directory",
        ],
    );
    assert!(matches!(err, ScenarioError::TemplateRead { .. }));
}

/// A template whose startAfter names an unknown action names the template file and the
/// JSON path.
#[test]
fn start_after_unknown_action_is_named() {
    let case = Case::new(&valid_text());
    let template = fs::read_to_string(fixtures().join("fis/az-power-interruption.json")).expect("read");
    case.write(
        "fis/az-power-interruption.json",
        &template.replace(
            r#""startAfter": ["StopInstances"]"#,
            r#""startAfter": ["StopEverything"]"#,
        ),
    );
    let message = case.error();
    assert_has(
        &message,
        &[
            "case.yaml:",
            "fault.template_file: ",
            "az-power-interruption.json: ",
            "actions.FailoverDatabase.startAfter[0]: unknown action \"StopEverything\"",
        ],
    );
}

/// A template file with a JSON syntax error reports its line and column.
#[test]
fn template_json_syntax_error_has_position() {
    let case = Case::new(&valid_text());
    case.write("fis/az-power-interruption.json", "{\n  \"actions\": {,\n}\n");
    let message = case.error();
    assert_has(
        &message,
        &[
            "case.yaml:",
            "fault.template_file: ",
            "az-power-interruption.json:2:15: key must be a string",
        ],
    );
}

/// An unused parameter is named, at its line in `fault.parameters`.
#[test]
fn unused_parameter_is_named() {
    let message = error_for("    duration: PT1M", "    duration: PT1M\n    region: us-west-2");
    let line = line_of("    duration: PT1M") + 1;
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:13: fault.parameters.region: "),
            "parameter \"region\" is not used",
        ],
    );
}

/// A placeholder without a parameter is named with its JSON path in the template.
#[test]
fn unfilled_placeholder_is_named() {
    let message = error_for("    duration: PT1M\n", "");
    assert_has(
        &message,
        &[
            "case.yaml:",
            "fault.template_file: ",
            "az-power-interruption.json: ",
            "actions.",
            "placeholder \"{{duration}}\" has no value",
        ],
    );
}

/// Errors inside an inline template point at the offending line of the scenario.
#[test]
fn inline_template_error_points_into_scenario() {
    let text = fs::read_to_string(fixtures().join("inline-template-aws.yaml")).expect("fixture");
    let broken = text.replace("startAfter: [Stop]", "startAfter: [Nope]");
    let line = text
        .lines()
        .position(|l| l.contains("startAfter: [Stop]"))
        .expect("line")
        + 1;
    let message = Case::new(&broken).error();
    assert_has(
        &message,
        &[
            &format!("case.yaml:{line}:"),
            "fault.template: ",
            "actions.Wait.startAfter[0]: unknown action \"Nope\"",
        ],
    );
}

/// Rules across fields and sections are named by key.
#[test]
fn cross_field_rules_are_named() {
    let cases = [
        (
            "  recovery_timeout: 60s",
            "  recovery_timeout: 1s",
            "timings.recovery_timeout: ",
        ),
        (
            "  connection: { policy: fresh }",
            "  connection: { policy: keep-alive }",
            "traffic.connection: ",
        ),
        (
            "  template_file: fis/az-power-interruption.json",
            "  template_file: fis/az-power-interruption.json\n  template_id: EXT1",
            "fault: ",
        ),
        ("name: az-power-interruption", "name: AZ_Power", "name: "),
        (
            "path: \"/items/{id}\", body",
            "path: \"/items\", body",
            "probe.write.path: ",
        ),
        (
            "  local: ../../../../localstack/stacks/multi-az.yaml",
            "  aws: { region: us-east-1, account_ids: [\"1234\"] }",
            "target.aws.account_ids[0]: ",
        ),
    ];
    for (from, to, key) in cases {
        let message = error_for(from, to);
        assert_has(&message, &["case.yaml:", key]);
    }
    let no_objectives = valid_text()
        .lines()
        .filter(|l| {
            !(l.starts_with("  rto")
                || l.starts_with("  rpo")
                || l.starts_with("  lost_")
                || l.starts_with("  availability")
                || l.starts_with("  p99_during"))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("objectives:\n", "objectives: {}\n");
    let message = Case::new(&no_objectives).error();
    assert_has(&message, &["case.yaml:", "objectives: ", "at least one"]);
}

/// An unreadable scenario file is named with the OS reason.
#[test]
fn missing_scenario_file_is_named() {
    let err = scenario::load(Path::new("no/such/scenario.yaml")).expect_err("missing");
    assert_has(
        &err.to_string(),
        &["no/such/scenario.yaml: cannot read: ", "No such file"],
    );
}
