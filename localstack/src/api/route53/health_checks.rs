//! Route 53's health-check operations: CreateHealthCheck's body read strictly into a
//! configuration, and health checks and their status rendered as restXml.

use super::*;

pub(super) fn create_health_check(r53: &std::sync::Arc<Route53>, body: &[u8]) -> Result<ApiResponse, Route53Error> {
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

/// Reads a `HealthCheckConfig` element strictly into a configuration, one element at a
/// time in the order Route 53 documents them (the first error found is the one answered).
pub(super) fn health_check_config_from(el: &El) -> Result<HealthCheckConfig, Route53Error> {
    check_config_elements(el)?;
    let kind = kind_from(el)?;
    let (ip_address, fqdn) = endpoint_from(el)?;
    let port = port_from(el, kind)?;
    let resource_path = resource_path_from(el)?;
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

/// Refuses the elements the local stack does not model, then any element Route 53 does
/// not document.
fn check_config_elements(el: &El) -> Result<(), Route53Error> {
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
    ])
}

/// `Type`: HTTP or TCP (the other types are refused as not modelled).
fn kind_from(el: &El) -> Result<CheckKind, Route53Error> {
    let type_text = el.required_text("Type")?;
    match type_text {
        "HTTP" => Ok(CheckKind::Http),
        "TCP" => Ok(CheckKind::Tcp),
        "HTTPS" | "HTTP_STR_MATCH" | "HTTPS_STR_MATCH" | "CALCULATED" | "CLOUDWATCH_METRIC" | "RECOVERY_CONTROL" => {
            Err(invalid(format!(
                "Health check type {type_text} is not supported by the local stack (HTTP and TCP are)"
            )))
        }
        other => Err(invalid(format!("Type {:?} is not a health check type", shorten(other)))),
    }
}

/// `IPAddress` (a loopback address: the local stack probes only this machine) and
/// `FullyQualifiedDomainName`; at least one of them.
fn endpoint_from(el: &El) -> Result<(Option<IpAddr>, Option<String>), Route53Error> {
    let ip_address = match el.text("IPAddress")? {
        None => None,
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| invalid(format!("IPAddress {:?} is not an IP address", shorten(ip))))?,
        ),
    };
    if let Some(ip) = ip_address.filter(|ip| !model::is_local(*ip)) {
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
    Ok((ip_address, fqdn))
}

/// `Port`: 1..=65535; 80 by default for HTTP, required for TCP.
fn port_from(el: &El, kind: CheckKind) -> Result<u16, Route53Error> {
    let port = el.number::<u16>("Port")?;
    if port == Some(0) {
        return Err(invalid("Port must be 1..=65535"));
    }
    match (port, kind) {
        (Some(p), _) => Ok(p),
        (None, CheckKind::Http) => Ok(80),
        (None, CheckKind::Tcp) => Err(invalid("Invalid request: a TCP health check needs a Port")),
    }
}

/// `ResourcePath`: at most 255 characters, `/` by default, a leading `/` added.
fn resource_path_from(el: &El) -> Result<String, Route53Error> {
    let mut resource_path = el.text("ResourcePath")?.unwrap_or("/").to_string();
    if resource_path.len() > 255 {
        return Err(invalid("ResourcePath must be at most 255 characters"));
    }
    if !resource_path.starts_with('/') {
        resource_path.insert(0, '/');
    }
    Ok(resource_path)
}

/// `HealthCheckConfig/Regions`: the checker regions, checked as Route 53 does (at least
/// three, each a checker region); `None` when absent.
pub(super) fn regions_from(el: &El) -> Result<Option<Vec<String>>, Route53Error> {
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

pub(super) fn list_health_checks(r53: &Route53, params: &Params) -> Result<ApiResponse, Route53Error> {
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

pub(super) fn health_check(x: &mut Xml, r53: &Route53, h: &HealthCheckInfo) {
    x.elem("HealthCheck", |x| health_check_body(x, r53, h));
}

pub(super) fn health_check_body(x: &mut Xml, r53: &Route53, h: &HealthCheckInfo) {
    let c = &h.config;
    let endpoint = crate::route53::checker::endpoint(r53.lookup().as_ref(), c).ok();
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
pub(super) fn health_status(x: &mut Xml, h: &HealthCheckInfo) {
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
