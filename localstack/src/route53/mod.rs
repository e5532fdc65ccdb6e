//! Route 53 for the local stack: hosted zones and record sets, health checkers that really
//! probe, and a DNS server (UDP and TCP) answering by routing policy and health.
//!
//! Each health check has several checkers, one per region of its `Regions` (Route 53's
//! eight checker regions when it names none), probing at staggered times over the request
//! interval; each applies the failure threshold on its own, and the health check is
//! healthy while more than 18% of them report it healthy ([`verdict`]).
//!
//! Route 53 is a global service. It refers to load balancers only through the small
//! [`LoadBalancerLookup`] interface (by name or DNS name: address and whether any target is
//! healthy), so one Route 53 can serve several regional worlds; [`World`] implements it for
//! its own load balancer and [`LoadBalancerSet`] joins several. Ground truth goes to a
//! [`TruthSink`]: health-check status changes and every change of the DNS answers for a
//! name ([`Truth::HealthCheckStatus`], [`Truth::DnsAnswer`]).

pub mod checker;
pub mod config;
pub mod dns;
pub mod model;
mod routing;
pub mod verdict;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::truth::{now_unix_ms, Truth};
use crate::world::{Health, World};
use model::{Change, ChangeContext, ChangeError, HealthCheckConfig, RecordSet, RecordType, Zone};

pub use routing::{AnswerRecord, DnsLookup};
pub use verdict::Checker;

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
fn lb_key(name_or_dns: &str) -> String {
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

/// Where Route 53 records ground truth.
pub type TruthSink = Arc<dyn Fn(Truth) + Send + Sync>;

/// Settings of the service that are not zones or health checks.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The region the stack runs in. Route 53 is global: health-check observations name
    /// their checkers' regions instead.
    pub region: String,
    /// TTL in answers of alias records.
    pub alias_ttl: u32,
    /// Seed of the weighted choice (random when absent).
    pub seed: Option<u64>,
}

/// An error of a Route 53 operation, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Route53Error {
    /// No zone with this id.
    #[error("No hosted zone found with ID: {0}")]
    NoSuchHostedZone(String),
    /// No health check with this id.
    #[error("No health check exists with the specified ID {0}")]
    NoSuchHealthCheck(String),
    /// No change with this id.
    #[error("A change with the specified change ID does not exist: {0}")]
    NoSuchChange(String),
    /// A change batch is inconsistent; the messages say why.
    #[error("{}", .0.join("; "))]
    InvalidChangeBatch(Vec<String>),
    /// A parameter is wrong.
    #[error("{0}")]
    InvalidInput(String),
    /// A zone name is not a valid DNS name.
    #[error("{0}")]
    InvalidDomainName(String),
    /// A zone with this caller reference exists.
    #[error("A hosted zone has already been created with the specified caller reference {0}")]
    HostedZoneAlreadyExists(String),
    /// A health check with this caller reference but other settings exists.
    #[error("A health check with the caller reference {0} already exists with other settings")]
    HealthCheckAlreadyExists(String),
    /// The zone still has record sets of its own.
    #[error("The hosted zone {0} contains resource record sets other than the default SOA and NS records")]
    HostedZoneNotEmpty(String),
    /// A record set still uses the health check.
    #[error("The health check {0} is still referenced by a resource record set")]
    HealthCheckInUse(String),
}

impl Route53Error {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Route53Error::NoSuchHostedZone(_) => "NoSuchHostedZone",
            Route53Error::NoSuchHealthCheck(_) => "NoSuchHealthCheck",
            Route53Error::NoSuchChange(_) => "NoSuchChange",
            Route53Error::InvalidChangeBatch(_) => "InvalidChangeBatch",
            Route53Error::InvalidInput(_) => "InvalidInput",
            Route53Error::InvalidDomainName(_) => "InvalidDomainName",
            Route53Error::HostedZoneAlreadyExists(_) => "HostedZoneAlreadyExists",
            Route53Error::HealthCheckAlreadyExists(_) => "HealthCheckAlreadyExists",
            Route53Error::HostedZoneNotEmpty(_) => "HostedZoneNotEmpty",
            Route53Error::HealthCheckInUse(_) => "HealthCheckInUse",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Route53Error::NoSuchHostedZone(_) | Route53Error::NoSuchHealthCheck(_) | Route53Error::NoSuchChange(_) => {
                404
            }
            Route53Error::HostedZoneAlreadyExists(_)
            | Route53Error::HealthCheckAlreadyExists(_)
            | Route53Error::HostedZoneNotEmpty(_) => 409,
            _ => 400,
        }
    }
}

/// Why the stack's Route 53 section could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A health check of the stack file is wrong.
    #[error("route53.health_checks: {0}: {1}")]
    HealthCheck(String, String),
    /// A zone of the stack file is wrong.
    #[error("route53.zones: {0}: {1}")]
    Zone(String, String),
}

/// A change batch as GetChange reports it.
#[derive(Debug, Clone)]
pub struct ChangeInfo {
    /// Change id without the `/change/` prefix.
    pub id: String,
    /// When it was submitted, unix ms.
    pub submitted_unix_ms: i64,
    /// Its comment.
    pub comment: Option<String>,
}

/// One checker's latest report, as GetHealthCheckStatus gives it in its `StatusReport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// `Success: …` or `Failure: …`, for the checker's current verdict.
    pub status: String,
    /// When the probe finished, unix ms.
    pub checked_unix_ms: i64,
}

/// A health check and its current state.
#[derive(Debug, Clone)]
pub struct HealthCheckInfo {
    /// Id.
    pub id: String,
    /// Caller reference it was created with.
    pub caller_reference: String,
    /// Configuration.
    pub config: HealthCheckConfig,
    /// Whether Route 53 considers it healthy now: more than 18% of its checkers do.
    pub healthy: bool,
    /// Its checkers, one per region in the order of [`HealthCheckConfig::checker_regions`].
    pub checkers: Vec<Checker>,
}

impl HealthCheckInfo {
    /// The latest report of every checker that has probed, in checker order.
    pub fn observations(&self) -> impl Iterator<Item = (&Checker, &Observation)> {
        self.checkers.iter().filter_map(|c| c.last.as_ref().map(|o| (c, o)))
    }
}

struct HealthCheckRec {
    info: HealthCheckInfo,
    generation: u64,
    cancel: CancellationToken,
}

/// Keeps at most this many change ids for GetChange.
const MAX_CHANGES_KEPT: usize = 10_000;

#[derive(Default)]
struct State {
    zones: Vec<Zone>,
    health_checks: Vec<HealthCheckRec>,
    changes: HashMap<String, ChangeInfo>,
    change_order: std::collections::VecDeque<String>,
    next_generation: u64,
}

/// The Route 53 service: zones, health checks and their checkers, DNS answers.
pub struct Route53 {
    settings: Settings,
    lookup: Arc<dyn LoadBalancerLookup>,
    sink: TruthSink,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    rng: Mutex<StdRng>,
    shutdown: CancellationToken,
}

impl Route53 {
    /// An empty service; nothing runs until [`Route53::start`].
    pub fn new(
        settings: Settings,
        lookup: Arc<dyn LoadBalancerLookup>,
        sink: TruthSink,
        shutdown: CancellationToken,
    ) -> Arc<Route53> {
        let rng = match settings.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        Arc::new(Route53 {
            settings,
            lookup,
            sink,
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
            rng: Mutex::new(rng),
            shutdown,
        })
    }

    /// Builds the service from a stack file's section: health checks, zones and records.
    pub fn from_config(
        cfg: &config::Route53Config,
        region: &str,
        lookup: Arc<dyn LoadBalancerLookup>,
        sink: TruthSink,
        shutdown: CancellationToken,
    ) -> Result<Arc<Route53>, LoadError> {
        let r53 = Route53::new(
            Settings {
                region: region.to_string(),
                alias_ttl: cfg.alias_ttl,
                seed: cfg.seed,
            },
            lookup,
            sink,
            shutdown,
        );
        let lb_names: Vec<String> = cfg
            .health_checks
            .iter()
            .filter_map(|h| h.load_balancer.clone())
            .chain(cfg.zones.iter().flat_map(|z| {
                z.records
                    .iter()
                    .filter_map(|r| r.alias.as_ref().map(|a| a.load_balancer.clone()))
            }))
            .filter(|n| r53.lookup.load_balancer(n).is_some())
            .collect();
        let lb_refs: Vec<&str> = lb_names.iter().map(String::as_str).collect();
        for hc in &cfg.health_checks {
            let config = hc
                .to_config(&lb_refs)
                .map_err(|(k, m)| LoadError::HealthCheck(hc.id.clone(), format!("{k}: {m}")))?;
            r53.insert_health_check(hc.id.clone(), format!("stack:{}", hc.id), config);
        }
        for z in &cfg.zones {
            let name = model::normalize_name(&z.name).map_err(|m| LoadError::Zone(z.name.clone(), m))?;
            let mut zone = Zone::new(z.zone_id(&name), name, format!("stack:{}", z.name), z.comment.clone());
            let mut changes = Vec::new();
            for r in &z.records {
                let set = r
                    .to_record_set(|lb| match r53.lookup.load_balancer(lb) {
                        Some(v) => format!("{}.", v.dns_name),
                        None => format!("{lb}."),
                    })
                    .map_err(|(k, m)| LoadError::Zone(z.name.clone(), format!("{}{k}: {m}", r.name)))?;
                changes.push(Change {
                    action: model::Action::Create,
                    set,
                });
            }
            {
                let st = r53.lock();
                let ctx = Ctx { st: &st, r53: &r53 };
                if !changes.is_empty() {
                    zone.apply(&changes, &ctx)
                        .map_err(|e| LoadError::Zone(z.name.clone(), e.to_string()))?;
                }
            }
            r53.lock().zones.push(zone);
        }
        Ok(r53)
    }

    /// Starts the health checkers and the ground-truth recorder of DNS answers.
    pub fn start(self: &Arc<Self>) {
        let checks: Vec<(String, u64, HealthCheckConfig, CancellationToken)> = self
            .lock()
            .health_checks
            .iter()
            .map(|h| (h.info.id.clone(), h.generation, h.info.config.clone(), h.cancel.clone()))
            .collect();
        for (id, generation, config, cancel) in checks {
            checker::spawn(self.clone(), id, generation, config, cancel);
        }
        tokio::spawn(self.clone().record_answers(self.shutdown.child_token()));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// A receiver that changes whenever zones, records or health change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The load balancers this service sees.
    pub fn lookup(&self) -> &Arc<dyn LoadBalancerLookup> {
        &self.lookup
    }

    /// The region named in health-check observations.
    pub fn region(&self) -> &str {
        &self.settings.region
    }

    // ----- hosted zones -----

    /// CreateHostedZone: a new zone with its NS and SOA record sets.
    pub fn create_hosted_zone(
        &self,
        name: &str,
        caller_reference: &str,
        comment: Option<String>,
    ) -> Result<(Zone, ChangeInfo), Route53Error> {
        let name = model::normalize_name(name)
            .map_err(|m| Route53Error::InvalidDomainName(format!("{name} is reserved or invalid: {m}")))?;
        if caller_reference.is_empty() || caller_reference.chars().count() > 128 {
            return Err(Route53Error::InvalidInput(
                "CallerReference must be 1 to 128 characters".into(),
            ));
        }
        let mut st = self.lock();
        if st.zones.iter().any(|z| z.caller_reference == caller_reference) {
            return Err(Route53Error::HostedZoneAlreadyExists(caller_reference.to_string()));
        }
        let zone = Zone::new(new_id('Z'), name, caller_reference.to_string(), comment);
        st.zones.push(zone.clone());
        let change = record_change(&mut st, None);
        drop(st);
        self.notify();
        Ok((zone, change))
    }

    /// GetHostedZone.
    pub fn get_hosted_zone(&self, id: &str) -> Result<Zone, Route53Error> {
        self.lock()
            .zones
            .iter()
            .find(|z| z.id == id)
            .cloned()
            .ok_or_else(|| Route53Error::NoSuchHostedZone(id.to_string()))
    }

    /// ListHostedZones: every zone in creation order.
    pub fn list_hosted_zones(&self) -> Vec<Zone> {
        self.lock().zones.clone()
    }

    /// DeleteHostedZone: only a zone without record sets of its own.
    pub fn delete_hosted_zone(&self, id: &str) -> Result<ChangeInfo, Route53Error> {
        let mut st = self.lock();
        let i = st
            .zones
            .iter()
            .position(|z| z.id == id)
            .ok_or_else(|| Route53Error::NoSuchHostedZone(id.to_string()))?;
        if !st.zones[i].is_empty() {
            return Err(Route53Error::HostedZoneNotEmpty(id.to_string()));
        }
        st.zones.remove(i);
        let change = record_change(&mut st, None);
        drop(st);
        self.notify();
        Ok(change)
    }

    /// ChangeResourceRecordSets: applies a batch atomically.
    pub fn change_resource_record_sets(
        &self,
        zone_id: &str,
        changes: &[Change],
        comment: Option<String>,
    ) -> Result<ChangeInfo, Route53Error> {
        let mut st = self.lock();
        let i = st
            .zones
            .iter()
            .position(|z| z.id == zone_id)
            .ok_or_else(|| Route53Error::NoSuchHostedZone(zone_id.to_string()))?;
        let mut zone = st.zones[i].clone();
        {
            let ctx = Ctx { st: &st, r53: self };
            zone.apply(changes, &ctx).map_err(|e| match e {
                ChangeError::Invalid(m) => Route53Error::InvalidChangeBatch(vec![m]),
                ChangeError::NoSuchHealthCheck(id) => Route53Error::NoSuchHealthCheck(id),
            })?;
        }
        st.zones[i] = zone;
        let change = record_change(&mut st, comment);
        drop(st);
        self.notify();
        Ok(change)
    }

    /// GetChange.
    pub fn get_change(&self, id: &str) -> Result<ChangeInfo, Route53Error> {
        self.lock()
            .changes
            .get(id)
            .cloned()
            .ok_or_else(|| Route53Error::NoSuchChange(id.to_string()))
    }

    // ----- health checks -----

    fn insert_health_check(self: &Arc<Self>, id: String, caller_reference: String, config: HealthCheckConfig) {
        let mut st = self.lock();
        let generation = st.next_generation;
        st.next_generation += 1;
        let checkers = config.checker_regions().iter().map(|r| Checker::new(r)).collect();
        st.health_checks.push(HealthCheckRec {
            info: HealthCheckInfo {
                id,
                caller_reference,
                config,
                healthy: true,
                checkers,
            },
            generation,
            cancel: self.shutdown.child_token(),
        });
    }

    /// CreateHealthCheck: starts probing at once. The same caller reference with the same
    /// settings returns the existing health check (`false`: not new).
    pub fn create_health_check(
        self: &Arc<Self>,
        caller_reference: &str,
        config: HealthCheckConfig,
    ) -> Result<(HealthCheckInfo, bool), Route53Error> {
        if caller_reference.is_empty() || caller_reference.chars().count() > 64 {
            return Err(Route53Error::InvalidInput(
                "CallerReference must be 1 to 64 characters".into(),
            ));
        }
        if let Some(h) = self
            .lock()
            .health_checks
            .iter()
            .find(|h| h.info.caller_reference == caller_reference)
        {
            if h.info.config == config {
                return Ok((h.info.clone(), false));
            }
            return Err(Route53Error::HealthCheckAlreadyExists(caller_reference.to_string()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.insert_health_check(id.clone(), caller_reference.to_string(), config.clone());
        let (generation, cancel, info) = {
            let st = self.lock();
            let h = st
                .health_checks
                .iter()
                .find(|h| h.info.id == id)
                .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.clone()))?;
            (h.generation, h.cancel.clone(), h.info.clone())
        };
        checker::spawn(self.clone(), id, generation, config, cancel);
        self.notify();
        Ok((info, true))
    }

    /// GetHealthCheck.
    pub fn get_health_check(&self, id: &str) -> Result<HealthCheckInfo, Route53Error> {
        self.lock()
            .health_checks
            .iter()
            .find(|h| h.info.id == id)
            .map(|h| h.info.clone())
            .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.to_string()))
    }

    /// ListHealthChecks: every health check in creation order.
    pub fn list_health_checks(&self) -> Vec<HealthCheckInfo> {
        self.lock().health_checks.iter().map(|h| h.info.clone()).collect()
    }

    /// DeleteHealthCheck: stops its checker; refused while a record set uses it.
    pub fn delete_health_check(&self, id: &str) -> Result<(), Route53Error> {
        let mut st = self.lock();
        let i = st
            .health_checks
            .iter()
            .position(|h| h.info.id == id)
            .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.to_string()))?;
        let used = st
            .zones
            .iter()
            .flat_map(|z| z.records.iter())
            .any(|r| r.health_check_id.as_deref() == Some(id));
        if used {
            return Err(Route53Error::HealthCheckInUse(id.to_string()));
        }
        let rec = st.health_checks.remove(i);
        rec.cancel.cancel();
        drop(st);
        self.notify();
        Ok(())
    }

    /// Applies one probe of checker `checker` with the failure threshold, then the 18% rule
    /// across the checkers; records a change of the health check's status in the ground
    /// truth, with the report of the checker whose verdict tipped it. Returns false when
    /// the checker should stop (health check deleted or replaced).
    pub(crate) fn record_probe(&self, id: &str, generation: u64, checker: usize, ok: bool, detail: &str) -> bool {
        let mut st = self.lock();
        let Some(h) = st
            .health_checks
            .iter_mut()
            .find(|h| h.info.id == id && h.generation == generation)
        else {
            return false;
        };
        let threshold = h.info.config.failure_threshold;
        let Some(c) = h.info.checkers.get_mut(checker) else {
            return false;
        };
        if !c.record(ok, detail, threshold, now_unix_ms()) {
            return true;
        }
        let status = c.last.as_ref().map(|o| o.status.clone()).unwrap_or_default();
        let from = h.info.healthy;
        let to = verdict::considered_healthy(h.info.checkers.iter().map(|c| c.healthy));
        if to == from {
            return true;
        }
        h.info.healthy = to;
        (self.sink)(Truth::HealthCheckStatus {
            health_check: id.to_string(),
            from: health_name(from).into(),
            to: health_name(to).into(),
            status,
        });
        drop(st);
        self.notify();
        true
    }

    // ----- DNS -----

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
    fn healthy(&self, st: &State, set: &RecordSet) -> bool {
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
    fn values(&self, set: &RecordSet) -> Vec<String> {
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

    async fn record_answers(self: Arc<Self>, cancel: CancellationToken) {
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

fn health_name(healthy: bool) -> &'static str {
    if healthy {
        "healthy"
    } else {
        "unhealthy"
    }
}

struct Ctx<'a> {
    st: &'a State,
    r53: &'a Route53,
}

impl ChangeContext for Ctx<'_> {
    fn health_check_exists(&self, id: &str) -> bool {
        self.st.health_checks.iter().any(|h| h.info.id == id)
    }
    fn alias_target_exists(&self, dns_name: &str) -> bool {
        self.r53.lookup.load_balancer(dns_name).is_some()
    }
}

fn record_change(st: &mut State, comment: Option<String>) -> ChangeInfo {
    let info = ChangeInfo {
        id: new_id('C'),
        submitted_unix_ms: now_unix_ms(),
        comment,
    };
    st.changes.insert(info.id.clone(), info.clone());
    st.change_order.push_back(info.id.clone());
    while st.change_order.len() > MAX_CHANGES_KEPT {
        if let Some(old) = st.change_order.pop_front() {
            st.changes.remove(&old);
        }
    }
    info
}

/// A Route 53 style id: the prefix letter and 20 base-36 digits.
fn new_id(prefix: char) -> String {
    let mut n = uuid::Uuid::new_v4().as_u128();
    let mut s = String::with_capacity(21);
    s.push(prefix);
    for _ in 0..20 {
        let d = (n % 36) as u8;
        n /= 36;
        s.push(char::from(if d < 10 { b'0' + d } else { b'A' + d - 10 }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct NoLbs;
    impl LoadBalancerLookup for NoLbs {
        fn load_balancer(&self, _: &str) -> Option<LoadBalancerView> {
            None
        }
        fn subscribe(&self) -> Vec<watch::Receiver<u64>> {
            Vec::new()
        }
    }

    /// A service with one health check (threshold 2, default regions), not started: probes
    /// are handed in by the test. Returns it and the truth it records.
    fn service() -> (Arc<Route53>, Arc<Mutex<Vec<Truth>>>) {
        let truth = Arc::new(Mutex::new(Vec::new()));
        let log = truth.clone();
        let sink: TruthSink = Arc::new(move |t| log.lock().unwrap().push(t));
        let settings = Settings {
            region: "us-east-1".into(),
            alias_ttl: 60,
            seed: Some(1),
        };
        let r53 = Route53::new(settings, Arc::new(NoLbs), sink, CancellationToken::new());
        let config = HealthCheckConfig {
            ip_address: Some("127.0.0.1".parse().unwrap()),
            port: Some(9),
            fqdn: None,
            load_balancer: None,
            kind: model::CheckKind::Tcp,
            resource_path: "/".into(),
            request_interval: Duration::from_secs(1),
            failure_threshold: 2,
            timeout: model::DEFAULT_CHECK_TIMEOUT,
            inverted: false,
            disabled: false,
            regions: None,
        };
        r53.insert_health_check("hc".into(), "ref".into(), config);
        (r53, truth)
    }

    /// Fails checker `k` twice (its threshold): it turns unhealthy.
    fn fail_checker(r53: &Route53, k: usize) {
        for _ in 0..2 {
            assert!(r53.record_probe("hc", 0, k, false, "Connection refused"));
        }
    }

    /// With the eight default checkers the health check stays healthy while two of them
    /// (25% > 18%) still are, turns unhealthy when the seventh fails (1 of 8 = 12.5%), and
    /// healthy again when a second checker recovers; the ground truth has exactly those two
    /// changes, each with the report of the checker that tipped it.
    #[test]
    fn status_follows_more_than_18_percent_of_checkers() {
        let (r53, truth) = service();
        assert_eq!(r53.get_health_check("hc").unwrap().checkers.len(), 8);
        for k in 0..6 {
            fail_checker(&r53, k);
        }
        let hc = r53.get_health_check("hc").unwrap();
        assert_eq!(hc.checkers.iter().filter(|c| c.healthy).count(), 2);
        assert!(hc.healthy, "2 of 8 healthy is more than 18%");
        assert!(truth.lock().unwrap().is_empty());

        fail_checker(&r53, 6);
        assert!(!r53.get_health_check("hc").unwrap().healthy, "1 of 8 is not");
        let changes = truth.lock().unwrap().clone();
        assert_eq!(
            changes,
            vec![Truth::HealthCheckStatus {
                health_check: "hc".into(),
                from: "healthy".into(),
                to: "unhealthy".into(),
                status: "Failure: Connection refused".into(),
            }]
        );

        fail_checker(&r53, 7);
        for _ in 0..2 {
            r53.record_probe("hc", 0, 0, true, "TCP connection established to 127.0.0.1:9");
        }
        assert!(!r53.get_health_check("hc").unwrap().healthy, "1 of 8 healthy");
        for _ in 0..2 {
            r53.record_probe("hc", 0, 5, true, "TCP connection established to 127.0.0.1:9");
        }
        assert!(r53.get_health_check("hc").unwrap().healthy, "2 of 8 healthy");
        let changes = truth.lock().unwrap().clone();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(
            changes[1],
            Truth::HealthCheckStatus {
                health_check: "hc".into(),
                from: "unhealthy".into(),
                to: "healthy".into(),
                status: "Success: TCP connection established to 127.0.0.1:9".into(),
            }
        );
        assert!(!r53.record_probe("hc", 1, 0, true, "stale generation"));
        assert!(!r53.record_probe("hc", 0, 8, true, "no such checker"));
    }
}
