//! The restore drill end to end (`fault.restore`): `scenarios/backup-restore-*.yaml`
//! against the embedded local stack, the restore done by drdrill through the AWS Backup
//! API and the switch through FIS `aws:ssm:start-automation-execution`. The report's
//! restore job, recovery point and data age equal the ground truth's (AWS Backup's own
//! timestamps), its RTO is the ground truth's within 2 probe intervals + 50 ms (plus the
//! DNS TTL a client may still use), and the lost write ids are exactly the acknowledged
//! writes the recovery point lacks. The restore test (no disaster,
//! `backup-restore-test.yaml`) is checked the same way, its `t_inject` against the
//! restore job's creation and its lost writes against what the old database holds and
//! the restored one lacks at the end.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use drdrill::analysis::InjectSource;
use drdrill::run::{Drill, Interrupt, RunOptions, RunOutcome};
use drdrill::verdict::Verdict;
use drdrill_localstack::truth::{Truth, TruthEvent};

/// Probe interval of the restore scenarios (100/s), ms.
const INTERVAL_MS: i64 = 10;
/// TTL of the stack's alias answers, ms.
const TTL_MS: i64 = 1_000;
/// AWS Backup's timestamps travel as epoch seconds with fractions: at most this far
/// from the ground truth's milliseconds after the round trip.
const TIMESTAMP_MS: i64 = 1;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

/// The ground truth's completed restore job: (id, recovery point, its creation, job
/// created, job completed, data age, lost ids).
struct TruthRestore {
    job: String,
    recovery_point: String,
    rp_created: i64,
    created: i64,
    completed: i64,
    data_age: i64,
    lost: Vec<String>,
}

fn truth_restore(truth: &[TruthEvent]) -> TruthRestore {
    let completed: Vec<&Truth> = truth
        .iter()
        .map(|e| &e.what)
        .filter(|w| matches!(w, Truth::RestoreJob { phase, .. } if phase == "completed"))
        .collect();
    assert_eq!(completed.len(), 1, "one restore job completed: {completed:?}");
    let Truth::RestoreJob {
        restore_job_id,
        recovery_point_arn,
        recovery_point_created_unix_ms,
        created_unix_ms,
        completed_unix_ms,
        data_age_ms,
        lost_write_ids,
        ..
    } = completed[0]
    else {
        unreachable!()
    };
    let mut lost = lost_write_ids.clone();
    lost.sort();
    TruthRestore {
        job: restore_job_id.clone(),
        recovery_point: recovery_point_arn.clone(),
        rp_created: *recovery_point_created_unix_ms,
        created: *created_unix_ms,
        completed: completed_unix_ms.expect("completed"),
        data_age: data_age_ms.expect("data age"),
        lost,
    }
}

fn near(measured: i64, truth: i64, within: i64, what: &str) {
    assert!(
        (measured - truth).abs() <= within,
        "{what}: measured {measured} vs ground truth {truth} (within {within})"
    );
}

/// Checks what every restore drill reports of its restore against the ground truth
/// (job, recovery point, AWS Backup's times, data age, every format); returns the
/// ground truth's restore.
fn check_restore(outcome: &RunOutcome) -> TruthRestore {
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Pass, "{:?} {:#?}", r.reason, r.objectives);
    let truth = outcome.ground_truth.as_ref().expect("ground truth");
    let t = truth_restore(truth);
    let d = r.restore.as_ref().expect("the report shows the restore");
    assert_eq!(d.restore_job_id, t.job);
    assert_eq!(d.recovery_point_arn, t.recovery_point);
    assert_eq!(d.status.as_ref().map(|s| s.as_str()), Some("COMPLETED"));
    assert_eq!(d.switch_status.as_ref().map(|s| s.as_str()), Some("completed"));
    near(
        d.recovery_point_creation_unix_ms,
        t.rp_created,
        TIMESTAMP_MS,
        "recovery point CreationDate",
    );
    near(
        d.job_creation_unix_ms.unwrap(),
        t.created,
        TIMESTAMP_MS,
        "restore job CreationDate",
    );
    near(
        d.job_completion_unix_ms.unwrap(),
        t.completed,
        TIMESTAMP_MS,
        "restore job CompletionDate",
    );
    near(d.data_age_ms.unwrap(), t.data_age, 2 * TIMESTAMP_MS, "data age");
    // The restore time as reported (AWS Backup's own times) is the ground truth's.
    near(
        d.restore_job_ms.unwrap(),
        t.completed - t.created,
        2 * TIMESTAMP_MS,
        "restore job duration",
    );
    // Every format shows the restore job and the recovery point.
    for f in ["summary.md", "report.html", "junit.xml"] {
        let text = std::fs::read_to_string(outcome.run_dir.join(f)).unwrap_or_default();
        assert!(
            text.contains(&t.job) && text.contains(&t.recovery_point),
            "{f} shows the restore"
        );
    }
    t
}

/// Checks one restore drill after a disaster against the ground truth.
fn check(outcome: &RunOutcome) {
    let t = check_restore(outcome);
    let r = &outcome.report;
    let truth = outcome.ground_truth.as_ref().expect("ground truth");
    // The breakdown orders detection → restore job → switch → serving.
    let b = r
        .rto_breakdown
        .as_ref()
        .and_then(|b| b.restore)
        .expect("restore breakdown");
    let steps = [
        b.detected_ms.unwrap(),
        b.restore_job_created_ms.unwrap(),
        b.restore_job_completed_ms.unwrap(),
        b.switch_finished_ms.unwrap(),
    ];
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    let measured = r.rto_ms.expect("recovered");
    let expected = common::entry_rto_ms(truth, t_inject);
    let tolerance = 2 * INTERVAL_MS + 50;
    assert!(
        measured >= expected - tolerance && measured <= expected + TTL_MS + tolerance,
        "measured RTO {measured} ms vs ground truth {expected} ms"
    );
    // Lost writes: exactly the acknowledged writes the recovery point lacks.
    let loss = r.data_loss.as_ref().expect("verified");
    common::assert_lost_writes(&outcome.run_dir, &loss.lost_ids, &t.lost, "restore drill");
    assert!(
        !loss.lost_ids.is_empty(),
        "the writes after the recovery point are lost"
    );
}

/// The last [`Truth::DatabaseContents`] of `region`: the ids its database holds once the
/// drill's probes stopped.
fn contents(truth: &[TruthEvent], region: &str) -> BTreeSet<String> {
    truth
        .iter()
        .filter(|e| e.region.as_deref() == Some(region))
        .filter_map(|e| match &e.what {
            Truth::DatabaseContents { write_ids, .. } => Some(write_ids.iter().cloned().collect()),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| panic!("the ground truth has {region}'s database contents"))
}

/// The restore test: no disaster, the restore job started after the baseline and the
/// app switched to us-west-2. Its `t_inject` is the restore job's creation per the
/// ground truth (within the StartRestoreJob call that bounds the clock offset); the app
/// never stopped serving, so the RTO is 0 (within the probe interval's bound); the data
/// age when serving again is dated from the switch's end; and the lost writes are
/// exactly the acknowledged writes after the recovery point: what us-east-1's database
/// holds at the end and the restored us-west-2 database lacks (clients keep writing to
/// us-east-1 after the restore started, and until their DNS answer expires after the
/// switch), restricted to the acknowledged ones — the ground truth counts what the old
/// database committed, so a write in flight when the probes stopped may be committed
/// yet never acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_test_without_disaster_matches_ground_truth() {
    let (outcome, _dir) = common::run_scenario(&scenario("backup-restore-test.yaml")).await;
    let t = check_restore(&outcome);
    let r = &outcome.report;
    let truth = outcome.ground_truth.as_ref().expect("ground truth");
    assert!(r.experiment.is_none(), "no disaster experiment: {:?}", r.experiment);
    assert_eq!(r.t_inject_source, Some(InjectSource::RestoreJobCreation));
    let u = r.uncertainty.expect("uncertainty");
    let t_inject = r.t_inject_unix_ms.expect("t_inject");
    near(
        t_inject,
        t.created,
        (u.clock_offset_ms + u.t_inject_ms).ceil() as i64 + TIMESTAMP_MS,
        "t_inject vs the restore job's creation",
    );
    let d = r.restore.as_ref().expect("restore");
    assert_eq!(d.detected_unix_ms, None, "nothing to detect");
    let b = r
        .rto_breakdown
        .as_ref()
        .and_then(|b| b.restore)
        .expect("restore breakdown");
    assert_eq!(b.detected_ms, None);
    let steps = [
        b.restore_job_created_ms.unwrap(),
        b.restore_job_completed_ms.unwrap(),
        b.switch_finished_ms.unwrap(),
    ];
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
    // The entry name never stopped serving after the restore began: RTO 0.
    let stopped = truth
        .iter()
        .any(|e| e.t_unix_ms >= t_inject && matches!(e.what, Truth::EntryServing { serving: false, .. }));
    assert!(!stopped, "the entry kept serving through the restore test");
    let measured = r.rto_ms.expect("RTO");
    assert!(
        (0..=2 * INTERVAL_MS + 50).contains(&measured),
        "measured RTO {measured} ms, the ground truth's is 0"
    );
    let switched = d.switch_finished_unix_ms.expect("switch finished");
    assert_eq!(
        d.data_age_at_serving_ms,
        Some(switched - d.recovery_point_creation_unix_ms),
        "no outage: the restored data is served from the switch's end on"
    );
    // Lost writes: what us-east-1's database holds that the restored one lacks.
    let east = contents(truth, "us-east-1");
    let west = contents(truth, "us-west-2");
    let truth_lost: BTreeSet<String> = east.difference(&west).cloned().collect();
    let restore_start_lost: BTreeSet<String> = t.lost.iter().cloned().collect();
    assert!(
        restore_start_lost.is_subset(&truth_lost),
        "what the recovery point lacked when the restore started stays lost"
    );
    let loss = r.data_loss.as_ref().expect("verified");
    assert!(
        !loss.lost_ids.is_empty(),
        "the writes after the recovery point are lost"
    );
    let truth_lost: Vec<String> = truth_lost.into_iter().collect();
    common::assert_lost_writes(&outcome.run_dir, &loss.lost_ids, &truth_lost, "restore test");
    // The breakdown names the restore test's start and leaves out the moments only a
    // disaster has (its detection, its experiment's end).
    for f in ["summary.md", "report.html"] {
        let text = std::fs::read_to_string(outcome.run_dir.join(f)).unwrap_or_default();
        assert!(text.contains("restore test started"), "{f}: {text}");
        assert!(
            !text.contains("probes saw the outage") && !text.contains("experiment ended"),
            "{f} shows no disaster moments: {text}"
        );
    }
}

/// The regional outage, restored through AWS Backup by drdrill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_outage_restore_matches_ground_truth() {
    let (outcome, _dir) = common::run_scenario(&scenario("backup-restore-region-outage.yaml")).await;
    check(&outcome);
}

/// The lost database (its subnets black-holed), restored through AWS Backup by drdrill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_database_restore_matches_ground_truth() {
    let (outcome, _dir) = common::run_scenario(&scenario("backup-restore-single-database.yaml")).await;
    check(&outcome);
}

/// A recovery point that does not exist fails the run as soon as the restore step looks
/// for it (not when the 20 s outage ends): an error naming it, no restore in the report,
/// and the disaster experiment stopped by cleanup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_recovery_point_fails_the_run_at_once() {
    let path = scenario("backup-restore-region-outage.yaml");
    let bogus = "arn:aws:rds:us-west-2:000000000000:snapshot:awsbackup:job-does-not-exist";
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "recovery_point: latest",
        &format!("recovery_point: \"{bogus}\""),
        1,
    );
    let loaded = drdrill::scenario::load_str(&path, &text).unwrap();
    let (outcome, _dir) = common::run_loaded(loaded, false).await.unwrap();
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Error);
    let reason = r.reason.clone().unwrap_or_default();
    assert!(
        reason.contains(bogus) && reason.contains("no COMPLETED recovery point"),
        "{reason}"
    );
    assert!(r.restore.is_none());
    let t_inject = r.t_inject_unix_ms.expect("injected");
    let exp = r.experiment.as_ref().expect("experiment");
    assert_eq!(exp.status.as_str(), "stopped", "{exp:?}");
    let ended = exp.end_unix_ms.expect("ended");
    assert!(
        ended - t_inject < 15_000,
        "the run ended {} ms after injection",
        ended - t_inject
    );
}

/// A restore test interrupted (as by SIGINT) while its switch experiment runs ends
/// `aborted` with no disaster experiment in the report (none invented), the restore job
/// it started in the report, and cleanup stopping the switch experiment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_restore_test_stops_the_switch() {
    let loaded = drdrill::scenario::load(&scenario("backup-restore-test.yaml")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_dir: out.path().to_path_buf(),
        yes: false,
        quiet: true,
    };
    let interrupt = Interrupt::new();
    let run = tokio::spawn(drdrill::run::run(Drill::new(loaded, &opts), interrupt.clone()));
    // The switch takes over a second (the instances boot): wait, bounded, until the
    // journal says it started, then interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !journal(out.path()).contains("\"switch_started\"") {
        assert!(std::time::Instant::now() < deadline, "the switch never started");
        assert!(!run.is_finished(), "the run ended before its switch started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    interrupt.trigger("SIGINT");
    let outcome = run.await.unwrap().unwrap();
    let r = &outcome.report;
    assert_eq!(r.verdict, Verdict::Aborted, "{:?}", r.reason);
    assert!(r.experiment.is_none(), "{:?}", r.experiment);
    assert!(r.restore.is_some(), "the restore job started is reported");
    assert!(r.t_inject_unix_ms.is_some());
    let text = journal(out.path());
    assert!(text.contains("stopping the switch experiment"), "{text}");
    assert!(
        text.contains("the switch experiment") && text.contains("ended stopped"),
        "the switch experiment was stopped: {text}"
    );
}

/// The journal (`events.jsonl`) of the one run folder under `out`, or "" before it exists.
fn journal(out: &std::path::Path) -> String {
    std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("events.jsonl"))
        .find(|p| p.exists())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}
