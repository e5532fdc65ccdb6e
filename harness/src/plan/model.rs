//! The plan's parts: the load balancer and listener probes go through, the app's Route 53
//! name, the targets, and what each FIS action would hit — as [`super::resolve`] finds
//! them and [`super::render`] shows them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;

use super::AwsRejection;
use crate::observe::NameRoute53;
use crate::traffic::Nameserver;

/// The load balancer the probes go through.
#[derive(Debug, Clone, Serialize)]
pub struct LoadBalancerInfo {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// DNS name.
    pub dns_name: String,
    /// Listener port.
    pub port: i32,
    /// Where probes are sent (`http://dns:port`).
    pub base_url: String,
}

/// How the probes reach the app by a Route 53 name.
#[derive(Debug, Clone, Serialize)]
pub struct DnsEntry {
    /// The name, without a trailing dot.
    pub name: String,
    /// The resolver as the scenario gives it (`local`, `system` or `IP:PORT`).
    pub resolver: String,
    /// The DNS server asked; `None` for the system's configuration.
    pub nameserver: Option<SocketAddr>,
    /// The port probes go to.
    pub port: u16,
    /// Where probes are sent (`http://name:port`).
    pub base_url: String,
    /// The addresses the name resolved to at plan time.
    pub answers: Vec<String>,
    /// Its hosted zone and the health checks of its records.
    pub route53: NameRoute53,
}

impl DnsEntry {
    /// The DNS server the prober and the DNS observer ask.
    pub fn nameserver(&self) -> Nameserver {
        self.nameserver.map_or(Nameserver::System, Nameserver::At)
    }
}

/// A registered target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// Instance id.
    pub id: String,
    /// Availability zone: the instance's EC2 placement (DescribeTargetHealth gives a
    /// zone only for IP targets), or the target's own for IP targets.
    pub zone: Option<String>,
    /// Health state at plan time (`initial`, `healthy`, `unhealthy`, `unused`,
    /// `draining`, `unavailable`).
    pub health: String,
    /// Its subnet, when the target is an instance DescribeInstances knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
}

/// One resource an action's target matches at plan time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedResource {
    /// Resource id (`i-…`, `subnet-…`, cluster id).
    pub id: String,
    /// Its availability zone, when it has one.
    pub zone: Option<String>,
    /// Its subnet (an instance's subnet, or the subnet itself).
    pub subnet: Option<String>,
    /// What the plan shows in parentheses instead of the zone (a cluster's writer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What one FIS action would do.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedAction {
    /// Action name in the template.
    pub name: String,
    /// FIS action id.
    pub action_id: String,
    /// The template target it uses.
    pub target: Option<String>,
    /// Resource type of that target.
    pub resource_type: Option<String>,
    /// Selection mode (`ALL`, `COUNT(n)`, `PERCENT(n)`).
    pub selection: Option<String>,
    /// Resources that match the target now (before selection), as text.
    pub hits: Vec<String>,
    /// The same resources, structured (for blast-radius checks).
    pub resources: Vec<PlannedResource>,
    /// Whether the resources of this target's type could be listed at all.
    pub previewed: bool,
    /// Parameters.
    pub parameters: BTreeMap<String, String>,
    /// Actions it starts after.
    pub start_after: Vec<String>,
    /// How many of the matched resources FIS would pick (the selection mode applied).
    pub selected: usize,
}

/// Everything resolved for a run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Scenario name.
    pub scenario: String,
    /// The load balancer.
    pub load_balancer: LoadBalancerInfo,
    /// The app's Route 53 name, when probes go through it instead of the load balancer's
    /// own DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsEntry>,
    /// Target group ARN.
    pub target_group_arn: String,
    /// Its targets.
    pub targets: Vec<TargetInfo>,
    /// The disaster template (as given, or as fetched for an existing id); `null` for a
    /// restore test, which injects nothing.
    pub template: Value,
    /// The existing template id, when the scenario names one.
    pub existing_template_id: Option<String>,
    /// What each action would hit.
    pub actions: Vec<PlannedAction>,
    /// The listener probes go through: the first that forwards to a target group,
    /// preferring the scenario's scheme.
    pub listener: ListenerInfo,
    /// Values in the template or the load balancer's settings that AWS would reject.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_rejections: Vec<AwsRejection>,
    /// A restore drill's restore: the recovery point it would restore now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<super::restore::PlannedRestore>,
}

/// The listener the app is reached through.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerInfo {
    /// Its ARN.
    pub arn: String,
    /// Its protocol (`HTTP`, `HTTPS`).
    pub protocol: String,
    /// Its port.
    pub port: i32,
}

impl Plan {
    /// Where probes are sent: the Route 53 name's URL, or the load balancer's.
    pub fn base_url(&self) -> &str {
        self.dns.as_ref().map_or(&self.load_balancer.base_url, |d| &d.base_url)
    }
}

impl PlannedResource {
    /// `id (zone)`, or `id (writer …)` for a cluster (as the plan shows it).
    pub(super) fn describe(&self) -> String {
        let paren = self.detail.as_deref().or(self.zone.as_deref()).unwrap_or("?");
        format!("{} ({paren})", self.id)
    }
}
