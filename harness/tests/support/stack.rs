//! A local stack for drills run by the `drdrill` binary as an `aws:` target (so what a
//! run leaves behind outlives the harness process), the ground-truth checks that no
//! experiment is running and no fault is in effect, and a proxy that cuts the stack off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use drdrill_localstack::truth::{Truth, TruthEvent};
use drdrill_localstack::LocalStack;

use super::repo;
use super::wait::wait_until;

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

/// The id, status and reason of every experiment of the stack.
pub fn experiments(ls: &LocalStack) -> Vec<(String, String, String)> {
    ls.fis.list_experiments(None)["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            (s(&e["id"]), s(&e["state"]["status"]), s(&e["state"]["reason"]))
        })
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
        wait_until(limit, || std::future::ready(ls.world.serving())).await,
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
