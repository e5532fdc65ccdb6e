//! The history for a reader: the trend table (Markdown, printed by `drdrill report
//! --history`) and `history.html` (per scenario, the trend chart and the table).

use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use serde::Serialize;

use super::trend::{RegressionPolicy, ScenarioTrend, TrendRow};
use super::HISTORY_HTML;
use crate::report::error::RenderError;
use crate::report::markdown_table::MarkdownTable;
use crate::report::view::{utc_short, with_uncertainty, Sign};
use crate::report::{chart, templates};

fn cells(row: &TrendRow, n: usize) -> Vec<String> {
    let e = &row.entry;
    vec![
        format!("#{n}"),
        utc_short(e.started_unix_ms),
        format!(
            "{}{}",
            e.verdict.as_str().to_uppercase(),
            if e.complete { "" } else { " (incomplete)" }
        ),
        match (e.rto_ms, e.complete) {
            (None, true) => "never".into(),
            (None, false) => "—".into(),
            (Some(v), _) => with_uncertainty(v, e.rto_uncertainty_ms, Sign::Unsigned),
        },
        e.rpo_ms.map_or_else(
            || "—".into(),
            |v| with_uncertainty(v, e.rpo_uncertainty_ms, Sign::Unsigned),
        ),
        match (e.lost_writes, e.acked_writes) {
            (Some(l), Some(a)) => format!("{l}/{a}"),
            _ => "—".into(),
        },
        if row.regressions.is_empty() {
            String::new()
        } else {
            format!(
                "REGRESSION: {}",
                row.regressions
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
        e.run_dir.clone(),
    ]
}

const HEADERS: [&str; 8] = ["run", "started", "verdict", "RTO", "RPO", "lost", "flag", "folder"];

/// The history as a text table (valid Markdown), one section per scenario.
pub fn table(trends: &[ScenarioTrend], policy: &RegressionPolicy) -> String {
    let mut out = String::new();
    if trends.is_empty() {
        out.push_str("no runs in the history\n");
        return out;
    }
    for t in trends {
        let regressed = t.rows.iter().filter(|r| !r.regressions.is_empty()).count();
        out.push_str(&format!(
            "## {} — {} runs, {} flagged\n\n",
            t.scenario,
            t.rows.len(),
            regressed
        ));
        let rows = t.rows.iter().enumerate().map(|(i, r)| cells(r, i + 1));
        out.push_str(&MarkdownTable::new(HEADERS).rows(rows).aligned());
        out.push('\n');
    }
    out.push_str(&format!(
        "regression: RTO or RPO above the median of up to {} previous complete runs by more than {:.0}% (at least {} ms)\n",
        policy.window,
        policy.margin * 100.0,
        policy.min_delta_ms
    ));
    out
}

#[derive(Serialize)]
struct HtmlScenario {
    name: String,
    svg: String,
    headers: [&'static str; 8],
    rows: Vec<HtmlRow>,
}

#[derive(Serialize)]
struct HtmlRow {
    cells: Vec<String>,
    regression: bool,
    /// The run's `report.html`, relative to `history.html`.
    link: String,
}

/// Renders `history.html`: per scenario, the trend chart and the table.
pub fn render_html(trends: &[ScenarioTrend], policy: &RegressionPolicy) -> Result<String, RenderError> {
    let scenarios = trends
        .iter()
        .map(|t| {
            Ok(HtmlScenario {
                name: t.scenario.clone(),
                svg: chart::trend_svg(&t.scenario, &t.points())?,
                headers: HEADERS,
                rows: t
                    .rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| HtmlRow {
                        cells: cells(r, i + 1),
                        regression: !r.regressions.is_empty(),
                        link: format!("{}/{}", r.entry.run_dir, crate::report::html::HTML_FILE),
                    })
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    let rule = format!(
        "A run is flagged when its RTO or RPO is above the median of up to {} previous complete runs of the scenario by more than {:.0}% (and at least {} ms).",
        policy.window,
        policy.margin * 100.0,
        policy.min_delta_ms
    );
    templates::render(
        HISTORY_HTML,
        HISTORY_HTML,
        &minijinja::context! {
            scenarios => Serde(&scenarios),
            rule => rule,
            version => env!("CARGO_PKG_VERSION"),
        },
    )
}

/// Writes `history.html` into `dir`.
pub fn write_html(dir: &Path, trends: &[ScenarioTrend], policy: &RegressionPolicy) -> Result<PathBuf, RenderError> {
    let path = dir.join(HISTORY_HTML);
    let text = render_html(trends, policy)?;
    std::fs::write(&path, text).map_err(|source| RenderError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
