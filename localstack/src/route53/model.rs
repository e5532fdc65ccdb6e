//! The Route 53 data model: hosted zones, resource record sets, change batches checked with
//! AWS's validation rules, and health-check configurations. Pure data: no I/O, no clock.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The hosted-zone id of ELB load balancers in alias targets (ALBs in us-east-1).
pub const ELB_ZONE_ID: &str = "Z35SXDOTRQ7X7K";

/// Name servers every hosted zone is delegated to (the NS record at the apex).
pub const NAME_SERVERS: [&str; 4] = [
    "ns-1.localstack.drdrill.test",
    "ns-2.localstack.drdrill.test",
    "ns-3.localstack.drdrill.test",
    "ns-4.localstack.drdrill.test",
];

/// TTL of the NS record set Route 53 creates at the apex.
const NS_TTL: u32 = 172_800;
/// TTL of the SOA record set Route 53 creates at the apex.
const SOA_TTL: u32 = 900;
/// Largest TTL Route 53 accepts.
const MAX_TTL: u32 = 2_147_483_647;
/// Largest number of changes in one batch.
pub const MAX_CHANGES: usize = 1000;

/// Record types the local Route 53 stores and serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchange (`preference host`).
    Mx,
    /// Name server.
    Ns,
    /// Start of authority.
    Soa,
    /// Text (`"quoted" "strings"`).
    Txt,
}

impl RecordType {
    /// The type's name as Route 53 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Ns => "NS",
            RecordType::Soa => "SOA",
            RecordType::Txt => "TXT",
        }
    }

    /// Parses a type name (exact, upper case as in the API).
    pub fn parse(s: &str) -> Option<RecordType> {
        Some(match s {
            "A" => RecordType::A,
            "AAAA" => RecordType::Aaaa,
            "CNAME" => RecordType::Cname,
            "MX" => RecordType::Mx,
            "NS" => RecordType::Ns,
            "SOA" => RecordType::Soa,
            "TXT" => RecordType::Txt,
            _ => return None,
        })
    }
}

/// The failover role of a record set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failover {
    /// Answered while healthy.
    Primary,
    /// Answered while the primary is unhealthy.
    Secondary,
}

impl Failover {
    /// `PRIMARY` or `SECONDARY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Failover::Primary => "PRIMARY",
            Failover::Secondary => "SECONDARY",
        }
    }

    /// Parses `PRIMARY` or `SECONDARY`.
    pub fn parse(s: &str) -> Option<Failover> {
        match s {
            "PRIMARY" => Some(Failover::Primary),
            "SECONDARY" => Some(Failover::Secondary),
            _ => None,
        }
    }
}

/// How a record set takes part in answers for its name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// The only record set for its name and type.
    Simple,
    /// One of several, chosen in proportion to the weight (0..=255).
    Weighted(u32),
    /// Primary or secondary of a failover pair.
    Failover(Failover),
}

impl Routing {
    fn kind(self) -> &'static str {
        match self {
            Routing::Simple => "simple",
            Routing::Weighted(_) => "weighted",
            Routing::Failover(_) => "failover",
        }
    }
}

/// An alias to a load balancer (by its DNS name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTarget {
    /// The target's hosted zone id (ELB's canonical zone id).
    pub hosted_zone_id: String,
    /// The target's DNS name, normalized (lower case, trailing dot).
    pub dns_name: String,
    /// Whether the alias is healthy only while the target has a healthy target.
    pub evaluate_target_health: bool,
}

/// One resource record set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// Owner name, normalized (lower case, trailing dot).
    pub name: String,
    /// Record type.
    pub rtype: RecordType,
    /// Identifies the set among sets of the same name and type (weighted, failover).
    pub set_identifier: Option<String>,
    /// Routing policy.
    pub routing: Routing,
    /// TTL in seconds (none for aliases).
    pub ttl: Option<u32>,
    /// Record values in Route 53's text form (none for aliases).
    pub values: Vec<String>,
    /// Alias target instead of values.
    pub alias: Option<AliasTarget>,
    /// Health check deciding whether the set is answered.
    pub health_check_id: Option<String>,
}

impl RecordSet {
    fn same_key(&self, other: &RecordSet) -> bool {
        self.name == other.name && self.rtype == other.rtype && self.set_identifier == other.set_identifier
    }

    fn describe(&self) -> String {
        match &self.set_identifier {
            Some(id) => format!(
                "[name='{}', type='{}', set-identifier='{}']",
                self.name,
                self.rtype.as_str(),
                id
            ),
            None => format!("[name='{}', type='{}']", self.name, self.rtype.as_str()),
        }
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Adds a record set that must not exist yet.
    Create,
    /// Removes a record set that must match exactly.
    Delete,
    /// Adds or replaces a record set.
    Upsert,
}

impl Action {
    /// `CREATE`, `DELETE` or `UPSERT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Delete => "DELETE",
            Action::Upsert => "UPSERT",
        }
    }

    /// Parses an action name.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "CREATE" => Some(Action::Create),
            "DELETE" => Some(Action::Delete),
            "UPSERT" => Some(Action::Upsert),
            _ => None,
        }
    }
}

/// One change of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What to do.
    pub action: Action,
    /// The record set it is done with.
    pub set: RecordSet,
}

/// Why a change batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The batch is inconsistent (AWS's `InvalidChangeBatch`).
    #[error("{0}")]
    Invalid(String),
    /// A record set names a health check that does not exist.
    #[error("no health check exists with the specified ID {0}")]
    NoSuchHealthCheck(String),
}

/// What the zone needs to know from outside to check a change.
pub trait ChangeContext {
    /// Whether a health check with this id exists.
    fn health_check_exists(&self, id: &str) -> bool;
    /// Whether an alias may point at this DNS name (a known load balancer).
    fn alias_target_exists(&self, dns_name: &str) -> bool;
}

/// A hosted zone with its record sets.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Zone id without the `/hostedzone/` prefix.
    pub id: String,
    /// Zone name, normalized (lower case, trailing dot).
    pub name: String,
    /// The caller reference it was created with.
    pub caller_reference: String,
    /// The comment of its configuration.
    pub comment: Option<String>,
    /// Record sets, in no particular order (see [`Zone::sorted`]).
    pub records: Vec<RecordSet>,
}

impl Zone {
    /// A new zone with Route 53's apex NS and SOA record sets.
    pub fn new(id: String, name: String, caller_reference: String, comment: Option<String>) -> Zone {
        let ns = RecordSet {
            name: name.clone(),
            rtype: RecordType::Ns,
            set_identifier: None,
            routing: Routing::Simple,
            ttl: Some(NS_TTL),
            values: NAME_SERVERS.iter().map(|n| format!("{n}.")).collect(),
            alias: None,
            health_check_id: None,
        };
        let soa = RecordSet {
            rtype: RecordType::Soa,
            ttl: Some(SOA_TTL),
            values: vec![format!(
                "{}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
                NAME_SERVERS[0]
            )],
            ..ns.clone()
        };
        Zone {
            id,
            name,
            caller_reference,
            comment,
            records: vec![ns, soa],
        }
    }

    /// Record sets in Route 53's listing order: by name with labels reversed, then type,
    /// then set identifier.
    pub fn sorted(&self) -> Vec<&RecordSet> {
        let mut v: Vec<&RecordSet> = self.records.iter().collect();
        v.sort_by(|a, b| {
            sort_key(&a.name)
                .cmp(&sort_key(&b.name))
                .then(a.rtype.as_str().cmp(b.rtype.as_str()))
                .then(a.set_identifier.cmp(&b.set_identifier))
        });
        v
    }

    /// Whether the zone holds only its apex NS and SOA record sets.
    pub fn is_empty(&self) -> bool {
        self.records
            .iter()
            .all(|r| r.name == self.name && matches!(r.rtype, RecordType::Ns | RecordType::Soa))
    }

    /// Applies a batch atomically: every change in order, or none.
    pub fn apply(&mut self, changes: &[Change], ctx: &dyn ChangeContext) -> Result<(), ChangeError> {
        if changes.is_empty() {
            return Err(ChangeError::Invalid(
                "The change batch must contain at least one change".into(),
            ));
        }
        if changes.len() > MAX_CHANGES {
            return Err(ChangeError::Invalid(format!(
                "Number of changes {} exceeds the limit of {MAX_CHANGES}",
                changes.len()
            )));
        }
        let mut records = self.records.clone();
        for c in changes {
            self.apply_one(&mut records, c, ctx)?;
        }
        self.records = records;
        Ok(())
    }

    fn apply_one(&self, records: &mut Vec<RecordSet>, c: &Change, ctx: &dyn ChangeContext) -> Result<(), ChangeError> {
        let set = &c.set;
        check_shape(set, c.action, &self.name).map_err(ChangeError::Invalid)?;
        if c.action != Action::Delete {
            if let Some(hc) = &set.health_check_id {
                if !ctx.health_check_exists(hc) {
                    return Err(ChangeError::NoSuchHealthCheck(hc.clone()));
                }
            }
            if let Some(a) = &set.alias {
                if !ctx.alias_target_exists(&a.dns_name) {
                    return Err(ChangeError::Invalid(format!(
                        "Tried to create an alias that targets {}, type {} in zone {}, but the alias target name does not lie within the target zone",
                        a.dns_name,
                        set.rtype.as_str(),
                        a.hosted_zone_id
                    )));
                }
            }
        }
        let existing = records.iter().position(|r| r.same_key(set));
        match (c.action, existing) {
            (Action::Create, Some(_)) => Err(ChangeError::Invalid(format!(
                "Tried to create resource record set {} but it already exists",
                set.describe()
            ))),
            (Action::Delete, None) => Err(ChangeError::Invalid(format!(
                "Tried to delete resource record set {} but it was not found",
                set.describe()
            ))),
            (Action::Delete, Some(i)) => {
                if records[i] != *set {
                    return Err(ChangeError::Invalid(format!(
                        "Tried to delete resource record set {} but the values provided do not match the current values",
                        set.describe()
                    )));
                }
                if set.name == self.name && matches!(set.rtype, RecordType::Ns | RecordType::Soa) {
                    return Err(ChangeError::Invalid(format!(
                        "A HostedZone must contain at least one {} record for the zone itself.",
                        set.rtype.as_str()
                    )));
                }
                records.remove(i);
                Ok(())
            }
            (Action::Create | Action::Upsert, existing) => {
                self.check_conflicts(records, set)?;
                match existing {
                    Some(i) => records[i] = set.clone(),
                    None => records.push(set.clone()),
                }
                Ok(())
            }
        }
    }

    fn check_conflicts(&self, records: &[RecordSet], set: &RecordSet) -> Result<(), ChangeError> {
        let zone = &self.name;
        for other in records.iter().filter(|r| r.name == set.name && !r.same_key(set)) {
            if set.rtype == RecordType::Cname && other.rtype != RecordType::Cname {
                return Err(ChangeError::Invalid(format!(
                    "RRSet of type CNAME with DNS name {} is not permitted as it conflicts with other records with the same DNS name in zone {zone}",
                    set.name
                )));
            }
            if set.rtype != RecordType::Cname && other.rtype == RecordType::Cname {
                return Err(ChangeError::Invalid(format!(
                    "RRSet of type {} with DNS name {} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone {zone}",
                    set.rtype.as_str(),
                    set.name
                )));
            }
            if other.rtype != set.rtype {
                continue;
            }
            if other.routing.kind() != set.routing.kind() {
                return Err(ChangeError::Invalid(format!(
                    "RRSet {} cannot be created because a {} record set with the same name and type exists in zone {zone}",
                    set.describe(),
                    other.routing.kind()
                )));
            }
            if let (Routing::Failover(a), Routing::Failover(b)) = (set.routing, other.routing) {
                if a == b {
                    return Err(ChangeError::Invalid(format!(
                        "RRSet {} cannot be created because a {} failover record set with the same name and type already exists (set identifier '{}')",
                        set.describe(),
                        a.as_str(),
                        other.set_identifier.as_deref().unwrap_or_default()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Checks one record set on its own: name in the zone, routing fields, TTL and values.
fn check_shape(set: &RecordSet, action: Action, zone: &str) -> Result<(), String> {
    let what = || {
        format!(
            "Change with [Action={}, Name={}, Type={}, SetIdentifier={}]",
            action.as_str(),
            set.name,
            set.rtype.as_str(),
            set.set_identifier.as_deref().unwrap_or("null")
        )
    };
    if !in_zone(&set.name, zone) {
        return Err(format!(
            "RRSet with DNS name {} is not permitted in zone {zone}",
            set.name
        ));
    }
    match (&set.set_identifier, set.routing) {
        (Some(_), Routing::Simple) => {
            return Err(format!(
                "Invalid request: Expected exactly one of [Weight, Failover], but found none in {}",
                what()
            ))
        }
        (None, Routing::Weighted(_) | Routing::Failover(_)) => {
            return Err(format!("Invalid request: Missing field 'SetIdentifier' in {}", what()))
        }
        (Some(id), _) if id.is_empty() || id.chars().count() > 128 => {
            return Err(format!("SetIdentifier must be 1 to 128 characters in {}", what()))
        }
        _ => {}
    }
    if let Routing::Weighted(w) = set.routing {
        if w > 255 {
            return Err(format!("Weight {w} is outside 0..=255 in {}", what()));
        }
    }
    if set.rtype == RecordType::Cname && set.name == zone {
        return Err(format!(
            "RRSet of type CNAME with DNS name {} is not permitted at apex in zone {zone}",
            set.name
        ));
    }
    if let Some(alias) = &set.alias {
        if set.ttl.is_some() || !set.values.is_empty() {
            return Err(format!(
                "Invalid request: an alias record set cannot have a TTL or ResourceRecords in {}",
                what()
            ));
        }
        if !matches!(set.rtype, RecordType::A | RecordType::Aaaa) {
            return Err(format!(
                "Alias target {} is a load balancer: the record type must be A or AAAA in {}",
                alias.dns_name,
                what()
            ));
        }
        return Ok(());
    }
    let Some(ttl) = set.ttl else {
        return Err(format!("Invalid request: Missing field 'TTL' in {}", what()));
    };
    if ttl > MAX_TTL {
        return Err(format!("TTL {ttl} is larger than {MAX_TTL} in {}", what()));
    }
    if set.values.is_empty() {
        return Err(format!(
            "Invalid request: Missing field 'ResourceRecords' in {}",
            what()
        ));
    }
    if matches!(set.rtype, RecordType::Cname | RecordType::Soa) && set.values.len() > 1 {
        return Err(format!(
            "RRSet of type {} with DNS name {} has more than one resource record",
            set.rtype.as_str(),
            set.name
        ));
    }
    for (i, v) in set.values.iter().enumerate() {
        if set.values[..i].contains(v) {
            return Err(format!("Duplicate Resource Record: '{v}'"));
        }
        check_value(set.rtype, v)
            .map_err(|why| format!("Invalid Resource Record: FATAL problem: {why} encountered with '{v}'"))?;
    }
    Ok(())
}

/// Checks one record value in Route 53's text form for its type.
pub fn check_value(rtype: RecordType, v: &str) -> Result<(), String> {
    match rtype {
        RecordType::A => v
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| "ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)".into()),
        RecordType::Aaaa => v
            .parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address)".into()),
        RecordType::Cname | RecordType::Ns => normalize_name(v).map(|_| ()),
        RecordType::Mx => parse_mx(v).map(|_| ()),
        RecordType::Soa => parse_soa(v).map(|_| ()),
        RecordType::Txt => parse_txt(v).map(|_| ()),
    }
}

/// An MX value: (preference, exchange name).
pub fn parse_mx(v: &str) -> Result<(u16, String), String> {
    let mut parts = v.split_whitespace();
    let (Some(pref), Some(host), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("MXRRDATANotTwoFields (MX value must be 'preference host')".into());
    };
    let pref = pref
        .parse::<u16>()
        .map_err(|_| "MXRRDATAIllegalPreference (preference must be 0..=65535)".to_string())?;
    Ok((pref, normalize_name(host)?))
}

/// The fields of an SOA value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// Primary name server.
    pub mname: String,
    /// Responsible mailbox.
    pub rname: String,
    /// Serial number.
    pub serial: u32,
    /// Refresh interval.
    pub refresh: i32,
    /// Retry interval.
    pub retry: i32,
    /// Expiry.
    pub expire: i32,
    /// Minimum (negative-caching) TTL.
    pub minimum: u32,
}

/// An SOA value: `mname rname serial refresh retry expire minimum`.
pub fn parse_soa(v: &str) -> Result<Soa, String> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 7 {
        return Err("SOARRDATANotSevenFields (SOA value must have 7 fields)".into());
    }
    let num = |s: &str| s.parse::<u32>().map_err(|_| format!("SOARRDATAIllegalNumber ({s:?})"));
    let int = |s: &str| s.parse::<i32>().map_err(|_| format!("SOARRDATAIllegalNumber ({s:?})"));
    Ok(Soa {
        mname: normalize_name(parts[0])?,
        rname: normalize_name(parts[1])?,
        serial: num(parts[2])?,
        refresh: int(parts[3])?,
        retry: int(parts[4])?,
        expire: int(parts[5])?,
        minimum: num(parts[6])?,
    })
}

/// A TXT value: one or more `"quoted strings"` (with `\"` and `\\` escapes), or one bare
/// word; each string at most 255 bytes.
pub fn parse_txt(v: &str) -> Result<Vec<String>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("TXTRRDATAEmpty (value is empty)".into());
    }
    if !v.starts_with('"') {
        if v.contains(char::is_whitespace) || v.contains('"') {
            return Err("TXTRRDATAMalformed (use quoted strings for text with spaces)".into());
        }
        return check_txt_len(vec![v.to_string()]);
    }
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some('"') => {}
            Some(_) => return Err("TXTRRDATAMalformed (expected a quoted string)".into()),
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                None => return Err("TXTRRDATAMalformed (unterminated quoted string)".into()),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some(c) => s.push(c),
                    None => return Err("TXTRRDATAMalformed (dangling escape)".into()),
                },
                Some(c) => s.push(c),
            }
        }
        out.push(s);
    }
    check_txt_len(out)
}

fn check_txt_len(strings: Vec<String>) -> Result<Vec<String>, String> {
    if strings.iter().any(|s| s.len() > 255) {
        return Err("CharacterStringTooLong (Value is too long)".into());
    }
    Ok(strings)
}

/// Normalizes a DNS name: lower case with a trailing dot. Labels are 1 to 63 characters of
/// letters, digits, `-`, `_` and `*`; the whole name at most 255 octets.
pub fn normalize_name(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err(format!("DomainLabelEmpty ({raw:?} is not a valid DNS name)"));
    }
    if s.len() > 253 {
        return Err(format!("DomainNameTooLong ({} characters)", s.len()));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(format!("DomainLabelEmpty (empty label in {raw:?})"));
        }
        if label.len() > 63 {
            return Err(format!("DomainLabelTooLong (label {label:?} is longer than 63)"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        {
            return Err(format!("DomainLabelIllegalCharacter (label {label:?} in {raw:?})"));
        }
    }
    Ok(format!("{}.", s.to_ascii_lowercase()))
}

/// Whether a normalized name is the zone's apex or below it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || (name.len() > zone.len() && name.ends_with(zone) && name[..name.len() - zone.len()].ends_with('.'))
}

/// Labels from the root down, for Route 53's listing order.
fn sort_key(name: &str) -> Vec<&str> {
    name.trim_end_matches('.').rsplit('.').collect()
}

/// Whether a record set comes at or after (`name`, `type`, `identifier`) in listing order.
pub fn at_or_after(set: &RecordSet, name: &str, rtype: Option<RecordType>, identifier: Option<&str>) -> bool {
    let by_name = sort_key(&set.name).cmp(&sort_key(name));
    let by_type = match rtype {
        Some(t) => set.rtype.as_str().cmp(t.as_str()),
        None => std::cmp::Ordering::Equal,
    };
    let by_id = match identifier {
        Some(id) => set.set_identifier.as_deref().unwrap_or("").cmp(id),
        None => std::cmp::Ordering::Equal,
    };
    by_name.then(by_type).then(by_id) != std::cmp::Ordering::Less
}

/// How a health check probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// HTTP GET of the resource path; 2xx and 3xx are healthy.
    Http,
    /// A TCP connection that opens is healthy.
    Tcp,
}

impl CheckKind {
    /// `HTTP` or `TCP`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "HTTP",
            CheckKind::Tcp => "TCP",
        }
    }
}

/// What a health check probes, how often, and when it changes its mind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Endpoint IP address.
    pub ip_address: Option<IpAddr>,
    /// Endpoint port (for a load balancer target: none means its listener port).
    pub port: Option<u16>,
    /// Endpoint name (a load balancer's DNS name or an IP literal) and `Host` header.
    pub fqdn: Option<String>,
    /// A load balancer by name (stack files).
    pub load_balancer: Option<String>,
    /// HTTP or TCP.
    pub kind: CheckKind,
    /// Path requested by HTTP checks.
    pub resource_path: String,
    /// Time between two probes.
    pub request_interval: Duration,
    /// Consecutive failures to become unhealthy, and successes to become healthy again.
    pub failure_threshold: u32,
    /// A probe without an answer within this time fails.
    pub timeout: Duration,
    /// Report healthy when the endpoint is unhealthy and the other way round.
    pub inverted: bool,
    /// Not probed; always healthy.
    pub disabled: bool,
    /// The regions of its health checkers as given (`Regions`); `None` for Route 53's
    /// default, every region of [`CHECKER_REGIONS`].
    pub regions: Option<Vec<String>>,
}

impl HealthCheckConfig {
    /// The regions it is checked from: the given ones, or all of [`CHECKER_REGIONS`].
    pub fn checker_regions(&self) -> Vec<String> {
        match &self.regions {
            Some(r) => r.clone(),
            None => CHECKER_REGIONS.iter().map(|r| r.to_string()).collect(),
        }
    }
}

/// The default probe timeout: Route 53 waits about this long for an answer.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The regions Route 53 has health checkers in: the valid values of `HealthCheckConfig`'s
/// `Regions`, and the regions a health check is checked from when it names none ("If you
/// don't specify any regions, Route 53 health checkers automatically performs checks from
/// all of the regions that are listed under Valid Values", API_HealthCheckConfig).
pub const CHECKER_REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
];

/// The fewest regions a health check may name (`Regions`: minimum 3 items).
pub const MIN_CHECKER_REGIONS: usize = 3;

/// Checks a health check's `Regions`: at least [`MIN_CHECKER_REGIONS`], each one of
/// [`CHECKER_REGIONS`], none twice (a region has one checker here, so a repeat would
/// not add one).
pub fn check_regions(regions: &[String]) -> Result<(), String> {
    if let Some(bad) = regions.iter().find(|r| !CHECKER_REGIONS.contains(&r.as_str())) {
        return Err(format!(
            "{bad:?} is not a health checker region (one of {})",
            CHECKER_REGIONS.join(", ")
        ));
    }
    if let Some(dup) = regions
        .iter()
        .enumerate()
        .find_map(|(i, r)| regions[..i].contains(r).then_some(r))
    {
        return Err(format!("region {dup} is listed more than once"));
    }
    if regions.len() < MIN_CHECKER_REGIONS {
        return Err(format!(
            "{} regions given; a health check needs at least {MIN_CHECKER_REGIONS}",
            regions.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ctx;
    impl ChangeContext for Ctx {
        fn health_check_exists(&self, id: &str) -> bool {
            id == "hc-1"
        }
        fn alias_target_exists(&self, dns_name: &str) -> bool {
            dns_name == "lb.example."
        }
    }

    fn zone() -> Zone {
        Zone::new("Z1".into(), "example.com.".into(), "ref".into(), None)
    }

    fn a(name: &str, values: &[&str]) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: RecordType::A,
            set_identifier: None,
            routing: Routing::Simple,
            ttl: Some(30),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: None,
            health_check_id: None,
        }
    }

    fn change(action: Action, set: RecordSet) -> Change {
        Change { action, set }
    }

    fn invalid(r: Result<(), ChangeError>) -> String {
        match r {
            Err(ChangeError::Invalid(m)) => m,
            other => panic!("expected InvalidChangeBatch, got {other:?}"),
        }
    }

    /// Names are lower-cased and made absolute; bad labels are refused.
    #[test]
    fn names_normalize() {
        assert_eq!(normalize_name("WWW.Example.com").unwrap(), "www.example.com.");
        assert_eq!(normalize_name("example.com.").unwrap(), "example.com.");
        assert!(normalize_name("a..b").is_err());
        assert!(normalize_name("").is_err());
        assert!(normalize_name("bad name.com").is_err());
        assert!(normalize_name(&"a".repeat(64)).is_err());
        assert!(in_zone("www.example.com.", "example.com."));
        assert!(in_zone("example.com.", "example.com."));
        assert!(!in_zone("badexample.com.", "example.com."));
    }

    /// CREATE of an existing set, DELETE of a missing or different one are refused; a batch
    /// is all or nothing.
    #[test]
    fn create_delete_upsert_rules() {
        let mut z = zone();
        z.apply(&[change(Action::Create, a("www.example.com.", &["10.0.0.1"]))], &Ctx)
            .unwrap();
        let m = invalid(z.apply(&[change(Action::Create, a("www.example.com.", &["10.0.0.2"]))], &Ctx));
        assert!(m.contains("already exists"), "{m}");
        let m = invalid(z.apply(&[change(Action::Delete, a("www.example.com.", &["10.0.0.2"]))], &Ctx));
        assert!(m.contains("do not match"), "{m}");
        let m = invalid(z.apply(&[change(Action::Delete, a("x.example.com.", &["10.0.0.2"]))], &Ctx));
        assert!(m.contains("not found"), "{m}");
        // The second change fails, so the first is not applied either.
        let m = invalid(z.apply(
            &[
                change(Action::Upsert, a("www.example.com.", &["10.0.0.9"])),
                change(Action::Create, a("other.test.", &["10.0.0.1"])),
            ],
            &Ctx,
        ));
        assert!(m.contains("not permitted in zone"), "{m}");
        assert_eq!(
            z.records.iter().find(|r| r.name == "www.example.com.").unwrap().values,
            ["10.0.0.1"]
        );
        z.apply(&[change(Action::Upsert, a("www.example.com.", &["10.0.0.9"]))], &Ctx)
            .unwrap();
        z.apply(&[change(Action::Delete, a("www.example.com.", &["10.0.0.9"]))], &Ctx)
            .unwrap();
        assert!(z.is_empty());
    }

    /// Values are checked for their type, CNAMEs conflict with other types, routing fields
    /// must be consistent.
    #[test]
    fn shape_and_conflicts() {
        let mut z = zone();
        let m = invalid(z.apply(&[change(Action::Create, a("www.example.com.", &["1.2.3"]))], &Ctx));
        assert!(m.contains("ARRDATAIllegalIPv4Address"), "{m}");
        let mut no_ttl = a("www.example.com.", &["1.2.3.4"]);
        no_ttl.ttl = None;
        assert!(invalid(z.apply(&[change(Action::Create, no_ttl)], &Ctx)).contains("TTL"));
        z.apply(&[change(Action::Create, a("www.example.com.", &["1.2.3.4"]))], &Ctx)
            .unwrap();
        let cname = RecordSet {
            rtype: RecordType::Cname,
            values: vec!["other.example.com".into()],
            ..a("www.example.com.", &[])
        };
        assert!(invalid(z.apply(&[change(Action::Create, cname)], &Ctx)).contains("conflicts"));
        let mut weighted = a("www.example.com.", &["1.2.3.5"]);
        weighted.set_identifier = Some("w1".into());
        weighted.routing = Routing::Weighted(1);
        assert!(invalid(z.apply(&[change(Action::Create, weighted)], &Ctx)).contains("simple"));
        let mut missing_id = a("api.example.com.", &["1.2.3.5"]);
        missing_id.routing = Routing::Failover(Failover::Primary);
        assert!(invalid(z.apply(&[change(Action::Create, missing_id)], &Ctx)).contains("SetIdentifier"));
    }

    /// Two PRIMARY failover sets for one name are refused; health checks must exist.
    #[test]
    fn failover_pairs() {
        let mut z = zone();
        let fo = |id: &str, role, hc: Option<&str>| RecordSet {
            set_identifier: Some(id.into()),
            routing: Routing::Failover(role),
            health_check_id: hc.map(str::to_string),
            ..a("app.example.com.", &["10.0.0.1"])
        };
        z.apply(
            &[
                change(Action::Create, fo("p", Failover::Primary, Some("hc-1"))),
                change(Action::Create, fo("s", Failover::Secondary, None)),
            ],
            &Ctx,
        )
        .unwrap();
        let m = invalid(z.apply(&[change(Action::Create, fo("p2", Failover::Primary, None))], &Ctx));
        assert!(m.contains("PRIMARY"), "{m}");
        assert_eq!(
            z.apply(
                &[change(Action::Create, fo("x", Failover::Primary, Some("hc-9")))],
                &Ctx
            ),
            Err(ChangeError::NoSuchHealthCheck("hc-9".into()))
        );
    }

    /// The apex NS and SOA cannot be deleted; aliases need a known target and no TTL.
    #[test]
    fn apex_and_alias() {
        let mut z = zone();
        let ns = z.records[0].clone();
        assert!(invalid(z.apply(&[change(Action::Delete, ns)], &Ctx)).contains("at least one NS"));
        let alias = |dns: &str| RecordSet {
            ttl: None,
            values: vec![],
            alias: Some(AliasTarget {
                hosted_zone_id: ELB_ZONE_ID.into(),
                dns_name: dns.into(),
                evaluate_target_health: true,
            }),
            ..a("lb.example.com.", &[])
        };
        assert!(invalid(z.apply(&[change(Action::Create, alias("nope."))], &Ctx)).contains("alias target"));
        z.apply(&[change(Action::Create, alias("lb.example."))], &Ctx).unwrap();
    }

    /// TXT, MX and SOA values parse in Route 53's text form.
    #[test]
    fn text_forms() {
        assert_eq!(parse_txt(r#""a b" "c\"d""#).unwrap(), vec!["a b", "c\"d"]);
        assert_eq!(parse_txt("word").unwrap(), vec!["word"]);
        assert!(parse_txt(r#""open"#).is_err());
        assert_eq!(
            parse_mx("10 mail.example.com").unwrap(),
            (10, "mail.example.com.".into())
        );
        assert!(parse_mx("x mail").is_err());
        let soa = parse_soa("ns.example. host.example. 1 7200 900 1209600 86400").unwrap();
        assert_eq!(soa.minimum, 86400);
    }

    /// Listing order reverses labels: the apex first, then its children by name.
    #[test]
    fn listing_order() {
        let mut z = zone();
        for n in ["b.example.com.", "a.example.com.", "x.a.example.com."] {
            z.apply(&[change(Action::Create, a(n, &["10.0.0.1"]))], &Ctx).unwrap();
        }
        let names: Vec<_> = z.sorted().iter().map(|r| (r.name.clone(), r.rtype.as_str())).collect();
        assert_eq!(
            names,
            vec![
                ("example.com.".to_string(), "NS"),
                ("example.com.".to_string(), "SOA"),
                ("a.example.com.".to_string(), "A"),
                ("x.a.example.com.".to_string(), "A"),
                ("b.example.com.".to_string(), "A"),
            ]
        );
    }

    /// `Regions` takes three or more distinct checker regions; none means all eight.
    #[test]
    fn checker_regions() {
        let list = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_regions(&list(&["us-east-1", "eu-west-1", "sa-east-1"])).is_ok());
        assert!(check_regions(&list(&["us-east-1", "eu-west-1"])).is_err());
        assert!(check_regions(&list(&["us-east-1", "eu-west-1", "us-east-2"])).is_err());
        assert!(check_regions(&list(&["us-east-1", "eu-west-1", "us-east-1"])).is_err());
        let config = HealthCheckConfig {
            ip_address: None,
            port: None,
            fqdn: None,
            load_balancer: Some("alb".into()),
            kind: CheckKind::Http,
            resource_path: "/".into(),
            request_interval: Duration::from_secs(1),
            failure_threshold: 1,
            timeout: DEFAULT_CHECK_TIMEOUT,
            inverted: false,
            disabled: false,
            regions: None,
        };
        assert_eq!(config.checker_regions(), list(&CHECKER_REGIONS));
    }
}
