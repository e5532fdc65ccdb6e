//! The shipped scenario pack (`scenarios/`) as files: every scenario loads and says what
//! it proves, every game-day plan parses (and loads when the scenarios it lists exist),
//! every FIS template is in AWS's CreateExperimentTemplate JSON, and the README covers
//! every file. Runs the directory itself, never a copy.

use std::path::PathBuf;

mod support;

/// The scenario pack shipped in the repository.
fn pack() -> PathBuf {
    support::repo().join("scenarios")
}

fn files(dir: &std::path::Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Every scenario file loads (template filled and checked) and has a description; every
/// plan parses, and loads in full when the scenarios it lists are present.
#[test]
fn every_scenario_and_plan_loads() {
    let yaml = files(&pack(), "yaml");
    assert!(yaml.len() >= 7, "{yaml:?}");
    let mut scenarios = 0;
    for f in &yaml {
        if drdrill::gameday::is_gameday_file(f) {
            let text = std::fs::read_to_string(f).unwrap();
            let plan = drdrill::gameday::parse_str(f, &text).unwrap_or_else(|e| panic!("{e}"));
            if plan.scenarios.iter().all(|s| pack().join(&s.path).exists()) {
                drdrill::gameday::load(f).unwrap_or_else(|e| panic!("{e}"));
            } else {
                eprintln!("note: {} lists scenarios not in this tree; parsed only", f.display());
            }
        } else {
            let l = drdrill::scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
            let d = l.scenario.description.unwrap_or_default();
            assert!(d.len() > 20, "{}: no description saying what it proves", f.display());
            scenarios += 1;
        }
    }
    assert!(scenarios >= 5);
}

/// The single-region plan runs every single-region drill; the strategy plan runs the
/// regional outage against the four strategies, cheapest first.
#[test]
fn shipped_plans_list_their_scenarios() {
    let names = |file: &str| -> Vec<String> {
        let path = pack().join(file);
        let plan = drdrill::gameday::parse_str(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        plan.scenarios.iter().map(|s| s.path.display().to_string()).collect()
    };
    assert_eq!(
        names("gameday-az.yaml"),
        [
            "az-power-interruption.yaml",
            "instance-loss.yaml",
            "az-network-partition.yaml",
            "db-failover-multi-az.yaml",
            "db-failover-async.yaml"
        ]
    );
    assert_eq!(
        names("gameday-strategies.yaml"),
        [
            "backup-restore-region-outage.yaml",
            "region-failover-pilot-light.yaml",
            "region-failover-warm-standby.yaml",
            "region-failover-active-active.yaml"
        ]
    );
}

/// Every FIS template is AWS's CreateExperimentTemplate input: description, targets,
/// actions, stopConditions and roleArn, nothing drdrill-specific, and passes the checks
/// a scenario's template gets.
#[test]
fn every_fis_template_is_aws_json() {
    let allowed = [
        "description",
        "targets",
        "actions",
        "stopConditions",
        "roleArn",
        "tags",
        "logConfiguration",
        "experimentOptions",
        "experimentReportConfiguration",
        "clientToken",
    ];
    let templates = files(&pack().join("fis"), "json");
    assert!(templates.len() >= 5, "{templates:?}");
    for f in templates {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        drdrill::scenario::fis_template::check(&v).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let o = v.as_object().unwrap();
        for k in o.keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{}: {k} is not a CreateExperimentTemplate key",
                f.display()
            );
        }
        for k in ["description", "targets", "actions", "stopConditions", "roleArn"] {
            assert!(o.contains_key(k), "{}: missing {k}", f.display());
        }
        for (name, a) in o["actions"].as_object().unwrap() {
            let id = a["actionId"].as_str().unwrap();
            assert!(id.starts_with("aws:"), "{}: action {name} is {id}", f.display());
        }
    }
}

/// scenarios/README.md has a section for every scenario and plan of the pack.
#[test]
fn readme_covers_every_file() {
    let readme = std::fs::read_to_string(pack().join("README.md")).unwrap();
    for f in files(&pack(), "yaml") {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            readme.contains(&format!("### `{name}`")),
            "scenarios/README.md has no section for {name}"
        );
    }
}
