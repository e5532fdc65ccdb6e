//! `report.html`: one self-contained page (inline CSS and SVG; no script, font, image or
//! request of any kind, enforced by a Content-Security-Policy) with the SVG timeline of
//! [`super::chart`], the objectives, the recovery breakdown, data loss, probes by zone
//! and instance, the journal and the scenario and plan used. RTO, RPO and the data-loss
//! window carry their uncertainty, and a details section says what bounds them.

use serde::Serialize;
use serde_json::Value;

use super::error::RenderError;
use super::templates::{self, DataLossView, FailureRow, Headline, MomentRow, ObjectiveRow, RunHeader, UncertaintyView};
use super::view::{secs, utc, utc_short, View};
use super::{chart, ProbeStats, Report};

/// File name of the HTML report in a run folder.
pub const HTML_FILE: &str = "report.html";

#[derive(Serialize)]
struct Row {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct EventRow {
    at: String,
    kind: String,
    detail: String,
}

#[derive(Serialize)]
struct ActionRow {
    name: String,
    action_id: String,
    hits: Vec<String>,
    parameters: String,
}

#[derive(Serialize)]
struct Context {
    /// The evidence digest, as manifest.json records it.
    evidence: Option<String>,
    #[serde(flatten)]
    run: RunHeader,
    verdict: &'static str,
    verdict_upper: String,
    scenario_path: String,
    finished: String,
    duration: String,
    origin: &'static str,
    headline: Headline,
    uncertainty: Option<UncertaintyView>,
    objectives: Vec<ObjectiveRow>,
    moments: Vec<MomentRow>,
    restore: Vec<Row>,
    data_loss: Option<DataLossView>,
    failures: Vec<FailureRow>,
    probes: Vec<Row>,
    zones: Vec<Row>,
    instances: Vec<Row>,
    phases: Vec<Row>,
    experiment: Vec<Row>,
    events: Vec<EventRow>,
    actions: Vec<ActionRow>,
    load_balancer: Option<String>,
    timeline_svg: String,
    version: &'static str,
    schema_version: u32,
}

fn row(name: impl Into<String>, value: impl Into<String>) -> Row {
    Row {
        name: name.into(),
        value: value.into(),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn plan_actions(plan: Option<&Value>) -> Vec<ActionRow> {
    let Some(actions) = plan.and_then(|p| p.get("actions")).and_then(Value::as_array) else {
        return Vec::new();
    };
    actions
        .iter()
        .map(|a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            ActionRow {
                name: s("name"),
                action_id: s("action_id"),
                hits: a
                    .get("hits")
                    .and_then(Value::as_array)
                    .map(|h| {
                        h.iter()
                            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                parameters: a.get("parameters").map(compact).unwrap_or_default(),
            }
        })
        .collect()
}

/// Renders `report.html`.
pub fn render(report: &Report) -> Result<String, RenderError> {
    render_with_evidence(report, None)
}

/// Renders `report.html` showing `evidence`, the digest of the run folder's evidence
/// ([`super::manifest::evidence_digest`]) it was rendered from.
pub fn render_with_evidence(report: &Report, evidence: Option<String>) -> Result<String, RenderError> {
    let v = View::new(report);
    let p = &report.probes;
    let timeline_svg = chart::timeline_svg(&v)?;
    let ctx = Context {
        evidence,
        run: templates::run_header(&v),
        verdict: report.verdict.as_str(),
        verdict_upper: report.verdict.as_str().to_uppercase(),
        scenario_path: report.scenario.path.display().to_string(),
        finished: utc_short(report.finished_unix_ms),
        duration: secs(report.finished_unix_ms - report.t0_unix_ms),
        origin: v.origin_label,
        headline: templates::headline(&v),
        uncertainty: templates::uncertainty_view(&v),
        objectives: templates::objective_rows(report),
        moments: templates::moment_rows(&v),
        restore: v.restore_lines().into_iter().map(|(k, val)| row(k, val)).collect(),
        data_loss: templates::data_loss_view(&v, 200),
        failures: templates::failure_rows(&v, usize::MAX),
        probes: probe_rows(p),
        zones: v
            .totals_by_zone()
            .into_iter()
            .map(|(z, n)| row(z, n.to_string()))
            .collect(),
        instances: p
            .by_served_by
            .iter()
            .map(|(k, n)| row(k.clone(), n.to_string()))
            .collect(),
        phases: phase_rows(&v),
        experiment: experiment_rows(report),
        events: event_rows(report, &v),
        actions: plan_actions(report.plan.as_ref()),
        load_balancer: load_balancer(report.plan.as_ref()),
        timeline_svg,
        version: env!("CARGO_PKG_VERSION"),
        schema_version: report.schema_version,
    };
    templates::render(HTML_FILE, HTML_FILE, &ctx)
}

/// The probes' counts and latencies, one row each.
fn probe_rows(p: &ProbeStats) -> Vec<Row> {
    vec![
        row("sent", p.sent.to_string()),
        row("succeeded", p.ok.to_string()),
        row("failed", p.failed.to_string()),
        row(
            "reads of lost writes (404, counted as served)",
            p.missing_reads.to_string(),
        ),
        row(
            "latency p50 / p99 / max",
            format!("{:.1} / {:.1} / {:.1} ms", p.p50_ms, p.p99_ms, p.max_ms),
        ),
        row(
            "schedule lag p99 / max",
            format!("{:.2} / {:.2} ms", p.schedule_lag_p99_ms, p.schedule_lag_max_ms),
        ),
        row(
            format!("sent more than {:.0} ms late", p.late_threshold_ms),
            p.late_sends.to_string(),
        ),
        row("dropped (too many in flight)", p.dropped_sends.to_string()),
        row("latencies above the histogram bound", p.saturated.to_string()),
    ]
}

/// The phases, each with its start (from the origin) and how long it took.
fn phase_rows(v: &View) -> Vec<Row> {
    v.phases
        .iter()
        .map(|ph| {
            row(
                ph.phase.clone(),
                format!(
                    "{} for {}",
                    v.at(ph.span.from_ms),
                    secs(ph.span.to_ms - ph.span.from_ms)
                ),
            )
        })
        .collect()
}

/// The FIS experiment, one row per field (none without an experiment).
fn experiment_rows(report: &Report) -> Vec<Row> {
    report
        .experiment
        .as_ref()
        .map(|e| {
            vec![
                row("experiment", e.id.clone()),
                row("template", e.template_id.clone()),
                row("last status", e.status.clone()),
                row("running from", e.start_unix_ms.map_or("—".into(), utc)),
                row("ended", e.end_unix_ms.map_or("—".into(), utc)),
            ]
        })
        .unwrap_or_default()
}

/// The journal's events, each at its time from the origin.
fn event_rows(report: &Report, v: &View) -> Vec<EventRow> {
    report
        .events
        .iter()
        .map(|e| EventRow {
            at: v.at(e.t_ms),
            kind: e.name().to_string(),
            detail: compact(&e.detail()),
        })
        .collect()
}

/// The plan's load balancer, `name (dns name)`.
fn load_balancer(plan: Option<&Value>) -> Option<String> {
    plan.and_then(|p| p.get("load_balancer")).map(|lb| {
        let s = |k: &str| lb.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
        format!("{} ({})", s("name"), s("dns_name"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::uncertain_report;

    /// The page's tiles and tables carry the ±, and its details list what bounds them.
    #[test]
    fn page_prints_every_figure_with_its_uncertainty() {
        let html = render(&uncertain_report()).unwrap();
        assert!(html.contains(r#"<div class="value">1.99 s ± 0.12 s</div>"#));
        assert!(html.contains(r#"<div class="value">1.00 s ± 0.11 s</div>"#));
        assert!(
            html.contains(r#"<td class="num">1.99 s ± 0.12 s</td>"#),
            "objective table"
        );
        assert!(
            html.contains(r#"<td class="num">+1.99 s ± 0.12 s</td>"#),
            "recovery table"
        );
        assert!(html.contains("−1.00 s ± 0.11 s → −0.02 s ± 0.11 s"), "data-loss window");
        let at = html.find(r#"<details id="uncertainty">"#).expect("details");
        let details = &html[at..at + html[at..].find("</details>").unwrap()];
        for part in [
            ">10 ms<",
            ">100 ms<",
            ">4.2 ms<",
            ">115 ms<",
            ">105 ms<",
            "probe interval",
            "clock offset",
        ] {
            assert!(details.contains(part), "{part} in {details}");
        }
    }
}
