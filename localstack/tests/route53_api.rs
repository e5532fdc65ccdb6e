//! Route 53 operations round-trip with the official aws-sdk-route53 crate against a local
//! stack on an ephemeral port: hosted zones, record-set changes and listings, changes,
//! health checks and their status; AWS-shaped errors for bad input.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheckConfig, HealthCheckRegion,
    HealthCheckType, HostedZoneConfig, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use aws_sdk_route53::Client;
use common::{str_of, test_stack, wait_for, wait_until, Env};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// A Route 53 client pointed at the stack.
async fn route53(env: &Env) -> Client {
    let creds = aws_credential_types::Credentials::from_keys("AKIDDRDRILLTEST", "drdrill-test-secret", None);
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(env.ls.endpoint_url())
        .credentials_provider(creds)
        .load()
        .await;
    Client::new(&conf)
}

/// A record set with values.
fn rrset(
    name: &str,
    rtype: RrType,
    ttl: i64,
    values: &[&str],
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    let mut b = ResourceRecordSet::builder().name(name).r#type(rtype).ttl(ttl);
    for v in values {
        b = b.resource_records(ResourceRecord::builder().value(*v).build().expect("record"));
    }
    b
}

/// One change of a batch.
fn change(action: ChangeAction, set: aws_sdk_route53::types::builders::ResourceRecordSetBuilder) -> Change {
    Change::builder()
        .action(action)
        .resource_record_set(set.build().expect("record set"))
        .build()
        .expect("change")
}

/// A batch of changes.
fn batch(changes: Vec<Change>) -> ChangeBatch {
    ChangeBatch::builder()
        .comment("drdrill test")
        .set_changes(Some(changes))
        .build()
        .expect("batch")
}

/// The zone id without the `/hostedzone/` prefix.
fn bare(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// A raw A query over UDP to the stack's DNS server.
async fn query_a(dns: SocketAddr, name: &str) -> Message {
    let mut msg = Message::new(7, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), RecordType::A));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.connect(dns).await.expect("connect");
    let bytes = msg.to_vec().expect("encode");
    let mut buf = vec![0u8; 4096];
    for _ in 0..5 {
        sock.send(&bytes).await.expect("send");
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await {
            return Message::from_vec(&buf[..n]).expect("decode");
        }
    }
    panic!("no DNS answer for {name}");
}

/// CreateHostedZone, GetHostedZone, ListHostedZones (paged), GetChange and
/// DeleteHostedZone round-trip; ids carry their prefixes; a reused caller reference, a bad
/// name and an unknown id get Route 53's errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_zones_round_trip() {
    let env = Env::start(test_stack("route53")).await;
    let r53 = route53(&env).await;

    let created = r53
        .create_hosted_zone()
        .name("Example.COM")
        .caller_reference("ref-1")
        .hosted_zone_config(HostedZoneConfig::builder().comment("from the sdk").build())
        .send()
        .await
        .expect("create hosted zone");
    let zone = created.hosted_zone().expect("zone");
    assert!(zone.id().starts_with("/hostedzone/Z"), "{}", zone.id());
    assert_eq!(zone.name(), "example.com.");
    assert_eq!(zone.caller_reference(), "ref-1");
    assert_eq!(zone.resource_record_set_count(), Some(2), "NS and SOA");
    assert_eq!(zone.config().and_then(|c| c.comment()), Some("from the sdk"));
    let info = created.change_info().expect("change info");
    assert!(info.id().starts_with("/change/C"), "{}", info.id());
    assert_eq!(created.delegation_set().map(|d| d.name_servers().len()), Some(4));

    let got = r53
        .get_hosted_zone()
        .id(zone.id())
        .send()
        .await
        .expect("get hosted zone");
    assert_eq!(got.hosted_zone().map(|z| z.name()), Some("example.com."));
    let change = r53.get_change().id(info.id()).send().await.expect("get change");
    assert_eq!(change.change_info().map(|c| c.status()), Some(&ChangeStatus::Insync));

    // The stack file's zone and this one, one per page.
    let page1 = r53.list_hosted_zones().max_items(1).send().await.expect("list page 1");
    assert_eq!(page1.hosted_zones().len(), 1);
    assert!(page1.is_truncated());
    let marker = page1.next_marker().expect("next marker").to_string();
    let page2 = r53
        .list_hosted_zones()
        .marker(&marker)
        .send()
        .await
        .expect("list page 2");
    assert!(!page2.is_truncated());
    let mut names: Vec<&str> = page1
        .hosted_zones()
        .iter()
        .chain(page2.hosted_zones())
        .map(|z| z.name())
        .collect();
    names.sort();
    assert_eq!(names, ["drill.test.", "example.com."]);

    let again = r53
        .create_hosted_zone()
        .name("other.example")
        .caller_reference("ref-1")
        .send()
        .await
        .unwrap_err();
    assert!(again.into_service_error().is_hosted_zone_already_exists());
    let bad = r53
        .create_hosted_zone()
        .name("bad..name")
        .caller_reference("ref-2")
        .send()
        .await
        .unwrap_err();
    assert!(bad.into_service_error().is_invalid_domain_name());

    r53.delete_hosted_zone()
        .id(zone.id())
        .send()
        .await
        .expect("delete empty zone");
    let gone = r53.get_hosted_zone().id(zone.id()).send().await.unwrap_err();
    let gone = gone.into_service_error();
    assert!(gone.is_no_such_hosted_zone(), "{gone:?}");
    assert!(gone.to_string().contains(bare(zone.id())) || format!("{gone:?}").contains(bare(zone.id())));
    env.ls.shutdown().await;
}

/// ChangeResourceRecordSets (CREATE, UPSERT, DELETE of simple, weighted, failover, alias
/// and TXT sets) and ListResourceRecordSets (ordered, paged) round-trip; the DNS server
/// answers what the API created; inconsistent batches get InvalidChangeBatch naming the
/// problem, unknown zones and health checks their own errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_sets_round_trip() {
    let env = Env::start(test_stack("route53")).await;
    let r53 = route53(&env).await;
    let zone = r53
        .create_hosted_zone()
        .name("api.test")
        .caller_reference("rrsets")
        .send()
        .await
        .expect("create zone");
    let zid = zone.hosted_zone().expect("zone").id().to_string();
    let hc = r53
        .create_health_check()
        .caller_reference("rrsets-hc")
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Tcp)
                .ip_address(env.lb().ip().to_string())
                .port(i32::from(env.lb().port()))
                .request_interval(1)
                .failure_threshold(2)
                .build()
                .expect("config"),
        )
        .send()
        .await
        .expect("create health check");
    let hc_id = hc.health_check().expect("health check").id().to_string();
    let lb_dns = env.lb().ip().to_string();

    let out = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zid)
        .change_batch(batch(vec![
            change(
                ChangeAction::Create,
                rrset("www.api.test", RrType::A, 30, &["10.0.0.1", "10.0.0.2"]),
            ),
            change(
                ChangeAction::Create,
                rrset("w.api.test", RrType::A, 10, &["10.0.1.1"])
                    .set_identifier("one")
                    .weight(1),
            ),
            change(
                ChangeAction::Create,
                rrset("w.api.test", RrType::A, 10, &["10.0.1.2"])
                    .set_identifier("two")
                    .weight(2),
            ),
            change(
                ChangeAction::Create,
                rrset("app.api.test", RrType::A, 15, &["10.0.2.1"])
                    .set_identifier("p")
                    .failover(ResourceRecordSetFailover::Primary)
                    .health_check_id(&hc_id),
            ),
            change(
                ChangeAction::Create,
                rrset("app.api.test", RrType::A, 15, &["10.0.2.2"])
                    .set_identifier("s")
                    .failover(ResourceRecordSetFailover::Secondary),
            ),
            change(
                ChangeAction::Create,
                ResourceRecordSet::builder()
                    .name("lb.api.test")
                    .r#type(RrType::A)
                    .alias_target(
                        AliasTarget::builder()
                            .hosted_zone_id("Z35SXDOTRQ7X7K")
                            .dns_name(format!("dualstack.{lb_dns}"))
                            .evaluate_target_health(true)
                            .build()
                            .expect("alias"),
                    ),
            ),
            change(
                ChangeAction::Create,
                rrset("t.api.test", RrType::Txt, 60, &["\"hello world\""]),
            ),
        ]))
        .send()
        .await
        .expect("change record sets");
    let change_id = out.change_info().expect("change info").id().to_string();
    let got = r53.get_change().id(&change_id).send().await.expect("get change");
    assert_eq!(got.change_info().map(|c| c.status()), Some(&ChangeStatus::Insync));
    assert_eq!(got.change_info().and_then(|c| c.comment()), Some("drdrill test"));

    let all = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zid)
        .send()
        .await
        .expect("list record sets");
    let listed: Vec<(String, String, Option<String>)> = all
        .resource_record_sets()
        .iter()
        .map(|s| {
            (
                s.name().to_string(),
                s.r#type().as_str().to_string(),
                s.set_identifier().map(str::to_string),
            )
        })
        .collect();
    let expect = |n: &str, t: &str, id: Option<&str>| (n.to_string(), t.to_string(), id.map(str::to_string));
    assert_eq!(
        listed,
        vec![
            expect("api.test.", "NS", None),
            expect("api.test.", "SOA", None),
            expect("app.api.test.", "A", Some("p")),
            expect("app.api.test.", "A", Some("s")),
            expect("lb.api.test.", "A", None),
            expect("t.api.test.", "TXT", None),
            expect("w.api.test.", "A", Some("one")),
            expect("w.api.test.", "A", Some("two")),
            expect("www.api.test.", "A", None),
        ]
    );
    let primary = &all.resource_record_sets()[2];
    assert_eq!(primary.failover(), Some(&ResourceRecordSetFailover::Primary));
    assert_eq!(primary.health_check_id(), Some(hc_id.as_str()));
    assert_eq!(primary.ttl(), Some(15));
    let alias = all.resource_record_sets()[4].alias_target().expect("alias target");
    assert_eq!(alias.dns_name(), format!("{lb_dns}."));
    assert!(alias.evaluate_target_health());
    assert_eq!(all.resource_record_sets()[6].weight(), Some(1));
    let www = &all.resource_record_sets()[8];
    let values: Vec<&str> = www.resource_records().iter().map(|r| r.value()).collect();
    assert_eq!(values, ["10.0.0.1", "10.0.0.2"]);

    // Paging from a name and type.
    let page = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zid)
        .start_record_name("t.api.test")
        .start_record_type(RrType::Txt)
        .max_items(2)
        .send()
        .await
        .expect("list page");
    assert_eq!(page.resource_record_sets().len(), 2);
    assert!(page.is_truncated());
    assert_eq!(page.next_record_name(), Some("w.api.test."));
    assert_eq!(page.next_record_type(), Some(&RrType::A));
    assert_eq!(page.next_record_identifier(), Some("two"));

    // The DNS server answers what the API created.
    let dns = env.ls.dns_addr();
    let m = query_a(dns, "www.api.test.").await;
    let mut ips: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    ips.sort();
    assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
    assert!(m.answers.iter().all(|r| r.ttl == 30));
    let m = query_a(dns, "lb.api.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);

    // UPSERT replaces, DELETE removes.
    r53.change_resource_record_sets()
        .hosted_zone_id(&zid)
        .change_batch(batch(vec![change(
            ChangeAction::Upsert,
            rrset("www.api.test", RrType::A, 45, &["10.0.0.9"]),
        )]))
        .send()
        .await
        .expect("upsert");
    let m = query_a(dns, "www.api.test.").await;
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].ttl, 45);

    // Errors.
    let dup = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zid)
        .change_batch(batch(vec![change(
            ChangeAction::Create,
            rrset("www.api.test", RrType::A, 45, &["10.0.0.9"]),
        )]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError::InvalidChangeBatch(icb) =
        &dup
    else {
        panic!("expected InvalidChangeBatch, got {dup:?}");
    };
    assert!(icb.messages().iter().any(|m| m.contains("already exists")), "{icb:?}");
    let mismatch = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zid)
        .change_batch(batch(vec![change(
            ChangeAction::Delete,
            rrset("www.api.test", RrType::A, 45, &["10.9.9.9"]),
        )]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(mismatch.is_invalid_change_batch(), "{mismatch:?}");
    assert!(format!("{mismatch:?}").contains("do not match"), "{mismatch:?}");
    let no_hc = r53
        .change_resource_record_sets()
        .hosted_zone_id(&zid)
        .change_batch(batch(vec![change(
            ChangeAction::Create,
            rrset("x.api.test", RrType::A, 5, &["10.0.0.1"])
                .set_identifier("p")
                .failover(ResourceRecordSetFailover::Primary)
                .health_check_id("no-such-check"),
        )]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_hc.is_no_such_health_check(), "{no_hc:?}");
    let no_zone = r53
        .change_resource_record_sets()
        .hosted_zone_id("ZNOSUCHZONE")
        .change_batch(batch(vec![change(
            ChangeAction::Create,
            rrset("a.b", RrType::A, 5, &["10.0.0.1"]),
        )]))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_zone.is_no_such_hosted_zone(), "{no_zone:?}");
    let no_zone = r53
        .list_resource_record_sets()
        .hosted_zone_id("ZNOSUCHZONE")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(no_zone.is_no_such_hosted_zone(), "{no_zone:?}");
    let not_empty = r53
        .delete_hosted_zone()
        .id(&zid)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(not_empty.is_hosted_zone_not_empty(), "{not_empty:?}");
    let in_use = r53
        .delete_health_check()
        .health_check_id(&hc_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(in_use.is_health_check_in_use(), "{in_use:?}");

    r53.change_resource_record_sets()
        .hosted_zone_id(&zid)
        .change_batch(batch(vec![change(
            ChangeAction::Delete,
            rrset("www.api.test", RrType::A, 45, &["10.0.0.9"]),
        )]))
        .send()
        .await
        .expect("delete");
    let m = query_a(dns, "www.api.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    env.ls.shutdown().await;
}

/// CreateHealthCheck (idempotent per caller reference), GetHealthCheck, ListHealthChecks
/// (paged), GetHealthCheckStatus and DeleteHealthCheck round-trip; the checker really
/// probes an instance: `Success: HTTP Status Code 200, OK`, then `Failure: …` after the
/// instance stops, with the change in the ground truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_round_trip() {
    let env = Env::start(test_stack("route53")).await;
    let r53 = route53(&env).await;
    let (inst_id, inst_addr) = env.all_instances().into_iter().next().expect("an instance");
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Http)
        .ip_address(inst_addr.ip().to_string())
        .port(i32::from(inst_addr.port()))
        .resource_path("/health")
        .request_interval(1)
        .failure_threshold(1)
        .build()
        .expect("config");
    let created = r53
        .create_health_check()
        .caller_reference("hc-1")
        .health_check_config(config.clone())
        .send()
        .await
        .expect("create health check");
    let hc = created.health_check().expect("health check");
    let id = hc.id().to_string();
    assert_eq!(hc.caller_reference(), "hc-1");
    assert_eq!(hc.health_check_version(), 1);
    let c = hc.health_check_config().expect("config");
    assert_eq!(c.ip_address(), Some(inst_addr.ip().to_string().as_str()));
    assert_eq!(c.port(), Some(i32::from(inst_addr.port())));
    assert_eq!(c.r#type(), &HealthCheckType::Http);
    assert_eq!(c.resource_path(), Some("/health"));
    assert_eq!(c.request_interval(), Some(1));
    assert_eq!(c.failure_threshold(), Some(1));

    // The same caller reference and settings give the same health check; other settings
    // are refused.
    let again = r53
        .create_health_check()
        .caller_reference("hc-1")
        .health_check_config(config.clone())
        .send()
        .await
        .expect("idempotent create");
    assert_eq!(again.health_check().map(|h| h.id()), Some(id.as_str()));
    let other = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Http)
        .ip_address(inst_addr.ip().to_string())
        .port(1)
        .build()
        .expect("config");
    let err = r53
        .create_health_check()
        .caller_reference("hc-1")
        .health_check_config(other)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_health_check_already_exists(), "{err:?}");
    let calculated = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Calculated)
        .build()
        .expect("config");
    let err = r53
        .create_health_check()
        .caller_reference("hc-calc")
        .health_check_config(calculated)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_input(), "{err:?}");

    let remote = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Http)
        .ip_address("192.0.2.10")
        .build()
        .expect("config");
    let err = r53
        .create_health_check()
        .caller_reference("hc-remote")
        .health_check_config(remote)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_input(), "only loopback endpoints are probed: {err:?}");

    let got = r53.get_health_check().health_check_id(&id).send().await.expect("get");
    assert_eq!(got.health_check().map(|h| h.id()), Some(id.as_str()));

    // The stack file's hc-primary and this one, one per page.
    let page1 = r53.list_health_checks().max_items(1).send().await.expect("list");
    assert_eq!(page1.health_checks().len(), 1);
    assert!(page1.is_truncated());
    let page2 = r53
        .list_health_checks()
        .marker(page1.next_marker().expect("next marker"))
        .send()
        .await
        .expect("list page 2");
    let mut ids: Vec<&str> = page1
        .health_checks()
        .iter()
        .chain(page2.health_checks())
        .map(|h| h.id())
        .collect();
    ids.sort();
    let mut want = vec!["hc-primary", id.as_str()];
    want.sort();
    assert_eq!(ids, want);

    let status = |want: &'static str| {
        let (r53, id) = (r53.clone(), id.clone());
        async move {
            let out = r53
                .get_health_check_status()
                .health_check_id(&id)
                .send()
                .await
                .expect("get health check status");
            // The first checker (us-east-1 of the default regions) probes first.
            let obs = out.health_check_observations().first()?;
            assert_eq!(obs.region().map(|r| r.as_str()), Some("us-east-1"));
            assert!(obs.ip_address().is_some());
            let report = obs.status_report()?;
            assert!(report.checked_time().is_some());
            let s = report.status()?.to_string();
            s.starts_with(want).then_some(s)
        }
    };
    let ok = wait_for(Duration::from_secs(15), "the health check reports success", || {
        status("Success")
    })
    .await;
    assert_eq!(ok, "Success: HTTP Status Code 200, OK");

    env.ls
        .world
        .stop_instances(std::slice::from_ref(&inst_id))
        .expect("stop");
    let failed = wait_for(Duration::from_secs(15), "the health check reports failure", || {
        status("Failure")
    })
    .await;
    assert!(failed.contains("Connection refused"), "{failed}");
    // The status flips once enough checkers (staggered over the interval) fail too.
    wait_for(
        Duration::from_secs(15),
        "the status change in the ground truth",
        || async {
            env.truth_of("health_check_status")
                .await
                .into_iter()
                .find(|e| str_of(e, "health_check") == id && str_of(e, "to") == "unhealthy")
        },
    )
    .await;

    r53.delete_health_check()
        .health_check_id(&id)
        .send()
        .await
        .expect("delete");
    let gone = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_no_such_health_check(), "{gone:?}");
    let gone = r53
        .get_health_check_status()
        .health_check_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_no_such_health_check(), "{gone:?}");
    env.ls.shutdown().await;
}

/// Route 53's health-checker regions, the default of a health check without `Regions`.
const DEFAULT_REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];

/// One `HealthCheckObservation` of GetHealthCheckStatus.
#[derive(Debug, Clone)]
struct Obs {
    region: String,
    ip: String,
    status: String,
    checked_ms: i64,
}

/// GetHealthCheckStatus's observations, each with its region, address and a report.
async fn observations(r53: &Client, id: &str) -> Vec<Obs> {
    let out = r53
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .expect("get health check status");
    out.health_check_observations()
        .iter()
        .map(|o| {
            let report = o.status_report().expect("a status report");
            Obs {
                region: o.region().expect("a region").as_str().to_string(),
                ip: o.ip_address().expect("an address").to_string(),
                status: report.status().expect("a status").to_string(),
                checked_ms: report
                    .checked_time()
                    .expect("a checked time")
                    .to_millis()
                    .expect("millis"),
            }
        })
        .collect()
}

/// Waits until all `n` checkers report and every report starts with `want`.
async fn wait_all_report(r53: &Client, id: &str, n: usize, want: &'static str) -> Vec<Obs> {
    let what = format!("{n} checkers report {want}");
    wait_for(Duration::from_secs(20), &what, || async {
        let obs = observations(r53, id).await;
        (obs.len() == n && obs.iter().all(|o| o.status.starts_with(want))).then_some(obs)
    })
    .await
}

/// An HTTP health check of `addr`'s `/health` every second, with these regions.
fn http_check(addr: SocketAddr, threshold: i32, regions: Option<&[&str]>) -> HealthCheckConfig {
    HealthCheckConfig::builder()
        .r#type(HealthCheckType::Http)
        .ip_address(addr.ip().to_string())
        .port(i32::from(addr.port()))
        .resource_path("/health")
        .request_interval(1)
        .failure_threshold(threshold)
        .set_regions(regions.map(|r| r.iter().map(|r| HealthCheckRegion::from(*r)).collect()))
        .build()
        .expect("config")
}

/// GetHealthCheckStatus has one observation per health checker: the eight default regions
/// when the health check names none, exactly its `Regions` when it does (which
/// GetHealthCheck returns); each region once, each checker with its own address, and their
/// probes spread over the interval rather than in lock step. Fewer than three regions or
/// an unknown one are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_observation_per_checker_region() {
    let env = Env::start(test_stack("route53")).await;
    let r53 = route53(&env).await;
    let (_, inst_addr) = env.all_instances().into_iter().next().expect("an instance");

    let create = |reference: &'static str, config: HealthCheckConfig| {
        let r53 = r53.clone();
        async move {
            r53.create_health_check()
                .caller_reference(reference)
                .health_check_config(config)
                .send()
                .await
        }
    };
    let default = create("hc-default", http_check(inst_addr, 1, None))
        .await
        .expect("create");
    let id = default.health_check().expect("health check").id().to_string();
    let obs = wait_all_report(&r53, &id, DEFAULT_REGIONS.len(), "Success").await;
    let mut regions: Vec<&str> = obs.iter().map(|o| o.region.as_str()).collect();
    regions.sort();
    let mut want = DEFAULT_REGIONS.to_vec();
    want.sort();
    assert_eq!(regions, want, "each default region once");
    let ips: HashSet<&str> = obs.iter().map(|o| o.ip.as_str()).collect();
    assert_eq!(ips.len(), obs.len(), "distinct checker addresses: {obs:?}");
    for o in &obs {
        let ip: std::net::IpAddr = o.ip.parse().expect("an IP address");
        assert!(!ip.is_loopback() && ip != inst_addr.ip(), "{o:?}");
        assert_eq!(o.status, "Success: HTTP Status Code 200, OK", "{o:?}");
    }
    // Staggered: the latest probes of the eight checkers spread over the 1 s interval.
    let times: HashSet<i64> = obs.iter().map(|o| o.checked_ms).collect();
    let spread = times.iter().max().unwrap() - times.iter().min().unwrap();
    assert!(times.len() >= 4 && spread >= 300, "checked times {obs:?}");
    let config = r53
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .expect("get")
        .health_check()
        .and_then(|h| h.health_check_config().cloned())
        .expect("config");
    assert!(config.regions().is_empty(), "no Regions were given: {config:?}");

    let three = ["ap-northeast-1", "eu-west-1", "us-west-2"];
    let explicit = create("hc-three", http_check(inst_addr, 1, Some(&three)))
        .await
        .expect("create with regions");
    let hc = explicit.health_check().expect("health check");
    let given: Vec<&str> = hc
        .health_check_config()
        .expect("config")
        .regions()
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(given, three);
    let obs = wait_all_report(&r53, hc.id(), three.len(), "Success").await;
    let regions: Vec<&str> = obs.iter().map(|o| o.region.as_str()).collect();
    assert_eq!(regions, three, "one observation per given region, in order");
    let ips: HashSet<&str> = obs.iter().map(|o| o.ip.as_str()).collect();
    assert_eq!(ips.len(), 3, "{obs:?}");

    for (reference, regions) in [
        ("hc-two", &["us-east-1", "eu-west-1"][..]),
        ("hc-unknown", &["us-east-1", "eu-west-1", "us-east-2"][..]),
        ("hc-twice", &["us-east-1", "eu-west-1", "us-east-1"][..]),
    ] {
        let err = create(reference, http_check(inst_addr, 1, Some(regions)))
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_input(), "{reference}: {err:?}");
    }
    env.ls.shutdown().await;
}

/// When the endpoint goes down, every checker comes to report Failure on its own
/// (failure threshold per checker); the health check's status — and its one ground-truth
/// change — follows the checkers: healthy exactly while more than 18% of them are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checker_reports_failure_when_the_endpoint_goes_down() {
    let env = Env::start(test_stack("route53")).await;
    let r53 = route53(&env).await;
    let (inst_id, inst_addr) = env.all_instances().into_iter().next().expect("an instance");
    let created = r53
        .create_health_check()
        .caller_reference("hc-down")
        .health_check_config(http_check(inst_addr, 2, None))
        .send()
        .await
        .expect("create");
    let id = created.health_check().expect("health check").id().to_string();
    wait_all_report(&r53, &id, DEFAULT_REGIONS.len(), "Success").await;

    env.ls
        .world
        .stop_instances(std::slice::from_ref(&inst_id))
        .expect("stop");
    // While the checkers turn one by one, the status is always the 18% rule over their
    // verdicts.
    let agrees = || {
        let hc = env.ls.route53.get_health_check(&id).expect("health check");
        let healthy = hc.checkers.iter().filter(|c| c.healthy).count();
        assert_eq!(hc.healthy, healthy * 100 > hc.checkers.len() * 18, "{hc:?}");
        hc.checkers.iter().all(|c| !c.healthy)
    };
    wait_until(Duration::from_secs(20), "every checker unhealthy", || {
        let done = agrees();
        async move { done }
    })
    .await;
    let obs = wait_all_report(&r53, &id, DEFAULT_REGIONS.len(), "Failure").await;
    for o in &obs {
        assert!(o.status.contains("Connection refused"), "{o:?}");
    }
    assert!(!env.ls.route53.get_health_check(&id).expect("health check").healthy);
    let changes: Vec<_> = env
        .truth_of("health_check_status")
        .await
        .into_iter()
        .filter(|e| str_of(e, "health_check") == id)
        .collect();
    assert_eq!(changes.len(), 1, "one status change: {changes:?}");
    assert_eq!(
        (str_of(&changes[0], "from").as_str(), str_of(&changes[0], "to").as_str()),
        ("healthy", "unhealthy")
    );
    assert!(
        str_of(&changes[0], "status").starts_with("Failure: Connection refused"),
        "{changes:?}"
    );
    env.ls.shutdown().await;
}

/// A signed-looking request (the local stack routes by the credential scope only).
fn raw(http: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    http.request(method, url).header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=abc",
    )
}

/// Malformed XML, a wrong root element, an unknown element, a DOCTYPE, an unknown zone id
/// and an unknown path get Route 53's error document with the right code and status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_aws_errors() {
    let env = Env::start(test_stack("route53")).await;
    let base = format!("{}/2013-04-01", env.ls.endpoint_url());
    let prefix = "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type>";
    let cases: Vec<(reqwest::Method, String, &str, u16, &str)> = vec![
        (reqwest::Method::POST, format!("{base}/hostedzone"), "<CreateHostedZoneRequest><Name>x", 400, "InvalidInput"),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone"),
            "<Other><Name>x.test</Name></Other>",
            400,
            "InvalidInput",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone"),
            "<CreateHostedZoneRequest><Name>x.test</Name><CallerReference>r</CallerReference><Bogus/></CreateHostedZoneRequest>",
            400,
            "InvalidInput",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone"),
            "<!DOCTYPE x [<!ENTITY a \"b\">]><CreateHostedZoneRequest/>",
            400,
            "InvalidInput",
        ),
        (reqwest::Method::GET, format!("{base}/hostedzone/ZNOPE"), "", 404, "NoSuchHostedZone"),
        (
            reqwest::Method::POST,
            format!("{base}/hostedzone/ZNOPE/rrset"),
            "<ChangeResourceRecordSetsRequest/>",
            404,
            "NoSuchHostedZone",
        ),
        (reqwest::Method::GET, format!("{base}/healthcheck/nope/status"), "", 404, "NoSuchHealthCheck"),
        (reqwest::Method::GET, format!("{base}/change/CNOPE"), "", 404, "NoSuchChange"),
        (reqwest::Method::GET, format!("{base}/trafficpolicy"), "", 400, "InvalidInput"),
        (reqwest::Method::GET, format!("{base}/hostedzone?maxitems=x"), "", 400, "InvalidInput"),
    ];
    for (method, url, body, status, code) in cases {
        let resp = raw(&env.http, method.clone(), url.clone())
            .body(body.to_string())
            .send()
            .await
            .expect("answer");
        let got = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert_eq!(got, status, "{method} {url}: {text}");
        assert!(text.contains(prefix), "{method} {url}: {text}");
        assert!(text.contains(&format!("<Code>{code}</Code>")), "{method} {url}: {text}");
        assert!(text.contains("<RequestId>"), "{text}");
    }
    // The official SDK understands the same documents.
    let r53 = route53(&env).await;
    let err = r53
        .get_hosted_zone()
        .id("ZNOPE")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_no_such_hosted_zone(), "{err:?}");
    env.ls.shutdown().await;
}
