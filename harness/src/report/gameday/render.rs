//! The game day's `summary.md` and `report.html`: the comparison table (one formatted
//! row per scenario, with its objectives) laid out by the `gameday.md` and
//! `gameday.html` templates.

use serde::Serialize;

use super::charts::{charts, ChartView};
use super::{thousands, GamedayReport};
use crate::report::error::RenderError;
use crate::report::markdown_table::MarkdownTable;
use crate::report::view::{
    fmt_measured, fmt_target, objective_bound, objective_message, objective_title, secs, utc_short, with_uncertainty,
    Sign,
};
use crate::report::{html, markdown, templates, StrategyInfo};
use crate::verdict::Verdict;

const GAMEDAY_MD: &str = "gameday.md";
const GAMEDAY_HTML: &str = "gameday.html";

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

/// The comparison table of the game day's `summary.md`: one row per scenario, its result
/// linking to the run's own summary.
fn markdown_table(rows: &[TableRow]) -> String {
    MarkdownTable::new([
        "strategy",
        "standing cost",
        "RTO",
        "detection",
        "failover",
        "recovered",
        "RPO",
        "lost writes",
        "availability during fault",
        "result",
    ])
    .rows(rows.iter().map(|r| {
        let scenario = match &r.link {
            Some(link) => format!("[{}]({link}/summary.md)", r.scenario),
            None => r.scenario.clone(),
        };
        [
            r.label.clone(),
            r.cost.clone(),
            r.rto.clone(),
            r.detection.clone(),
            r.failover.clone(),
            r.recovered.clone(),
            r.rpo.clone(),
            r.lost.clone(),
            r.availability.clone(),
            format!("{} {}: {scenario}", r.icon, r.verdict),
        ]
    }))
    .compact()
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
    /// The comparison table of `summary.md`.
    table: String,
    charts: Vec<ChartView>,
    version: &'static str,
}

fn context(g: &GamedayReport, charts: Vec<ChartView>) -> Context {
    let (verdict, icon) = verdict_word(Some(g.verdict));
    let rows = table_rows(g);
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
        table: markdown_table(&rows),
        rows,
        charts,
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// Renders the game day's `summary.md`: verdict, the comparison table and each
/// scenario's missed objectives.
pub fn render_markdown(g: &GamedayReport) -> Result<String, RenderError> {
    templates::render(GAMEDAY_MD, markdown::SUMMARY_FILE, &context(g, Vec::new()))
}

/// Renders the game day's `report.html`: the comparison table and one bar chart per
/// measure (RTO with its detection and failover marks, RPO, lost writes, availability
/// during the fault, and standing cost when any target states a strategy).
pub fn render_html(g: &GamedayReport) -> Result<String, RenderError> {
    templates::render(GAMEDAY_HTML, html::HTML_FILE, &context(g, charts(g)?))
}
