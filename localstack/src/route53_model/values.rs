//! Record names and values: normalizing names, parsing and checking each record type's
//! values (MX, SOA, TXT, addresses) and the shape of a record set in a change.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

/// Checks one record set on its own, in the order Route 53 reports its errors: name in
/// the zone, routing fields, an alias's shape, or TTL and values.
pub(super) fn check_shape(set: &RecordSet, action: Action, zone: &str) -> Result<(), String> {
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
    check_routing(set, &what)?;
    if set.rtype == RecordType::Cname && set.name == zone {
        return Err(format!(
            "RRSet of type CNAME with DNS name {} is not permitted at apex in zone {zone}",
            set.name
        ));
    }
    match &set.alias {
        Some(alias) => check_alias(set, alias, &what),
        None => check_ttl_and_values(set, &what),
    }
}

/// The set identifier and the routing policy go together (`what` names the change in
/// errors); a weight is at most 255.
fn check_routing(set: &RecordSet, what: &dyn Fn() -> String) -> Result<(), String> {
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
    Ok(())
}

/// An alias record set has no TTL or values of its own, and (aliasing a load balancer) is
/// of type A or AAAA.
fn check_alias(set: &RecordSet, alias: &AliasTarget, what: &dyn Fn() -> String) -> Result<(), String> {
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
    Ok(())
}

/// Any other record set has a TTL up to [`MAX_TTL`] and values, distinct and valid for its
/// type (one only for CNAME and SOA).
fn check_ttl_and_values(set: &RecordSet, what: &dyn Fn() -> String) -> Result<(), String> {
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
pub(super) fn sort_key(name: &str) -> Vec<&str> {
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
