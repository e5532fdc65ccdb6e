//! Hostile input to the scenario parser and the FIS template reader, generated with
//! proptest: no input makes them panic or hang, and every rejection names the place
//! (the scenario file with a line or a key path; the JSON path inside a template).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drdrill::scenario::{self, fis_template, ScenarioError};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::fixtures::scenario_fixtures as fixtures;

/// Longest a single load may take.
const MAX_LOAD: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

/// A scratch folder with the fixture template, and the path `case.yaml` in it.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fis")).unwrap();
    std::fs::write(
        dir.path().join("fis/az-power-interruption.json"),
        fixture("fis/az-power-interruption.json"),
    )
    .unwrap();
    let case = dir.path().join("case.yaml");
    (dir, case)
}

/// Loads `text` as `case`, checking the time bound; the error, if any.
fn load_bounded(case: &Path, text: &str) -> Option<ScenarioError> {
    let started = Instant::now();
    let result = scenario::load_str(case, text);
    assert!(started.elapsed() < MAX_LOAD, "load took {:?}", started.elapsed());
    result.err()
}

/// Whether a message points at a place: `case.yaml:<line>` or a key path.
fn names_the_place(e: &ScenarioError) -> bool {
    let message = e.to_string();
    let positioned = message
        .split("case.yaml:")
        .nth(1)
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    message.contains("case.yaml") && (positioned || e.key().is_some_and(|k| !k.is_empty()))
}

/// Scalars that are wrong in interesting ways for some key.
fn hostile_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "-?[0-9]{1,6}(\\.[0-9]{1,3})?/[smhxS]".prop_map(|s| s),
        "-?[0-9]{1,4}(ms|s|m|h|d|us|ns|)".prop_map(|s| s),
        "[a-zA-Z_ -]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("~".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[1, [2, [3]]]".to_string()),
        Just("{ policy: teleport }".to_string()),
        Just("!!binary aGVsbG8=".to_string()),
        Just("&a [*a]".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("1e999".to_string()),
        Just("NaN".to_string()),
        Just("-.inf".to_string()),
    ]
}

/// Arbitrary JSON, biased towards the template's own keys and values.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        "[a-zA-Z0-9:(){}*_ -]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("ALL"),
            Just("COUNT(2)"),
            Just("PERCENT(0)"),
            Just("PERCENT(100)"),
            Just("aws:ec2:instance"),
            Just("aws:fis:wait"),
            Just("Stop"),
            Just("Instances"),
            Just("{{az}}"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    let key = prop_oneof![
        Just("actions".to_string()),
        Just("targets".to_string()),
        Just("actionId".to_string()),
        Just("startAfter".to_string()),
        Just("resourceType".to_string()),
        Just("resourceTags".to_string()),
        Just("resourceArns".to_string()),
        Just("selectionMode".to_string()),
        Just("parameters".to_string()),
        Just("filters".to_string()),
        Just("Stop".to_string()),
        Just("Instances".to_string()),
        "[A-Za-z]{1,6}",
    ];
    leaf.prop_recursive(5, 96, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every node of a JSON value, as pointers (`/actions/Stop/targets`).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes (as text) never make the loader panic or hang, and a rejection
    /// always names the scenario file.
    #[test]
    fn arbitrary_text_is_rejected_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
        let (_dir, case) = scratch();
        let text = String::from_utf8_lossy(&bytes);
        if let Some(e) = load_bounded(&case, &text) {
            prop_assert!(e.to_string().contains("case.yaml"), "{}", e);
        }
    }

    /// Replacing any value of a valid scenario with a hostile scalar never panics, and
    /// a rejection names the file and a line or a key path.
    #[test]
    fn hostile_values_are_rejected_at_their_place(
        base in 0usize..2,
        line_pick in any::<prop::sample::Index>(),
        value in hostile_scalar(),
    ) {
        let (_dir, case) = scratch();
        let text = fixture(["az-power-interruption.yaml", "inline-template-aws.yaml"][base]);
        let lines: Vec<&str> = text.lines().collect();
        let candidates: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                let l = lines[i].trim_start();
                !l.starts_with('#') && l.contains(": ") && !l.ends_with(':')
            })
            .collect();
        let at = candidates[line_pick.index(candidates.len())];
        let (key, _) = lines[at].split_once(": ").unwrap();
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[at] = format!("{key}: {value}");
        let edited = edited.join("\n");
        if let Some(e) = load_bounded(&case, &edited) {
            prop_assert!(names_the_place(&e), "no place in {:?} for line {}: {}", e.to_string(), at + 1, edited);
        }
    }

    /// The FIS template check never panics on arbitrary JSON; a rejection of an object
    /// names the JSON path of the problem.
    #[test]
    fn arbitrary_templates_are_checked_cleanly(v in json_value()) {
        if let Err(e) = fis_template::check(&v) {
            prop_assert!(!e.path.is_empty() || !v.is_object(), "no path: {}", e);
        }
    }

    /// Replacing any node of a valid template with arbitrary JSON, and loading it
    /// through a scenario, never panics; a rejection names `fault.template_file` and the
    /// template file (or the `fault.parameters` key whose placeholder went away).
    #[test]
    fn mutated_template_files_name_the_template_path(pick in any::<prop::sample::Index>(), replacement in json_value()) {
        let (dir, case) = scratch();
        let mut template: Value = serde_json::from_str(&fixture("fis/az-power-interruption.json")).unwrap();
        let mut all = Vec::new();
        pointers(&template, String::new(), &mut all);
        let pointer = all[pick.index(all.len())].clone();
        if pointer.is_empty() {
            template = replacement;
        } else if let Some(node) = template.pointer_mut(&pointer) {
            *node = replacement;
        }
        let text = serde_json::to_string_pretty(&template).unwrap();
        std::fs::write(dir.path().join("fis/az-power-interruption.json"), &text).unwrap();
        if let Some(e) = load_bounded(&case, &fixture("az-power-interruption.yaml")) {
            let message = e.to_string();
            prop_assert!(message.contains("case.yaml"), "{}", message);
            // Replacing a node that held a placeholder leaves a `fault.parameters.*` unused,
            // which is the scenario's key to name; anything else is the template's.
            if !message.contains("fault.parameters.") {
                prop_assert!(message.contains("fault.template_file"), "{}", message);
                prop_assert!(message.contains("az-power-interruption.json"), "{}", message);
            }
        }
    }
}

/// Pathological nesting and sizes are refused with a message, not a stack overflow or
/// an endless parse: 100,000 nested YAML sequences, a template nested 100,000 arrays
/// deep, and files over the size limit.
#[test]
fn deep_nesting_and_huge_files_are_refused() {
    let (dir, case) = scratch();
    let deep_yaml = format!("name: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = load_bounded(&case, &deep_yaml).expect("refused");
    assert!(names_the_place(&e), "{e}");

    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.path().join("fis/az-power-interruption.json"), deep_json).unwrap();
    let e = load_bounded(&case, &fixture("az-power-interruption.yaml")).expect("refused");
    assert!(e.to_string().contains("fault.template_file"), "{e}");

    let huge = "#".repeat(scenario::MAX_FILE_BYTES as usize + 10);
    std::fs::write(&case, &huge).unwrap();
    let e = scenario::load(&case).expect_err("refused");
    assert!(e.to_string().contains("larger than"), "{e}");
    std::fs::write(dir.path().join("fis/az-power-interruption.json"), &huge).unwrap();
    let e = scenario::load_str(&case, &fixture("az-power-interruption.yaml")).expect_err("refused");
    assert!(
        e.to_string().contains("fault.template_file") && e.to_string().contains("larger than"),
        "{e}"
    );
}
