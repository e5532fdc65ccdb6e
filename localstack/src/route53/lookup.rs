//! How Route 53 sees load balancers: by name or DNS name, their address and whether any
//! target is healthy, for one regional world or a set of them.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::world::{Health, World};

/// What Route 53 knows about one load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerView {
    /// Its name.
    pub name: String,
    /// Its DNS name (what ELBv2 reports as `DNSName`), without a trailing dot.
    pub dns_name: String,
    /// Where its listener is, once it listens.
    pub addr: Option<SocketAddr>,
    /// Whether at least one registered target is healthy (alias `EvaluateTargetHealth`).
    pub healthy: bool,
}

/// How Route 53 finds load balancers: by name or DNS name (case-insensitive, a trailing dot
/// and a `dualstack.` prefix ignored).
pub trait LoadBalancerLookup: Send + Sync {
    /// The load balancer with this name or DNS name, if any.
    fn load_balancer(&self, name_or_dns: &str) -> Option<LoadBalancerView>;
    /// Receivers that change whenever a load balancer's health or address may have changed.
    fn subscribe(&self) -> Vec<watch::Receiver<u64>>;
}

/// Strips a trailing dot and a `dualstack.` prefix and lower-cases.
pub(super) fn lb_key(name_or_dns: &str) -> String {
    let s = name_or_dns.trim().trim_end_matches('.').to_ascii_lowercase();
    match s.strip_prefix("dualstack.") {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

impl LoadBalancerLookup for World {
    fn load_balancer(&self, name_or_dns: &str) -> Option<LoadBalancerView> {
        let addr = self.lb_addr();
        let dns_name = addr
            .map(|a| a.ip())
            .unwrap_or_else(|| crate::world::lb_ip(self.region_index))
            .to_string();
        let name = &self.stack.load_balancer.name;
        let key = lb_key(name_or_dns);
        if key != name.to_ascii_lowercase() && key != dns_name {
            return None;
        }
        Some(LoadBalancerView {
            name: name.clone(),
            dns_name,
            addr,
            healthy: self.targets().iter().any(|t| t.health == Health::Healthy),
        })
    }

    fn subscribe(&self) -> Vec<watch::Receiver<u64>> {
        vec![World::subscribe(self)]
    }
}

/// Several lookups as one (e.g. one world per region): the first that knows a name answers.
#[derive(Clone, Default)]
pub struct LoadBalancerSet(pub Vec<Arc<dyn LoadBalancerLookup>>);

impl LoadBalancerLookup for LoadBalancerSet {
    fn load_balancer(&self, name_or_dns: &str) -> Option<LoadBalancerView> {
        self.0.iter().find_map(|l| l.load_balancer(name_or_dns))
    }

    fn subscribe(&self) -> Vec<watch::Receiver<u64>> {
        self.0.iter().flat_map(|l| l.subscribe()).collect()
    }
}
