//! The dead man's switch, tested by killing the harness without cleanup: drills with a
//! 60 s fault against ONE local stack (reached by the `drdrill` binary as an `aws:`
//! target, so the fault outlives the harness), the harness SIGKILLed at a random moment
//! of the fault and *no* `drdrill cleanup` run. Every experiment must end `stopped` by
//! its stop condition within the switch's silence + one alarm period (+ FIS's own stop),
//! and every effect be reverted. The same when the harness lives but is cut off from the
//! AWS endpoint (a proxy the test controls). Afterwards one `drdrill cleanup` deletes the
//! templates and alarms the killed runs left, and nothing of drdrill's remains.

mod support;

use std::time::{Duration, Instant};

use support::bin::*;
use support::scenario::*;
use support::stack::*;
use support::wait::wait_until;

/// Kill trials in the suite (`scripts/switch-trials` runs more).
fn trials() -> usize {
    std::env::var("DRDRILL_SWITCH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// The switch: a heartbeat every second, fired by 3 s of silence.
const PERIOD: Duration = Duration::from_secs(1);
const SILENCE: Duration = Duration::from_secs(3);
/// FIS's stop of the actions after the alarm fires, and the test's polling (bounded).
const STOP_SLACK: Duration = Duration::from_millis(1500);

/// The drill whose dead man's switch is tried.
fn scenario() -> String {
    Drill::quick("switch-trial", "switch trial", "switch-trial.json", "2m")
        .with_dead_man_switch()
        .yaml()
}

/// One AZ's app instances stopped (restarted after 60 s) and its app subnet cut for 60 s:
/// far longer than any trial, so only a stop can end them in time.
fn template() -> String {
    stop_and_cut_az_template(
        "Stop one AZ's app instances and cut its app subnet for a minute",
        "PT1M",
    )
}

/// The journal line of a running experiment.
const RUNNING: &str = "\"status\":\"running\"";

/// The fast stack, with alarm periods under CloudWatch's 10 s minimum allowed.
fn switch_stack(dir: &std::path::Path) -> std::path::PathBuf {
    let path = fast_stack(dir);
    let text = std::fs::read_to_string(&path).unwrap() + "\n  short_alarm_periods: true\n";
    assert!(text.contains("speedups:\n"), "the fast stack has a speedups section");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits until experiment `id` has ended; returns its status and reason and how long
/// after `since` that was seen.
async fn ended(
    ls: &drdrill_localstack::LocalStack,
    id: &str,
    since: Instant,
    limit: Duration,
) -> (String, String, Duration) {
    let done = |st: &str| matches!(st, "completed" | "stopped" | "failed" | "cancelled");
    wait_until(limit, || {
        std::future::ready(experiments(ls).iter().any(|(i, st, _)| i == id && done(st)))
    })
    .await;
    let took = since.elapsed();
    let (_, status, reason) = experiments(ls).into_iter().find(|(i, _, _)| i == id).expect("listed");
    (status, reason, took)
}

/// The experiment a run started (from its journal).
fn experiment_of(out: &std::path::Path) -> Option<String> {
    journal_text(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["kind"] == "experiment_started")
        .and_then(|e| e["experiment_id"].as_str().map(str::to_string))
}

/// SIGKILL at a random moment of the fault, no cleanup: each experiment ends `stopped`
/// by the switch's alarm within silence + one period (+ slack), its effects reverted;
/// then the same with the harness alive but its endpoint cut; then one cleanup leaves no
/// template and no alarm. Prints the counts and the longest time to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_harness_fault_ends_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&switch_stack(dir.path())).await;
    let proxy = Proxy::start(ls.endpoint()).await;
    let file = write_scenario(
        dir.path(),
        &scenario(),
        &aws_target(&ls.endpoint_url(), "000000000000"),
        &[("switch-trial.json", &template())],
    );
    let cut_file = dir.path().join("cut").join("scenario.yaml");
    std::fs::create_dir_all(cut_file.parent().unwrap()).unwrap();
    let cut_file = write_scenario(
        cut_file.parent().unwrap(),
        &scenario(),
        &aws_target(&proxy.url(), "000000000000"),
        &[("switch-trial.json", &template())],
    );
    let bound = SILENCE + PERIOD + STOP_SLACK;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut worst = Duration::ZERO;
    let n = trials();
    for trial in 0..n + 2 {
        let cut = trial >= n;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let jitter = Duration::from_millis(seed % 1500);
        let what = if cut {
            format!("trial {trial} (endpoint cut at running + {jitter:?})")
        } else {
            format!("trial {trial} (SIGKILL at running + {jitter:?})")
        };
        let out = dir.path().join(format!("trial-{trial:02}"));
        let mut child = spawn_run(if cut { &cut_file } else { &file }, &out, &[]);
        assert!(
            wait_journal(&mut child, &out, RUNNING, Duration::from_secs(60)).await,
            "{what}: the fault never ran:\n{}",
            journal_text(&out)
        );
        tokio::time::sleep(jitter).await;
        let id = experiment_of(&out).unwrap_or_else(|| panic!("{what}: no experiment in the journal"));
        // The last heartbeat went out at most one period before the harness went silent.
        let silent = Instant::now();
        if cut {
            proxy.set_cut(true);
        } else {
            let _ = child.kill();
        }
        let (status, reason, took) = ended(&ls, &id, silent, bound + Duration::from_secs(2)).await;
        assert_eq!(status, "stopped", "{what}: {reason}");
        assert!(
            reason.contains("drdrill-heartbeat-"),
            "{what}: stopped by the switch's alarm, not {reason:?}"
        );
        assert!(
            took <= bound,
            "{what}: stopped {took:?} after the silence began (bound {bound:?})"
        );
        worst = worst.max(took);
        assert_no_fault_in_effect(&ls, &what, Duration::from_secs(10)).await;
        if cut {
            // The harness lives on: it cannot reach FIS to stop the experiment (FIS did);
            // let it end, then restore the endpoint for the next trial.
            let _ = child.kill();
            proxy.set_cut(false);
        }
        let _ = wait_exit(&mut child, Duration::from_secs(30)).await;
    }
    eprintln!(
        "switch trials: {} killed + 2 cut off, {} experiments stopped by the switch, max time to stop {worst:?} (bound {bound:?})",
        n,
        n + 2
    );

    // Killed runs leave their templates and alarms; one cleanup deletes them.
    assert!(!drdrill_templates(&ls).is_empty(), "killed runs left templates");
    let alarms = |ls: &drdrill_localstack::LocalStack| {
        ls.cloudwatch(0)
            .describe_alarms(&[], Some(drdrill::switch::ALARM_PREFIX), None)
            .len()
    };
    assert!(alarms(&ls) > 0, "killed runs left their alarms");
    let cleanup = drdrill_aws().arg("cleanup").arg(&file).output().unwrap();
    let said = String::from_utf8_lossy(&cleanup.stdout);
    assert_eq!(cleanup.status.code(), Some(0), "cleanup failed:\n{said}");
    assert!(said.contains("dead man's switch alarm"), "{said}");
    assert_eq!(drdrill_templates(&ls), Vec::<String>::new(), "templates left");
    assert_eq!(alarms(&ls), 0, "alarms left");
}
