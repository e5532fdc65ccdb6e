//! Where a FIS action is applied: an experiment runs from `initiating` through target
//! resolution and its actions (each started once its `startAfter` predecessors
//! completed) to its end state; each action applies its effect to the world, holds it
//! and reverts it, stamping the ground truth and the action's times with the same
//! instants.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::catalog::parse_duration;
use super::engine::{now_secs, secs, Fis};
use super::resolve::{resolve, Resource};
use super::template::TemplateInput;
use crate::network::Scope;
use crate::truth::{now_unix_ms, Truth};
use crate::world::{InstanceState, World};

impl Fis {
    /// Runs an experiment to its end: `initiating` for the stack's `fis.initiating`, then
    /// its targets resolved, its stop conditions watched and its actions run.
    pub(super) async fn run(self: Arc<Self>, id: String, stop: CancellationToken) {
        let Some(input) = self.lock().experiments.get(&id).map(|e| e.input.clone()) else {
            return;
        };
        // `initiating` lasts the stack file's `fis.initiating` (AWS: a few seconds); a stop
        // meanwhile cancels every action before any started.
        if !hold(self.world.stack.fis.initiating.0, &stop).await {
            return self.end(&id, &input, &[], None, &stop);
        }
        let Some(resolved) = self.resolve_targets(&id, &input) else {
            return;
        };
        self.update(&id, |e| {
            e.resolved = resolved.clone();
            if e.status == "initiating" {
                e.status = "running";
                e.reason = Some("Experiment is running.".into());
            }
        });
        // Cancelled when the experiment ends, whether stopped or not.
        let watching = stop.child_token();
        let _stop_watching = watching.clone().drop_guard();
        self.watch_stop_conditions(&id, &input, &watching);
        self.run_actions(&id, &input, &resolved, &stop).await;
    }

    /// Resolves every target of the experiment and records them; `None` (the experiment
    /// `failed`, its actions `cancelled`) when one fails or an action's target is empty.
    fn resolve_targets(&self, id: &str, input: &TemplateInput) -> Option<BTreeMap<String, Vec<Resource>>> {
        let mut resolved = BTreeMap::new();
        for (name, spec) in &input.targets {
            match resolve(&self.world, name, spec) {
                Ok(r) => {
                    resolved.insert(name.clone(), r);
                }
                Err(msg) => {
                    self.cancel_pending(id, input, &[]);
                    self.finish(id, "failed", Some(format!("Target resolution failed: {msg}")));
                    return None;
                }
            }
        }
        for (name, action) in &input.actions {
            for target in action.targets.values() {
                if resolved.get(target).is_none_or(|r| r.is_empty()) {
                    let msg = format!("Target resolution returned no resources for target {target} of action {name}");
                    self.update(id, |e| e.resolved = resolved.clone());
                    self.cancel_pending(id, input, &[]);
                    self.finish(id, "failed", Some(msg));
                    return None;
                }
            }
        }
        Some(resolved)
    }

    /// Starts each action once its `startAfter` predecessors completed, collects their
    /// outcomes, and ends the experiment when none runs any more (a failure stops the rest).
    async fn run_actions(
        self: &Arc<Self>,
        id: &str,
        input: &TemplateInput,
        resolved: &BTreeMap<String, Vec<Resource>>,
        stop: &CancellationToken,
    ) {
        let mut done: Vec<String> = Vec::new();
        let mut started: Vec<String> = Vec::new();
        let mut tasks: JoinSet<(String, Result<bool, String>)> = JoinSet::new();
        let mut failure = None;
        loop {
            if !stop.is_cancelled() && failure.is_none() {
                for (name, action) in &input.actions {
                    if started.contains(name) || !action.start_after.iter().all(|a| done.contains(a)) {
                        continue;
                    }
                    started.push(name.clone());
                    let resources: Vec<Resource> = action
                        .targets
                        .values()
                        .flat_map(|t| resolved.get(t).cloned().unwrap_or_default())
                        .collect();
                    // `running` and the start time come with the effect (`Fis::mark`).
                    self.set_action(id, name, |a| {
                        a.status = "initiating";
                        a.reason = Some("Action is initiating.".into());
                    });
                    let fis = self.clone();
                    let (exp, name, action, stop) = (id.to_string(), name.clone(), action.clone(), stop.clone());
                    tasks.spawn(async move {
                        let r = run_action(&fis, &exp, &name, &action, &resources, &stop).await;
                        (name, r)
                    });
                }
            }
            let Some(joined) = tasks.join_next().await else { break };
            let (name, result) = match joined {
                Ok(r) => r,
                Err(e) => (String::new(), Err(format!("action task failed: {e}"))),
            };
            let (status, reason) = match &result {
                Ok(true) => ("completed", "Action was completed."),
                Ok(false) => ("stopped", "Action was stopped."),
                Err(_) => ("failed", "Action failed."),
            };
            let now = now_secs();
            self.set_action(id, &name, |a| {
                a.status = status;
                a.reason = Some(result.as_ref().err().cloned().unwrap_or_else(|| reason.to_string()));
                // An effect that was reverted ended then (`Fis::mark`); any other action
                // ends now.
                a.end.get_or_insert(now);
            });
            match result {
                Ok(true) => done.push(name),
                Ok(false) => {}
                Err(e) => {
                    failure = Some(e);
                    stop.cancel();
                }
            }
        }
        self.end(id, input, &started, failure, stop)
    }

    /// Marks every action not in `started` `cancelled`.
    pub(super) fn cancel_pending(&self, id: &str, input: &TemplateInput, started: &[String]) {
        for name in input.actions.keys().filter(|n| !started.contains(n)) {
            self.set_action(id, name, |a| {
                a.status = "cancelled";
                a.reason = Some("Experiment ended before the action started.".into());
            });
        }
    }

    /// Ends the experiment once no action runs any more: `failed`, `stopped` or `completed`.
    pub(super) fn end(
        &self,
        id: &str,
        input: &TemplateInput,
        started: &[String],
        failure: Option<String>,
        stop: &CancellationToken,
    ) {
        self.cancel_pending(id, input, started);
        match failure {
            Some(e) => self.finish(id, "failed", Some(e)),
            None if stop.is_cancelled() => {
                let why = self.lock().experiments.get(id).and_then(|e| e.stopped_by.clone());
                self.finish(
                    id,
                    "stopped",
                    Some(why.unwrap_or_else(|| "Experiment was stopped.".into())),
                )
            }
            None => self.finish(id, "completed", Some("Experiment completed.".into())),
        }
    }

    /// Stamps an action with its effect: applied at `at_unix_ms` (the action is `running`
    /// from then, and that is its `startTime`) or reverted then (its `endTime`).
    pub(super) fn mark(&self, id: &str, action: &str, applied: bool, at_unix_ms: i64) {
        self.set_action(id, action, |a| {
            if applied {
                if a.status == "initiating" {
                    a.status = "running";
                    a.reason = Some("Action is running.".into());
                }
                a.start.get_or_insert(secs(at_unix_ms));
            } else {
                a.end.get_or_insert(secs(at_unix_ms));
            }
        });
    }

    pub(super) fn finish(&self, id: &str, status: &'static str, reason: Option<String>) {
        self.update(id, |e| {
            e.status = status;
            e.reason = reason;
            e.end = Some(now_secs());
        });
    }
}

/// Waits for `d` or until stopped; true when the whole duration passed.
async fn hold(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.cancelled() => false,
    }
}

fn param_duration(action: &super::template::ActionDef, key: &str) -> Result<Option<Duration>, String> {
    action.parameters.get(key).map(|v| parse_duration(v)).transpose()
}

/// Runs one action: applies its effect, holds it, reverts it. `Ok(true)` when it ran to
/// completion, `Ok(false)` when stopped (effects reverted). The action's `startTime` and
/// `endTime` are stamped with the instants the ground truth records for its effect.
async fn run_action(
    fis: &Arc<Fis>,
    exp: &str,
    name: &str,
    action: &super::template::ActionDef,
    resources: &[Resource],
    stop: &CancellationToken,
) -> Result<bool, String> {
    let world = &fis.world;
    let ids: Vec<String> = resources.iter().map(|r| r.id.clone()).collect();
    // Each event is stamped with the moment its effect began (taken just before applying or
    // reverting it) and recorded once the effect is in place: the log shows the fault before
    // the serving change it causes, and a reader who sees the event finds the effect there.
    // The action's startTime / endTime get the same instant, at the same moment.
    let event = |applied: bool, began: i64| {
        world
            .truth
            .record_at(began, fault_event(applied, exp, name, &action.action_id, &ids));
        fis.mark(exp, name, applied, began);
    };
    match action.action_id.as_str() {
        "aws:ec2:stop-instances" => {
            let restart = param_duration(action, "startInstancesAfterDuration")?;
            stop_instances(world, &ids, restart, stop, &event).await
        }
        "aws:ec2:terminate-instances" => {
            let began = now_unix_ms();
            world
                .terminate_instances(&ids)
                .map_err(|id| format!("instance {id} does not exist"))?;
            event(true, began);
            Ok(true)
        }
        "aws:network:disrupt-connectivity" => {
            let d = param_duration(action, "duration")?.unwrap_or_default();
            let scope_name = action.parameters.get("scope").map(String::as_str);
            let scope = Scope::parse(scope_name).ok_or_else(|| format!("scope {scope_name:?} is not supported"))?;
            let (apply, revert) = (
                || world.block_subnets(&ids, scope),
                || world.unblock_subnets(&ids, scope),
            );
            Ok(held_effect(&event, apply, d, stop, revert, Revert::Always).await)
        }
        "aws:network:route-table-disrupt-cross-region-connectivity" => {
            let d = param_duration(action, "duration")?.unwrap_or_default();
            let other = action.parameters.get("region").map(String::as_str);
            let (apply, revert) = (|| world.cut_cross_region(other), || world.restore_cross_region(other));
            Ok(held_effect(&event, apply, d, stop, revert, Revert::Always).await)
        }
        "aws:rds:failover-db-cluster" => {
            let d = world.stack.database.failover_duration.0;
            let end_outage = || world.db_end_outage();
            Ok(held_effect(&event, || world.db_failover(), d, stop, end_outage, Revert::WhenStopped).await)
        }
        "aws:rds:reboot-db-instances" => {
            let force = action.parameters.get("forceFailover").is_some_and(|v| v == "true");
            let reboot = || {
                for id in &ids {
                    world.db_reboot(id, force);
                }
            };
            let d = world.stack.database.reboot_duration.0;
            let end_outage = || world.db_end_outage();
            Ok(held_effect(&event, reboot, d, stop, end_outage, Revert::WhenStopped).await)
        }
        "aws:ssm:start-automation-execution" | "aws:fis:wait" => timed_only(fis, exp, name, action, stop).await,
        other => Err(format!("action type {other} is not supported")),
    }
}

/// The actions with no fault effect of their own, which FIS times like any action: the
/// Automation execution (its document's steps make their own changes) and `aws:fis:wait`
/// (no effect and no ground-truth event).
async fn timed_only(
    fis: &Arc<Fis>,
    exp: &str,
    name: &str,
    action: &super::template::ActionDef,
    stop: &CancellationToken,
) -> Result<bool, String> {
    let wait = action.action_id == "aws:fis:wait";
    let d = param_duration(action, if wait { "duration" } else { "maxDuration" })?.unwrap_or_default();
    fis.mark(exp, name, true, now_unix_ms());
    let result = if wait {
        Ok(hold(d, stop).await)
    } else {
        super::automation::run(fis, action, d, stop).await
    };
    fis.mark(exp, name, false, now_unix_ms());
    result
}

/// `aws:ec2:stop-instances`: stops the targets that are running and, with
/// `startInstancesAfterDuration`, starts them again after it (or when stopped).
async fn stop_instances(
    world: &Arc<World>,
    ids: &[String],
    restart: Option<Duration>,
    stop: &CancellationToken,
    event: &impl Fn(bool, i64),
) -> Result<bool, String> {
    let running: Vec<String> = world
        .instances()
        .into_iter()
        .filter(|i| ids.contains(&i.id) && i.state == InstanceState::Running)
        .map(|i| i.id)
        .collect();
    let began = now_unix_ms();
    world
        .stop_instances(&running)
        .map_err(|id| format!("instance {id} does not exist"))?;
    event(true, began);
    let Some(restart) = restart else { return Ok(true) };
    let full = hold(restart, stop).await;
    let began = now_unix_ms();
    world
        .start_instances(&running)
        .map_err(|id| format!("instance {id} does not exist"))?;
    event(false, began);
    Ok(full)
}

/// The ground-truth event of an action's effect: applied, or reverted.
fn fault_event(applied: bool, experiment: &str, action: &str, action_id: &str, targets: &[String]) -> Truth {
    let (experiment, action, action_id, targets) = (
        experiment.to_string(),
        action.to_string(),
        action_id.to_string(),
        targets.to_vec(),
    );
    if applied {
        Truth::FaultApplied {
            experiment,
            action,
            action_id,
            targets,
        }
    } else {
        Truth::FaultReverted {
            experiment,
            action,
            action_id,
            targets,
        }
    }
}

/// When [`held_effect`] reverts its effect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Revert {
    /// After the hold, whether it ran its whole duration or was stopped.
    Always,
    /// Only when a stop cut the hold short (a database outage ends on its own).
    WhenStopped,
}

/// Applies an effect, holds it for `d` (or until stopped), then reverts it as `when`
/// says; each step is stamped by `event` with the instant taken just before it. True
/// when the whole duration passed.
async fn held_effect(
    event: &impl Fn(bool, i64),
    apply: impl FnOnce(),
    d: Duration,
    stop: &CancellationToken,
    revert: impl FnOnce(),
    when: Revert,
) -> bool {
    let began = now_unix_ms();
    apply();
    event(true, began);
    let full = hold(d, stop).await;
    if when == Revert::Always || !full {
        let began = now_unix_ms();
        revert();
        event(false, began);
    }
    full
}
