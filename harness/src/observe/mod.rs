//! Observers: the system's own view on the run's timeline. They poll FIS experiment and
//! action states (GetExperiment), ELB target health (DescribeTargetHealth), and — when the
//! app is reached by a Route 53 name — the name's DNS answers ([`watch_dns`]) and the
//! status of its records' health checks ([`watch_health_checks`]), and journal every
//! change; the runner reads the experiment's state from here.
//!
//! Each AWS observer keeps an API budget ([`Budget`]): it calls at the scenario's cadence
//! ([`crate::scenario::Cadence`]), backs off while calls are throttled or fail, and
//! journals every failed call and every blind stretch, which the report shows.

mod budget;
mod dns;
mod route53;

pub use budget::{timed, timed_out, Budget, Failure};

pub use dns::watch_dns;
pub use route53::{discover, health_status, watch_health_checks, DiscoverError, NameRoute53};

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_fis::operation::get_experiment::GetExperimentOutput;

use crate::aws::Clients;
use crate::fault::{fis_unix_ms, ClockOffset};
use crate::journal::{now_unix_ms, EventKind, Journal};
use crate::scenario::Cadence;
use crate::status::{ActionStatus, ExperimentStatus, TargetHealthState};

/// How often the harness's own waits poll (preflight, DNS): the local default cadence.
pub const POLL: Duration = Duration::from_millis(100);

/// The FIS action that only waits: it has start and end times but injects nothing.
pub const WAIT_ACTION: &str = "aws:fis:wait";

/// The experiment as last seen. Every time is unix ms on this machine's clock: FIS's
/// own times are corrected by the [`ClockOffset`] StartExperiment bounded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExperimentView {
    /// FIS status (`pending`, `initiating`, `running`, `completed`, `stopping`, `stopped`, `failed`).
    pub status: crate::status::ExperimentStatus,
    /// FIS's reason for the status.
    pub reason: Option<String>,
    /// The experiment's `startTime` per FIS. AWS stamps it at StartExperiment, while the
    /// experiment is still `initiating`: it is not when any fault began.
    pub start_unix_ms: Option<i64>,
    /// The experiment's `endTime` per FIS.
    pub end_unix_ms: Option<i64>,
    /// When this observer saw the experiment enter `running`: (the moment the last
    /// GetExperiment that did not say `running` was sent — or StartExperiment, when none
    /// did —, the moment the first answer that did arrived). The transition lies between.
    pub running_between_unix_ms: Option<(i64, i64)>,
    /// The experiment's actions by name.
    pub actions: BTreeMap<String, ActionView>,
    /// Whether the status is final.
    pub ended: bool,
    /// Since when (unix ms) every GetExperiment has gone without any HTTP answer
    /// (connect refused, timeout, DNS); `None` while FIS answers, even with an error
    /// (throttling, AccessDenied, ExpiredToken are journaled, not "unreachable").
    pub unreachable_since_unix_ms: Option<i64>,
}

/// One action of the experiment as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionView {
    /// FIS action id, e.g. `aws:ec2:stop-instances`.
    pub action_id: String,
    /// FIS status (`pending`, `initiating`, `running`, `completed`, `cancelled`,
    /// `stopping`, `stopped`, `failed`).
    pub status: crate::status::ActionStatus,
    /// The action's `startTime` per FIS.
    pub start_unix_ms: Option<i64>,
    /// The action's `endTime` per FIS.
    pub end_unix_ms: Option<i64>,
}

impl ExperimentView {
    /// When the fault began per FIS: the earliest `startTime` among the fault actions
    /// (every action but [`WAIT_ACTION`], which injects nothing).
    pub fn fault_start_unix_ms(&self) -> Option<i64> {
        self.actions
            .values()
            .filter(|a| a.action_id != WAIT_ACTION)
            .filter_map(|a| a.start_unix_ms)
            .min()
    }
}

/// Longest time one GetExperiment may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Polls target health of `target_group_arn` every `cadence.elbv2` (backing off while
/// calls fail), journaling changes (zones from `zones`) and every failed call.
pub fn watch_targets(
    clients: &Clients,
    journal: &Journal,
    target_group_arn: String,
    zones: HashMap<String, String>,
    cadence: &Cadence,
) -> Observers {
    let (elb, journal) = (clients.elb.clone(), journal.clone());
    let budget = Budget::new(
        &journal,
        "elbv2",
        "elasticloadbalancing",
        "DescribeTargetHealth",
        cadence.elbv2,
        cadence.max_backoff,
    );
    Observers::spawn(move |stop| async move {
        let mut last: HashMap<String, TargetHealthState> = HashMap::new();
        let call = || {
            let call = elb.describe_target_health().target_group_arn(&target_group_arn).send();
            timed("elasticloadbalancing", "DescribeTargetHealth", CALL_TIMEOUT, call)
        };
        let answered = |out: DescribeTargetHealthOutput, _sent| {
            for d in out.target_health_descriptions() {
                let Some(id) = d.target().and_then(|t| t.id()) else {
                    continue;
                };
                let health = d.target_health();
                let state = TargetHealthState::of_elb(d).unwrap_or_else(|| TargetHealthState::Other(String::new()));
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
            false
        };
        budget.poll_until(stop, call, answered, |_, _| {}).await;
    })
}

/// The experiment's part of a GetExperiment answer: FIS's times on this machine's clock.
fn experiment_view(exp: &aws_sdk_fis::types::Experiment, clock: &ClockOffset) -> ExperimentView {
    let local = |t: Option<&aws_sdk_fis::primitives::DateTime>| t.map(|t| clock.to_local(fis_unix_ms(t)));
    let state = exp.state();
    let status = ExperimentStatus::of_fis(exp.state());
    let actions = exp
        .actions()
        .into_iter()
        .flatten()
        .map(|(name, a)| {
            let view = ActionView {
                action_id: a.action_id().unwrap_or_default().to_string(),
                status: a
                    .state()
                    .and_then(|s| s.status())
                    .map_or_else(|| ActionStatus::Other(String::new()), |s| s.as_str().into()),
                start_unix_ms: local(a.start_time()),
                end_unix_ms: local(a.end_time()),
            };
            (name.clone(), view)
        })
        .collect();
    ExperimentView {
        ended: status.is_final(),
        status,
        reason: state.and_then(|s| s.reason()).map(str::to_string),
        start_unix_ms: local(exp.start_time()),
        end_unix_ms: local(exp.end_time()),
        running_between_unix_ms: None,
        actions,
        unreachable_since_unix_ms: None,
    }
}

/// Polls an experiment every `cadence.fis` until it ends or `stop` is cancelled,
/// journaling experiment and action state changes (with each action's start and end time
/// when first reported); the latest view is published on the returned channel. `clock`
/// corrects FIS's times to this machine's clock; `started_unix_ms` is when
/// StartExperiment was sent.
///
/// A failed GetExperiment is journaled and backed off from; only calls without any HTTP
/// answer mark the view [`ExperimentView::unreachable_since_unix_ms`].
pub fn watch_experiment(
    clients: &Clients,
    journal: &Journal,
    experiment_id: String,
    clock: ClockOffset,
    started_unix_ms: i64,
    cadence: &Cadence,
) -> (Observers, watch::Receiver<ExperimentView>) {
    let (tx, rx) = watch::channel(ExperimentView::default());
    let (fis, journal) = (clients.fis.clone(), journal.clone());
    let budget = Budget::new(
        &journal,
        "fis",
        "fis",
        "GetExperiment",
        cadence.fis,
        cadence.max_backoff,
    );
    let observers = Observers::spawn(move |stop| async move {
        let mut seen = Seen {
            actions: HashMap::new(),
            not_running_since: started_unix_ms,
        };
        let call = || {
            timed(
                "fis",
                "GetExperiment",
                CALL_TIMEOUT,
                fis.get_experiment().id(&experiment_id).send(),
            )
        };
        let answered = |out: GetExperimentOutput, sent| {
            let received = now_unix_ms();
            let Some(exp) = out.experiment() else {
                return false;
            };
            seen.publish(experiment_view(exp, &clock), sent, received, &tx, &journal)
        };
        let failed = |failure, sent| {
            let transport = failure == Failure::Transport;
            tx.send_modify(|v| {
                if transport {
                    v.unreachable_since_unix_ms.get_or_insert(sent);
                } else {
                    // FIS answered (with an error): reachable, though not seen.
                    v.unreachable_since_unix_ms = None;
                }
            });
        };
        budget.poll_until(stop, call, answered, failed).await;
    });
    (observers, rx)
}

/// What [`watch_experiment`] remembers between answers.
struct Seen {
    /// What was journaled last per action: (status, start, end).
    actions: HashMap<String, (ActionStatus, Option<i64>, Option<i64>)>,
    /// When the last GetExperiment that did not see `running` was sent.
    not_running_since: i64,
}

impl Seen {
    /// Takes in the view a GetExperiment sent at `sent` and answered at `received` gave:
    /// notes when it was first seen running, journals experiment and action state
    /// changes, and publishes it. Returns whether the experiment has ended.
    fn publish(
        &mut self,
        mut view: ExperimentView,
        sent: i64,
        received: i64,
        tx: &watch::Sender<ExperimentView>,
        journal: &Journal,
    ) -> bool {
        let previous = tx.borrow().running_between_unix_ms;
        view.running_between_unix_ms = match previous {
            Some(p) => Some(p),
            None if view.status == ExperimentStatus::Running => Some((self.not_running_since, received)),
            None => {
                self.not_running_since = sent;
                None
            }
        };
        if view.status != tx.borrow().status {
            journal.record(EventKind::ExperimentState {
                status: view.status.clone(),
                reason: view.reason.clone(),
            });
        }
        for (name, a) in &view.actions {
            let seen = (a.status.clone(), a.start_unix_ms, a.end_unix_ms);
            if self.actions.get(name) != Some(&seen) {
                self.actions.insert(name.clone(), seen);
                journal.record(EventKind::ActionState {
                    action: name.clone(),
                    status: a.status.clone(),
                    start_unix_ms: a.start_unix_ms,
                    end_unix_ms: a.end_unix_ms,
                });
            }
        }
        let ended = view.ended;
        tx.send_replace(view);
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fault began at the earliest start of an action that injects something: an
    /// earlier `aws:fis:wait` and actions without a start time do not count.
    #[test]
    fn fault_start_ignores_waits() {
        let action = |id: &str, start: Option<i64>| ActionView {
            action_id: id.into(),
            status: "running".into(),
            start_unix_ms: start,
            end_unix_ms: None,
        };
        let mut view = ExperimentView::default();
        assert_eq!(view.fault_start_unix_ms(), None);
        view.actions.insert("Wait".into(), action(WAIT_ACTION, Some(100)));
        assert_eq!(view.fault_start_unix_ms(), None);
        view.actions
            .insert("Stop".into(), action("aws:ec2:stop-instances", Some(400)));
        view.actions
            .insert("Cut".into(), action("aws:network:disrupt-connectivity", Some(300)));
        view.actions
            .insert("Later".into(), action("aws:rds:failover-db-cluster", None));
        assert_eq!(view.fault_start_unix_ms(), Some(300));
    }
}
