//! The DNS answers Route 53 gives: record sets chosen by routing policy and health, alias
//! targets resolved to their load balancers, and every change of an answer recorded as
//! ground truth.

use super::*;

impl Route53 {
    /// Answers a DNS query for `qname` (any case, trailing dot optional); `qtype` is `None`
    /// for types Route 53 here does not store.
    pub fn resolve(&self, qname: &str, qtype: Option<RecordType>) -> DnsLookup {
        let qname = qname.trim_end_matches('.').to_ascii_lowercase() + ".";
        let st = self.lock();
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        routing::resolve(
            &st.zones,
            &qname,
            qtype,
            &|s| self.healthy(&st, s),
            &|s| self.values(s),
            self.settings.alias_ttl,
            &mut rng,
        )
    }

    /// Whether a record set counts as healthy: its health check (if any) and, for an alias
    /// evaluating target health, its load balancer.
    pub(super) fn healthy(&self, st: &State, set: &RecordSet) -> bool {
        let hc_ok = match &set.health_check_id {
            None => true,
            Some(id) => st
                .health_checks
                .iter()
                .find(|h| &h.info.id == id)
                .is_none_or(|h| h.info.healthy || h.info.config.disabled),
        };
        let target_ok = match &set.alias {
            Some(a) if a.evaluate_target_health => self.lookup.load_balancer(&a.dns_name).is_some_and(|v| v.healthy),
            _ => true,
        };
        hc_ok && target_ok
    }

    /// The values a record set answers with: its own, or its load balancer's address.
    pub(super) fn values(&self, set: &RecordSet) -> Vec<String> {
        match &set.alias {
            None => set.values.clone(),
            Some(a) => {
                let Some(addr) = self.lookup.load_balancer(&a.dns_name).and_then(|v| v.addr) else {
                    return Vec::new();
                };
                match (set.rtype, addr.ip()) {
                    (RecordType::A, ip @ std::net::IpAddr::V4(_))
                    | (RecordType::Aaaa, ip @ std::net::IpAddr::V6(_)) => {
                        vec![ip.to_string()]
                    }
                    _ => Vec::new(),
                }
            }
        }
    }

    /// What the DNS server can answer now for each (name, type) of the served zones
    /// (apex NS and SOA left out): the values of the chosen record set, or for weighted
    /// records every value it may answer with.
    pub fn answer_snapshot(&self) -> BTreeMap<(String, String), Vec<String>> {
        let st = self.lock();
        routing::snapshot(&st.zones, &|s| self.healthy(&st, s), &|s| self.values(s))
    }

    pub(super) async fn record_answers(self: Arc<Self>, cancel: CancellationToken) {
        let mut own = self.subscribe();
        let mut lbs = self.lookup.subscribe();
        let mut last: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        loop {
            own.borrow_and_update();
            for r in &mut lbs {
                r.borrow_and_update();
            }
            let now = self.answer_snapshot();
            let keys: HashSet<&(String, String)> = last.keys().chain(now.keys()).collect();
            let mut keys: Vec<_> = keys.into_iter().collect();
            keys.sort();
            for key in keys {
                let before = last.get(key).cloned().unwrap_or_default();
                let after = now.get(key).cloned().unwrap_or_default();
                if before != after {
                    (self.sink)(Truth::DnsAnswer {
                        name: key.0.clone(),
                        record_type: key.1.clone(),
                        answers: after,
                        previous: before,
                    });
                }
            }
            last = now;
            let lb_changed = async {
                if lbs.is_empty() {
                    return std::future::pending::<usize>().await;
                }
                let (res, i, _) = futures::future::select_all(lbs.iter_mut().map(|r| Box::pin(r.changed()))).await;
                if res.is_err() {
                    i
                } else {
                    usize::MAX
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = own.changed() => if r.is_err() { return },
                closed = lb_changed => if closed != usize::MAX { lbs.remove(closed); },
            }
        }
    }
}
