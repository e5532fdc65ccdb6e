//! `summary.md`: the verdict, the objectives (target vs measured), the recovery
//! breakdown, data loss, the top failure reasons and a link to the HTML report; short
//! enough for a CI step summary (`GITHUB_STEP_SUMMARY`) or a PR comment. RTO, RPO and the
//! data-loss window carry their uncertainty, and a footnote says what bounds them.

use serde::Serialize;

use super::error::RenderError;
use super::markdown_table::MarkdownTable;
use super::templates::{self, DataLossView, FailureRow, Headline, MomentRow, ObjectiveRow, RunHeader, UncertaintyView};
use super::view::View;
use super::Report;

/// File name of the summary in a run folder.
pub const SUMMARY_FILE: &str = "summary.md";

/// Most lost write ids listed.
const MAX_IDS: usize = 10;
/// Most failure kinds listed.
const MAX_FAILURES: usize = 5;

#[derive(Serialize)]
struct Context {
    #[serde(flatten)]
    run: RunHeader,
    verdict: String,
    headline: Headline,
    headline_table: String,
    uncertainty: Option<UncertaintyView>,
    objectives: Vec<ObjectiveRow>,
    objectives_table: String,
    has_fault: bool,
    moments: Vec<MomentRow>,
    restore: Vec<(&'static str, String)>,
    data_loss: Option<DataLossView>,
    failures: Vec<FailureRow>,
    probes: String,
}

/// Renders `summary.md`.
pub fn render(report: &Report) -> Result<String, RenderError> {
    let v = View::new(report);
    let p = &report.probes;
    let headline = templates::headline(&v);
    let objectives = templates::objective_rows(report);
    let ctx = Context {
        run: templates::run_header(&v),
        verdict: report.verdict.as_str().to_uppercase(),
        headline_table: headline_table(&headline),
        headline,
        uncertainty: templates::uncertainty_view(&v),
        objectives_table: objectives_table(&objectives),
        objectives,
        has_fault: report.t_inject_unix_ms.is_some(),
        moments: templates::moment_rows(&v),
        restore: v.restore_lines(),
        data_loss: templates::data_loss_view(&v, MAX_IDS),
        failures: templates::failure_rows(&v, MAX_FAILURES),
        probes: p.line(),
    };
    templates::render(SUMMARY_FILE, SUMMARY_FILE, &ctx)
}

/// The headline numbers, one column each.
fn headline_table(h: &Headline) -> String {
    MarkdownTable::new([
        "RTO",
        "outage",
        "RPO",
        "lost writes",
        "availability during fault",
        "p99 during fault",
    ])
    .row([&h.rto, &h.outage, &h.rpo, &h.lost, &h.availability, &h.p99].map(String::as_str))
    .compact()
}

/// One row per objective: target, measured value and the result with its sentence.
fn objectives_table(objectives: &[ObjectiveRow]) -> String {
    MarkdownTable::new(["objective", "target", "measured", "result"])
        .rows(objectives.iter().map(|o| {
            let result = match (o.pass, o.result) {
                (true, _) => "✅ pass",
                (false, "fail") => "❌ fail",
                _ => "⚠️ not measured",
            };
            [
                o.title.clone(),
                o.target.clone(),
                o.measured.clone(),
                format!("{result} — {}", o.message),
            ]
        }))
        .compact()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::uncertain_report;

    /// Every RTO and RPO in summary.md carries its ±, and a footnote lists what bounds
    /// them: the probe interval, `t_inject`'s precision and the clock offset.
    #[test]
    fn summary_prints_every_figure_with_its_uncertainty() {
        let md = render(&uncertain_report()).unwrap();
        assert!(md.contains("| 1.99 s ± 0.12 s | 2.10 s | 1.00 s ± 0.11 s |"), "{md}");
        assert!(
            md.contains("| RTO | ≤ 10.00 s | 1.99 s ± 0.12 s | ✅ pass — RTO 1.99 s ± 0.12 s ≤ 10.00 s"),
            "{md}"
        );
        assert!(
            md.contains("| RPO | ≤ 0 ms | 1.00 s ± 0.11 s | ❌ fail — RPO 1.00 s ± 0.11 s > 0 ms (over by 999 ms)"),
            "{md}"
        );
        assert!(md.contains("steady state back (recovered) +1.99 s ± 0.12 s"), "{md}");
        assert!(
            md.contains("window −1.00 s ± 0.11 s → −0.02 s ± 0.11 s (980 ms); RPO 1.00 s ± 0.11 s"),
            "{md}"
        );
        let note = md.lines().find(|l| l.starts_with("**±**")).expect("footnote");
        for part in [
            "RTO ± 115 ms",
            "probe interval 10 ms",
            "precision 100 ms",
            "clock offset 4.2 ms",
            "RPO and data-loss window ± 105 ms",
        ] {
            assert!(note.contains(part), "{part} in {note}");
        }
        assert!(md.lines().count() < 40 && md.len() < 4096, "still short");
    }

    /// A report without uncertainties (written before they were recorded) renders as it
    /// always did: values alone, no footnote.
    #[test]
    fn an_old_report_has_no_footnote() {
        let mut r = uncertain_report();
        r.uncertainty = None;
        r.rto_uncertainty_ms = None;
        r.rpo_uncertainty_ms = None;
        let md = render(&r).unwrap();
        assert!(!md.contains('±'), "{md}");
        assert!(
            md.contains("| RTO | ≤ 10.00 s | 1.99 s | ✅ pass — rto 1990 ms"),
            "{md}"
        );
    }
}
