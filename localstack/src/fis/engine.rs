//! The FIS engine: templates, experiments with AWS's experiment and action states,
//! `startAfter` ordering, and actions that do real things to the stack. Stopping an
//! experiment reverts every effect still in force. It answers with the domain values of
//! [`super::view`]; [`crate::api::fis`] renders them.
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

use tokio_util::sync::CancellationToken;

use super::resolve::Resource;
use super::template::{local_alarm, validate, TemplateInput};
use super::view::{ActionView, ExperimentView, ResolvedTarget, RunState, TemplateView};

/// How often local stop conditions are evaluated.
const STOP_CONDITION_POLL: Duration = Duration::from_millis(20);
use crate::cloudwatch::{AlarmState, CloudWatch};
use crate::truth::now_unix_ms;
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

pub(super) fn now_secs() -> f64 {
    secs(now_unix_ms())
}

/// A unix-ms instant as FIS's epoch seconds.
pub(super) fn secs(unix_ms: i64) -> f64 {
    unix_ms as f64 / 1000.0
}

pub(super) struct Template {
    pub(super) id: String,
    pub(super) input: TemplateInput,
    pub(super) created: f64,
    pub(super) updated: f64,
}

#[derive(Debug, Clone)]
pub(super) struct ActionRun {
    pub(super) status: &'static str,
    pub(super) reason: Option<String>,
    pub(super) start: Option<f64>,
    pub(super) end: Option<f64>,
}

pub(super) struct Experiment {
    pub(super) id: String,
    pub(super) template_id: String,
    pub(super) input: TemplateInput,
    pub(super) status: &'static str,
    pub(super) reason: Option<String>,
    pub(super) actions: BTreeMap<String, ActionRun>,
    pub(super) resolved: BTreeMap<String, Vec<Resource>>,
    pub(super) created: f64,
    pub(super) start: Option<f64>,
    pub(super) end: Option<f64>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) stop: CancellationToken,
    /// Why a stop condition stopped it, when one did.
    pub(super) stopped_by: Option<String>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) templates: BTreeMap<String, Template>,
    pub(super) experiments: BTreeMap<String, Experiment>,
}

/// The FIS service of one stack.
pub struct Fis {
    pub(super) world: Arc<World>,
    cloudwatch: Arc<CloudWatch>,
    state: Mutex<State>,
    /// The stack's cross-region machinery, which runs the built-in SSM Automation
    /// documents of `aws:ssm:start-automation-execution` (set once the stack started).
    pub(super) regions: std::sync::OnceLock<Arc<crate::regions::Regions>>,
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
            regions: std::sync::OnceLock::new(),
        })
    }

    /// Lets `aws:ssm:start-automation-execution` run the built-in Automation documents
    /// through `regions` (the stack's runbook steps). Without it the action fails.
    pub fn set_regions(&self, regions: &Arc<crate::regions::Regions>) {
        let _ = self.regions.set(regions.clone());
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:fis:{}:{}:{kind}/{id}",
            self.world.stack.region, self.world.stack.account_id
        )
    }

    /// CreateExperimentTemplate.
    pub fn create_template(&self, input: TemplateInput) -> Result<TemplateView, FisError> {
        validate(&input, self.world.stack.speedups.short_fault_durations).map_err(FisError::Validation)?;
        let id = new_id("EXT");
        let now = now_secs();
        let t = Template {
            id: id.clone(),
            input,
            created: now,
            updated: now,
        };
        let out = self.template_view(&t);
        self.lock().templates.insert(id, t);
        Ok(out)
    }

    /// GetExperimentTemplate.
    pub fn get_template(&self, id: &str) -> Result<TemplateView, FisError> {
        let st = self.lock();
        let t = st
            .templates
            .get(id)
            .ok_or_else(|| not_found("experiment template", id))?;
        Ok(self.template_view(t))
    }

    /// DeleteExperimentTemplate.
    pub fn delete_template(&self, id: &str) -> Result<TemplateView, FisError> {
        let t = self
            .lock()
            .templates
            .remove(id)
            .ok_or_else(|| not_found("experiment template", id))?;
        Ok(self.template_view(&t))
    }

    /// Every template (ListExperimentTemplates; [`Fis::list_templates`] renders it).
    pub fn templates(&self) -> Vec<TemplateView> {
        self.lock().templates.values().map(|t| self.template_view(t)).collect()
    }

    fn template_view(&self, t: &Template) -> TemplateView {
        TemplateView {
            id: t.id.clone(),
            arn: self.arn("experiment-template", &t.id),
            input: t.input.clone(),
            created: t.created,
            updated: t.updated,
        }
    }

    /// StartExperiment: resolves targets and runs the actions in the background.
    pub fn start_experiment(
        self: &Arc<Self>,
        template_id: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<ExperimentView, FisError> {
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
        let out = self.experiment_view(&exp);
        let stop = exp.stop.clone();
        st.experiments.insert(id.clone(), exp);
        drop(st);
        let fis = self.clone();
        tokio::spawn(async move { fis.run(id, stop).await });
        Ok(out)
    }

    /// GetExperiment.
    pub fn get_experiment(&self, id: &str) -> Result<ExperimentView, FisError> {
        let st = self.lock();
        let e = st.experiments.get(id).ok_or_else(|| not_found("experiment", id))?;
        Ok(self.experiment_view(e))
    }

    /// StopExperiment: every effect still in force is reverted; the state goes
    /// `stopping` → `stopped`.
    pub fn stop_experiment(&self, id: &str) -> Result<ExperimentView, FisError> {
        let mut st = self.lock();
        let e = st.experiments.get_mut(id).ok_or_else(|| not_found("experiment", id))?;
        if matches!(e.status, "pending" | "initiating" | "running") {
            e.status = "stopping";
            e.reason = Some("Stopping the experiment.".into());
            e.stop.cancel();
            stopping_actions(e);
        }
        Ok(self.experiment_view(e))
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
    pub(super) fn watch_stop_conditions(self: &Arc<Self>, id: &str, input: &TemplateInput, stop: &CancellationToken) {
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

    /// Every experiment, or those of one template (ListExperiments;
    /// [`Fis::list_experiments`] renders it).
    pub fn experiments(&self, template_id: Option<&str>) -> Vec<ExperimentView> {
        let st = self.lock();
        st.experiments
            .values()
            .filter(|e| template_id.is_none_or(|t| t == e.template_id))
            .map(|e| self.experiment_view(e))
            .collect()
    }

    /// ListExperimentResolvedTargets.
    pub fn resolved_targets(&self, id: &str, target_name: Option<&str>) -> Result<Vec<ResolvedTarget>, FisError> {
        let st = self.lock();
        let e = st.experiments.get(id).ok_or_else(|| not_found("experiment", id))?;
        Ok(e.resolved
            .iter()
            .filter(|(name, _)| target_name.is_none_or(|t| t == name.as_str()))
            .flat_map(|(name, res)| {
                res.iter().map(move |r| ResolvedTarget {
                    target_name: name.clone(),
                    resource: r.clone(),
                })
            })
            .collect())
    }

    /// Tags of a template or experiment ARN.
    pub fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, FisError> {
        let st = self.lock();
        let tags = match self.find_by_arn(&st, arn) {
            Some(Owner::Template(id)) => st.templates[&id].input.tags.clone(),
            Some(Owner::Experiment(id)) => st.experiments[&id].tags.clone(),
            None => return Err(not_found("resource", arn)),
        };
        Ok(tags)
    }

    /// TagResource / UntagResource.
    pub fn retag(&self, arn: &str, add: BTreeMap<String, String>, remove: &[String]) -> Result<(), FisError> {
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
        Ok(())
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

    fn experiment_view(&self, e: &Experiment) -> ExperimentView {
        ExperimentView {
            id: e.id.clone(),
            arn: self.arn("experiment", &e.id),
            template_id: e.template_id.clone(),
            input: e.input.clone(),
            state: RunState {
                status: e.status,
                reason: e.reason.clone(),
            },
            actions: e
                .actions
                .iter()
                .map(|(k, r)| {
                    let view = ActionView {
                        state: RunState {
                            status: r.status,
                            reason: r.reason.clone(),
                        },
                        start: r.start,
                        end: r.end,
                    };
                    (k.clone(), view)
                })
                .collect(),
            created: e.created,
            start: e.start,
            end: e.end,
            tags: e.tags.clone(),
        }
    }

    pub(super) fn update(&self, id: &str, f: impl FnOnce(&mut Experiment)) {
        if let Some(e) = self.lock().experiments.get_mut(id) {
            f(e);
        }
    }

    pub(super) fn set_action(&self, id: &str, action: &str, f: impl FnOnce(&mut ActionRun)) {
        self.update(id, |e| {
            if let Some(a) = e.actions.get_mut(action) {
                f(a);
            }
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
