//! The world's side of the load balancer's target group ([`crate::lb::target_group`]):
//! each registration, drain and health-check result recorded as ground truth, the
//! health checkers and drain timers it starts, and the targets requests are routed to.

use super::*;

impl World {
    /// A copy of every registered target.
    pub fn targets(&self) -> Vec<TargetRec> {
        self.lock().group.all().to_vec()
    }

    /// Registers targets: `initial` until their first health check passes (`unused` while
    /// their instance is not running); a `draining` target registered again starts over.
    /// Returns the ids that were new.
    pub fn register_targets(self: &Arc<Self>, ids: &[String]) -> Result<Vec<String>, String> {
        let mut st = self.lock();
        if let Some(bad) = st.fleet.first_unknown(ids) {
            return Err(bad.clone());
        }
        let mut added = Vec::new();
        for id in ids {
            let state = st.fleet.state(id);
            if let Some((change, generation)) = st.group.register(id, state) {
                self.truth.record(change.into());
                added.push((id.clone(), generation));
            }
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
        let draining = st.group.drain(ids);
        for (change, _) in &draining {
            self.truth.record(change.clone().into());
        }
        self.after_change(st);
        for (change, generation) in draining {
            let world = self.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = world.shutdown.cancelled() => {}
                    _ = tokio::time::sleep(delay) => world.finish_draining(&change.target, generation),
                }
            });
        }
    }

    /// Removes a target whose deregistration delay has passed (unless it was registered
    /// again meanwhile).
    pub(super) fn finish_draining(&self, id: &str, generation: u64) {
        let mut st = self.lock();
        let Some(change) = st.group.finish_draining(id, generation) else {
            return;
        };
        self.truth.record(change.into());
        self.after_change(st);
    }

    /// The generation a health checker was started for, if that target is still registered.
    pub(crate) fn target_generation(&self, id: &str) -> Option<u64> {
        self.lock().group.generation(id)
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
        if let Some(change) = st.group.record_check(id, generation, result, hc) {
            self.truth.record(change.into());
            self.after_change(st);
        }
    }

    /// The targets a request would be routed to now: healthy ones, or every unhealthy one
    /// when none is healthy (fail-open). Empty (the load balancer answers 503) when no
    /// target is healthy or unhealthy: all `initial`, `unused` or `draining`, or none.
    pub fn routable(&self) -> Vec<(String, SocketAddr)> {
        let st = self.lock();
        st.group.routable(|id| st.fleet.get(id).map(|r| r.addr))
    }
}
