//! Unit tests of the game-day record and its renderings.

use super::*;
use crate::report::view::uncertain_report;

/// A figure read back from `gameday.json` is the very number written: serde_json's
/// default float parser may be one ulp off (0.9281437125748504 came back
/// …503 in a suite run), so the workspace enables its `float_roundtrip` feature.
#[test]
fn floats_read_back_exactly() {
    for x in [0.928_143_712_574_850_4_f64, 0.748_75, 1.0 / 3.0, 0.1 + 0.2, 2.225e-308] {
        let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        assert_eq!(back.to_bits(), x.to_bits(), "{x}");
    }
}
/// The game day's table, objectives and bar labels carry the ± of each run, which
/// `gameday.json` keeps; a row recorded before then prints values alone.
#[test]
fn the_comparison_prints_every_figure_with_its_uncertainty() {
    let r = uncertain_report();
    let row = ComparisonRow::from_report(&r, Some("run".into()));
    assert_eq!((row.rto_uncertainty_ms, row.rpo_uncertainty_ms), (Some(115), Some(105)));
    let mut old = row.clone();
    old.rto_uncertainty_ms = None;
    old.rpo_uncertainty_ms = None;
    let g = GamedayReport {
        schema_version: GAMEDAY_SCHEMA_VERSION,
        run_id: "gd".into(),
        gameday: "gd".into(),
        description: None,
        plan_path: "plan.yaml".into(),
        verdict: Verdict::Fail,
        exit_code: 1,
        started_unix_ms: 0,
        finished_unix_ms: 1_000,
        stop_on_first_failure: false,
        stopped_early: None,
        rows: vec![row, old],
    };
    let md = render_markdown(&g).unwrap();
    let lines: Vec<&str> = md.lines().filter(|l| l.starts_with("| db-failover")).collect();
    assert!(
        lines[0].contains("| 1.99 s ± 0.12 s |") && lines[0].contains("| +1.99 s ± 0.12 s |"),
        "{md}"
    );
    assert!(lines[0].contains("| 1.00 s ± 0.11 s |"), "{md}");
    assert!(md.contains("RPO 1.00 s ± 0.11 s > 0 ms (over by 999 ms)"), "{md}");
    assert!(
        lines[1].contains("| 1.99 s |") && lines[1].contains("| 1.00 s |"),
        "{md}"
    );
    let html = render_html(&g).unwrap();
    assert!(
        html.contains("1.99 s ± 0.12 s</text>") || html.contains("1.99 s ± 0.12 s<"),
        "bar label"
    );
    let back: GamedayReport = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
    assert_eq!(back.rows, g.rows);
}
