//! `junit.xml` parsed back with an XML parser, in the structure CI systems read:
//! `testsuites > testsuite > testcase > failure | error | skipped`, with counts that
//! match the cases.

mod support;

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use support::fixtures::report;

#[derive(Debug, Default)]
struct Case {
    attrs: HashMap<String, String>,
    /// `failure`, `error` or `skipped`, with its attributes and text.
    outcome: Option<(String, HashMap<String, String>, String)>,
}

#[derive(Debug, Default)]
struct Suite {
    attrs: HashMap<String, String>,
    properties: HashMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Debug, Default)]
struct Junit {
    attrs: HashMap<String, String>,
    suites: Vec<Suite>,
}

fn attrs(e: &BytesStart) -> HashMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.unescape_value().expect("attribute value").into_owned(),
            )
        })
        .collect()
}

/// Parses junit.xml strictly (end names checked); panics on anything CI would reject.
fn parse(xml: &str) -> Junit {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut j = Junit::default();
    let mut roots = 0;
    let mut in_outcome = false;
    loop {
        let ev = reader.read_event().expect("junit.xml is well-formed XML");
        let (e, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::Text(t) if in_outcome => {
                let text = t.decode().unwrap().into_owned();
                let case = j.suites.last_mut().unwrap().cases.last_mut().unwrap();
                case.outcome.as_mut().unwrap().2.push_str(&text);
                (None, false)
            }
            Event::End(e) => {
                if matches!(e.name().as_ref(), b"failure" | b"error" | b"skipped") {
                    in_outcome = false;
                }
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        let Some(e) = e else { continue };
        match e.name().as_ref() {
            b"testsuites" => {
                roots += 1;
                j.attrs = attrs(&e);
            }
            b"testsuite" => j.suites.push(Suite {
                attrs: attrs(&e),
                ..Default::default()
            }),
            b"property" => {
                let a = attrs(&e);
                j.suites
                    .last_mut()
                    .expect("property inside a testsuite")
                    .properties
                    .insert(a["name"].clone(), a["value"].clone());
            }
            b"testcase" => j
                .suites
                .last_mut()
                .expect("testcase inside a testsuite")
                .cases
                .push(Case {
                    attrs: attrs(&e),
                    outcome: None,
                }),
            name @ (b"failure" | b"error" | b"skipped") => {
                let case = j
                    .suites
                    .last_mut()
                    .and_then(|s| s.cases.last_mut())
                    .expect("outcome inside a testcase");
                assert!(case.outcome.is_none(), "one outcome per test case");
                case.outcome = Some((String::from_utf8(name.to_vec()).unwrap(), attrs(&e), String::new()));
                in_outcome = !empty;
            }
            _ => {}
        }
    }
    assert_eq!(roots, 1, "exactly one <testsuites> root");
    j
}

fn count(cases: &[Case], kind: &str) -> usize {
    cases
        .iter()
        .filter(|c| c.outcome.as_ref().is_some_and(|o| o.0 == kind))
        .count()
}

/// Every count attribute (suite and root) equals the number of matching cases.
fn assert_counts_match(j: &Junit) {
    let all: Vec<&Case> = j.suites.iter().flat_map(|s| &s.cases).collect();
    for s in &j.suites {
        assert_eq!(s.attrs["tests"], s.cases.len().to_string());
        for kind in ["failure", "error", "skipped"] {
            let attr = if kind == "failure" {
                "failures"
            } else if kind == "error" {
                "errors"
            } else {
                "skipped"
            };
            assert_eq!(s.attrs[attr], count(&s.cases, kind).to_string(), "suite {attr}");
        }
        assert!(s.attrs["time"].parse::<f64>().is_ok());
        assert_eq!(s.attrs["timestamp"].len(), 19, "xs:dateTime without a zone");
    }
    assert_eq!(j.attrs["tests"], all.len().to_string());
    let failures = all
        .iter()
        .filter(|c| c.outcome.as_ref().is_some_and(|o| o.0 == "failure"))
        .count();
    assert_eq!(j.attrs["failures"], failures.to_string());
    for c in &all {
        assert!(c.attrs.contains_key("name") && c.attrs.contains_key("classname"));
        assert!(c.attrs["time"].parse::<f64>().is_ok());
    }
}

/// A run that lost writes: one test case per objective, found by name; the missed ones
/// are failures whose message says by how much; preflight and verification are cases.
#[test]
fn failed_run_has_a_case_per_objective_with_failures_that_say_by_how_much() {
    let r = report("db-failover-async");
    let j = parse(&drdrill::report::junit::render(&r).unwrap());
    assert_counts_match(&j);
    assert_eq!(j.suites.len(), 1);
    let s = &j.suites[0];
    assert_eq!(s.attrs["name"], "db-failover-async");
    assert_eq!(s.properties["verdict"], "fail");
    assert_eq!(s.properties["lost_writes"], "70");
    for o in &r.objectives {
        let case = s
            .cases
            .iter()
            .find(|c| c.attrs["name"].starts_with(&format!("objective {} ", o.name)))
            .unwrap_or_else(|| panic!("a test case for objective {}", o.name));
        match (&case.outcome, o.pass) {
            (None, true) => {}
            (Some((kind, a, text)), false) => {
                assert_eq!(kind, "failure");
                assert!(a["message"].contains("over by"), "{a:?}");
                assert!(text.contains("measured"), "{text}");
            }
            other => panic!("objective {} has outcome {other:?}", o.name),
        }
    }
    assert_eq!(s.attrs["failures"], "2", "rpo and lost_writes missed");
    for phase in ["preflight", "verify"] {
        let c = s.cases.iter().find(|c| c.attrs["name"] == phase).expect("phase case");
        assert!(c.outcome.is_none(), "{phase} passed");
        assert!(
            c.attrs["time"].parse::<f64>().unwrap() > 0.0,
            "{phase} has its duration"
        );
    }
}

/// A passing run has no failure, error or skipped case.
#[test]
fn passing_run_has_only_passing_cases() {
    let j = parse(&drdrill::report::junit::render(&report("az-power-interruption")).unwrap());
    assert_counts_match(&j);
    assert_eq!(j.attrs["failures"], "0");
    assert_eq!(j.attrs["errors"], "0");
    assert_eq!(j.attrs["skipped"], "0");
    assert_eq!(j.attrs["tests"], "10", "5 phases + 5 objectives");
}

/// A run killed mid-fault: the phase it stopped in is an error with the reason, the
/// phases it never reached are skipped, and the counts still match.
#[test]
fn killed_run_marks_the_phase_it_stopped_in() {
    let j = parse(&drdrill::report::junit::render(&report("killed-mid-fault")).unwrap());
    assert_counts_match(&j);
    let s = &j.suites[0];
    let outcome = |name: &str| {
        s.cases
            .iter()
            .find(|c| c.attrs["name"] == name)
            .and_then(|c| c.outcome.as_ref())
            .map(|o| (o.0.clone(), o.1.get("message").cloned().unwrap_or_default()))
    };
    assert_eq!(outcome("preflight"), None);
    let (kind, message) = outcome("observe").expect("observe did not pass");
    assert_eq!(kind, "error");
    assert!(message.contains("report.json is missing"), "{message}");
    assert_eq!(outcome("recover").map(|o| o.0), Some("skipped".into()));
    assert_eq!(outcome("verify").map(|o| o.0), Some("skipped".into()));
    assert_eq!(s.properties["complete"], "false");
}

/// Text XML cannot carry (an escape sequence in an error) and markup characters still
/// give well-formed XML with the text preserved around them.
#[test]
fn hostile_text_still_gives_valid_xml() {
    let mut r = report("db-failover-async");
    r.scenario.name = "a<b>&\"c\"".into();
    r.objectives[1].message = "bad \u{1b}[31mred\u{1b}[0m </failure> & more".into();
    let j = parse(&drdrill::report::junit::render(&r).unwrap());
    assert_counts_match(&j);
    assert_eq!(j.suites[0].attrs["name"], "a<b>&\"c\"");
    let failure = j.suites[0]
        .cases
        .iter()
        .filter_map(|c| c.outcome.as_ref())
        .find(|o| o.1["message"].contains("</failure>"))
        .expect("the message survives");
    assert!(failure.1["message"].contains("red") && !failure.1["message"].contains('\u{1b}'));
}
