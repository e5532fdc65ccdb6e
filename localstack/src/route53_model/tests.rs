use std::time::Duration;

use super::*;

struct Ctx;
impl ChangeContext for Ctx {
    fn health_check_exists(&self, id: &str) -> bool {
        id == "hc-1"
    }
    fn alias_target_exists(&self, dns_name: &str) -> bool {
        dns_name == "lb.example."
    }
}

fn zone() -> Zone {
    Zone::new("Z1".into(), "example.com.".into(), "ref".into(), None)
}

fn a(name: &str, values: &[&str]) -> RecordSet {
    RecordSet {
        name: name.into(),
        rtype: RecordType::A,
        set_identifier: None,
        routing: Routing::Simple,
        ttl: Some(30),
        values: values.iter().map(|v| v.to_string()).collect(),
        alias: None,
        health_check_id: None,
    }
}

fn change(action: Action, set: RecordSet) -> Change {
    Change { action, set }
}

fn invalid(r: Result<(), ChangeError>) -> String {
    match r {
        Err(ChangeError::Invalid(m)) => m,
        other => panic!("expected InvalidChangeBatch, got {other:?}"),
    }
}

/// Names are lower-cased and made absolute; bad labels are refused.
#[test]
fn names_normalize() {
    assert_eq!(normalize_name("WWW.Example.com").unwrap(), "www.example.com.");
    assert_eq!(normalize_name("example.com.").unwrap(), "example.com.");
    assert!(normalize_name("a..b").is_err());
    assert!(normalize_name("").is_err());
    assert!(normalize_name("bad name.com").is_err());
    assert!(normalize_name(&"a".repeat(64)).is_err());
    assert!(in_zone("www.example.com.", "example.com."));
    assert!(in_zone("example.com.", "example.com."));
    assert!(!in_zone("badexample.com.", "example.com."));
}

/// CREATE of an existing set, DELETE of a missing or different one are refused; a batch
/// is all or nothing.
#[test]
fn create_delete_upsert_rules() {
    let mut z = zone();
    z.apply(&[change(Action::Create, a("www.example.com.", &["10.0.0.1"]))], &Ctx)
        .unwrap();
    let m = invalid(z.apply(&[change(Action::Create, a("www.example.com.", &["10.0.0.2"]))], &Ctx));
    assert!(m.contains("already exists"), "{m}");
    let m = invalid(z.apply(&[change(Action::Delete, a("www.example.com.", &["10.0.0.2"]))], &Ctx));
    assert!(m.contains("do not match"), "{m}");
    let m = invalid(z.apply(&[change(Action::Delete, a("x.example.com.", &["10.0.0.2"]))], &Ctx));
    assert!(m.contains("not found"), "{m}");
    // The second change fails, so the first is not applied either.
    let m = invalid(z.apply(
        &[
            change(Action::Upsert, a("www.example.com.", &["10.0.0.9"])),
            change(Action::Create, a("other.test.", &["10.0.0.1"])),
        ],
        &Ctx,
    ));
    assert!(m.contains("not permitted in zone"), "{m}");
    assert_eq!(
        z.records.iter().find(|r| r.name == "www.example.com.").unwrap().values,
        ["10.0.0.1"]
    );
    z.apply(&[change(Action::Upsert, a("www.example.com.", &["10.0.0.9"]))], &Ctx)
        .unwrap();
    z.apply(&[change(Action::Delete, a("www.example.com.", &["10.0.0.9"]))], &Ctx)
        .unwrap();
    assert!(z.is_empty());
}

/// Values are checked for their type, CNAMEs conflict with other types, routing fields
/// must be consistent.
#[test]
fn shape_and_conflicts() {
    let mut z = zone();
    let m = invalid(z.apply(&[change(Action::Create, a("www.example.com.", &["1.2.3"]))], &Ctx));
    assert!(m.contains("ARRDATAIllegalIPv4Address"), "{m}");
    let mut no_ttl = a("www.example.com.", &["1.2.3.4"]);
    no_ttl.ttl = None;
    assert!(invalid(z.apply(&[change(Action::Create, no_ttl)], &Ctx)).contains("TTL"));
    z.apply(&[change(Action::Create, a("www.example.com.", &["1.2.3.4"]))], &Ctx)
        .unwrap();
    let cname = RecordSet {
        rtype: RecordType::Cname,
        values: vec!["other.example.com".into()],
        ..a("www.example.com.", &[])
    };
    assert!(invalid(z.apply(&[change(Action::Create, cname)], &Ctx)).contains("conflicts"));
    let mut weighted = a("www.example.com.", &["1.2.3.5"]);
    weighted.set_identifier = Some("w1".into());
    weighted.routing = Routing::Weighted(1);
    assert!(invalid(z.apply(&[change(Action::Create, weighted)], &Ctx)).contains("simple"));
    let mut missing_id = a("api.example.com.", &["1.2.3.5"]);
    missing_id.routing = Routing::Failover(Failover::Primary);
    assert!(invalid(z.apply(&[change(Action::Create, missing_id)], &Ctx)).contains("SetIdentifier"));
}

/// Two PRIMARY failover sets for one name are refused; health checks must exist.
#[test]
fn failover_pairs() {
    let mut z = zone();
    let fo = |id: &str, role, hc: Option<&str>| RecordSet {
        set_identifier: Some(id.into()),
        routing: Routing::Failover(role),
        health_check_id: hc.map(str::to_string),
        ..a("app.example.com.", &["10.0.0.1"])
    };
    z.apply(
        &[
            change(Action::Create, fo("p", Failover::Primary, Some("hc-1"))),
            change(Action::Create, fo("s", Failover::Secondary, None)),
        ],
        &Ctx,
    )
    .unwrap();
    let m = invalid(z.apply(&[change(Action::Create, fo("p2", Failover::Primary, None))], &Ctx));
    assert!(m.contains("PRIMARY"), "{m}");
    assert_eq!(
        z.apply(
            &[change(Action::Create, fo("x", Failover::Primary, Some("hc-9")))],
            &Ctx
        ),
        Err(ChangeError::NoSuchHealthCheck("hc-9".into()))
    );
}

/// The apex NS and SOA cannot be deleted; aliases need a known target and no TTL.
#[test]
fn apex_and_alias() {
    let mut z = zone();
    let ns = z.records[0].clone();
    assert!(invalid(z.apply(&[change(Action::Delete, ns)], &Ctx)).contains("at least one NS"));
    let alias = |dns: &str| RecordSet {
        ttl: None,
        values: vec![],
        alias: Some(AliasTarget {
            hosted_zone_id: ELB_ZONE_ID.into(),
            dns_name: dns.into(),
            evaluate_target_health: true,
        }),
        ..a("lb.example.com.", &[])
    };
    assert!(invalid(z.apply(&[change(Action::Create, alias("nope."))], &Ctx)).contains("alias target"));
    z.apply(&[change(Action::Create, alias("lb.example."))], &Ctx).unwrap();
}

/// TXT, MX and SOA values parse in Route 53's text form.
#[test]
fn text_forms() {
    assert_eq!(parse_txt(r#""a b" "c\"d""#).unwrap(), vec!["a b", "c\"d"]);
    assert_eq!(parse_txt("word").unwrap(), vec!["word"]);
    assert!(parse_txt(r#""open"#).is_err());
    assert_eq!(
        parse_mx("10 mail.example.com").unwrap(),
        (10, "mail.example.com.".into())
    );
    assert!(parse_mx("x mail").is_err());
    let soa = parse_soa("ns.example. host.example. 1 7200 900 1209600 86400").unwrap();
    assert_eq!(soa.minimum, 86400);
}

/// Listing order reverses labels: the apex first, then its children by name.
#[test]
fn listing_order() {
    let mut z = zone();
    for n in ["b.example.com.", "a.example.com.", "x.a.example.com."] {
        z.apply(&[change(Action::Create, a(n, &["10.0.0.1"]))], &Ctx).unwrap();
    }
    let names: Vec<_> = z.sorted().iter().map(|r| (r.name.clone(), r.rtype.as_str())).collect();
    assert_eq!(
        names,
        vec![
            ("example.com.".to_string(), "NS"),
            ("example.com.".to_string(), "SOA"),
            ("a.example.com.".to_string(), "A"),
            ("x.a.example.com.".to_string(), "A"),
            ("b.example.com.".to_string(), "A"),
        ]
    );
}

/// `Regions` takes three or more distinct checker regions; none means all eight.
#[test]
fn checker_regions() {
    let list = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(check_regions(&list(&["us-east-1", "eu-west-1", "sa-east-1"])).is_ok());
    assert!(check_regions(&list(&["us-east-1", "eu-west-1"])).is_err());
    assert!(check_regions(&list(&["us-east-1", "eu-west-1", "us-east-2"])).is_err());
    assert!(check_regions(&list(&["us-east-1", "eu-west-1", "us-east-1"])).is_err());
    let config = HealthCheckConfig {
        ip_address: None,
        port: None,
        fqdn: None,
        load_balancer: Some("alb".into()),
        kind: CheckKind::Http,
        resource_path: "/".into(),
        request_interval: Duration::from_secs(1),
        failure_threshold: 1,
        timeout: DEFAULT_CHECK_TIMEOUT,
        inverted: false,
        disabled: false,
        regions: None,
    };
    assert_eq!(config.checker_regions(), list(&CHECKER_REGIONS));
}
