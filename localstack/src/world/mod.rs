//! The world: the shared state of the running stack (instances, targets, database,
//! network cuts) and the one place that decides whether the stack is serving.
//!
//! Every change goes through a method here, which records ground truth and wakes
//! whoever waits on a change.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Stack;
use crate::database::{DbCluster, DbError, Outage, Reach};
use crate::network::{redelivery, Cuts, Peer, Scope};
use crate::truth::{now_unix_ms, GroundTruth, RegionTruth, Truth};

mod cuts;
mod db;
mod instances;
mod targets;

use db::cached_writer;
use targets::{new_target, routable, sync_target};

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
    /// Moves the target to `to` with its reason and description; true when the state
    /// changed (reason-only changes are not state changes).
    fn set(&mut self, to: Health, reason: Option<&'static str>, description: Option<String>) -> bool {
        let changed = self.health != to;
        self.health = to;
        self.reason = reason;
        self.description = description;
        changed
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

struct State {
    instances: BTreeMap<String, InstanceRec>,
    targets: Vec<TargetRec>,
    cuts: Cuts,
    cross_cut: HashMap<String, u32>,
    db: DbCluster,
    serving: bool,
    /// The serving fraction last recorded (none before the first record).
    serving_fraction: Option<f64>,
    db_writable: bool,
    /// Per app instance, the database node it resolved the writer endpoint to and when
    /// (kept for the endpoint's TTL, as a resolver cache does).
    resolved: HashMap<String, (usize, Instant)>,
    /// How many app instances still send to a node that is not the writer (recounted on
    /// every tick, so that a cache entry expiring re-evaluates the serving state).
    stale_apps: usize,
    next_generation: u64,
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
        let now = now_unix_ms();
        let instances: BTreeMap<String, InstanceRec> = stack
            .instances
            .iter()
            .map(|i| {
                let rec = InstanceRec {
                    id: i.id.clone(),
                    subnet: i.subnet.clone(),
                    zone: stack.subnet_zone(&i.subnet).unwrap_or_default().to_string(),
                    addr: addrs[&i.id],
                    state: match i.state {
                        crate::config::InitialState::Running => InstanceState::Running,
                        crate::config::InitialState::Stopped => InstanceState::Stopped,
                    },
                    tags: i.tags.clone(),
                    launch_time_unix_ms: now,
                    server: None,
                    generation: 0,
                };
                (i.id.clone(), rec)
            })
            .collect();
        let targets = stack
            .load_balancer
            .target_group
            .targets
            .iter()
            .map(|id| {
                let mut t = new_target(id, 0);
                if let Some(r) = instances.get(id) {
                    sync_target(&mut t, r.state);
                }
                t
            })
            .collect();
        let db = DbCluster::new(&stack);
        Arc::new(World {
            truth: RegionTruth::new(&stack.region, log),
            region_index,
            state: Mutex::new(State {
                instances,
                targets,
                cuts: Cuts::new(stack.subnets.iter().map(|s| (s.id.clone(), s.zone.clone())).collect()),
                cross_cut: HashMap::new(),
                db,
                serving: false,
                serving_fraction: None,
                db_writable: true,
                resolved: HashMap::new(),
                stale_apps: 0,
                next_generation: 1,
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

    /// Advances database time; called by the ticker. Fails the database over by itself
    /// when its writer has been cut off long enough ([`DbCluster::auto_failover_due`]).
    pub fn tick(&self) {
        let mut st = self.lock();
        let now = Instant::now();
        let State { db, cuts, .. } = &mut *st;
        let control_plane = |s: &str| cuts.passes(&Peer::Outside, s);
        let between = |a: &str, b: &str| cuts.passes(&Peer::Subnet(a.to_string()), b);
        let net = Reach {
            caller: &control_plane,
            between: &between,
        };
        let ended: Option<Outage> = db.tick(now, &net);
        let automatic = db.auto_failover_due(now, &net).then(|| db.failover(now));
        let stale = stale_apps(&st, now);
        let stale_changed = stale != st.stale_apps;
        st.stale_apps = stale;
        if let Some(failover) = automatic {
            self.record_failover(&st.db.cluster, failover);
            self.after_change(st);
        } else if ended.is_some() || stale_changed {
            self.after_change(st);
        }
    }

    /// Evaluates and records the serving state (and serving fraction) at start-up.
    pub(crate) fn record_initial_serving(&self) {
        let mut st = self.lock();
        st.serving = false;
        st.serving_fraction = None;
        self.after_change(st);
    }

    /// Whether a request sent now through the load balancer would succeed.
    pub fn serving(&self) -> bool {
        self.lock().serving
    }

    /// The share of the load balancer's routable targets that would answer a request
    /// sent now (see [`Truth::ServingFraction`]).
    pub fn serving_fraction(&self) -> f64 {
        serving_share(&self.lock(), &self.stack.zones).0
    }

    /// Re-evaluates derived state, records changes, and wakes waiters.
    fn after_change(&self, mut st: MutexGuard<'_, State>) {
        let st_ref = &mut *st;
        let writable = {
            let cuts = &st_ref.cuts;
            let control_plane = |s: &str| cuts.passes(&Peer::Outside, s);
            let between = |a: &str, b: &str| cuts.passes(&Peer::Subnet(a.to_string()), b);
            st_ref.db.writable(&Reach {
                caller: &control_plane,
                between: &between,
            })
        };
        if writable != st_ref.db_writable {
            let reason = match st_ref.db.outage() {
                Some(Outage::FailingOver) => "failing over",
                Some(Outage::Rebooting) => "rebooting",
                Some(Outage::Promoting) => "promoting",
                Some(Outage::Restoring) => "restoring",
                Some(Outage::ReadOnly) => "read replica",
                Some(Outage::Absent) => "absent",
                None if st_ref.db.role() == crate::config::DbRole::Replica => "read replica",
                None if st_ref.db.role() == crate::config::DbRole::Absent => "absent",
                None if writable => "available",
                None => "writer unreachable",
            };
            st_ref.db_writable = writable;
            self.truth.record(Truth::DbAvailability {
                cluster: st_ref.db.cluster.clone(),
                available: writable,
                reason: reason.into(),
            });
        }
        let (serving_fraction, answering, routable) = serving_share(st_ref, &self.stack.zones);
        // Every routable target answers, and there is one (so `answering == routable > 0`).
        let serving = answering > 0 && answering == routable;
        if serving != st_ref.serving {
            st_ref.serving = serving;
            self.truth.record(Truth::Serving { serving });
        }
        if st_ref.serving_fraction != Some(serving_fraction) {
            st_ref.serving_fraction = Some(serving_fraction);
            self.truth.record(Truth::ServingFraction {
                serving_fraction,
                answering,
                routable,
            });
        }
        drop(st);
        self.changed.send_modify(|v| *v += 1);
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

/// How many app instances would send to a node that is not the writer now.
fn stale_apps(st: &State, now: Instant) -> usize {
    st.instances
        .keys()
        .filter(|app| cached_writer(st, app, now).is_some_and(|n| n != st.db.writer_index()))
        .count()
}

/// `(serving fraction, answering, routable)`: of the targets a request would be routed to
/// now, how many would answer it through every load balancer node (running, reached from
/// the node, and reaching a writable database), and the share of (node, target) routes
/// that would: the load balancer has one node per zone, each routing to every target
/// (ALB's cross-zone load balancing), and clients spread over the nodes. The two agree
/// unless a zone-scoped cut lets some nodes through and not others.
fn serving_share(st: &State, zones: &[String]) -> (f64, usize, usize) {
    let targets = routable(st);
    let nodes: Vec<Peer> = zones.iter().map(|z| Peer::LbNode(z.clone())).collect();
    let between = |a: &str, b: &str| st.cuts.passes(&Peer::Subnet(a.to_string()), b);
    let now = Instant::now();
    let answers = |id: &str, node: &Peer| -> bool {
        let Some(r) = st.instances.get(id) else { return false };
        let from_instance = |s: &str| st.cuts.passes(&Peer::Subnet(r.subnet.clone()), s);
        let db_node = cached_writer(st, id, now).unwrap_or(st.db.endpoint());
        r.state == InstanceState::Running
            && st.cuts.passes(node, &r.subnet)
            && st.db.writable_via(
                db_node,
                &Reach {
                    caller: &from_instance,
                    between: &between,
                },
            )
    };
    let mut routes = 0;
    let mut answering = 0;
    for (id, _) in &targets {
        let through = nodes.iter().filter(|n| answers(id, n)).count();
        routes += through;
        answering += usize::from(through == nodes.len());
    }
    let fraction = if targets.is_empty() || nodes.is_empty() {
        0.0
    } else {
        routes as f64 / (targets.len() * nodes.len()) as f64
    };
    (fraction, answering, targets.len())
}

#[cfg(test)]
mod tests;
