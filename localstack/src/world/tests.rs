use super::*;

/// Three instances, one per zone, behind the load balancer; a Multi-AZ database.
const STACK: &str = r#"
name: three
region: us-east-1
zones: [us-east-1a, us-east-1b, us-east-1c]
subnets:
  - { id: subnet-a, zone: us-east-1a }
  - { id: subnet-b, zone: us-east-1b }
  - { id: subnet-c, zone: us-east-1c }
  - { id: subnet-db-a, zone: us-east-1a }
  - { id: subnet-db-b, zone: us-east-1b }
instances:
  - { id: i-a, subnet: subnet-a }
  - { id: i-b, subnet: subnet-b }
  - { id: i-c, subnet: subnet-c }
load_balancer:
  name: alb
  listener_port: 0
  idle_timeout: 10s
  target_group:
    name: app
    targets: [i-a, i-b, i-c]
    health_check: { path: /health, interval: 500ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2 }
    deregistration_delay: 50ms
database:
  cluster: db
  topology: multi-az
  primary: { id: db-1, subnet: subnet-db-a }
  standby: { id: db-2, subnet: subnet-db-b }
  failover_duration: 2s
  reboot_duration: 2s
speedups: { sub_second_health_checks: true }
"#;

/// The unit tests drive health checks and instances by hand: the world spawns nothing.
struct NoTasks;

impl Tasks for NoTasks {
    fn serve_app(&self, _: Arc<World>, _: String, _: String, _: TcpListener, _: CancellationToken) {}
    fn check_target(&self, _: Arc<World>, _: String, _: u64) {}
}

fn world() -> Arc<World> {
    let stack = Stack::parse(std::path::Path::new("three.yaml"), STACK).unwrap();
    let addrs = ["i-a", "i-b", "i-c"]
        .iter()
        .enumerate()
        .map(|(i, id)| (id.to_string(), SocketAddr::from(([127, 0, 0, 1], 1 + i as u16))))
        .collect();
    let w = World::new(stack, addrs, Arc::new(NoTasks));
    w.record_initial_serving();
    w
}

/// Applies `n` health-check results of one kind to a target.
fn checks(w: &World, id: &str, result: CheckResult, n: usize) {
    for _ in 0..n {
        w.record_check(id, 0, result);
    }
}

/// Reads the ground truth step by step.
#[derive(Default)]
struct Seen {
    upto: usize,
}

impl Seen {
    /// The `serving` and `serving_fraction` events recorded since the last call, in
    /// order, as `serving true|false` and `fraction answering/routable`.
    fn since(&mut self, w: &World) -> Vec<String> {
        let events = w.truth.snapshot();
        let out = events[self.upto..]
            .iter()
            .filter_map(|e| match &e.what {
                Truth::Serving { serving } => Some(format!("serving {serving}")),
                Truth::ServingFraction {
                    serving_fraction,
                    answering,
                    routable,
                } => {
                    let expected = if *routable == 0 {
                        0.0
                    } else {
                        *answering as f64 / *routable as f64
                    };
                    assert_eq!(*serving_fraction, expected);
                    Some(format!("fraction {answering}/{routable}"))
                }
                _ => None,
            })
            .collect();
        self.upto = events.len();
        out
    }
}

/// The health state and reason of one target.
fn health_of(w: &World, id: &str) -> (Health, Option<&'static str>, Option<String>) {
    let t = w.targets().into_iter().find(|t| t.id == id).expect("registered");
    (t.health, t.reason, t.description)
}

/// The serving fraction follows a partial outage step by step and is recorded exactly
/// when it changes, also while `serving` stays false. At start-up every target is
/// `initial` and nothing is routable (503) until one passing check makes each healthy;
/// a stopped instance's app is down while it is `stopping` (its target still routable),
/// and once it is `stopped` its target is `unused` (`Target.InvalidState`) and leaves
/// the rotation; a black-holed one counts against the
/// fraction until its checks time out; a database failover makes it 0; with every
/// target still registered unhealthy the load balancer fails open over those (never
/// over `unused` ones); with every target unused nothing is routable and the entry is
/// not serving.
#[tokio::test]
async fn serving_fraction_follows_partial_outages_and_is_recorded_on_change() {
    let w = world();
    let mut seen = Seen::default();
    assert_eq!(seen.since(&w), ["fraction 0/0"], "all initial: nothing routable");
    assert!(!w.serving());
    assert_eq!(
        health_of(&w, "i-a"),
        (
            Health::Initial,
            Some("Elb.InitialHealthChecking"),
            Some("Initial health checks in progress".into())
        )
    );
    // One passing check makes a new target healthy (AWS: "it must pass one health check").
    checks(&w, "i-a", CheckResult::Pass, 1);
    assert_eq!(seen.since(&w), ["serving true", "fraction 1/1"]);
    assert_eq!(health_of(&w, "i-a"), (Health::Healthy, None, None));
    for id in ["i-b", "i-c"] {
        checks(&w, id, CheckResult::Pass, 1);
    }
    assert_eq!(seen.since(&w), Vec::<String>::new(), "3/3 is still 1.0: not recorded");
    assert_eq!(w.routable().len(), 3);

    w.stop_instances(&["i-a".to_string()]).unwrap();
    // Stopping: the app is down, but its target stays routable until EC2 calls the
    // instance stopped (or its checks fail).
    assert_eq!(seen.since(&w), ["serving false", "fraction 2/3"]);
    assert_eq!(health_of(&w, "i-a").0, Health::Healthy);
    let generation = w.lock().fleet.generation("i-a");
    w.finish_stop("i-a", generation);
    assert_eq!(
        seen.since(&w),
        ["serving true", "fraction 2/2"],
        "stopped: unused, out of rotation"
    );
    assert_eq!(
        health_of(&w, "i-a"),
        (
            Health::Unused,
            Some("Target.InvalidState"),
            Some("Target is in the stopped state".into())
        )
    );
    checks(&w, "i-a", CheckResult::Fail, 3);
    assert_eq!(
        health_of(&w, "i-a").0,
        Health::Unused,
        "an unused target is not checked"
    );

    w.block_subnets(&["subnet-b".to_string()], crate::network::Scope::All);
    assert_eq!(seen.since(&w), ["serving false", "fraction 1/2"]);
    checks(&w, "i-b", CheckResult::Timeout, 2);
    assert_eq!(seen.since(&w), ["serving true", "fraction 1/1"]);
    assert_eq!(health_of(&w, "i-b").1, Some("Target.Timeout"));

    w.db_failover();
    assert_eq!(seen.since(&w), ["serving false", "fraction 0/1"]);
    w.db_end_outage();
    assert_eq!(seen.since(&w), ["serving true", "fraction 1/1"]);

    // Every registered target unhealthy: fail-open over those two, not the unused one.
    checks(&w, "i-c", CheckResult::Mismatch(503), 2);
    assert_eq!(seen.since(&w), ["serving false", "fraction 1/2"]);
    assert_eq!(
        health_of(&w, "i-c"),
        (
            Health::Unhealthy,
            Some("Target.ResponseCodeMismatch"),
            Some("Health checks failed with these codes: [503]".into())
        )
    );
    let mut open: Vec<String> = w.routable().into_iter().map(|(id, _)| id).collect();
    open.sort();
    assert_eq!(open, ["i-b", "i-c"]);

    // Every target unused: nothing routable, not serving (the load balancer answers 503).
    w.stop_instances(&["i-b".to_string(), "i-c".to_string()]).unwrap();
    assert_eq!(
        seen.since(&w),
        ["fraction 0/2"],
        "stopping: still routable, none answers"
    );
    for id in ["i-b", "i-c"] {
        let generation = w.lock().fleet.generation(id);
        w.finish_stop(id, generation);
    }
    assert_eq!(
        seen.since(&w),
        Vec::<String>::new(),
        "the fraction stays 0: not recorded again"
    );
    assert!(w.routable().is_empty());
    assert!(!w.serving());
    assert_eq!(w.serving_fraction(), 0.0);
    w.terminate_instances(&["i-c".to_string()]).unwrap();
    assert_eq!(
        health_of(&w, "i-c").2.as_deref(),
        Some("Target is in the terminated state")
    );
}

/// A failing new target becomes unhealthy after the unhealthy threshold, with
/// `Target.FailedHealthChecks` for a refused connection; back to healthy it needs the
/// healthy threshold (two passes here), not one.
#[test]
fn unhealthy_targets_need_the_healthy_threshold() {
    let w = world();
    checks(&w, "i-a", CheckResult::Fail, 1);
    assert_eq!(health_of(&w, "i-a").0, Health::Initial);
    checks(&w, "i-a", CheckResult::Fail, 1);
    assert_eq!(
        health_of(&w, "i-a"),
        (
            Health::Unhealthy,
            Some("Target.FailedHealthChecks"),
            Some("Health checks failed".into())
        )
    );
    checks(&w, "i-a", CheckResult::Pass, 1);
    assert_eq!(health_of(&w, "i-a").0, Health::Unhealthy);
    checks(&w, "i-a", CheckResult::Pass, 1);
    assert_eq!(health_of(&w, "i-a").0, Health::Healthy);
}

/// A deregistered target drains for the deregistration delay (`draining`,
/// `Target.DeregistrationInProgress`, never routed to), then leaves the group.
#[tokio::test]
async fn deregistered_targets_drain_then_leave() {
    let w = world();
    for id in ["i-a", "i-b", "i-c"] {
        checks(&w, id, CheckResult::Pass, 1);
    }
    w.deregister_targets(&["i-a".to_string()]);
    assert_eq!(
        health_of(&w, "i-a"),
        (
            Health::Draining,
            Some("Target.DeregistrationInProgress"),
            Some("Target deregistration is in progress".into())
        )
    );
    assert!(!w.routable().iter().any(|(id, _)| id == "i-a"));
    checks(&w, "i-a", CheckResult::Pass, 2);
    assert_eq!(health_of(&w, "i-a").0, Health::Draining);
    let mut rx = w.subscribe();
    tokio::time::timeout(Duration::from_secs(2), async {
        while w.targets().iter().any(|t| t.id == "i-a") {
            rx.changed().await.expect("world alive");
        }
    })
    .await
    .expect("the target leaves after the 50 ms delay");
    assert_eq!(w.targets().len(), 2);
}

/// `serving_fraction` is served at `/_drdrill/events` as its own event kind, with the
/// counts it comes from.
#[test]
fn serving_fraction_serializes_with_its_kind_and_counts() {
    let w = world();
    checks(&w, "i-a", CheckResult::Pass, 1);
    let ev = w
        .truth
        .snapshot()
        .into_iter()
        .rfind(|e| matches!(e.what, Truth::ServingFraction { .. }))
        .unwrap();
    let v = serde_json::to_value(&ev).unwrap();
    assert_eq!(v["kind"], "serving_fraction");
    assert_eq!(v["serving_fraction"], 1.0);
    assert_eq!(v["answering"], 1);
    assert_eq!(v["routable"], 1);
    assert_eq!(v["region"], "us-east-1");
}
