//! `summary.md`: what a CI step summary or PR comment shows.

mod support;

use support::fixtures::report;

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
        "load balancer took a target out of service +0.93 s",
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

/// A run whose prober could not keep its schedule says so in the summary, the HTML page
/// and the one-line probe totals, so nobody reads its RTO as clean.
#[test]
fn a_degraded_measurement_is_flagged_everywhere() {
    let mut r = report("az-power-interruption");
    let why = "120 probes not sent: 264 were still in flight (the machine could not keep up)";
    r.measurement_degraded = Some(why.into());
    r.probes.dropped_sends = 120;
    r.probes.late_sends = 300;
    r.probes.late_threshold_ms = 20.0;
    let md = drdrill::report::markdown::render(&r).unwrap();
    assert!(md.contains(&format!("**Measurement degraded**: {why}")), "{md}");
    assert!(md.contains("300 late (> 20 ms), 120 dropped"), "{md}");
    let html = drdrill::report::html::render(&r).unwrap();
    assert!(
        html.contains("id=\"degraded\"") && html.contains(why),
        "banner in the page"
    );
    let clean = drdrill::report::markdown::render(&report("az-power-interruption")).unwrap();
    assert!(!clean.contains("Measurement degraded"), "no banner for a clean run");
}

/// `report.json` is replaced atomically: after a write the folder holds the new report
/// and no temporary file, and a report that cannot be written leaves the old one intact.
#[test]
fn report_json_is_written_atomically() {
    let (_tmp, dir) = support::fixtures::copy_fixture("az-power-interruption");
    let mut r = report("az-power-interruption");
    r.run_id = "rewritten".into();
    let path = r.write(&dir).unwrap();
    let back: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back["run_id"], "rewritten");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A directory in the way of the temporary file's rename target makes the write fail.
    let blocked = dir.join("blocked");
    std::fs::create_dir_all(blocked.join("report.json")).unwrap();
    assert!(r.write(&blocked).is_err());
    assert!(blocked.join("report.json").is_dir(), "nothing replaced");
    assert_eq!(
        std::fs::read_dir(&blocked).unwrap().count(),
        1,
        "no temporary file left"
    );
}
