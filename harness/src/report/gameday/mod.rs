//! The game-day report: `gameday.json` (a versioned record of every scenario of a plan,
//! in plan order, with the measures the strategies are compared by), and its renderings
//! in the game day's own folder — `summary.md` (the comparison table), `report.html`
//! (the table and one bar chart per measure) and `junit.xml` (every scenario's suite).
//!
//! The comparison row of a scenario: its DR strategy (or its name when the target states
//! none), the strategy's standing cost, the measured RTO with its breakdown (detection,
//! failover, recovery), the measured RPO, the lost writes and the availability during the
//! fault.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::RenderError;
use super::formats::{write_file, Format, Formats};
use super::view::{rpo_bound_ms, rto_bound_ms, with_uncertainty, Sign};
use super::{junit, Report, StrategyInfo};
use crate::verdict::{ObjectiveResult, Verdict};

mod charts;
mod render;

pub use render::{render_html, render_markdown};

/// Version of the `gameday.json` schema; bumped on incompatible changes.
pub const GAMEDAY_SCHEMA_VERSION: u32 = 1;
/// The name of the game-day record in its folder.
pub const GAMEDAY_FILE: &str = "gameday.json";

/// `gameday.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GamedayReport {
    /// [`GAMEDAY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The game day's run id (its folder's name).
    pub run_id: String,
    /// The plan's `gameday` name.
    pub gameday: String,
    /// What the game day drills.
    pub description: Option<String>,
    /// The plan file.
    pub plan_path: PathBuf,
    /// The worst verdict of the scenarios (pass < fail < error < aborted); `aborted` also
    /// when a signal left scenarios unrun.
    pub verdict: Verdict,
    /// Exit code of the game day (that of [`GamedayReport::verdict`]).
    pub exit_code: i32,
    /// When the first scenario started, unix ms.
    pub started_unix_ms: i64,
    /// When the game day finished, unix ms.
    pub finished_unix_ms: i64,
    /// The plan's `stop_on_first_failure`.
    pub stop_on_first_failure: bool,
    /// Why scenarios were left unrun, when they were.
    pub stopped_early: Option<String>,
    /// One row per scenario of the plan, in plan order (unrun ones included).
    pub rows: Vec<ComparisonRow>,
}

/// One scenario of a game day, with the measures it is compared by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// The scenario's name.
    pub scenario: String,
    /// What it proves.
    pub description: Option<String>,
    /// The scenario file.
    pub path: PathBuf,
    /// The run folder's name (a sibling of the game day's folder); `None` when it did not run.
    pub run_dir: Option<String>,
    /// The outcome; `None` when the scenario did not run.
    pub verdict: Option<Verdict>,
    /// Why it did not run, or why it was aborted or could not be carried out.
    pub reason: Option<String>,
    /// The target's DR strategy and standing cost, when the target states one.
    pub strategy: Option<StrategyInfo>,
    /// Measured RTO, ms.
    pub rto_ms: Option<i64>,
    /// The ± bound of the RTO (and of `recovered_ms`), ms; `None` in game days recorded
    /// before uncertainties were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_uncertainty_ms: Option<i64>,
    /// The fault was injected and steady state never came back.
    pub never_recovered: bool,
    /// Detection, ms after injection: a Route 53 health check failed, else the load
    /// balancer first took a target out of service (unhealthy, unused or draining).
    pub detection_ms: Option<i64>,
    /// Failover, ms after injection: the DNS answer for the app's name changed.
    pub failover_ms: Option<i64>,
    /// Recovery, ms after injection: the steady state was back.
    pub recovered_ms: Option<i64>,
    /// Measured RPO, ms.
    pub rpo_ms: Option<i64>,
    /// The ± bound of the RPO, ms; `None` in game days recorded before uncertainties were,
    /// and when nothing was lost (the RPO is then exactly 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_uncertainty_ms: Option<i64>,
    /// Acknowledged writes lost.
    pub lost_writes: Option<usize>,
    /// Acknowledged writes.
    pub acked_writes: Option<usize>,
    /// Success ratio between injection and the end of the experiment.
    pub availability_during_fault: Option<f64>,
    /// The scenario's objectives.
    pub objectives: Vec<ObjectiveResult>,
}

impl ComparisonRow {
    /// The row of a finished run; `run_dir` is its folder's name.
    pub fn from_report(r: &Report, run_dir: Option<String>) -> ComparisonRow {
        let b = r.rto_breakdown.as_ref();
        ComparisonRow {
            scenario: r.scenario.name.clone(),
            description: r.scenario.description.clone(),
            path: r.scenario.path.clone(),
            run_dir,
            verdict: Some(r.verdict),
            reason: r.reason.clone(),
            strategy: r.strategy.clone(),
            rto_ms: r.rto_ms,
            rto_uncertainty_ms: rto_bound_ms(r),
            never_recovered: r.rto_ms.is_none() && r.t_inject_unix_ms.is_some() && r.recovery.is_some(),
            detection_ms: b.and_then(|b| b.health_check_failed_ms.or(b.targets_unhealthy_ms)),
            failover_ms: b.and_then(|b| b.dns_changed_ms),
            recovered_ms: b.and_then(|b| b.recovered_ms),
            rpo_ms: r.data_loss.as_ref().map(|d| d.rpo_ms),
            rpo_uncertainty_ms: rpo_bound_ms(r),
            lost_writes: r.data_loss.as_ref().map(|d| d.lost_writes),
            acked_writes: r.data_loss.as_ref().map(|d| d.acked_writes),
            availability_during_fault: r.availability_during_fault,
            objectives: r.objectives.clone(),
        }
    }

    /// The row of a scenario that has no report: it was not run, or its run could not
    /// start (`verdict` error).
    pub fn without_report(
        scenario: &str,
        description: Option<String>,
        path: &Path,
        verdict: Option<Verdict>,
        reason: String,
    ) -> ComparisonRow {
        ComparisonRow {
            scenario: scenario.to_owned(),
            description,
            path: path.to_owned(),
            run_dir: None,
            verdict,
            reason: Some(reason),
            strategy: None,
            rto_ms: None,
            rto_uncertainty_ms: None,
            never_recovered: false,
            detection_ms: None,
            failover_ms: None,
            recovered_ms: None,
            rpo_ms: None,
            rpo_uncertainty_ms: None,
            lost_writes: None,
            acked_writes: None,
            availability_during_fault: None,
            objectives: Vec::new(),
        }
    }

    /// The strategy's name, or the scenario's when the target states no strategy.
    pub fn label(&self) -> &str {
        self.strategy.as_ref().map_or(&self.scenario, |s| &s.name)
    }

    /// The measured RTO with its uncertainty (`1.98 s ± 0.02 s`), `never recovered`, or
    /// `—` when not measured.
    pub fn rto_text(&self) -> String {
        match (self.rto_ms, self.never_recovered) {
            (Some(ms), _) => with_uncertainty(ms, self.rto_uncertainty_ms, Sign::Unsigned),
            (None, true) => "never recovered".into(),
            (None, false) => "—".into(),
        }
    }

    /// The measured RPO with its uncertainty, `—` when not measured.
    pub fn rpo_text(&self) -> String {
        self.rpo_ms.map_or_else(
            || "—".into(),
            |ms| with_uncertainty(ms, self.rpo_uncertainty_ms, Sign::Unsigned),
        )
    }
}

impl GamedayReport {
    /// Writes `gameday.json` into `dir`.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, RenderError> {
        let path = dir.join(GAMEDAY_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|source| RenderError::Json { source })?;
        std::fs::write(&path, text).map_err(|source| RenderError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Reads `gameday.json` from a game day's folder.
    pub fn read(dir: &Path) -> std::io::Result<GamedayReport> {
        let text = std::fs::read_to_string(dir.join(GAMEDAY_FILE))?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }
}

/// Writes the game day's folder: `gameday.json` always, and of `formats` the combined
/// `junit.xml` (one suite per scenario report in `reports`), `summary.md` and
/// `report.html`. Returns the files written; stops at the first failure.
pub fn write(
    g: &GamedayReport,
    reports: &[Report],
    dir: &Path,
    formats: &Formats,
) -> Result<Vec<PathBuf>, RenderError> {
    let mut written = vec![g.write_json(dir)?];
    written.extend(write_renderings(g, reports, dir, formats)?);
    Ok(written)
}

/// Writes the files of `formats` other than `gameday.json`.
fn write_renderings(
    g: &GamedayReport,
    reports: &[Report],
    dir: &Path,
    formats: &Formats,
) -> Result<Vec<PathBuf>, RenderError> {
    let mut written = Vec::new();
    for f in formats.without(Format::Json).iter() {
        let text = match f {
            Format::Junit => junit::render_suites(reports)?,
            Format::Markdown => render_markdown(g)?,
            Format::Html => render_html(g)?,
            Format::Json => continue,
        };
        written.push(write_file(dir, f, &text)?);
    }
    Ok(written)
}

/// Whether `dir` is a game day's folder (it holds `gameday.json`).
pub fn is_gameday_dir(dir: &Path) -> bool {
    dir.join(GAMEDAY_FILE).is_file()
}

/// Re-renders a game day's folder from `gameday.json` (never rewritten) and, for
/// `junit.xml`, the `report.json` of each scenario's run folder next to it (a run folder
/// that cannot be read is left out of the suites). Returns the files written.
pub fn rerender(dir: &Path, formats: &Formats) -> Result<Vec<PathBuf>, RenderError> {
    let g = GamedayReport::read(dir).map_err(|source| RenderError::Write {
        path: dir.join(GAMEDAY_FILE),
        source,
    })?;
    let parent = dir.parent().unwrap_or_else(|| Path::new(""));
    let reports: Vec<Report> = g
        .rows
        .iter()
        .filter_map(|r| r.run_dir.as_ref())
        .filter_map(|d| super::load_run(&parent.join(d)).ok())
        .map(|l| l.report)
        .collect();
    write_renderings(&g, &reports, dir, formats)
}

/// `1234567` as `1,234,567`.
fn thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
