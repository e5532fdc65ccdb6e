//! Route 53's restXml API under `/2013-04-01/`: hosted zones, record-set changes and
//! listings, changes, health checks and their status. Ids are returned with their
//! `/hostedzone/` and `/change/` prefixes (health checks by bare id); errors are
//! `<ErrorResponse xmlns="…/2013-04-01/"><Error><Type/><Code/><Message/></Error><RequestId/>`.
//!
//! Request bodies are parsed strictly: malformed XML, a wrong root element, an unknown or
//! repeated element, or a feature the local stack does not have (geolocation, latency,
//! calculated health checks, …) is an `InvalidInput` error naming it.

use std::net::IpAddr;
use std::time::Duration;

use http::{Method, StatusCode};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::errors::shorten;
use super::params::Params;
use super::xml::{iso8601, Xml};
use super::{ApiRequest, ApiResponse, Services};
use crate::route53::model::{
    self, Action, AliasTarget, Change, CheckKind, Failover, HealthCheckConfig, RecordSet, RecordType, Routing, Zone,
};
use crate::route53::{ChangeInfo, HealthCheckInfo, Route53, Route53Error};

mod body;
mod health_checks;

use body::{parse_body, El};
use health_checks::{create_health_check, health_check, health_status, list_health_checks};

/// The Route 53 API namespace.
pub const NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";
/// The path prefix of every operation.
const PREFIX: &str = "/2013-04-01/";
/// Deepest element nesting accepted in a request body.
const MAX_DEPTH: usize = 32;
/// Most elements accepted in a request body.
const MAX_ELEMENTS: usize = 50_000;

/// Answers one Route 53 request.
pub fn handle(services: &Services, req: &ApiRequest) -> ApiResponse {
    match route(&services.route53, req) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

/// An error answer in Route 53's shape.
pub fn error_response(e: &Route53Error) -> ApiResponse {
    let rid = uuid::Uuid::new_v4().to_string();
    let mut x = Xml::new();
    x.elem_ns("ErrorResponse", NS, |x| {
        x.elem("Error", |x| {
            x.text("Type", if e.status() >= 500 { "Receiver" } else { "Sender" });
            x.text("Code", e.code());
            x.text("Message", e.to_string());
            if let Route53Error::InvalidChangeBatch(messages) = e {
                x.elem("messages", |x| {
                    for m in messages {
                        x.text("Message", m);
                    }
                });
            }
        });
        x.text("RequestId", &rid);
    });
    ApiResponse {
        status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        content_type: "text/xml",
        error_type: None,
        body: x.into_bytes(),
    }
}

fn ok(status: StatusCode, op: &str, f: impl FnOnce(&mut Xml)) -> Result<ApiResponse, Route53Error> {
    let mut x = Xml::new();
    x.elem_ns(&format!("{op}Response"), NS, f);
    Ok(ApiResponse {
        status,
        content_type: "text/xml",
        error_type: None,
        body: x.into_bytes(),
    })
}

fn invalid(m: impl Into<String>) -> Route53Error {
    Route53Error::InvalidInput(m.into())
}

fn route(r53: &std::sync::Arc<Route53>, req: &ApiRequest) -> Result<ApiResponse, Route53Error> {
    let unsupported = || {
        invalid(format!(
            "The local stack does not serve {} {}",
            req.method,
            shorten(&req.path)
        ))
    };
    let Some(rest) = req.path.strip_prefix(PREFIX) else {
        return Err(unsupported());
    };
    let segs: Vec<String> = rest
        .trim_end_matches('/')
        .split('/')
        .map(percent_decode)
        .collect::<Result<_, _>>()?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let params = Params::parse(req.query.as_bytes()).map_err(|e| invalid(e.message))?;
    let m = &req.method;
    match segs.as_slice() {
        ["hostedzone"] if m == Method::POST => create_hosted_zone(r53, &req.body),
        ["hostedzone"] if m == Method::GET => list_hosted_zones(r53, &params),
        ["hostedzone", id] if m == Method::GET => get_hosted_zone(r53, id),
        ["hostedzone", id] if m == Method::DELETE => {
            let change = r53.delete_hosted_zone(id)?;
            ok(StatusCode::OK, "DeleteHostedZone", |x| change_info(x, &change))
        }
        ["hostedzone", id, "rrset"] if m == Method::POST => change_rrsets(r53, id, &req.body),
        ["hostedzone", id, "rrset"] if m == Method::GET => list_rrsets(r53, id, &params),
        ["change", id] if m == Method::GET => {
            let change = r53.get_change(id)?;
            ok(StatusCode::OK, "GetChange", |x| change_info(x, &change))
        }
        ["healthcheck"] if m == Method::POST => create_health_check(r53, &req.body),
        ["healthcheck"] if m == Method::GET => list_health_checks(r53, &params),
        ["healthcheck", id] if m == Method::GET => {
            let hc = r53.get_health_check(id)?;
            ok(StatusCode::OK, "GetHealthCheck", |x| health_check(x, r53, &hc))
        }
        ["healthcheck", id] if m == Method::DELETE => {
            r53.delete_health_check(id)?;
            ok(StatusCode::OK, "DeleteHealthCheck", |_| {})
        }
        ["healthcheck", id, "status"] if m == Method::GET => {
            let hc = r53.get_health_check(id)?;
            ok(StatusCode::OK, "GetHealthCheckStatus", |x| health_status(x, &hc))
        }
        _ => Err(unsupported()),
    }
}

fn percent_decode(s: &str) -> Result<String, Route53Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("malformed percent-encoding in the path"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid("the path is not UTF-8"))
}

// ----- hosted zones -----

fn create_hosted_zone(r53: &Route53, body: &[u8]) -> Result<ApiResponse, Route53Error> {
    let root = parse_body(body, "CreateHostedZoneRequest")?;
    root.allow(&["Name", "CallerReference", "HostedZoneConfig", "DelegationSetId", "VPC"])?;
    if root.one("VPC")?.is_some() {
        return Err(invalid(
            "Private hosted zones (VPC) are not supported by the local stack",
        ));
    }
    if root.one("DelegationSetId")?.is_some() {
        return Err(invalid("Reusable delegation sets are not supported by the local stack"));
    }
    let name = root.required_text("Name")?;
    let caller = root.required_text("CallerReference")?;
    let mut comment = None;
    if let Some(cfg) = root.one("HostedZoneConfig")? {
        cfg.allow(&["Comment", "PrivateZone"])?;
        comment = cfg.text("Comment")?.map(str::to_string);
        if cfg.bool("PrivateZone")? == Some(true) {
            return Err(invalid("Private hosted zones are not supported by the local stack"));
        }
    }
    let (zone, change) = r53.create_hosted_zone(name, caller, comment)?;
    ok(StatusCode::CREATED, "CreateHostedZone", |x| {
        hosted_zone(x, &zone);
        change_info(x, &change);
        delegation_set(x);
    })
}

fn get_hosted_zone(r53: &Route53, id: &str) -> Result<ApiResponse, Route53Error> {
    let zone = r53.get_hosted_zone(id)?;
    ok(StatusCode::OK, "GetHostedZone", |x| {
        hosted_zone(x, &zone);
        delegation_set(x);
    })
}

fn max_items(params: &Params, default: usize) -> Result<usize, Route53Error> {
    match params.get("maxitems") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(default))
            .ok_or_else(|| invalid(format!("maxitems {:?} is not a positive integer", shorten(v)))),
    }
}

fn list_hosted_zones(r53: &Route53, params: &Params) -> Result<ApiResponse, Route53Error> {
    let max = max_items(params, 100)?;
    let zones = r53.list_hosted_zones();
    let start = match params.get("marker") {
        None => 0,
        Some(m) => zones
            .iter()
            .position(|z| z.id == m)
            .ok_or_else(|| invalid(format!("marker {:?} is not a hosted zone id", shorten(m))))?,
    };
    let page: Vec<&Zone> = zones.iter().skip(start).take(max).collect();
    let next = zones.get(start + page.len());
    ok(StatusCode::OK, "ListHostedZones", |x| {
        x.elem("HostedZones", |x| {
            for z in &page {
                x.elem("HostedZone", |x| hosted_zone_body(x, z));
            }
        });
        x.opt_text("Marker", params.get("marker"));
        x.text("IsTruncated", next.is_some());
        x.opt_text("NextMarker", next.map(|z| z.id.as_str()));
        x.text("MaxItems", max);
    })
}

fn hosted_zone(x: &mut Xml, z: &Zone) {
    x.elem("HostedZone", |x| hosted_zone_body(x, z));
}

fn hosted_zone_body(x: &mut Xml, z: &Zone) {
    x.text("Id", format!("/hostedzone/{}", z.id));
    x.text("Name", &z.name);
    x.text("CallerReference", &z.caller_reference);
    x.elem("Config", |x| {
        x.opt_text("Comment", z.comment.as_deref());
        x.text("PrivateZone", false);
    });
    x.text("ResourceRecordSetCount", z.records.len());
}

fn delegation_set(x: &mut Xml) {
    x.elem("DelegationSet", |x| {
        x.elem("NameServers", |x| {
            for ns in model::NAME_SERVERS {
                x.text("NameServer", ns);
            }
        });
    });
}

fn change_info(x: &mut Xml, c: &ChangeInfo) {
    x.elem("ChangeInfo", |x| {
        x.text("Id", format!("/change/{}", c.id));
        // Changes apply at once: they are in sync when answered.
        x.text("Status", "INSYNC");
        x.text("SubmittedAt", iso8601(c.submitted_unix_ms));
        x.opt_text("Comment", c.comment.as_deref());
    });
}

// ----- record sets -----

fn change_rrsets(r53: &Route53, zone_id: &str, body: &[u8]) -> Result<ApiResponse, Route53Error> {
    // An unknown zone is reported before anything about the body, like Route 53.
    r53.get_hosted_zone(zone_id)?;
    let root = parse_body(body, "ChangeResourceRecordSetsRequest")?;
    root.allow(&["ChangeBatch"])?;
    let batch = root
        .one("ChangeBatch")?
        .ok_or_else(|| invalid("Missing element ChangeBatch"))?;
    batch.allow(&["Comment", "Changes"])?;
    let comment = batch.text("Comment")?.map(str::to_string);
    let changes_el = batch
        .one("Changes")?
        .ok_or_else(|| invalid("Missing element ChangeBatch/Changes"))?;
    changes_el.allow(&["Change"])?;
    let mut changes = Vec::new();
    for c in changes_el.all("Change") {
        c.allow(&["Action", "ResourceRecordSet"])?;
        let action_text = c.required_text("Action")?;
        let action = Action::parse(action_text).ok_or_else(|| {
            invalid(format!(
                "Action {:?} is not one of CREATE, DELETE, UPSERT",
                shorten(action_text)
            ))
        })?;
        let set_el = c
            .one("ResourceRecordSet")?
            .ok_or_else(|| invalid("Missing element Change/ResourceRecordSet"))?;
        changes.push(Change {
            action,
            set: record_set_from(set_el)?,
        });
    }
    let change = r53.change_resource_record_sets(zone_id, &changes, comment)?;
    ok(StatusCode::OK, "ChangeResourceRecordSets", |x| change_info(x, &change))
}

/// Reads a `ResourceRecordSet` element strictly into a record set, one element at a time
/// in the order Route 53 documents them (the first error found is the one answered).
fn record_set_from(el: &El) -> Result<RecordSet, Route53Error> {
    check_record_elements(el)?;
    let name = dns_name(el.required_text("Name")?)?;
    let type_text = el.required_text("Type")?;
    let rtype = RecordType::parse(type_text).ok_or_else(|| {
        invalid(format!(
            "Type {:?} is not supported by the local stack (A, AAAA, CNAME, MX, NS, SOA, TXT are)",
            shorten(type_text)
        ))
    })?;
    let routing = routing_from(el)?;
    let values = values_from(el)?;
    let alias = match el.one("AliasTarget")? {
        None => None,
        Some(a) => Some(alias_from(a)?),
    };
    Ok(RecordSet {
        name,
        rtype,
        set_identifier: el.text("SetIdentifier")?.map(str::to_string),
        routing,
        ttl: el.number::<u32>("TTL")?,
        values,
        alias,
        health_check_id: el.text("HealthCheckId")?.map(str::to_string),
    })
}

/// Refuses the routing policies the local stack does not model, then any element Route 53
/// does not document.
fn check_record_elements(el: &El) -> Result<(), Route53Error> {
    for unsupported in [
        "Region",
        "GeoLocation",
        "MultiValueAnswer",
        "TrafficPolicyInstanceId",
        "CidrRoutingConfig",
        "GeoProximityLocation",
    ] {
        if el.one(unsupported)?.is_some() {
            return Err(invalid(format!(
                "ResourceRecordSet/{unsupported} is not supported by the local stack (simple, weighted and failover routing are)"
            )));
        }
    }
    el.allow(&[
        "Name",
        "Type",
        "SetIdentifier",
        "Weight",
        "Failover",
        "TTL",
        "ResourceRecords",
        "AliasTarget",
        "HealthCheckId",
    ])
}

/// A domain name of a change batch, normalized; a malformed one fails the batch as Route
/// 53 words it.
fn dns_name(raw: &str) -> Result<String, Route53Error> {
    model::normalize_name(raw).map_err(|why| {
        Route53Error::InvalidChangeBatch(vec![format!(
            "FATAL problem: {why} encountered with '{}'",
            shorten(raw)
        )])
    })
}

/// `Weight` or `Failover` (not both): the record's routing policy, simple without either.
fn routing_from(el: &El) -> Result<Routing, Route53Error> {
    let weight = el.number::<u32>("Weight")?;
    let failover = match el.text("Failover")? {
        None => None,
        Some(f) => Some(
            Failover::parse(f)
                .ok_or_else(|| invalid(format!("Failover {:?} is not PRIMARY or SECONDARY", shorten(f))))?,
        ),
    };
    match (weight, failover) {
        (Some(_), Some(_)) => Err(invalid(
            "Invalid request: Expected exactly one of [Weight, Failover], but found more than one",
        )),
        (Some(w), None) => Ok(Routing::Weighted(w)),
        (None, Some(f)) => Ok(Routing::Failover(f)),
        (None, None) => Ok(Routing::Simple),
    }
}

/// `ResourceRecords/ResourceRecord/Value`, in order.
fn values_from(el: &El) -> Result<Vec<String>, Route53Error> {
    let mut values = Vec::new();
    if let Some(rrs) = el.one("ResourceRecords")? {
        rrs.allow(&["ResourceRecord"])?;
        for rr in rrs.all("ResourceRecord") {
            rr.allow(&["Value"])?;
            values.push(rr.required_text("Value")?.to_string());
        }
    }
    Ok(values)
}

/// An `AliasTarget` element: all three of its elements are required.
fn alias_from(a: &El) -> Result<AliasTarget, Route53Error> {
    a.allow(&["HostedZoneId", "DNSName", "EvaluateTargetHealth"])?;
    let dns = a.required_text("DNSName")?;
    Ok(AliasTarget {
        hosted_zone_id: a.required_text("HostedZoneId")?.to_string(),
        dns_name: dns_name(dns)?,
        evaluate_target_health: a
            .bool("EvaluateTargetHealth")?
            .ok_or_else(|| invalid("Missing element AliasTarget/EvaluateTargetHealth"))?,
    })
}

fn list_rrsets(r53: &Route53, zone_id: &str, params: &Params) -> Result<ApiResponse, Route53Error> {
    let zone = r53.get_hosted_zone(zone_id)?;
    let max = max_items(params, 300)?;
    let start_name = match params.get("name") {
        None => None,
        Some(n) => Some(model::normalize_name(n).map_err(|m| invalid(format!("name: {m}")))?),
    };
    let start_type = match params.get("type") {
        None => None,
        Some(t) => Some(RecordType::parse(t).ok_or_else(|| invalid(format!("type {:?} is not valid", shorten(t))))?),
    };
    if start_type.is_some() && start_name.is_none() {
        return Err(invalid("The parameter type requires the parameter name"));
    }
    let identifier = params.get("identifier");
    if identifier.is_some() && start_type.is_none() {
        return Err(invalid(
            "The parameter identifier requires the parameters name and type",
        ));
    }
    let sorted = zone.sorted();
    let from: Vec<&RecordSet> = sorted
        .into_iter()
        .filter(|s| match &start_name {
            None => true,
            Some(n) => model::at_or_after(s, n, start_type, identifier),
        })
        .collect();
    let page = &from[..from.len().min(max)];
    let next = from.get(page.len());
    let lookup = r53.lookup();
    ok(StatusCode::OK, "ListResourceRecordSets", |x| {
        x.elem("ResourceRecordSets", |x| {
            for s in page {
                x.elem("ResourceRecordSet", |x| record_set(x, s, lookup.as_ref()));
            }
        });
        x.text("IsTruncated", next.is_some());
        if let Some(n) = next {
            x.text("NextRecordName", &n.name);
            x.text("NextRecordType", n.rtype.as_str());
            x.opt_text("NextRecordIdentifier", n.set_identifier.as_deref());
        }
        x.text("MaxItems", max);
    })
}

fn record_set(x: &mut Xml, s: &RecordSet, lookup: &dyn crate::route53::LoadBalancerLookup) {
    x.text("Name", &s.name);
    x.text("Type", s.rtype.as_str());
    x.opt_text("SetIdentifier", s.set_identifier.as_deref());
    match s.routing {
        Routing::Simple => {}
        Routing::Weighted(w) => {
            x.text("Weight", w);
        }
        Routing::Failover(f) => {
            x.text("Failover", f.as_str());
        }
    }
    x.opt_text("TTL", s.ttl);
    if s.alias.is_none() {
        x.elem("ResourceRecords", |x| {
            for v in &s.values {
                x.elem("ResourceRecord", |x| {
                    x.text("Value", v);
                });
            }
        });
    }
    if let Some(a) = &s.alias {
        let dns = lookup
            .load_balancer(&a.dns_name)
            .map(|v| format!("{}.", v.dns_name))
            .unwrap_or_else(|| a.dns_name.clone());
        x.elem("AliasTarget", |x| {
            x.text("HostedZoneId", &a.hosted_zone_id);
            x.text("DNSName", dns);
            x.text("EvaluateTargetHealth", a.evaluate_target_health);
        });
    }
    x.opt_text("HealthCheckId", s.health_check_id.as_deref());
}

// ----- health checks -----

#[cfg(test)]
mod tests;
