//! Shared helpers of the safety tests: an in-process local stack reached by the
//! `drdrill` binary as an `aws:` target (so what a run leaves behind outlives the
//! harness process), scenario files written next to their templates, bounded waits, and
//! the ground-truth checks that no experiment is running and no fault is in effect.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use drdrill_localstack::truth::{Truth, TruthEvent};
use drdrill_localstack::LocalStack;

/// The `drdrill` binary with test credentials for the local stack.
pub fn drdrill() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_drdrill"));
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env("RUST_LOG", "error");
    c
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A stack file like `multi-az.yaml` with faster health checks and boots, so that a
/// stack recovers from a fault within a second.
pub fn fast_stack(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("localstack/stacks/multi-az.yaml")).unwrap();
    let text = text
        .replace("interval: 500ms", "interval: 100ms")
        .replace("timeout: 250ms", "timeout: 80ms")
        .replace("instance_boot: 500ms", "instance_boot: 100ms");
    let path = dir.join("fast-stack.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts a local stack from `stack_file` on a free port.
pub async fn start_stack(stack_file: &Path) -> LocalStack {
    let stack = drdrill_localstack::Stack::load(stack_file).unwrap();
    LocalStack::start(
        stack,
        drdrill_localstack::Options {
            endpoint: "127.0.0.1:0".parse().unwrap(),
        },
    )
    .await
    .unwrap()
}

/// The `target:` section reaching `endpoint` as an AWS account.
pub fn aws_target(endpoint: &str, account: &str) -> String {
    format!("target:\n  aws: {{ region: us-east-1, endpoint_url: \"{endpoint}\", account_ids: [\"{account}\"] }}\n")
}

/// Writes `scenario.yaml` (with `TARGET` replaced by `target`) and each template under
/// `dir/fis/`.
pub fn write_scenario(dir: &Path, scenario: &str, target: &str, templates: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir.join("fis")).unwrap();
    for (name, text) in templates {
        std::fs::write(dir.join("fis").join(name), text).unwrap();
    }
    let path = dir.join("scenario.yaml");
    std::fs::write(&path, scenario.replace("TARGET\n", target)).unwrap();
    path
}

/// An FIS template that stops the `Tier: app` instances of us-east-1a, restarting them
/// after `duration` (ISO 8601, e.g. `PT10S`).
pub fn stop_az_template(duration: &str) -> String {
    serde_json::json!({
        "description": format!("Stop one AZ's app instances for {duration}"),
        "targets": {
            "Instances": {
                "resourceType": "aws:ec2:instance",
                "resourceTags": { "Tier": "app" },
                "filters": [{ "path": "Placement.AvailabilityZone", "values": ["us-east-1a"] }],
                "selectionMode": "ALL"
            }
        },
        "actions": {
            "Stop": {
                "actionId": "aws:ec2:stop-instances",
                "parameters": { "startInstancesAfterDuration": duration },
                "targets": { "Instances": "Instances" }
            }
        },
        "stopConditions": [{ "source": "none" }],
        "roleArn": "arn:aws:iam::000000000000:role/drdrill-fis"
    })
    .to_string()
}

/// Copies the repository's template `name` (under `scenarios/fis/`).
pub fn repo_template(name: &str) -> String {
    std::fs::read_to_string(repo().join("scenarios/fis").join(name)).unwrap()
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) for the child to exit.
pub async fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("drdrill did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts `drdrill run FILE --yes --quiet --out OUT` in the background.
pub fn spawn_run(file: &Path, out: &Path, env: &[(&str, &str)]) -> Child {
    let mut c = drdrill();
    c.arg("run").arg(file).args(["--yes", "--quiet", "--out"]).arg(out);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
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
pub fn report(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(run_dir(out)?.join("report.json")).ok()?;
    Some(serde_json::from_str(&text).expect("report.json is valid JSON"))
}

/// Waits (bounded) until the run's journal contains `needle`, or the child exits.
pub async fn wait_journal(child: &mut Child, out: &Path, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if journal_text(out).contains(needle) {
            return true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() >= deadline {
            return journal_text(out).contains(needle);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Experiments of the stack that are not in a final state, as `id: status`.
pub fn unfinished_experiments(ls: &LocalStack) -> Vec<String> {
    let listed = ls.fis.list_experiments(None);
    listed["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            !matches!(
                e["state"]["status"].as_str().unwrap_or(""),
                "completed" | "stopped" | "failed" | "cancelled"
            )
        })
        .map(|e| format!("{}: {}", e["id"], e["state"]["status"]))
        .collect()
}

/// How many experiments the stack has seen.
pub fn experiment_count(ls: &LocalStack) -> usize {
    ls.fis.list_experiments(None)["experiments"].as_array().unwrap().len()
}

/// Actions whose effect ends by itself (a failover or reboot outage): they have a
/// `fault_reverted` only when stopped early, and one that ran its course is not in effect.
const ONE_SHOT: &[&str] = &["aws:rds:failover-db-cluster", "aws:rds:reboot-db-instances"];

/// Fault effects applied and never reverted, per the ground truth (`experiment/action`).
pub fn unreverted_faults(truth: &[TruthEvent]) -> Vec<String> {
    let mut open: Vec<String> = Vec::new();
    for e in truth {
        match &e.what {
            Truth::FaultApplied {
                experiment,
                action,
                action_id,
                ..
            } if !ONE_SHOT.contains(&action_id.as_str()) => open.push(format!("{experiment}/{action}")),
            Truth::FaultReverted { experiment, action, .. } => {
                let key = format!("{experiment}/{action}");
                if let Some(i) = open.iter().position(|k| *k == key) {
                    open.remove(i);
                }
            }
            _ => {}
        }
    }
    open
}

/// Asserts that nothing a drill did is still in effect: no experiment unfinished, every
/// fault applied was reverted, no subnet black-holed, and (within `limit`) the stack
/// serves again. `what` names the case in messages.
pub async fn assert_no_fault_in_effect(ls: &LocalStack, what: &str, limit: Duration) {
    let unfinished = unfinished_experiments(ls);
    assert!(
        unfinished.is_empty(),
        "{what}: experiments still running: {unfinished:?}"
    );
    let open = unreverted_faults(&ls.world.truth.snapshot());
    assert!(open.is_empty(), "{what}: faults applied and not reverted: {open:?}");
    for subnet in &ls.world.stack.subnets {
        assert!(
            !ls.world.is_blocked(&subnet.id),
            "{what}: {} is still black-holed",
            subnet.id
        );
    }
    assert!(
        wait_until(limit, || ls.world.serving()).await,
        "{what}: the stack is not serving {limit:?} after the run"
    );
}

/// Templates in the stack that drdrill created (tagged `drdrill:run-id`).
pub fn drdrill_templates(ls: &LocalStack) -> Vec<String> {
    ls.fis.list_templates()["experimentTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tags"].get(drdrill::fault::RUN_TAG).is_some())
        .map(|t| t["id"].as_str().unwrap_or("").to_string())
        .collect()
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

/// A TCP proxy in front of the stack's AWS endpoint that a test can cut (connections
/// dropped, new ones closed at once) and restore: the target becoming unreachable.
pub struct Proxy {
    /// The address to give the harness.
    pub addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Proxies 127.0.0.1:<free port> to `upstream`.
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (cut2, conns2) = (cut.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if cut2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        Proxy {
            addr,
            cut,
            conns,
            accept,
        }
    }

    /// The proxy as an endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts (`true`: every open connection dropped, new ones closed) or restores.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
        if cut {
            for task in self.conns.lock().unwrap().drain(..) {
                task.abort();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}
