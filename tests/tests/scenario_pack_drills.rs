//! The scenario pack, run: every scenario file in `scenarios/` (the directory itself, not
//! a copy) is run against the embedded local stack through one game day, and each passes
//! its own objectives — or, for a scenario that exists to show a cost, misses exactly the
//! objectives it is meant to miss. Also checks the game day's combined folder.

use std::path::PathBuf;

use drdrill::report::PublishOptions;
use drdrill::run::{Interrupt, RunOptions};
use drdrill::verdict::Verdict;

/// Scenarios meant to miss objectives, and exactly which ones (see scenarios/README.md).
const MEANT_TO_FAIL: &[(&str, &[&str])] = &[("db-failover-async", &["lost_writes", "rpo"])];

/// Pack scenarios run end to end by another test, with stricter checks against the
/// ground truth (and left out here so the suite runs each drill once): the regional
/// outages of the strategy game day, which `tests/tests/strategies.rs` runs through
/// `scenarios/gameday-strategies.yaml`...
const RUN_BY_STRATEGIES_TEST: &[&str] = &[
    "backup-restore-region-outage.yaml",
    "region-failover-pilot-light.yaml",
    "region-failover-warm-standby.yaml",
    "region-failover-active-active.yaml",
];

/// ...and the restore drills, which `tests/tests/restore_drill.rs` runs.
const RUN_BY_RESTORE_TEST: &[&str] = &[
    "backup-restore-region-outage.yaml",
    "backup-restore-single-database.yaml",
    "backup-restore-test.yaml",
];

fn pack() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .canonicalize()
        .unwrap()
}

/// Every scenario of the pack through one game day: each meets its objectives (or misses
/// exactly its intended ones), the rows keep the pack's order, and the game day's folder
/// has the table, a chart per measure and a JUnit suite per scenario.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pack_scenario_meets_its_objectives() {
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(pack())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !drdrill::gameday::is_gameday_file(p))
        .collect();
    scenarios.sort();
    for name in RUN_BY_STRATEGIES_TEST {
        assert!(
            scenarios.iter().any(|p| p.file_name().is_some_and(|f| f == *name)),
            "{name} is in the pack"
        );
        let plan = std::fs::read_to_string(pack().join("gameday-strategies.yaml")).unwrap();
        assert!(plan.contains(name), "{name} is run by gameday-strategies.yaml");
    }
    for name in RUN_BY_RESTORE_TEST {
        let test =
            std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/restore_drill.rs")).unwrap();
        assert!(test.contains(name), "{name} is run by restore_drill.rs");
    }
    scenarios.retain(|p| {
        !RUN_BY_STRATEGIES_TEST
            .iter()
            .chain(RUN_BY_RESTORE_TEST)
            .any(|n| p.file_name().is_some_and(|f| f == *n))
    });
    assert!(scenarios.len() >= 5, "{scenarios:?}");
    let tmp = tempfile::tempdir().unwrap();
    let plan_path = tmp.path().join("gameday-pack.yaml");
    let mut plan = String::from("gameday: pack\nscenarios:\n");
    for s in &scenarios {
        plan.push_str(&format!("  - path: {:?}\n", s.display().to_string()));
    }
    std::fs::write(&plan_path, plan).unwrap();
    let loaded = drdrill::gameday::load(&plan_path).unwrap_or_else(|e| panic!("{e}"));
    let opts = RunOptions {
        out_dir: tmp.path().join("reports"),
        yes: false,
        quiet: true,
    };
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    let mut on_run = |o: &drdrill::run::RunOutcome| seen.push(o.report.scenario.name.clone());
    let outcome = drdrill::gameday::run(loaded, &opts, &PublishOptions::default(), Interrupt::new(), &mut on_run)
        .await
        .unwrap();
    eprintln!("{} scenarios in {:?}", scenarios.len(), started.elapsed());
    let g = &outcome.report;
    assert_eq!(g.rows.len(), scenarios.len());
    assert_eq!(seen.len(), scenarios.len());
    let mut problems = Vec::new();
    for (row, file) in g.rows.iter().zip(&scenarios) {
        assert_eq!(row.path, *file, "rows keep the plan's order");
        let missed: Vec<&str> = row
            .objectives
            .iter()
            .filter(|o| !o.pass)
            .map(|o| o.name.as_str())
            .collect();
        let meant: &[&str] = MEANT_TO_FAIL
            .iter()
            .find(|(n, _)| *n == row.scenario)
            .map_or(&[], |(_, m)| m);
        let mut missed_sorted = missed.clone();
        missed_sorted.sort();
        let expected_verdict = if meant.is_empty() { Verdict::Pass } else { Verdict::Fail };
        if row.verdict != Some(expected_verdict) || missed_sorted != meant {
            problems.push(format!(
                "{}: verdict {:?} (reason {:?}), missed {missed:?}, meant to miss {meant:?}; objectives {:#?}",
                row.scenario, row.verdict, row.reason, row.objectives
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let expected = if MEANT_TO_FAIL.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    assert_eq!(g.verdict, expected);
    assert_eq!(g.exit_code, expected.exit_code());

    // The game day's folder: the record, the table, the charts, a suite per scenario.
    let back = drdrill::report::gameday::GamedayReport::read(&outcome.dir).unwrap();
    assert_eq!(back.rows, g.rows);
    let md = std::fs::read_to_string(outcome.dir.join("summary.md")).unwrap();
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ")).count(),
        scenarios.len() + 1,
        "{md}"
    );
    let html = std::fs::read_to_string(outcome.dir.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 4);
    let junit = std::fs::read_to_string(outcome.dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), scenarios.len());
    for row in &g.rows {
        let run_dir = opts.out_dir.join(row.run_dir.as_ref().expect("every scenario ran"));
        assert!(run_dir.join("report.json").exists(), "{}", run_dir.display());
    }
    let history = std::fs::read_to_string(opts.out_dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), scenarios.len());
}
