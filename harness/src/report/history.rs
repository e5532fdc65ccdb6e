//! Run history: every run appends one line to `<out>/history.jsonl`; `drdrill report
//! --history` reads it back, prints RTO, RPO, lost writes and the verdict per scenario
//! over time, writes `history.html` with a trend chart, and flags a **regression** when a
//! run's RTO or RPO is worse than the median of the previous runs of the same scenario
//! by more than the margin:
//!
//! `value > median + max(median × margin, min_delta)`
//!
//! Only complete runs (verdict pass or fail) are judged and serve as the baseline; a
//! complete run that never recovered is a regression of RTO whenever there is a
//! baseline.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::formats::RenderError;
use super::view::{opt_secs, rpo_bound_ms, rto_bound_ms, utc_short, with_uncertainty, Sign};
use super::{chart, templates, Report};
use crate::verdict::Verdict;

/// File name of the history in the reports folder.
pub const HISTORY_FILE: &str = "history.jsonl";
/// File name of the trend page in the reports folder.
pub const HISTORY_HTML: &str = "history.html";

/// One run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Run id.
    pub run_id: String,
    /// Scenario name.
    pub scenario: String,
    /// `local:<stack>` or `aws:<region>`.
    #[serde(default)]
    pub target: String,
    /// Outcome.
    pub verdict: Verdict,
    /// Exit code.
    pub exit_code: i32,
    /// Whether the run verified and analysed everything.
    pub complete: bool,
    /// Run start, unix ms.
    pub started_unix_ms: i64,
    /// Run end, unix ms.
    pub finished_unix_ms: i64,
    /// Measured RTO, ms (`null`: never recovered, or no fault).
    pub rto_ms: Option<i64>,
    /// The ± bound of the RTO, ms (absent in lines written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_uncertainty_ms: Option<i64>,
    /// Time below the steady-state threshold, ms.
    pub outage_ms: Option<i64>,
    /// Measured RPO, ms (`null`: not verified).
    pub rpo_ms: Option<i64>,
    /// The ± bound of the RPO, ms (absent in lines written before it was recorded, and
    /// when nothing was lost: the RPO is then exactly 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_uncertainty_ms: Option<i64>,
    /// Lost acknowledged writes.
    pub lost_writes: Option<usize>,
    /// Acknowledged writes.
    pub acked_writes: Option<usize>,
    /// Success ratio during the fault.
    pub availability_during_fault: Option<f64>,
    /// Objectives that were missed.
    #[serde(default)]
    pub objectives_missed: Vec<String>,
    /// The run folder, relative to the history file's folder.
    pub run_dir: String,
}

impl HistoryEntry {
    /// The history line of a report whose run folder is `run_dir` (relative).
    pub fn from_report(r: &Report, run_dir: &str) -> HistoryEntry {
        HistoryEntry {
            run_id: r.run_id.clone(),
            scenario: r.scenario.name.clone(),
            target: r.target.clone(),
            verdict: r.verdict,
            exit_code: r.exit_code,
            complete: r.complete,
            started_unix_ms: r.t0_unix_ms,
            finished_unix_ms: r.finished_unix_ms,
            rto_ms: r.rto_ms,
            rto_uncertainty_ms: rto_bound_ms(r),
            outage_ms: r.outage_ms,
            rpo_ms: r.data_loss.as_ref().map(|d| d.rpo_ms),
            rpo_uncertainty_ms: rpo_bound_ms(r),
            lost_writes: r.data_loss.as_ref().map(|d| d.lost_writes),
            acked_writes: r.data_loss.as_ref().map(|d| d.acked_writes),
            availability_during_fault: r.availability_during_fault,
            objectives_missed: r
                .objectives
                .iter()
                .filter(|o| !o.pass)
                .map(|o| o.name.clone())
                .collect(),
            run_dir: run_dir.to_string(),
        }
    }

    fn judged(&self) -> bool {
        self.complete && matches!(self.verdict, Verdict::Pass | Verdict::Fail)
    }
}

/// The history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Appending the run's line failed.
    #[error("cannot append to {path}: {source}")]
    Append {
        /// The history file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the history failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The history file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The trend page could not be rendered or written.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Appends `entry` as one line (one write, so concurrent runs do not interleave).
pub fn append(path: &Path, entry: &HistoryEntry) -> Result<(), HistoryError> {
    let err = |source| HistoryError::Append {
        path: path.to_path_buf(),
        source,
    };
    let mut line = serde_json::to_string(entry).map_err(|e| err(std::io::Error::other(e)))?;
    line.push('\n');
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    f.write_all(line.as_bytes()).map_err(err)
}

/// The history read back.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Every readable entry, in file order.
    pub entries: Vec<HistoryEntry>,
    /// 1-based numbers of lines that could not be read (a torn or foreign line).
    pub skipped_lines: Vec<usize>,
}

/// Reads `history.jsonl`; unreadable lines are skipped and listed.
pub fn read(path: &Path) -> Result<History, HistoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| HistoryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = History::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(e) => h.entries.push(e),
            Err(_) => h.skipped_lines.push(i + 1),
        }
    }
    Ok(h)
}

/// When a run counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionPolicy {
    /// Allowed relative increase over the median (0.25 = 25%).
    pub margin: f64,
    /// Allowed absolute increase, ms, whatever the median (so noise around a small
    /// median is not flagged).
    pub min_delta_ms: i64,
    /// How many previous runs form the baseline (the most recent ones).
    pub window: usize,
}

impl Default for RegressionPolicy {
    /// 25%, at least 500 ms, over the last 10 runs.
    fn default() -> RegressionPolicy {
        RegressionPolicy {
            margin: 0.25,
            min_delta_ms: 500,
            window: 10,
        }
    }
}

/// One metric of one run that is worse than its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// `rto` or `rpo`.
    pub metric: &'static str,
    /// The run's value, ms (`None`: never recovered).
    pub value_ms: Option<i64>,
    /// The ± bound of the run's value, ms, when it was recorded.
    pub value_uncertainty_ms: Option<i64>,
    /// Median of the baseline, ms.
    pub median_ms: i64,
    /// The largest value that would not have been flagged, ms.
    pub limit_ms: i64,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.metric.to_uppercase();
        match self.value_ms {
            Some(v) => write!(
                f,
                "{name} {} > {} (median {} + margin)",
                with_uncertainty(v, self.value_uncertainty_ms, Sign::Unsigned),
                opt_secs(Some(self.limit_ms)),
                opt_secs(Some(self.median_ms))
            ),
            None => write!(f, "{name} never recovered (median {})", opt_secs(Some(self.median_ms))),
        }
    }
}

/// One run with its verdict against the history before it.
#[derive(Debug, Clone)]
pub struct TrendRow {
    /// The run.
    pub entry: HistoryEntry,
    /// What regressed (empty: nothing).
    pub regressions: Vec<Regression>,
    /// How many previous runs formed the baseline.
    pub baseline_runs: usize,
}

/// One scenario's runs, oldest first.
#[derive(Debug, Clone)]
pub struct ScenarioTrend {
    /// Scenario name.
    pub scenario: String,
    /// Its runs.
    pub rows: Vec<TrendRow>,
}

/// One point of a trend chart.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// RTO, ms.
    pub rto_ms: Option<i64>,
    /// RPO, ms.
    pub rpo_ms: Option<i64>,
    /// Flagged as a regression.
    pub regression: bool,
}

impl ScenarioTrend {
    /// Whether the most recent run regressed.
    pub fn latest_regressed(&self) -> bool {
        self.rows.last().is_some_and(|r| !r.regressions.is_empty())
    }

    /// The chart's points.
    pub fn points(&self) -> Vec<TrendPoint> {
        self.rows
            .iter()
            .map(|r| TrendPoint {
                rto_ms: r.entry.rto_ms,
                rpo_ms: r.entry.rpo_ms,
                regression: !r.regressions.is_empty(),
            })
            .collect()
    }
}

/// The median of a non-empty list.
fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

fn judge(
    metric: &'static str,
    (value, value_uncertainty_ms): (Option<i64>, Option<i64>),
    baseline: &[&HistoryEntry],
    get: fn(&HistoryEntry) -> Option<i64>,
    policy: &RegressionPolicy,
    none_is_worse: bool,
) -> Option<Regression> {
    let mut values: Vec<i64> = baseline.iter().filter_map(|e| get(e)).collect();
    if values.is_empty() {
        return None;
    }
    let median_ms = median(&mut values);
    let limit_ms = median_ms + ((median_ms as f64 * policy.margin).round() as i64).max(policy.min_delta_ms);
    match value {
        Some(v) if v > limit_ms => Some(Regression {
            metric,
            value_ms: Some(v),
            value_uncertainty_ms,
            median_ms,
            limit_ms,
        }),
        None if none_is_worse => Some(Regression {
            metric,
            value_ms: None,
            value_uncertainty_ms: None,
            median_ms,
            limit_ms,
        }),
        _ => None,
    }
}

/// Groups the entries by scenario (sorted by name; runs by start time) and judges each
/// run against the runs before it.
pub fn analyse(entries: &[HistoryEntry], policy: &RegressionPolicy) -> Vec<ScenarioTrend> {
    let mut names: Vec<&str> = entries.iter().map(|e| e.scenario.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let mut runs: Vec<&HistoryEntry> = entries.iter().filter(|e| e.scenario == name).collect();
            runs.sort_by_key(|e| e.started_unix_ms);
            let rows = runs
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let previous: Vec<&HistoryEntry> = runs[..i].iter().copied().filter(|p| p.judged()).collect();
                    let baseline = &previous[previous.len().saturating_sub(policy.window)..];
                    let regressions = if e.judged() {
                        [
                            judge(
                                "rto",
                                (e.rto_ms, e.rto_uncertainty_ms),
                                baseline,
                                |p| p.rto_ms,
                                policy,
                                true,
                            ),
                            judge(
                                "rpo",
                                (e.rpo_ms, e.rpo_uncertainty_ms),
                                baseline,
                                |p| p.rpo_ms,
                                policy,
                                false,
                            ),
                        ]
                        .into_iter()
                        .flatten()
                        .collect()
                    } else {
                        Vec::new()
                    };
                    TrendRow {
                        entry: (*e).clone(),
                        regressions,
                        baseline_runs: baseline.len(),
                    }
                })
                .collect();
            ScenarioTrend {
                scenario: name.to_string(),
                rows,
            }
        })
        .collect()
}

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
        let rows: Vec<Vec<String>> = t.rows.iter().enumerate().map(|(i, r)| cells(r, i + 1)).collect();
        let widths: Vec<usize> = (0..HEADERS.len())
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].chars().count())
                    .chain([HEADERS[c].len(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let regressed = t.rows.iter().filter(|r| !r.regressions.is_empty()).count();
        out.push_str(&format!(
            "## {} — {} runs, {} flagged\n\n",
            t.scenario,
            t.rows.len(),
            regressed
        ));
        out.push_str(&line(&HEADERS.map(String::from)));
        out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
        for r in &rows {
            out.push_str(&line(r));
        }
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
                        link: format!("{}/{}", r.entry.run_dir, super::html::HTML_FILE),
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
    let env = templates::environment().map_err(|source| RenderError::Template {
        file: HISTORY_HTML,
        source,
    })?;
    env.get_template(HISTORY_HTML)
        .and_then(|t| {
            t.render(minijinja::context! {
                scenarios => Serde(&scenarios),
                rule => rule,
                version => env!("CARGO_PKG_VERSION"),
            })
        })
        .map_err(|source| RenderError::Template {
            file: HISTORY_HTML,
            source,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The median of an even count is the mean of the middle two.
    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3, 1, 2]), 2);
        assert_eq!(median(&mut [4, 1, 2, 3]), 2);
    }
}

#[cfg(test)]
mod uncertainty_tests {
    use super::*;
    use crate::report::view::uncertain_report;

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
}
