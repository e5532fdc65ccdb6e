//! Which records the DNS server answers with: the served zone of a name, the routing policy
//! by health (simple, failover, weighted), CNAME chains, and negative answers carrying the
//! zone's SOA.
//!
//! As in Route 53, when no record set of a name and type is healthy they are all treated
//! as healthy: failover answers the primary, weighted chooses among all.

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::Rng;

use super::model::{self, in_zone, Failover, RecordSet, RecordType, Routing, Zone};

/// Most CNAMEs followed in one answer.
const MAX_CHAIN: usize = 8;

/// One record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    /// Owner name (lower case, trailing dot).
    pub name: String,
    /// Record type.
    pub rtype: RecordType,
    /// TTL in seconds.
    pub ttl: u32,
    /// Value in Route 53's text form.
    pub value: String,
}

/// What the DNS server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsLookup {
    /// Records for the query, possibly a CNAME chain (NOERROR).
    Answer(Vec<AnswerRecord>),
    /// The name exists but has nothing of this type (NOERROR, empty); the zone's SOA.
    NoData(Option<AnswerRecord>),
    /// The name does not exist in the zone (NXDOMAIN); the zone's SOA.
    NxDomain(Option<AnswerRecord>),
    /// The name is in no served zone (REFUSED).
    Refused,
}

/// Health of a record set.
pub type HealthFn<'a> = &'a dyn Fn(&RecordSet) -> bool;
/// Values a record set answers with (an alias: its target's address).
pub type ValuesFn<'a> = &'a dyn Fn(&RecordSet) -> Vec<String>;

/// The zone that answers for `qname`: the most specific containing it; among zones of the
/// same name, the first created.
fn served_zone<'a>(zones: &'a [Zone], qname: &str) -> Option<&'a Zone> {
    let mut best: Option<&Zone> = None;
    for z in zones.iter().filter(|z| in_zone(qname, &z.name)) {
        if best.is_none_or(|b| z.name.len() > b.name.len()) {
            best = Some(z);
        }
    }
    best
}

/// The record sets that may answer, by routing policy and health.
fn candidates<'a>(sets: &[&'a RecordSet], healthy: HealthFn<'_>) -> Vec<&'a RecordSet> {
    let Some(first) = sets.first() else {
        return Vec::new();
    };
    match first.routing {
        Routing::Simple => vec![first],
        Routing::Failover(_) => {
            let role = |f: Failover| sets.iter().copied().find(|s| s.routing == Routing::Failover(f));
            let primary = role(Failover::Primary);
            let secondary = role(Failover::Secondary);
            let pick = primary
                .filter(|s| healthy(s))
                .or(secondary.filter(|s| healthy(s)))
                .or(primary)
                .or(secondary);
            pick.into_iter().collect()
        }
        Routing::Weighted(_) => {
            let weight = |s: &RecordSet| match s.routing {
                Routing::Weighted(w) => w,
                _ => 0,
            };
            let healthy_sets: Vec<&RecordSet> = sets.iter().copied().filter(|s| healthy(s)).collect();
            let tiers: [Vec<&RecordSet>; 4] = [
                healthy_sets.iter().copied().filter(|s| weight(s) > 0).collect(),
                healthy_sets.clone(),
                sets.iter().copied().filter(|s| weight(s) > 0).collect(),
                sets.to_vec(),
            ];
            tiers.into_iter().find(|t| !t.is_empty()).unwrap_or_default()
        }
    }
}

/// One of the candidates: weighted at random by weight (uniform when all weigh 0).
fn pick<'a>(cands: &[&'a RecordSet], rng: &mut StdRng) -> Option<&'a RecordSet> {
    if cands.len() <= 1 {
        return cands.first().copied();
    }
    let weight = |s: &RecordSet| match s.routing {
        Routing::Weighted(w) => u64::from(w),
        _ => 1,
    };
    let total: u64 = cands.iter().map(|s| weight(s)).sum();
    if total == 0 {
        return cands.get(rng.random_range(0..cands.len())).copied();
    }
    let mut x = rng.random_range(0..total);
    for s in cands {
        let w = weight(s);
        if x < w {
            return Some(s);
        }
        x -= w;
    }
    cands.last().copied()
}

fn ttl_of(set: &RecordSet, alias_ttl: u32) -> u32 {
    set.ttl.unwrap_or(alias_ttl)
}

/// The zone's SOA for negative answers, with the negative-caching TTL (the smaller of the
/// SOA's TTL and its minimum field).
fn soa_of(zone: &Zone) -> Option<AnswerRecord> {
    let set = zone
        .records
        .iter()
        .find(|r| r.name == zone.name && r.rtype == RecordType::Soa)?;
    let value = set.values.first()?.clone();
    let minimum = model::parse_soa(&value).map(|s| s.minimum).unwrap_or(u32::MAX);
    Some(AnswerRecord {
        name: zone.name.clone(),
        rtype: RecordType::Soa,
        ttl: set.ttl.unwrap_or(0).min(minimum),
        value,
    })
}

/// Answers `qname` (normalized) for `qtype` (`None`: a type not stored here).
pub(super) fn resolve(
    zones: &[Zone],
    qname: &str,
    qtype: Option<RecordType>,
    healthy: HealthFn<'_>,
    values: ValuesFn<'_>,
    alias_ttl: u32,
    rng: &mut StdRng,
) -> DnsLookup {
    let Some(zone) = served_zone(zones, qname) else {
        return DnsLookup::Refused;
    };
    let soa = soa_of(zone);
    let exists = zone.records.iter().any(|r| in_zone(&r.name, qname));
    let negative = || {
        if exists {
            DnsLookup::NoData(soa.clone())
        } else {
            DnsLookup::NxDomain(soa.clone())
        }
    };
    let Some(qtype) = qtype else {
        return negative();
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let (mut zone, mut name) = (zone, qname.to_string());
    for _ in 0..MAX_CHAIN {
        if !seen.insert(name.clone()) {
            break;
        }
        let at = |t: RecordType| -> Vec<&RecordSet> {
            zone.records.iter().filter(|r| r.name == name && r.rtype == t).collect()
        };
        let sets = at(qtype);
        if !sets.is_empty() {
            if let Some(set) = pick(&candidates(&sets, healthy), rng) {
                let ttl = ttl_of(set, alias_ttl);
                out.extend(values(set).into_iter().map(|value| AnswerRecord {
                    name: name.clone(),
                    rtype: qtype,
                    ttl,
                    value,
                }));
            }
            break;
        }
        if qtype == RecordType::Cname {
            break;
        }
        let cnames = at(RecordType::Cname);
        let Some(set) = pick(&candidates(&cnames, healthy), rng) else {
            break;
        };
        let Some(target) = set.values.first().and_then(|v| model::normalize_name(v).ok()) else {
            break;
        };
        out.push(AnswerRecord {
            name: name.clone(),
            rtype: RecordType::Cname,
            ttl: ttl_of(set, alias_ttl),
            value: target.clone(),
        });
        match served_zone(zones, &target) {
            Some(z) => (zone, name) = (z, target),
            None => break,
        }
    }
    if out.is_empty() {
        negative()
    } else {
        DnsLookup::Answer(out)
    }
}

/// Every (name, type) of the served zones except the apex NS and SOA, with the values
/// the server may answer now: the chosen set's, or for weighted sets the union over every
/// set it may choose.
pub(super) fn snapshot(
    zones: &[Zone],
    healthy: HealthFn<'_>,
    values: ValuesFn<'_>,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    let mut served = HashSet::new();
    for zone in zones {
        if !served.insert(zone.name.as_str()) {
            continue;
        }
        let mut groups: BTreeMap<(&str, RecordType), Vec<&RecordSet>> = BTreeMap::new();
        for r in &zone.records {
            if r.name == zone.name && matches!(r.rtype, RecordType::Ns | RecordType::Soa) {
                continue;
            }
            groups.entry((r.name.as_str(), r.rtype)).or_default().push(r);
        }
        for ((name, rtype), sets) in groups {
            let mut vals: Vec<String> = candidates(&sets, healthy).into_iter().flat_map(values).collect();
            vals.sort();
            vals.dedup();
            out.insert((name.to_string(), rtype.as_str().to_string()), vals);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn set(name: &str, values: &[&str], routing: Routing, id: Option<&str>) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: RecordType::A,
            set_identifier: id.map(str::to_string),
            routing,
            ttl: Some(7),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: None,
            health_check_id: None,
        }
    }

    fn zone(records: Vec<RecordSet>) -> Zone {
        let mut z = Zone::new("Z1".into(), "example.com.".into(), "r".into(), None);
        z.records.extend(records);
        z
    }

    fn resolve_with(z: &Zone, name: &str, unhealthy: &[&str], rng: &mut StdRng) -> DnsLookup {
        let unhealthy: Vec<String> = unhealthy.iter().map(|s| s.to_string()).collect();
        let healthy = |s: &RecordSet| !s.set_identifier.as_ref().is_some_and(|id| unhealthy.contains(id));
        let values = |s: &RecordSet| s.values.clone();
        resolve(
            std::slice::from_ref(z),
            name,
            Some(RecordType::A),
            &healthy,
            &values,
            60,
            rng,
        )
    }

    fn ips(l: &DnsLookup) -> Vec<String> {
        match l {
            DnsLookup::Answer(r) => r.iter().map(|a| a.value.clone()).collect(),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    /// Failover answers the primary while healthy, the secondary when not, and the primary
    /// again when both are unhealthy.
    #[test]
    fn failover_by_health() {
        let z = zone(vec![
            set(
                "app.example.com.",
                &["10.0.0.1"],
                Routing::Failover(Failover::Primary),
                Some("p"),
            ),
            set(
                "app.example.com.",
                &["10.0.0.2"],
                Routing::Failover(Failover::Secondary),
                Some("s"),
            ),
        ]);
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(ips(&resolve_with(&z, "app.example.com.", &[], &mut rng)), ["10.0.0.1"]);
        assert_eq!(
            ips(&resolve_with(&z, "app.example.com.", &["p"], &mut rng)),
            ["10.0.0.2"]
        );
        assert_eq!(
            ips(&resolve_with(&z, "app.example.com.", &["p", "s"], &mut rng)),
            ["10.0.0.1"]
        );
    }

    /// Weighted answers follow the weights and skip unhealthy sets.
    #[test]
    fn weighted_by_weight_and_health() {
        let z = zone(vec![
            set("w.example.com.", &["10.0.0.1"], Routing::Weighted(3), Some("a")),
            set("w.example.com.", &["10.0.0.2"], Routing::Weighted(1), Some("b")),
            set("w.example.com.", &["10.0.0.3"], Routing::Weighted(0), Some("c")),
        ]);
        let mut rng = StdRng::seed_from_u64(7);
        let mut a = 0;
        for _ in 0..400 {
            let got = ips(&resolve_with(&z, "w.example.com.", &[], &mut rng));
            assert_ne!(got, ["10.0.0.3"], "weight 0 is not chosen while others are healthy");
            a += usize::from(got == ["10.0.0.1"]);
        }
        assert!((240..=360).contains(&a), "weight 3 of 4 chosen {a} times of 400");
        for _ in 0..20 {
            assert_eq!(
                ips(&resolve_with(&z, "w.example.com.", &["a", "b"], &mut rng)),
                ["10.0.0.3"]
            );
        }
    }

    /// Unknown names are NXDOMAIN, names with other types NODATA, other zones REFUSED;
    /// negative answers carry the SOA with its negative TTL.
    #[test]
    fn negative_answers() {
        let z = zone(vec![set("x.y.example.com.", &["10.0.0.1"], Routing::Simple, None)]);
        let mut rng = StdRng::seed_from_u64(1);
        match resolve_with(&z, "nope.example.com.", &[], &mut rng) {
            DnsLookup::NxDomain(Some(soa)) => assert_eq!(soa.ttl, 900),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve_with(&z, "y.example.com.", &[], &mut rng),
            DnsLookup::NoData(_)
        ));
        assert!(matches!(
            resolve_with(&z, "example.org.", &[], &mut rng),
            DnsLookup::Refused
        ));
        assert_eq!(ips(&resolve_with(&z, "x.y.example.com.", &[], &mut rng)), ["10.0.0.1"]);
    }

    /// A CNAME is followed inside the served zones.
    #[test]
    fn cname_chain() {
        let mut c = set("alias.example.com.", &["x.example.com"], Routing::Simple, None);
        c.rtype = RecordType::Cname;
        let z = zone(vec![c, set("x.example.com.", &["10.0.0.1"], Routing::Simple, None)]);
        let mut rng = StdRng::seed_from_u64(1);
        let got = resolve_with(&z, "alias.example.com.", &[], &mut rng);
        let DnsLookup::Answer(recs) = got else { panic!() };
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].rtype, RecordType::Cname);
        assert_eq!(recs[1].value, "10.0.0.1");
    }

    /// The snapshot lists every weighted value that may be answered.
    #[test]
    fn snapshot_lists_candidates() {
        let z = zone(vec![
            set("w.example.com.", &["10.0.0.2"], Routing::Weighted(1), Some("b")),
            set("w.example.com.", &["10.0.0.1"], Routing::Weighted(3), Some("a")),
        ]);
        let healthy = |_: &RecordSet| true;
        let values = |s: &RecordSet| s.values.clone();
        let snap = snapshot(std::slice::from_ref(&z), &healthy, &values);
        assert_eq!(
            snap.get(&("w.example.com.".to_string(), "A".to_string())).unwrap(),
            &["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(snap.len(), 1);
    }
}
