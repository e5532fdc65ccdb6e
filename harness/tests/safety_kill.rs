//! Fault hygiene under random kills: many short drills against ONE local stack (reached
//! by the `drdrill` binary as an `aws:` target, so faults outlive the harness), each
//! killed at a random point with SIGKILL, SIGINT or SIGTERM. After each, no experiment is
//! running and no fault is in effect (ground truth), directly for SIGINT/SIGTERM and
//! after `drdrill cleanup` for SIGKILL, and the journal on disk is intact.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drdrill::journal::{EventKind, Journal};
use support::bin::*;
use support::scenario::*;
use support::stack::*;

/// Trials run; at least 50.
const TRIALS: usize = 54;

/// A drill of about two seconds: tiny baseline, a one-second fault (one AZ's app
/// instances stopped and its app subnet black-holed), short recovery.
fn scenario() -> String {
    Drill::quick("kill-trial", "kill trial", "kill-trial.json", "30s").yaml()
}

fn template() -> String {
    stop_and_cut_az_template(
        "Stop one AZ's app instances and black-hole its app subnet for a second",
        "PT1S",
    )
}

/// Where in a run the kill is aimed: a journal line to wait for (none: the start).
const ANCHORS: &[(&str, Option<&str>)] = &[
    ("start", None),
    ("preflight", Some("\"phase\":\"preflight\"")),
    ("inject", Some("\"phase\":\"inject\"")),
    ("started", Some("\"kind\":\"experiment_started\"")),
    ("running", Some("\"status\":\"running\"")),
    ("recover", Some("\"phase\":\"recover\"")),
    ("verify", Some("\"phase\":\"verify\"")),
];

/// The anchor of the running fault.
const RUNNING_ANCHOR: (&str, Option<&str>) = ("running", Some("\"status\":\"running\""));

/// A tiny deterministic xorshift64 generator.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

/// What a journal (read when the signal was sent) says the run was doing.
fn phase_at_kill(events: &[drdrill::journal::Event]) -> &'static str {
    let mut at = "before the journal";
    for e in events {
        at = match &e.kind {
            EventKind::RunStarted { .. } => "connect",
            EventKind::PhaseStarted { phase } => match phase {
                drdrill::journal::Phase::Preflight => "preflight",
                drdrill::journal::Phase::Inject => "inject",
                drdrill::journal::Phase::Observe => "fault running",
                drdrill::journal::Phase::Recover => "recover",
                drdrill::journal::Phase::Verify => "verify",
                drdrill::journal::Phase::Report => "report",
            },
            EventKind::ExperimentStarted { .. } if at == "inject" => "experiment starting",
            EventKind::RunFinished { .. } => "finished",
            _ => at,
        };
    }
    at
}

/// Kills the harness at random points of 54 short runs (SIGKILL, SIGINT and SIGTERM in
/// turn, aimed at random phases — every fourth at the running fault — plus random
/// jitter) against one local stack. After each
/// trial no experiment is unfinished, every fault applied was reverted, no subnet is
/// black-holed, the stack serves again and no drdrill template is left — for SIGKILL
/// after `drdrill cleanup`, which must exit 0 and name what it stopped — and the journal
/// reads back whole (no torn line); a run that was interrupted writes a report with
/// `complete: false`, and one that was SIGKILLed has no `run_finished` event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_leave_no_fault_behind() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&fast_stack(dir.path())).await;
    let file = write_scenario(
        dir.path(),
        &scenario(),
        &aws_target(&ls.endpoint_url(), "000000000000"),
        &[("kill-trial.json", &template())],
    );
    let seed = std::env::var("DRDRILL_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill trials: seed {seed} (DRDRILL_KILL_SEED reproduces the schedule)");
    let mut rng = XorShift(seed);
    let mut at_kill: BTreeMap<String, usize> = BTreeMap::new();
    let mut exits: BTreeMap<String, usize> = BTreeMap::new();
    for trial in 0..TRIALS {
        let sig = ["KILL", "INT", "TERM"][trial % 3];
        // Every fourth trial (each signal in turn, 4 and 3 being coprime) is aimed at the
        // running fault, so that enough kills land in it whatever the draw; the others
        // are aimed at random phases.
        let pick = rng.below(ANCHORS.len() as u64) as usize;
        let (anchor, needle) = if trial % 4 == 0 { RUNNING_ANCHOR } else { ANCHORS[pick] };
        let jitter = Duration::from_millis(rng.below(if needle.is_none() { 1500 } else { 400 }));
        let what = format!("trial {trial} (SIG{sig} at {anchor} + {jitter:?})");
        let out = dir.path().join(format!("trial-{trial:02}"));
        let mut child = spawn_run(&file, &out, &[]);
        if let Some(needle) = needle {
            wait_journal(&mut child, &out, needle, Duration::from_secs(60)).await;
        }
        tokio::time::sleep(jitter).await;
        // What the run had done when the signal left (the journal is flushed per event).
        let at_signal: Vec<drdrill::journal::Event> = journal_text(&out)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let exited_before = child.try_wait().unwrap().is_some();
        if sig == "KILL" {
            let _ = child.kill();
        } else if child.try_wait().unwrap().is_none() {
            signal(&child, sig);
        }
        let status = wait_exit(&mut child, Duration::from_secs(150)).await;
        let (_stdout, stderr) = output_of(child);

        // The journal survives whatever happened: every line reads back.
        let journal = journal_text(&out);
        let events = run_dir(&out)
            .map(|d| Journal::read(&d.join("events.jsonl")).unwrap())
            .unwrap_or_default();
        assert_eq!(
            events.len(),
            journal.lines().count(),
            "{what}: a torn journal line:\n{journal}"
        );
        if let Some(first) = events.first() {
            assert!(matches!(first.kind, EventKind::RunStarted { .. }), "{what}: {first:?}");
        }
        let phase = if exited_before {
            "after exit"
        } else {
            phase_at_kill(&at_signal)
        };
        let finished = events.iter().any(|e| matches!(e.kind, EventKind::RunFinished { .. }));
        let exp_started = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ExperimentStarted { .. }));
        let code = status.code();
        if sig == "KILL" {
            if code.is_none() {
                assert!(
                    !finished || report_json(&out).is_some(),
                    "{what}: finished without a report"
                );
            }
            let leftover = unfinished_experiments(&ls);
            let cleanup = drdrill_aws().arg("cleanup").arg(&file).output().unwrap();
            let said = String::from_utf8_lossy(&cleanup.stdout);
            assert_eq!(
                cleanup.status.code(),
                Some(0),
                "{what}: cleanup failed:\n{said}{}",
                String::from_utf8_lossy(&cleanup.stderr)
            );
            for l in &leftover {
                let id = l.split(':').next().unwrap().trim_matches('"');
                if said.contains(id) {
                    continue;
                }
                // Between the snapshot above and cleanup's own listing the experiment may
                // have run its course; then cleanup rightly has nothing to stop. Anything
                // else is a leftover cleanup missed.
                let listed = ls.fis.list_experiments(None);
                let now = listed["experiments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["id"] == id)
                    .map(|e| e["state"]["status"].as_str().unwrap_or("").to_string());
                assert_eq!(
                    now.as_deref(),
                    Some("completed"),
                    "{what}: cleanup did not name {id}, and it did not end by itself:\n{said}"
                );
            }
        } else {
            match code {
                // The signal came before the handler was installed: nothing had started.
                None => assert!(!exp_started, "{what}: died by the signal after starting an experiment"),
                Some(3) => {
                    let r = report_json(&out).unwrap_or_else(|| panic!("{what}: exit 3 without a report"));
                    assert_eq!(r["verdict"], "aborted", "{what}");
                    assert_eq!(r["complete"], false, "{what}");
                    assert!(
                        r["reason"].as_str().unwrap_or("").contains(&format!("SIG{sig}")),
                        "{what}: {}",
                        r["reason"]
                    );
                }
                Some(0..=2) => {}
                other => panic!("{what}: unexpected exit {other:?}; stderr:\n{stderr}"),
            }
            if let Some(r) = report_json(&out) {
                let verdict = r["verdict"].as_str().unwrap_or("");
                assert_eq!(
                    r["complete"],
                    matches!(verdict, "pass" | "fail"),
                    "{what}: complete must be false exactly for runs that did not finish"
                );
            }
        }
        *at_kill.entry(phase.to_string()).or_default() += 1;
        *exits
            .entry(format!(
                "SIG{sig} → {}",
                code.map_or("killed".to_string(), |c| format!("exit {c}"))
            ))
            .or_default() += 1;
        assert_no_fault_in_effect(&ls, &what, Duration::from_secs(30)).await;
        let templates = drdrill_templates(&ls);
        assert!(templates.is_empty(), "{what}: templates left: {templates:?}");
    }
    eprintln!(
        "kill trials: {TRIALS} in {:.1} s; experiments started {}; killed during: {at_kill:?}; outcomes: {exits:?}",
        started.elapsed().as_secs_f64(),
        experiment_count(&ls)
    );
    // The kills really landed in the middle of faults, not only before or after them.
    let during_fault = at_kill.get("fault running").copied().unwrap_or(0);
    assert!(
        during_fault >= 5,
        "only {during_fault} kills landed while a fault ran: {at_kill:?}"
    );
    assert!(
        experiment_count(&ls) >= TRIALS / 2,
        "too few runs got as far as injecting"
    );
    ls.shutdown().await;
}
