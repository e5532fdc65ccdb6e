//! The `app.route53` section: what loads, and what is refused with the file, line and key.

mod support;

use std::fs;

use drdrill::scenario::{self, ResolverSpec, ScenarioError};
use support::fixtures::scenario_fixtures as fixtures;

/// `fixture` with its `app:` section (load_balancer + scheme lines) replaced by `app`,
/// loaded from a scratch copy of the fixtures folder (so relative paths still resolve).
fn load_with_app(fixture: &str, app: &str) -> Result<scenario::LoadedScenario, ScenarioError> {
    let text = fs::read_to_string(fixtures().join(fixture)).expect("fixture");
    let start = text.find("app:\n").expect("app section");
    let end = start + text[start..].find("probe:").expect("probe section");
    let text = format!("{}{app}{}", &text[..start], &text[end..]);
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("scenarios");
    fs::create_dir_all(copy.join("fis")).expect("mkdir");
    for entry in fs::read_dir(fixtures().join("fis")).expect("fis fixtures") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), copy.join("fis").join(entry.file_name())).expect("copy");
    }
    let file = copy.join("case.yaml");
    fs::write(&file, text).expect("write case");
    scenario::load(&file)
}

fn error(fixture: &str, app: &str) -> String {
    match load_with_app(fixture, app) {
        Ok(loaded) => panic!("loaded but should fail: {:?}", loaded.scenario.app),
        Err(e) => e.to_string(),
    }
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

const LOCAL: &str = "az-power-interruption.yaml";
const AWS: &str = "inline-template-aws.yaml";

/// A full `route53` section loads with its name, resolver and port; the resolver may be
/// `local`, `system` or an address, and is optional.
#[test]
fn route53_section_loads() {
    let app =
        "app:\n  load_balancer: drill-alb\n  route53:\n    name: app.drill.test\n    resolver: local\n    port: 8080\n";
    let loaded = load_with_app(LOCAL, app).expect("loads");
    let r53 = loaded.scenario.app.route53.expect("route53");
    assert_eq!(r53.name, "app.drill.test");
    assert_eq!(r53.resolver, Some(ResolverSpec::Local));
    assert_eq!(r53.port, Some(8080));
    let app = "app:\n  load_balancer: drill-alb\n  route53: { name: App.Drill.Test., resolver: \"10.0.0.2:53\" }\n";
    let loaded = load_with_app(AWS, app).expect("loads");
    let r53 = loaded.scenario.app.route53.expect("route53");
    assert_eq!(
        r53.resolver,
        Some(ResolverSpec::Address("10.0.0.2:53".parse().unwrap()))
    );
    assert_eq!(r53.host(), "app.drill.test");
    assert_eq!(r53.port, None);
    let app = "app:\n  load_balancer: drill-alb\n  route53: { name: app.example.com, resolver: system }\n";
    assert!(load_with_app(AWS, app).is_ok());
    let app = "app:\n  load_balancer: drill-alb\n  route53: { name: app.drill.test }\n";
    assert_eq!(
        load_with_app(LOCAL, app)
            .unwrap()
            .scenario
            .app
            .route53
            .unwrap()
            .resolver,
        None
    );
}

/// A resolver that is none of local, system or IP:PORT names the key, its line and the
/// accepted forms.
#[test]
fn bad_resolver_names_key_and_line() {
    let app = "app:\n  load_balancer: drill-alb\n  route53:\n    name: app.drill.test\n    resolver: 10.0.0.2\n";
    let message = error(LOCAL, app);
    assert_has(&message, &["case.yaml:", "app.route53.resolver", "IP:PORT", "10.0.0.2"]);
    let app = "app:\n  load_balancer: drill-alb\n  route53:\n    name: app.drill.test\n    resolver: \"0.0.0.0:53\"\n";
    assert_has(&error(LOCAL, app), &["app.route53.resolver", "0.0.0.0:53"]);
}

/// `local` against an AWS target is refused: there is no local stack to ask.
#[test]
fn local_resolver_against_aws_is_refused() {
    let app = "app:\n  load_balancer: drill-alb\n  route53:\n    name: app.drill.test\n    resolver: local\n";
    let message = error(AWS, app);
    assert_has(&message, &["case.yaml:", "app.route53.resolver: ", "target is aws"]);
    let line = app.lines().position(|l| l.contains("resolver")).unwrap() + 9;
    assert!(
        message.contains(&format!("case.yaml:{line}:")),
        "{message} (expected line {line})"
    );
}

/// Names that are not DNS names, port 0 and unknown keys are refused, naming the key.
#[test]
fn bad_name_port_and_unknown_keys() {
    for name in [
        "localhost",
        "127.0.0.1",
        "-bad.drill.test",
        "a..test",
        "under_score.test",
    ] {
        let app = format!("app:\n  load_balancer: drill-alb\n  route53: {{ name: \"{name}\" }}\n");
        assert_has(&error(LOCAL, &app), &["app.route53.name: ", name]);
    }
    let app = "app:\n  load_balancer: drill-alb\n  route53: { name: app.drill.test, port: 0 }\n";
    assert_has(&error(LOCAL, app), &["app.route53.port: ", "1 to 65535"]);
    let app = "app:\n  load_balancer: drill-alb\n  route53: { name: app.drill.test, port: 70000 }\n";
    assert_has(&error(LOCAL, app), &["app.route53"]);
    let app = "app:\n  load_balancer: drill-alb\n  route53: { name: app.drill.test, ttl: 5 }\n";
    assert_has(&error(LOCAL, app), &["app.route53", "unknown field \"ttl\""]);
    let app = "app:\n  load_balancer: drill-alb\n  route53: { resolver: local }\n";
    assert_has(&error(LOCAL, app), &["missing field \"name\""]);
}

/// The JSON Schema describes the section: name required, port bounded.
#[test]
fn schema_has_route53() {
    let value = scenario::json_schema();
    let r53 = &value["$defs"]["Route53App"];
    assert_eq!(r53["required"], serde_json::json!(["name"]));
    assert_eq!(r53["properties"]["port"]["maximum"], 65535);
}
