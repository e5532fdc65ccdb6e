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

use super::query::{shorten, Params};
use super::xml::{iso8601, Xml};
use super::{ApiRequest, ApiResponse, Services};
use crate::route53::model::{
    self, Action, AliasTarget, Change, CheckKind, Failover, HealthCheckConfig, RecordSet, RecordType, Routing, Zone,
};
use crate::route53::{checker, ChangeInfo, HealthCheckInfo, Route53, Route53Error};

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

fn record_set_from(el: &El) -> Result<RecordSet, Route53Error> {
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
    ])?;
    let raw_name = el.required_text("Name")?;
    let name = model::normalize_name(raw_name).map_err(|why| {
        Route53Error::InvalidChangeBatch(vec![format!(
            "FATAL problem: {why} encountered with '{}'",
            shorten(raw_name)
        )])
    })?;
    let type_text = el.required_text("Type")?;
    let rtype = RecordType::parse(type_text).ok_or_else(|| {
        invalid(format!(
            "Type {:?} is not supported by the local stack (A, AAAA, CNAME, MX, NS, SOA, TXT are)",
            shorten(type_text)
        ))
    })?;
    let weight = el.number::<u32>("Weight")?;
    let failover = match el.text("Failover")? {
        None => None,
        Some(f) => Some(
            Failover::parse(f)
                .ok_or_else(|| invalid(format!("Failover {:?} is not PRIMARY or SECONDARY", shorten(f))))?,
        ),
    };
    let routing = match (weight, failover) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "Invalid request: Expected exactly one of [Weight, Failover], but found more than one",
            ))
        }
        (Some(w), None) => Routing::Weighted(w),
        (None, Some(f)) => Routing::Failover(f),
        (None, None) => Routing::Simple,
    };
    let mut values = Vec::new();
    if let Some(rrs) = el.one("ResourceRecords")? {
        rrs.allow(&["ResourceRecord"])?;
        for rr in rrs.all("ResourceRecord") {
            rr.allow(&["Value"])?;
            values.push(rr.required_text("Value")?.to_string());
        }
    }
    let alias = match el.one("AliasTarget")? {
        None => None,
        Some(a) => {
            a.allow(&["HostedZoneId", "DNSName", "EvaluateTargetHealth"])?;
            let dns = a.required_text("DNSName")?;
            Some(AliasTarget {
                hosted_zone_id: a.required_text("HostedZoneId")?.to_string(),
                dns_name: model::normalize_name(dns).map_err(|why| {
                    Route53Error::InvalidChangeBatch(vec![format!(
                        "FATAL problem: {why} encountered with '{}'",
                        shorten(dns)
                    )])
                })?,
                evaluate_target_health: a
                    .bool("EvaluateTargetHealth")?
                    .ok_or_else(|| invalid("Missing element AliasTarget/EvaluateTargetHealth"))?,
            })
        }
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

fn create_health_check(r53: &std::sync::Arc<Route53>, body: &[u8]) -> Result<ApiResponse, Route53Error> {
    let root = parse_body(body, "CreateHealthCheckRequest")?;
    root.allow(&["CallerReference", "HealthCheckConfig"])?;
    let caller = root.required_text("CallerReference")?;
    let cfg_el = root
        .one("HealthCheckConfig")?
        .ok_or_else(|| invalid("Missing element HealthCheckConfig"))?;
    let config = health_check_config_from(cfg_el)?;
    let (hc, _new) = r53.create_health_check(caller, config)?;
    ok(StatusCode::CREATED, "CreateHealthCheck", |x| health_check(x, r53, &hc))
}

fn health_check_config_from(el: &El) -> Result<HealthCheckConfig, Route53Error> {
    for unsupported in [
        "HealthThreshold",
        "ChildHealthChecks",
        "AlarmIdentifier",
        "InsufficientDataHealthStatus",
        "RoutingControlArn",
        "SearchString",
    ] {
        if el.one(unsupported)?.is_some() {
            return Err(invalid(format!(
                "HealthCheckConfig/{unsupported} is not supported by the local stack"
            )));
        }
    }
    el.allow(&[
        "IPAddress",
        "Port",
        "Type",
        "ResourcePath",
        "FullyQualifiedDomainName",
        "RequestInterval",
        "FailureThreshold",
        "MeasureLatency",
        "Inverted",
        "Disabled",
        "EnableSNI",
        "Regions",
    ])?;
    let type_text = el.required_text("Type")?;
    let kind = match type_text {
        "HTTP" => CheckKind::Http,
        "TCP" => CheckKind::Tcp,
        "HTTPS" | "HTTP_STR_MATCH" | "HTTPS_STR_MATCH" | "CALCULATED" | "CLOUDWATCH_METRIC" | "RECOVERY_CONTROL" => {
            return Err(invalid(format!(
                "Health check type {type_text} is not supported by the local stack (HTTP and TCP are)"
            )))
        }
        other => return Err(invalid(format!("Type {:?} is not a health check type", shorten(other)))),
    };
    let ip_address = match el.text("IPAddress")? {
        None => None,
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| invalid(format!("IPAddress {:?} is not an IP address", shorten(ip))))?,
        ),
    };
    if let Some(ip) = ip_address.filter(|ip| !checker::is_local(*ip)) {
        return Err(invalid(format!(
            "IPAddress {ip} is not a loopback address: the local stack probes only this machine"
        )));
    }
    let fqdn = el.text("FullyQualifiedDomainName")?.map(str::to_string);
    if fqdn.as_ref().is_some_and(|f| f.is_empty() || f.len() > 255) {
        return Err(invalid("FullyQualifiedDomainName must be 1 to 255 characters"));
    }
    if ip_address.is_none() && fqdn.is_none() {
        return Err(invalid(
            "Invalid request: a health check needs an IPAddress or a FullyQualifiedDomainName",
        ));
    }
    let port = el.number::<u16>("Port")?;
    if port == Some(0) {
        return Err(invalid("Port must be 1..=65535"));
    }
    let port = match (port, kind) {
        (Some(p), _) => p,
        (None, CheckKind::Http) => 80,
        (None, CheckKind::Tcp) => return Err(invalid("Invalid request: a TCP health check needs a Port")),
    };
    let mut resource_path = el.text("ResourcePath")?.unwrap_or("/").to_string();
    if resource_path.len() > 255 {
        return Err(invalid("ResourcePath must be at most 255 characters"));
    }
    if !resource_path.starts_with('/') {
        resource_path.insert(0, '/');
    }
    // Route 53 takes 10 or 30; the local stack takes any whole second up to 30 so that
    // drills stay short.
    let interval = el.number::<u64>("RequestInterval")?.unwrap_or(30);
    if !(1..=30).contains(&interval) {
        return Err(invalid(format!("RequestInterval {interval} is outside 1..=30 seconds")));
    }
    let threshold = el.number::<u32>("FailureThreshold")?.unwrap_or(3);
    if !(1..=10).contains(&threshold) {
        return Err(invalid(format!("FailureThreshold {threshold} is outside 1..=10")));
    }
    let regions = regions_from(el)?;
    el.bool("MeasureLatency")?;
    el.bool("EnableSNI")?;
    Ok(HealthCheckConfig {
        ip_address,
        port: Some(port),
        fqdn,
        load_balancer: None,
        kind,
        resource_path,
        request_interval: Duration::from_secs(interval),
        failure_threshold: threshold,
        timeout: model::DEFAULT_CHECK_TIMEOUT.min(Duration::from_secs(interval)),
        inverted: el.bool("Inverted")?.unwrap_or(false),
        disabled: el.bool("Disabled")?.unwrap_or(false),
        regions,
    })
}

/// `HealthCheckConfig/Regions`: the checker regions, checked as Route 53 does (at least
/// three, each a checker region); `None` when absent.
fn regions_from(el: &El) -> Result<Option<Vec<String>>, Route53Error> {
    let Some(list) = el.one("Regions")? else {
        return Ok(None);
    };
    list.allow(&["Region"])?;
    let regions: Vec<String> = list.all("Region").map(|r| r.text.trim().to_string()).collect();
    if let Some(long) = regions.iter().find(|r| r.chars().count() > 64) {
        return Err(invalid(format!(
            "Region {:?} is longer than 64 characters",
            shorten(long)
        )));
    }
    model::check_regions(&regions).map_err(|m| invalid(format!("Regions: {m}")))?;
    Ok(Some(regions))
}

fn list_health_checks(r53: &Route53, params: &Params) -> Result<ApiResponse, Route53Error> {
    let max = max_items(params, 100)?;
    let all = r53.list_health_checks();
    let start = match params.get("marker") {
        None => 0,
        Some(m) => all
            .iter()
            .position(|h| h.id == m)
            .ok_or_else(|| invalid(format!("marker {:?} is not a health check id", shorten(m))))?,
    };
    let page: Vec<&HealthCheckInfo> = all.iter().skip(start).take(max).collect();
    let next = all.get(start + page.len());
    ok(StatusCode::OK, "ListHealthChecks", |x| {
        x.elem("HealthChecks", |x| {
            for h in &page {
                x.elem("HealthCheck", |x| health_check_body(x, r53, h));
            }
        });
        x.text("Marker", params.get("marker").unwrap_or(""));
        x.text("IsTruncated", next.is_some());
        x.opt_text("NextMarker", next.map(|h| h.id.as_str()));
        x.text("MaxItems", max);
    })
}

fn health_check(x: &mut Xml, r53: &Route53, h: &HealthCheckInfo) {
    x.elem("HealthCheck", |x| health_check_body(x, r53, h));
}

fn health_check_body(x: &mut Xml, r53: &Route53, h: &HealthCheckInfo) {
    let c = &h.config;
    let endpoint = checker::endpoint(r53.lookup().as_ref(), c).ok();
    let lb_dns = c
        .load_balancer
        .as_ref()
        .and_then(|lb| r53.lookup().load_balancer(lb))
        .map(|v| v.dns_name);
    x.text("Id", &h.id);
    x.text("CallerReference", &h.caller_reference);
    x.elem("HealthCheckConfig", |x| {
        x.opt_text("IPAddress", c.ip_address.or(endpoint.map(|a| a.ip())));
        x.opt_text("Port", c.port.or(endpoint.map(|a| a.port())));
        x.text("Type", c.kind.as_str());
        if c.kind == CheckKind::Http {
            x.text("ResourcePath", &c.resource_path);
        }
        x.opt_text("FullyQualifiedDomainName", c.fqdn.as_deref().or(lb_dns.as_deref()));
        // Sub-second intervals of stack files are shown as 1 second.
        x.text("RequestInterval", c.request_interval.as_secs().max(1));
        x.text("FailureThreshold", c.failure_threshold);
        x.text("MeasureLatency", false);
        x.text("Inverted", c.inverted);
        x.text("Disabled", c.disabled);
        x.text("EnableSNI", false);
        if let Some(regions) = &c.regions {
            x.elem("Regions", |x| {
                for r in regions {
                    x.text("Region", r);
                }
            });
        }
    });
    x.text("HealthCheckVersion", 1);
}

/// GetHealthCheckStatus's body: one observation per checker that has probed, with its
/// region, its (documentation-range) address and its own latest report.
fn health_status(x: &mut Xml, h: &HealthCheckInfo) {
    x.elem("HealthCheckObservations", |x| {
        for (checker, obs) in h.observations() {
            x.elem("HealthCheckObservation", |x| {
                x.text("Region", &checker.region);
                x.text("IPAddress", checker.ip_address);
                x.elem("StatusReport", |x| {
                    x.text("Status", &obs.status);
                    x.text("CheckedTime", iso8601(obs.checked_unix_ms));
                });
            });
        }
    });
}

// ----- request XML -----

/// One element of a request body: local name, text, children.
#[derive(Debug, Default)]
struct El {
    name: String,
    text: String,
    children: Vec<El>,
}

impl El {
    /// Refuses children not in `allowed`, naming the first.
    fn allow(&self, allowed: &[&str]) -> Result<(), Route53Error> {
        match self.children.iter().find(|c| !allowed.contains(&c.name.as_str())) {
            None => Ok(()),
            Some(c) => Err(invalid(format!(
                "Invalid XML: unexpected element {} in {}",
                shorten(&c.name),
                self.name
            ))),
        }
    }

    /// The child of this name, if any; more than one is an error.
    fn one(&self, name: &str) -> Result<Option<&El>, Route53Error> {
        let mut it = self.children.iter().filter(|c| c.name == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(invalid(format!(
                "Invalid XML: element {name} appears more than once in {}",
                self.name
            )));
        }
        Ok(first)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of a child, if present.
    fn text(&self, name: &str) -> Result<Option<&str>, Route53Error> {
        Ok(self.one(name)?.map(|c| c.text.trim()))
    }

    fn required_text(&self, name: &str) -> Result<&str, Route53Error> {
        match self.text(name)? {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(invalid(format!("Missing element {}/{name}", self.name))),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Route53Error> {
        match self.text(name)? {
            None => Ok(None),
            Some(t) => t
                .parse::<T>()
                .map(Some)
                .map_err(|_| invalid(format!("{name} {:?} is not a valid number", shorten(t)))),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, Route53Error> {
        match self.text(name)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(t) => Err(invalid(format!("{name} {:?} is not true or false", shorten(t)))),
        }
    }
}

/// Parses a request body whose root element must be `root`.
fn parse_body(body: &[u8], root: &str) -> Result<El, Route53Error> {
    let el = parse_xml(body).map_err(|why| invalid(format!("Could not parse the request body as XML: {why}")))?;
    if el.name != root {
        return Err(invalid(format!(
            "Invalid XML: the root element is {}, expected {root}",
            shorten(&el.name)
        )));
    }
    Ok(el)
}

/// A small, strict XML reader into [`El`]s: namespaces dropped to local names, entity
/// references resolved (predefined and numeric only), no DOCTYPE, bounded depth and size.
fn parse_xml(body: &[u8]) -> Result<El, String> {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    let mut count = 0usize;
    let local = |n: &[u8]| String::from_utf8(n.to_vec()).map_err(|_| "an element name is not UTF-8".to_string());
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(format!("more than {MAX_ELEMENTS} elements"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let el = El {
                    name: local(e.local_name().as_ref())?,
                    ..El::default()
                };
                if matches!(ev, Event::Start(_)) {
                    stack.push(el);
                } else {
                    // An empty element is complete at once.
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("an end tag without a start tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(c) => {
                let s = c.decode().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None => return Err("CDATA outside the root element".into()),
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{};", shorten(&name)))?
                            .to_string()
                    }
                };
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&resolved),
                    None => return Err("an entity reference outside the root element".into()),
                }
            }
            Event::DocType(_) => return Err("DOCTYPE is not allowed".into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text is unescaped (predefined and numeric entities, CDATA), prefixes are dropped.
    #[test]
    fn xml_text_and_names() {
        let el = parse_xml(
            br#"<?xml version="1.0"?><r:Root xmlns:r="urn:x"><A>a &amp; b &#65;</A><B><![CDATA[<raw>]]></B><C/></r:Root>"#,
        )
        .unwrap();
        assert_eq!(el.name, "Root");
        assert_eq!(el.text("A").unwrap(), Some("a & b A"));
        assert_eq!(el.text("B").unwrap(), Some("<raw>"));
        assert_eq!(el.text("C").unwrap(), Some(""));
    }

    /// Malformed or hostile documents are refused with a reason, never a panic.
    #[test]
    fn xml_refusals() {
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        for (doc, why) in [
            ("<a><b></a>", ""),
            ("<a>", "ends inside"),
            ("", "no root"),
            ("<a/><b/>", "after the root"),
            ("<a>&bogus;</a>", "unknown entity"),
            ("<!DOCTYPE a><a/>", "DOCTYPE"),
            ("text<a/>", "outside the root"),
            (deep.as_str(), "deeper"),
        ] {
            let e = parse_xml(doc.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{doc}: {e}");
        }
    }

    /// Repeated single elements and unknown elements are InvalidInput naming them.
    #[test]
    fn strict_elements() {
        let el = parse_xml(b"<R><Name>a</Name><Name>b</Name><X/></R>").unwrap();
        assert!(el.one("Name").unwrap_err().to_string().contains("more than once"));
        assert!(el.allow(&["Name"]).unwrap_err().to_string().contains("X"));
        let err = parse_body(b"<Other/>", "CreateHostedZoneRequest").unwrap_err();
        assert_eq!(err.code(), "InvalidInput");
    }

    /// A record set with geolocation routing is refused as unsupported; weights and
    /// failover roles parse.
    #[test]
    fn record_set_elements() {
        let el = parse_xml(
            b"<ResourceRecordSet><Name>a.example.</Name><Type>A</Type><SetIdentifier>x</SetIdentifier><Weight>3</Weight><TTL>9</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>",
        )
        .unwrap();
        let set = record_set_from(&el).unwrap();
        assert_eq!(set.routing, Routing::Weighted(3));
        assert_eq!(set.ttl, Some(9));
        assert_eq!(set.values, ["10.0.0.1"]);
        let geo =
            parse_xml(b"<ResourceRecordSet><Name>a.</Name><Type>A</Type><GeoLocation/></ResourceRecordSet>").unwrap();
        assert!(record_set_from(&geo).unwrap_err().to_string().contains("GeoLocation"));
        let srv = parse_xml(b"<ResourceRecordSet><Name>a.</Name><Type>SRV</Type></ResourceRecordSet>").unwrap();
        assert!(record_set_from(&srv).unwrap_err().to_string().contains("SRV"));
    }

    /// Error documents have Route 53's shape; InvalidChangeBatch lists its messages.
    #[test]
    fn error_document() {
        let r = error_response(&Route53Error::InvalidChangeBatch(vec!["bad <x>".into()]));
        let s = String::from_utf8(r.body).unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            s.contains(&format!(
                "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>bad &lt;x&gt;</Message><messages><Message>bad &lt;x&gt;</Message></messages></Error><RequestId>"
            )),
            "{s}"
        );
    }
}
