//! Network cuts as the world applies them: subnets black-holed (per scope), regions cut
//! from each other, and delivery of a packet that waits out a cut as TCP would.

use super::*;

impl World {
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
        st.fleet
            .subnet_of_ip(ip)
            .map_or(Peer::Outside, |subnet| Peer::Subnet(subnet.to_string()))
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
    pub(super) async fn carry(&self, open: impl Fn(&State) -> bool, rto: Duration) {
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
        self.set_cross_region(other, true);
    }

    /// Undoes one [`World::cut_cross_region`].
    pub fn restore_cross_region(&self, other: Option<&str>) {
        self.set_cross_region(other, false);
    }

    /// Adds (`cut`) or removes one cut towards `other` and records it.
    fn set_cross_region(&self, other: Option<&str>, cut: bool) {
        let key = other.unwrap_or("*").to_string();
        let mut st = self.lock();
        if cut {
            st.region_cuts.add(&key);
        } else {
            st.region_cuts.remove(&key);
        }
        self.truth.record(Truth::CrossRegion { other: key, cut });
        self.after_change(st);
    }

    /// Whether traffic between this region and `other` is cut on this side.
    pub fn cross_region_cut(&self, other: &str) -> bool {
        self.lock().region_cuts.cuts(other)
    }
}
