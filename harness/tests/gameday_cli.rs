//! The `drdrill` binary with game-day plans: `validate`, `schema --gameday`, `plan`, and a
//! `run` that stops on its first failure, with the exit code and the game day's folder.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use support::bin::{drdrill, exited_with};
use support::wait::wait_until_blocking;

fn repo() -> PathBuf {
    support::repo().canonicalize().unwrap()
}

/// Writes a copy of the AZ power interruption scenario (paths made absolute) into `dir`
/// as `file`, with `edit` applied to its text.
fn scenario(dir: &Path, file: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("scenarios/az-power-interruption.yaml")).unwrap();
    let text = text
        .replace(
            "../localstack/stacks/multi-az.yaml",
            repo().join("localstack/stacks/multi-az.yaml").to_str().unwrap(),
        )
        .replace(
            "fis/az-power-interruption.json",
            repo()
                .join("scenarios/fis/az-power-interruption.json")
                .to_str()
                .unwrap(),
        );
    let path = dir.join(file);
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// `validate` accepts the shipped single-region plan and names its scenarios; a bad plan
/// exits 2 naming the file, the line and the key.
#[test]
fn validate_accepts_plans_and_names_the_place_of_errors() {
    let out = drdrill()
        .args(["validate"])
        .arg(repo().join("scenarios/gameday-az.yaml"))
        .output()
        .unwrap();
    let stdout = exited_with(&out, 0);
    assert!(
        stdout.contains("game day az: az-power-interruption, instance-loss"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("plan.yaml");
    std::fs::write(&bad, "gameday: x\nscenarios:\n  - path: a.yaml\n    stop: true\n").unwrap();
    let out = drdrill().arg("validate").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("plan.yaml:4:5: scenarios[0]: "), "{stderr}");
    assert!(stderr.contains("stop"), "{stderr}");
}

/// `schema --gameday` prints the plan's JSON Schema, which rejects unknown keys.
#[test]
fn schema_of_plans() {
    let out = drdrill().args(["schema", "--gameday"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["gameday", "description", "stop_on_first_failure", "scenarios"] {
        assert!(schema["properties"].get(key).is_some(), "missing {key}");
    }
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
}

/// `plan` on a plan previews each of its scenarios in order.
#[test]
fn plan_previews_every_scenario_of_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path(), "a.yaml", |t| t);
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, "gameday: two\nscenarios:\n  - path: a.yaml\n  - path: a.yaml\n").unwrap();
    let out = drdrill().arg("plan").arg(&plan).output().unwrap();
    let stdout = exited_with(&out, 0);
    assert!(
        stdout.contains("== game day two: scenario 1 of 2: az-power-interruption"),
        "{stdout}"
    );
    assert!(
        stdout.contains("== game day two: scenario 2 of 2: az-power-interruption"),
        "{stdout}"
    );
    assert!(stdout.contains("drill-alb"), "{stdout}");
}

/// With `stop_on_first_failure`, a scenario that cannot be carried out (no such load
/// balancer) stops the game day: exit 2, the next scenario is reported as not run, and
/// the game day's folder has gameday.json, summary.md, report.html and junit.xml.
#[test]
fn run_stops_on_first_failure_and_writes_the_combined_folder() {
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path(), "broken.yaml", |t| {
        t.replace("name: az-power-interruption", "name: broken")
            .replace("load_balancer: drill-alb", "load_balancer: no-such-alb")
    });
    scenario(dir.path(), "good.yaml", |t| t);
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "gameday: cli\nstop_on_first_failure: true\nscenarios:\n  - path: broken.yaml\n    pause_after: 1m\n  - path: good.yaml\n",
    )
    .unwrap();
    let out_dir = dir.path().join("reports");
    let started = std::time::Instant::now();
    let out = drdrill()
        .args(["run", "--quiet", "--out"])
        .arg(&out_dir)
        .arg(&plan)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stdout = exited_with(&out, 2);
    assert!(
        started.elapsed().as_secs() < 50,
        "no pause after a stop: {:?}",
        started.elapsed()
    );
    assert!(stdout.contains("game day cli: ERROR (exit 2)"), "{stdout}");
    let folder = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("-gameday-cli-"))
        .expect("the game day's folder");
    for f in ["gameday.json", "summary.md", "report.html", "junit.xml"] {
        assert!(folder.join(f).exists(), "{f} missing");
    }
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("gameday.json")).unwrap()).unwrap();
    assert_eq!(g["exit_code"], 2);
    assert_eq!(g["rows"][0]["verdict"], "error");
    assert_eq!(g["rows"][1]["verdict"], serde_json::Value::Null);
    assert!(g["rows"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("stop_on_first_failure: broken ended error"));
    assert!(g["stopped_early"].is_string());
    let md = std::fs::read_to_string(folder.join("summary.md")).unwrap();
    assert!(
        md.contains("| az-power-interruption |") && md.contains("not run"),
        "{md}"
    );
}

/// Without `stop_on_first_failure` every scenario runs after the plan's pause; SIGINT
/// during the pause ends it at once: the scenario not yet run is reported as not run and
/// the game day exits 3 (aborted).
#[test]
fn sigint_during_a_pause_aborts_the_rest() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    scenario(dir.path(), "broken.yaml", |t| {
        t.replace("name: az-power-interruption", "name: broken")
            .replace("load_balancer: drill-alb", "load_balancer: no-such-alb")
    });
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "gameday: pause\nscenarios:\n  - path: broken.yaml\n    pause_after: 5m\n  - path: broken.yaml\n",
    )
    .unwrap();
    let out_dir = dir.path().join("reports");
    let child = drdrill()
        .args(["run", "--out"])
        .arg(&out_dir)
        .arg(&plan)
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first scenario has finished once its report.json is written.
    let done = wait_until_blocking(Duration::from_secs(30), || {
        std::fs::read_dir(&out_dir).into_iter().flatten().any(|e| {
            let p = e.unwrap().path();
            p.file_name().unwrap().to_string_lossy().contains("-broken-") && p.join("report.json").exists()
        })
    });
    assert!(done, "the first scenario did not finish");
    // Whether the signal lands in the pause or just before it, the rest is not run.
    let pid = child.id().to_string();
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "the pause did not end on SIGINT"
    );
    exited_with(&out, 3);
    let folder = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("gameday.json").exists())
        .expect("the game day's folder");
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("gameday.json")).unwrap()).unwrap();
    assert_eq!(g["verdict"], "aborted");
    assert_eq!(g["rows"][0]["verdict"], "error");
    assert_eq!(g["rows"][1]["verdict"], serde_json::Value::Null);
    assert!(g["stopped_early"].as_str().unwrap().contains("SIGINT"), "{g}");
}
