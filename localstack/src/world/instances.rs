//! EC2 instances in the world: their states and transitions (stop, terminate, start and
//! boot), each recorded as ground truth and reflected in the targets.

use super::*;

impl World {
    /// A copy of every instance.
    pub fn instances(&self) -> Vec<InstanceRec> {
        self.lock().instances.values().cloned().collect()
    }

    /// Stops instances: servers close at once (connections are refused), the instances
    /// are `stopping` for the stack's `timings.instance_stopping`, then `stopped`. Returns
    /// (id, previous state) for each; unknown ids are an error naming the first.
    pub fn stop_instances(self: &Arc<Self>, ids: &[String]) -> Result<Vec<(String, InstanceState)>, String> {
        self.set_instances(ids, InstanceState::Stopping)
    }

    /// Terminates instances for good.
    pub fn terminate_instances(self: &Arc<Self>, ids: &[String]) -> Result<Vec<(String, InstanceState)>, String> {
        self.set_instances(ids, InstanceState::Terminated)
    }

    /// Starts stopped instances: `pending` for the boot time, then serving again.
    pub fn start_instances(self: &Arc<Self>, ids: &[String]) -> Result<Vec<(String, InstanceState)>, String> {
        self.set_instances(ids, InstanceState::Pending)
    }

    pub(super) fn set_instances(
        self: &Arc<Self>,
        ids: &[String],
        to: InstanceState,
    ) -> Result<Vec<(String, InstanceState)>, String> {
        let mut st = self.lock();
        if let Some(bad) = ids.iter().find(|id| !st.instances.contains_key(*id)) {
            return Err(bad.clone());
        }
        let mut out = Vec::new();
        let mut boot = Vec::new();
        let mut stopping = Vec::new();
        for id in ids {
            let generation = st.next_generation;
            st.next_generation += 1;
            let Some(rec) = st.instances.get_mut(id) else { continue };
            let prev = rec.state;
            out.push((id.clone(), prev));
            let allowed = match to {
                // A start that comes while the instance is still stopping cuts the stop
                // short (an FIS restart must never leave an instance down).
                InstanceState::Pending => matches!(prev, InstanceState::Stopped | InstanceState::Stopping),
                InstanceState::Stopping => matches!(prev, InstanceState::Running | InstanceState::Pending),
                InstanceState::Terminated => prev != InstanceState::Terminated,
                InstanceState::Running | InstanceState::Stopped => false,
            };
            if !allowed {
                continue;
            }
            rec.state = to;
            rec.generation = generation;
            if let Some(server) = rec.server.take() {
                server.cancel();
            }
            if to == InstanceState::Pending {
                boot.push((id.clone(), generation));
            }
            if to == InstanceState::Stopping {
                stopping.push((id.clone(), generation));
            }
            self.truth.record(Truth::InstanceState {
                instance: id.clone(),
                state: to.name().into(),
            });
            self.sync_targets(&mut st, id);
        }
        self.after_change(st);
        for (id, generation) in stopping {
            let world = self.clone();
            let delay = self.stack.timings.instance_stopping.0;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                world.finish_stop(&id, generation);
            });
        }
        for (id, generation) in boot {
            let world = self.clone();
            let delay = self.stack.timings.instance_boot.0;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                world.finish_boot(&id, generation).await;
            });
        }
        Ok(out)
    }

    /// Ends a stop: the instance is `stopped` (and its target `unused`), unless it was
    /// started or terminated meanwhile.
    pub(super) fn finish_stop(self: &Arc<Self>, id: &str, generation: u64) {
        let mut st = self.lock();
        let Some(rec) = st.instances.get_mut(id) else { return };
        if rec.generation != generation || rec.state != InstanceState::Stopping {
            return;
        }
        rec.state = InstanceState::Stopped;
        self.truth.record(Truth::InstanceState {
            instance: id.to_string(),
            state: InstanceState::Stopped.name().into(),
        });
        self.sync_targets(&mut st, id);
        self.after_change(st);
    }

    pub(super) async fn finish_boot(self: &Arc<Self>, id: &str, generation: u64) {
        let addr = {
            let st = self.lock();
            match st.instances.get(id) {
                Some(r) if r.generation == generation && r.state == InstanceState::Pending => r.addr,
                _ => return,
            }
        };
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                let token = self.shutdown.child_token();
                let mut st = self.lock();
                let Some(rec) = st.instances.get_mut(id) else { return };
                if rec.generation != generation || rec.state != InstanceState::Pending {
                    return;
                }
                rec.state = InstanceState::Running;
                rec.launch_time_unix_ms = now_unix_ms();
                rec.server = Some(token.clone());
                let subnet = rec.subnet.clone();
                self.tasks
                    .serve_app(self.clone(), id.to_string(), subnet, listener, token);
                self.truth.record(Truth::InstanceState {
                    instance: id.to_string(),
                    state: "running".into(),
                });
                self.sync_targets(&mut st, id);
                self.after_change(st);
            }
            Err(e) => tracing::error!(instance = id, %addr, error = %e, "instance could not listen again"),
        }
    }

    /// Hands the running server's cancel token to the instance (used at start-up).
    pub(crate) fn attach_server(&self, id: &str, token: CancellationToken) {
        if let Some(rec) = self.lock().instances.get_mut(id) {
            rec.server = Some(token);
        }
    }

    /// The position in the stack's zone list of the instance's zone.
    pub fn instance_zone_index(&self, id: &str) -> Option<usize> {
        let zone = self.lock().instances.get(id).map(|r| r.zone.clone())?;
        self.stack.zones.iter().position(|z| *z == zone)
    }

    /// The instance's address, for health checks and proxying.
    pub fn instance_addr(&self, id: &str) -> Option<SocketAddr> {
        self.lock().instances.get(id).map(|r| r.addr)
    }
}
