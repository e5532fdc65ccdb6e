//! The app instances' fleet: each instance's record (subnet, zone, address, tags), its EC2
//! state and the rules that move it (which transitions EC2 allows, a stop or boot that
//! completes only if nothing changed meanwhile). Pure state: the world supplies time and
//! records each transition as ground truth.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio_util::sync::CancellationToken;

use crate::config::{InitialState, Stack};

/// EC2 instance states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// Booting.
    Pending,
    /// Serving.
    Running,
    /// Shutting down after StopInstances: the app no longer answers (connections are
    /// refused) but EC2 does not call it stopped yet, so ELB keeps health-checking its
    /// target (which fails its checks) until it is `stopped` and becomes `unused`.
    Stopping,
    /// Stopped; connections are refused.
    Stopped,
    /// Gone for good.
    Terminated,
}

impl InstanceState {
    /// The EC2 state name.
    pub fn name(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Terminated => "terminated",
        }
    }
    /// The EC2 state code.
    pub fn code(self) -> i32 {
        match self {
            InstanceState::Pending => 0,
            InstanceState::Running => 16,
            InstanceState::Stopping => 64,
            InstanceState::Stopped => 80,
            InstanceState::Terminated => 48,
        }
    }

    /// Whether StartInstances (`to` pending), StopInstances (`to` stopping) or
    /// TerminateInstances (`to` terminated) moves an instance in this state. A start that
    /// comes while the instance is still stopping cuts the stop short (an FIS restart must
    /// never leave an instance down).
    fn can_become(self, to: InstanceState) -> bool {
        match to {
            InstanceState::Pending => matches!(self, InstanceState::Stopped | InstanceState::Stopping),
            InstanceState::Stopping => matches!(self, InstanceState::Running | InstanceState::Pending),
            InstanceState::Terminated => self != InstanceState::Terminated,
            InstanceState::Running | InstanceState::Stopped => false,
        }
    }
}

/// One app instance.
#[derive(Debug, Clone)]
pub struct InstanceRec {
    /// Instance id.
    pub id: String,
    /// Subnet id.
    pub subnet: String,
    /// Availability zone.
    pub zone: String,
    /// Where its HTTP server listens.
    pub addr: SocketAddr,
    /// Current state.
    pub state: InstanceState,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Last launch, unix ms.
    pub launch_time_unix_ms: i64,
    server: Option<CancellationToken>,
    generation: u64,
}

/// What one StartInstances, StopInstances or TerminateInstances call did.
#[derive(Debug, Default)]
pub struct Transitions {
    /// Every instance asked for, with its state before the call.
    pub previous: Vec<(String, InstanceState)>,
    /// The instances that moved, with the generation that move started: each finishes
    /// (stopping → stopped, pending → running) only if it is still that generation.
    pub moved: Vec<(String, u64)>,
}

/// Every instance of one region, by id.
#[derive(Debug)]
pub struct Fleet {
    instances: BTreeMap<String, InstanceRec>,
    next_generation: u64,
}

impl Fleet {
    /// The stack's instances in their initial state, listening at `addrs`, launched at
    /// `now_unix_ms`.
    pub fn new(stack: &Stack, addrs: &HashMap<String, SocketAddr>, now_unix_ms: i64) -> Fleet {
        let instances = stack
            .instances
            .iter()
            .map(|i| {
                let rec = InstanceRec {
                    id: i.id.clone(),
                    subnet: i.subnet.clone(),
                    zone: stack.subnet_zone(&i.subnet).unwrap_or_default().to_string(),
                    addr: addrs[&i.id],
                    state: match i.state {
                        InitialState::Running => InstanceState::Running,
                        InitialState::Stopped => InstanceState::Stopped,
                    },
                    tags: i.tags.clone(),
                    launch_time_unix_ms: now_unix_ms,
                    server: None,
                    generation: 0,
                };
                (i.id.clone(), rec)
            })
            .collect();
        Fleet {
            instances,
            next_generation: 1,
        }
    }

    /// Instance `id`, if it exists.
    pub fn get(&self, id: &str) -> Option<&InstanceRec> {
        self.instances.get(id)
    }

    /// Every instance, by id.
    pub fn all(&self) -> impl Iterator<Item = &InstanceRec> {
        self.instances.values()
    }

    /// The first of `ids` that is not an instance.
    pub fn first_unknown<'a>(&self, ids: &'a [String]) -> Option<&'a String> {
        ids.iter().find(|id| !self.instances.contains_key(*id))
    }

    /// The state of instance `id`.
    pub fn state(&self, id: &str) -> Option<InstanceState> {
        self.instances.get(id).map(|r| r.state)
    }

    /// The generation of instance `id`'s last move.
    #[cfg(test)]
    pub(crate) fn generation(&self, id: &str) -> u64 {
        self.instances[id].generation
    }

    /// The subnet of the instance listening on `ip` (not the unspecified or 127.0.0.1
    /// address, which any process may send from).
    pub fn subnet_of_ip(&self, ip: IpAddr) -> Option<&str> {
        self.instances
            .values()
            .find(|r| r.addr.ip() == ip && !ip.is_unspecified() && ip != IpAddr::V4(Ipv4Addr::LOCALHOST))
            .map(|r| r.subnet.as_str())
    }

    /// Moves `ids` to `to` where EC2 allows it (`InstanceState::can_become`); a moved
    /// instance's server closes at once. Unknown ids are an error naming the first.
    pub fn set_states(&mut self, ids: &[String], to: InstanceState) -> Result<Transitions, String> {
        if let Some(bad) = self.first_unknown(ids) {
            return Err(bad.clone());
        }
        let mut out = Transitions::default();
        for id in ids {
            let generation = self.next_generation;
            self.next_generation += 1;
            let Some(rec) = self.instances.get_mut(id) else {
                continue;
            };
            let prev = rec.state;
            out.previous.push((id.clone(), prev));
            if !prev.can_become(to) {
                continue;
            }
            rec.state = to;
            rec.generation = generation;
            if let Some(server) = rec.server.take() {
                server.cancel();
            }
            out.moved.push((id.clone(), generation));
        }
        Ok(out)
    }

    /// Ends a stop: the instance is `stopped`, unless it was started or terminated since
    /// move `generation`. True when it was.
    pub fn finish_stop(&mut self, id: &str, generation: u64) -> bool {
        match self.instances.get_mut(id) {
            Some(rec) if rec.generation == generation && rec.state == InstanceState::Stopping => {
                rec.state = InstanceState::Stopped;
                true
            }
            _ => false,
        }
    }

    /// Where instance `id` listens, while it is still booting from move `generation`.
    pub fn booting_addr(&self, id: &str, generation: u64) -> Option<SocketAddr> {
        match self.instances.get(id) {
            Some(r) if r.generation == generation && r.state == InstanceState::Pending => Some(r.addr),
            _ => None,
        }
    }

    /// Ends a boot: the instance runs, served by the server `token` cancels, launched at
    /// `now_unix_ms` — unless it moved since `generation`. Returns its subnet when it runs.
    pub fn finish_boot(
        &mut self,
        id: &str,
        generation: u64,
        token: CancellationToken,
        now_unix_ms: i64,
    ) -> Option<String> {
        let rec = self.instances.get_mut(id)?;
        if rec.generation != generation || rec.state != InstanceState::Pending {
            return None;
        }
        rec.state = InstanceState::Running;
        rec.launch_time_unix_ms = now_unix_ms;
        rec.server = Some(token);
        Some(rec.subnet.clone())
    }

    /// Hands the running server's cancel token to the instance (used at start-up).
    pub fn attach_server(&mut self, id: &str, token: CancellationToken) {
        if let Some(rec) = self.instances.get_mut(id) {
            rec.server = Some(token);
        }
    }
}
