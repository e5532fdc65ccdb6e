//! End to end: drills whose app is reached by a Route 53 name through the embedded local
//! stack's DNS server (real DNS over UDP/TCP, real sockets), with the measured numbers and
//! the observers' events compared to the stack's ground truth.

mod common;

use std::path::PathBuf;

use drdrill::run::RunOutcome;
use drdrill::verdict::Verdict;
use drdrill_localstack::truth::Truth;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

async fn run(name: &str) -> (RunOutcome, tempfile::TempDir) {
    common::run_scenario(&scenario(name)).await
}

fn truth(outcome: &RunOutcome) -> &[drdrill_localstack::truth::TruthEvent] {
    outcome.ground_truth.as_deref().expect("embedded stack ground truth")
}

/// Ground truth: when the load balancer stopped serving after injection, and when it
/// served again.
fn truth_outage(outcome: &RunOutcome, t_inject: i64) -> (i64, i64) {
    common::serving_outage(&common::lb_serving(truth(outcome)), t_inject)
}

/// The journal on disk, one JSON value per line.
fn journal(outcome: &RunOutcome) -> Vec<serde_json::Value> {
    std::fs::read_to_string(outcome.run_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_kind<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// An AZ power interruption probed through `lb.drill.test` (an alias to the load balancer)
/// passes; the probes went to `http://lb.drill.test:<port>`; the RTO is within 2 probe
/// intervals + 80 ms of the ground truth; the DNS observer journaled the name's answer
/// (the load balancer's address) and nothing changed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_power_through_route53_name_matches_ground_truth() {
    let (outcome, _dir) = run("az-power-dns.yaml").await;
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Pass, "{:?} {:#?}", r.reason, r.objectives);
    let plan = r.plan.as_ref().expect("plan");
    let base_url = plan["dns"]["base_url"].as_str().expect("dns entry in the plan");
    let port = plan["load_balancer"]["port"].as_i64().unwrap();
    assert_eq!(base_url, format!("http://lb.drill.test:{port}"));
    assert_eq!(plan["dns"]["resolver"], "local");
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    let measured = r.rto_ms.expect("recovered");
    let (_, back) = truth_outage(&outcome, t_inject);
    let truth_rto = back - t_inject;
    let tolerance = 2 * 10 + 80;
    assert!(
        (measured - truth_rto).abs() <= tolerance,
        "measured RTO {measured} ms vs ground truth {truth_rto} ms (tolerance {tolerance} ms)"
    );
    assert_eq!(r.data_loss.as_ref().expect("verified").lost_writes, 0);
    assert!(r.probes.failed > 0, "the fault must be visible to the prober");
    let events = journal(&outcome);
    let dns = of_kind(&events, "dns_answer_changed");
    assert_eq!(dns.len(), 1, "only the first answer: {dns:?}");
    assert_eq!(dns[0]["name"], "lb.drill.test");
    assert_eq!(
        dns[0]["answers"],
        serde_json::json!([plan["load_balancer"]["dns_name"]])
    );
    let b = r.rto_breakdown.as_ref().expect("breakdown");
    assert_eq!((b.health_check_failed_ms, b.dns_changed_ms), (None, None));
}

/// Every instance down: the Route 53 health check fails (detection), `app.drill.test`
/// fails over to its SECONDARY and back (failover), and the run recovers once the answer
/// points at the load balancer again. The observers' events are in `events.jsonl` and
/// `report.json`, at the ground truth's moments; the breakdown orders detection ≤ failover
/// ≤ recovery; the measured recovery follows the DNS answer's return within TTL + max
/// connection age; the summary shows detection / failover / recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_failover_is_detected_followed_and_broken_down() {
    let (outcome, _dir) = run("lb-down-dns-failover.yaml").await;
    let r = &outcome.report;
    assert!(r.complete, "{:?}", r.reason);
    assert_eq!(r.verdict, Verdict::Pass, "{:?} {:#?}", r.reason, r.objectives);
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    let plan = r.plan.as_ref().expect("plan");
    assert_eq!(plan["dns"]["route53"]["health_check_ids"], serde_json::json!(["hc-lb"]));
    let lb_ip = plan["load_balancer"]["dns_name"].as_str().unwrap().to_string();

    // The journal has both observers' view, and report.json carries it too.
    let events = journal(&outcome);
    let checks = of_kind(&events, "route53_health_check");
    let statuses: Vec<&str> = checks.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"healthy"), "{checks:?}");
    assert!(statuses.contains(&"unhealthy"), "{checks:?}");
    assert_eq!(statuses.last(), Some(&"healthy"), "{checks:?}");
    let dns = of_kind(&events, "dns_answer_changed");
    let answers: Vec<String> = dns
        .iter()
        .map(|e| e["answers"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answers.first(), Some(&lb_ip), "{dns:?}");
    assert!(answers.contains(&"127.0.62.1".to_string()), "{dns:?}");
    assert_eq!(answers.last(), Some(&lb_ip), "{dns:?}");
    assert!(
        dns[0]["previous"].is_null() && dns[1]["previous"][0] == lb_ip.as_str(),
        "{dns:?}"
    );
    for kind in ["route53_health_check", "dns_answer_changed"] {
        assert!(r.events.iter().any(|e| e.name() == kind), "report.json lacks {kind}");
    }

    // At the ground truth's moments (observers poll every 100 ms).
    let truth = truth(&outcome);
    let hc_down = truth
        .iter()
        .find(|e| matches!(&e.what, Truth::HealthCheckStatus { to, .. } if to == "unhealthy"))
        .expect("truth: the health check failed");
    let flips: Vec<i64> = truth
        .iter()
        .filter(|e| e.t_unix_ms >= t_inject)
        .filter(|e| matches!(&e.what, Truth::DnsAnswer { name, record_type, .. } if name == "app.drill.test." && record_type == "A"))
        .map(|e| e.t_unix_ms)
        .collect();
    let (Some(&away), Some(&back)) = (flips.first(), flips.last()) else {
        panic!("truth: the answer never changed");
    };
    assert!(
        flips.len() >= 2 && flips.len().is_multiple_of(2),
        "truth: away and back, got {flips:?}"
    );
    let b = r.rto_breakdown.as_ref().expect("breakdown");
    let detected = t_inject + b.health_check_failed_ms.expect("health_check_failed_ms");
    let failed_over = t_inject + b.dns_changed_ms.expect("dns_changed_ms");
    let within = |what: &str, seen: i64, at: i64| {
        assert!(
            (at - 20..=at + 400).contains(&seen),
            "{what}: observed {} ms after the ground truth",
            seen - at
        );
    };
    within("health check failed", detected, hc_down.t_unix_ms);
    within("DNS answer changed", failed_over, away);
    let recovered = t_inject + b.recovered_ms.expect("recovered");
    assert!(detected <= failed_over + 100 && failed_over < recovered, "{b:?}");

    // Recovery follows the answer's return within TTL (1 s) + max age (1 s), and not before.
    let (_, lb_back) = truth_outage(&outcome, t_inject);
    assert!(
        back >= lb_back,
        "the name points back only once the load balancer serves"
    );
    assert!(
        (back - 100..=back + 1_000 + 1_000 + 300).contains(&recovered),
        "recovered {} ms after the answer returned to the load balancer",
        recovered - back
    );
    assert_eq!(r.rto_ms, Some(recovered - t_inject));
    assert_eq!(r.data_loss.as_ref().expect("verified").lost_writes, 0);

    let summary = drdrill::report::summary_text(r, &outcome.run_dir);
    assert!(
        summary.contains("health check failed +") && summary.contains("failover: DNS answer changed +"),
        "{summary}"
    );
    let markdown = std::fs::read_to_string(outcome.run_dir.join("summary.md")).unwrap();
    assert!(
        markdown.contains("Route 53 health check failed (detection)")
            && markdown.contains("DNS answer changed (failover)"),
        "{markdown}"
    );
    let html = std::fs::read_to_string(outcome.run_dir.join("report.html")).unwrap();
    assert!(html.contains("DNS answer changed (failover)"));
}
