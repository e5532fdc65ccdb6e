//! Run history: appended lines read back, regressions flagged against the median of the
//! previous runs, noise within the margin not flagged, incomplete runs neither judged nor
//! used as a baseline, a torn line skipped.

use drdrill::report::history::{self, HistoryEntry, RegressionPolicy};
use drdrill::verdict::Verdict;

fn entry(scenario: &str, n: i64, rto_ms: Option<i64>, rpo_ms: i64) -> HistoryEntry {
    HistoryEntry {
        run_id: format!("run-{scenario}-{n}"),
        scenario: scenario.into(),
        target: "local:test".into(),
        verdict: Verdict::Pass,
        exit_code: 0,
        complete: true,
        started_unix_ms: 1_700_000_000_000 + n * 60_000,
        finished_unix_ms: 1_700_000_000_000 + n * 60_000 + 15_000,
        rto_ms,
        rto_uncertainty_ms: None,
        outage_ms: rto_ms,
        rpo_ms: Some(rpo_ms),
        rpo_uncertainty_ms: None,
        lost_writes: Some(0),
        acked_writes: Some(500),
        availability_during_fault: Some(0.75),
        objectives_missed: Vec::new(),
        run_dir: format!("run-{scenario}-{n}"),
    }
}

/// Five steady runs with noise around 2 s, then `last`.
fn with_last(last: HistoryEntry) -> Vec<HistoryEntry> {
    let mut v: Vec<HistoryEntry> = [1960, 2010, 1990, 2050, 1975]
        .iter()
        .enumerate()
        .map(|(i, rto)| entry("az", i as i64, Some(*rto), 0))
        .collect();
    v.push(last);
    v
}

/// An RTO well above the median of the previous runs is flagged, with the numbers.
#[test]
fn injected_rto_regression_is_flagged() {
    let policy = RegressionPolicy::default();
    let trends = history::analyse(&with_last(entry("az", 9, Some(4_000), 0)), &policy);
    assert_eq!(trends.len(), 1);
    let last = trends[0].rows.last().unwrap();
    assert_eq!(last.regressions.len(), 1, "{:?}", last.regressions);
    let r = &last.regressions[0];
    assert_eq!((r.metric, r.value_ms, r.median_ms), ("rto", Some(4_000), 1_990));
    assert_eq!(r.limit_ms, 1_990 + 500, "25% of the median is 498 ms: at least 500 ms");
    assert!(trends[0].latest_regressed());
    assert_eq!(last.baseline_runs, 5);
    assert!(
        trends[0].rows[..5].iter().all(|r| r.regressions.is_empty()),
        "noise is not flagged"
    );
}

/// Noise within the margin is not flagged: just under the limit passes.
#[test]
fn noise_within_the_margin_is_not_flagged() {
    let policy = RegressionPolicy::default();
    for rto in [2_100, 2_300, 2_490] {
        let trends = history::analyse(&with_last(entry("az", 9, Some(rto), 0)), &policy);
        assert!(!trends[0].latest_regressed(), "RTO {rto} ms is within the margin");
    }
    let trends = history::analyse(&with_last(entry("az", 9, Some(2_491), 0)), &policy);
    assert!(trends[0].latest_regressed(), "one ms over the limit is flagged");
}

/// RPO regresses from 0 when a run starts losing writes; a complete run that never
/// recovered is an RTO regression.
#[test]
fn rpo_and_never_recovered_are_flagged() {
    let policy = RegressionPolicy::default();
    let trends = history::analyse(&with_last(entry("az", 9, Some(2_000), 1_000)), &policy);
    let last = trends[0].rows.last().unwrap();
    assert_eq!(last.regressions.iter().map(|r| r.metric).collect::<Vec<_>>(), ["rpo"]);
    let trends = history::analyse(&with_last(entry("az", 9, None, 0)), &policy);
    let r = &trends[0].rows.last().unwrap().regressions[0];
    assert_eq!((r.metric, r.value_ms), ("rto", None));
    assert!(r.to_string().contains("never recovered"));
}

/// Aborted or incomplete runs are listed but neither judged nor part of the baseline.
#[test]
fn incomplete_runs_are_not_judged_nor_baseline() {
    let policy = RegressionPolicy::default();
    let mut aborted = entry("az", 7, Some(30_000), 0);
    aborted.verdict = Verdict::Aborted;
    aborted.complete = false;
    let mut v = with_last(aborted);
    v.push(entry("az", 10, Some(2_020), 0));
    let trends = history::analyse(&v, &policy);
    let rows = &trends[0].rows;
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|r| r.regressions.is_empty()));
    assert_eq!(rows[6].baseline_runs, 5, "the aborted run is not in the baseline");
}

/// Scenarios are judged separately, and the window limits the baseline to recent runs.
#[test]
fn scenarios_are_separate_and_the_window_limits_the_baseline() {
    let policy = RegressionPolicy {
        window: 2,
        ..RegressionPolicy::default()
    };
    let mut v = vec![
        entry("a", 0, Some(10_000), 0),
        entry("a", 1, Some(1_000), 0),
        entry("a", 2, Some(1_000), 0),
    ];
    v.push(entry("a", 3, Some(2_000), 0));
    v.push(entry("b", 0, Some(9_000), 0));
    let trends = history::analyse(&v, &policy);
    assert_eq!(
        trends.iter().map(|t| t.scenario.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(trends[0].latest_regressed(), "median of the last 2 runs is 1 s");
    assert!(!trends[1].latest_regressed(), "b has no baseline");
}

/// Lines appended are read back in order; a torn last line is skipped and reported.
#[test]
fn appended_lines_read_back_and_torn_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join(history::HISTORY_FILE);
    let a = entry("az", 1, Some(2_000), 0);
    let b = entry("az", 2, Some(2_100), 0);
    history::append(&path, &a).unwrap();
    history::append(&path, &b).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"run_id\":\"torn"))
        .unwrap();
    let h = history::read(&path).unwrap();
    assert_eq!(h.entries, vec![a, b]);
    assert_eq!(h.skipped_lines, vec![3]);
}

/// The table flags the regression and the page has one trend chart per scenario.
#[test]
fn table_and_page_show_the_regression() {
    let policy = RegressionPolicy::default();
    let trends = history::analyse(&with_last(entry("az", 9, Some(4_000), 0)), &policy);
    let table = history::table(&trends, &policy);
    let flagged: Vec<&str> = table.lines().filter(|l| l.contains("REGRESSION")).collect();
    assert_eq!(flagged.len(), 1, "{table}");
    assert!(
        flagged[0].contains("#6") && flagged[0].contains("RTO 4.00 s > 2.49 s"),
        "{table}"
    );
    let html = history::render_html(&trends, &policy).unwrap();
    assert_eq!(html.matches("<svg").count(), 1);
    assert_eq!(html.matches(r#"class="regression""#).count(), 1);
}
