//! Loading valid scenario files: values, path resolution, template resolution, round trip.

mod support;

use std::time::Duration;

use drdrill::scenario::{self, ConnectionPolicy, FaultSource, ResolvedFault, Scheme, Target};
use support::fixtures::scenario_fixtures as fixtures;

/// The full fixture loads with every value as written, durations and rates converted,
/// relative paths joined to the scenario's directory, and the FIS template filled in.
#[test]
fn full_scenario_loads() {
    let dir = fixtures();
    let loaded = scenario::load(&dir.join("az-power-interruption.yaml")).expect("loads");
    let s = &loaded.scenario;
    assert_eq!(s.name, "az-power-interruption");
    assert_eq!(
        s.target,
        Target::Local {
            stack: dir.join("../../../../localstack/stacks/multi-az.yaml")
        }
    );
    assert_eq!(s.app.load_balancer, "drill-alb");
    assert_eq!(s.app.scheme, Scheme::Http);
    let write = s.probe.write.render("w-1");
    assert_eq!(write.method, "PUT");
    assert_eq!(write.path, "/items/w-1");
    assert_eq!(write.body.as_deref(), Some("drdrill write w-1"));
    assert!((s.traffic.rate.per_second() - 50.0).abs() < 1e-9);
    assert_eq!(s.traffic.timeout.get(), Duration::from_secs(1));
    assert_eq!(s.traffic.connection, ConnectionPolicy::Fresh);
    assert_eq!(s.steady_state.p99.map(|d| d.get()), Some(Duration::from_millis(500)));
    assert_eq!(s.objectives.lost_writes, Some(0));
    let guardrails = s.guardrails.as_ref().expect("guardrails");
    assert_eq!(*guardrails.for_duration, Duration::from_secs(30));
    assert_eq!(*s.timings.max_fault_duration, Duration::from_secs(120));
    assert_eq!(*s.timings.verification_grace, Duration::from_secs(90));
    assert_eq!(
        s.fault.source,
        Some(FaultSource::TemplateFile(dir.join("fis/az-power-interruption.json")))
    );

    let Some(ResolvedFault::Template(template)) = &loaded.fault else {
        panic!("expected a template, got {:?}", loaded.fault);
    };
    let filters = &template["targets"]["AppInstances"]["filters"];
    assert_eq!(filters[0]["values"][0], "us-east-1a");
    assert_eq!(
        template["actions"]["StopInstances"]["parameters"]["startInstancesAfterDuration"],
        "PT1M"
    );
    assert!(!template.to_string().contains("{{"), "placeholders left: {template}");
}

/// An inline template under an AWS target loads, with keep-alive and placeholders filled.
#[test]
fn inline_template_loads() {
    let loaded = scenario::load(&fixtures().join("inline-template-aws.yaml")).expect("loads");
    let s = &loaded.scenario;
    let Target::Aws(aws) = &s.target else {
        panic!("expected aws target, got {:?}", s.target);
    };
    assert_eq!(aws.region, "us-east-1");
    assert_eq!(aws.account_ids, ["123456789012"]);
    assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(s.app.scheme, Scheme::Https);
    assert!((s.traffic.rate.per_second() - 50.0).abs() < 1e-9);
    assert_eq!(
        s.traffic.connection,
        ConnectionPolicy::KeepAlive {
            max_age: Duration::from_secs(5)
        }
    );
    assert!(s.guardrails.is_none());
    let Some(ResolvedFault::Template(template)) = &loaded.fault else {
        panic!("expected a template");
    };
    assert_eq!(template["description"], "stop instances in us-east-1b");
    assert_eq!(
        template["targets"]["Instances"]["filters"][0]["values"][0],
        "us-east-1b"
    );
    // The scenario keeps the template as written; only the resolved fault is filled.
    let Some(FaultSource::Template(raw)) = &s.fault.source else {
        panic!("expected inline source");
    };
    assert_eq!(raw["description"], "stop instances in {{az}}");
}

/// A `template_id` fault resolves to that id, and zero durations are accepted where allowed.
#[test]
fn template_id_loads() {
    let loaded = scenario::load(&fixtures().join("template-id.yaml")).expect("loads");
    assert_eq!(loaded.fault, Some(ResolvedFault::TemplateId("EXT123abc".into())));
    assert!(loaded.scenario.timings.baseline.is_zero());
    assert!((loaded.scenario.traffic.rate.per_second() - 0.5).abs() < 1e-9);
}

/// Serializing a loaded scenario to YAML and loading that file again gives the same
/// scenario and the same resolved fault (paths are absolute after the first load).
#[test]
fn full_scenario_round_trips() {
    for name in [
        "az-power-interruption.yaml",
        "inline-template-aws.yaml",
        "template-id.yaml",
    ] {
        let first = scenario::load(&fixtures().join(name)).expect("loads");
        let yaml = serde_saphyr::to_string(&first.scenario).expect("serializes");
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join(name);
        std::fs::write(&copy, &yaml).expect("write");
        let second = scenario::load(&copy).unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"));
        assert_eq!(second.scenario, first.scenario, "{name}:\n{yaml}");
        assert_eq!(second.fault, first.fault, "{name}");
    }
}

/// The JSON Schema is generated and mentions the public keys of nested sections.
#[test]
fn json_schema_covers_nested_keys() {
    let schema = scenario::json_schema().to_string();
    for key in [
        "load_balancer",
        "write_ratio",
        "keep-alive",
        "template_file",
        "abort_when_success_below",
        "verification_grace",
        "account_ids",
    ] {
        assert!(schema.contains(key), "schema lacks {key}");
    }
}

/// The dead man's switch is on with 10 s heartbeats and a 30 s silence when the scenario
/// does not mention it; its keys are checked (whole seconds, a whole number of periods,
/// at least two), naming the key; a `template_id` fault needs it turned off explicitly.
#[test]
fn dead_man_switch_defaults_and_checks() {
    let path = fixtures().join("template-id.yaml");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let loaded = scenario::load(&path).expect("loads with the switch off");
    assert!(!loaded.scenario.dead_man_switch.as_ref().expect("set").enabled);
    let on = text.replace("dead_man_switch: { enabled: false }", "");
    let e = scenario::load_str(&path, &on)
        .expect_err("template_id with the switch on")
        .to_string();
    assert!(e.contains("dead_man_switch") && e.contains("template_id"), "{e}");

    let inline = fixtures().join("inline-template-aws.yaml");
    let base = std::fs::read_to_string(&inline).expect("fixture");
    let loaded = scenario::load_str(&inline, &base).expect("loads");
    let switch = loaded.scenario.dead_man_switch.unwrap_or_default();
    assert!(switch.enabled);
    assert_eq!(
        (
            switch.heartbeat_every.get().as_secs(),
            switch.fires_after.get().as_secs()
        ),
        (10, 30)
    );
    for (keys, key) in [
        ("{ heartbeat_every: 1500ms }", "dead_man_switch.heartbeat_every"),
        (
            "{ heartbeat_every: 10s, fires_after: 25s }",
            "dead_man_switch.fires_after",
        ),
        (
            "{ heartbeat_every: 10s, fires_after: 10s }",
            "dead_man_switch.fires_after",
        ),
    ] {
        let text = format!("{base}\ndead_man_switch: {keys}\n");
        let e = scenario::load_str(&inline, &text).expect_err(keys).to_string();
        assert!(e.contains(key), "{keys}: {e}");
    }
    let text = format!("{base}\ndead_man_switch: {{ heartbeat_every: 1s, fires_after: 3s }}\n");
    let s = scenario::load_str(&inline, &text)
        .expect("valid")
        .scenario
        .dead_man_switch
        .expect("set");
    assert_eq!(
        (s.heartbeat_every.get().as_secs(), s.fires_after.get().as_secs()),
        (1, 3)
    );
}

/// A template whose `aws:ec2:stop-instances` has no `startInstancesAfterDuration` would
/// leave the instances stopped after the experiment (even a stopped one, even one the
/// dead man's switch stopped): refused at load, naming the action, unless the scenario
/// says `fault.accept_unreverted: true`.
#[test]
fn unreverted_stop_instances_is_refused_unless_accepted() {
    let inline = fixtures().join("inline-template-aws.yaml");
    let base = std::fs::read_to_string(&inline).expect("fixture");
    let loaded = scenario::load_str(&inline, &base).expect("loads");
    let Some(ResolvedFault::Template(t)) = &loaded.fault else {
        panic!("an inline template")
    };
    let stop = t["actions"]
        .as_object()
        .and_then(|a| a.iter().find(|(_, a)| a["actionId"] == "aws:ec2:stop-instances"))
        .map(|(n, _)| n.clone())
        .expect("the fixture stops instances");
    assert!(
        base.contains("startInstancesAfterDuration"),
        "the fixture restarts them"
    );
    let without: String = base
        .lines()
        .filter(|l| !l.contains("startInstancesAfterDuration"))
        .collect::<Vec<_>>()
        .join("\n");
    let e = scenario::load_str(&inline, &without).expect_err("refused").to_string();
    assert!(
        e.contains(&format!("action {stop}")) && e.contains("accept_unreverted"),
        "{e}"
    );
    let accepted = without.replacen("fault:\n", "fault:\n  accept_unreverted: true\n", 1);
    assert!(accepted.contains("accept_unreverted"), "the fixture has a fault: block");
    scenario::load_str(&inline, &accepted).expect("accepted explicitly");
}

/// An action longer than `timings.max_fault_duration` (the fixture's
/// `startInstancesAfterDuration: PT30S` under a 20 s cap) is refused at load, naming the
/// action, the parameter and the cap, unless the scenario says
/// `fault.accept_beyond_max_fault_duration: true`; at the cap itself it loads.
#[test]
fn actions_longer_than_the_fault_cap_are_refused_unless_accepted() {
    let inline = fixtures().join("inline-template-aws.yaml");
    let base = std::fs::read_to_string(&inline).expect("fixture");
    assert!(
        base.contains("max_fault_duration: 1m") && base.contains("PT30S"),
        "the fixture"
    );
    let capped = base.replace("max_fault_duration: 1m", "max_fault_duration: 20s");
    let e = scenario::load_str(&inline, &capped).expect_err("refused").to_string();
    for part in [
        "fault.template",
        "startInstancesAfterDuration PT30S is longer than timings.max_fault_duration (20s)",
        "accept_beyond_max_fault_duration",
    ] {
        assert!(e.contains(part), "{part} not in: {e}");
    }
    let accepted = capped.replacen("fault:\n", "fault:\n  accept_beyond_max_fault_duration: true\n", 1);
    assert!(accepted.contains("accept_beyond"), "the fixture has a fault: block");
    scenario::load_str(&inline, &accepted).expect("accepted explicitly");
    let at_cap = base.replace("max_fault_duration: 1m", "max_fault_duration: 30s");
    scenario::load_str(&inline, &at_cap).expect("a duration equal to the cap is within it");
}
