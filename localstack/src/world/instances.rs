//! The world's side of the app instances: each transition of the fleet
//! ([`crate::app::fleet`]) recorded as ground truth and followed by the targets, and the
//! timers that finish a stop or a boot.

use super::*;

impl World {
    /// A copy of every instance.
    pub fn instances(&self) -> Vec<InstanceRec> {
        self.lock().fleet.all().cloned().collect()
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
        let moves = st.fleet.set_states(ids, to)?;
        for (id, _) in &moves.moved {
            self.record_instance(&mut st, id, to);
        }
        self.after_change(st);
        for (id, generation) in moves.moved {
            let world = self.clone();
            match to {
                InstanceState::Stopping => {
                    let delay = self.stack.timings.instance_stopping.0;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        world.finish_stop(&id, generation);
                    });
                }
                InstanceState::Pending => {
                    let delay = self.stack.timings.instance_boot.0;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        world.finish_boot(&id, generation).await;
                    });
                }
                _ => {}
            }
        }
        Ok(moves.previous)
    }

    /// Records that instance `id` is now in `state` and brings its targets in line.
    fn record_instance(&self, st: &mut State, id: &str, state: InstanceState) {
        self.truth.record(Truth::InstanceState {
            instance: id.to_string(),
            state: state.name().into(),
        });
        for change in st.group.follow(id, state) {
            self.truth.record(change.into());
        }
    }

    /// Ends a stop: the instance is `stopped` (and its target `unused`), unless it was
    /// started or terminated meanwhile.
    pub(super) fn finish_stop(self: &Arc<Self>, id: &str, generation: u64) {
        let mut st = self.lock();
        if !st.fleet.finish_stop(id, generation) {
            return;
        }
        self.record_instance(&mut st, id, InstanceState::Stopped);
        self.after_change(st);
    }

    /// Ends a boot: the instance listens again and runs, served by a new app server —
    /// unless it moved meanwhile.
    pub(super) async fn finish_boot(self: &Arc<Self>, id: &str, generation: u64) {
        let Some(addr) = self.lock().fleet.booting_addr(id, generation) else {
            return;
        };
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                let token = self.shutdown.child_token();
                let mut st = self.lock();
                let Some(subnet) = st.fleet.finish_boot(id, generation, token.clone(), now_unix_ms()) else {
                    return;
                };
                self.tasks
                    .serve_app(self.clone(), id.to_string(), subnet, listener, token);
                self.record_instance(&mut st, id, InstanceState::Running);
                self.after_change(st);
            }
            Err(e) => tracing::error!(instance = id, %addr, error = %e, "instance could not listen again"),
        }
    }

    /// Hands the running server's cancel token to the instance (used at start-up).
    pub(crate) fn attach_server(&self, id: &str, token: CancellationToken) {
        self.lock().fleet.attach_server(id, token);
    }

    /// The position in the stack's zone list of the instance's zone.
    pub fn instance_zone_index(&self, id: &str) -> Option<usize> {
        let zone = self.lock().fleet.get(id).map(|r| r.zone.clone())?;
        self.stack.zones.iter().position(|z| *z == zone)
    }

    /// The instance's address, for health checks and proxying.
    pub fn instance_addr(&self, id: &str) -> Option<SocketAddr> {
        self.lock().fleet.get(id).map(|r| r.addr)
    }
}
