//! The four DR strategies under the same regional outage, end to end: the shipped game day
//! `scenarios/gameday-strategies.yaml` runs `scenarios/backup-restore-region-outage.yaml`
//! (a restore drill: drdrill restores through the AWS Backup API) and each
//! `scenarios/region-failover-<strategy>.yaml` of the other strategies (the app reached by
//! its Route 53 name through the local stack's DNS server); each
//! run's RTO, lost writes and RPO are compared to its stack's ground truth, and the game
//! day's comparison table orders the strategies.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use drdrill::report::PublishOptions;
use drdrill::run::{Interrupt, RunOptions, RunOutcome};
use drdrill::verdict::Verdict;
use drdrill_localstack::truth::{Truth, TruthEvent};

/// Probe interval of the shipped region scenarios (100/s), ms.
const INTERVAL_MS: i64 = 10;
/// TTL of the strategy stacks' alias answers, ms: a client may use the old answer that long.
const TTL_MS: i64 = 1_000;

/// The ids the ground truth says the region failover or the completed restore job lost
/// (none without one).
fn truth_lost(truth: &[TruthEvent]) -> Vec<String> {
    let mut ids: Vec<String> = truth
        .iter()
        .filter_map(|e| match &e.what {
            Truth::RegionFailover { lost_write_ids, .. } => Some(lost_write_ids.clone()),
            Truth::RestoreJob {
                phase, lost_write_ids, ..
            } if phase == "completed" => Some(lost_write_ids.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    ids.sort();
    ids
}

/// What one strategy's drill measured.
struct Measured {
    strategy: &'static str,
    rto_ms: i64,
    rpo_ms: i64,
}

/// Checks one strategy's drill against the ground truth: it passes its own objectives,
/// the measured RTO is within 2 probe intervals + 50 ms of the truth (plus the DNS TTL a
/// client may still use the old answer for), and the lost writes are exactly the ones the
/// truth names.
fn check(strategy: &'static str, outcome: &RunOutcome) -> Measured {
    let scenario = match strategy {
        "backup-restore" => "backup-restore-region-outage".to_string(),
        _ => format!("region-failover-{strategy}"),
    };
    assert_eq!(outcome.report.scenario.name, scenario);
    let r = &outcome.report;
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{strategy}: {:?} {:#?}",
        r.reason,
        r.objectives
    );
    let truth = outcome.ground_truth.as_ref().expect("ground truth");
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    let measured = r.rto_ms.expect("recovered");
    let expected = common::entry_rto_ms(truth, t_inject);
    let tolerance = 2 * INTERVAL_MS + 50;
    // With weighted answers (active-active) one client holds one region's address for a
    // TTL at a time, so it may never meet the failed region: its RTO can be anything
    // from 0 up to the truth's plus the TTL.
    let lower = if strategy == "active-active" {
        0
    } else {
        expected - tolerance
    };
    assert!(
        measured >= lower && measured <= expected + TTL_MS + tolerance,
        "{strategy}: measured RTO {measured} ms vs ground truth {expected} ms (allowed {lower}..={} ms)",
        expected + TTL_MS + tolerance
    );
    let loss = r.data_loss.as_ref().expect("verified");
    common::assert_lost_writes(&outcome.run_dir, &loss.lost_ids, &truth_lost(truth), strategy);
    let b = r.rto_breakdown.as_ref().expect("breakdown");
    assert!(
        b.health_check_failed_ms.is_some(),
        "{strategy}: detection observed: {b:?}"
    );
    assert!(b.dns_changed_ms.is_some(), "{strategy}: DNS change observed: {b:?}");
    Measured {
        strategy,
        rto_ms: measured,
        rpo_ms: loss.rpo_ms,
    }
}

/// The shipped strategy game day finishes in under 5 minutes; under the same regional
/// outage, measured RTO orders backup-restore > pilot-light > warm-standby > active-active
/// and measured RPO orders backup-restore above the replication-based strategies, in each
/// run and in the game day's comparison table; every figure matches the ground truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategy_game_day_orders_by_measured_rto_and_rpo() {
    let plan = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/gameday-strategies.yaml");
    let loaded = drdrill::gameday::load(&plan).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_dir: out.path().to_path_buf(),
        yes: false,
        quiet: true,
    };
    let started = Instant::now();
    let outcome = drdrill::gameday::run(loaded, &opts, &PublishOptions::default(), Interrupt::new(), &mut |_| {})
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(300), "the strategy game day took {took:?}");
    let strategies = ["backup-restore", "pilot-light", "warm-standby", "active-active"];
    assert_eq!(outcome.runs.len(), strategies.len());
    let m: Vec<Measured> = strategies.iter().zip(&outcome.runs).map(|(s, o)| check(s, o)).collect();
    for pair in m.windows(2) {
        assert!(
            pair[0].rto_ms > pair[1].rto_ms,
            "RTO of {} ({} ms) must exceed {} ({} ms)",
            pair[0].strategy,
            pair[0].rto_ms,
            pair[1].strategy,
            pair[1].rto_ms
        );
    }
    for other in &m[1..] {
        assert!(
            m[0].rpo_ms > other.rpo_ms,
            "RPO of backup-restore ({} ms) must exceed {} ({} ms)",
            m[0].rpo_ms,
            other.strategy,
            other.rpo_ms
        );
    }
    assert_eq!(m[3].rpo_ms, 0, "active-active loses nothing");
    // The comparison table shows the same numbers, with each stack's standing cost.
    let g = &outcome.report;
    assert_eq!(g.verdict, Verdict::Pass);
    for (row, measured) in g.rows.iter().zip(&m) {
        let st = row.strategy.as_ref().expect("the strategy stack states its cost");
        assert_eq!(st.name, measured.strategy);
        assert_eq!(row.rto_ms, Some(measured.rto_ms));
        assert_eq!(row.rpo_ms, Some(measured.rpo_ms));
        assert!(row.detection_ms.is_some() && row.failover_ms.is_some(), "{row:?}");
    }
    let costs: Vec<f64> = g
        .rows
        .iter()
        .map(|r| r.strategy.as_ref().unwrap().usd_per_month)
        .collect();
    assert!(costs.windows(2).all(|w| w[0] < w[1]), "standing cost rises: {costs:?}");
    let summary = std::fs::read_to_string(outcome.dir.join("summary.md")).unwrap();
    for s in strategies {
        assert!(summary.contains(s), "{s} in the table: {summary}");
    }
}
