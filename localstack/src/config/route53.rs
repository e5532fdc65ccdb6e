//! The `route53:` section of a stack file: the DNS server's port, hosted zones with their
//! records (simple, failover, weighted, aliases to a load balancer) and health checks, all
//! checked with the same rules as the API before anything starts.
//!
//! ```text
//! route53:
//!   dns_port: 0            # DNS on 127.0.0.1 (UDP and TCP); 0 picks a free port
//!   alias_ttl: 5           # TTL of alias answers (Route 53 uses 60 s for ELB)
//!   seed: 1                # optional: makes the weighted choice repeatable
//!   health_checks:
//!     - { id: hc-primary, load_balancer: drill-alb, resource_path: /health,
//!         request_interval: 250ms, failure_threshold: 3, timeout: 200ms }
//!     - { id: hc-ip, ip_address: 127.0.1.10, port: 8080, type: TCP,
//!         request_interval: 1s, failure_threshold: 2,
//!         regions: [us-east-1, eu-west-1, ap-southeast-2] }   # default: all 8 checker regions
//!   zones:
//!     - name: drill.test
//!       records:
//!         - { name: app.drill.test, ttl: 5, values: [127.0.0.10], set_identifier: p,
//!             failover: PRIMARY, health_check: hc-primary }
//!         - { name: app.drill.test, ttl: 5, values: [127.0.0.20], set_identifier: s,
//!             failover: SECONDARY }
//!         - { name: www.drill.test, ttl: 5, values: [127.0.0.31], set_identifier: a,
//!             weight: 3, health_check: hc-primary }
//!         - { name: lb.drill.test,
//!             alias: { load_balancer: drill-alb, evaluate_target_health: true } }
//! ```

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Dur;
use crate::route53_model::{
    self as model, AliasTarget, Change, ChangeContext, CheckKind, HealthCheckConfig, RecordSet, Routing, Zone,
};

/// Route 53 of a stack: the DNS server, zones and health checks declared up front.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Config {
    /// Port of the DNS server (UDP and TCP) on 127.0.0.1; 0 picks a free one.
    #[serde(default)]
    pub dns_port: u16,
    /// TTL in answers of alias records (Route 53 uses the target's, 60 s for ELB).
    #[serde(default = "default_alias_ttl")]
    pub alias_ttl: u32,
    /// Seed of the random choice among weighted records (random when absent).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Health checks.
    #[serde(default)]
    pub health_checks: Vec<HealthCheckSpec>,
    /// Hosted zones.
    #[serde(default)]
    pub zones: Vec<ZoneSpec>,
}

fn default_alias_ttl() -> u32 {
    60
}

impl Default for Route53Config {
    fn default() -> Self {
        Route53Config {
            dns_port: 0,
            alias_ttl: default_alias_ttl(),
            seed: None,
            health_checks: Vec::new(),
            zones: Vec::new(),
        }
    }
}

/// How a health check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum CheckType {
    /// HTTP GET of `resource_path`; 2xx and 3xx are healthy.
    #[serde(rename = "HTTP")]
    Http,
    /// A TCP connection that opens is healthy.
    #[serde(rename = "TCP")]
    Tcp,
}

/// A health check declared in the stack file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    /// Id that records refer to (`health_check:`), e.g. `hc-primary`.
    pub id: String,
    /// Probe this load balancer (by name) on its listener; or give `ip_address`.
    #[serde(default)]
    pub load_balancer: Option<String>,
    /// Probe this address (with `port`).
    #[serde(default)]
    pub ip_address: Option<IpAddr>,
    /// Port with `ip_address` (default 80), or instead of the load balancer's listener port.
    #[serde(default)]
    pub port: Option<u16>,
    /// `HTTP` (default) or `TCP`.
    #[serde(default = "default_type", rename = "type")]
    pub check_type: CheckType,
    /// Path of HTTP checks.
    #[serde(default = "default_path")]
    pub resource_path: String,
    /// Time between probes; sub-second values are allowed for fast drills.
    pub request_interval: Dur,
    /// Consecutive failures to become unhealthy (and successes to become healthy), 1..=10.
    pub failure_threshold: u32,
    /// A probe without an answer within this time fails (default 2 s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Report the opposite of what the probes find.
    #[serde(default)]
    pub inverted: bool,
    /// Do not probe; always healthy.
    #[serde(default)]
    pub disabled: bool,
    /// Regions of its health checkers (at least 3 of Route 53's checker regions); all
    /// eight when absent, as in Route 53.
    #[serde(default)]
    pub regions: Option<Vec<String>>,
}

fn default_type() -> CheckType {
    CheckType::Http
}
fn default_path() -> String {
    "/".to_string()
}

/// A hosted zone declared in the stack file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// Zone name, e.g. `drill.example.`.
    pub name: String,
    /// Zone id (default: derived from the name, stable across runs).
    #[serde(default)]
    pub id: Option<String>,
    /// Comment of the zone's configuration.
    #[serde(default)]
    pub comment: Option<String>,
    /// Record sets.
    #[serde(default)]
    pub records: Vec<RecordSpec>,
}

/// A record set declared in the stack file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Absolute name (the trailing dot is optional).
    pub name: String,
    /// Record type (default `A`).
    #[serde(default = "default_rtype", rename = "type")]
    pub rtype: String,
    /// TTL in seconds (not for aliases).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Values in Route 53's text form (not for aliases).
    #[serde(default)]
    pub values: Vec<String>,
    /// Needed with `weight` or `failover`.
    #[serde(default)]
    pub set_identifier: Option<String>,
    /// Weighted routing: 0..=255.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Failover routing: `PRIMARY` or `SECONDARY`.
    #[serde(default)]
    pub failover: Option<String>,
    /// Id of a health check of this stack file.
    #[serde(default)]
    pub health_check: Option<String>,
    /// Alias to a load balancer instead of values.
    #[serde(default)]
    pub alias: Option<AliasSpec>,
}

fn default_rtype() -> String {
    "A".to_string()
}

/// An alias to a load balancer of the stack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasSpec {
    /// Load balancer name.
    pub load_balancer: String,
    /// Healthy only while the load balancer has a healthy target.
    #[serde(default)]
    pub evaluate_target_health: bool,
}

/// A wrong key of the `route53:` section: (key path, message).
pub type Invalid = (String, String);

impl Route53Config {
    /// Checks the section; `load_balancers` are the names aliases and health checks may use.
    pub fn validate(&self, load_balancers: &[&str]) -> Result<(), Invalid> {
        let mut ids = HashSet::new();
        for (i, hc) in self.health_checks.iter().enumerate() {
            let key = format!("route53.health_checks[{i}]");
            if !valid_id(&hc.id) {
                return Err((
                    format!("{key}.id"),
                    format!("{:?} must be 1 to 64 letters, digits, '-' or '_'", hc.id),
                ));
            }
            if !ids.insert(hc.id.as_str()) {
                return Err((format!("{key}.id"), format!("duplicate health check id {:?}", hc.id)));
            }
            hc.to_config(load_balancers)
                .map_err(|(k, m)| (format!("{key}.{k}"), m))?;
        }
        let mut zone_ids = HashSet::new();
        for (i, z) in self.zones.iter().enumerate() {
            let key = format!("route53.zones[{i}]");
            let name = model::normalize_name(&z.name).map_err(|m| (format!("{key}.name"), m))?;
            let id = z.zone_id(&name);
            if !valid_id(&id) {
                return Err((
                    format!("{key}.id"),
                    format!("{id:?} must be 1 to 64 letters, digits, '-' or '_'"),
                ));
            }
            if !zone_ids.insert(id.clone()) {
                return Err((format!("{key}.id"), format!("duplicate zone id {id:?}")));
            }
            let mut zone = Zone::new(id, name.clone(), String::new(), None);
            let ctx = SpecContext {
                health_checks: &ids,
                load_balancers,
            };
            for (j, r) in z.records.iter().enumerate() {
                let rkey = format!("{key}.records[{j}]");
                let set = r
                    .to_record_set(|lb| format!("{lb}."))
                    .map_err(|(k, m)| (format!("{rkey}{k}"), m))?;
                zone.apply(
                    &[Change {
                        action: model::Action::Create,
                        set,
                    }],
                    &ctx,
                )
                .map_err(|e| (rkey, e.to_string()))?;
            }
        }
        Ok(())
    }
}

struct SpecContext<'a> {
    health_checks: &'a HashSet<&'a str>,
    load_balancers: &'a [&'a str],
}

impl ChangeContext for SpecContext<'_> {
    fn health_check_exists(&self, id: &str) -> bool {
        self.health_checks.contains(id)
    }
    fn alias_target_exists(&self, dns_name: &str) -> bool {
        let name = dns_name.trim_end_matches('.');
        self.load_balancers.iter().any(|lb| lb.eq_ignore_ascii_case(name))
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ZoneSpec {
    /// The zone's id: the one given, or one derived from the normalized name.
    pub fn zone_id(&self, normalized_name: &str) -> String {
        self.id.clone().unwrap_or_else(|| derived_zone_id(normalized_name))
    }
}

/// A stable zone id for a name: `Z` and 16 base-36 digits of a 64-bit FNV-1a hash.
pub fn derived_zone_id(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut digits = Vec::new();
    for _ in 0..13 {
        let d = (h % 36) as u8;
        h /= 36;
        digits.push(if d < 10 { b'0' + d } else { b'A' + d - 10 });
    }
    format!("Z{}", String::from_utf8_lossy(&digits))
}

impl HealthCheckSpec {
    /// The health check's configuration; errors name the key below the health check.
    pub fn to_config(&self, load_balancers: &[&str]) -> Result<HealthCheckConfig, Invalid> {
        let err = |k: &str, m: String| Err((k.to_string(), m));
        match (&self.load_balancer, &self.ip_address) {
            (Some(_), Some(_)) => return err("ip_address", "give either load_balancer or ip_address, not both".into()),
            (None, None) => return err("load_balancer", "give a load_balancer or an ip_address to probe".into()),
            (Some(lb), None) if !load_balancers.iter().any(|n| n == lb) => {
                return err("load_balancer", format!("unknown load balancer {lb:?}"))
            }
            _ => {}
        }
        if let Some(ip) = self.ip_address.filter(|ip| !model::is_local(*ip)) {
            return err(
                "ip_address",
                format!("{ip} is not a loopback address: the local stack probes only this machine"),
            );
        }
        if self.port == Some(0) {
            return err("port", "must be 1..=65535".into());
        }
        if !self.resource_path.starts_with('/') || self.resource_path.len() > 255 {
            return err(
                "resource_path",
                format!(
                    "{:?} must start with '/' and be at most 255 characters",
                    self.resource_path
                ),
            );
        }
        if self.request_interval.0.is_zero() {
            return err("request_interval", "must be greater than 0".into());
        }
        if !(1..=10).contains(&self.failure_threshold) {
            return err(
                "failure_threshold",
                format!("{} is outside 1..=10", self.failure_threshold),
            );
        }
        if let Some(Err(m)) = self.regions.as_deref().map(model::check_regions) {
            return err("regions", m);
        }
        let timeout = self.timeout.map(|d| d.0).unwrap_or(model::DEFAULT_CHECK_TIMEOUT);
        if timeout.is_zero() || timeout > Duration::from_secs(60) {
            return err("timeout", "must be greater than 0 and at most 60s".into());
        }
        Ok(HealthCheckConfig {
            ip_address: self.ip_address,
            port: match (self.ip_address, self.port) {
                (Some(_), None) => Some(80),
                (_, p) => p,
            },
            fqdn: None,
            load_balancer: self.load_balancer.clone(),
            kind: match self.check_type {
                CheckType::Http => CheckKind::Http,
                CheckType::Tcp => CheckKind::Tcp,
            },
            resource_path: self.resource_path.clone(),
            request_interval: self.request_interval.0,
            failure_threshold: self.failure_threshold,
            timeout,
            inverted: self.inverted,
            disabled: self.disabled,
            regions: self.regions.clone(),
        })
    }
}

impl RecordSpec {
    /// The record set; `lb_dns` gives a load balancer's DNS name from its name. Errors name
    /// the key below the record (with a leading dot).
    pub fn to_record_set(&self, lb_dns: impl Fn(&str) -> String) -> Result<RecordSet, Invalid> {
        let name = model::normalize_name(&self.name).map_err(|m| (".name".to_string(), m))?;
        let rtype = model::RecordType::parse(&self.rtype).ok_or_else(|| {
            (
                ".type".to_string(),
                format!(
                    "{:?} is not a supported record type (A, AAAA, CNAME, MX, NS, SOA, TXT)",
                    self.rtype
                ),
            )
        })?;
        let routing = match (self.weight, &self.failover) {
            (Some(_), Some(_)) => {
                return Err((
                    ".failover".to_string(),
                    "a record set has either a weight or a failover role".into(),
                ))
            }
            (Some(w), None) => Routing::Weighted(w),
            (None, Some(f)) => Routing::Failover(model::Failover::parse(f).ok_or_else(|| {
                (
                    ".failover".to_string(),
                    format!("{f:?} is neither PRIMARY nor SECONDARY"),
                )
            })?),
            (None, None) => Routing::Simple,
        };
        let alias = self.alias.as_ref().map(|a| AliasTarget {
            hosted_zone_id: model::ELB_ZONE_ID.to_string(),
            dns_name: lb_dns(&a.load_balancer),
            evaluate_target_health: a.evaluate_target_health,
        });
        Ok(RecordSet {
            name,
            rtype,
            set_identifier: self.set_identifier.clone(),
            routing,
            ttl: self.ttl,
            values: self.values.clone(),
            alias,
            health_check_id: self.health_check.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Route53Config {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    const GOOD: &str = r#"
dns_port: 0
alias_ttl: 5
health_checks:
  - { id: hc-primary, load_balancer: drill-alb, resource_path: /health, request_interval: 200ms, failure_threshold: 2 }
  - { id: hc-ip, ip_address: 127.0.1.10, port: 8080, request_interval: 1s, failure_threshold: 3, regions: [us-east-1, eu-west-1, sa-east-1] }
zones:
  - name: drill.example
    records:
      - { name: app.drill.example, ttl: 5, values: [127.0.0.10], set_identifier: p, failover: PRIMARY, health_check: hc-primary }
      - { name: app.drill.example, ttl: 5, values: [127.0.0.11], set_identifier: s, failover: SECONDARY }
      - { name: www.drill.example, ttl: 5, values: [127.0.0.12], set_identifier: a, weight: 3 }
      - { name: lb.drill.example, alias: { load_balancer: drill-alb, evaluate_target_health: true } }
"#;

    /// A section with failover, weighted and alias records and both health-check targets
    /// is valid.
    #[test]
    fn good_section_is_valid() {
        parse(GOOD).validate(&["drill-alb"]).unwrap();
    }

    /// Errors name the key: unknown health check, unknown load balancer, bad threshold,
    /// record conflicts.
    #[test]
    fn errors_name_the_key() {
        // (text of GOOD, replaced by, key of the error, text in its message)
        let cases = [
            (
                "health_check: hc-primary",
                "health_check: hc-nope",
                "route53.zones[0].records[0]",
                "hc-nope",
            ),
            (
                "alias: { load_balancer: drill-alb",
                "alias: { load_balancer: other",
                "route53.zones[0].records[3]",
                "alias target",
            ),
            (
                "failure_threshold: 2",
                "failure_threshold: 0",
                "route53.health_checks[0].failure_threshold",
                "outside",
            ),
            (
                "load_balancer: drill-alb, resource",
                "load_balancer: nope, resource",
                "route53.health_checks[0].load_balancer",
                "nope",
            ),
            (
                "failover: SECONDARY",
                "failover: PRIMARY",
                "route53.zones[0].records[1]",
                "PRIMARY",
            ),
            (
                "values: [127.0.0.12]",
                "values: [not-an-ip]",
                "route53.zones[0].records[2]",
                "IPv4",
            ),
            (
                "ip_address: 127.0.1.10",
                "ip_address: 192.0.2.10",
                "route53.health_checks[1].ip_address",
                "loopback",
            ),
            (
                "regions: [us-east-1, eu-west-1, sa-east-1]",
                "regions: [us-east-1, eu-west-1]",
                "route53.health_checks[1].regions",
                "at least 3",
            ),
            (
                "regions: [us-east-1, eu-west-1, sa-east-1]",
                "regions: [us-east-1, eu-west-1, mars-1]",
                "route53.health_checks[1].regions",
                "mars-1",
            ),
            (
                "failover: PRIMARY",
                "failover: FIRST",
                "route53.zones[0].records[0].failover",
                "FIRST",
            ),
        ];
        for (from, to, key, needle) in cases {
            let yaml = GOOD.replace(from, to);
            let (k, m) = parse(&yaml).validate(&["drill-alb"]).unwrap_err();
            assert_eq!(k, key, "{m}");
            assert!(m.contains(needle), "{k}: {m}");
        }
    }

    /// Derived zone ids are stable and look like Route 53's.
    #[test]
    fn derived_ids_are_stable() {
        let a = derived_zone_id("drill.example.");
        assert_eq!(a, derived_zone_id("drill.example."));
        assert_ne!(a, derived_zone_id("other.example."));
        assert!(a.starts_with('Z') && a.len() == 14, "{a}");
    }
}
