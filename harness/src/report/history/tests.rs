//! Unit tests of the history: uncertainties through lines, the trend table and regressions.

use super::*;
use crate::report::view::uncertain_report;
use crate::verdict::Verdict;

/// History lines keep each run's ±; the trend table and a regression print it; lines
/// written before it was recorded still read and print values alone.
#[test]
fn the_trend_prints_every_figure_with_its_uncertainty() {
    let r = uncertain_report();
    let mut runs: Vec<HistoryEntry> = (0..4)
        .map(|i| {
            let mut e = HistoryEntry::from_report(&r, &format!("run-{i}"));
            e.started_unix_ms += i * 60_000;
            e.verdict = Verdict::Pass;
            e
        })
        .collect();
    runs[3].rto_ms = Some(6_000);
    assert_eq!(
        (runs[0].rto_uncertainty_ms, runs[0].rpo_uncertainty_ms),
        (Some(115), Some(105))
    );
    let line = serde_json::to_string(&runs[0]).unwrap();
    let mut old: serde_json::Value = serde_json::from_str(&line).unwrap();
    old.as_object_mut().unwrap().remove("rto_uncertainty_ms");
    old.as_object_mut().unwrap().remove("rpo_uncertainty_ms");
    let old: HistoryEntry = serde_json::from_value(old).expect("an old line reads");
    runs[0] = old;
    let policy = RegressionPolicy::default();
    let trends = analyse(&runs, &policy);
    let text = table(&trends, &policy);
    assert!(text.contains("| 1.99 s ± 0.12 s | 1.00 s ± 0.11 s |"), "{text}");
    assert!(
        text.contains("| 1.99 s          | 1.00 s          |"),
        "old line: {text}"
    );
    assert!(text.contains("REGRESSION: RTO 6.00 s ± 0.12 s > 2.49 s"), "{text}");
}
