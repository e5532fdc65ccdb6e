//! The local stack's container image, started with testcontainers
//! (`drdrill_localstack::container`) and driven across a real network boundary: a drill
//! with an `aws:` target whose endpoint is the container's published port, the path a user
//! takes against LocalStack. Nothing is embedded in the container run; its ground truth is
//! read over HTTP from `/_drdrill/events`.
//!
//! Needs a Docker engine and the image (`scripts/build-image.sh`); `scripts/test.sh`
//! provides both when it can. Without them each test writes `SKIPPED: <reason>` to stderr
//! and returns, unless `DRDRILL_CONTAINER_TESTS=require` (set by `scripts/test.sh` once
//! the engine and the image are ready), which turns a missing engine or image into a
//! failure. Test names start with `in_container_` so that `--skip in_container_` leaves
//! them out.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use drdrill::run::RunOutcome;
use drdrill::scenario::Target;
use drdrill::verdict::Verdict;
use drdrill_localstack::container::{start, ContainerError, LocalStackImage, RunningLocalStack};

/// Probe interval of the scenario (100/s), for the ground-truth tolerance.
const PROBE_INTERVAL_MS: i64 = 10;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Static credentials for the container's STS/FIS/ELB endpoints, read by the AWS SDK's
/// default chain (as with LocalStack), and no instance-metadata lookups. Set once, before
/// any test of this binary reads the environment.
fn aws_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

/// Starts the image, or says why the test is skipped (`None`). With
/// `DRDRILL_CONTAINER_TESTS=require` a missing engine or image is a failure.
async fn start_or_skip(test: &str) -> Option<RunningLocalStack> {
    match start(LocalStackImage::default()).await {
        Ok(stack) => Some(stack),
        Err(e @ (ContainerError::NoEngine(_) | ContainerError::ImageMissing(_))) => {
            if std::env::var("DRDRILL_CONTAINER_TESTS").as_deref() == Ok("require") {
                panic!("{test}: DRDRILL_CONTAINER_TESTS=require but {e}");
            }
            // Straight to the stream: libtest captures print macros of passing tests.
            let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {e}");
            None
        }
        Err(e) => panic!("{test}: the container did not start: {e}"),
    }
}

/// Runs the scenario file; an `aws:` target's endpoint is replaced by `endpoint`.
async fn drill(file: &str, endpoint: Option<&str>) -> (RunOutcome, tempfile::TempDir) {
    let mut loaded = drdrill::scenario::load(&repo(file)).unwrap();
    if let (Target::Aws(aws), Some(url)) = (&mut loaded.scenario.target, endpoint) {
        aws.endpoint_url = Some(url.to_string());
    }
    common::run_loaded(loaded, true).await.unwrap()
}

/// The container's ground truth, read over HTTP: `(t_unix_ms, serving)` of every
/// `serving` event.
async fn serving_events(endpoint: &str) -> Vec<(i64, bool)> {
    let body = common::get_json(&format!("{endpoint}/_drdrill/events")).await;
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "serving")
        .map(|e| (e["t_unix_ms"].as_i64().unwrap(), e["serving"].as_bool().unwrap()))
        .collect()
}

/// Ground-truth RTO: from injection to the first time the stack serves again after it
/// first stopped serving.
fn truth_rto_ms(serving: &[(i64, bool)], t_inject: i64) -> i64 {
    let (_, back) = common::serving_outage(serving, t_inject);
    back - t_inject
}

/// The container answers `/_localstack/health` on its published port like LocalStack,
/// and DescribeLoadBalancers/DescribeListeners report an address the host can reach: the
/// load balancer's published port, which serves the app through the container boundary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_container_health_and_reachable_load_balancer() {
    aws_env();
    let Some(stack) = start_or_skip("in_container_health_and_reachable_load_balancer").await else {
        return;
    };
    let endpoint = stack.endpoint_url();
    let health = common::get_json(&format!("{endpoint}/_localstack/health")).await;
    for service in ["fis", "elasticloadbalancing", "ec2", "rds", "sts"] {
        assert_eq!(health["services"][service], "running", "{health}");
    }

    let clients = drdrill::aws::Clients::aws("us-east-1", None, Some(&endpoint)).await;
    let lbs = clients
        .elb
        .describe_load_balancers()
        .names("drill-alb")
        .send()
        .await
        .unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.dns_name(), Some("127.0.0.1"));
    let listeners = clients
        .elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let port = listeners.listeners()[0].port().unwrap();
    assert_eq!(format!("http://127.0.0.1:{port}"), stack.load_balancer_url());

    // Through the published port to an instance inside the container; the load balancer
    // needs its first health checks, so retry for a bounded time.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let served_by = loop {
        match http.get(format!("{}/health", stack.load_balancer_url())).send().await {
            Ok(r) if r.status() == 200 => {
                break r.headers()["served-by"].to_str().unwrap().to_string();
            }
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "load balancer not serving: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert!(served_by.contains("us-east-1"), "served-by: {served_by}");
    stack.stop().await.unwrap();
}

/// The AZ power interruption drilled against the container (an `aws:` target, no
/// embedded stack) meets its objectives, measures an RTO within two probe intervals +
/// 100 ms of the container's own ground truth, and agrees with the embedded run of the
/// same scenario: no lost write in either, RTOs within 1.5 s of each other (one
/// health-check round and the failover's jitter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_container_drill_matches_ground_truth_and_embedded_run() {
    aws_env();
    let Some(stack) = start_or_skip("in_container_drill_matches_ground_truth_and_embedded_run").await else {
        return;
    };
    let endpoint = stack.endpoint_url();
    let (outcome, _dir) = drill("examples/container/az-power-interruption.yaml", Some(&endpoint)).await;
    assert!(
        outcome.ground_truth.is_none(),
        "the container run must not embed a stack"
    );
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.objectives);
    assert_eq!(r.exit_code, 0);
    assert!(r.probes.failed > 0, "the fault must be visible to the prober");
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    let measured = r.rto_ms.expect("recovered");
    let truth = truth_rto_ms(&serving_events(&endpoint).await, t_inject);
    let tolerance = 2 * PROBE_INTERVAL_MS + 100;
    assert!(
        (measured - truth).abs() <= tolerance,
        "container: measured RTO {measured} ms vs ground truth {truth} ms (tolerance {tolerance} ms)"
    );
    let loss = r.data_loss.as_ref().expect("verified");
    assert!(loss.acked_writes > 100, "acked {}", loss.acked_writes);
    assert_eq!(loss.lost_writes, 0);
    stack.stop().await.unwrap();

    let (embedded, _dir2) = drill("scenarios/az-power-interruption.yaml", None).await;
    let e = &embedded.report;
    assert_eq!(e.verdict, Verdict::Pass, "{:#?}", e.objectives);
    let embedded_rto = e.rto_ms.expect("embedded run recovered");
    let _ = writeln!(
        std::io::stderr(),
        "container RTO {measured} ms (its ground truth {truth} ms), embedded RTO {embedded_rto} ms"
    );
    assert!(
        (measured - embedded_rto).abs() <= 1500,
        "container RTO {measured} ms vs embedded RTO {embedded_rto} ms"
    );
    assert_eq!(e.data_loss.as_ref().expect("verified").lost_writes, loss.lost_writes);
}
