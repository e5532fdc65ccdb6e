//! `drdrill run` publishing its reports, and `drdrill report`: re-rendering a run folder
//! (the same bytes as the run wrote), `--format`, a killed run, a broken report.json,
//! `--compare` and `--history`, with their exit codes.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::fixtures::{copy_fixture, fixture};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args` (and `envs`), waiting at most `deadline` for it.
fn drdrill(args: &[&str], envs: &[(&str, &Path)], deadline: Duration) -> Out {
    let tmp = tempfile::tempdir().unwrap();
    let (o, e) = (tmp.path().join("out"), tmp.path().join("err"));
    let mut cmd = support::bin::drdrill();
    cmd.args(args)
        .current_dir(support::repo())
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let status = support::bin::wait_exit_blocking(&mut child, deadline);
    Out {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
    }
}

const QUICK: Duration = Duration::from_secs(60);

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A real drill writes report.json, junit.xml, summary.md and report.html, appends its
/// line to `<out>/history.jsonl` and its summary to GITHUB_STEP_SUMMARY; re-rendering the
/// folder afterwards reproduces the very same bytes.
#[test]
fn run_publishes_every_format_and_rerendering_reproduces_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("reports");
    let step = tmp.path().join("step-summary.md");
    let out = drdrill(
        &[
            "run",
            "scenarios/az-power-interruption.yaml",
            "--out",
            s(&out_dir),
            "-q",
        ],
        &[("GITHUB_STEP_SUMMARY", &step)],
        Duration::from_secs(180),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("warning:"), "{}", out.stderr);
    let run_dir = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    let files = ["report.json", "junit.xml", "summary.md", "report.html"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(run_dir.join(f)).unwrap_or_else(|_| panic!("{f} written")))
        .collect();
    let history = std::fs::read_to_string(out_dir.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 1);
    let entry: serde_json::Value = serde_json::from_str(history.trim()).unwrap();
    assert_eq!(entry["run_dir"], run_dir.file_name().unwrap().to_str().unwrap());
    assert_eq!(entry["verdict"], "pass");
    let summary = std::fs::read_to_string(&step).unwrap();
    assert_eq!(summary.trim_end(), String::from_utf8_lossy(&before[2]).trim_end());

    let again = drdrill(&["report", s(&run_dir)], &[], QUICK);
    assert_eq!(again.code, 0, "{}", again.stderr);
    for (f, old) in files.iter().zip(&before) {
        assert!(
            std::fs::read(run_dir.join(f)).unwrap() == *old,
            "{f} re-rendered identically"
        );
    }
    assert_eq!(
        again.stdout.lines().count(),
        3,
        "junit, md and html rewritten, not report.json"
    );
}

/// `--format` picks the files `drdrill report` writes; an unknown format is refused
/// before anything runs, listing the valid ones.
#[test]
fn format_chooses_the_files() {
    let (_tmp, dir) = copy_fixture("db-failover-async");
    let out = drdrill(&["report", s(&dir), "--format", "junit,md"], &[], QUICK);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir.join("junit.xml").is_file() && dir.join("summary.md").is_file());
    assert!(!dir.join("report.html").exists());
    let bad = drdrill(
        &["run", "scenarios/az-power-interruption.yaml", "--format", "pdf"],
        &[],
        QUICK,
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown format \"pdf\""), "{}", bad.stderr);
    assert!(bad.stderr.contains("json, junit, md, html"), "{}", bad.stderr);
}

/// A run killed before writing report.json is rendered from events.jsonl and
/// probes.csv (torn last lines skipped), marked incomplete.
#[test]
fn killed_run_renders_marked_incomplete() {
    let (_tmp, dir) = copy_fixture("killed-mid-fault");
    let out = drdrill(&["report", s(&dir)], &[], QUICK);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("has no report.json"), "{}", out.stderr);
    assert!(out.stderr.contains("skipped 2 unreadable line(s)"), "{}", out.stderr);
    assert!(!dir.join("report.json").exists(), "report.json is never invented");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(r#"id="incomplete""#));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<error"), "{junit}");
}

/// A broken report.json is an error naming the file and the problem (exit 2); so is a
/// report from a newer schema and a folder that is no run folder.
#[test]
fn broken_inputs_exit_2_and_say_why() {
    let (_tmp, dir) = copy_fixture("az-power-interruption");
    let path = dir.join("report.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let out = drdrill(&["report", s(&dir)], &[], QUICK);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains(s(&path)), "names the file: {}", out.stderr);
    assert!(
        out.stderr.contains("broken JSON") && out.stderr.contains("line"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"));

    let newer = text.replacen("\"schema_version\": 1", "\"schema_version\": 7", 1);
    std::fs::write(&path, newer).unwrap();
    let out = drdrill(&["report", s(&dir)], &[], QUICK);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("schema_version 7 is newer"), "{}", out.stderr);

    let missing_field = text.replacen("\"verdict\":", "\"verdikt\":", 1);
    std::fs::write(&path, missing_field).unwrap();
    let out = drdrill(&["report", s(&dir)], &[], QUICK);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing field `verdict`"), "{}", out.stderr);

    let empty = tempfile::tempdir().unwrap();
    let out = drdrill(&["report", s(empty.path())], &[], QUICK);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is not a run folder"), "{}", out.stderr);
}

/// `--compare A B` puts two runs side by side, objective by objective, saying which
/// way each number moved.
#[test]
fn compare_puts_runs_side_by_side() {
    let a = fixture("az-power-interruption");
    let b = fixture("db-failover-async");
    let out = drdrill(&["report", "--compare", s(&a), s(&b)], &[], QUICK);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {name}")))
            .unwrap_or_else(|| panic!("row {name} in\n{}", out.stdout))
            .to_string()
    };
    assert!(out
        .stdout
        .lines()
        .next()
        .unwrap()
        .contains("A: 20261125T204044Z-az-power-interruption"));
    assert!(line("verdict").contains("PASS") && line("verdict").contains("FAIL"));
    assert!(line("RPO").contains("+999 ms (worse)"), "{}", line("RPO"));
    assert!(line("lost writes").contains("+70 (worse)"), "{}", line("lost writes"));
    assert!(line("scenario").contains("different scenarios"));
    let rpo = line("objective RPO");
    assert!(rpo.contains("0 ms ✅") && rpo.contains("999 ms ❌"), "{rpo}");
    assert!(
        line("objective p99 latency").contains("not set"),
        "objectives only A has"
    );
}

/// `--history DIR` prints the table, writes history.html, and exits 1 when the latest
/// run of a scenario regressed (0 when the differences are noise).
#[test]
fn history_flags_regressions_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let base = drdrill::report::load_run(&fixture("az-power-interruption"))
        .unwrap()
        .report;
    let write = |rtos: &[i64]| {
        let path = dir.path().join("history.jsonl");
        let _ = std::fs::remove_file(&path);
        for (i, rto) in rtos.iter().enumerate() {
            let mut r = base.clone();
            r.rto_ms = Some(*rto);
            r.t0_unix_ms += i as i64 * 60_000;
            r.run_id = format!("run-{i}");
            let e = drdrill::report::history::HistoryEntry::from_report(&r, &r.run_id);
            drdrill::report::history::append(&path, &e).unwrap();
        }
    };
    write(&[1_970, 2_010, 1_990, 2_100]);
    let out = drdrill(&["report", "--history", s(dir.path())], &[], QUICK);
    assert_eq!(out.code, 0, "noise: {}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("REGRESSION"));
    assert!(dir.path().join("history.html").is_file());

    write(&[1_970, 2_010, 1_990, 6_000]);
    let out = drdrill(&["report", "--history", s(dir.path())], &[], QUICK);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("REGRESSION: RTO 6.00 s"), "{}", out.stdout);
    assert!(out.stderr.contains("az-power-interruption"));
    let tight = drdrill(
        &[
            "report",
            "--history",
            s(dir.path()),
            "--margin",
            "500%",
            "--min-delta",
            "10s",
        ],
        &[],
        QUICK,
    );
    assert_eq!(tight.code, 0, "a wider margin accepts it: {}", tight.stdout);
}
