//! The one way the tests start the `drdrill` binary ([`drdrill`]; [`with_local_aws`] adds
//! the test credentials of a local stack), waiting for it, and reading back what a run
//! left in its `--out` folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use super::wait::{wait_until, wait_until_blocking};

/// The `drdrill` binary built for these tests, as a command with nothing set.
pub fn drdrill() -> Command {
    Command::new(env!("CARGO_BIN_EXE_drdrill"))
}

/// `cmd` with test credentials for a local stack reached as an `aws:` target (no
/// profile), logging errors only.
pub fn with_local_aws(mut cmd: Command) -> Command {
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env("RUST_LOG", "error");
    cmd
}

/// [`drdrill`] [`with_local_aws`] credentials.
pub fn drdrill_aws() -> Command {
    with_local_aws(drdrill())
}

/// Waits (bounded) for the child to exit; kills it and fails the test after `limit`.
pub async fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let exited = wait_until(limit, || std::future::ready(child.try_wait().unwrap().is_some())).await;
    finish(child, exited, limit)
}

/// [`wait_exit`] outside an async test.
pub fn wait_exit_blocking(child: &mut Child, limit: Duration) -> ExitStatus {
    let exited = wait_until_blocking(limit, || child.try_wait().unwrap().is_some());
    finish(child, exited, limit)
}

/// The exit status of a child that `exited`; one that did not is killed, failing the test.
fn finish(child: &mut Child, exited: bool, limit: Duration) -> ExitStatus {
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the process did not exit within {limit:?}");
    }
    child.wait().expect("exit status")
}

/// Starts `drdrill run FILE --yes --quiet --out OUT` ([`drdrill_aws`]) in the background.
pub fn spawn_run(file: &Path, out: &Path, env: &[(&str, &str)]) -> Child {
    let mut c = drdrill_aws();
    c.arg("run").arg(file).args(["--yes", "--quiet", "--out"]).arg(out);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// The stdout of a finished command, after asserting that it exited with `code` (the
/// failure shows its stdout and stderr).
pub fn exited_with(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Reads a child's stdout and stderr after it exited.
pub fn output_of(child: Child) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one run folder under `out`, if any.
pub fn run_dir(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

/// The journal text of the run under `out` ("" before it exists).
pub fn journal_text(out: &Path) -> String {
    run_dir(out)
        .and_then(|d| std::fs::read_to_string(d.join("events.jsonl")).ok())
        .unwrap_or_default()
}

/// The report of the run under `out`, when written.
pub fn report_json(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir(out)?.join("report.json")).ok()?;
    Some(serde_json::from_str(&text).expect("report.json is valid JSON"))
}

/// Waits (bounded) until the run's journal contains `needle`, or the child exits.
pub async fn wait_journal(child: &mut Child, out: &Path, needle: &str, limit: Duration) -> bool {
    wait_until(limit, || {
        std::future::ready(journal_text(out).contains(needle) || child.try_wait().unwrap().is_some())
    })
    .await;
    journal_text(out).contains(needle)
}

/// Sends a signal (`INT`, `TERM`) to a child with `kill`.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}
