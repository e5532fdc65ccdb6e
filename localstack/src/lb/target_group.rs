//! The load balancer's target group: registered targets, their health states and the rules
//! that move them (registration, draining, health-check streaks against the thresholds,
//! following their instance's state), and which targets a request is routed to. Pure
//! state: the world records each [`Change`] as ground truth.

use std::net::SocketAddr;

use crate::app::fleet::InstanceState;
use crate::config::HealthCheck;
use crate::truth::Truth;

/// ELB target health states, as DescribeTargetHealth names them (the `TargetHealth` data
/// type, <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html>).
///
/// Routing follows ALB: requests go to `healthy` targets; when none is healthy, to every
/// `unhealthy` one (fail-open); never to `initial`, `unused` or `draining` ones, so a
/// group with none healthy or unhealthy answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Registered (or its instance running again), still in its first health check
    /// (`Elb.InitialHealthChecking`).
    Initial,
    /// Passing checks.
    Healthy,
    /// Failing checks (`Target.ResponseCodeMismatch`, `Target.Timeout`,
    /// `Target.FailedHealthChecks`).
    Unhealthy,
    /// Its instance is not running (`Target.InvalidState`: stopped, stopping, pending or
    /// terminated): not checked, never routed to.
    Unused,
    /// Deregistered, waiting out the deregistration delay
    /// (`Target.DeregistrationInProgress`): no new requests, in-flight ones complete.
    Draining,
}

impl Health {
    /// The ELBv2 state name.
    pub fn name(self) -> &'static str {
        match self {
            Health::Initial => "initial",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Unused => "unused",
            Health::Draining => "draining",
        }
    }
}

/// A registered target.
#[derive(Debug, Clone)]
pub struct TargetRec {
    /// Instance id.
    pub id: String,
    /// Health state.
    pub health: Health,
    /// ELB reason code for a state other than healthy.
    pub reason: Option<&'static str>,
    /// ELB's description of the reason (e.g. "Target is in the stopped state"), none
    /// while healthy.
    pub description: Option<String>,
    ok_streak: u32,
    fail_streak: u32,
    generation: u64,
}

impl TargetRec {
    /// A target just registered with `generation`: `initial`.
    fn new(id: &str, generation: u64) -> TargetRec {
        TargetRec {
            id: id.to_string(),
            health: Health::Initial,
            reason: Some("Elb.InitialHealthChecking"),
            description: Some("Initial health checks in progress".into()),
            ok_streak: 0,
            fail_streak: 0,
            generation,
        }
    }

    /// Moves the target to `to` with its reason and description; true when the state
    /// changed (reason-only changes are not state changes).
    fn set(&mut self, to: Health, reason: Option<&'static str>, description: Option<String>) -> bool {
        let changed = self.health != to;
        self.health = to;
        self.reason = reason;
        self.description = description;
        changed
    }

    /// Brings the target in line with its instance's state: `unused`
    /// (`Target.InvalidState`) while it is not running, `initial` again once it runs;
    /// true when its health state changed. A draining target stays draining.
    fn follow(&mut self, state: InstanceState) -> bool {
        match (state, self.health) {
            (_, Health::Draining) => false,
            (InstanceState::Running, Health::Unused) => {
                self.ok_streak = 0;
                self.fail_streak = 0;
                self.set(
                    Health::Initial,
                    Some("Elb.InitialHealthChecking"),
                    Some("Initial health checks in progress".into()),
                )
            }
            // Running, or still stopping: ELB health-checks it as usual (a stopping
            // instance fails its checks).
            (InstanceState::Running | InstanceState::Stopping, _) => false,
            (other, _) => self.set(
                Health::Unused,
                Some("Target.InvalidState"),
                Some(format!("Target is in the {} state", other.name())),
            ),
        }
    }

    /// The change from `from` to where the target is now.
    fn change_from(&self, from: Health) -> Change {
        Change {
            target: self.id.clone(),
            from,
            to: self.health,
            reason: self.reason.map(str::to_string),
        }
    }
}

/// Outcome of one health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckResult {
    /// 200 within the timeout.
    Pass,
    /// No answer within the timeout.
    Timeout,
    /// An answer with this status other than 200 (`Target.ResponseCodeMismatch`).
    Mismatch(u16),
    /// Refused, reset, or a malformed answer (`Target.FailedHealthChecks`).
    Fail,
}

/// A target's health state changed (recorded as [`Truth::TargetHealth`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Instance id.
    pub target: String,
    /// State before.
    pub from: Health,
    /// State now.
    pub to: Health,
    /// The reason code now.
    pub reason: Option<String>,
}

impl From<Change> for Truth {
    fn from(c: Change) -> Truth {
        Truth::TargetHealth {
            target: c.target,
            from: c.from.name().into(),
            to: c.to.name().into(),
            reason: c.reason,
        }
    }
}

/// The target group's registered targets.
#[derive(Debug)]
pub struct TargetGroup {
    targets: Vec<TargetRec>,
    next_generation: u64,
}

impl TargetGroup {
    /// The stack's targets, registered with generation 0: `initial`, or `unused` for
    /// instances `state_of` says are not running.
    pub fn new(ids: &[String], state_of: impl Fn(&str) -> Option<InstanceState>) -> TargetGroup {
        let targets = ids
            .iter()
            .map(|id| {
                let mut t = TargetRec::new(id, 0);
                if let Some(state) = state_of(id) {
                    t.follow(state);
                }
                t
            })
            .collect();
        TargetGroup {
            targets,
            next_generation: 1,
        }
    }

    /// Every registered target.
    pub fn all(&self) -> &[TargetRec] {
        &self.targets
    }

    /// Registers target `id`, whose instance is in `state` (if it exists): `initial`
    /// until its first health check passes (`unused` while its instance is not running);
    /// a `draining` target registered again starts over. None when it is registered
    /// already; else the change and the registration's generation.
    pub fn register(&mut self, id: &str, state: Option<InstanceState>) -> Option<(Change, u64)> {
        if self.targets.iter().any(|t| t.id == id && t.health != Health::Draining) {
            return None;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let mut t = TargetRec::new(id, generation);
        if let Some(state) = state {
            t.follow(state);
        }
        let from = match self.targets.iter().position(|t| t.id == id) {
            Some(i) => self.targets.remove(i).health,
            None => Health::Unused,
        };
        let change = t.change_from(from);
        self.targets.push(t);
        Some((change, generation))
    }

    /// Deregisters targets: each goes `draining` (`Target.DeregistrationInProgress`).
    /// Returns the changes with each target's generation; ids that are not registered
    /// are ignored.
    pub fn drain(&mut self, ids: &[String]) -> Vec<(Change, u64)> {
        let mut draining = Vec::new();
        for t in self.targets.iter_mut().filter(|t| ids.contains(&t.id)) {
            let from = t.health;
            if t.set(
                Health::Draining,
                Some("Target.DeregistrationInProgress"),
                Some("Target deregistration is in progress".into()),
            ) {
                draining.push((t.change_from(from), t.generation));
            }
        }
        draining
    }

    /// Removes a target whose deregistration delay has passed (unless it was registered
    /// again since `generation`): it is `unused` (`Target.NotRegistered`).
    pub fn finish_draining(&mut self, id: &str, generation: u64) -> Option<Change> {
        let before = self.targets.len();
        self.targets
            .retain(|t| !(t.id == id && t.generation == generation && t.health == Health::Draining));
        (self.targets.len() != before).then(|| Change {
            target: id.to_string(),
            from: Health::Draining,
            to: Health::Unused,
            reason: Some("Target.NotRegistered".into()),
        })
    }

    /// Brings the targets of instance `id` in line with its `state` (see
    /// `TargetRec::follow`); returns the changes.
    pub fn follow(&mut self, id: &str, state: InstanceState) -> Vec<Change> {
        let mut changes = Vec::new();
        for t in self.targets.iter_mut().filter(|t| t.id == id) {
            let from = t.health;
            if t.follow(state) {
                changes.push(t.change_from(from));
            }
        }
        changes
    }

    /// The generation of target `id`'s registration, if it is registered.
    pub fn generation(&self, id: &str) -> Option<u64> {
        self.targets.iter().find(|t| t.id == id).map(|t| t.generation)
    }

    /// Applies one health-check result to registration `generation` of target `id` with
    /// the thresholds of `hc`; the change, if its state changed.
    pub fn record_check(&mut self, id: &str, generation: u64, result: CheckResult, hc: &HealthCheck) -> Option<Change> {
        let t = self
            .targets
            .iter_mut()
            .find(|t| t.id == id && t.generation == generation)?;
        let from = t.health;
        if matches!(from, Health::Unused | Health::Draining) {
            // Not running, or leaving the group: a result from before is stale.
            return None;
        }
        if result == CheckResult::Pass {
            t.ok_streak += 1;
            t.fail_streak = 0;
            // "After your target is registered, it must pass one health check to be
            // considered healthy" (Health checks for Application Load Balancer target
            // groups, <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html>);
            // an unhealthy target needs the healthy threshold.
            let needed = if from == Health::Initial {
                1
            } else {
                hc.healthy_threshold
            };
            if from != Health::Healthy && t.ok_streak >= needed {
                t.set(Health::Healthy, None, None);
            }
        } else {
            t.fail_streak += 1;
            t.ok_streak = 0;
            if from == Health::Unhealthy || t.fail_streak >= hc.unhealthy_threshold {
                let (reason, description) = failure_reason(result);
                t.set(Health::Unhealthy, Some(reason), Some(description));
            }
        }
        (t.health != from).then(|| t.change_from(from))
    }

    /// The targets a request would be routed to now, with their address (`addr`):
    /// healthy ones, or every unhealthy one when none is healthy (fail-open). Empty (the
    /// load balancer answers 503) when no target is healthy or unhealthy: all `initial`,
    /// `unused` or `draining`, or none.
    pub fn routable(&self, addr: impl Fn(&str) -> Option<SocketAddr>) -> Vec<(String, SocketAddr)> {
        let in_state = |h: Health| -> Vec<_> {
            self.targets
                .iter()
                .filter(|t| t.health == h)
                .filter_map(|t| Some((t.id.clone(), addr(&t.id)?)))
                .collect()
        };
        let healthy = in_state(Health::Healthy);
        if !healthy.is_empty() {
            return healthy;
        }
        // Fail-open: "If a target group contains only unhealthy registered targets, the
        // load balancer routes requests to all those targets" (ALB target-group health
        // checks); `initial`, `unused` and `draining` targets take no part.
        in_state(Health::Unhealthy)
    }
}

/// The reason code and description of a failed check, as the TargetHealth data type
/// names them (<https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html>).
fn failure_reason(result: CheckResult) -> (&'static str, String) {
    match result {
        CheckResult::Timeout => ("Target.Timeout", "Request timed out".to_string()),
        CheckResult::Mismatch(code) => (
            "Target.ResponseCodeMismatch",
            format!("Health checks failed with these codes: [{code}]"),
        ),
        _ => ("Target.FailedHealthChecks", "Health checks failed".to_string()),
    }
}
