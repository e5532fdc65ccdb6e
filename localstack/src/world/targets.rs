//! The load balancer's target group in the world: registration, draining, health-check
//! results and the targets requests are routed to.

use super::*;

impl World {
    /// A copy of every registered target.
    pub fn targets(&self) -> Vec<TargetRec> {
        self.lock().targets.clone()
    }

    /// Registers targets: `initial` until their first health check passes (`unused` while
    /// their instance is not running); a `draining` target registered again starts over.
    /// Returns the ids that were new.
    pub fn register_targets(self: &Arc<Self>, ids: &[String]) -> Result<Vec<String>, String> {
        let mut st = self.lock();
        if let Some(bad) = ids.iter().find(|id| !st.instances.contains_key(*id)) {
            return Err(bad.clone());
        }
        let mut added = Vec::new();
        for id in ids {
            if st.targets.iter().any(|t| &t.id == id && t.health != Health::Draining) {
                continue;
            }
            let generation = st.next_generation;
            st.next_generation += 1;
            let mut t = new_target(id, generation);
            if let Some(r) = st.instances.get(id) {
                sync_target(&mut t, r.state);
            }
            let from = match st.targets.iter().position(|t| &t.id == id) {
                Some(i) => st.targets.remove(i).health,
                None => Health::Unused,
            };
            self.truth.record(Truth::TargetHealth {
                target: id.clone(),
                from: from.name().into(),
                to: t.health.name().into(),
                reason: t.reason.map(str::to_string),
            });
            st.targets.push(t);
            added.push((id.clone(), generation));
        }
        self.after_change(st);
        for (id, generation) in &added {
            self.tasks.check_target(self.clone(), id.clone(), *generation);
        }
        Ok(added.into_iter().map(|(id, _)| id).collect())
    }

    /// Deregisters targets as ELB does: each goes `draining`
    /// (`Target.DeregistrationInProgress`) for the target group's deregistration delay —
    /// no new requests are routed to it, requests already sent to it complete — and then
    /// leaves the group. Ids that are not registered are ignored.
    pub fn deregister_targets(self: &Arc<Self>, ids: &[String]) {
        let delay = self.stack.load_balancer.target_group.deregistration_delay.0;
        let mut st = self.lock();
        let mut draining = Vec::new();
        for t in st.targets.iter_mut().filter(|t| ids.contains(&t.id)) {
            let from = t.health;
            if t.set(
                Health::Draining,
                Some("Target.DeregistrationInProgress"),
                Some("Target deregistration is in progress".into()),
            ) {
                self.truth.record(Truth::TargetHealth {
                    target: t.id.clone(),
                    from: from.name().into(),
                    to: t.health.name().into(),
                    reason: t.reason.map(str::to_string),
                });
                draining.push((t.id.clone(), t.generation));
            }
        }
        self.after_change(st);
        for (id, generation) in draining {
            let world = self.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = world.shutdown.cancelled() => {}
                    _ = tokio::time::sleep(delay) => world.finish_draining(&id, generation),
                }
            });
        }
    }

    /// Removes a target whose deregistration delay has passed (unless it was registered
    /// again meanwhile).
    pub(super) fn finish_draining(&self, id: &str, generation: u64) {
        let mut st = self.lock();
        let before = st.targets.len();
        st.targets
            .retain(|t| !(t.id == id && t.generation == generation && t.health == Health::Draining));
        if st.targets.len() == before {
            return;
        }
        self.truth.record(Truth::TargetHealth {
            target: id.to_string(),
            from: Health::Draining.name().into(),
            to: Health::Unused.name().into(),
            reason: Some("Target.NotRegistered".into()),
        });
        self.after_change(st);
    }

    /// Brings the targets of instance `id` in line with its state: `unused`
    /// (`Target.InvalidState`) while it is not running, `initial` again once it runs.
    pub(super) fn sync_targets(&self, st: &mut State, id: &str) {
        let Some(state) = st.instances.get(id).map(|r| r.state) else {
            return;
        };
        for t in st.targets.iter_mut().filter(|t| t.id == id) {
            let from = t.health;
            if sync_target(t, state) {
                self.truth.record(Truth::TargetHealth {
                    target: t.id.clone(),
                    from: from.name().into(),
                    to: t.health.name().into(),
                    reason: t.reason.map(str::to_string),
                });
            }
        }
    }

    /// The generation a health checker was started for, if that target is still registered.
    pub(crate) fn target_generation(&self, id: &str) -> Option<u64> {
        self.lock().targets.iter().find(|t| t.id == id).map(|t| t.generation)
    }

    /// The source address of the load balancer node in the zone at `zone` in the stack's
    /// zone list ([`lb_node_ip`]). Where it cannot be bound (only 127.0.0.1 exists, as on
    /// macOS by default), connections go out from 127.0.0.1 and count as from outside the
    /// VPC.
    pub fn lb_node_source(&self, zone: usize) -> IpAddr {
        lb_node_ip(self.region_index, zone)
    }

    /// Applies one health-check result with the target group's thresholds.
    pub fn record_check(&self, id: &str, generation: u64, result: CheckResult) {
        let hc = &self.stack.load_balancer.target_group.health_check;
        let mut st = self.lock();
        let Some(t) = st.targets.iter_mut().find(|t| t.id == id && t.generation == generation) else {
            return;
        };
        let from = t.health;
        if matches!(from, Health::Unused | Health::Draining) {
            // Not running, or leaving the group: a result from before is stale.
            return;
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
                // Reason codes of the TargetHealth data type
                // (<https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html>).
                let (reason, description) = match result {
                    CheckResult::Timeout => ("Target.Timeout", "Request timed out".to_string()),
                    CheckResult::Mismatch(code) => (
                        "Target.ResponseCodeMismatch",
                        format!("Health checks failed with these codes: [{code}]"),
                    ),
                    _ => ("Target.FailedHealthChecks", "Health checks failed".to_string()),
                };
                t.set(Health::Unhealthy, Some(reason), Some(description));
            }
        }
        if t.health != from {
            self.truth.record(Truth::TargetHealth {
                target: id.to_string(),
                from: from.name().into(),
                to: t.health.name().into(),
                reason: t.reason.map(str::to_string),
            });
            self.after_change(st);
        }
    }

    /// The targets a request would be routed to now: healthy ones, or every unhealthy one
    /// when none is healthy (fail-open). Empty (the load balancer answers 503) when no
    /// target is healthy or unhealthy: all `initial`, `unused` or `draining`, or none.
    pub fn routable(&self) -> Vec<(String, SocketAddr)> {
        routable(&self.lock())
    }
}

pub(super) fn new_target(id: &str, generation: u64) -> TargetRec {
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

/// Brings one target in line with its instance's state (see [`World::sync_targets`]);
/// true when its health state changed. A draining target stays draining.
pub(super) fn sync_target(t: &mut TargetRec, state: InstanceState) -> bool {
    match (state, t.health) {
        (_, Health::Draining) => false,
        (InstanceState::Running, Health::Unused) => {
            t.ok_streak = 0;
            t.fail_streak = 0;
            t.set(
                Health::Initial,
                Some("Elb.InitialHealthChecking"),
                Some("Initial health checks in progress".into()),
            )
        }
        // Running, or still stopping: ELB health-checks it as usual (a stopping instance
        // fails its checks).
        (InstanceState::Running | InstanceState::Stopping, _) => false,
        (other, _) => t.set(
            Health::Unused,
            Some("Target.InvalidState"),
            Some(format!("Target is in the {} state", other.name())),
        ),
    }
}

pub(super) fn routable(st: &State) -> Vec<(String, SocketAddr)> {
    let addr = |id: &str| st.instances.get(id).map(|r| r.addr);
    let in_state = |h: Health| -> Vec<_> {
        st.targets
            .iter()
            .filter(|t| t.health == h)
            .filter_map(|t| Some((t.id.clone(), addr(&t.id)?)))
            .collect()
    };
    let healthy = in_state(Health::Healthy);
    if !healthy.is_empty() {
        return healthy;
    }
    // Fail-open: "If a target group contains only unhealthy registered targets, the load
    // balancer routes requests to all those targets" (ALB target-group health checks);
    // `initial`, `unused` and `draining` targets take no part.
    in_state(Health::Unhealthy)
}
