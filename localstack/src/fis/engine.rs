//! The FIS engine: templates, experiments with AWS's experiment and action states,
//! `startAfter` ordering, and actions that do real things to the stack. Stopping an
//! experiment reverts every effect still in force.
//!
//! States and times follow the FIS API reference:
//! - an experiment is `initiating` from StartExperiment on (the answer already says so,
//!   with `creationTime` and `startTime` stamped inside the call and every action
//!   `pending`, "Initial state": the example output of
//!   <https://docs.aws.amazon.com/cli/latest/reference/fis/start-experiment.html>) for the
//!   stack file's `fis.initiating`, then `running`, then `completed`, `stopping` →
//!   `stopped`, or `failed`
//!   (<https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentState.html>);
//! - each action has its own state — `pending` (also while its `startAfter` predecessors
//!   run), `initiating`, `running`, `completed`, `cancelled` (the experiment ended before it
//!   started), `stopping`, `stopped`, `failed`
//!   (<https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentActionState.html>)
//!   — and its own `startTime` and `endTime`
//!   (<https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentAction.html>;
//!   restJson1 epoch seconds with millisecond fractions). Here `startTime` is the instant
//!   the action's effect began and `endTime` the instant it was reverted (or, for an
//!   effect that is not reverted, the action ended): the very instants the ground truth's
//!   `fault_applied` / `fault_reverted` events carry. For `aws:fis:wait`, the wait's
//!   start and end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::catalog::parse_duration;
use super::resolve::{resolve, Resource};
use super::template::{local_alarm, validate, TemplateInput};

/// How often local stop conditions are evaluated.
const STOP_CONDITION_POLL: Duration = Duration::from_millis(20);
use crate::cloudwatch::{AlarmState, CloudWatch};
use crate::network::Scope;
use crate::truth::{now_unix_ms, Truth};
use crate::world::World;

/// An FIS API failure, in FIS's error vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FisError {
    /// 400 ValidationException.
    #[error("{0}")]
    Validation(String),
    /// 404 ResourceNotFoundException.
    #[error("{0}")]
    NotFound(String),
    /// 409 ConflictException.
    #[error("{0}")]
    Conflict(String),
}

fn now_secs() -> f64 {
    secs(now_unix_ms())
}

/// A unix-ms instant as FIS's epoch seconds.
fn secs(unix_ms: i64) -> f64 {
    unix_ms as f64 / 1000.0
}

struct Template {
    id: String,
    input: TemplateInput,
    created: f64,
    updated: f64,
}

#[derive(Debug, Clone)]
struct ActionRun {
    status: &'static str,
    reason: Option<String>,
    start: Option<f64>,
    end: Option<f64>,
}

struct Experiment {
    id: String,
    template_id: String,
    input: TemplateInput,
    status: &'static str,
    reason: Option<String>,
    actions: BTreeMap<String, ActionRun>,
    resolved: BTreeMap<String, Vec<Resource>>,
    created: f64,
    start: Option<f64>,
    end: Option<f64>,
    tags: BTreeMap<String, String>,
    stop: CancellationToken,
    /// Why a stop condition stopped it, when one did.
    stopped_by: Option<String>,
}

#[derive(Default)]
struct State {
    templates: BTreeMap<String, Template>,
    experiments: BTreeMap<String, Experiment>,
}

/// The FIS service of one stack.
pub struct Fis {
    world: Arc<World>,
    cloudwatch: Arc<CloudWatch>,
    state: Mutex<State>,
}

fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &u[..15])
}

impl Fis {
    /// An FIS with no templates or experiments, whose stop conditions watch the alarms of
    /// `cloudwatch` (its region's).
    pub fn new(world: Arc<World>, cloudwatch: Arc<CloudWatch>) -> Arc<Fis> {
        Arc::new(Fis {
            world,
            cloudwatch,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:fis:{}:{}:{kind}/{id}",
            self.world.stack.region, self.world.stack.account_id
        )
    }

    /// CreateExperimentTemplate.
    pub fn create_template(&self, input: TemplateInput) -> Result<Value, FisError> {
        validate(&input, self.world.stack.speedups.short_fault_durations).map_err(FisError::Validation)?;
        let id = new_id("EXT");
        let now = now_secs();
        let t = Template {
            id: id.clone(),
            input,
            created: now,
            updated: now,
        };
        let out = self.template_json(&t);
        self.lock().templates.insert(id, t);
        Ok(json!({ "experimentTemplate": out }))
    }

    /// GetExperimentTemplate.
    pub fn get_template(&self, id: &str) -> Result<Value, FisError> {
        let st = self.lock();
        let t = st
            .templates
            .get(id)
            .ok_or_else(|| not_found("experiment template", id))?;
        Ok(json!({ "experimentTemplate": self.template_json(t) }))
    }

    /// DeleteExperimentTemplate.
    pub fn delete_template(&self, id: &str) -> Result<Value, FisError> {
        let t = self
            .lock()
            .templates
            .remove(id)
            .ok_or_else(|| not_found("experiment template", id))?;
        Ok(json!({ "experimentTemplate": self.template_json(&t) }))
    }

    /// ListExperimentTemplates.
    pub fn list_templates(&self) -> Value {
        let st = self.lock();
        let list: Vec<Value> = st
            .templates
            .values()
            .map(|t| {
                json!({"id": t.id, "arn": self.arn("experiment-template", &t.id), "description": t.input.description,
                       "creationTime": t.created, "lastUpdateTime": t.updated, "tags": t.input.tags})
            })
            .collect();
        json!({ "experimentTemplates": list })
    }

    fn template_json(&self, t: &Template) -> Value {
        let mut v = serde_json::to_value(&t.input).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), json!(t.id));
            m.insert("arn".into(), json!(self.arn("experiment-template", &t.id)));
            m.insert("creationTime".into(), json!(t.created));
            m.insert("lastUpdateTime".into(), json!(t.updated));
        }
        v
    }

    /// StartExperiment: resolves targets and runs the actions in the background.
    pub fn start_experiment(
        self: &Arc<Self>,
        template_id: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Value, FisError> {
        let mut st = self.lock();
        let t = st
            .templates
            .get(template_id)
            .ok_or_else(|| not_found("experiment template", template_id))?;
        let input = t.input.clone();
        // FIS checks the template again when an experiment starts from it.
        validate(&input, self.world.stack.speedups.short_fault_durations).map_err(FisError::Validation)?;
        let id = new_id("EXP");
        let actions = input
            .actions
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    ActionRun {
                        status: "pending",
                        reason: Some("Initial state".into()),
                        start: None,
                        end: None,
                    },
                )
            })
            .collect();
        // AWS answers StartExperiment with the experiment already `initiating` and both its
        // creationTime and startTime stamped (see the module docs): startTime is not when
        // any fault began.
        let now = now_secs();
        let exp = Experiment {
            id: id.clone(),
            template_id: template_id.to_string(),
            input,
            status: "initiating",
            reason: Some("Experiment is initiating.".into()),
            actions,
            resolved: BTreeMap::new(),
            created: now,
            start: Some(now),
            end: None,
            tags,
            stop: CancellationToken::new(),
            stopped_by: None,
        };
        let out = self.experiment_json(&exp);
        let stop = exp.stop.clone();
        st.experiments.insert(id.clone(), exp);
        drop(st);
        let fis = self.clone();
        tokio::spawn(async move { fis.run(id, stop).await });
        Ok(json!({ "experiment": out }))
    }

    /// GetExperiment.
    pub fn get_experiment(&self, id: &str) -> Result<Value, FisError> {
        let st = self.lock();
        let e = st.experiments.get(id).ok_or_else(|| not_found("experiment", id))?;
        Ok(json!({ "experiment": self.experiment_json(e) }))
    }

    /// StopExperiment: every effect still in force is reverted; the state goes
    /// `stopping` → `stopped`.
    pub fn stop_experiment(&self, id: &str) -> Result<Value, FisError> {
        let mut st = self.lock();
        let e = st.experiments.get_mut(id).ok_or_else(|| not_found("experiment", id))?;
        if matches!(e.status, "pending" | "initiating" | "running") {
            e.status = "stopping";
            e.reason = Some("Stopping the experiment.".into());
            e.stop.cancel();
            stopping_actions(e);
        }
        Ok(json!({ "experiment": self.experiment_json(e) }))
    }

    /// Stops an experiment because a stop condition fired, keeping why as its reason.
    fn stop_by_condition(&self, id: &str, reason: String) {
        let mut st = self.lock();
        if let Some(e) = st.experiments.get_mut(id) {
            if matches!(e.status, "pending" | "initiating" | "running") {
                tracing::info!(experiment = id, %reason, "stop condition");
                e.status = "stopping";
                e.reason = Some(reason.clone());
                e.stopped_by = Some(reason);
                e.stop.cancel();
                stopping_actions(e);
            }
        }
    }

    /// Watches the experiment's local stop conditions (see
    /// [`LOCAL_ALARM_PREFIX`](super::template::LOCAL_ALARM_PREFIX)) until it ends.
    fn watch_stop_conditions(self: &Arc<Self>, id: &str, input: &TemplateInput, stop: &CancellationToken) {
        for sc in &input.stop_conditions {
            let Some(arn) = sc.value.clone().filter(|_| sc.source == "aws:cloudwatch:alarm") else {
                continue;
            };
            if local_alarm(&arn).is_none() {
                self.watch_alarm(id, arn, stop);
                continue;
            }
            let Some(Ok(limit)) = local_alarm(&arn) else {
                continue;
            };
            let (fis, id, stop) = (self.clone(), id.to_string(), stop.clone());
            tokio::spawn(async move {
                let mut down_since: Option<tokio::time::Instant> = None;
                loop {
                    let now = tokio::time::Instant::now();
                    if fis.world.serving() {
                        down_since = None;
                    } else if now.duration_since(*down_since.get_or_insert(now)) >= limit {
                        fis.stop_by_condition(
                            &id,
                            format!(
                                "Experiment stopped by stop condition {arn}: the stack was not serving for {limit:?}."
                            ),
                        );
                        return;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(STOP_CONDITION_POLL) => {}
                    }
                }
            });
        }
    }

    /// Watches a CloudWatch alarm of this region as a stop condition: the experiment stops
    /// when the alarm is in `ALARM` (checked every [`STOP_CONDITION_POLL`]). An alarm
    /// that does not exist never fires (and is logged).
    fn watch_alarm(self: &Arc<Self>, id: &str, arn: String, stop: &CancellationToken) {
        if self.cloudwatch.alarm_state(&arn).is_none() {
            tracing::warn!(alarm = %arn, "stop condition alarm does not exist in the local stack's CloudWatch");
            return;
        }
        let (fis, id, stop) = (self.clone(), id.to_string(), stop.clone());
        tokio::spawn(async move {
            loop {
                if let Some((AlarmState::Alarm, reason)) = fis.cloudwatch.alarm_state(&arn) {
                    fis.stop_by_condition(
                        &id,
                        format!("Experiment stopped by stop condition {arn}: the alarm is in ALARM ({reason})"),
                    );
                    return;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(STOP_CONDITION_POLL) => {}
                }
            }
        });
    }

    /// ListExperiments (optionally for one template).
    pub fn list_experiments(&self, template_id: Option<&str>) -> Value {
        let st = self.lock();
        let list: Vec<Value> = st
            .experiments
            .values()
            .filter(|e| template_id.is_none_or(|t| t == e.template_id))
            .map(|e| {
                json!({"id": e.id, "arn": self.arn("experiment", &e.id), "experimentTemplateId": e.template_id,
                       "state": state_json(e.status, &e.reason), "creationTime": e.created, "tags": e.tags})
            })
            .collect();
        json!({ "experiments": list })
    }

    /// ListExperimentResolvedTargets.
    pub fn resolved_targets(&self, id: &str, target_name: Option<&str>) -> Result<Value, FisError> {
        let st = self.lock();
        let e = st.experiments.get(id).ok_or_else(|| not_found("experiment", id))?;
        let list: Vec<Value> = e
            .resolved
            .iter()
            .filter(|(name, _)| target_name.is_none_or(|t| t == name.as_str()))
            .flat_map(|(name, res)| {
                res.iter().map(move |r| {
                    json!({"resourceType": r.resource_type, "targetName": name,
                           "targetInformation": {"arn": r.arn, "identifier": r.id}})
                })
            })
            .collect();
        Ok(json!({ "resolvedTargets": list }))
    }

    /// Tags of a template or experiment ARN.
    pub fn tags(&self, arn: &str) -> Result<Value, FisError> {
        let st = self.lock();
        let tags = match self.find_by_arn(&st, arn) {
            Some(Owner::Template(id)) => st.templates[&id].input.tags.clone(),
            Some(Owner::Experiment(id)) => st.experiments[&id].tags.clone(),
            None => return Err(not_found("resource", arn)),
        };
        Ok(json!({ "tags": tags }))
    }

    /// TagResource / UntagResource.
    pub fn retag(&self, arn: &str, add: BTreeMap<String, String>, remove: &[String]) -> Result<Value, FisError> {
        let mut st = self.lock();
        let tags = match self.find_by_arn(&st, arn) {
            Some(Owner::Template(id)) => {
                &mut st
                    .templates
                    .get_mut(&id)
                    .ok_or_else(|| not_found("resource", arn))?
                    .input
                    .tags
            }
            Some(Owner::Experiment(id)) => {
                &mut st
                    .experiments
                    .get_mut(&id)
                    .ok_or_else(|| not_found("resource", arn))?
                    .tags
            }
            None => return Err(not_found("resource", arn)),
        };
        tags.extend(add);
        tags.retain(|k, _| !remove.contains(k));
        Ok(json!({}))
    }

    fn find_by_arn(&self, st: &State, arn: &str) -> Option<Owner> {
        if let Some(t) = st
            .templates
            .keys()
            .find(|id| self.arn("experiment-template", id) == arn)
        {
            return Some(Owner::Template(t.clone()));
        }
        st.experiments
            .keys()
            .find(|id| self.arn("experiment", id) == arn)
            .map(|id| Owner::Experiment(id.clone()))
    }

    fn experiment_json(&self, e: &Experiment) -> Value {
        let targets: BTreeMap<&String, Value> = e
            .input
            .targets
            .iter()
            .map(|(k, t)| (k, serde_json::to_value(t).unwrap_or(Value::Null)))
            .collect();
        let actions: BTreeMap<&String, Value> = e
            .input
            .actions
            .iter()
            .map(|(k, a)| {
                let run = e.actions.get(k);
                let mut v = json!({
                    "actionId": a.action_id, "parameters": a.parameters, "targets": a.targets,
                    "startAfter": a.start_after,
                    "state": run.map(|r| state_json(r.status, &r.reason)),
                });
                if let Some(d) = &a.description {
                    v["description"] = json!(d);
                }
                if let Some(t) = run.and_then(|r| r.start) {
                    v["startTime"] = json!(t);
                }
                if let Some(t) = run.and_then(|r| r.end) {
                    v["endTime"] = json!(t);
                }
                (k, v)
            })
            .collect();
        let mut v = json!({
            "id": e.id, "arn": self.arn("experiment", &e.id), "experimentTemplateId": e.template_id,
            "roleArn": e.input.role_arn, "state": state_json(e.status, &e.reason),
            "targets": targets, "actions": actions, "stopConditions": e.input.stop_conditions,
            "creationTime": e.created, "tags": e.tags,
        });
        if let Some(t) = e.start {
            v["startTime"] = json!(t);
        }
        if let Some(t) = e.end {
            v["endTime"] = json!(t);
        }
        v
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Experiment)) {
        if let Some(e) = self.lock().experiments.get_mut(id) {
            f(e);
        }
    }

    fn set_action(&self, id: &str, action: &str, f: impl FnOnce(&mut ActionRun)) {
        self.update(id, |e| {
            if let Some(a) = e.actions.get_mut(action) {
                f(a);
            }
        });
    }

    async fn run(self: Arc<Self>, id: String, stop: CancellationToken) {
        let Some(input) = self.lock().experiments.get(&id).map(|e| e.input.clone()) else {
            return;
        };
        // `initiating` lasts the stack file's `fis.initiating` (AWS: a few seconds); a stop
        // meanwhile cancels every action before any started.
        if !hold(self.world.stack.fis.initiating.0, &stop).await {
            return self.end(&id, &input, &[], None, &stop);
        }
        let mut resolved = BTreeMap::new();
        for (name, spec) in &input.targets {
            match resolve(&self.world, name, spec) {
                Ok(r) => {
                    resolved.insert(name.clone(), r);
                }
                Err(msg) => {
                    self.cancel_pending(&id, &input, &[]);
                    return self.finish(&id, "failed", Some(format!("Target resolution failed: {msg}")));
                }
            }
        }
        for (name, action) in &input.actions {
            for target in action.targets.values() {
                if resolved.get(target).is_none_or(|r| r.is_empty()) {
                    let msg = format!("Target resolution returned no resources for target {target} of action {name}");
                    self.update(&id, |e| e.resolved = resolved.clone());
                    self.cancel_pending(&id, &input, &[]);
                    return self.finish(&id, "failed", Some(msg));
                }
            }
        }
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
                    self.set_action(&id, name, |a| {
                        a.status = "initiating";
                        a.reason = Some("Action is initiating.".into());
                    });
                    let fis = self.clone();
                    let (exp, name, action, stop) = (id.clone(), name.clone(), action.clone(), stop.clone());
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
            self.set_action(&id, &name, |a| {
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
        self.end(&id, &input, &started, failure, &stop)
    }

    /// Marks every action not in `started` `cancelled`.
    fn cancel_pending(&self, id: &str, input: &TemplateInput, started: &[String]) {
        for name in input.actions.keys().filter(|n| !started.contains(n)) {
            self.set_action(id, name, |a| {
                a.status = "cancelled";
                a.reason = Some("Experiment ended before the action started.".into());
            });
        }
    }

    /// Ends the experiment once no action runs any more: `failed`, `stopped` or `completed`.
    fn end(
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
    fn mark(&self, id: &str, action: &str, applied: bool, at_unix_ms: i64) {
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

    fn finish(&self, id: &str, status: &'static str, reason: Option<String>) {
        self.update(id, |e| {
            e.status = status;
            e.reason = reason;
            e.end = Some(now_secs());
        });
    }

    /// Stops every experiment still running (shutdown) and waits until they end.
    pub async fn stop_all(&self) {
        let ids: Vec<String> = self.lock().experiments.keys().cloned().collect();
        for id in &ids {
            let _ = self.stop_experiment(id);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            let busy = self
                .lock()
                .experiments
                .values()
                .any(|e| matches!(e.status, "pending" | "initiating" | "running" | "stopping"));
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

enum Owner {
    Template(String),
    Experiment(String),
}

fn not_found(what: &str, id: &str) -> FisError {
    FisError::NotFound(format!("The {what} {id} does not exist."))
}

/// A stop reached the experiment: its actions under way are `stopping` until reverted.
fn stopping_actions(e: &mut Experiment) {
    for a in e.actions.values_mut() {
        if matches!(a.status, "initiating" | "running") {
            a.status = "stopping";
            a.reason = Some("Stopping the action.".into());
        }
    }
}

fn state_json(status: &str, reason: &Option<String>) -> Value {
    let mut v = json!({ "status": status });
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    v
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
        let (experiment, action_name, action_id, targets) =
            (exp.to_string(), name.to_string(), action.action_id.clone(), ids.clone());
        world.truth.record_at(
            began,
            if applied {
                Truth::FaultApplied {
                    experiment,
                    action: action_name,
                    action_id,
                    targets,
                }
            } else {
                Truth::FaultReverted {
                    experiment,
                    action: action_name,
                    action_id,
                    targets,
                }
            },
        );
        fis.mark(exp, name, applied, began);
    };
    match action.action_id.as_str() {
        "aws:ec2:stop-instances" => {
            let restart = param_duration(action, "startInstancesAfterDuration")?;
            let running: Vec<String> = world
                .instances()
                .into_iter()
                .filter(|i| ids.contains(&i.id) && i.state == crate::world::InstanceState::Running)
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
            let began = now_unix_ms();
            world.block_subnets(&ids, scope);
            event(true, began);
            let full = hold(d, stop).await;
            let began = now_unix_ms();
            world.unblock_subnets(&ids, scope);
            event(false, began);
            Ok(full)
        }
        "aws:network:route-table-disrupt-cross-region-connectivity" => {
            let d = param_duration(action, "duration")?.unwrap_or_default();
            let other = action.parameters.get("region").map(String::as_str);
            let began = now_unix_ms();
            world.cut_cross_region(other);
            event(true, began);
            let full = hold(d, stop).await;
            let began = now_unix_ms();
            world.restore_cross_region(other);
            event(false, began);
            Ok(full)
        }
        "aws:rds:failover-db-cluster" => {
            let began = now_unix_ms();
            world.db_failover();
            event(true, began);
            let full = hold(world.stack.database.failover_duration.0, stop).await;
            if !full {
                let began = now_unix_ms();
                world.db_end_outage();
                event(false, began);
            }
            Ok(full)
        }
        "aws:rds:reboot-db-instances" => {
            let force = action.parameters.get("forceFailover").is_some_and(|v| v == "true");
            let began = now_unix_ms();
            for id in &ids {
                world.db_reboot(id, force);
            }
            event(true, began);
            let full = hold(world.stack.database.reboot_duration.0, stop).await;
            if !full {
                let began = now_unix_ms();
                world.db_end_outage();
                event(false, began);
            }
            Ok(full)
        }
        "aws:fis:wait" => {
            // No effect and no ground-truth event, but FIS times the wait like any action.
            let d = param_duration(action, "duration")?.unwrap_or_default();
            fis.mark(exp, name, true, now_unix_ms());
            let full = hold(d, stop).await;
            fis.mark(exp, name, false, now_unix_ms());
            Ok(full)
        }
        other => Err(format!("action type {other} is not supported")),
    }
}
