//! Health checks: create, get, list and delete, and GetHealthCheckStatus with one
//! observation per checker region.

use super::*;
use aws_sdk_route53::operation::create_health_check::CreateHealthCheckError;

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
    let err = create_error(&r53, "hc-1", other).await;
    assert!(err.is_health_check_already_exists(), "{err:?}");
    let calculated = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Calculated)
        .build()
        .expect("config");
    let err = create_error(&r53, "hc-calc", calculated).await;
    assert!(err.is_invalid_input(), "{err:?}");

    let remote = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Http)
        .ip_address("192.0.2.10")
        .build()
        .expect("config");
    let err = create_error(&r53, "hc-remote", remote).await;
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

/// The error CreateHealthCheck fails with for `config` under `caller` reference.
async fn create_error(r53: &Client, caller: &str, config: HealthCheckConfig) -> CreateHealthCheckError {
    r53.create_health_check()
        .caller_reference(caller)
        .health_check_config(config)
        .send()
        .await
        .unwrap_err()
        .into_service_error()
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
