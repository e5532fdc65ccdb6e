//! The game day's combined report, rendered from real run reports (the fixtures) made
//! into four strategy runs: the comparison table in `summary.md`, `report.html` with a
//! bar chart per measure, `gameday.json` and the combined `junit.xml`; and the strategy
//! a local target's stack file states.

mod support;

use std::path::Path;

use drdrill::analysis::DataLoss;
use drdrill::report::gameday::{self, ComparisonRow, GamedayReport, GAMEDAY_SCHEMA_VERSION};
use drdrill::report::{Formats, Report, StrategyInfo};
use drdrill::verdict::Verdict;

/// A copy of the passing fixture run made into a run of `strategy` with the given
/// numbers (ms, lost writes).
fn strategy_run(strategy: &str, usd: f64, rto: i64, detection: i64, failover: i64, rpo: i64, lost: usize) -> Report {
    let mut r = support::fixtures::report("az-power-interruption");
    r.scenario.name = format!("region-failover-{strategy}");
    r.strategy = Some(StrategyInfo {
        name: strategy.into(),
        instances: 6,
        databases: 2,
        usd_per_month: usd,
    });
    r.rto_ms = Some(rto);
    let b = r.rto_breakdown.as_mut().expect("fixture has a breakdown");
    b.health_check_failed_ms = Some(detection);
    b.dns_changed_ms = Some(failover);
    b.recovered_ms = Some(rto);
    r.data_loss = Some(DataLoss {
        acked_writes: 1000,
        lost_writes: lost,
        window_unix_ms: None,
        window_ms: 0,
        rpo_ms: rpo,
        lost_ids: Vec::new(),
    });
    r
}

fn strategies() -> Vec<Report> {
    vec![
        strategy_run("backup-restore", 120.0, 41_500, 1_500, 30_000, 20_000, 400),
        strategy_run("pilot-light", 380.0, 17_250, 1_500, 12_000, 1_000, 20),
        strategy_run("warm-standby", 1_450.0, 6_000, 1_500, 3_000, 1_000, 20),
        strategy_run("active-active", 2_900.0, 2_100, 1_500, 1_800, 0, 0),
    ]
}

fn gameday_of(reports: &[Report], extra: Vec<ComparisonRow>) -> GamedayReport {
    let mut rows: Vec<ComparisonRow> = reports
        .iter()
        .map(|r| ComparisonRow::from_report(r, Some(format!("run-{}", r.scenario.name))))
        .collect();
    rows.extend(extra);
    GamedayReport {
        schema_version: GAMEDAY_SCHEMA_VERSION,
        run_id: "20260101T000000Z-gameday-strategies-abcdef".into(),
        gameday: "strategies".into(),
        description: Some("A regional outage against the four strategies".into()),
        plan_path: "scenarios/gameday-strategies.yaml".into(),
        verdict: Verdict::Fail,
        exit_code: 1,
        started_unix_ms: 1_767_225_600_000,
        finished_unix_ms: 1_767_225_780_000,
        stop_on_first_failure: false,
        stopped_early: None,
        rows,
    }
}

/// The Markdown table has one row per scenario in plan order, with the strategy, its
/// standing cost, the RTO and its breakdown (detection from the Route 53 health check
/// rather than the load balancer), the RPO, lost writes and availability; an unrun
/// scenario keeps its place and says why.
#[test]
fn markdown_table_compares_strategies_in_plan_order() {
    let not_run = ComparisonRow::without_report(
        "region-cut",
        None,
        Path::new("scenarios/region-cut.yaml"),
        None,
        "not run: stop_on_first_failure".into(),
    );
    let md = gameday::render_markdown(&gameday_of(&strategies(), vec![not_run])).unwrap();
    let lines: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(lines.len(), 6, "header + 5 rows:\n{md}");
    assert!(lines[0].starts_with("| strategy | standing cost | RTO | detection | failover | recovered | RPO | lost writes | availability during fault |"));
    let order: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| "))
        .collect();
    assert_eq!(
        order,
        [
            "backup-restore",
            "pilot-light",
            "warm-standby",
            "active-active",
            "region-cut"
        ]
    );
    let backup = lines[1];
    for cell in [
        "6 instances · 2 DBs · $120/month",
        "41.50 s",
        "+1.50 s",
        "+30.00 s",
        "+41.50 s",
        "20.00 s",
        "400 of 1000",
    ] {
        assert!(backup.contains(cell), "missing {cell:?} in {backup}");
    }
    assert!(lines[3].contains("$1,450/month"), "{}", lines[3]);
    assert!(lines[1].contains("](../run-region-failover-backup-restore/summary.md)"));
    assert!(
        lines[5].contains("not run") && lines[5].contains("| — |"),
        "{}",
        lines[5]
    );
    assert!(md.contains("not run: stop_on_first_failure"));
}

/// report.html is self-contained and has the table and one bar chart per measure, each
/// with a bar label per strategy; the standing-cost chart appears only when a target
/// states a strategy.
#[test]
fn html_has_a_bar_chart_per_measure() {
    let html = gameday::render_html(&gameday_of(&strategies(), Vec::new())).unwrap();
    assert!(html.contains("Content-Security-Policy") && !html.contains("<script"));
    for id in [
        "chart-rto",
        "chart-rpo",
        "chart-lost",
        "chart-availability",
        "chart-cost",
    ] {
        let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no {id}"));
        let section = &html[at..at + html[at..].find("</section>").unwrap()];
        assert!(section.contains("<svg"), "{id} has no chart");
        for s in ["backup-restore", "pilot-light", "warm-standby", "active-active"] {
            assert!(section.contains(s), "{id} has no bar for {s}");
        }
    }
    assert!(html.contains("41.50 s") && html.contains("$2,900/month"));
    assert_eq!(html.matches("data-scenario=").count(), 4);

    let plain = vec![
        support::fixtures::report("az-power-interruption"),
        support::fixtures::report("db-failover-async"),
    ];
    let html = gameday::render_html(&gameday_of(&plain, Vec::new())).unwrap();
    assert!(!html.contains("id=\"chart-cost\""), "no strategy, no cost chart");
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("<td>az-power-interruption</td>") && html.contains("<td>db-failover-async</td>"));
}

/// Writing the folder gives gameday.json (read back to the same rows), summary.md,
/// report.html and a junit.xml with one suite per scenario report.
#[test]
fn writes_the_folder_and_reads_gameday_json_back() {
    let dir = tempfile::tempdir().unwrap();
    let reports = strategies();
    let g = gameday_of(&reports, Vec::new());
    let written = gameday::write(&g, &reports, dir.path(), &Formats::all()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in ["gameday.json", "junit.xml", "summary.md", "report.html"] {
        assert!(names.iter().any(|n| n == f), "{f} not written: {names:?}");
    }
    let back = GamedayReport::read(dir.path()).unwrap();
    assert_eq!(back.rows, g.rows);
    assert_eq!(back.rows[0].detection_ms, Some(1_500));
    assert_eq!(back.rows[3].rpo_ms, Some(0));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testsuite ").count(), 4);
    assert!(junit.contains("drdrill.region-failover-pilot-light"));
}

/// A run that never came back is `never recovered`, not a missing number; detection
/// falls back to the load balancer's view when there is no Route 53 health check.
#[test]
fn row_of_a_run_that_never_recovered() {
    let mut r = support::fixtures::report("az-power-interruption");
    r.rto_ms = None;
    let row = ComparisonRow::from_report(&r, None);
    assert!(row.never_recovered);
    assert_eq!(row.detection_ms, Some(925), "targets_unhealthy_ms of the fixture");
    assert_eq!(row.label(), "az-power-interruption");
    let md = gameday::render_markdown(&gameday_of(&[r], Vec::new())).unwrap();
    assert!(md.contains("| never recovered |"), "{md}");
}

/// The strategy comes from the stack file of a local target, and only when it states one.
#[test]
fn strategy_comes_from_the_local_stack_file() {
    use drdrill::scenario::Target;
    let repo = support::repo();
    let plain = repo.join("localstack/stacks/multi-az.yaml");
    assert_eq!(StrategyInfo::of_target(&Target::Local { stack: plain.clone() }), None);
    let with = repo.join("localstack/stacks/strategy-warm-standby.yaml");
    assert_eq!(
        StrategyInfo::of_target(&Target::Local { stack: with }),
        Some(StrategyInfo {
            name: "warm-standby".into(),
            instances: 4,
            databases: 3,
            usd_per_month: 1030.0,
        })
    );
}
