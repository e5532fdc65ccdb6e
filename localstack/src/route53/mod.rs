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
//! healthy), so one Route 53 can serve several regional worlds; [`crate::world::World`] implements it for
//! its own load balancer and [`LoadBalancerSet`] joins several. Ground truth goes to a
//! [`TruthSink`]: health-check status changes and every change of the DNS answers for a
//! name ([`Truth::HealthCheckStatus`], [`Truth::DnsAnswer`]).

pub mod checker;
pub mod dns;
pub use crate::route53_model as model;
mod answers;
mod health_checks;
mod lookup;
mod routing;
pub mod verdict;

pub use lookup::{LoadBalancerLookup, LoadBalancerSet, LoadBalancerView};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::truth::{now_unix_ms, Truth};
use model::{Change, ChangeContext, ChangeError, HealthCheckConfig, RecordSet, RecordType, Zone};

pub use routing::{AnswerRecord, DnsLookup};
pub use verdict::Checker;

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
        cfg: &crate::config::Route53Config,
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

    // ----- DNS -----
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
mod tests;
