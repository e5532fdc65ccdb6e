//! The benchmark script's smoke run (`bench/run --smoke`): every section runs for real,
//! briefly, on the debug binaries, so that the script and the programs it drives cannot
//! rot. Its figures are not results; this test checks that each one is produced.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest the smoke run may take (it needs about a minute).
const BOUND: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds what the script runs: the `drdrill` and `drdrill-probe` binaries and the bench
/// examples. With the same targets as the suite's own build this changes nothing there.
fn build_bench_binaries(root: &Path) {
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "--workspace", "--all-targets", "--locked", "--quiet"])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build of the bench binaries failed: {status}");
}

/// Runs `bench/run --smoke --out <dir>`, killing it if it outlives [`BOUND`].
fn run_smoke(root: &Path, out: &Path) -> std::process::ExitStatus {
    let mut child = Command::new(root.join("bench/run"))
        .current_dir(root)
        .args(["--smoke", "--out"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bench/run");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for bench/run") {
            return status;
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bench/run --smoke did not finish within {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One line of the goals table: figure, measured, goal, met.
#[derive(Debug)]
struct GoalLine {
    figure: String,
    measured: String,
    met: String,
}

/// Parses `goals.tsv`: figure, measured, goal, met, tab-separated.
fn goals(text: &str) -> Vec<GoalLine> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 4, "goals.tsv line {l:?}");
            GoalLine {
                figure: fields[0].to_string(),
                measured: fields[1].to_string(),
                met: fields[3].to_string(),
            }
        })
        .collect()
}

/// The number a measured figure starts with.
fn leading_number(s: &str) -> Option<f64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

/// Every section runs and prints its figures; every goal line has a figure drdrill
/// measured (a number, never `nan` or empty) and a verdict; comparison tools that are
/// not installed show `n/a`, never a made-up figure.
#[test]
fn bench_smoke_run_prints_every_figure_with_its_goal() {
    let root = workspace();
    build_bench_binaries(&root);
    let out = tempfile::tempdir().expect("tempdir");
    let status = run_smoke(&root, out.path());
    let summary = std::fs::read_to_string(out.path().join("summary.txt")).expect("summary.txt");
    assert!(status.success(), "bench/run --smoke failed ({status}):\n{summary}");

    for section in [
        "## 1. Prober cost",
        "## 1b. Overload",
        "## 2. Memory",
        "## 2b. Memory over a real hour",
        "## 3. Truth under a stall",
        "## 4. RTO accuracy",
        "Partial outages vs the truth's serving fraction",
        "## 5. DNS follow",
        "## 6. Time to verdict",
        "## Goals",
    ] {
        assert!(summary.contains(section), "no {section:?} in:\n{summary}");
    }
    assert!(summary.contains("SMOKE RUN"), "the run says it is a smoke run");
    let late_line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("dd-mix at 1000/s: late sends"))
        .unwrap_or_else(|| panic!("no late/dropped line in:\n{summary}"));
    assert!(
        !late_line.contains("null") && late_line.contains("dropped sends 0"),
        "late and dropped sends are counted (none dropped at 1000/s): {late_line}"
    );

    let text = std::fs::read_to_string(out.path().join("goals.tsv")).expect("goals.tsv");
    let goals = goals(&text);
    let find = |prefix: &str| {
        goals
            .iter()
            .find(|g| g.figure.starts_with(prefix))
            .unwrap_or_else(|| panic!("no goal {prefix:?} in:\n{text}"))
    };
    // Figures drdrill itself measured: numbers.
    for prefix in [
        "cost 1000/s: dd-mix CPU <= oha's",
        "cost 1000/s: dd-mix CPU <= 2x wrk's",
        "cost 1000/s: dd-reads CPU <= oha's",
        "cost 1000/s: dd-reads CPU <= 2x wrk's",
        "rate 1000/s: dd-mix achieved",
        "rate 1000/s: dd-mix dispatch lag",
        "rate 1000/s: dd-reads achieved",
        "rate 1000/s: dd-reads dispatch lag",
        "overload: peak RSS",
        "memory: drdrill peak RSS, write_ratio 0",
        "memory: drdrill peak RSS, write_ratio 0.5",
        "memory: drdrill real hour, peak RSS",
        "memory: drdrill real hour, flat from min 5",
        "stall: drdrill p99",
        "stall: outage = stall",
        "rto: az-power-interruption",
        "lost writes: az-power-interruption",
        "rto partial: partial-1-of-3",
        "lost writes partial: partial-1-of-3",
        "rto partial: mean signed error",
    ] {
        let goal = find(prefix);
        let measured = goal.measured.trim_start_matches('|');
        assert!(
            leading_number(measured).is_some_and(f64::is_finite),
            "{prefix}: measured {:?} is not a number",
            goal.measured
        );
        // Without oha (as in CI) the comparison with it has no verdict, and says why.
        let oha_missing = goal.measured.contains("oha missing") && goal.met.starts_with("n/a");
        assert!(
            ["yes", "NO"].contains(&goal.met.as_str()) || oha_missing,
            "{prefix}: met {:?}",
            goal.met
        );
    }
    // Figures that need a tool or root that may be missing: a verdict or n/a.
    for prefix in [
        "dns follow",
        "time to verdict: harness overhead",
        "time to verdict: around the probes",
    ] {
        let goal = find(prefix);
        assert!(
            ["yes", "NO"].contains(&goal.met.as_str()) || goal.met.starts_with("n/a"),
            "{prefix}: met {:?}",
            goal.met
        );
    }
    // Asked 100k/s for a second (the smoke run's overload), neither the debug prober nor
    // the one-threaded echo server keeps up on two cores: the overload honesty rules must
    // say so.
    let overload = find("overload: run marked degraded");
    assert_eq!((overload.measured.as_str(), overload.met.as_str()), ("degraded", "yes"));
    assert!(!text.contains("nan"), "a figure is nan:\n{text}");
}
