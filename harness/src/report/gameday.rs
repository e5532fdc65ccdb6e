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

use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::bars::{bar_chart_svg, Bar, BarChart};
use super::chart::{DATA_LOSS_RGB, GOOD_RGB, SUCCESS_RGB};
use super::formats::{write_file, Format, Formats, RenderError};
use super::view::{
    fmt_measured, fmt_target, objective_bound, objective_message, objective_title, rpo_bound_ms, rto_bound_ms, secs,
    utc_short, with_uncertainty, Sign,
};
use super::{html, junit, markdown, templates, Report, StrategyInfo};
use crate::verdict::{ObjectiveResult, Verdict};

/// Version of the `gameday.json` schema; bumped on incompatible changes.
pub const GAMEDAY_SCHEMA_VERSION: u32 = 1;
/// The name of the game-day record in its folder.
pub const GAMEDAY_FILE: &str = "gameday.json";
const GAMEDAY_MD: &str = "gameday.md";
const GAMEDAY_HTML: &str = "gameday.html";
const COST_RGB: (u8, u8, u8) = (0x55, 0x5b, 0x66);

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

/// A row of the table, formatted.
#[derive(Serialize)]
struct TableRow {
    label: String,
    scenario: String,
    description: Option<String>,
    cost: String,
    rto: String,
    detection: String,
    failover: String,
    recovered: String,
    rpo: String,
    lost: String,
    availability: String,
    verdict: &'static str,
    icon: &'static str,
    /// The run's folder relative to the game day's folder.
    link: Option<String>,
    reason: Option<String>,
    objectives: Vec<ObjectiveView>,
}

#[derive(Serialize)]
struct ObjectiveView {
    title: String,
    target: String,
    measured: String,
    pass: bool,
    message: String,
}

fn verdict_word(v: Option<Verdict>) -> (&'static str, &'static str) {
    match v {
        Some(Verdict::Pass) => ("pass", "✅"),
        Some(Verdict::Fail) => ("fail", "❌"),
        Some(Verdict::Aborted) => ("aborted", "⚠️"),
        Some(Verdict::Error) => ("error", "💥"),
        None => ("not run", "⏭️"),
    }
}

/// A time after injection (`+1.50 s`), with its ± bound when given.
fn after(ms: Option<i64>, bound_ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".into(), |v| with_uncertainty(v, bound_ms, Sign::Signed))
}

/// `6 instances · 2 DBs · $1,234/month`.
fn cost(s: Option<&StrategyInfo>) -> String {
    s.map_or_else(
        || "—".into(),
        |s| {
            format!(
                "{} instances · {} DBs · ${}/month",
                s.instances,
                s.databases,
                thousands(s.usd_per_month.round() as i64)
            )
        },
    )
}

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

fn table_rows(g: &GamedayReport) -> Vec<TableRow> {
    g.rows
        .iter()
        .map(|r| {
            let (verdict, icon) = verdict_word(r.verdict);
            TableRow {
                label: r.label().to_owned(),
                scenario: r.scenario.clone(),
                description: r.description.clone(),
                cost: cost(r.strategy.as_ref()),
                rto: r.rto_text(),
                detection: after(r.detection_ms, None),
                failover: after(r.failover_ms, None),
                recovered: after(r.recovered_ms, r.rto_uncertainty_ms),
                rpo: r.rpo_text(),
                lost: match (r.lost_writes, r.acked_writes) {
                    (Some(l), Some(a)) => format!("{l} of {a}"),
                    _ => "—".into(),
                },
                availability: r
                    .availability_during_fault
                    .map_or_else(|| "—".into(), |a| format!("{:.2}%", a * 100.0)),
                verdict,
                icon,
                link: r.run_dir.as_ref().map(|d| format!("../{d}")),
                reason: r.reason.clone(),
                objectives: r
                    .objectives
                    .iter()
                    .map(|o| {
                        let bound = objective_bound(o, r.rto_uncertainty_ms, r.rpo_uncertainty_ms);
                        ObjectiveView {
                            title: objective_title(&o.name),
                            target: fmt_target(o),
                            measured: fmt_measured(o, bound),
                            pass: o.pass,
                            message: objective_message(o, bound),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

#[derive(Serialize)]
struct Context {
    icon: &'static str,
    verdict: &'static str,
    verdict_upper: String,
    gameday: String,
    description: Option<String>,
    run_id: String,
    plan_path: String,
    started: String,
    finished: String,
    duration: String,
    exit_code: i32,
    stopped_early: Option<String>,
    rows: Vec<TableRow>,
    charts: Vec<ChartView>,
    version: &'static str,
}

#[derive(Serialize)]
struct ChartView {
    id: &'static str,
    title: &'static str,
    svg: String,
}

fn context(g: &GamedayReport, charts: Vec<ChartView>) -> Context {
    let (verdict, icon) = verdict_word(Some(g.verdict));
    Context {
        icon,
        verdict,
        verdict_upper: verdict.to_uppercase(),
        gameday: g.gameday.clone(),
        description: g.description.clone(),
        run_id: g.run_id.clone(),
        plan_path: g.plan_path.display().to_string(),
        started: utc_short(g.started_unix_ms),
        finished: utc_short(g.finished_unix_ms),
        duration: secs(g.finished_unix_ms - g.started_unix_ms),
        exit_code: g.exit_code,
        stopped_early: g.stopped_early.clone(),
        rows: table_rows(g),
        charts,
        version: env!("CARGO_PKG_VERSION"),
    }
}

fn render(name: &'static str, file: &'static str, ctx: &Context) -> Result<String, RenderError> {
    let env = templates::environment().map_err(|source| RenderError::Template { file, source })?;
    env.get_template(name)
        .and_then(|t| t.render(Serde(ctx)))
        .map_err(|source| RenderError::Template { file, source })
}

/// Renders the game day's `summary.md`: verdict, the comparison table and each
/// scenario's missed objectives.
pub fn render_markdown(g: &GamedayReport) -> Result<String, RenderError> {
    render(GAMEDAY_MD, markdown::SUMMARY_FILE, &context(g, Vec::new()))
}

/// Renders the game day's `report.html`: the comparison table and one bar chart per
/// measure (RTO with its detection and failover marks, RPO, lost writes, availability
/// during the fault, and standing cost when any target states a strategy).
pub fn render_html(g: &GamedayReport) -> Result<String, RenderError> {
    render(GAMEDAY_HTML, html::HTML_FILE, &context(g, charts(g)?))
}

fn charts(g: &GamedayReport) -> Result<Vec<ChartView>, RenderError> {
    let bar = |r: &ComparisonRow, value: Option<f64>, text: String, marks: Vec<Option<f64>>| Bar {
        label: r.label().to_owned(),
        value,
        text,
        marks,
    };
    let s = |ms: Option<i64>| ms.map(|v| v as f64 / 1000.0);
    let rto: Vec<Bar> = g
        .rows
        .iter()
        .map(|r| {
            let text = match (r.rto_ms, r.never_recovered, r.verdict) {
                (Some(_), _, _) | (None, true, _) => r.rto_text(),
                (None, _, None) => "not run".into(),
                _ => "not measured".into(),
            };
            bar(r, s(r.rto_ms), text, vec![s(r.detection_ms), s(r.failover_ms)])
        })
        .collect();
    let missing = |r: &ComparisonRow| if r.verdict.is_none() { "not run" } else { "not measured" }.to_owned();
    let rpo: Vec<Bar> = g
        .rows
        .iter()
        .map(|r| {
            let text = if r.rpo_ms.is_some() { r.rpo_text() } else { missing(r) };
            bar(r, s(r.rpo_ms), text, Vec::new())
        })
        .collect();
    let lost: Vec<Bar> = g
        .rows
        .iter()
        .map(|r| {
            let text = match (r.lost_writes, r.acked_writes) {
                (Some(l), Some(a)) => format!("{l} of {a}"),
                _ => missing(r),
            };
            bar(r, r.lost_writes.map(|l| l as f64), text, Vec::new())
        })
        .collect();
    let availability: Vec<Bar> = g
        .rows
        .iter()
        .map(|r| {
            let v = r.availability_during_fault.map(|a| a * 100.0);
            bar(r, v, v.map_or_else(|| missing(r), |v| format!("{v:.2}%")), Vec::new())
        })
        .collect();
    let mut out = vec![
        chart(
            "rto",
            "RTO (measured)",
            "seconds after injection",
            SUCCESS_RGB,
            1.0,
            &["detection", "failover"],
            &rto,
        )?,
        chart(
            "rpo",
            "RPO (measured)",
            "seconds of acknowledged writes lost",
            DATA_LOSS_RGB,
            1.0,
            &[],
            &rpo,
        )?,
        chart(
            "lost",
            "Lost writes",
            "acknowledged writes not readable after recovery",
            DATA_LOSS_RGB,
            1.0,
            &[],
            &lost,
        )?,
        chart(
            "availability",
            "Availability during the fault",
            "% of probes that succeeded",
            GOOD_RGB,
            100.0,
            &[],
            &availability,
        )?,
    ];
    if g.rows.iter().any(|r| r.strategy.is_some()) {
        let cost: Vec<Bar> = g
            .rows
            .iter()
            .map(|r| {
                let v = r.strategy.as_ref().map(|s| s.usd_per_month);
                bar(
                    r,
                    v,
                    v.map_or_else(
                        || "no strategy".into(),
                        |v| format!("${}/month", thousands(v.round() as i64)),
                    ),
                    Vec::new(),
                )
            })
            .collect();
        out.push(chart(
            "cost",
            "Standing cost",
            "US dollars per month",
            COST_RGB,
            1.0,
            &[],
            &cost,
        )?);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn chart(
    id: &'static str,
    title: &'static str,
    unit: &str,
    rgb: (u8, u8, u8),
    min_max: f64,
    marks: &[&str],
    bars: &[Bar],
) -> Result<ChartView, RenderError> {
    let svg = bar_chart_svg(&BarChart {
        title,
        unit,
        rgb,
        min_max,
        marks,
        bars,
    })?;
    Ok(ChartView { id, title, svg })
}

#[cfg(test)]
mod tests {
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
}
