//! `junit.xml` in the structure CI systems read (Jenkins/Surefire JUnit schema, as
//! GitHub, GitLab and Buildkite parse it): `<testsuites>` with one `<testsuite>` per
//! scenario, holding one `<testcase>` per phase of the run (preflight … verify) and one
//! per objective. A missed objective is a `<failure>` whose message says by how much; a
//! phase the run stopped in is an `<error>` (or a `<failure>` for a guardrail or signal
//! abort); phases never reached and objectives an incomplete run could not measure are
//! `<skipped>`. Every count attribute matches the cases below it. An objective's case
//! carries its result sentence in `<system-out>`; RTO and RPO are written with their
//! uncertainty there, in the failure's message and in the suite's properties
//! (`rto_uncertainty_ms`, `rpo_uncertainty_ms` and what they are made of). Observers'
//! blind intervals are in the suite's `<system-out>`, counted in the property
//! `observer_blind_intervals`; the figures measured while blind are named in
//! `measured_while_blind` and in the RTO case's `<system-out>` ("not clean").

use std::borrow::Cow;
use std::io::Cursor;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::error::RenderError;
use super::view::{
    objective_bound_ms, objective_message, objective_title, rpo_bound_ms, rto_bound_ms, with_uncertainty, Sign, View,
};
use super::Report;
use crate::verdict::Verdict;

/// File name of the JUnit report in a run folder.
pub const JUNIT_FILE: &str = "junit.xml";

/// The phases reported as test cases, in order.
const PHASES: [&str; 5] = ["preflight", "inject", "observe", "recover", "verify"];

/// How a test case ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Passed,
    Failure {
        message: String,
        kind: &'static str,
        text: String,
    },
    Error {
        message: String,
        kind: &'static str,
    },
    Skipped {
        message: String,
    },
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    classname: String,
    time_s: f64,
    outcome: Outcome,
    /// The case's `<system-out>`: an objective's result sentence, passed or not.
    out: Option<String>,
}

/// Characters XML 1.0 cannot carry (control characters other than tab and line breaks)
/// are replaced, so an error message with an escape sequence still yields valid XML.
fn xml_safe(s: &str) -> Cow<'_, str> {
    let ok = |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
    if s.chars().all(ok) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().map(|c| if ok(c) { c } else { '\u{FFFD}' }).collect())
    }
}

fn phase_cases(r: &Report, v: &View, class: &str) -> Vec<Case> {
    let reason = r.reason.clone().unwrap_or_else(|| "the run did not finish".into());
    PHASES
        .iter()
        .map(|phase| {
            let span = v.phases.iter().find(|p| p.phase == *phase);
            let stopped_here = !r.complete && v.stopped_in.as_deref() == Some(*phase);
            let outcome = match span {
                _ if stopped_here => match r.verdict {
                    Verdict::Aborted => Outcome::Failure {
                        message: reason.clone(),
                        kind: "aborted",
                        text: format!("the run was aborted in {phase}: {reason}"),
                    },
                    _ => Outcome::Error {
                        message: reason.clone(),
                        kind: "run_error",
                    },
                },
                Some(_) => Outcome::Passed,
                None => Outcome::Skipped {
                    message: format!("not reached: {reason}"),
                },
            };
            let time_s = span.map_or(0.0, |p| (p.span.to_ms - p.span.from_ms) as f64 / 1000.0);
            Case {
                name: phase.to_string(),
                classname: format!("{class}.phases"),
                time_s,
                outcome,
                out: None,
            }
        })
        .collect()
}

fn objective_cases(r: &Report, class: &str) -> Vec<Case> {
    r.objectives
        .iter()
        .map(|o| {
            let bound = objective_bound_ms(r, o);
            let outcome = if o.pass {
                Outcome::Passed
            } else if o.measured.is_none() && !r.complete {
                Outcome::Skipped {
                    message: format!("{} (the run did not complete)", o.message),
                }
            } else {
                Outcome::Failure {
                    message: objective_message(o, bound),
                    kind: "objective_missed",
                    text: format!(
                        "objective {}: target {} {} {}, measured {}",
                        o.name,
                        if o.unit == "ratio" { "≥" } else { "≤" },
                        o.target,
                        o.unit,
                        o.measured.map_or("nothing".into(), |m| match bound {
                            Some(b) => format!(
                                "{m} {} ({})",
                                o.unit,
                                with_uncertainty(m.round() as i64, Some(b), Sign::Unsigned)
                            ),
                            None => format!("{m} {}", o.unit),
                        }),
                    ),
                }
            };
            let mut out = objective_message(o, bound);
            let blind = blind_figures(r);
            if o.name == "rto" && !blind.is_empty() {
                out.push_str(&format!(
                    " — not clean: measured while an observer was blind ({})",
                    blind.join(", ")
                ));
            }
            Case {
                name: format!("objective {} ({})", o.name, objective_title(&o.name)),
                classname: format!("{class}.objectives"),
                time_s: 0.0,
                outcome,
                out: Some(out),
            }
        })
        .collect()
}

/// The report's figures measured while an observer was blind (report.json keys), once each.
fn blind_figures(r: &Report) -> Vec<String> {
    let mut keys: Vec<String> = r
        .observer_blind
        .iter()
        .flat_map(|b| b.measured_while_blind.iter().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Renders `junit.xml` for one run.
pub fn render(report: &Report) -> Result<String, RenderError> {
    render_suites(std::slice::from_ref(report))
}

/// Renders `junit.xml` with one test suite per report (for a plan of several scenarios).
pub fn render_suites(reports: &[Report]) -> Result<String, RenderError> {
    let io = |source: std::io::Error| RenderError::Xml { source };
    let suites: Vec<(&Report, Vec<Case>)> = reports
        .iter()
        .map(|r| {
            let v = View::new(r);
            let class = format!("drdrill.{}", r.scenario.name);
            let mut cases = phase_cases(r, &v, &class);
            cases.extend(objective_cases(r, &class));
            (r, cases)
        })
        .collect();
    let count = |cases: &[Case], f: fn(&Outcome) -> bool| cases.iter().filter(|c| f(&c.outcome)).count();
    let all: Vec<Case> = suites.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
    let total_time: f64 = reports
        .iter()
        .map(|r| (r.finished_unix_ms - r.t0_unix_ms) as f64 / 1000.0)
        .sum();
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    w.create_element("testsuites")
        .with_attributes([
            ("name", "drdrill"),
            ("tests", &all.len().to_string()),
            (
                "failures",
                &count(&all, |o| matches!(o, Outcome::Failure { .. })).to_string(),
            ),
            (
                "errors",
                &count(&all, |o| matches!(o, Outcome::Error { .. })).to_string(),
            ),
            (
                "skipped",
                &count(&all, |o| matches!(o, Outcome::Skipped { .. })).to_string(),
            ),
            ("time", &format!("{total_time:.3}")),
        ])
        .write_inner_content(|w| {
            for (i, (r, cases)) in suites.iter().enumerate() {
                write_suite(w, i, r, cases)?;
            }
            Ok(())
        })
        .map_err(io)?;
    let bytes = w.into_inner().into_inner();
    let mut text = String::from_utf8(bytes).map_err(|e| RenderError::Xml {
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    Ok(text)
}

/// The suite's RTO and RPO, each with its uncertainty (empty when not measured).
fn rto_rpo(r: &Report) -> (String, String) {
    let rto = r
        .rto_ms
        .map_or(String::new(), |v| with_uncertainty(v, rto_bound_ms(r), Sign::Unsigned));
    let rpo = r.data_loss.as_ref().map_or(String::new(), |d| {
        with_uncertainty(d.rpo_ms, rpo_bound_ms(r), Sign::Unsigned)
    });
    (rto, rpo)
}

/// The suite's `<properties>`: the run's identity, outcome and measured figures.
fn properties(r: &Report) -> [(&'static str, String); 19] {
    let (rto_bound, rpo_bound) = (rto_bound_ms(r), rpo_bound_ms(r));
    let (rto, rpo) = rto_rpo(r);
    let opt = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    let part = |f: fn(&crate::analysis::Uncertainty) -> f64| r.uncertainty.map_or(String::new(), |u| f(&u).to_string());
    [
        ("run_id", r.run_id.clone()),
        ("scenario_path", r.scenario.path.display().to_string()),
        ("target", r.target.clone()),
        ("verdict", r.verdict.as_str().to_string()),
        ("exit_code", r.exit_code.to_string()),
        ("complete", r.complete.to_string()),
        ("rto_ms", opt(r.rto_ms)),
        ("rto_uncertainty_ms", opt(rto_bound)),
        ("rto", rto),
        ("outage_ms", opt(r.outage_ms)),
        ("rpo_ms", opt(r.data_loss.as_ref().map(|d| d.rpo_ms))),
        ("rpo_uncertainty_ms", opt(rpo_bound)),
        ("rpo", rpo),
        ("uncertainty_probe_interval_ms", part(|u| u.probe_interval_ms)),
        ("uncertainty_t_inject_ms", part(|u| u.t_inject_ms)),
        ("uncertainty_clock_offset_ms", part(|u| u.clock_offset_ms)),
        (
            "lost_writes",
            r.data_loss
                .as_ref()
                .map_or(String::new(), |d| d.lost_writes.to_string()),
        ),
        ("observer_blind_intervals", r.observer_blind.len().to_string()),
        ("measured_while_blind", blind_figures(r).join(",")),
    ]
}

/// The suite's `<system-out>`: the outcome in one line, then the observers' blind intervals.
fn system_out(r: &Report) -> String {
    let (rto, rpo) = rto_rpo(r);
    let dash = |s: &str| if s.is_empty() { "—".to_string() } else { s.to_string() };
    let mut out = format!(
        "verdict {} (exit {}); RTO {}; RPO {}; report.json in run folder {}",
        r.verdict.as_str(),
        r.exit_code,
        dash(&rto),
        dash(&rpo),
        r.run_id
    );
    for line in super::blind::lines(&r.observer_blind, r.t_inject_unix_ms.unwrap_or(r.t0_unix_ms)) {
        out.push('\n');
        out.push_str(&line);
    }
    for (what, value) in super::view::View::new(r).restore_lines() {
        out.push_str(&format!("\nrestore: {what}: {value}"));
    }
    out
}

fn write_suite(w: &mut Writer<Cursor<Vec<u8>>>, id: usize, r: &Report, cases: &[Case]) -> std::io::Result<()> {
    let count = |f: fn(&Outcome) -> bool| cases.iter().filter(|c| f(&c.outcome)).count().to_string();
    // JUnit's xs:dateTime without a zone (the Jenkins schema's pattern).
    let timestamp = super::view::utc(r.t0_unix_ms);
    let timestamp = timestamp.get(..19).unwrap_or(&timestamp).to_string();
    let properties = properties(r);
    w.create_element("testsuite")
        .with_attributes([
            ("name", xml_safe(&r.scenario.name).as_ref()),
            ("id", &id.to_string()),
            ("package", "drdrill"),
            ("hostname", "drdrill"),
            ("timestamp", &timestamp),
            ("tests", &cases.len().to_string()),
            ("failures", &count(|o| matches!(o, Outcome::Failure { .. }))),
            ("errors", &count(|o| matches!(o, Outcome::Error { .. }))),
            ("skipped", &count(|o| matches!(o, Outcome::Skipped { .. }))),
            (
                "time",
                &format!("{:.3}", (r.finished_unix_ms - r.t0_unix_ms) as f64 / 1000.0),
            ),
        ])
        .write_inner_content(|w| {
            w.create_element("properties").write_inner_content(|w| {
                for (name, value) in &properties {
                    w.create_element("property")
                        .with_attributes([("name", *name), ("value", xml_safe(value).as_ref())])
                        .write_empty()?;
                }
                Ok(())
            })?;
            for case in cases {
                write_case(w, case)?;
            }
            w.create_element("system-out")
                .write_text_content(BytesText::new(&xml_safe(&system_out(r))))?;
            Ok(())
        })?;
    Ok(())
}

fn write_case(w: &mut Writer<Cursor<Vec<u8>>>, case: &Case) -> std::io::Result<()> {
    let el = w.create_element("testcase").with_attributes([
        ("name", xml_safe(&case.name).as_ref()),
        ("classname", xml_safe(&case.classname).as_ref()),
        ("time", &format!("{:.3}", case.time_s)),
    ]);
    if case.outcome == Outcome::Passed && case.out.is_none() {
        el.write_empty()?;
        return Ok(());
    }
    el.write_inner_content(|w| {
        match &case.outcome {
            Outcome::Passed => {}
            Outcome::Failure { message, kind, text } => {
                w.create_element("failure")
                    .with_attributes([("message", xml_safe(message).as_ref()), ("type", kind)])
                    .write_text_content(BytesText::new(&xml_safe(text)))?;
            }
            Outcome::Error { message, kind } => {
                w.create_element("error")
                    .with_attributes([("message", xml_safe(message).as_ref()), ("type", kind)])
                    .write_empty()?;
            }
            Outcome::Skipped { message } => {
                w.create_element("skipped")
                    .with_attribute(("message", xml_safe(message).as_ref()))
                    .write_empty()?;
            }
        }
        if let Some(out) = &case.out {
            w.create_element("system-out")
                .write_text_content(BytesText::new(&xml_safe(out)))?;
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::uncertain_report;

    /// The RTO and RPO objectives' messages, failure texts and the suite's properties
    /// carry the uncertainty and what it is made of.
    #[test]
    fn junit_carries_the_uncertainty() {
        let xml = render(&uncertain_report()).unwrap();
        assert!(
            xml.contains(r#"message="RPO 1.00 s ± 0.11 s &gt; 0 ms (over by 999 ms)""#),
            "{xml}"
        );
        assert!(xml.contains("measured 999 ms (1.00 s ± 0.11 s)"), "{xml}");
        assert!(
            xml.contains("<system-out>RTO 1.99 s ± 0.12 s ≤ 10.00 s (8.01 s to spare)</system-out>"),
            "{xml}"
        );
        for (name, value) in [
            ("rto_ms", "1990"),
            ("rto_uncertainty_ms", "115"),
            ("rto", "1.99 s ± 0.12 s"),
            ("rpo_uncertainty_ms", "105"),
            ("rpo", "1.00 s ± 0.11 s"),
            ("uncertainty_probe_interval_ms", "10"),
            ("uncertainty_t_inject_ms", "100"),
            ("uncertainty_clock_offset_ms", "4.2"),
        ] {
            let p = format!(r#"<property name="{name}" value="{value}"/>"#);
            assert!(xml.contains(&p), "{p} in {xml}");
        }
        assert!(
            xml.contains("RTO 1.99 s ± 0.12 s; RPO 1.00 s ± 0.11 s;"),
            "system-out of the suite"
        );
    }
}
