//! The world's side of the database ([`crate::database`]): queries from the apps carried
//! through the network cuts to the node each app resolved, and failovers, reboots,
//! outages and cross-region shipping, each recorded as ground truth.

use super::*;

impl World {
    /// Whether the database writer can be reached from outside the VPC (it exists and no
    /// cut denies that), as replication to another region needs.
    pub fn db_reachable(&self) -> bool {
        let st = self.lock();
        reach(&st.cuts, &Peer::Outside, |net| st.db.reachable(net))
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

    /// Runs `f` on the database state (for describe calls).
    pub fn with_db<T>(&self, f: impl FnOnce(&DbCluster) -> T) -> T {
        f(&self.lock().db)
    }

    /// Writes through to the database from app instance `app`: to the node it resolved
    /// the writer endpoint to ([`EndpointCache::resolve`]); while a cut keeps that node out
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

    pub(super) async fn db_call<T>(
        &self,
        app: &str,
        mut f: impl FnMut(&mut DbCluster, usize, &Reach) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let deadline = tokio::time::Instant::now() + self.stack.timings.app_db_timeout.0;
        let (caller, node, failovers) = {
            let mut st = self.lock();
            let State {
                fleet, db, endpoints, ..
            } = &mut *st;
            let subnet = fleet.get(app).map(|r| r.subnet.clone()).unwrap_or_default();
            let node = endpoints.resolve(db, app, Instant::now());
            (Peer::Subnet(subnet), node, db.failovers())
        };
        loop {
            let res = {
                let mut st = self.lock();
                let State { db, cuts, .. } = &mut *st;
                reach(cuts, &caller, |net| f(db, node, net))
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
    pub(super) fn record_failover(&self, cluster: &str, (from, to, lost): (String, String, Vec<String>)) {
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

    /// Whether the database accepts writes now.
    pub fn db_writable(&self) -> bool {
        self.lock().recorded.db_writable
    }
}

/// One waiting query in a gauge, for as long as it lives (dropped with the request too).
pub(super) struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

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
