//! Unit tests of FIS target resolution: paths, filters, identification, parameters and
//! selection modes.

use super::*;
use serde_json::json;

fn resource(attributes: Value, tags: &[(&str, &str)]) -> Described {
    Described {
        arn: "arn:aws:ec2:us-east-1:123456789012:instance/i-1".into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        attributes,
        shown: PlannedResource {
            id: "i-1".into(),
            zone: None,
            subnet: None,
            detail: None,
        },
    }
}

fn spec(filters: &[(&str, &[&str])]) -> TargetSpec {
    TargetSpec {
        resource_type: "aws:ec2:instance".into(),
        filters: filters
            .iter()
            .map(|(p, vs)| (p.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect(),
        ..TargetSpec::default()
    }
}

/// Paths walk Pascal-case members and expand lists; values come back as text.
#[test]
fn paths_expand_lists() {
    let v = json!({"NetworkInterfaces": [
        {"Groups": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}]},
        {"Groups": [{"GroupId": "sg-3"}]},
    ], "State": {"Code": 16}, "Tags": []});
    assert_eq!(
        values_at(&v, "NetworkInterfaces.Groups.GroupId"),
        Some(vec!["sg-1".into(), "sg-2".into(), "sg-3".into()])
    );
    assert_eq!(values_at(&v, "State.Code"), Some(vec!["16".into()]));
    assert_eq!(
        values_at(&v, "Tags.Key"),
        Some(vec![]),
        "an empty list: known path, no value"
    );
    assert_eq!(values_at(&v, "State.Nmae"), None);
    assert_eq!(values_at(&v, "placement"), None, "paths are case-sensitive Pascal case");
}

/// Filters AND together; the values of one filter OR; any value found at a path may
/// match ("Resource filters" in the FIS user guide).
#[test]
fn filters_and_values_or() {
    let r = resource(
        json!({"State": {"Name": "running"}, "Placement": {"AvailabilityZone": "us-east-1a"},
               "SecurityGroups": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}]}),
        &[],
    );
    let m = |f: &[(&str, &[&str])]| matches("T", &spec(f), &r).unwrap();
    assert!(m(&[("State.Name", &["stopped", "running"])]));
    assert!(!m(&[
        ("State.Name", &["running"]),
        ("Placement.AvailabilityZone", &["us-east-1b"])
    ]));
    assert!(m(&[("SecurityGroups.GroupId", &["sg-2"])]));
    assert!(!m(&[("SecurityGroups.GroupId", &["sg-9"])]));
    let err = matches("T", &spec(&[("VpcID", &["vpc-1"])]), &r)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"VpcID\"") && err.contains("target T"), "{err}");
}

/// Identification: ARNs, else every tag present with its value.
#[test]
fn identified_by_arn_or_all_tags() {
    let r = resource(json!({}), &[("app", "web"), ("tier", "front")]);
    let mut s = spec(&[]);
    s.tags = [("app".to_string(), "web".to_string())].into();
    assert!(matches("T", &s, &r).unwrap());
    s.tags.insert("tier".into(), "back".into());
    assert!(!matches("T", &s, &r).unwrap());
    s.tags.clear();
    s.arns = vec!["arn:aws:ec2:us-east-1:123456789012:instance/i-2".into()];
    assert!(!matches("T", &s, &r).unwrap());
    s.arns.push(r.arn.clone());
    assert!(matches("T", &s, &r).unwrap());
}

/// Subnet parameters take an AZ name or id; cluster writers are matched by zone.
#[test]
fn parameters_narrow() {
    let subnet = resource(
        json!({"AvailabilityZone": "us-east-1a", "AvailabilityZoneId": "use1-az1", "VpcId": "vpc-1"}),
        &[],
    );
    let mut s = TargetSpec {
        resource_type: "aws:ec2:subnet".into(),
        ..TargetSpec::default()
    };
    s.parameters
        .insert("availabilityZoneIdentifier".into(), "use1-az1".into());
    assert!(matches("S", &s, &subnet).unwrap());
    s.parameters.insert("vpc".into(), "vpc-2".into());
    assert!(!matches("S", &s, &subnet).unwrap());
    let cluster = resource(json!({"drdrill:WriterZone": "us-east-1b"}), &[]);
    let mut c = TargetSpec {
        resource_type: "aws:rds:cluster".into(),
        ..TargetSpec::default()
    };
    c.parameters.insert(
        "writerAvailabilityZoneIdentifiers".into(),
        "us-east-1a, us-east-1b".into(),
    );
    assert!(matches("C", &c, &cluster).unwrap());
    c.parameters
        .insert("writerAvailabilityZoneIdentifiers".into(), "us-east-1a".into());
    assert!(!matches("C", &c, &cluster).unwrap());
}

/// COUNT is capped by what matched; PERCENT rounds down as FIS does.
#[test]
fn selection_modes() {
    assert_eq!(selected(5, None), 5);
    assert_eq!(selected(5, Some("COUNT(2)")), 2);
    assert_eq!(selected(1, Some("COUNT(3)")), 1);
    assert_eq!(selected(5, Some("PERCENT(50)")), 2);
    assert_eq!(selected(4, Some("PERCENT(25)")), 1);
    assert_eq!(selected(3, Some("PERCENT(10)")), 0);
    assert_eq!(selected(0, Some("PERCENT(100)")), 0);
}
