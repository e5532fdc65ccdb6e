//! `summary.md`: what a CI step summary or PR comment shows.

mod report_common;

use report_common::report;

/// A run that lost writes: the verdict, a table row per objective with target and
/// measured value, data loss with the ids, the top failure reasons and the HTML link —
/// in few enough lines for a step summary.
#[test]
fn summary_of_a_failed_run_has_verdict_objectives_loss_and_link() {
    let r = report("db-failover-async");
    let md = drdrill::report::markdown::render(&r).unwrap();
    assert!(md.starts_with("### ❌ drdrill: db-failover-async — FAIL"), "{md}");
    assert!(md.contains("| RPO | ≤ 0 ms | 999 ms | ❌ fail"), "{md}");
    assert!(md.contains("| RTO | ≤ 10.00 s | 1.99 s | ✅ pass"), "{md}");
    assert!(md.contains("| lost writes | ≤ 0 | 70 | ❌ fail"), "{md}");
    assert!(md.contains("70 of 288 acknowledged writes lost"), "{md}");
    let first_id = &r.data_loss.as_ref().unwrap().lost_ids[0];
    assert!(md.contains(&format!("`{first_id}`")), "lost ids listed");
    assert!(md.contains("and 60 more"), "ids capped at 10: {md}");
    assert!(md.contains("**Top failure reasons**: status_5xx 201 (100%)"), "{md}");
    assert!(md.contains("[report.html](report.html)"));
    assert!(md.lines().count() < 40, "short: {} lines", md.lines().count());
    assert!(md.len() < 4096, "short: {} bytes", md.len());
}

/// The recovery breakdown lists the moments relative to the injection, in order.
#[test]
fn summary_has_the_recovery_breakdown() {
    let md = drdrill::report::markdown::render(&report("az-power-interruption")).unwrap();
    let line = md
        .lines()
        .find(|l| l.starts_with("**Recovery**"))
        .expect("recovery line");
    for part in [
        "fault injected (experiment running) +0.00 s",
        "load balancer marked a target unhealthy +0.93 s",
        "steady state back (recovered) +1.97 s",
        "experiment ended +8.00 s",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(!line.contains("DNS"), "no DNS row when no DNS observer reported");
}

/// A killed run says it is incomplete, where it stopped and why.
#[test]
fn summary_of_a_killed_run_is_marked_incomplete() {
    let md = drdrill::report::markdown::render(&report("killed-mid-fault")).unwrap();
    assert!(md.contains("ERROR"), "{md}");
    assert!(md.contains("**Incomplete run** (stopped in observe)"), "{md}");
    assert!(
        md.contains("was never seen to end"),
        "warns the experiment may run: {md}"
    );
    assert!(md.contains("No objectives were checked."));
}
