//! The ground truth the world derives from its parts after every change: whether the
//! database is writable, whether the stack is serving and what share of its routes
//! answer — each recorded when it changes — and the ticker that advances database time.

use super::*;

impl World {
    /// Advances database time; called by the ticker. Fails the database over by itself
    /// when its writer has been cut off long enough ([`DbCluster::auto_failover_due`]).
    pub fn tick(&self) {
        let mut st = self.lock();
        let now = Instant::now();
        let State {
            db,
            cuts,
            endpoints,
            fleet,
            ..
        } = &mut *st;
        let (ended, automatic) = reach(cuts, &Peer::Outside, |net| {
            let ended: Option<Outage> = db.tick(now, net);
            let automatic = db.auto_failover_due(now, net).then(|| db.failover(now));
            (ended, automatic)
        });
        let stale_changed = endpoints.recount(db, fleet.all().map(|r| r.id.as_str()), now);
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
        st.recorded.serving = false;
        st.recorded.serving_fraction = None;
        self.after_change(st);
    }

    /// Whether a request sent now through the load balancer would succeed.
    pub fn serving(&self) -> bool {
        self.lock().recorded.serving
    }

    /// The share of the load balancer's routable targets that would answer a request
    /// sent now (see [`Truth::ServingFraction`]).
    pub fn serving_fraction(&self) -> f64 {
        serving_share(&self.lock(), &self.stack.zones).0
    }

    /// Re-evaluates derived state, records changes, and wakes waiters.
    pub(super) fn after_change(&self, mut st: MutexGuard<'_, State>) {
        let st_ref = &mut *st;
        let writable = reach(&st_ref.cuts, &Peer::Outside, |net| st_ref.db.writable(net));
        if writable != st_ref.recorded.db_writable {
            st_ref.recorded.db_writable = writable;
            self.truth.record(Truth::DbAvailability {
                cluster: st_ref.db.cluster.clone(),
                available: writable,
                reason: st_ref.db.availability_reason(writable).into(),
            });
        }
        let (serving_fraction, answering, routable) = serving_share(st_ref, &self.stack.zones);
        // Every routable target answers, and there is one (so `answering == routable > 0`).
        let serving = answering > 0 && answering == routable;
        if serving != st_ref.recorded.serving {
            st_ref.recorded.serving = serving;
            self.truth.record(Truth::Serving { serving });
        }
        if st_ref.recorded.serving_fraction != Some(serving_fraction) {
            st_ref.recorded.serving_fraction = Some(serving_fraction);
            self.truth.record(Truth::ServingFraction {
                serving_fraction,
                answering,
                routable,
            });
        }
        drop(st);
        self.changed.send_modify(|v| *v += 1);
    }
}

/// `(serving fraction, answering, routable)`: of the targets a request would be routed to
/// now, how many would answer it through every load balancer node (running, reached from
/// the node, and reaching a writable database), and the share of (node, target) routes
/// that would: the load balancer has one node per zone, each routing to every target
/// (ALB's cross-zone load balancing), and clients spread over the nodes. The two agree
/// unless a zone-scoped cut lets some nodes through and not others.
fn serving_share(st: &State, zones: &[String]) -> (f64, usize, usize) {
    let targets = st.group.routable(|id| st.fleet.get(id).map(|r| r.addr));
    let nodes: Vec<Peer> = zones.iter().map(|z| Peer::LbNode(z.clone())).collect();
    let now = Instant::now();
    let answers = |id: &str, node: &Peer| -> bool {
        let Some(r) = st.fleet.get(id) else { return false };
        let db_node = st.endpoints.cached(&st.db, id, now).unwrap_or(st.db.endpoint());
        r.state == InstanceState::Running
            && st.cuts.passes(node, &r.subnet)
            && reach(&st.cuts, &Peer::Subnet(r.subnet.clone()), |net| {
                st.db.writable_via(db_node, net)
            })
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
