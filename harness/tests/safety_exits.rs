//! Every way a run ends stops its experiment: a panic in the run's task or in a task it
//! spawned, the target becoming unreachable, a guardrail, and — after SIGKILL — the next
//! run refusing to start while `drdrill cleanup` stops what was left. The stack runs in
//! the test process and the `drdrill` binary reaches it as an `aws:` target, so what a
//! run leaves behind outlives it and is checked against the ground truth.

mod support;

use std::time::Duration;

use support::bin::*;
use support::repo;
use support::scenario::*;
use support::stack::*;

/// A short drill whose fault (one AZ black-holed for ten minutes) only ends when stopped.
fn long_fault() -> String {
    Drill::quick("safety-exit", "safety", "az-long-partition.json", "15m").yaml()
}

const RUNNING: &str = "\"status\":\"running\"";

/// Starts a stack and writes the long-fault scenario against `endpoint` (the stack's
/// own when `None`).
async fn setup(dir: &std::path::Path) -> (drdrill_localstack::LocalStack, std::path::PathBuf) {
    let ls = start_stack(&fast_stack(dir)).await;
    let file = write_scenario(
        dir,
        &long_fault(),
        &aws_target(&ls.endpoint_url(), "000000000000"),
        &[("az-long-partition.json", &repo_template("az-long-partition.json"))],
    );
    (ls, file)
}

/// A panic in the run's own task while the fault runs (the `DRDRILL_TEST_PANIC=observe`
/// hook, compiled in with the `test-hooks` feature) still stops the experiment and waits for it: exit 2, verdict
/// `error` naming the panic, nothing left in effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_the_run_task_stops_the_experiment() {
    panic_stops_the_experiment("observe").await;
}

/// A panic in a task the run spawned (`DRDRILL_TEST_PANIC=task`) — which Tokio would
/// otherwise swallow — stops the run and its experiment: exit 2, nothing left in effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_a_spawned_task_stops_the_experiment() {
    panic_stops_the_experiment("task").await;
}

async fn panic_stops_the_experiment(point: &str) {
    // The binary is built with the package's features, as this test is.
    const {
        assert!(
            cfg!(feature = "test-hooks"),
            "the drdrill binary ignores DRDRILL_TEST_PANIC: build with the test-hooks feature"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let (ls, file) = setup(dir.path()).await;
    let out = dir.path().join("out");
    let mut child = spawn_run(&file, &out, &[("DRDRILL_TEST_PANIC", point)]);
    let status = wait_exit(&mut child, Duration::from_secs(150)).await;
    let (_, stderr) = output_of(child);
    assert_eq!(status.code(), Some(2), "panic at {point}: {stderr}");
    assert!(
        stderr.contains(&format!("DRDRILL_TEST_PANIC={point}")),
        "no panic at {point} (build with the test-hooks feature): {stderr}"
    );
    let journal = journal_text(&out);
    assert!(
        journal.contains(RUNNING),
        "the fault was running when the panic came:\n{journal}"
    );
    let r = report_json(&out).expect("a report");
    assert_eq!(r["verdict"], "error");
    assert_eq!(r["complete"], false);
    assert!(r["reason"].as_str().unwrap().contains("panic"), "{}", r["reason"]);
    assert_eq!(experiment_count(&ls), 1);
    assert_eq!(r["experiment"]["status"], "stopped", "{}", r["experiment"]);
    assert_no_fault_in_effect(&ls, &format!("panic at {point}"), Duration::from_secs(30)).await;
    assert!(drdrill_templates(&ls).is_empty(), "the run deletes its template");
    ls.shutdown().await;
}

/// When the AWS endpoint stops answering mid-fault, the run gives up after
/// `UNREACHABLE_LIMIT`, asks FIS to stop the experiment and keeps asking; once the
/// endpoint answers again the experiment is stopped, the fault is reverted, and the run
/// exits 2 with a reason naming the unreachable target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_stops_the_experiment_when_it_answers_again() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&fast_stack(dir.path())).await;
    let proxy = Proxy::start(ls.endpoint()).await;
    let file = write_scenario(
        dir.path(),
        &long_fault(),
        &aws_target(&proxy.url(), "000000000000"),
        &[("az-long-partition.json", &repo_template("az-long-partition.json"))],
    );
    let out = dir.path().join("out");
    let mut child = spawn_run(&file, &out, &[]);
    assert!(
        wait_journal(&mut child, &out, RUNNING, Duration::from_secs(60)).await,
        "the fault never ran:\n{}",
        journal_text(&out)
    );
    proxy.set_cut(true);
    assert!(
        wait_journal(
            &mut child,
            &out,
            "\"operation\":\"GetExperiment\",\"failure\":\"transport\"",
            Duration::from_secs(60)
        )
        .await,
        "the run did not notice:\n{}",
        journal_text(&out)
    );
    assert!(
        wait_journal(&mut child, &out, "\"kind\":\"stop_requested\"", Duration::from_secs(90)).await,
        "the run did not give up on the unreachable target:\n{}",
        journal_text(&out)
    );
    assert_eq!(
        unfinished_experiments(&ls).len(),
        1,
        "unreachable: the fault is still on"
    );
    proxy.set_cut(false);
    let status = wait_exit(&mut child, Duration::from_secs(150)).await;
    let (_, stderr) = output_of(child);
    assert_eq!(status.code(), Some(2), "{stderr}");
    let r = report_json(&out).expect("a report");
    assert_eq!(r["verdict"], "error");
    assert!(r["reason"].as_str().unwrap().contains("unreachable"), "{}", r["reason"]);
    assert_no_fault_in_effect(&ls, "unreachable target", Duration::from_secs(30)).await;
    ls.shutdown().await;
}

/// A guardrail that trips during the AZ power interruption (success below 95% for
/// 500 ms, which losing a third of the targets and failing the database over always
/// causes) aborts the run: exit 3, verdict `aborted`, the journal says the guardrail
/// tripped, FIS says the experiment was stopped, and no fault is left in effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrail_trip_during_az_power_interruption_aborts_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&repo().join("localstack/stacks/multi-az.yaml")).await;
    let text = std::fs::read_to_string(repo().join("scenarios/az-power-interruption.yaml"))
        .unwrap()
        .replace("target:\n  local: ../localstack/stacks/multi-az.yaml\n", "TARGET\n")
        .replace("abort_when_success_below: 0.05", "abort_when_success_below: 0.95")
        .replace("for: 5s", "for: 500ms");
    assert!(
        text.contains("0.95") && text.contains("TARGET"),
        "the scenario changed:\n{text}"
    );
    let file = write_scenario(
        dir.path(),
        &text,
        &aws_target(&ls.endpoint_url(), "000000000000"),
        &[(
            "az-power-interruption.json",
            &repo_template("az-power-interruption.json"),
        )],
    );
    let out = dir.path().join("out");
    let mut child = spawn_run(&file, &out, &[]);
    let status = wait_exit(&mut child, Duration::from_secs(150)).await;
    let (stdout, stderr) = output_of(child);
    assert_eq!(status.code(), Some(3), "{stdout}{stderr}");
    let r = report_json(&out).expect("a report");
    assert_eq!(r["verdict"], "aborted");
    assert_eq!(r["complete"], false);
    assert!(r["reason"].as_str().unwrap().contains("guardrail"), "{}", r["reason"]);
    assert!(journal_text(&out).contains("\"kind\":\"guardrail_tripped\""));
    let listed = ls.fis.list_experiments(None);
    let experiments = listed["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 1);
    assert_eq!(experiments[0]["state"]["status"], "stopped");
    assert_no_fault_in_effect(&ls, "guardrail", Duration::from_secs(30)).await;
    ls.shutdown().await;
}

/// After SIGKILL mid-fault the experiment is still running (nothing could stop it). The
/// next `drdrill run` against the same target warns, naming the experiment, and refuses
/// (exit 2) without starting another; `drdrill cleanup` stops it, waits until FIS says
/// stopped, deletes the template the killed run left, and says so; after that the
/// stack is clean and a second cleanup finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_the_next_run_refuses_and_cleanup_stops_the_leftover() {
    let dir = tempfile::tempdir().unwrap();
    let (ls, file) = setup(dir.path()).await;
    let out = dir.path().join("killed");
    let mut child = spawn_run(&file, &out, &[]);
    assert!(wait_journal(&mut child, &out, RUNNING, Duration::from_secs(60)).await);
    child.kill().unwrap();
    wait_exit(&mut child, Duration::from_secs(30)).await;
    let left = unfinished_experiments(&ls);
    assert_eq!(left.len(), 1, "SIGKILL cannot stop anything");
    assert!(ls.world.is_blocked("subnet-app-1a"));
    let id = left[0].split(':').next().unwrap().trim_matches('"').to_string();
    // The killed run's journal is intact and marked incomplete (no run_finished).
    let journal = journal_text(&out);
    assert!(journal.contains(&id) && !journal.contains("run_finished"), "{journal}");
    assert!(report_json(&out).is_none());

    let next = dir.path().join("next");
    let refused = drdrill_aws()
        .arg("run")
        .arg(&file)
        .args(["--yes", "--quiet", "--out"])
        .arg(&next)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr),
    );
    assert_eq!(refused.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("warning:") && stderr.contains(&id), "{stderr}");
    assert!(stdout.contains("drdrill cleanup"), "{stdout}");
    assert_eq!(experiment_count(&ls), 1, "the refused run started nothing");
    assert_eq!(report_json(&next).expect("a report")["verdict"], "error");

    let cleanup = drdrill_aws().arg("cleanup").arg(&file).output().unwrap();
    let said = String::from_utf8_lossy(&cleanup.stdout);
    assert_eq!(cleanup.status.code(), Some(0), "{said}");
    assert!(said.contains(&format!("stopping experiment {id}")), "{said}");
    assert!(said.contains(&format!("experiment {id} is stopped")), "{said}");
    assert!(
        said.contains("1 experiment(s) stopped, 1 template(s) deleted"),
        "{said}"
    );
    assert_no_fault_in_effect(&ls, "after cleanup", Duration::from_secs(30)).await;
    assert!(drdrill_templates(&ls).is_empty());

    let again = drdrill_aws().arg("cleanup").arg(&file).output().unwrap();
    let said = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0));
    assert!(said.contains("no drdrill experiment is running"), "{said}");
    ls.shutdown().await;
}

/// An `aws:` target whose credentials belong to an account not in `account_ids` is
/// refused with exit 2 naming both, and nothing is created in the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_not_in_the_allow_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&fast_stack(dir.path())).await;
    let file = write_scenario(
        dir.path(),
        &long_fault(),
        &aws_target(&ls.endpoint_url(), "111111111111"),
        &[("az-long-partition.json", &repo_template("az-long-partition.json"))],
    );
    let out = dir.path().join("out");
    let run = drdrill_aws()
        .arg("run")
        .arg(&file)
        .args(["--yes", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(2), "{text}");
    assert!(text.contains("000000000000") && text.contains("111111111111"), "{text}");
    for cmd in ["plan", "cleanup"] {
        let o = drdrill_aws().arg(cmd).arg(&file).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {e}");
        assert!(e.contains("not in target.aws.account_ids"), "{cmd}: {e}");
    }
    assert_eq!(experiment_count(&ls), 0);
    assert!(ls.fis.list_templates()["experimentTemplates"]
        .as_array()
        .unwrap()
        .is_empty());
    ls.shutdown().await;
}
