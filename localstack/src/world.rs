//! The world: the shared state of the running stack (instances, targets, database,
//! network cuts) and the one place that decides whether the stack is serving.
//!
//! Every change goes through a method here, which records ground truth and wakes
//! whoever waits on a change.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::database::{DbCluster, DbError, Outage, Reach};
use crate::network::{redelivery, Cuts, Peer, Scope};
use crate::stack::Stack;
use crate::truth::{now_unix_ms, GroundTruth, RegionTruth, Truth};

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
    pub fn new(stack: Stack, addrs: HashMap<String, SocketAddr>) -> Arc<World> {
        World::new_in(
            stack,
            addrs,
            0,
            Arc::new(GroundTruth::default()),
            CancellationToken::new(),
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
                        crate::stack::InitialState::Running => InstanceState::Running,
                        crate::stack::InitialState::Stopped => InstanceState::Stopped,
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

    /// Whether this subnet has a network cut in place (any scope).
    pub fn is_blocked(&self, subnet: &str) -> bool {
        self.lock().cuts.is_cut(subnet)
    }

    /// Who sends from this address: the subnet of the instance that owns it, the load
    /// balancer node of a zone ([`lb_node_ip`]), or someone outside the VPC.
    pub fn peer_of(&self, ip: IpAddr) -> Peer {
        if let Some(zone) = self
            .stack
            .zones
            .iter()
            .enumerate()
            .find_map(|(z, name)| (lb_node_ip(self.region_index, z) == ip).then_some(name))
        {
            return Peer::LbNode(zone.clone());
        }
        let st = self.lock();
        st.instances
            .values()
            .find(|r| r.addr.ip() == ip && !ip.is_unspecified() && ip != IpAddr::V4(Ipv4Addr::LOCALHOST))
            .map_or(Peer::Outside, |r| Peer::Subnet(r.subnet.clone()))
    }

    /// Whether traffic between `from` and a network interface in subnet `to` passes the
    /// cuts in place now.
    pub fn passes(&self, from: &Peer, to: &str) -> bool {
        self.lock().cuts.passes(from, to)
    }

    /// Carries a segment sent now between `from` and subnet `to`: at once when no cut is
    /// in the way; otherwise it is dropped, and arrives at TCP's first retransmission
    /// after the cut ends (retransmission timeout starting at `rto`, see
    /// [`redelivery`]) — never, if TCP gives up first.
    pub async fn deliver(&self, from: &Peer, to: &str, rto: Duration) {
        self.carry(|st| st.cuts.passes(from, to), rto).await
    }

    /// [`World::deliver`] for a path that `open` says is open or not in a state.
    async fn carry(&self, open: impl Fn(&State) -> bool, rto: Duration) {
        let sent = Instant::now();
        let mut rx = self.subscribe();
        let mut dropped = false;
        loop {
            rx.borrow_and_update();
            if open(&self.lock()) {
                if !dropped {
                    return;
                }
                let Some(at) = redelivery(sent, Instant::now(), rto) else {
                    return std::future::pending().await;
                };
                tokio::time::sleep_until(at.into()).await;
                // A cut that is back by then drops the retransmission too.
                if open(&self.lock()) {
                    return;
                }
            }
            dropped = true;
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Cuts these subnets as a network ACL with this scope would (counted: overlapping
    /// cuts need as many restores).
    pub fn block_subnets(&self, subnets: &[String], scope: Scope) {
        let mut st = self.lock();
        st.cuts.add(subnets, scope);
        self.after_change(st);
    }

    /// Undoes one [`World::block_subnets`] of these subnets with this scope.
    pub fn unblock_subnets(&self, subnets: &[String], scope: Scope) {
        let mut st = self.lock();
        st.cuts.remove(subnets, scope);
        self.after_change(st);
    }

    /// Cuts this region's connectivity to `other` (`None`: every other region); counted
    /// like subnet cuts.
    pub fn cut_cross_region(&self, other: Option<&str>) {
        let key = other.unwrap_or("*").to_string();
        let mut st = self.lock();
        *st.cross_cut.entry(key.clone()).or_default() += 1;
        self.truth.record(Truth::CrossRegion { other: key, cut: true });
        self.after_change(st);
    }

    /// Undoes one [`World::cut_cross_region`].
    pub fn restore_cross_region(&self, other: Option<&str>) {
        let key = other.unwrap_or("*").to_string();
        let mut st = self.lock();
        if let Some(n) = st.cross_cut.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
        self.truth.record(Truth::CrossRegion { other: key, cut: false });
        self.after_change(st);
    }

    /// Whether traffic between this region and `other` is cut on this side.
    pub fn cross_region_cut(&self, other: &str) -> bool {
        let st = self.lock();
        cut(&st.cross_cut, other) || cut(&st.cross_cut, "*")
    }

    /// Whether the database writer can be reached from outside the VPC (it exists and no
    /// cut denies that), as replication to another region needs.
    pub fn db_reachable(&self) -> bool {
        let st = self.lock();
        st.db.role() != crate::stack::DbRole::Absent && st.cuts.passes(&Peer::Outside, &st.db.writer().subnet)
    }

    /// Turns shipping of acknowledged writes to other regions on or off.
    pub fn db_set_shipping(&self, on: bool) {
        self.lock().db.set_shipping(on);
    }

    /// The writes acknowledged at or before `cutoff` that are still to be shipped to
    /// other regions (removed from the outbox).
    pub fn db_take_shippable(&self, cutoff: Instant) -> Vec<(String, String)> {
        self.lock().db.take_shippable(cutoff)
    }

    /// Applies writes shipped from another region.
    pub fn db_apply_remote(&self, batch: &[(String, String)]) {
        if batch.is_empty() {
            return;
        }
        let mut st = self.lock();
        st.db.apply_remote(batch);
        self.after_change(st);
    }

    /// Stops shipping; returns the ids never shipped.
    pub fn db_discard_outbox(&self) -> Vec<String> {
        self.lock().db.discard_outbox()
    }

    /// A copy of the writer's data (none while the database does not exist).
    pub fn db_data(&self) -> Option<HashMap<String, String>> {
        self.lock().db.data().cloned()
    }

    /// Promotes this region's replica to a writer, unavailable for `duration` meanwhile.
    pub fn db_promote(&self, duration: Duration) {
        let mut st = self.lock();
        st.db.promote(Instant::now(), duration);
        self.after_change(st);
    }

    /// Creates this region's database from snapshot data, unavailable for `duration`.
    pub fn db_restore(&self, data: HashMap<String, String>, duration: Duration) {
        let mut st = self.lock();
        st.db.restore(data, Instant::now(), duration);
        self.after_change(st);
    }

    /// A copy of every instance.
    pub fn instances(&self) -> Vec<InstanceRec> {
        self.lock().instances.values().cloned().collect()
    }

    /// A copy of every registered target.
    pub fn targets(&self) -> Vec<TargetRec> {
        self.lock().targets.clone()
    }

    /// Runs `f` on the database state (for describe calls).
    pub fn with_db<T>(&self, f: impl FnOnce(&DbCluster) -> T) -> T {
        f(&self.lock().db)
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

    fn set_instances(
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
    fn finish_stop(self: &Arc<Self>, id: &str, generation: u64) {
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

    async fn finish_boot(self: &Arc<Self>, id: &str, generation: u64) {
        let addr = {
            let st = self.lock();
            match st.instances.get(id) {
                Some(r) if r.generation == generation && r.state == InstanceState::Pending => r.addr,
                _ => return,
            }
        };
        match crate::app::bind(addr).await {
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
                crate::app::spawn(self.clone(), id.to_string(), subnet, listener, token);
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
            crate::lb::spawn_health_checker(self.clone(), id.clone(), *generation);
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
    fn finish_draining(&self, id: &str, generation: u64) {
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
    fn sync_targets(&self, st: &mut State, id: &str) {
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

    /// The position in the stack's zone list of the instance's zone.
    pub fn instance_zone_index(&self, id: &str) -> Option<usize> {
        let zone = self.lock().instances.get(id).map(|r| r.zone.clone())?;
        self.stack.zones.iter().position(|z| *z == zone)
    }

    /// The source address of the load balancer node in the zone at `zone` in the stack's
    /// zone list ([`lb_node_ip`]). Where it cannot be bound (only 127.0.0.1 exists, as on
    /// macOS by default), connections go out from 127.0.0.1 and count as from outside the
    /// VPC.
    pub fn lb_node_source(&self, zone: usize) -> IpAddr {
        lb_node_ip(self.region_index, zone)
    }

    /// The instance's address, for health checks and proxying.
    pub fn instance_addr(&self, id: &str) -> Option<SocketAddr> {
        self.lock().instances.get(id).map(|r| r.addr)
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

    /// Writes through to the database from app instance `app`: to the node it resolved
    /// the writer endpoint to ([`World::resolve_writer`]); while a cut keeps that node out
    /// of reach the query is carried as TCP carries it ([`World::deliver`]), up to the
    /// app's database timeout; a failover meanwhile resets the connection.
    pub async fn db_write(&self, app: &str, id: &str, body: &str) -> Result<(), DbError> {
        self.db_call(app, |db, node, net| db.write_via(node, id, body, Instant::now(), net))
            .await
    }

    /// Reads through the node app instance `app` resolved, carried like
    /// [`World::db_write`].
    pub async fn db_read(&self, app: &str, id: &str) -> Result<Option<String>, DbError> {
        self.db_call(app, |db, node, net| db.read_via(node, id, net)).await
    }

    /// The database node app instance `app` sends to now: the one it resolved the writer
    /// endpoint to less than the endpoint's TTL ago, else what the endpoint resolves to
    /// now (remembered from now on).
    fn resolve_writer(st: &mut State, app: &str, now: Instant) -> usize {
        cached_writer(st, app, now).unwrap_or_else(|| {
            let node = st.db.endpoint();
            st.resolved.insert(app.to_string(), (node, now));
            node
        })
    }

    async fn db_call<T>(
        &self,
        app: &str,
        mut f: impl FnMut(&mut DbCluster, usize, &Reach) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let deadline = tokio::time::Instant::now() + self.stack.timings.app_db_timeout.0;
        let (caller, node, failovers) = {
            let mut st = self.lock();
            let subnet = st.instances.get(app).map(|r| r.subnet.clone()).unwrap_or_default();
            let node = World::resolve_writer(&mut st, app, Instant::now());
            (Peer::Subnet(subnet), node, st.db.failovers())
        };
        loop {
            let res = {
                let mut st = self.lock();
                let State { db, cuts, .. } = &mut *st;
                let reach = |s: &str| cuts.passes(&caller, s);
                let between = |a: &str, b: &str| cuts.passes(&Peer::Subnet(a.to_string()), b);
                let net = Reach {
                    caller: &reach,
                    between: &between,
                };
                f(db, node, &net)
            };
            if !matches!(res, Err(DbError::Unreachable)) {
                return res;
            }
            // The query was dropped on its way to the node: TCP brings it once the cut
            // ends, unless the app gives up first or a failover resets the connection.
            let open_or_reset = |st: &State| {
                st.db.failovers() != failovers
                    || st
                        .db
                        .nodes()
                        .get(node)
                        .is_some_and(|n| st.cuts.passes(&caller, &n.subnet))
            };
            let carried = self.carry(open_or_reset, crate::network::RTO_MIN);
            let waited = {
                let _waiting = Waiting::count(&self.db_waiting);
                tokio::time::timeout_at(deadline, carried).await
            };
            if waited.is_err() {
                return Err(DbError::Unreachable);
            }
            if self.lock().db.failovers() != failovers {
                return Err(DbError::Unavailable(Outage::FailingOver));
            }
        }
    }

    /// How many database queries are waiting now for a node a cut keeps out of reach (each
    /// gives up after the app's database timeout, or is reset by a failover).
    pub fn db_queries_waiting(&self) -> usize {
        self.db_waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fails the database over to its standby; records the lost writes.
    pub fn db_failover(&self) {
        let mut st = self.lock();
        let failover = st.db.failover(Instant::now());
        self.record_failover(&st.db.cluster, failover);
        self.after_change(st);
    }

    /// Records a failover `(old writer, new writer, lost write ids)` in the ground truth.
    fn record_failover(&self, cluster: &str, (from, to, lost): (String, String, Vec<String>)) {
        self.truth.record(Truth::DbFailover {
            cluster: cluster.to_string(),
            from,
            to,
            lost_write_ids: lost,
        });
    }

    /// Reboots a database node (see [`DbCluster::reboot`]).
    pub fn db_reboot(&self, node: &str, force_failover: bool) {
        let mut st = self.lock();
        if let Some(failover) = st.db.reboot(node, force_failover, Instant::now()) {
            self.record_failover(&st.db.cluster, failover);
        }
        self.after_change(st);
    }

    /// Ends a database outage early (StopExperiment).
    pub fn db_end_outage(&self) {
        let mut st = self.lock();
        st.db.end_outage();
        self.after_change(st);
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

    /// Whether the database accepts writes now.
    pub fn db_writable(&self) -> bool {
        self.lock().db_writable
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
                None if st_ref.db.role() == crate::stack::DbRole::Replica => "read replica",
                None if st_ref.db.role() == crate::stack::DbRole::Absent => "absent",
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

/// Whether a subnet is black-holed in this map of cut counts.
fn cut(blocked: &HashMap<String, u32>, subnet: &str) -> bool {
    blocked.get(subnet).is_some_and(|n| *n > 0)
}

fn new_target(id: &str, generation: u64) -> TargetRec {
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
fn sync_target(t: &mut TargetRec, state: InstanceState) -> bool {
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

/// One waiting query in a gauge, for as long as it lives (dropped with the request too).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(gauge: &'a std::sync::atomic::AtomicUsize) -> Waiting<'a> {
        gauge.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The node app instance `app` resolved the writer endpoint to, while that is less than
/// the endpoint's TTL old.
fn cached_writer(st: &State, app: &str, now: Instant) -> Option<usize> {
    let ttl = st.db.endpoint_ttl();
    st.resolved
        .get(app)
        .filter(|(_, at)| now.saturating_duration_since(*at) < ttl)
        .map(|(node, _)| *node)
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

fn routable(st: &State) -> Vec<(String, SocketAddr)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Three instances, one per zone, behind the load balancer; a Multi-AZ database.
    const STACK: &str = r#"
name: three
region: us-east-1
zones: [us-east-1a, us-east-1b, us-east-1c]
subnets:
  - { id: subnet-a, zone: us-east-1a }
  - { id: subnet-b, zone: us-east-1b }
  - { id: subnet-c, zone: us-east-1c }
  - { id: subnet-db-a, zone: us-east-1a }
  - { id: subnet-db-b, zone: us-east-1b }
instances:
  - { id: i-a, subnet: subnet-a }
  - { id: i-b, subnet: subnet-b }
  - { id: i-c, subnet: subnet-c }
load_balancer:
  name: alb
  listener_port: 0
  idle_timeout: 10s
  target_group:
    name: app
    targets: [i-a, i-b, i-c]
    health_check: { path: /health, interval: 500ms, timeout: 250ms, healthy_threshold: 2, unhealthy_threshold: 2 }
    deregistration_delay: 50ms
database:
  cluster: db
  topology: multi-az
  primary: { id: db-1, subnet: subnet-db-a }
  standby: { id: db-2, subnet: subnet-db-b }
  failover_duration: 2s
  reboot_duration: 2s
speedups: { sub_second_health_checks: true }
"#;

    fn world() -> Arc<World> {
        let stack = Stack::parse(std::path::Path::new("three.yaml"), STACK).unwrap();
        let addrs = ["i-a", "i-b", "i-c"]
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), SocketAddr::from(([127, 0, 0, 1], 1 + i as u16))))
            .collect();
        let w = World::new(stack, addrs);
        w.record_initial_serving();
        w
    }

    /// Applies `n` health-check results of one kind to a target.
    fn checks(w: &World, id: &str, result: CheckResult, n: usize) {
        for _ in 0..n {
            w.record_check(id, 0, result);
        }
    }

    /// Reads the ground truth step by step.
    #[derive(Default)]
    struct Seen {
        upto: usize,
    }

    impl Seen {
        /// The `serving` and `serving_fraction` events recorded since the last call, in
        /// order, as `serving true|false` and `fraction answering/routable`.
        fn since(&mut self, w: &World) -> Vec<String> {
            let events = w.truth.snapshot();
            let out = events[self.upto..]
                .iter()
                .filter_map(|e| match &e.what {
                    Truth::Serving { serving } => Some(format!("serving {serving}")),
                    Truth::ServingFraction {
                        serving_fraction,
                        answering,
                        routable,
                    } => {
                        let expected = if *routable == 0 {
                            0.0
                        } else {
                            *answering as f64 / *routable as f64
                        };
                        assert_eq!(*serving_fraction, expected);
                        Some(format!("fraction {answering}/{routable}"))
                    }
                    _ => None,
                })
                .collect();
            self.upto = events.len();
            out
        }
    }

    /// The health state and reason of one target.
    fn health_of(w: &World, id: &str) -> (Health, Option<&'static str>, Option<String>) {
        let t = w.targets().into_iter().find(|t| t.id == id).expect("registered");
        (t.health, t.reason, t.description)
    }

    /// The serving fraction follows a partial outage step by step and is recorded exactly
    /// when it changes, also while `serving` stays false. At start-up every target is
    /// `initial` and nothing is routable (503) until one passing check makes each healthy;
    /// a stopped instance's app is down while it is `stopping` (its target still routable),
    /// and once it is `stopped` its target is `unused` (`Target.InvalidState`) and leaves
    /// the rotation; a black-holed one counts against the
    /// fraction until its checks time out; a database failover makes it 0; with every
    /// target still registered unhealthy the load balancer fails open over those (never
    /// over `unused` ones); with every target unused nothing is routable and the entry is
    /// not serving.
    #[tokio::test]
    async fn serving_fraction_follows_partial_outages_and_is_recorded_on_change() {
        let w = world();
        let mut seen = Seen::default();
        assert_eq!(seen.since(&w), ["fraction 0/0"], "all initial: nothing routable");
        assert!(!w.serving());
        assert_eq!(
            health_of(&w, "i-a"),
            (
                Health::Initial,
                Some("Elb.InitialHealthChecking"),
                Some("Initial health checks in progress".into())
            )
        );
        // One passing check makes a new target healthy (AWS: "it must pass one health check").
        checks(&w, "i-a", CheckResult::Pass, 1);
        assert_eq!(seen.since(&w), ["serving true", "fraction 1/1"]);
        assert_eq!(health_of(&w, "i-a"), (Health::Healthy, None, None));
        for id in ["i-b", "i-c"] {
            checks(&w, id, CheckResult::Pass, 1);
        }
        assert_eq!(seen.since(&w), Vec::<String>::new(), "3/3 is still 1.0: not recorded");
        assert_eq!(w.routable().len(), 3);

        w.stop_instances(&["i-a".to_string()]).unwrap();
        // Stopping: the app is down, but its target stays routable until EC2 calls the
        // instance stopped (or its checks fail).
        assert_eq!(seen.since(&w), ["serving false", "fraction 2/3"]);
        assert_eq!(health_of(&w, "i-a").0, Health::Healthy);
        let generation = w.lock().instances["i-a"].generation;
        w.finish_stop("i-a", generation);
        assert_eq!(
            seen.since(&w),
            ["serving true", "fraction 2/2"],
            "stopped: unused, out of rotation"
        );
        assert_eq!(
            health_of(&w, "i-a"),
            (
                Health::Unused,
                Some("Target.InvalidState"),
                Some("Target is in the stopped state".into())
            )
        );
        checks(&w, "i-a", CheckResult::Fail, 3);
        assert_eq!(
            health_of(&w, "i-a").0,
            Health::Unused,
            "an unused target is not checked"
        );

        w.block_subnets(&["subnet-b".to_string()], crate::network::Scope::All);
        assert_eq!(seen.since(&w), ["serving false", "fraction 1/2"]);
        checks(&w, "i-b", CheckResult::Timeout, 2);
        assert_eq!(seen.since(&w), ["serving true", "fraction 1/1"]);
        assert_eq!(health_of(&w, "i-b").1, Some("Target.Timeout"));

        w.db_failover();
        assert_eq!(seen.since(&w), ["serving false", "fraction 0/1"]);
        w.db_end_outage();
        assert_eq!(seen.since(&w), ["serving true", "fraction 1/1"]);

        // Every registered target unhealthy: fail-open over those two, not the unused one.
        checks(&w, "i-c", CheckResult::Mismatch(503), 2);
        assert_eq!(seen.since(&w), ["serving false", "fraction 1/2"]);
        assert_eq!(
            health_of(&w, "i-c"),
            (
                Health::Unhealthy,
                Some("Target.ResponseCodeMismatch"),
                Some("Health checks failed with these codes: [503]".into())
            )
        );
        let mut open: Vec<String> = w.routable().into_iter().map(|(id, _)| id).collect();
        open.sort();
        assert_eq!(open, ["i-b", "i-c"]);

        // Every target unused: nothing routable, not serving (the load balancer answers 503).
        w.stop_instances(&["i-b".to_string(), "i-c".to_string()]).unwrap();
        assert_eq!(
            seen.since(&w),
            ["fraction 0/2"],
            "stopping: still routable, none answers"
        );
        for id in ["i-b", "i-c"] {
            let generation = w.lock().instances[id].generation;
            w.finish_stop(id, generation);
        }
        assert_eq!(
            seen.since(&w),
            Vec::<String>::new(),
            "the fraction stays 0: not recorded again"
        );
        assert!(w.routable().is_empty());
        assert!(!w.serving());
        assert_eq!(w.serving_fraction(), 0.0);
        w.terminate_instances(&["i-c".to_string()]).unwrap();
        assert_eq!(
            health_of(&w, "i-c").2.as_deref(),
            Some("Target is in the terminated state")
        );
    }

    /// A failing new target becomes unhealthy after the unhealthy threshold, with
    /// `Target.FailedHealthChecks` for a refused connection; back to healthy it needs the
    /// healthy threshold (two passes here), not one.
    #[test]
    fn unhealthy_targets_need_the_healthy_threshold() {
        let w = world();
        checks(&w, "i-a", CheckResult::Fail, 1);
        assert_eq!(health_of(&w, "i-a").0, Health::Initial);
        checks(&w, "i-a", CheckResult::Fail, 1);
        assert_eq!(
            health_of(&w, "i-a"),
            (
                Health::Unhealthy,
                Some("Target.FailedHealthChecks"),
                Some("Health checks failed".into())
            )
        );
        checks(&w, "i-a", CheckResult::Pass, 1);
        assert_eq!(health_of(&w, "i-a").0, Health::Unhealthy);
        checks(&w, "i-a", CheckResult::Pass, 1);
        assert_eq!(health_of(&w, "i-a").0, Health::Healthy);
    }

    /// A deregistered target drains for the deregistration delay (`draining`,
    /// `Target.DeregistrationInProgress`, never routed to), then leaves the group.
    #[tokio::test]
    async fn deregistered_targets_drain_then_leave() {
        let w = world();
        for id in ["i-a", "i-b", "i-c"] {
            checks(&w, id, CheckResult::Pass, 1);
        }
        w.deregister_targets(&["i-a".to_string()]);
        assert_eq!(
            health_of(&w, "i-a"),
            (
                Health::Draining,
                Some("Target.DeregistrationInProgress"),
                Some("Target deregistration is in progress".into())
            )
        );
        assert!(!w.routable().iter().any(|(id, _)| id == "i-a"));
        checks(&w, "i-a", CheckResult::Pass, 2);
        assert_eq!(health_of(&w, "i-a").0, Health::Draining);
        let mut rx = w.subscribe();
        tokio::time::timeout(Duration::from_secs(2), async {
            while w.targets().iter().any(|t| t.id == "i-a") {
                rx.changed().await.expect("world alive");
            }
        })
        .await
        .expect("the target leaves after the 50 ms delay");
        assert_eq!(w.targets().len(), 2);
    }

    /// `serving_fraction` is served at `/_drdrill/events` as its own event kind, with the
    /// counts it comes from.
    #[test]
    fn serving_fraction_serializes_with_its_kind_and_counts() {
        let w = world();
        checks(&w, "i-a", CheckResult::Pass, 1);
        let ev = w
            .truth
            .snapshot()
            .into_iter()
            .rfind(|e| matches!(e.what, Truth::ServingFraction { .. }))
            .unwrap();
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "serving_fraction");
        assert_eq!(v["serving_fraction"], 1.0);
        assert_eq!(v["answering"], 1);
        assert_eq!(v["routable"], 1);
        assert_eq!(v["region"], "us-east-1");
    }
}
