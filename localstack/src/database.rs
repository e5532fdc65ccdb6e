//! The database cluster: in-memory nodes modelled as durable storage, replication per
//! topology, failover and reboot. Pure state; the world drives it and supplies time and
//! which subnets are cut off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::config::{Database, DbRole, Stack, Topology};

mod endpoint;

pub use endpoint::EndpointCache;

/// One node's storage.
#[derive(Debug, Clone)]
pub struct Node {
    /// DB instance identifier.
    pub id: String,
    /// Subnet the node runs in.
    pub subnet: String,
    /// Availability zone of the subnet.
    pub zone: String,
    data: HashMap<String, String>,
}

/// A write that reached the primary but not yet the async standby.
#[derive(Debug, Clone)]
struct Pending {
    apply_at: Instant,
    id: String,
    body: String,
}

/// Why the cluster is not accepting requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The writer is moving to the standby.
    FailingOver,
    /// The writer node is rebooting.
    Rebooting,
    /// A cross-region replica is being promoted to a standalone writer.
    Promoting,
    /// The database is being restored from a snapshot.
    Restoring,
    /// A read replica: it refuses writes until promoted.
    ReadOnly,
    /// The database does not exist yet (it comes from a restore).
    Absent,
}

/// What the network lets through, as one database call sees it (see [`crate::network`]).
pub struct Reach<'a> {
    /// Whether the caller reaches a node in this subnet: the app instance for reads and
    /// writes, AWS's control plane (outside the VPC) for failovers and availability.
    pub caller: &'a dyn Fn(&str) -> bool,
    /// Whether a node in the first subnet reaches one in the second (replication).
    pub between: &'a dyn Fn(&str, &str) -> bool,
}

impl Reach<'static> {
    /// Nothing is cut.
    pub const OPEN: Reach<'static> = Reach {
        caller: &|_| true,
        between: &|_, _| true,
    };
}

/// Why a write or read did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbError {
    /// The cluster refuses requests for now (fails fast).
    Unavailable(Outage),
    /// The writer cannot be reached (the caller waits until it can, or times out).
    Unreachable,
}

/// The cluster state machine.
#[derive(Debug)]
pub struct DbCluster {
    /// Cluster identifier.
    pub cluster: String,
    /// Replication topology.
    pub topology: Topology,
    lag: Duration,
    failover_duration: Duration,
    reboot_duration: Duration,
    nodes: Vec<Node>,
    writer: usize,
    outage: Option<(Outage, Instant)>,
    pending: VecDeque<Pending>,
    /// Ids written while the synchronous standby was cut off (it is behind by these).
    standby_missed: HashSet<String>,
    /// The standby rebooted and must be resynced from the writer once it is back.
    standby_stale: bool,
    standby_down_until: Option<Instant>,
    role: DbRole,
    shipping: bool,
    outbox: VecDeque<Pending>,
    /// How long the writer may be cut off before the cluster fails over by itself.
    auto_failover_after: Duration,
    /// Since when the current writer has been cut off (`None` while reachable).
    writer_cut_since: Option<Instant>,
    /// The node the writer endpoint's DNS record points at: the old writer until a
    /// failover's promotion is done, then the new one.
    endpoint: usize,
    /// The TTL of that record (how long apps keep a resolved node).
    endpoint_ttl: Duration,
    /// Failovers so far: each resets every connection to the old writer.
    failovers: u64,
}

impl DbCluster {
    /// Builds the cluster from the stack file, empty.
    pub fn new(stack: &Stack) -> DbCluster {
        let db: &Database = &stack.database;
        let node = |id: &str, subnet: &str| Node {
            id: id.to_string(),
            subnet: subnet.to_string(),
            zone: stack.subnet_zone(subnet).unwrap_or_default().to_string(),
            data: HashMap::new(),
        };
        let mut nodes = vec![node(&db.primary.id, &db.primary.subnet)];
        if let Some(sb) = &db.standby {
            nodes.push(node(&sb.id, &sb.subnet));
        }
        DbCluster {
            cluster: db.cluster.clone(),
            topology: db.topology,
            lag: db.replica_lag.map(|d| d.0).unwrap_or_default(),
            failover_duration: db.failover_duration.0,
            reboot_duration: db.reboot_duration.0,
            nodes,
            writer: 0,
            outage: None,
            pending: VecDeque::new(),
            standby_missed: HashSet::new(),
            standby_stale: false,
            standby_down_until: None,
            role: db.role,
            shipping: false,
            outbox: VecDeque::new(),
            auto_failover_after: db.auto_failover_after.0,
            writer_cut_since: None,
            endpoint: 0,
            endpoint_ttl: db.endpoint_ttl.0,
            failovers: 0,
        }
    }

    /// The node (index into [`DbCluster::nodes`]) the writer endpoint resolves to now.
    pub fn endpoint(&self) -> usize {
        self.endpoint
    }

    /// How long an app keeps the node it resolved the writer endpoint to.
    pub fn endpoint_ttl(&self) -> Duration {
        self.endpoint_ttl
    }

    /// The writer's index into [`DbCluster::nodes`].
    pub fn writer_index(&self) -> usize {
        self.writer
    }

    /// How many failovers have happened: a change means connections to the old writer
    /// were reset.
    pub fn failovers(&self) -> u64 {
        self.failovers
    }

    /// Why a request sent to `node`, which is not the writer, fails: unreachable, the old
    /// writer still being fenced off by the failover, or — once it is back as a reader —
    /// refusing writes (read-only).
    fn not_the_writer(&self, node: usize, net: &Reach) -> DbError {
        if self.role == DbRole::Absent {
            DbError::Unavailable(Outage::Absent)
        } else if !(net.caller)(&self.nodes[node].subnet) {
            DbError::Unreachable
        } else if self.outage() == Some(Outage::FailingOver) {
            DbError::Unavailable(Outage::FailingOver)
        } else {
            DbError::Unavailable(Outage::ReadOnly)
        }
    }

    /// A write sent to `node` (where the app resolved the writer endpoint): stored by the
    /// writer as [`DbCluster::write`]; refused by any other node.
    pub fn write_via(&mut self, node: usize, id: &str, body: &str, now: Instant, net: &Reach) -> Result<(), DbError> {
        if node != self.writer {
            return Err(self.not_the_writer(node, net));
        }
        self.write(id, body, now, net)
    }

    /// A read sent to `node`: the writer answers as [`DbCluster::read`]; the old writer,
    /// back as a reader, answers from its own copy.
    pub fn read_via(&self, node: usize, id: &str, net: &Reach) -> Result<Option<String>, DbError> {
        if node == self.writer {
            return self.read(id, net);
        }
        match self.not_the_writer(node, net) {
            DbError::Unavailable(Outage::ReadOnly) => Ok(self.nodes[node].data.get(id).cloned()),
            e => Err(e),
        }
    }

    /// Whether a write sent to `node` now would be acknowledged.
    pub fn writable_via(&self, node: usize, net: &Reach) -> bool {
        node == self.writer && self.writable(net)
    }

    /// Whether the cluster fails over by itself now: its writer has been cut off for
    /// `auto_failover_after`, no outage is under way, and a standby is reachable to take
    /// over (as Aurora promotes a reader when it loses the writer). Tracks since when the
    /// writer has been cut off; call it on every tick.
    pub fn auto_failover_due(&mut self, now: Instant, net: &Reach) -> bool {
        if (net.caller)(&self.writer().subnet) {
            self.writer_cut_since = None;
            return false;
        }
        let since = *self.writer_cut_since.get_or_insert(now);
        self.outage.is_none()
            && now.saturating_duration_since(since) >= self.auto_failover_after
            && self.standby_up(now, net).is_some()
    }

    /// Keeps every acknowledged write for cross-region shipping ([`DbCluster::take_shippable`]).
    pub fn set_shipping(&mut self, on: bool) {
        self.shipping = on;
        if !on {
            self.outbox.clear();
        }
    }

    /// Removes and returns the writes acknowledged at or before `cutoff`, oldest first.
    pub fn take_shippable(&mut self, cutoff: Instant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while self.outbox.front().is_some_and(|p| p.apply_at <= cutoff) {
            if let Some(p) = self.outbox.pop_front() {
                out.push((p.id, p.body));
            }
        }
        out
    }

    /// Stops shipping and returns the ids of the writes that were never shipped.
    pub fn discard_outbox(&mut self) -> Vec<String> {
        let ids = self.outbox.drain(..).map(|p| p.id).collect();
        self.shipping = false;
        ids
    }

    /// Applies writes replicated from another region to every node.
    pub fn apply_remote(&mut self, batch: &[(String, String)]) {
        for node in &mut self.nodes {
            for (id, body) in batch {
                node.data.insert(id.clone(), body.clone());
            }
        }
    }

    /// The writer's data (a snapshot), unless the database does not exist.
    pub fn data(&self) -> Option<&HashMap<String, String>> {
        (self.role != DbRole::Absent).then(|| &self.writer().data)
    }

    /// The cross-region role now.
    pub fn role(&self) -> DbRole {
        self.role
    }

    /// Promotes a replica to a writer; writes fail while promotion takes `duration`.
    pub fn promote(&mut self, now: Instant, duration: Duration) {
        self.role = DbRole::Writer;
        self.outage = Some((Outage::Promoting, now + duration));
    }

    /// Creates the database from `data`; it takes `duration` before it serves.
    pub fn restore(&mut self, data: HashMap<String, String>, now: Instant, duration: Duration) {
        for node in &mut self.nodes {
            node.data = data.clone();
        }
        self.pending.clear();
        self.standby_missed.clear();
        self.role = DbRole::Writer;
        self.outage = Some((Outage::Restoring, now + duration));
    }

    /// All nodes, writer first is not guaranteed; see [`DbCluster::writer`].
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The current writer node.
    pub fn writer(&self) -> &Node {
        &self.nodes[self.writer]
    }

    fn standby_index(&self) -> Option<usize> {
        (self.nodes.len() > 1).then(|| 1 - self.writer)
    }

    /// The current outage, if any.
    pub fn outage(&self) -> Option<Outage> {
        self.outage.map(|(o, _)| o)
    }

    /// Whether the writer exists and the caller reaches it (from outside the VPC, as
    /// replication to another region needs).
    pub fn reachable(&self, net: &Reach) -> bool {
        self.role != DbRole::Absent && (net.caller)(&self.writer().subnet)
    }

    /// Why the database is or is not writable now (`writable`), as ground truth records
    /// its availability: the outage, its cross-region role, or the writer out of reach.
    pub fn availability_reason(&self, writable: bool) -> &'static str {
        match self.outage() {
            Some(Outage::FailingOver) => "failing over",
            Some(Outage::Rebooting) => "rebooting",
            Some(Outage::Promoting) => "promoting",
            Some(Outage::Restoring) => "restoring",
            Some(Outage::ReadOnly) => "read replica",
            Some(Outage::Absent) => "absent",
            None if self.role == DbRole::Replica => "read replica",
            None if self.role == DbRole::Absent => "absent",
            None if writable => "available",
            None => "writer unreachable",
        }
    }

    /// Whether a write sent now would be acknowledged.
    pub fn writable(&self, net: &Reach) -> bool {
        self.role == DbRole::Writer && self.outage.is_none() && (net.caller)(&self.writer().subnet)
    }

    fn check(&self, net: &Reach) -> Result<(), DbError> {
        if self.role == DbRole::Absent {
            return Err(DbError::Unavailable(Outage::Absent));
        }
        if let Some((o, _)) = self.outage {
            return Err(DbError::Unavailable(o));
        }
        if !(net.caller)(&self.writer().subnet) {
            return Err(DbError::Unreachable);
        }
        Ok(())
    }

    /// The standby, when it is up and the caller (AWS's control plane, for a failover)
    /// reaches it.
    fn standby_up(&self, now: Instant, net: &Reach) -> Option<usize> {
        let sb = self.standby_index()?;
        let down = self.standby_down_until.is_some_and(|t| t > now);
        (!down && (net.caller)(&self.nodes[sb].subnet)).then_some(sb)
    }

    /// The standby, when it is up and the writer reaches it (replication).
    fn standby_reachable(&self, now: Instant, net: &Reach) -> Option<usize> {
        let sb = self.standby_index()?;
        let down = self.standby_down_until.is_some_and(|t| t > now);
        (!down && (net.between)(&self.writer().subnet, &self.nodes[sb].subnet)).then_some(sb)
    }

    /// Stores a write; `Ok` means it is durable for the topology (acknowledged).
    pub fn write(&mut self, id: &str, body: &str, now: Instant, net: &Reach) -> Result<(), DbError> {
        self.check(net)?;
        if self.role == DbRole::Replica {
            return Err(DbError::Unavailable(Outage::ReadOnly));
        }
        let w = self.writer;
        self.nodes[w].data.insert(id.to_string(), body.to_string());
        if self.shipping {
            self.outbox.push_back(Pending {
                apply_at: now,
                id: id.to_string(),
                body: body.to_string(),
            });
        }
        match self.topology {
            Topology::Single => {}
            Topology::MultiAz => match self.standby_reachable(now, net) {
                Some(sb) => {
                    self.nodes[sb].data.insert(id.to_string(), body.to_string());
                }
                None => {
                    self.standby_missed.insert(id.to_string());
                }
            },
            Topology::AsyncReplica => self.pending.push_back(Pending {
                apply_at: now + self.lag,
                id: id.to_string(),
                body: body.to_string(),
            }),
        }
        Ok(())
    }

    /// Reads from the writer.
    pub fn read(&self, id: &str, net: &Reach) -> Result<Option<String>, DbError> {
        self.check(net)?;
        Ok(self.writer().data.get(id).cloned())
    }

    /// Advances time: ends outages, applies due async writes, resyncs a standby that is
    /// reachable again. Returns whether availability changed.
    pub fn tick(&mut self, now: Instant, net: &Reach) -> Option<Outage> {
        let mut ended = None;
        if let Some((o, until)) = self.outage {
            if now >= until {
                self.outage = None;
                // Promotion done: the endpoint's record now names the new writer.
                self.endpoint = self.writer;
                ended = Some(o);
            }
        }
        if self.standby_down_until.is_some_and(|t| t <= now) {
            self.standby_down_until = None;
        }
        // Replication needs the way from the writer to the standby: a cut-off writer (or
        // standby) ships nothing.
        if let Some(sb) = self.standby_reachable(now, net) {
            while self.pending.front().is_some_and(|p| p.apply_at <= now) {
                if let Some(p) = self.pending.pop_front() {
                    self.nodes[sb].data.insert(p.id, p.body);
                }
            }
            if self.standby_stale || !self.standby_missed.is_empty() {
                self.resync_standby();
            }
        }
        ended
    }

    fn resync_standby(&mut self) {
        if let Some(sb) = self.standby_index() {
            self.nodes[sb].data = self.nodes[self.writer].data.clone();
        }
        self.standby_missed.clear();
        self.standby_stale = false;
        self.pending.clear();
    }

    /// Promotes the standby (or restarts a single node). Returns `(old writer, new writer,
    /// lost acknowledged write ids)`; writes fail for the failover duration.
    pub fn failover(&mut self, now: Instant) -> (String, String, Vec<String>) {
        let old = self.writer().id.clone();
        self.outage = Some((Outage::FailingOver, now + self.failover_duration));
        self.failovers += 1;
        let Some(sb) = self.standby_index() else {
            return (old.clone(), old, Vec::new());
        };
        let mut lost: Vec<String> = Vec::new();
        match self.topology {
            Topology::AsyncReplica => {
                for p in &self.pending {
                    if self.nodes[sb].data.get(&p.id) != Some(&p.body) {
                        lost.push(p.id.clone());
                    }
                }
            }
            _ => lost.extend(self.standby_missed.iter().cloned()),
        }
        lost.sort();
        lost.dedup();
        self.writer = sb;
        // The old writer is rebuilt from the new one: what it alone had is gone.
        self.resync_standby();
        (old, self.writer().id.clone(), lost)
    }

    /// Reboots a node. Rebooting the writer makes requests fail for the reboot duration
    /// (or fails over when `force_failover` and there is a standby); a standby reboot
    /// leaves it behind until it is back.
    pub fn reboot(
        &mut self,
        node_id: &str,
        force_failover: bool,
        now: Instant,
    ) -> Option<(String, String, Vec<String>)> {
        if self.writer().id == node_id {
            if force_failover && self.standby_index().is_some() {
                return Some(self.failover(now));
            }
            self.outage = Some((Outage::Rebooting, now + self.reboot_duration));
        } else if self.nodes.iter().any(|n| n.id == node_id) {
            self.standby_down_until = Some(now + self.reboot_duration);
            if self.topology == Topology::MultiAz {
                // Mark the standby behind so the next reachable tick resyncs it.
                self.standby_stale = true;
            }
        }
        None
    }

    /// Ends any outage now (StopExperiment reverts what it can).
    pub fn end_outage(&mut self) -> Option<Outage> {
        self.endpoint = self.writer;
        self.outage.take().map(|(o, _)| o)
    }
}

#[cfg(test)]
mod tests;
