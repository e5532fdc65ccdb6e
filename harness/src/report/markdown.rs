//! `summary.md`: the verdict, the objectives (target vs measured), the recovery
//! breakdown, data loss, the top failure reasons and a link to the HTML report; short
//! enough for a CI step summary (`GITHUB_STEP_SUMMARY`) or a PR comment.

use minijinja::value::Serde;
use serde::Serialize;

use super::templates::{self, DataLossView, FailureRow, Headline, MomentRow, ObjectiveRow};
use super::view::{utc_short, View};
use super::{formats::RenderError, Report};

/// File name of the summary in a run folder.
pub const SUMMARY_FILE: &str = "summary.md";

/// Most lost write ids listed.
const MAX_IDS: usize = 10;
/// Most failure kinds listed.
const MAX_FAILURES: usize = 5;

#[derive(Serialize)]
struct Context {
    icon: &'static str,
    verdict: String,
    scenario: String,
    description: Option<String>,
    run_id: String,
    target: String,
    started: String,
    exit_code: i32,
    complete: bool,
    degraded: Option<String>,
    reason: String,
    stopped_in: Option<String>,
    headline: Headline,
    objectives: Vec<ObjectiveRow>,
    has_fault: bool,
    moments: Vec<MomentRow>,
    data_loss: Option<DataLossView>,
    failures: Vec<FailureRow>,
    probes: String,
}

/// Renders `summary.md`.
pub fn render(report: &Report) -> Result<String, RenderError> {
    let v = View::new(report);
    let p = &report.probes;
    let ctx = Context {
        icon: templates::verdict_icon(report),
        verdict: report.verdict.as_str().to_uppercase(),
        scenario: report.scenario.name.clone(),
        description: report.scenario.description.clone(),
        run_id: report.run_id.clone(),
        target: report.target.clone(),
        started: utc_short(report.t0_unix_ms),
        exit_code: report.exit_code,
        complete: report.complete,
        degraded: report.measurement_degraded.clone(),
        reason: report.reason.clone().unwrap_or_else(|| "no reason recorded".into()),
        stopped_in: v.stopped_in.clone(),
        headline: templates::headline(&v),
        objectives: templates::objective_rows(report),
        has_fault: report.t_inject_unix_ms.is_some(),
        moments: templates::moment_rows(&v),
        data_loss: templates::data_loss_view(&v, MAX_IDS),
        failures: templates::failure_rows(&v, MAX_FAILURES),
        probes: p.line(),
    };
    let env = templates::environment().map_err(|source| RenderError::Template {
        file: SUMMARY_FILE,
        source,
    })?;
    env.get_template(SUMMARY_FILE)
        .and_then(|t| t.render(Serde(&ctx)))
        .map_err(|source| RenderError::Template {
            file: SUMMARY_FILE,
            source,
        })
}
