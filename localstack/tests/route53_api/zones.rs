//! Hosted zones and record sets: create, get, list (paged), change and delete, with
//! Route 53's errors for bad input.

use super::*;

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
