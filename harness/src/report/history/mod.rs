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

use serde::{Deserialize, Serialize};

use super::error::RenderError;
use super::view::{rpo_bound_ms, rto_bound_ms};
use super::Report;
use crate::verdict::Verdict;

mod page;
mod trend;

pub use page::{render_html, table, write_html};
pub use trend::{analyse, Regression, RegressionPolicy, ScenarioTrend, TrendRow};
// A point of the trend chart, defined with the chart (which draws it) and still named
// here, where the trend is analysed.
pub use super::chart::TrendPoint;

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

#[cfg(test)]
mod tests;
