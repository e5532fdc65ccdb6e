//! NACL-like network cuts, as FIS's `aws:network:disrupt-connectivity` makes them: which
//! subnets are cut with which `scope`, whether traffic between two places passes, and when
//! TCP's retransmissions deliver a segment that a cut dropped.
//!
//! On AWS the action swaps the subnet's network ACL for a deny-all clone
//! (<https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#disrupt-connectivity>):
//! - `scope: all` "denies all traffic entering and leaving the subnet", but "allows
//!   intra-subnet traffic, including traffic to and from network interfaces in the subnet"
//!   (network ACLs filter traffic that crosses the subnet boundary only);
//! - `scope: availability-zone` "denies intra-VPC traffic to and from subnets in other
//!   Availability Zones" — traffic within the zone and from outside the VPC still passes.
//!
//! A network ACL drops packets; it does not hold them. A request or answer sent across a
//! cut is lost, and TCP retransmits it on its backoff schedule ([`redelivery`]): when the
//! cut ends, the segment arrives at the next retransmission, not at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// What a cut denies (the action's `scope` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything entering or leaving the subnet; traffic inside it passes.
    All,
    /// Intra-VPC traffic to and from subnets in other zones.
    AvailabilityZone,
}

impl Scope {
    /// The scope named by the action parameter (`all` when absent, as FIS defaults it);
    /// `None` for a scope the local stack does not model (`dynamodb`, `s3`, `prefix-list`
    /// …: it has no such services).
    pub fn parse(value: Option<&str>) -> Option<Scope> {
        match value.unwrap_or("all") {
            "all" => Some(Scope::All),
            "availability-zone" => Some(Scope::AvailabilityZone),
            _ => None,
        }
    }
}

/// One end of a conversation, as a network ACL sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Outside the VPC: clients on the internet, Route 53 health checkers, AWS's control
    /// plane.
    Outside,
    /// A network interface in this subnet (an app instance, a database node).
    Subnet(String),
    /// A load balancer node: in the VPC, in this zone, outside every app subnet.
    LbNode(String),
}

/// The cuts in place: how many of each `(subnet, scope)` (overlapping actions need as many
/// restores), and each subnet's zone.
#[derive(Debug, Default)]
pub struct Cuts {
    counts: HashMap<(String, Scope), u32>,
    zones: HashMap<String, String>,
}

impl Cuts {
    /// No cuts, for subnets in these zones (`subnet id → zone`).
    pub fn new(zones: HashMap<String, String>) -> Cuts {
        Cuts {
            counts: HashMap::new(),
            zones,
        }
    }

    /// Adds one cut of these subnets.
    pub fn add(&mut self, subnets: &[String], scope: Scope) {
        for s in subnets {
            *self.counts.entry((s.clone(), scope)).or_default() += 1;
        }
    }

    /// Removes one cut of these subnets with this scope.
    pub fn remove(&mut self, subnets: &[String], scope: Scope) {
        for s in subnets {
            if let Some(n) = self.counts.get_mut(&(s.clone(), scope)) {
                *n = n.saturating_sub(1);
            }
        }
        self.counts.retain(|_, n| *n > 0);
    }

    /// Whether this subnet has any cut in place.
    pub fn is_cut(&self, subnet: &str) -> bool {
        self.counts.keys().any(|(s, _)| s == subnet)
    }

    /// The zone a peer is in; `None` outside the VPC.
    fn zone_of<'a>(&'a self, peer: &'a Peer) -> Option<&'a str> {
        match peer {
            Peer::Outside => None,
            Peer::Subnet(id) => self.zones.get(id).map(String::as_str),
            Peer::LbNode(zone) => Some(zone),
        }
    }

    /// Whether a cut of `subnet` with `scope` denies its traffic with `other`.
    fn denies(&self, subnet: &str, scope: Scope, other: &Peer) -> bool {
        match scope {
            Scope::All => !matches!(other, Peer::Subnet(id) if id == subnet),
            Scope::AvailabilityZone => {
                let zone = self.zones.get(subnet).map(String::as_str);
                self.zone_of(other).is_some_and(|z| Some(z) != zone)
            }
        }
    }

    /// Whether traffic between `from` and a network interface in subnet `to` passes every
    /// cut on either side.
    pub fn passes(&self, from: &Peer, to: &str) -> bool {
        let to_peer = Peer::Subnet(to.to_string());
        self.counts.keys().all(|(subnet, scope)| {
            let on_to = subnet == to && self.denies(subnet, *scope, from);
            let on_from = matches!(from, Peer::Subnet(id) if id == subnet) && self.denies(subnet, *scope, &to_peer);
            !on_to && !on_from
        })
    }
}

/// Cuts of one region's connectivity to other regions: how many are in place per other
/// region (`*`: every other region), counted like subnet cuts.
#[derive(Debug, Default)]
pub struct RegionCuts {
    counts: HashMap<String, u32>,
}

impl RegionCuts {
    /// Adds one cut towards `other` (`*`: every other region).
    pub fn add(&mut self, other: &str) {
        *self.counts.entry(other.to_string()).or_default() += 1;
    }

    /// Removes one cut towards `other`.
    pub fn remove(&mut self, other: &str) {
        if let Some(n) = self.counts.get_mut(other) {
            *n = n.saturating_sub(1);
        }
    }

    /// Whether traffic towards `other` is cut (by a cut of it or of every region).
    pub fn cuts(&self, other: &str) -> bool {
        let cut = |key: &str| self.counts.get(key).is_some_and(|n| *n > 0);
        cut(other) || cut("*")
    }
}

/// The next connection `listener` accepts; none once `cancel` is cancelled. A failed
/// accept is logged (`{what} failed`) and the next one awaited.
pub async fn accept(listener: &TcpListener, cancel: &CancellationToken, what: &str) -> Option<TcpStream> {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return None,
            r = listener.accept() => match r {
                Ok((s, _)) => return Some(s),
                Err(e) => tracing::warn!(error = %e, "{what} failed"),
            },
        }
    }
}

/// Linux's smallest retransmission timeout (`TCP_RTO_MIN`, 200 ms): the timeout of an
/// established connection whose round trip is negligible (loopback, within a VPC).
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// The initial retransmission timeout of a connection's first segments, 1 s (RFC 6298
/// §2.1; Linux `TCP_TIMEOUT_INIT`).
pub const RTO_INITIAL: Duration = Duration::from_secs(1);
/// The largest retransmission timeout (Linux `TCP_RTO_MAX`, 120 s).
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// Retransmissions before the connection is given up (Linux `tcp_retries2` default, 15).
pub const RETRIES: u32 = 15;

/// When a segment first sent at `sent`, and dropped by a cut that lets traffic through
/// again at `open`, is delivered: at the first retransmission at or after `open`, with the
/// timeout starting at `rto` and doubling up to [`RTO_MAX`] (RFC 6298 §5.5). `None` when
/// TCP gives up first (after [`RETRIES`] retransmissions): the segment never arrives.
pub fn redelivery(sent: Instant, open: Instant, rto: Duration) -> Option<Instant> {
    let mut at = sent;
    let mut timeout = rto;
    for _ in 0..RETRIES {
        at += timeout;
        if at >= open {
            return Some(at);
        }
        timeout = (timeout * 2).min(RTO_MAX);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts() -> Cuts {
        Cuts::new(
            [
                ("subnet-app-1a", "us-east-1a"),
                ("subnet-app-1a2", "us-east-1a"),
                ("subnet-db-1a", "us-east-1a"),
                ("subnet-app-1b", "us-east-1b"),
            ]
            .into_iter()
            .map(|(s, z)| (s.to_string(), z.to_string()))
            .collect(),
        )
    }

    fn sub(id: &str) -> Peer {
        Peer::Subnet(id.to_string())
    }

    fn node(zone: &str) -> Peer {
        Peer::LbNode(zone.to_string())
    }

    fn ids(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    /// `scope: all` denies everything crossing the subnet boundary, both ways, from inside
    /// and outside the VPC, and lets traffic inside the subnet pass (FIS actions reference).
    #[test]
    fn scope_all_passes_only_inside_the_subnet() {
        let mut c = cuts();
        c.add(&ids(&["subnet-app-1a"]), Scope::All);
        let inside = sub("subnet-app-1a");
        assert!(c.passes(&inside, "subnet-app-1a"), "intra-subnet traffic passes");
        assert!(
            !c.passes(&sub("subnet-app-1a2"), "subnet-app-1a"),
            "same zone, other subnet"
        );
        assert!(!c.passes(&sub("subnet-app-1b"), "subnet-app-1a"));
        assert!(!c.passes(&node("us-east-1a"), "subnet-app-1a"));
        assert!(!c.passes(&Peer::Outside, "subnet-app-1a"));
        assert!(!c.passes(&inside, "subnet-db-1a"), "leaving the subnet is denied too");
        assert!(
            c.passes(&sub("subnet-app-1b"), "subnet-db-1a"),
            "other subnets unaffected"
        );
        assert!(c.is_cut("subnet-app-1a") && !c.is_cut("subnet-app-1b"));
    }

    /// `scope: availability-zone` denies intra-VPC traffic with other zones only: the same
    /// zone's subnets and load balancer node pass, and so does traffic from outside the VPC.
    #[test]
    fn scope_availability_zone_denies_other_zones_only() {
        let mut c = cuts();
        c.add(&ids(&["subnet-app-1a"]), Scope::AvailabilityZone);
        assert!(c.passes(&sub("subnet-db-1a"), "subnet-app-1a"));
        assert!(c.passes(&sub("subnet-app-1a"), "subnet-db-1a"));
        assert!(c.passes(&node("us-east-1a"), "subnet-app-1a"));
        assert!(c.passes(&Peer::Outside, "subnet-app-1a"));
        assert!(!c.passes(&sub("subnet-app-1b"), "subnet-app-1a"));
        assert!(!c.passes(&sub("subnet-app-1a"), "subnet-app-1b"));
        assert!(!c.passes(&node("us-east-1b"), "subnet-app-1a"));
    }

    /// Cuts are counted: two overlapping cuts need two restores, and a restore of one scope
    /// leaves the other in place.
    #[test]
    fn cuts_are_counted_per_scope() {
        let mut c = cuts();
        let s = ids(&["subnet-app-1a"]);
        c.add(&s, Scope::All);
        c.add(&s, Scope::All);
        c.add(&s, Scope::AvailabilityZone);
        c.remove(&s, Scope::All);
        assert!(!c.passes(&Peer::Outside, "subnet-app-1a"), "one `all` cut left");
        c.remove(&s, Scope::All);
        assert!(c.passes(&Peer::Outside, "subnet-app-1a"), "only the zone cut is left");
        assert!(!c.passes(&sub("subnet-app-1b"), "subnet-app-1a"));
        c.remove(&s, Scope::AvailabilityZone);
        assert!(!c.is_cut("subnet-app-1a"));
        assert!(c.passes(&sub("subnet-app-1b"), "subnet-app-1a"));
    }

    /// The scopes FIS documents that the local stack has nothing to cut for are refused;
    /// an absent scope is `all`, FIS's default.
    #[test]
    fn scope_names() {
        assert_eq!(Scope::parse(None), Some(Scope::All));
        assert_eq!(Scope::parse(Some("availability-zone")), Some(Scope::AvailabilityZone));
        assert_eq!(Scope::parse(Some("s3")), None);
    }

    /// Retransmissions happen at sent + rto·(2^k − 1): with a 200 ms timeout at 0.2, 0.6,
    /// 1.4, 3.0 s …; a cut that opens at 0.5 s delivers at 0.6 s, one open at 0.6 s at
    /// 0.6 s, and the timeout stops doubling at 120 s.
    #[test]
    fn redelivery_follows_exponential_backoff() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        assert_eq!(redelivery(t0, ms(100), RTO_MIN), Some(ms(200)));
        assert_eq!(redelivery(t0, ms(500), RTO_MIN), Some(ms(600)));
        assert_eq!(redelivery(t0, ms(600), RTO_MIN), Some(ms(600)));
        assert_eq!(redelivery(t0, ms(1500), RTO_MIN), Some(ms(3000)));
        assert_eq!(redelivery(t0, ms(2000), RTO_INITIAL), Some(ms(3000)));
        // 0.2 · (2^10 − 1) = 204.6 s: the 10th timeout (102.4 s) is the last below 120 s;
        // the next arrive 120 s apart.
        assert_eq!(redelivery(t0, ms(204_601), RTO_MIN), Some(ms(324_600)));
    }

    /// The 15th and last retransmission goes at 0.2 · (2^10 − 1) + 5 · 120 = 804.6 s (TCP
    /// gives up one timeout later, at the 924.6 s the Linux documentation gives for
    /// `tcp_retries2 = 15`); a cut that opens after it delivers nothing.
    #[test]
    fn redelivery_gives_up_after_the_last_retry() {
        let t0 = Instant::now();
        let last = redelivery(t0, t0 + Duration::from_secs(800), RTO_MIN).expect("still retrying at 800 s");
        assert_eq!(last - t0, Duration::from_millis(804_600));
        assert_eq!(redelivery(t0, t0 + Duration::from_secs(805), RTO_MIN), None);
    }
}
