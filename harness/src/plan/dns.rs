//! The app's Route 53 name at plan time: which resolver asks, what it answers now, and the
//! name's hosted zone and health checks.

use std::net::SocketAddr;

use super::{DnsEntry, PlanError};
use crate::aws::Clients;
use crate::scenario::{ResolverSpec, Route53App, Scenario, Target};
use crate::traffic::{DnsResolver, Nameserver};

/// Resolves the app's Route 53 name: its resolver, its answer now (it must have one), its
/// zone and the health checks of its records.
pub(super) async fn resolve_dns(
    sc: &Scenario,
    r53: &Route53App,
    lb_port: i32,
    lb_dns_name: &str,
    clients: &Clients,
    local_dns: Option<SocketAddr>,
) -> Result<DnsEntry, PlanError> {
    let spec = r53.resolver.unwrap_or(match sc.target {
        Target::Local { .. } => ResolverSpec::Local,
        Target::Aws(_) => ResolverSpec::System,
    });
    let nameserver = match spec {
        ResolverSpec::Local => Nameserver::At(local_dns.ok_or_else(|| {
            PlanError::Missing("app.route53.resolver: local: the target has no local stack DNS server".into())
        })?),
        ResolverSpec::System => Nameserver::System,
        ResolverSpec::Address(addr) => Nameserver::At(addr),
    };
    let name = r53.host();
    let resolver =
        DnsResolver::uncached(nameserver).map_err(|e| PlanError::Missing(format!("app.route53.resolver: {e}")))?;
    let answers = resolver
        .answer(&name)
        .await
        .map_err(|e| PlanError::Missing(format!("app.route53.name: {e}")))?;
    if answers.is_empty() {
        return Err(PlanError::Missing(format!(
            "app.route53.name: {name} has no address through {nameserver}"
        )));
    }
    let route53 = crate::observe::discover(&clients.route53, &name, &[lb_dns_name.to_string()])
        .await
        .map_err(|e| PlanError::Aws {
            call: e.call,
            message: e.message,
        })?;
    let port = match r53.port {
        Some(p) => p,
        None => u16::try_from(lb_port)
            .map_err(|_| PlanError::Missing(format!("load balancer listener port {lb_port} is not a TCP port")))?,
    };
    Ok(DnsEntry {
        base_url: format!("{}://{name}:{port}", sc.app.scheme.as_str()),
        resolver: spec.to_string(),
        nameserver: match nameserver {
            Nameserver::At(addr) => Some(addr),
            Nameserver::System => None,
        },
        name,
        port,
        answers: answers.iter().map(ToString::to_string).collect(),
        route53,
    })
}
