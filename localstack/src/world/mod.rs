//! The world: composes the data plane's parts of one region — the app instances' fleet
//! ([`crate::app::fleet`]), the load balancer's target group
//! ([`crate::lb::target_group`]), the database cluster ([`crate::database`]) and the
//! network cuts ([`crate::network`]) — and is the one place that decides whether the
//! stack is serving.
//!
//! Each part owns its state and the rules that change it; the world holds them under one
//! lock so that every change and every question sees one consistent snapshot of all of
//! them. That is what makes the ground truth exact: whether a request sent now would be
//! served depends on the instances, the targets, the cuts and the database at once.
//! Every change goes through a method here, which delegates the rule to its part, records
//! ground truth and wakes whoever waits on a change.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::fleet::Fleet;
use crate::config::Stack;
use crate::database::{DbCluster, DbError, EndpointCache, Outage, Reach};
use crate::lb::target_group::TargetGroup;
use crate::network::{redelivery, Cuts, Peer, RegionCuts, Scope};
use crate::truth::{now_unix_ms, GroundTruth, RegionTruth, Truth};

mod cuts;
mod db;
mod hosts;
mod instances;
mod serving;
mod targets;

pub use crate::app::fleet::{InstanceRec, InstanceState};
pub use crate::lb::target_group::{CheckResult, Health, TargetRec};

/// The parts' states under one lock.
struct State {
    fleet: Fleet,
    group: TargetGroup,
    cuts: Cuts,
    region_cuts: RegionCuts,
    db: DbCluster,
    endpoints: EndpointCache,
    recorded: Recorded,
}

/// The derived states last recorded as ground truth (a change is recorded when one
/// differs).
struct Recorded {
    serving: bool,
    /// The serving fraction last recorded (none before the first record).
    serving_fraction: Option<f64>,
    db_writable: bool,
}

/// Starts the data plane's tasks for a world: an instance's app server, a target's health
/// checker. The world decides when (an instance boots, a target is registered);
/// [`crate::supervisor`] implements how, so the world does not name the app or the load
/// balancer.
pub trait Tasks: Send + Sync {
    /// Serves instance `id` of `subnet` on `listener` until `token` is cancelled.
    fn serve_app(&self, world: Arc<World>, id: String, subnet: String, listener: TcpListener, token: CancellationToken);
    /// Health-checks target `id` for as long as it keeps registration `generation`.
    fn check_target(&self, world: Arc<World>, id: String, generation: u64);
}

/// The shared state of one running stack.
pub struct World {
    /// The stack file it was built from.
    pub stack: Stack,
    /// What really happened (the log shared by every region of the stack).
    pub truth: RegionTruth,
    /// Position of this region in the stack file (0: the top-level region).
    pub region_index: usize,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    lb_addr: Mutex<Option<SocketAddr>>,
    /// Database queries now waiting for a node a cut keeps out of reach.
    db_waiting: std::sync::atomic::AtomicUsize,
    /// Cancelled when the stack shuts down; every task of the stack watches it.
    pub shutdown: CancellationToken,
    /// Starts the app servers and health checkers the world asks for.
    tasks: Arc<dyn Tasks>,
}

/// The loopback address of instance `index` in zone `zone` of region `region`: one /24
/// per zone, `127.<region>.<zone + 1>.<index + 10>`.
pub fn instance_ip(region: usize, zone: usize, index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, region as u8, (zone + 1) as u8, (index + 10) as u8))
}

/// The loopback address the load balancer of region `region` listens on: `127.0.200.<region + 1>`.
pub fn lb_ip(region: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 200, region as u8 + 1))
}

/// The loopback address the load balancer node in zone `zone` of region `region` sends
/// from (to targets and health checks): `127.<region>.250.<zone + 1>`, so that an
/// instance knows which node a request crossed the network from.
pub fn lb_node_ip(region: usize, zone: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, region as u8, 250, (zone + 1) as u8))
}

impl World {
    /// Builds the world of a one-region stack with its own ground-truth log.
    pub fn new(stack: Stack, addrs: HashMap<String, SocketAddr>, tasks: Arc<dyn Tasks>) -> Arc<World> {
        World::new_in(
            stack,
            addrs,
            0,
            Arc::new(GroundTruth::default()),
            CancellationToken::new(),
            tasks,
        )
    }

    /// Builds the world of region `region_index`: instances in their initial state at
    /// `addrs`, targets `initial` (`unused` for instances that start stopped), recording
    /// into the shared `log`.
    pub fn new_in(
        stack: Stack,
        addrs: HashMap<String, SocketAddr>,
        region_index: usize,
        log: Arc<GroundTruth>,
        shutdown: CancellationToken,
        tasks: Arc<dyn Tasks>,
    ) -> Arc<World> {
        let fleet = Fleet::new(&stack, &addrs, now_unix_ms());
        let group = TargetGroup::new(&stack.load_balancer.target_group.targets, |id| fleet.state(id));
        let db = DbCluster::new(&stack);
        Arc::new(World {
            truth: RegionTruth::new(&stack.region, log),
            region_index,
            state: Mutex::new(State {
                fleet,
                group,
                cuts: Cuts::new(stack.subnets.iter().map(|s| (s.id.clone(), s.zone.clone())).collect()),
                region_cuts: RegionCuts::default(),
                db,
                endpoints: EndpointCache::default(),
                recorded: Recorded {
                    serving: false,
                    serving_fraction: None,
                    db_writable: true,
                },
            }),
            changed: watch::channel(0).0,
            lb_addr: Mutex::new(None),
            db_waiting: std::sync::atomic::AtomicUsize::new(0),
            shutdown,
            tasks,
            stack,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver that changes whenever the world does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Where the load balancer listens, once it does.
    pub fn lb_addr(&self) -> Option<SocketAddr> {
        *self.lb_addr.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_lb_addr(&self, addr: SocketAddr) {
        *self.lb_addr.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
    }

    /// Runs the database ticker until cancelled (replication and outage ends, every 5 ms).
    pub async fn run_ticker(self: Arc<Self>, cancel: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_millis(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = every.tick() => self.tick(),
            }
        }
    }
}

/// Runs `f` with what the network lets through for a database call made by `caller` now
/// (see [`Reach`]): the caller's way to each node, and the nodes' ways to each other.
fn reach<T>(cuts: &Cuts, caller: &Peer, f: impl FnOnce(&Reach) -> T) -> T {
    let from_caller = |s: &str| cuts.passes(caller, s);
    let between = |a: &str, b: &str| cuts.passes(&Peer::Subnet(a.to_string()), b);
    f(&Reach {
        caller: &from_caller,
        between: &between,
    })
}

#[cfg(test)]
mod tests;
