//! Hostile FIS templates, generated with proptest, given to the local stack's engine as
//! CreateExperimentTemplate would: arbitrary JSON never makes it panic; what it refuses
//! is a ValidationException with a message; and it keeps answering afterwards.

use drdrill_localstack::fis::template::TemplateInput;
use drdrill_localstack::fis::FisError;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON, biased towards the template's own keys and values.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9:(){}*_ ./-]{0,16}".prop_map(Value::String),
        prop_oneof![
            Just("ALL"),
            Just("COUNT(0)"),
            Just("COUNT(99999999999999999999)"),
            Just("PERCENT(101)"),
            Just("aws:ec2:instance"),
            Just("aws:ec2:subnet"),
            Just("aws:ec2:stop-instances"),
            Just("aws:fis:wait"),
            Just("aws:cloudwatch:alarm"),
            Just("arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-PT99999999999Y"),
            Just("PT1S"),
            Just("P1Y2M3DT4H5M6.7S"),
            Just("A"),
            Just("B"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    let key = prop_oneof![
        Just("actions".to_string()),
        Just("targets".to_string()),
        Just("actionId".to_string()),
        Just("startAfter".to_string()),
        Just("resourceType".to_string()),
        Just("resourceTags".to_string()),
        Just("resourceArns".to_string()),
        Just("selectionMode".to_string()),
        Just("parameters".to_string()),
        Just("stopConditions".to_string()),
        Just("source".to_string()),
        Just("value".to_string()),
        Just("duration".to_string()),
        Just("A".to_string()),
        Just("B".to_string()),
        "[A-Za-z]{1,6}",
    ];
    leaf.prop_recursive(5, 96, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn one_of(options: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(options).prop_map(str::to_string)
}

/// Templates with the right types and hostile values (unknown actions, bad durations
/// and selection modes, cycles, missing targets, odd stop conditions), so that most
/// cases reach the engine's validation.
fn template_like() -> impl Strategy<Value = Value> {
    let name = one_of(&["A", "B", "C"]);
    let action = (
        one_of(&[
            "aws:ec2:stop-instances",
            "aws:ec2:terminate-instances",
            "aws:network:disrupt-connectivity",
            "aws:rds:failover-db-cluster",
            "aws:fis:wait",
            "aws:s3:bucket-pause",
            "",
        ]),
        prop::collection::btree_map(
            one_of(&["duration", "startInstancesAfterDuration", "scope", "forceFailover", "bogus"]),
            one_of(&["PT1S", "PT0S", "P1Y", "PT-1S", "1s", "all", "availability-zone", "true", "PT99999999999999H"]),
            0..3,
        ),
        prop::collection::btree_map(
            one_of(&["Instances", "Subnets", "Clusters", "Nope"]),
            one_of(&["T", "U", "Missing"]),
            0..2,
        ),
        prop::collection::vec(name.clone(), 0..3),
    )
        .prop_map(|(id, params, targets, after)| {
            json!({"actionId": id, "parameters": params, "targets": targets, "startAfter": after})
        });
    let target = (
        one_of(&[
            "aws:ec2:instance",
            "aws:ec2:subnet",
            "aws:rds:cluster",
            "aws:lambda:function",
        ]),
        prop::option::of(prop::collection::vec(
            one_of(&["arn:aws:ec2:us-east-1:0:instance/i-app1a1", "x"]),
            0..3,
        )),
        prop::option::of(prop::collection::btree_map(
            one_of(&["Tier", "Name"]),
            one_of(&["app", "db", ""]),
            0..2,
        )),
        one_of(&[
            "ALL",
            "COUNT(1)",
            "COUNT(0)",
            "PERCENT(50)",
            "PERCENT(101)",
            "SOME",
            "COUNT(-1)",
        ]),
    )
        .prop_map(|(rtype, arns, tags, mode)| {
            let mut t = json!({"resourceType": rtype, "selectionMode": mode});
            if let Some(a) = arns {
                t["resourceArns"] = json!(a);
            }
            if let Some(g) = tags {
                t["resourceTags"] = json!(g);
            }
            t
        });
    let stop = (
        one_of(&["none", "aws:cloudwatch:alarm", "aws:sns:topic"]),
        prop::option::of(one_of(&[
            "arn:aws:cloudwatch:us-east-1:0:alarm:Other",
            "arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-PT1S",
            "arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-soon",
            "arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-P99999999999999999999Y",
            "not an arn",
        ])),
    )
        .prop_map(|(source, value)| json!({"source": source, "value": value}));
    (
        prop::collection::btree_map(name, action, 0..4),
        prop::collection::btree_map(one_of(&["T", "U"]), target, 0..3),
        prop::collection::vec(stop, 0..3),
    )
        .prop_map(|(actions, targets, stops)| json!({"actions": actions, "targets": targets, "stopConditions": stops}))
}

/// Arbitrary JSON, and template-shaped JSON with arbitrary parts (300 cases each),
/// either fails to deserialize (the API answers ValidationException for that) or is
/// created, or refused with a ValidationException carrying a message — never a panic;
/// and the engine keeps answering.
#[test]
fn arbitrary_templates_never_panic() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/multi-az.yaml");
    let ls = rt
        .block_on(drdrill_localstack::LocalStack::start(
            drdrill_localstack::Stack::load(&path).unwrap(),
            drdrill_localstack::Options {
                endpoint: "127.0.0.1:0".parse().unwrap(),
            },
        ))
        .unwrap();
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let (created, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner
        .run(&(json_value(), template_like()), |(raw, shaped)| {
            for v in [raw, shaped] {
                if let Ok(input) = serde_json::from_value::<TemplateInput>(v) {
                    match ls.fis.create_template(input) {
                        Ok(out) => {
                            created.set(created.get() + 1);
                            let id = out.id;
                            prop_assert!(ls.fis.get_template(&id).is_ok());
                        }
                        Err(FisError::Validation(m)) => {
                            refused.set(refused.get() + 1);
                            prop_assert!(!m.is_empty());
                        }
                        Err(other) => prop_assert!(false, "unexpected error {:?}", other),
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(refused.get() > 0, "no case reached validation");
    eprintln!("templates created {}, refused {}", created.get(), refused.get());
    assert!(ls.fis.list_templates()["experimentTemplates"].is_array());
    rt.block_on(ls.shutdown());
}

/// Durations and alarm names at the edges (huge, negative, fractional, empty) are parsed
/// or refused with a message, never a panic or an overflow.
#[test]
fn edge_durations_are_refused_or_parsed() {
    use drdrill_localstack::fis::catalog::parse_duration;
    use drdrill_localstack::fis::template::local_alarm;
    for d in [
        "PT99999999999999999999H",
        "P99999999999999999999Y",
        "PT1.5S",
        "PT-1S",
        "P",
        "PT",
        "",
        "PT0S",
        "P1Y2M3W4DT5H6M7S",
        "PT1,5S",
        "P1.5.5D",
    ] {
        let _ = parse_duration(d);
        let arn = format!("arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-{d}");
        if let Some(Err(e)) = local_alarm(&arn) {
            assert!(e.contains("serving-false-for"), "{e}");
        }
    }
    assert!(local_alarm("arn:aws:cloudwatch:us-east-1:0:alarm:HighErrors").is_none());
    assert_eq!(
        local_alarm("arn:aws:cloudwatch:us-east-1:0:alarm:drdrill:serving-false-for-PT2S"),
        Some(Ok(std::time::Duration::from_secs(2)))
    );
}
