use super::*;
use std::time::Duration;

struct NoLbs;
impl LoadBalancerLookup for NoLbs {
    fn load_balancer(&self, _: &str) -> Option<LoadBalancerView> {
        None
    }
    fn subscribe(&self) -> Vec<watch::Receiver<u64>> {
        Vec::new()
    }
}

/// A service with one health check (threshold 2, default regions), not started: probes
/// are handed in by the test. Returns it and the truth it records.
fn service() -> (Arc<Route53>, Arc<Mutex<Vec<Truth>>>) {
    let truth = Arc::new(Mutex::new(Vec::new()));
    let log = truth.clone();
    let sink: TruthSink = Arc::new(move |t| log.lock().unwrap().push(t));
    let settings = Settings {
        region: "us-east-1".into(),
        alias_ttl: 60,
        seed: Some(1),
    };
    let r53 = Route53::new(settings, Arc::new(NoLbs), sink, CancellationToken::new());
    let config = HealthCheckConfig {
        ip_address: Some("127.0.0.1".parse().unwrap()),
        port: Some(9),
        fqdn: None,
        load_balancer: None,
        kind: model::CheckKind::Tcp,
        resource_path: "/".into(),
        request_interval: Duration::from_secs(1),
        failure_threshold: 2,
        timeout: model::DEFAULT_CHECK_TIMEOUT,
        inverted: false,
        disabled: false,
        regions: None,
    };
    r53.insert_health_check("hc".into(), "ref".into(), config);
    (r53, truth)
}

/// Fails checker `k` twice (its threshold): it turns unhealthy.
fn fail_checker(r53: &Route53, k: usize) {
    for _ in 0..2 {
        assert!(r53.record_probe("hc", 0, k, false, "Connection refused"));
    }
}

/// With the eight default checkers the health check stays healthy while two of them
/// (25% > 18%) still are, turns unhealthy when the seventh fails (1 of 8 = 12.5%), and
/// healthy again when a second checker recovers; the ground truth has exactly those two
/// changes, each with the report of the checker that tipped it.
#[test]
fn status_follows_more_than_18_percent_of_checkers() {
    let (r53, truth) = service();
    assert_eq!(r53.get_health_check("hc").unwrap().checkers.len(), 8);
    for k in 0..6 {
        fail_checker(&r53, k);
    }
    let hc = r53.get_health_check("hc").unwrap();
    assert_eq!(hc.checkers.iter().filter(|c| c.healthy).count(), 2);
    assert!(hc.healthy, "2 of 8 healthy is more than 18%");
    assert!(truth.lock().unwrap().is_empty());

    fail_checker(&r53, 6);
    assert!(!r53.get_health_check("hc").unwrap().healthy, "1 of 8 is not");
    let changes = truth.lock().unwrap().clone();
    assert_eq!(
        changes,
        vec![Truth::HealthCheckStatus {
            health_check: "hc".into(),
            from: "healthy".into(),
            to: "unhealthy".into(),
            status: "Failure: Connection refused".into(),
        }]
    );

    fail_checker(&r53, 7);
    for _ in 0..2 {
        r53.record_probe("hc", 0, 0, true, "TCP connection established to 127.0.0.1:9");
    }
    assert!(!r53.get_health_check("hc").unwrap().healthy, "1 of 8 healthy");
    for _ in 0..2 {
        r53.record_probe("hc", 0, 5, true, "TCP connection established to 127.0.0.1:9");
    }
    assert!(r53.get_health_check("hc").unwrap().healthy, "2 of 8 healthy");
    let changes = truth.lock().unwrap().clone();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        changes[1],
        Truth::HealthCheckStatus {
            health_check: "hc".into(),
            from: "unhealthy".into(),
            to: "healthy".into(),
            status: "Success: TCP connection established to 127.0.0.1:9".into(),
        }
    );
    assert!(!r53.record_probe("hc", 1, 0, true, "stale generation"));
    assert!(!r53.record_probe("hc", 0, 8, true, "no such checker"));
}
