//! Open-loop prober against a real local HTTP server: schedule accuracy,
//! ack ledger and raw probe log, and behaviour while the target hangs.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use drdrill::traffic::{ConnectionPolicy, Prober, RunClock, PROBES_HEADER};
use support::traffic::{config, csv_rows, Mode, TestServer, SERIAL};
use support::wait::wait_for;

/// At 200/s for ~1 s the prober sends rate × duration requests (within 1%),
/// every probe succeeds (reads return what was written), every acknowledged
/// write is in the ledger and `acks.csv`, and `probes.csv` has one line per probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_on_schedule_and_logs_every_probe() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = RunClock::start();
    let cfg = config(server.base_url(), 200.0, ConnectionPolicy::Fresh);
    let handle = Prober::start(cfg, clock, dir.path()).expect("start prober");
    let live = handle.live();
    // The measured duration itself: one second of traffic.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcome = handle.stop().await;

    let duration_s = (outcome.stopped_unix_ms - outcome.started_unix_ms) as f64 / 1000.0;
    let expected = 200.0 * duration_s;
    let sent = outcome.probes.sent as f64;
    assert!(
        (sent - expected).abs() <= (expected * 0.01).max(2.0),
        "sent {sent}, expected {expected:.1} over {duration_s:.3} s"
    );
    assert_eq!(outcome.probes.failed, 0, "errors: {:?}", outcome.probes.buckets);
    assert_eq!(outcome.probes.ok, outcome.probes.sent);
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        outcome.probes.by_served_by.get("i-1/az-a/test-region"),
        Some(&outcome.probes.sent)
    );

    // The raw log has exactly one line per probe, each seq once.
    let log = outcome.probe_log.as_ref().expect("probe log");
    let header = std::fs::read_to_string(&log.probes_path).expect("read probes.csv");
    assert_eq!(header.lines().next(), Some(PROBES_HEADER));
    let rows = csv_rows(&log.probes_path);
    assert_eq!(rows.len() as u64, outcome.probes.sent);
    assert_eq!(log.probes_written, outcome.probes.sent);
    let seqs: HashSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(seqs.len(), rows.len());
    assert!(rows.iter().all(|r| r[8] == "ok"));

    // Every write was acknowledged, recorded once, and is on the server.
    let writes: HashSet<&str> = rows.iter().filter(|r| r[1] == "write").map(|r| r[2].as_str()).collect();
    let reads = rows.iter().filter(|r| r[1] == "read").count();
    assert!(reads > 50, "reads of acknowledged writes happened: {reads}");
    let all_acked = outcome.acks.read_all().expect("the ack list reads back whole");
    let acked: HashSet<&str> = all_acked.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(acked, writes);
    assert_eq!(server.stored(), writes.len());
    let ack_rows = csv_rows(&log.acks_path);
    assert_eq!(ack_rows.len(), outcome.acks.len());
    assert_eq!(all_acked.len(), outcome.acks.len());
    assert!(all_acked
        .iter()
        .all(|a| a.id.starts_with(&outcome.run_prefix) && a.acked_unix_ms >= a.scheduled_unix_ms));

    // The live view agrees with the final counts, and everything is settled.
    let last_bucket = outcome.probes.buckets.last().expect("buckets").start_unix_ms;
    assert!(live.settled_until_unix_ms() > last_bucket);
    let whole = live.totals();
    assert_eq!(
        (whole.sent, whole.ok, whole.completed),
        (outcome.probes.sent, outcome.probes.ok, outcome.probes.sent)
    );
    let in_buckets =
        |f: fn(&drdrill::traffic::Bucket) -> u32| outcome.probes.buckets.iter().map(|b| u64::from(f(b))).sum::<u64>();
    assert_eq!(
        (in_buckets(|b| b.sent), in_buckets(|b| b.ok)),
        (outcome.probes.sent, outcome.probes.ok)
    );
    assert_eq!(outcome.probes.latency.len(), outcome.probes.sent);
    assert_eq!(outcome.probes.schedule_lag.len(), outcome.probes.sent);
    let intervals: u64 = outcome.probes.latency_intervals.iter().map(|i| i.count).sum();
    assert_eq!(intervals, outcome.probes.sent);
}

/// While the server accepts but never answers, probes fail as timeouts that
/// are counted at their *scheduled* time and fire one timeout after it (not
/// later); the dispatcher keeps sending on schedule (lag p99 < 20 ms); and
/// the worst latency is the timeout, the order of the hang, not more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_yields_timeouts_at_their_scheduled_time() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = RunClock::start();
    let timeout = Duration::from_millis(300);
    let hang = Duration::from_millis(600);
    let mut cfg = config(server.base_url(), 200.0, ConnectionPolicy::Fresh);
    cfg.timeout = timeout;
    let handle = Prober::start(cfg, clock, dir.path()).expect("start prober");
    let live = handle.live();

    wait_for("40 healthy probes", Duration::from_secs(5), || async {
        live.totals().ok >= 40
    })
    .await;
    let hang_start = clock.now_unix_ms();
    server.set_mode(Mode::Hang);
    // Mid-hang, the probes sent since it began are unfinished: nothing after
    // the hang's start is settled yet, everything well before it is.
    tokio::time::sleep(hang / 2).await;
    let settled = live.settled_until_unix_ms();
    assert!(
        settled > hang_start - 100 && settled < hang_start + 50,
        "settled until {settled}, hang started at {hang_start}"
    );
    tokio::time::sleep(hang - hang / 2).await;
    server.set_mode(Mode::Normal);
    let hang_end = clock.now_unix_ms();
    let ok_at_hang_end = live.totals().ok;
    wait_for("40 healthy probes after the hang", Duration::from_secs(5), || async {
        live.totals().ok >= ok_at_hang_end + 40
    })
    .await;
    let outcome = handle.stop().await;

    // Only timeouts, all scheduled inside the hang (± one bucket and a little slack).
    let failures = outcome
        .probes
        .buckets
        .iter()
        .fold(drdrill::traffic::FailureCounts::default(), |mut acc, b| {
            acc.merge(&b.failures);
            acc
        });
    assert_eq!(failures.total(), u64::from(failures.timeout), "{failures:?}");
    let expected_timeouts = 200.0 * (hang_end - hang_start) as f64 / 1000.0;
    let timeouts = failures.timeout as f64;
    assert!(
        (timeouts - expected_timeouts).abs() <= expected_timeouts * 0.15,
        "{timeouts} timeouts, expected about {expected_timeouts}"
    );
    for bucket in outcome.probes.buckets.iter().filter(|b| b.timeouts() > 0) {
        assert!(
            bucket.start_unix_ms >= hang_start - 30 && bucket.start_unix_ms <= hang_end + 30,
            "timeout counted at {} outside the hang [{hang_start}, {hang_end}]",
            bucket.start_unix_ms
        );
    }

    // Each timeout fired one timeout after its send, which was on schedule.
    let rows = csv_rows(&outcome.probe_log.as_ref().expect("log").probes_path);
    let timeout_us = timeout.as_micros() as i64;
    for row in rows.iter().filter(|r| r[8] == "timeout") {
        let scheduled: i64 = row[3].parse().expect("scheduled");
        let done: i64 = row[5].parse().expect("done");
        let waited = done - scheduled;
        assert!(
            waited >= timeout_us && waited < timeout_us + 60_000,
            "timed out {waited} µs after its scheduled time"
        );
    }

    // The schedule never stalled: sending continued at the rate during the hang.
    let lag_p99 = outcome.probes.schedule_lag.value_at_quantile(0.99);
    assert!(lag_p99 < 20_000, "schedule lag p99 {lag_p99} µs");
    let during: u64 = outcome
        .probes
        .buckets
        .iter()
        .filter(|b| b.start_unix_ms >= hang_start && b.start_unix_ms < hang_end)
        .map(|b| u64::from(b.sent))
        .sum();
    let expected_sent = 200.0 * (hang_end - hang_start) as f64 / 1000.0;
    assert!(
        (during as f64 - expected_sent).abs() <= expected_sent * 0.05 + 2.0,
        "sent {during} during the hang, expected about {expected_sent}"
    );
    let max = outcome.probes.latency.max();
    assert!(
        max >= timeout.as_micros() as u64 && max < (timeout + Duration::from_millis(100)).as_micros() as u64,
        "latency max {max} µs"
    );
    assert!(outcome
        .probes
        .latency_intervals
        .iter()
        .any(|i| i.max_us >= timeout.as_micros() as u64));
    assert_eq!(outcome.probes.ok + outcome.probes.failed, outcome.probes.sent);
}

/// `probes.csv` is streamed while the prober runs (flushed at least every
/// 200 ms), not only written at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_log_is_streamed_during_the_run() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(server.base_url(), 100.0, ConnectionPolicy::Fresh);
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    let path = dir.path().join(drdrill::traffic::PROBES_FILE);
    wait_for("20 probe lines on disk", Duration::from_secs(2), || async {
        std::fs::read_to_string(&path).is_ok_and(|text| text.lines().count() > 20)
    })
    .await;
    let outcome = handle.stop().await;
    assert_eq!(csv_rows(&path).len() as u64, outcome.probes.sent);
}

/// Above ~1000/s the dispatcher sends the batch due at each wake: at 2000/s
/// with pooled connections the count still matches rate × duration within 1%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_rates_are_sent_in_batches_on_schedule() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(
        server.base_url(),
        2000.0,
        ConnectionPolicy::KeepAlive {
            max_age: Duration::from_secs(60),
        },
    );
    cfg.timeout = Duration::from_secs(2);
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcome = handle.stop().await;
    let duration_s = (outcome.stopped_unix_ms - outcome.started_unix_ms) as f64 / 1000.0;
    let expected = 2000.0 * duration_s;
    let sent = outcome.probes.sent as f64;
    assert!(
        (sent - expected).abs() <= expected * 0.01 + 2.0,
        "sent {sent}, expected {expected:.1} over {duration_s:.3} s"
    );
    assert_eq!(outcome.probes.ok + outcome.probes.failed, outcome.probes.sent);
}

/// A prober that keeps its schedule reports no late or dropped sends and a clean
/// measurement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_schedule_is_not_degraded() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(server.base_url(), 200.0, ConnectionPolicy::Fresh);
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    let live = handle.live();
    wait_for("100 probes", Duration::from_secs(5), || async {
        live.totals().ok >= 100
    })
    .await;
    let outcome = handle.stop().await;
    assert_eq!(outcome.dropped_sends, 0);
    assert_eq!(
        outcome.degraded(),
        None,
        "late {} of {}",
        outcome.probes.late_sends,
        outcome.probes.sent
    );
}

/// When the machine cannot run the prober (its only runtime thread is blocked for
/// 600 ms, as a saturated CPU would), the probes due meanwhile go out late, those beyond
/// the in-flight cap are dropped and counted, and the measurement says it is degraded.
#[tokio::test(flavor = "current_thread")]
async fn a_starved_prober_reports_late_and_dropped_sends() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rate = 1000.0;
    let mut cfg = config(server.base_url(), rate, ConnectionPolicy::Fresh);
    cfg.timeout = Duration::from_millis(100);
    let cfg_timeout = cfg.timeout;
    let cap = drdrill::traffic::max_in_flight(rate, cfg.timeout);
    let clock = RunClock::start();
    let handle = Prober::start(cfg, clock, dir.path()).expect("start prober");
    let live = handle.live();
    wait_for("50 probes before the stall", Duration::from_secs(5), || async {
        live.totals().ok >= 50
    })
    .await;
    // Block the prober's only thread: nothing of the prober can run meanwhile.
    handle
        .stall_for(Duration::from_millis(600))
        .await
        .expect("the stall ran on the prober's thread");
    wait_for("probes after the stall", Duration::from_secs(5), || async {
        live.totals().sent >= 800
    })
    .await;
    // A dropped probe is over as well: the settled time moves past the stall (it stayed
    // at the first dropped probe, and the live counters grew without end, before).
    let after_stall_ms = clock.now_unix_ms();
    wait_for("settled past the stall", Duration::from_secs(5), || async {
        live.settled_until_unix_ms() >= after_stall_ms
    })
    .await;
    let outcome = handle.stop().await;
    let (late, dropped) = (outcome.probes.late_sends, outcome.dropped_sends);
    // The probes due in the stall, but for those in its last late threshold, were late
    // by the time it ended: each was either sent late or dropped.
    let stall_ms = 600.0 - drdrill::traffic::late_threshold(rate).as_secs_f64() * 1000.0;
    let due_late = (stall_ms * rate / 1000.0) as u64;
    assert!(
        late + dropped >= due_late,
        "late {late} + dropped {dropped} < {due_late}"
    );
    // After the stall they go out in one burst until the cap is reached, less the probes
    // still running from before it: those were sent within one timeout, at most
    // rate × timeout of them.
    let before_stall = (rate * cfg_timeout.as_secs_f64()).ceil() as u64;
    assert!(late >= cap as u64 - before_stall, "late {late}, cap {cap}");
    assert!(dropped > 0, "dropped {dropped}");
    let why = outcome.degraded().expect("the measurement is degraded");
    assert!(why.contains("not sent") && why.contains("late"), "{why}");
}

/// The reads-only benchmark mode sends nothing but status-checked reads of its one id: no
/// write reaches the server, no ack is recorded, and a read the server answers 404 is a
/// failure (not a lost write, since nothing was written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_only_mode_sends_status_checked_reads_of_one_id() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start("i-1/az-a/test-region").await;
    server.put("seeded", "anything at all");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(server.base_url(), 200.0, ConnectionPolicy::Fresh);
    cfg.write_ratio = 0.0;
    cfg.reads_only_id = Some("seeded".into());
    let handle = Prober::start(cfg, RunClock::start(), dir.path()).expect("start prober");
    let live = handle.live();
    wait_for("100 probes answered", Duration::from_secs(5), || async {
        live.totals().completed >= 100
    })
    .await;
    server.forget("seeded");
    // Probes in flight when the id went may still come back 200: count the 404s.
    wait_for(
        "100 probes failed on the forgotten id",
        Duration::from_secs(5),
        || async { live.totals().failed >= 100 },
    )
    .await;
    let outcome = handle.stop().await;

    assert_eq!(server.stored(), 0, "no write reached the server");
    assert_eq!(outcome.acks.read_all().expect("acks").len(), 0);
    let rows = csv_rows(&outcome.probe_log.as_ref().expect("probe log").probes_path);
    assert_eq!(rows.len() as u64, outcome.probes.sent);
    assert!(
        rows.iter().all(|r| r[1] == "read" && r[2] == "seeded"),
        "{:?}",
        rows.first()
    );
    // Before the id was forgotten: 200s, ok whatever the body. After: 404s, failed.
    let ok = rows.iter().filter(|r| r[7] == "200" && r[8] == "ok").count();
    let not_found = rows.iter().filter(|r| r[7] == "404").collect::<Vec<_>>();
    assert!(ok >= 100, "ok {ok}");
    assert!(not_found.len() >= 100, "404s {}", not_found.len());
    assert!(
        not_found.iter().all(|r| r[8] != "ok" && r[8] != "missing"),
        "{:?}",
        not_found.first()
    );
    assert_eq!(outcome.probes.ok as usize, ok);
}
