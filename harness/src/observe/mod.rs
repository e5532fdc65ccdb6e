//! Observers: the system's own view on the run's timeline. They poll FIS experiment and
//! action states (GetExperiment), ELB target health (DescribeTargetHealth), and — when the
//! app is reached by a Route 53 name — the name's DNS answers ([`watch_dns`]) and the
//! status of its records' health checks ([`watch_health_checks`]), and journal every
//! change; the runner reads the experiment's state from here.

mod dns;
mod route53;

pub use dns::watch_dns;
pub use route53::{discover, health_status, watch_health_checks, DiscoverError, NameRoute53};

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::journal::{EventKind, Journal};

/// How often observers poll.
pub const POLL: Duration = Duration::from_millis(100);

/// The experiment as last seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExperimentView {
    /// FIS status (`pending`, `initiating`, `running`, `completed`, `stopping`, `stopped`, `failed`).
    pub status: String,
    /// FIS's reason for the status.
    pub reason: Option<String>,
    /// When it started running, unix ms.
    pub start_unix_ms: Option<i64>,
    /// When it ended, unix ms.
    pub end_unix_ms: Option<i64>,
    /// Whether the status is final.
    pub ended: bool,
    /// Since when (unix ms) every GetExperiment has failed; `None` while FIS answers.
    pub unreachable_since_unix_ms: Option<i64>,
}

/// Longest time one GetExperiment may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether an FIS status is final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "stopped" | "failed" | "cancelled")
}

/// Running observers.
pub struct Observers {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Observers {
    /// Runs `task` until it returns or the observers are stopped (the task gets the
    /// cancellation token to watch).
    pub(crate) fn spawn<F, Fut>(task: F) -> Observers
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(task(stop.clone()));
        Observers {
            stop,
            tasks: vec![handle],
        }
    }

    /// Stops polling.
    pub async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Polls target health of `target_group_arn`, journaling changes (zones from `zones`).
pub fn watch_targets(
    clients: &Clients,
    journal: &Journal,
    target_group_arn: String,
    zones: HashMap<String, String>,
) -> Observers {
    let stop = CancellationToken::new();
    let (elb, journal, token) = (clients.elb.clone(), journal.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let mut last: HashMap<String, String> = HashMap::new();
        loop {
            if let Ok(out) = elb
                .describe_target_health()
                .target_group_arn(&target_group_arn)
                .send()
                .await
            {
                for d in out.target_health_descriptions() {
                    let Some(id) = d.target().and_then(|t| t.id()) else {
                        continue;
                    };
                    let health = d.target_health();
                    let state = health
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    if last.get(id) != Some(&state) {
                        last.insert(id.to_string(), state.clone());
                        journal.record(EventKind::TargetHealth {
                            target: id.to_string(),
                            zone: zones.get(id).cloned(),
                            state,
                            reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
                        });
                    }
                }
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Observers {
        stop,
        tasks: vec![task],
    }
}

/// Polls an experiment until it ends or `stop` is cancelled, journaling experiment and
/// action state changes; the latest view is published on the returned channel.
pub fn watch_experiment(
    clients: &Clients,
    journal: &Journal,
    experiment_id: String,
) -> (Observers, watch::Receiver<ExperimentView>) {
    let stop = CancellationToken::new();
    let (tx, rx) = watch::channel(ExperimentView::default());
    let (fis, journal, token) = (clients.fis.clone(), journal.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let mut actions: HashMap<String, String> = HashMap::new();
        let mut failures = 0u32;
        loop {
            let answer = tokio::time::timeout(CALL_TIMEOUT, fis.get_experiment().id(&experiment_id).send()).await;
            let answer = match answer {
                Ok(Ok(out)) => Ok(out),
                Ok(Err(e)) => Err(crate::aws::describe_error(&e)),
                Err(_) => Err(format!("no answer within {CALL_TIMEOUT:?}")),
            };
            match answer {
                Ok(out) => {
                    failures = 0;
                    if let Some(exp) = out.experiment() {
                        let state = exp.state();
                        let view = ExperimentView {
                            status: state
                                .and_then(|s| s.status())
                                .map(|s| s.as_str().to_string())
                                .unwrap_or_default(),
                            reason: state.and_then(|s| s.reason()).map(str::to_string),
                            start_unix_ms: exp.start_time().and_then(|t| t.to_millis().ok()),
                            end_unix_ms: exp.end_time().and_then(|t| t.to_millis().ok()),
                            ended: false,
                            unreachable_since_unix_ms: None,
                        };
                        let view = ExperimentView {
                            ended: is_final(&view.status),
                            ..view
                        };
                        if view.status != tx.borrow().status {
                            journal.record(EventKind::ExperimentState {
                                status: view.status.clone(),
                                reason: view.reason.clone(),
                            });
                        }
                        if let Some(map) = exp.actions() {
                            let mut names: Vec<&String> = map.keys().collect();
                            names.sort();
                            for name in names {
                                let st = map[name]
                                    .state()
                                    .and_then(|s| s.status())
                                    .map(|s| s.as_str().to_string())
                                    .unwrap_or_default();
                                if actions.get(name) != Some(&st) {
                                    actions.insert(name.clone(), st.clone());
                                    journal.record(EventKind::ActionState {
                                        action: name.clone(),
                                        status: st,
                                    });
                                }
                            }
                        }
                        let ended = view.ended;
                        tx.send_replace(view);
                        if ended {
                            return;
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(50) {
                        journal.record(EventKind::Note {
                            message: format!("GetExperiment failed: {e}"),
                        });
                    }
                    let now = crate::journal::now_unix_ms();
                    tx.send_modify(|v| {
                        v.unreachable_since_unix_ms.get_or_insert(now);
                    });
                }
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    });
    (
        Observers {
            stop,
            tasks: vec![task],
        },
        rx,
    )
}
