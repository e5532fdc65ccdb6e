//! AWS misbehaving during a drill: the AWS-fault matrix. Each cell runs the `drdrill`
//! binary against its own in-process local stack (an `aws:` target) and makes one AWS
//! service fail through the stack's Chaos API (LocalStack's `/_localstack/chaos` shape)
//! at the moment that matters — while the fault runs, before the plan, while the harness
//! stops its experiment. Whatever the cell, the drill completes or aborts by its rules
//! (the exit code says which), the experiment ends and every effect is reverted, gaps in
//! an observer's view are in report.json, and a report whose figures were measured blind
//! says so. Each cell prints one `aws-fault cell:` line (`scripts/safety-trials` collects
//! them with the kill and switch trials' counts).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::Arc;

use drdrill_localstack::chaos::{parse_effects, parse_rules, Chaos};
use drdrill_localstack::LocalStack;
use support::bin::*;
use support::repo;
use support::scenario::*;
use support::stack::*;

/// The scenario of every cell: one AWS-fault cell against the local stack.
fn scenario() -> String {
    Drill::cell(
        "aws-fault-cell",
        "aws fault cell",
        &[("rto", "30s"), ("lost_writes", "0")],
        "1m",
    )
    .yaml()
}

/// The journal line of a running experiment.
const RUNNING: &str = "\"status\":\"running\"";

/// What one cell saw.
struct Cell {
    exit: Option<i32>,
    /// What the run printed (stderr, then stdout).
    stderr: String,
    report: Option<serde_json::Value>,
    out: tempfile::TempDir,
    ls: LocalStack,
    experiments: Vec<(String, String)>,
}

impl Cell {
    fn blind(&self) -> Vec<serde_json::Value> {
        self.report
            .as_ref()
            .and_then(|r| r["observer_blind"].as_array().cloned())
            .unwrap_or_default()
    }

    fn file(&self, name: &str) -> String {
        run_dir(self.out.path())
            .and_then(|d| std::fs::read_to_string(d.join(name)).ok())
            .unwrap_or_default()
    }

    /// Prints the cell's line and checks what every cell must hold: every experiment
    /// ended, no effect left, and no template or alarm of drdrill's left behind.
    async fn finish(self, name: &str) -> Cell {
        let marked = self.report.as_ref().is_some_and(|r| {
            r["observer_blind"].as_array().is_some_and(|b| {
                b.iter()
                    .any(|b| b["measured_while_blind"].as_array().is_some_and(|m| !m.is_empty()))
            })
        });
        println!(
            "aws-fault cell: {name}: exit {:?}, experiments {:?}, blind intervals {}, report marked blind {}",
            self.exit,
            self.experiments.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
            self.blind().len(),
            marked
        );
        assert_no_fault_in_effect(&self.ls, name, Duration::from_secs(5)).await;
        // Nothing of drdrill's left on the target: no template (nor its tags), no alarm.
        let templates = drdrill_templates(&self.ls);
        assert!(templates.is_empty(), "{name}: templates left: {templates:?}");
        let alarms = self
            .ls
            .cloudwatch(0)
            .describe_alarms(&[], Some(drdrill::switch::ALARM_PREFIX), None)
            .len();
        assert_eq!(alarms, 0, "{name}: switch alarms left");
        self
    }
}

/// The ids and statuses of the stack's experiments.
fn experiments(ls: &LocalStack) -> Vec<(String, String)> {
    support::stack::experiments(ls)
        .into_iter()
        .map(|(id, status, _)| (id, status))
        .collect()
}

/// The fast stack with alarm periods under CloudWatch's 10 s minimum allowed.
fn cell_stack(dir: &Path) -> std::path::PathBuf {
    let path = fast_stack(dir);
    let text = std::fs::read_to_string(&path).unwrap() + "\n  short_alarm_periods: true\n";
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs one cell: `before` sets faults before the run; `during` runs once the experiment
/// is running (given the stack and the child), and the run is then awaited.
async fn run_cell<F, Fut>(template: &str, before: &str, during: F) -> Cell
where
    F: FnOnce(Arc<Chaos>, std::process::Child) -> Fut,
    Fut: std::future::Future<Output = std::process::Child>,
{
    run_cell_on(cell_stack, |_| scenario(), template, before, during).await
}

/// [`run_cell`] on the stack file `stack` writes into a folder, with the scenario text
/// `scenario` makes once the stack runs (its DNS address known).
async fn run_cell_on<F, Fut>(
    stack: fn(&Path) -> std::path::PathBuf,
    scenario: impl FnOnce(&LocalStack) -> String,
    template: &str,
    before: &str,
    during: F,
) -> Cell
where
    F: FnOnce(Arc<Chaos>, std::process::Child) -> Fut,
    Fut: std::future::Future<Output = std::process::Child>,
{
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&stack(dir.path())).await;
    ls.chaos.set_rules(parse_rules(before.as_bytes()).unwrap());
    let file = write_scenario(
        dir.path(),
        &scenario(&ls),
        &aws_target(&ls.endpoint_url(), "000000000000"),
        &[("cell.json", template)],
    );
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn_run(&file, out.path(), &[]);
    let running = wait_journal(&mut child, out.path(), RUNNING, Duration::from_secs(20)).await;
    if running {
        child = during(ls.chaos.clone(), child).await;
    }
    let status = wait_exit(&mut child, Duration::from_secs(90)).await;
    let (stdout, stderr) = output_of(child);
    let stderr = format!("{stderr}{stdout}");
    // Every fault off again, so the checks below see the stack as it is.
    ls.chaos.set_rules(Vec::new());
    ls.chaos.set_effects(Default::default());
    let experiments = experiments(&ls);
    Cell {
        exit: status.code(),
        stderr,
        report: report_json(out.path()),
        out,
        ls,
        experiments,
    }
}

fn set(chaos: &Chaos, rules: &str) {
    chaos.set_rules(parse_rules(rules.as_bytes()).unwrap());
}

/// Applies the chaos `rules` for `how_long`, then clears them.
async fn fail_for(chaos: &Chaos, rules: &str, how_long: Duration) {
    set(chaos, rules);
    tokio::time::sleep(how_long).await;
    set(chaos, "[]");
}

/// How long a service fails in the mid-fault cells: longer than the SDK's own retries
/// can bridge (3 attempts, backoff up to 1 s then 2 s), so an observer's call fails
/// whole, however its calls fall; the cells' fault lasts 10 s, to hold it.
const BLACKOUT: Duration = Duration::from_secs(5);

/// The multi-AZ stack with Route 53 (health check `hc-lb` on the load balancer, the
/// failover name `app.drill.test`) from the tests crate, alarm periods under 10 s allowed.
fn route53_stack(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("tests/stacks/multi-az-route53.yaml")).unwrap()
        + "\n  short_alarm_periods: true\n";
    let path = dir.join("route53-stack.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Route 53 throttles GetHealthCheckStatus for 8 s of a 12 s fault (its observer polls
/// every 500 ms here; the SDK's retries cannot bridge it): the drill through
/// `app.drill.test` completes and passes, report.json holds the route53 blind interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_throttled_during_the_fault() {
    let scenario = |ls: &LocalStack| {
        scenario()
            .replace(
                "  load_balancer: drill-alb\n",
                &format!(
                    "  load_balancer: drill-alb\n  route53: {{ name: app.drill.test, resolver: \"{}\" }}\n",
                    ls.dns_addr()
                ),
            )
            .replace("timings:\n", "observers: { route53: 500ms }\ntimings:\n")
    };
    let cell = run_cell_on(route53_stack, scenario, &stop_az_template("PT12S"), "[]", |chaos, child| async move {
        fail_for(
            &chaos,
            r#"[{"service":"route53","operation":"GetHealthCheckStatus","error":{"statusCode":400,"code":"Throttling"}}]"#,
            Duration::from_secs(8),
        )
        .await;
        child
    })
    .await
    .finish("route53 throttled")
    .await;
    assert_eq!(cell.exit, Some(0), "{}", cell.stderr);
    let blind = cell.blind();
    assert!(
        blind
            .iter()
            .any(|b| b["observer"] == "route53" && b["throttled_calls"].as_u64() >= Some(1)),
        "{blind:#?}"
    );
    assert_eq!(cell.experiments[0].1, "completed");
}

/// A cell whose `rules` hold for [`BLACKOUT`] from the moment the 10 s fault runs.
async fn blackout_cell(rules: &'static str, name: &str) -> Cell {
    run_cell(&stop_az_template("PT10S"), "[]", |chaos, child| async move {
        fail_for(&chaos, rules, BLACKOUT).await;
        child
    })
    .await
    .finish(name)
    .await
}

/// ELBv2 throttles DescribeTargetHealth for 5 s of the fault: the drill completes and
/// passes, report.json holds the elbv2 blind interval with its throttled calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elbv2_throttled_during_the_fault() {
    let cell = blackout_cell(
        r#"[{"service":"elbv2","operation":"DescribeTargetHealth","error":{"statusCode":400,"code":"Throttling"}}]"#,
        "elbv2 throttled",
    )
    .await;
    assert_eq!(cell.exit, Some(0), "{}", cell.stderr);
    let blind = cell.blind();
    assert!(
        blind
            .iter()
            .any(|b| b["observer"] == "elbv2" && b["throttled_calls"].as_u64() >= Some(1)),
        "{blind:#?}"
    );
    assert_eq!(cell.experiments.len(), 1);
    assert_eq!(cell.experiments[0].1, "completed");
}

/// FIS answers GetExperiment with 503 for 5 s of the fault: the drill follows the
/// experiment to its end (an answer, even an error, is no "unreachable"), passes, and
/// journals the fis blind interval with the error code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fis_failing_during_the_fault() {
    let cell = blackout_cell(r#"[{"service":"fis","operation":"GetExperiment"}]"#, "fis 5xx").await;
    assert_eq!(cell.exit, Some(0), "{}", cell.stderr);
    let blind = cell.blind();
    assert!(
        blind
            .iter()
            .any(|b| b["observer"] == "fis" && b["error_code"] == "ServiceUnavailable"),
        "{blind:#?}; GetExperiment calls: {}",
        cell.file("aws-calls.jsonl")
            .lines()
            .filter(|l| l.contains("GetExperiment"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(cell.experiments[0].1, "completed");
}

/// EC2 or RDS failing before the plan: the run stops with an error (exit 2) naming the
/// operation and AWS's answer, and starts no experiment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_and_rds_failing_before_the_plan() {
    let rds_template = std::fs::read_to_string(repo().join("scenarios/fis/db-failover.json")).unwrap();
    for (name, template, rule, operation) in [
        (
            "ec2 5xx at plan",
            stop_az_template("PT6S"),
            r#"[{"service":"ec2","operation":"DescribeInstances"}]"#,
            "ec2 DescribeInstances: HTTP 503 ServiceUnavailable",
        ),
        (
            "rds 5xx at plan",
            rds_template,
            r#"[{"service":"rds"}]"#,
            "rds DescribeDB",
        ),
    ] {
        let cell = run_cell(&template, rule, |_, child| async move { child })
            .await
            .finish(name)
            .await;
        assert_eq!(cell.exit, Some(2), "{name}: {}", cell.stderr);
        assert!(
            cell.stderr.contains(operation) && cell.stderr.contains("HTTP 503 ServiceUnavailable"),
            "{name}: the error does not name `{operation}` and AWS's answer: {}",
            cell.stderr
        );
        assert!(cell.experiments.is_empty(), "{name}: {:?}", cell.experiments);
    }
}

/// CloudWatch refuses every heartbeat from the fault's start (a 30 s one): the dead man's switch does
/// what it is for — its alarm fires after 3 s of silence, FIS stops the experiment, and
/// the harness aborts by its rules (exit 3) saying the experiment was stopped, with the
/// failing heartbeat in its journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_failing_fires_the_switch() {
    // A fault far longer than the switch's 3 s + one 1 s alarm period, so only the
    // switch can end it early.
    let template = stop_az_template("PT30S");
    let cell = run_cell(&template, "[]", |chaos, child| async move {
        set(&chaos, r#"[{"service":"cloudwatch","operation":"PutMetricData"}]"#);
        child
    })
    .await
    .finish("cloudwatch 5xx")
    .await;
    assert_eq!(cell.exit, Some(3), "{}", cell.stderr);
    assert_eq!(cell.experiments[0].1, "stopped", "{:?}", cell.experiments);
    let journal = cell.file("events.jsonl");
    assert!(journal.contains("the alarm fires if this lasts"), "{journal}");
    let reason = cell
        .report
        .as_ref()
        .and_then(|r| r["reason"].as_str().map(str::to_string));
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("stopped outside drdrill")),
        "{reason:?}"
    );
}

/// The harness is interrupted mid-fault while FIS refuses StopExperiment (503) for 1.5 s:
/// it retries until FIS confirms, the experiment ends `stopped`, and aws-calls.jsonl shows
/// the refused stops before the accepted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_retries_until_fis_confirms() {
    let cell = run_cell(&stop_az_template("PT6S"), "[]", |chaos, child| async move {
        set(&chaos, r#"[{"service":"fis","operation":"StopExperiment"}]"#);
        signal(&child, "INT");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        set(&chaos, "[]");
        child
    })
    .await
    .finish("StopExperiment 5xx")
    .await;
    assert_eq!(cell.exit, Some(3), "interrupted: aborted; {}", cell.stderr);
    assert_eq!(cell.experiments[0].1, "stopped", "{:?}", cell.experiments);
    let calls: Vec<serde_json::Value> = cell
        .file("aws-calls.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|c: &serde_json::Value| c["operation"] == "StopExperiment")
        .collect();
    let refused = calls.iter().position(|c| c.to_string().contains("ServiceUnavailable"));
    let accepted = calls
        .iter()
        .rposition(|c| !c.to_string().contains("ServiceUnavailable"));
    assert!(
        matches!((refused, accepted), (Some(r), Some(a)) if r < a),
        "StopExperiment calls: {calls:#?}"
    );
}

/// Every AWS answer 1.5 s late for 4 s of the fault: the drill still ends by its rules
/// (a verdict, not an error) and leaves nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_aws_answers_during_the_fault() {
    let started = Instant::now();
    let cell = run_cell(&stop_az_template("PT6S"), "[]", |chaos, child| async move {
        chaos.set_effects(parse_effects(br#"{"latency":1500}"#).unwrap());
        tokio::time::sleep(Duration::from_secs(4)).await;
        chaos.set_effects(Default::default());
        child
    })
    .await
    .finish("latency 1.5 s")
    .await;
    assert!(
        matches!(cell.exit, Some(0 | 1)),
        "exit {:?}: {}",
        cell.exit,
        cell.stderr
    );
    let report = cell.report.as_ref().expect("report.json");
    assert_eq!(report["complete"], true, "{}", report["reason"]);
    assert_eq!(cell.experiments[0].1, "completed");
    assert!(started.elapsed() < Duration::from_secs(90));
}
