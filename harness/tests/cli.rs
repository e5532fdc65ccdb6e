//! The `drdrill` binary as a user runs it: exit codes, messages that name the place,
//! `plan` output, and SIGINT in the middle of a fault.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

use support::bin::{drdrill, journal_text, wait_exit};
use support::repo;
use support::wait::wait_until;

fn valid_scenario() -> String {
    std::fs::read_to_string(repo().join("scenarios/az-power-interruption.yaml")).unwrap()
}

/// Writes a scenario next to a copy of its template so relative paths resolve.
fn write_scenario(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("fis")).unwrap();
    for t in ["az-power-interruption.json", "az-long-partition.json"] {
        std::fs::copy(repo().join("scenarios/fis").join(t), dir.join("fis").join(t)).unwrap();
    }
    let stack = repo().join("localstack/stacks/multi-az.yaml");
    let text = text.replace("../localstack/stacks/multi-az.yaml", stack.to_str().unwrap());
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Bad scenario files exit 2 with a message naming the file, the line and the key;
/// nothing is run.
#[test]
fn bad_scenarios_exit_2_and_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax",
            valid_scenario().replace("rate: 100/s", "rate: [100/s"),
            "scenario.yaml:",
        ),
        ("unknown key", valid_scenario().replace("traffic:", "trafic:"), "trafic"),
        (
            "bad duration",
            valid_scenario().replace("stable_for: 2s", "stable_for: soon"),
            "timings.stable_for",
        ),
        (
            "missing template",
            valid_scenario().replace("fis/az-power-interruption.json", "fis/nope.json"),
            "fault.template_file",
        ),
    ];
    let out_dir = dir.path().join("out");
    for (what, text, needle) in cases {
        let path = write_scenario(dir.path(), &text);
        for cmd in ["validate", "run"] {
            let out = drdrill().arg(cmd).arg(&path).arg("--help").output().unwrap();
            assert!(out.status.success(), "--help works");
            let out = drdrill()
                .arg(cmd)
                .arg(&path)
                .args(if cmd == "run" {
                    vec!["--out", out_dir.to_str().unwrap()]
                } else {
                    vec![]
                })
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what} ({cmd}): {stderr}");
            assert!(
                stderr.contains("scenario.yaml") && stderr.contains(needle),
                "{what} ({cmd}): {stderr}"
            );
        }
        assert!(
            !dir.path().join("out").exists(),
            "{what}: a bad file must not start a run"
        );
    }
    let path = write_scenario(dir.path(), &valid_scenario());
    let out = drdrill().arg("validate").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `drdrill plan` lists exactly the instances in the AZ it would stop, and injects nothing.
#[test]
fn plan_lists_the_instances_it_would_stop() {
    let out = drdrill()
        .arg("plan")
        .arg(repo().join("scenarios/az-power-interruption.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout
        .lines()
        .skip_while(|l| !l.contains("aws:ec2:stop-instances"))
        .nth(1)
        .unwrap_or_else(|| panic!("no stop-instances action in:\n{stdout}"));
    assert!(line.contains("i-app1a1") && line.contains("i-app1a2"), "{line}");
    assert!(!line.contains("i-app1b") && !line.contains("i-app1c"), "{line}");
    assert!(!stdout.contains("experiment EXP"), "plan must not start an experiment");
}

/// The plan predicts FIS's resolution: a filter on a list path (`Tags.Value`) narrows the
/// instances to the one tagged so, a subnet target's `availabilityZoneIdentifier`
/// parameter keeps that zone's subnets only, and the plan ends with what AWS would reject
/// (the shipped template's seconds-long durations). Expected hits come from the stack
/// file's own tags and zones.
#[test]
fn plan_follows_fis_resolution_and_names_what_aws_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(dir.path(), &valid_scenario());
    let tpath = dir.path().join("fis/az-power-interruption.json");
    let mut t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&tpath).unwrap()).unwrap();
    t["targets"]["IAM-role-instances"]["filters"] =
        serde_json::json!([{ "path": "Tags.Value", "values": ["app-1c-2"] }]);
    t["targets"]["Subnet"]["filters"] = serde_json::json!([]);
    t["targets"]["Subnet"]["parameters"] = serde_json::json!({ "availabilityZoneIdentifier": "us-east-1b" });
    std::fs::write(&tpath, t.to_string()).unwrap();
    let out = drdrill().arg("plan").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits = |action: &str| -> String {
        stdout
            .lines()
            .skip_while(|l| !l.contains(action))
            .nth(1)
            .unwrap_or_else(|| panic!("no {action} in:\n{stdout}"))
            .to_string()
    };
    let stop = hits("aws:ec2:stop-instances");
    assert!(
        stop.contains("i-app1c2 (us-east-1c)") && !stop.contains("i-app1c1"),
        "{stop}"
    );
    let cut = hits("aws:network:disrupt-connectivity");
    assert!(cut.contains("subnet-app-1b") && cut.contains("subnet-db-1b"), "{cut}");
    assert!(!cut.contains("-1a") && !cut.contains("-1c"), "{cut}");
    assert!(
        stdout.contains("AWS would reject")
            && stdout.contains("startInstancesAfterDuration: PT8S: AWS requires a duration from PT1M to PT12H"),
        "{stdout}"
    );

    // A filter path that is not in DescribeInstances' output is an error naming it.
    t["targets"]["IAM-role-instances"]["filters"] =
        serde_json::json!([{ "path": "Placement.AvailabiltyZone", "values": ["us-east-1a"] }]);
    std::fs::write(&tpath, t.to_string()).unwrap();
    let out = drdrill().arg("plan").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"Placement.AvailabiltyZone\"") && stderr.contains("IAM-role-instances"),
        "{stderr}"
    );
}

/// `--help` documents the exit codes.
#[test]
fn help_documents_exit_codes() {
    let out = drdrill().arg("--help").output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    for code in [
        "0  every objective",
        "1  an objective",
        "2  the run could not",
        "3  aborted",
    ] {
        assert!(s.contains(code), "{s}");
    }
}

/// SIGINT in the middle of a fault stops the experiment (FIS says stopped, the network
/// cut is reverted), writes a report with verdict `aborted`, and exits 3. The stack runs
/// outside the harness process, reached as an `aws:` target, so what is left behind can
/// be checked after the harness exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_fault_stops_the_experiment_and_exits_3() {
    let stack = drdrill_localstack::Stack::load(&repo().join("localstack/stacks/multi-az.yaml")).unwrap();
    let ls = drdrill_localstack::LocalStack::start(
        stack,
        drdrill_localstack::Options {
            endpoint: "127.0.0.1:0".parse().unwrap(),
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = valid_scenario()
        .replace(
            "  local: ../localstack/stacks/multi-az.yaml",
            &format!(
                "  aws: {{ region: us-east-1, endpoint_url: \"{}\", account_ids: [\"000000000000\"] }}",
                ls.endpoint_url()
            ),
        )
        .replace("az-power-interruption.json", "az-long-partition.json")
        .replace("max_fault_duration: 1m", "max_fault_duration: 15m");
    let path = write_scenario(dir.path(), &text);
    let out_dir = dir.path().join("out");
    let without_yes = drdrill()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(without_yes.status.code(), Some(2), "an aws: target needs --yes");
    assert!(String::from_utf8_lossy(&without_yes.stderr).contains("--yes"));
    assert!(!out_dir.exists(), "a refused run leaves no run folder");
    let mut child = drdrill()
        .arg("run")
        .arg(&path)
        .args(["--yes", "--quiet", "--out"])
        .arg(&out_dir)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the fault is in effect (the journal says the experiment runs).
    let mut exited = None;
    let held = wait_until(Duration::from_secs(60), || {
        let running = journal_text(&out_dir).contains("\"status\":\"running\"");
        if !running {
            exited = child.try_wait().ok().flatten();
        }
        std::future::ready(running || exited.is_some())
    })
    .await;
    if let Some(status) = exited {
        panic!("drdrill exited early with {status}");
    }
    assert!(held, "the experiment never ran");
    assert!(
        !ls.world.serving() || ls.world.is_blocked("subnet-app-1a"),
        "the fault is in effect"
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    // Bounded: drdrill exits after SIGINT.
    let status = wait_exit(&mut child, Duration::from_secs(60)).await;
    assert_eq!(status.code(), Some(3));
    // No experiment left running; the network is restored.
    let listed = ls.fis.list_experiments(None);
    let experiments = listed["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 1);
    assert_eq!(experiments[0]["state"]["status"], "stopped");
    assert!(!ls.world.is_blocked("subnet-app-1a") && !ls.world.is_blocked("subnet-db-1a"));
    // The run folder (the out dir also holds history.jsonl).
    let run_dir = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "aborted");
    assert_eq!(report["exit_code"], 3);
    assert!(report["reason"].as_str().unwrap().contains("SIGINT"));
    // The manifest holds every file the run wrote; changes, removals and additions are
    // named by `drdrill report --verify`.
    let verify = || drdrill().args(["report", "--verify"]).arg(&run_dir).output().unwrap();
    let ok = verify();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stdout));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap();
    for f in [
        "report.json",
        "events.jsonl",
        "aws-calls.jsonl",
        "scenario.yaml",
        "template.json",
    ] {
        assert!(manifest["files"].get(f).is_some(), "{f} is in the manifest: {manifest}");
    }
    // Where it ran (the account STS named, the target's region), never credentials.
    assert_eq!(manifest["account_id"], ls.world.stack.account_id.as_str(), "{manifest}");
    assert_eq!(manifest["region"], "us-east-1", "{manifest}");
    let manifest_text = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
    assert!(
        !manifest_text.contains("AWS_SECRET") && !manifest_text.contains("\"test\""),
        "{manifest_text}"
    );
    // The scenario and the template as run: the file's bytes; the template with the
    // dead man's switch's alarm as its stop condition.
    assert_eq!(
        std::fs::read(run_dir.join("scenario.yaml")).unwrap(),
        std::fs::read(&path).unwrap()
    );
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("template.json")).unwrap()).unwrap();
    assert_eq!(
        template["stopConditions"][0]["source"], "aws:cloudwatch:alarm",
        "{template}"
    );
    // The evidence digest, computed here with sha256sum over `path  digest` lines of the
    // files but the renderings, is the manifest's and the one report.html shows.
    let lines: String = manifest["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| !["report.html", "summary.md", "junit.xml"].contains(&p.as_str()))
        .map(|(p, d)| format!("{p}  {}\n", d.as_str().unwrap()))
        .collect();
    let mut sum = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut sum.stdin.take().unwrap(), lines.as_bytes()).unwrap();
    let out = sum.wait_with_output().unwrap();
    let evidence = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(manifest["evidence_sha256"], evidence.as_str(), "{manifest}");
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(
        html.contains(&format!(r#"<code id="evidence">{evidence}</code>"#)),
        "report.html lacks the evidence digest"
    );
    std::fs::write(run_dir.join("report.json"), "{}").unwrap();
    std::fs::remove_file(run_dir.join("events.jsonl")).unwrap();
    std::fs::write(run_dir.join("added.txt"), "x").unwrap();
    let bad = verify();
    let said = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{said}");
    for line in ["changed: report.json", "missing: events.jsonl", "added: added.txt"] {
        assert!(said.contains(line), "{line} in:\n{said}");
    }
    ls.shutdown().await;
}

/// AWS's refusals reach the user as AWS gives them, with what to do: a run whose
/// credentials lack `fis:StartExperiment` (the local stack's `access:` section answers it
/// as FIS does, 403 AccessDeniedException) exits 2 naming service, operation, status, code,
/// request id, the IAM action and the reference policy; a plan with an expired session
/// token exits 2 saying the token expired and how to refresh it.
#[test]
fn access_denied_and_expired_tokens_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let stack = std::fs::read_to_string(repo().join("localstack/stacks/multi-az.yaml")).unwrap();
    let with = |name: &str, section: &str| -> PathBuf {
        let stack_path = dir.path().join(format!("{name}-stack.yaml"));
        std::fs::write(&stack_path, format!("{stack}\n{section}\n")).unwrap();
        let sub = dir.path().join(name);
        let text = valid_scenario().replace("../localstack/stacks/multi-az.yaml", stack_path.to_str().unwrap());
        write_scenario(&sub, &text)
    };

    let denied = with("denied", "access:\n  deny: [fis:StartExperiment]");
    let out = drdrill()
        .arg("run")
        .arg(&denied)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    // The reason is on stdout (the verdict block) and in report.json.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{said}");
    for part in [
        "fis StartExperiment: HTTP 403 AccessDeniedException",
        "not authorized to perform: fis:StartExperiment",
        "(request id ",
        "the credentials lack the IAM permission fis:StartExperiment",
        "examples/aws/drdrill-harness-policy.json",
    ] {
        assert!(said.contains(part), "no {part:?} in:\n{said}");
    }

    let expired = with("expired", "access:\n  credentials_expire_after: 0s");
    let out = drdrill().arg("plan").arg(&expired).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for part in [
        "HTTP 403 ExpiredToken: The security token included in the request is expired",
        "(request id ",
        "the session credentials have expired; refresh them",
    ] {
        assert!(stderr.contains(part), "no {part:?} in:\n{stderr}");
    }
}
