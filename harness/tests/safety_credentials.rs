//! Session credentials expiring mid-drill. The local stack expires each access key's
//! session 4 s after its first call (`access: { credentials_expire_after: 4s }`, as STS
//! sessions end); the `drdrill` binary gets its credentials from the standard chain, a
//! profile whose `credential_process` hands out a new key on each call. The drill's
//! fault runs past the expiry: the harness must resolve the chain again after the first
//! `ExpiredToken`, say so in its journal, finish the drill and stop nothing early; and
//! with a chain that can only give the same key, say that it cannot renew them while the
//! dead man's switch (which needs no credentials of drdrill's) ends the experiment.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::bin::*;
use support::scenario::*;
use support::stack::*;

/// The drill whose credentials expire.
fn scenario() -> String {
    Drill::cell("credentials-expire", "credentials", &[("rto", "30s")], "20s").yaml()
}

/// How long the fault stops one AZ's instances: the 4 s sessions expire while it runs,
/// and the switch (3 s of silence + a 1 s period) fires well before it would end by itself.
const FAULT: &str = "PT15S";

/// The fast stack with short alarm periods and 4 s sessions.
fn expiring_stack(dir: &Path) -> PathBuf {
    let path = fast_stack(dir);
    let text = std::fs::read_to_string(&path).unwrap()
        + "\n  short_alarm_periods: true\naccess:\n  credentials_expire_after: 4s\n";
    std::fs::write(&path, text).unwrap();
    path
}

/// An AWS config file whose profile `drill` runs a `credential_process` that counts its
/// calls in `dir/count` and answers key `AKIDCRED<n>` (or always `AKIDCRED1`).
fn credential_profile(dir: &Path, renewable: bool) -> PathBuf {
    let script = dir.join("credentials.sh");
    let key = if renewable { "AKIDCRED$n" } else { "AKIDCRED1" };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(cat '{count}' 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > '{count}'\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"secret\"}}' \"{key}\"\n",
            count = dir.join("count").display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("755").arg(&script).status().unwrap();
    let config = dir.join("aws-config");
    std::fs::write(
        &config,
        format!("[profile drill]\ncredential_process = {}\n", script.display()),
    )
    .unwrap();
    config
}

/// Runs the drill with credentials from the profile only (no key in the environment).
async fn run(renewable: bool) -> (tempfile::TempDir, drdrill_localstack::LocalStack, Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let ls = start_stack(&expiring_stack(dir.path())).await;
    let config = credential_profile(dir.path(), renewable);
    let target = format!(
        "target:\n  aws: {{ region: us-east-1, endpoint_url: \"{}\", account_ids: [\"000000000000\"], profile: drill }}\n",
        ls.endpoint_url()
    );
    let file = write_scenario(
        dir.path(),
        &scenario(),
        &target,
        &[("cell.json", &stop_az_template(FAULT))],
    );
    let out = dir.path().join("out");
    let mut child = drdrill()
        .arg("run")
        .arg(&file)
        .args(["--yes", "--quiet", "--out"])
        .arg(&out)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-credentials-file"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(240)).await;
    let (stdout, stderr) = output_of(child);
    (dir, ls, status.code(), format!("{stderr}{stdout}"))
}

fn resolutions(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join("count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Renewable: the first `ExpiredToken` makes the harness resolve the chain again; the
/// drill passes with the experiment followed to `completed`; the journal names the
/// renewal (old key → new key), and aws-calls.jsonl shows the refused calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_are_renewed_from_the_chain() {
    let (dir, ls, exit, said) = run(true).await;
    let out = dir.path().join("out");
    assert_eq!(exit, Some(0), "{said}");
    assert!(
        resolutions(dir.path()) >= 2,
        "the chain was resolved {} times",
        resolutions(dir.path())
    );
    let journal = journal_text(&out);
    assert!(
        journal.contains("renewed from the credential chain (access key AKIDCRED1 → AKIDCRED2)"),
        "{journal}"
    );
    let calls = std::fs::read_to_string(run_dir(&out).unwrap().join("aws-calls.jsonl")).unwrap();
    assert!(calls.contains("ExpiredToken"), "no refused call: {calls}");
    let report = report_json(&out).expect("report.json");
    assert_eq!(report["experiment"]["status"], "completed", "{}", report["reason"]);
    assert_no_fault_in_effect(&ls, "renewed", Duration::from_secs(5)).await;
}

/// Not renewable (the chain gives the same key): the harness says it cannot renew them
/// and what to do, the run ends in an error, and the experiment still ends — stopped by
/// the dead man's switch, whose heartbeats the expired key can no longer publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrenewable_credentials_are_named_and_the_switch_ends_the_fault() {
    let (dir, ls, exit, said) = run(false).await;
    let out = dir.path().join("out");
    assert_eq!(exit, Some(2), "{said}");
    assert!(said.contains("the credential chain gives no fresh ones"), "{said}");
    let journal = journal_text(&out);
    assert!(
        journal.contains("gave the same access key AKIDCRED1 again: they cannot be renewed from here"),
        "{said}\n{journal}"
    );
    let experiments = ls.fis.list_experiments(None);
    let e = &experiments["experiments"][0];
    assert_eq!(e["state"]["status"], "stopped", "{e}");
    assert_no_fault_in_effect(&ls, "not renewed", Duration::from_secs(5)).await;
}
