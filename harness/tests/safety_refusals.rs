//! Runs that must not start: a fault that would exceed the scenario's blast radius
//! (refused before anything is injected, naming the action and the cap), traffic this
//! machine cannot send, and out-of-range scenario values.

mod support;

use std::time::Duration;

use support::bin::*;
use support::repo;
use support::scenario::*;
use support::stack::*;

fn power_scenario(extra: &str) -> String {
    let text = std::fs::read_to_string(repo().join("scenarios/az-power-interruption.yaml"))
        .unwrap()
        .replace("target:\n  local: ../localstack/stacks/multi-az.yaml\n", "TARGET\n");
    format!("{text}{extra}")
}

/// The AZ power interruption cuts 2 subnets and stops 2 of the 6 targets, all in
/// us-east-1a. Each cap it
/// exceeds makes `drdrill run` exit 2 before anything is injected — no template, no
/// experiment, no fault in the ground truth — with a message naming the action and the
/// cap; `drdrill plan` shows the plan with the violation and exits 2 too; caps it fits in
/// pass `plan` with "within caps".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blast_radius_caps_refuse_before_injecting() {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&fast_stack(dir.path())).await;
    let target = aws_target(&ls.endpoint_url(), "000000000000");
    let template = repo_template("az-power-interruption.json");
    let cases = [
        ("blast_radius: { max_targets: 1 }\n", "blast_radius.max_targets (1)"),
        ("blast_radius: { max_percent: 20 }\n", "blast_radius.max_percent (20%)"),
        (
            "blast_radius: { allowed_azs: [us-east-1b, us-east-1c] }\n",
            "subnet-app-1a in us-east-1a, subnet-db-1a in us-east-1a, outside blast_radius.allowed_azs",
        ),
    ];
    for (n, (caps, needle)) in cases.iter().enumerate() {
        let case = dir.path().join(format!("case-{n}"));
        let file = write_scenario(
            &case,
            &power_scenario(caps),
            &target,
            &[("az-power-interruption.json", &template)],
        );
        let out = case.join("out");
        let run = drdrill_aws()
            .arg("run")
            .arg(&file)
            .args(["--yes", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(run.status.code(), Some(2), "{caps}: {text}");
        assert!(text.contains(needle), "{caps}: no {needle:?} in:\n{text}");
        // Actions are checked in name order; the network cut is the first to exceed.
        assert!(text.contains("action Pause-network-connectivity"), "{caps}: {text}");
        let r = report_json(&out).expect("a report");
        assert!(r["reason"].as_str().unwrap().contains(needle), "{}", r["reason"]);
        let plan = drdrill_aws().arg("plan").arg(&file).output().unwrap();
        let shown = String::from_utf8_lossy(&plan.stdout);
        assert_eq!(plan.status.code(), Some(2), "plan with {caps}");
        assert!(shown.contains("EXCEEDS") && shown.contains("i-app1a1"), "{shown}");
        assert!(String::from_utf8_lossy(&plan.stderr).contains(needle));
    }
    assert_eq!(experiment_count(&ls), 0, "nothing may be injected");
    assert!(ls.fis.list_templates()["experimentTemplates"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(unreverted_faults(&ls.world.truth.snapshot()).is_empty());
    let within = dir.path().join("within");
    let file = write_scenario(
        &within,
        &power_scenario("blast_radius: { max_targets: 2, max_percent: 34, allowed_azs: [us-east-1a] }\n"),
        &target,
        &[("az-power-interruption.json", &template)],
    );
    let plan = drdrill_aws().arg("plan").arg(&file).output().unwrap();
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{shown}{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(
        shown.contains("action Stop-Instances: within caps (2 resources, 2 of 6 targets)"),
        "{shown}"
    );
    assert_no_fault_in_effect(&ls, "blast radius", Duration::from_secs(10)).await;
    ls.shutdown().await;
}

/// The AZ power scenario on the local multi-AZ stack, written into `dir` with the given
/// traffic rate and timeout.
fn power_scenario_with_traffic(dir: &std::path::Path, rate: &str, timeout: &str) -> std::path::PathBuf {
    let stack = repo().join("localstack/stacks/multi-az.yaml");
    write_scenario(
        dir,
        &power_scenario("")
            .replace("rate: 100/s", &format!("rate: {rate}"))
            .replace("timeout: 1s", &format!("timeout: {timeout}")),
        &format!("target:\n  local: {}\n", stack.display()),
        &[(
            "az-power-interruption.json",
            &repo_template("az-power-interruption.json"),
        )],
    )
}

/// A rate this machine cannot send on schedule is refused by `run` and `plan` with a
/// reason naming `traffic.rate` and the machine's cores, before any stack is started.
#[test]
fn traffic_too_high_for_the_machine_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = power_scenario_with_traffic(dir.path(), "99000/s", "10ms");
    let plan = drdrill_aws().arg("plan").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(2), "{text}");
    assert!(text.contains("traffic.rate") && text.contains("cores"), "{text}");
    let out_dir = dir.path().join("out");
    let out = drdrill_aws()
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("traffic.rate") && text.contains("cores"), "{text}");
    assert!(!text.contains("local stack at"), "refused before starting the stack");
}

/// Traffic whose hanging probes (rate × timeout) would pass the prober's in-flight bound
/// is refused by `plan` naming both keys and the bound, on any machine: the rate is one
/// every machine may send (the per-core rate of one core), the timeout makes it too many.
#[test]
fn traffic_beyond_the_in_flight_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rate = drdrill::plan::MAX_RATE_PER_CORE as usize;
    let timeout_s = drdrill::traffic::MAX_HANGING_PROBES / rate + 1;
    let file = power_scenario_with_traffic(dir.path(), &format!("{rate}/s"), &format!("{timeout_s}s"));
    let plan = drdrill_aws().arg("plan").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(2), "{text}");
    let bound = drdrill::traffic::MAX_HANGING_PROBES.to_string();
    assert!(
        text.contains("traffic.rate × traffic.timeout") && text.contains(&bound),
        "{text}"
    );
}

/// Out-of-range values are refused by `validate` with exit 2 and a message naming the
/// file, the key and the reason: a negative rate, a zero timeout, an absurd rate, and
/// every blast-radius field.
#[test]
fn out_of_range_values_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let base = power_scenario("");
    let target = format!(
        "target:\n  local: {}\n",
        repo().join("localstack/stacks/multi-az.yaml").display()
    );
    let cases: &[(String, &str, &str)] = &[
        (base.replace("rate: 100/s", "rate: -5/s"), "traffic.rate", ""),
        (base.replace("rate: 100/s", "rate: 0/s"), "traffic.rate", "above 0"),
        (
            base.replace("rate: 100/s", "rate: 1000000/s"),
            "traffic.rate",
            "at most",
        ),
        (base.replace("timeout: 1s", "timeout: 0s"), "traffic.timeout", "above 0"),
        (
            base.replace("write_ratio: 0.5", "write_ratio: 1.5"),
            "traffic.write_ratio",
            "out of range",
        ),
        (format!("{base}blast_radius: {{}}\n"), "blast_radius", "at least one"),
        (
            format!("{base}blast_radius: {{ max_targets: 0 }}\n"),
            "blast_radius.max_targets",
            "at least 1",
        ),
        (
            format!("{base}blast_radius: {{ max_targets: -1 }}\n"),
            "blast_radius.max_targets",
            "",
        ),
        (
            format!("{base}blast_radius: {{ max_percent: 0 }}\n"),
            "blast_radius.max_percent",
            "1 to 100",
        ),
        (
            format!("{base}blast_radius: {{ max_percent: 101 }}\n"),
            "blast_radius.max_percent",
            "1 to 100",
        ),
        (
            format!("{base}blast_radius: {{ allowed_azs: [] }}\n"),
            "blast_radius.allowed_azs",
            "at least one",
        ),
        (
            format!("{base}blast_radius: {{ allowed_azs: [\"US East\"] }}\n"),
            "blast_radius.allowed_azs[0]",
            "availability zone",
        ),
        (
            format!("{base}blast_radius: {{ max_hosts: 3 }}\n"),
            "blast_radius",
            "max_hosts",
        ),
    ];
    for (n, (text, key, reason)) in cases.iter().enumerate() {
        let case = dir.path().join(format!("case-{n}"));
        let file = write_scenario(
            &case,
            text,
            &target,
            &[(
                "az-power-interruption.json",
                &repo_template("az-power-interruption.json"),
            )],
        );
        let out = drdrill_aws().arg("validate").arg(&file).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert!(
            stderr.contains("scenario.yaml:") && stderr.contains(key) && stderr.contains(reason),
            "{key} / {reason:?}: {stderr}"
        );
    }
}
