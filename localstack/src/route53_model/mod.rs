//! The Route 53 data model: hosted zones, resource record sets, change batches checked with
//! AWS's validation rules, and health-check configurations. Pure data: no I/O, no clock.

mod health_check;
mod values;

pub use health_check::*;
pub use values::*;

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

#[cfg(test)]
mod tests;
