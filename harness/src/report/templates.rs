//! The MiniJinja environment holding the report templates (`harness/templates/`,
//! compiled into the binary) and the rows the Markdown and HTML templates share.
//!
//! Templates only lay out: every number is formatted here or in [`super::view`].

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::error::RenderError;
use super::view::{
    fmt_measured, fmt_target, fmt_value, objective_bound_ms, objective_message, objective_title, opt_secs, utc_short,
    View,
};
use super::Report;

/// The environment with every report template. HTML templates are auto-escaped.
pub(crate) fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_template("summary.md", include_str!("../../templates/summary.md"))?;
    env.add_template("report.html", include_str!("../../templates/report.html"))?;
    env.add_template("history.html", include_str!("../../templates/history.html"))?;
    env.add_template("style.css", include_str!("../../templates/style.css"))?;
    env.add_template("gameday.md", include_str!("../../templates/gameday.md"))?;
    env.add_template("gameday.html", include_str!("../../templates/gameday.html"))?;
    Ok(env)
}

/// Renders the template `name` with `ctx` into the text of `file` (the file named in an
/// error).
pub(crate) fn render(name: &str, file: &'static str, ctx: &impl Serialize) -> Result<String, RenderError> {
    let template = |source| RenderError::Template { file, source };
    let env = environment().map_err(template)?;
    env.get_template(name)
        .and_then(|t| t.render(Serde(ctx)))
        .map_err(template)
}

/// What `summary.md` and `report.html` both say about the run first: its verdict's icon,
/// what ran where and when, and why it ended as it did.
#[derive(Debug, Serialize)]
pub(crate) struct RunHeader {
    pub icon: &'static str,
    pub scenario: String,
    pub description: Option<String>,
    pub run_id: String,
    pub target: String,
    pub started: String,
    pub exit_code: i32,
    pub complete: bool,
    pub degraded: Option<String>,
    /// One line per blind interval of an observer (times from injection).
    pub blind: Vec<String>,
    pub reason: String,
    pub stopped_in: Option<String>,
}

/// The run's header.
pub(crate) fn run_header(v: &View) -> RunHeader {
    let report = v.report;
    RunHeader {
        icon: verdict_icon(report),
        scenario: report.scenario.name.clone(),
        description: report.scenario.description.clone(),
        run_id: report.run_id.clone(),
        target: report.target.clone(),
        started: utc_short(report.t0_unix_ms),
        exit_code: report.exit_code,
        complete: report.complete,
        degraded: report.measurement_degraded.clone(),
        blind: super::blind::lines(
            &report.observer_blind,
            report.t_inject_unix_ms.unwrap_or(report.t0_unix_ms),
        ),
        reason: report.reason.clone().unwrap_or_else(|| "no reason recorded".into()),
        stopped_in: v.stopped_in.clone(),
    }
}

/// One objective, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct ObjectiveRow {
    pub name: String,
    pub title: String,
    pub target: String,
    pub measured: String,
    /// `pass`, `fail` or `not measured`.
    pub result: &'static str,
    pub pass: bool,
    pub message: String,
}

pub(crate) fn objective_rows(r: &Report) -> Vec<ObjectiveRow> {
    r.objectives
        .iter()
        .map(|o| {
            let bound = objective_bound_ms(r, o);
            ObjectiveRow {
                name: o.name.clone(),
                title: objective_title(&o.name),
                target: fmt_target(o),
                measured: fmt_measured(o, bound),
                result: match (o.pass, o.measured.is_some()) {
                    (true, _) => "pass",
                    (false, true) => "fail",
                    (false, false) => "not measured",
                },
                pass: o.pass,
                message: objective_message(o, bound),
            }
        })
        .collect()
}

/// One moment of the recovery breakdown, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct MomentRow {
    pub label: &'static str,
    /// Relative to the origin (`+1.23 s`), or `—`.
    pub at: String,
}

pub(crate) fn moment_rows(v: &View) -> Vec<MomentRow> {
    let has_dns = v.markers.iter().any(|m| m.lane == super::view::Lane::Dns);
    v.moments
        .iter()
        .filter(|m| has_dns || (m.label != super::view::DNS_CHANGED && m.label != super::view::HEALTH_CHECK_FAILED))
        .map(|m| MomentRow {
            label: m.label,
            at: m.t_ms.map_or_else(|| "—".into(), |t| v.at_with(t, m.bound_ms)),
        })
        .collect()
}

/// The headline numbers, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct Headline {
    pub rto: String,
    pub outage: String,
    pub rpo: String,
    pub lost: String,
    pub availability: String,
    pub p99: String,
    pub failed_probes: String,
    pub worst_window: String,
}

pub(crate) fn headline(v: &View) -> Headline {
    let r = v.report;
    let rto = match (r.rto_ms, r.t_inject_unix_ms, r.recovery.as_ref()) {
        (Some(_), _, _) => v.rto(),
        (None, Some(_), Some(_)) => "never recovered".into(),
        _ => "—".into(),
    };
    Headline {
        rto,
        outage: opt_secs(r.outage_ms),
        rpo: v.rpo(),
        lost: r
            .data_loss
            .as_ref()
            .map_or_else(|| "—".into(), |d| format!("{} of {}", d.lost_writes, d.acked_writes)),
        availability: r
            .availability_during_fault
            .map_or_else(|| "—".into(), |a| format!("{:.2}%", a * 100.0)),
        p99: r
            .p99_during_fault_ms
            .map_or_else(|| "—".into(), |p| format!("{p:.1} ms")),
        failed_probes: r
            .recovery
            .as_ref()
            .map_or_else(|| r.probes.failed.to_string(), |rec| rec.failed_probes.to_string()),
        worst_window: r.recovery.as_ref().and_then(|rec| rec.worst_window).map_or_else(
            || "—".into(),
            |(t, ratio)| format!("{:.1}% success at {}", ratio * 100.0, v.at(t - r.t0_unix_ms)),
        ),
    }
}

/// One failure kind with its count and share of the failures.
#[derive(Debug, Serialize)]
pub(crate) struct FailureRow {
    pub kind: String,
    pub count: u64,
    pub share: String,
}

pub(crate) fn failure_rows(v: &View, limit: usize) -> Vec<FailureRow> {
    let total: u64 = v.failures.iter().map(|f| f.1).sum();
    v.failures
        .iter()
        .take(limit)
        .map(|(kind, count)| FailureRow {
            kind: kind.clone(),
            count: *count,
            share: format!("{:.0}%", *count as f64 * 100.0 / total.max(1) as f64),
        })
        .collect()
}

/// The data-loss section, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct DataLossView {
    pub lost: usize,
    pub acked: usize,
    pub window: String,
    pub window_ms: i64,
    pub rpo: String,
    pub ids: Vec<String>,
    pub more_ids: usize,
}

pub(crate) fn data_loss_view(v: &View, max_ids: usize) -> Option<DataLossView> {
    let d = v.report.data_loss.as_ref()?;
    Some(DataLossView {
        lost: d.lost_writes,
        acked: d.acked_writes,
        window: v.data_loss_window(),
        window_ms: d.window_ms,
        rpo: v.rpo(),
        ids: d.lost_ids.iter().take(max_ids).cloned().collect(),
        more_ids: d.lost_ids.len().saturating_sub(max_ids),
    })
}

/// What bounds the measured numbers (the `±`), formatted: shown as a footnote in
/// `summary.md` and in the details of `report.html`.
#[derive(Debug, Serialize)]
pub(crate) struct UncertaintyView {
    /// The RTO's bound, ms (`120 ms`).
    pub rto: Option<String>,
    /// The bound of the RPO and of the data-loss window's ends, ms; `None` also when
    /// nothing was lost (the RPO is then exactly 0).
    pub rpo: Option<String>,
    /// The same for the HTML table: the bound, or why there is none.
    pub rpo_detail: String,
    /// Mean interval between scheduled probes (dates `t_recover`).
    pub probe_interval: String,
    /// ± precision of `t_inject`.
    pub t_inject: String,
    /// Where `t_inject` was read from, which sets its precision.
    pub t_inject_source: &'static str,
    /// ± bound of the clock offset between this machine and the endpoint that dated
    /// `t_inject`.
    pub clock_offset: String,
    /// That endpoint and what bounds the offset: FIS (StartExperiment against the
    /// experiment's creationTime) or, in a restore test, AWS Backup (StartRestoreJob
    /// against the restore job's CreationDate).
    pub clock_endpoint: &'static str,
}

/// What bounds the numbers; `None` for a report written before uncertainties were
/// recorded (its numbers print without a `±`).
pub(crate) fn uncertainty_view(v: &View) -> Option<UncertaintyView> {
    let r = v.report;
    if r.uncertainty.is_none() && v.rto_bound_ms.is_none() && v.rpo_bound_ms.is_none() {
        return None;
    }
    let bound = |b: Option<i64>| b.map(|b| fmt_value(b as f64, "ms"));
    let part = |f: fn(&crate::analysis::Uncertainty) -> f64| {
        r.uncertainty
            .as_ref()
            .map_or_else(|| "not recorded".into(), |u| fmt_value(f(u), "ms"))
    };
    let rpo = bound(v.rpo_bound_ms);
    let rpo_detail = match (&rpo, &r.data_loss) {
        (Some(b), _) => b.clone(),
        (None, None) => "— (writes were not verified)".into(),
        (None, Some(d)) if d.lost_writes == 0 => "— (no write was lost: the RPO is exactly 0)".into(),
        (None, Some(_)) => "—".into(),
    };
    Some(UncertaintyView {
        rto: bound(v.rto_bound_ms),
        rpo,
        rpo_detail,
        probe_interval: part(|u| u.probe_interval_ms),
        t_inject: part(|u| u.t_inject_ms),
        t_inject_source: match r.t_inject_source {
            Some(crate::analysis::InjectSource::FisActionStart) => "FIS's per-action start time",
            Some(crate::analysis::InjectSource::ObservedRunning) => {
                "the polling interval: FIS gave no action start time, so drdrill used the experiment's observed transition to running"
            }
            Some(crate::analysis::InjectSource::RestoreJobCreation) => {
                "AWS Backup's CreationDate of the restore job (a restore test: no disaster), its clock offset bounded by the StartRestoreJob call"
            }
            Some(crate::analysis::InjectSource::RestoreJobCall) => {
                "half the StartRestoreJob call's round trip (a restore test whose job had no CreationDate)"
            }
            None => "FIS's per-action start time, or the polling interval when drdrill fell back to the experiment's observed transition to running",
        },
        clock_offset: part(|u| u.clock_offset_ms),
        clock_endpoint: match r.t_inject_source {
            Some(
                crate::analysis::InjectSource::RestoreJobCreation | crate::analysis::InjectSource::RestoreJobCall,
            ) => "the AWS Backup endpoint (bounded by the StartRestoreJob round trip against the restore job's CreationDate)",
            _ => "the FIS endpoint (bounded by the StartExperiment round trip against the experiment's creationTime)",
        },
    })
}

/// The verdict as a word and an icon.
pub(crate) fn verdict_icon(r: &Report) -> &'static str {
    match r.verdict {
        crate::verdict::Verdict::Pass => "✅",
        crate::verdict::Verdict::Fail => "❌",
        crate::verdict::Verdict::Aborted => "⚠️",
        crate::verdict::Verdict::Error => "💥",
    }
}
