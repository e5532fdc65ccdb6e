//! Plan: resolve everything a run needs before anything is injected — the load
//! balancer and its address, the app's Route 53 name (its resolver, answer, zone and
//! health checks) when it is reached by one, the target group and its targets per zone,
//! the FIS template and the resources each action would hit — and show it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;

mod aws_limits;
pub mod fis_targets;

pub use aws_limits::{check_template, AwsRejection};

use crate::aws::{describe_error, Clients};
use crate::observe::NameRoute53;
use crate::scenario::{LoadedScenario, ResolvedFault, ResolverSpec, Route53App, Scenario, Target};
use crate::traffic::{DnsResolver, Nameserver};

/// Why a plan could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An AWS call failed.
    #[error("{call} failed: {message}")]
    Aws {
        /// The call, e.g. `DescribeLoadBalancers(drill-alb)`.
        call: String,
        /// The error.
        message: String,
    },
    /// Something named by the scenario does not exist or is not usable.
    #[error("{0}")]
    Missing(String),
    /// The traffic asked for is more than this machine can send.
    #[error("{0}")]
    Machine(String),
    /// The FIS template asks for something FIS does not define, or that the preview
    /// cannot evaluate (an unknown filter path or target parameter).
    #[error("fault template: {0}")]
    Template(String),
}

/// Most requests per second the prober is trusted to send per CPU core.
pub const MAX_RATE_PER_CORE: f64 = 2_500.0;
/// File descriptors kept free for everything but in-flight probes.
const RESERVED_FDS: u64 = 256;

/// The soft limit on open files of this process (`ulimit -n`), when it can be read.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Checks that this machine can drive the scenario's traffic: the rate is at most
/// [`MAX_RATE_PER_CORE`] per core, and the requests that are in flight when the target
/// hangs (rate × timeout; a black-holed subnet makes every probe wait for its timeout)
/// fit in the open-files limit. Runs before anything is started.
pub fn check_machine(sc: &Scenario) -> Result<(), PlanError> {
    let rate = sc.traffic.rate.per_second();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_rate = MAX_RATE_PER_CORE * cores as f64;
    if rate > max_rate {
        return Err(PlanError::Machine(format!(
            "traffic.rate: {} is more than this machine can send on schedule ({cores} cores × {MAX_RATE_PER_CORE}/s = {max_rate}/s); lower the rate or use a bigger machine",
            sc.traffic.rate
        )));
    }
    let in_flight = (rate * sc.traffic.timeout.get().as_secs_f64()).ceil() as u64;
    if let Some(limit) = open_files_limit() {
        if in_flight + RESERVED_FDS > limit {
            return Err(PlanError::Machine(format!(
                "traffic.rate × traffic.timeout: up to {in_flight} requests are in flight while the target hangs, more than the open-files limit ({limit}, ulimit -n) allows with {RESERVED_FDS} kept free; lower the rate or the timeout, or raise the limit"
            )));
        }
    }
    Ok(())
}

fn aws_err<E>(
    call: impl Into<String>,
) -> impl FnOnce(aws_sdk_fis::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> PlanError
where
    E: aws_sdk_fis::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let call = call.into();
    move |e| PlanError::Aws {
        call,
        message: describe_error(&e),
    }
}

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
    /// The template (as given, or as fetched for an existing id).
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

/// Resolves the plan of a loaded scenario with these clients; `local_dns` is the local
/// stack's DNS server (for `app.route53.resolver: local`).
pub async fn resolve(
    loaded: &LoadedScenario,
    clients: &Clients,
    local_dns: Option<SocketAddr>,
) -> Result<Plan, PlanError> {
    let sc = &loaded.scenario;
    let lb_name = &sc.app.load_balancer;
    let out = clients
        .elb
        .describe_load_balancers()
        .names(lb_name)
        .send()
        .await
        .map_err(aws_err(format!("DescribeLoadBalancers({lb_name})")))?;
    let lb = out
        .load_balancers()
        .first()
        .ok_or_else(|| PlanError::Missing(format!("load balancer {lb_name} not found")))?;
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let dns_name = lb.dns_name().unwrap_or_default().to_string();
    let listeners = clients
        .elb
        .describe_listeners()
        .load_balancer_arn(&arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_err(format!("DescribeListeners({lb_name})")))?;
    let (listener, tg_arn) = forwarding_listener(lb_name, &listeners, sc.app.scheme.as_str())?;
    let port = listener.port;
    let tgs = clients
        .elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .map_err(aws_err(format!("DescribeTargetGroups({tg_arn})")))?;
    let mut aws_rejections = Vec::new();
    if let Some(tg) = tgs.target_groups().first() {
        let hc = aws_limits::HealthCheckSettings {
            interval_s: tg.health_check_interval_seconds(),
            timeout_s: tg.health_check_timeout_seconds(),
            healthy_threshold: tg.healthy_threshold_count(),
            unhealthy_threshold: tg.unhealthy_threshold_count(),
        };
        aws_rejections.extend(aws_limits::check_health_check(
            tg.target_group_name().unwrap_or(&tg_arn),
            &hc,
        ));
    }
    let health = clients
        .elb
        .describe_target_health()
        .target_group_arn(&tg_arn)
        .send()
        .await
        .map_err(aws_err("DescribeTargetHealth"))?;
    let targets = health
        .target_health_descriptions()
        .iter()
        .map(|d| TargetInfo {
            id: d.target().and_then(|t| t.id()).unwrap_or_default().to_string(),
            zone: d.target().and_then(|t| t.availability_zone()).map(str::to_string),
            health: d
                .target_health()
                .and_then(|h| h.state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            subnet: None,
        })
        .collect();
    let targets = with_placement(clients, targets).await?;
    let (template, existing_template_id) = match &loaded.fault {
        ResolvedFault::Template(t) => (t.clone(), None),
        ResolvedFault::TemplateId(id) => (fetch_template(clients, id).await?, Some(id.clone())),
    };
    let actions = plan_actions(&template, clients).await?;
    aws_rejections.extend(aws_limits::check_template(&template));
    let dns = match &sc.app.route53 {
        Some(r53) => Some(resolve_dns(sc, r53, port, &dns_name, clients, local_dns).await?),
        None => None,
    };
    Ok(Plan {
        scenario: sc.name.clone(),
        dns,
        load_balancer: LoadBalancerInfo {
            name: lb_name.clone(),
            arn,
            base_url: format!("{}://{dns_name}:{port}", sc.app.scheme.as_str()),
            dns_name,
            port,
        },
        target_group_arn: tg_arn,
        targets,
        template,
        existing_template_id,
        actions,
        listener,
        aws_rejections,
    })
}

/// The listener probes go through and the target group it forwards to: among the
/// listeners whose default action forwards (a redirect, e.g. HTTP→HTTPS, or a fixed
/// response serves no target), the first whose protocol is the scenario's scheme, else
/// the first that forwards at all.
fn forwarding_listener(
    lb_name: &str,
    listeners: &[aws_sdk_elasticloadbalancingv2::types::Listener],
    scheme: &str,
) -> Result<(ListenerInfo, String), PlanError> {
    use aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum;
    let forwards_to = |l: &aws_sdk_elasticloadbalancingv2::types::Listener| -> Option<String> {
        l.default_actions()
            .iter()
            .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
            .find_map(|a| {
                a.target_group_arn().map(str::to_string).or_else(|| {
                    a.forward_config()?
                        .target_groups()
                        .iter()
                        .find_map(|t| t.target_group_arn().map(str::to_string))
                })
            })
    };
    let forwarding: Vec<(&aws_sdk_elasticloadbalancingv2::types::Listener, String)> =
        listeners.iter().filter_map(|l| Some((l, forwards_to(l)?))).collect();
    let chosen = forwarding
        .iter()
        .find(|(l, _)| l.protocol().is_some_and(|p| p.as_str().eq_ignore_ascii_case(scheme)))
        .or_else(|| forwarding.first());
    let Some((l, tg)) = chosen else {
        let seen: Vec<String> = listeners
            .iter()
            .map(|l| {
                let kinds: Vec<&str> = l
                    .default_actions()
                    .iter()
                    .filter_map(|a| a.r#type())
                    .map(|t| t.as_str())
                    .collect();
                format!(
                    "{}:{} ({})",
                    l.protocol().map_or("?", |p| p.as_str()),
                    l.port().unwrap_or(0),
                    kinds.join(", ")
                )
            })
            .collect();
        return Err(PlanError::Missing(if listeners.is_empty() {
            format!("load balancer {lb_name} has no listener")
        } else {
            format!(
                "load balancer {lb_name} has no listener that forwards to a target group (listeners: {})",
                seen.join("; ")
            )
        }));
    };
    let port = l
        .port()
        .ok_or_else(|| PlanError::Missing(format!("load balancer {lb_name}: a listener without a port")))?;
    Ok((
        ListenerInfo {
            arn: l.listener_arn().unwrap_or_default().to_string(),
            protocol: l.protocol().map_or_else(String::new, |p| p.as_str().to_string()),
            port,
        },
        tg.clone(),
    ))
}

/// Resolves the app's Route 53 name: its resolver, its answer now (it must have one), its
/// zone and the health checks of its records.
async fn resolve_dns(
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

/// Fills in each instance target's zone and subnet from its EC2 placement (every page
/// of DescribeInstances): ELB's DescribeTargetHealth gives `Target.AvailabilityZone` only
/// for IP targets, so an instance's zone is its placement's. IP targets keep the zone
/// ELB gave them.
async fn with_placement(clients: &Clients, mut targets: Vec<TargetInfo>) -> Result<Vec<TargetInfo>, PlanError> {
    let ids: Vec<String> = targets
        .iter()
        .filter(|t| t.id.starts_with("i-"))
        .map(|t| t.id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(targets);
    }
    let reservations = clients
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_err("DescribeInstances(targets)"))?;
    let placed: BTreeMap<String, (Option<String>, Option<String>)> = reservations
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| {
            let zone = i.placement().and_then(|p| p.availability_zone()).map(str::to_string);
            Some((i.instance_id()?.to_string(), (zone, i.subnet_id().map(str::to_string))))
        })
        .collect();
    for t in &mut targets {
        if let Some((zone, subnet)) = placed.get(&t.id) {
            t.zone = zone.clone().or(t.zone.take());
            t.subnet = subnet.clone();
        }
    }
    Ok(targets)
}

async fn fetch_template(clients: &Clients, id: &str) -> Result<Value, PlanError> {
    let out = clients
        .fis
        .get_experiment_template()
        .id(id)
        .send()
        .await
        .map_err(aws_err(format!("GetExperimentTemplate({id})")))?;
    let t = out
        .experiment_template()
        .ok_or_else(|| PlanError::Missing(format!("experiment template {id} not found")))?;
    let mut targets = serde_json::Map::new();
    for (name, tgt) in t.targets().into_iter().flatten() {
        let filters: Vec<Value> = tgt
            .filters()
            .iter()
            .map(|f| serde_json::json!({"path": f.path(), "values": f.values()}))
            .collect();
        targets.insert(
            name.clone(),
            serde_json::json!({
                "resourceType": tgt.resource_type(), "resourceArns": tgt.resource_arns(),
                "resourceTags": tgt.resource_tags(), "filters": filters, "selectionMode": tgt.selection_mode(),
            }),
        );
    }
    let mut actions = serde_json::Map::new();
    for (name, a) in t.actions().into_iter().flatten() {
        actions.insert(
            name.clone(),
            serde_json::json!({
                "actionId": a.action_id(), "parameters": a.parameters(), "targets": a.targets(),
                "startAfter": a.start_after(),
            }),
        );
    }
    Ok(serde_json::json!({"description": t.description(), "targets": targets, "actions": actions}))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

async fn plan_actions(template: &Value, clients: &Clients) -> Result<Vec<PlannedAction>, PlanError> {
    let targets = template.get("targets").cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    let empty = serde_json::Map::new();
    for (name, action) in template.get("actions").and_then(Value::as_object).unwrap_or(&empty) {
        let target_name = action
            .get("targets")
            .and_then(Value::as_object)
            .and_then(|m| m.values().next())
            .and_then(Value::as_str)
            .map(str::to_string);
        let spec = target_name.as_ref().and_then(|t| targets.get(t)).cloned();
        let (resources, previewed) = match &spec {
            Some(spec) => match fis_targets::resolve(
                target_name.as_deref().unwrap_or_default(),
                &fis_targets::TargetSpec::from_json(spec),
                clients,
            )
            .await?
            {
                Some(resources) => (resources, true),
                None => (Vec::new(), false),
            },
            None => (Vec::new(), true),
        };
        let hits = if previewed {
            resources.iter().map(PlannedResource::describe).collect()
        } else {
            let rtype = spec
                .as_ref()
                .and_then(|s| s.get("resourceType"))
                .and_then(Value::as_str);
            vec![format!(
                "(resources of type {} are not previewed)",
                rtype.unwrap_or("?")
            )]
        };
        let selection = spec
            .as_ref()
            .and_then(|s| s.get("selectionMode"))
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(PlannedAction {
            selected: fis_targets::selected(resources.len(), selection.as_deref()),
            name: name.clone(),
            action_id: action
                .get("actionId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            resource_type: spec
                .as_ref()
                .and_then(|s| s.get("resourceType"))
                .and_then(Value::as_str)
                .map(str::to_string),
            selection,
            target: target_name,
            hits,
            resources,
            previewed,
            parameters: string_map(action.get("parameters").unwrap_or(&Value::Null)),
            start_after: strings(action.get("startAfter").unwrap_or(&Value::Null)),
        });
    }
    Ok(out)
}

impl PlannedResource {
    /// `id (zone)`, or `id (writer …)` for a cluster (as the plan shows it).
    fn describe(&self) -> String {
        let paren = self.detail.as_deref().or(self.zone.as_deref()).unwrap_or("?");
        format!("{} ({paren})", self.id)
    }
}

/// The plan as text for `drdrill plan` and the start of `drdrill run`.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let lb = &plan.load_balancer;
    let _ = writeln!(s, "scenario {}", plan.scenario);
    let _ = writeln!(
        s,
        "load balancer {} → {} ({}; listener {}:{})",
        lb.name, lb.base_url, lb.arn, plan.listener.protocol, plan.listener.port
    );
    if let Some(d) = &plan.dns {
        let _ = writeln!(
            s,
            "app by Route 53 name → {} (resolver {}: {}; answers {})",
            d.base_url,
            d.resolver,
            d.nameserver(),
            d.answers.join(", ")
        );
        let checks = if d.route53.health_check_ids.is_empty() {
            "none".to_string()
        } else {
            d.route53.health_check_ids.join(", ")
        };
        let _ = writeln!(
            s,
            "  hosted zone {}; health checks of its records: {checks}",
            match (&d.route53.zone_name, &d.route53.zone_id) {
                (Some(n), Some(id)) => format!("{n} ({id})"),
                _ => "not found in this account".to_string(),
            }
        );
    }
    let mut by_zone: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in &plan.targets {
        by_zone
            .entry(t.zone.as_deref().unwrap_or("?"))
            .or_default()
            .push(format!("{} [{}]", t.id, t.health));
    }
    let _ = writeln!(s, "targets ({}):", plan.targets.len());
    for (zone, ts) in by_zone {
        let _ = writeln!(s, "  {zone}: {}", ts.join(", "));
    }
    match &plan.existing_template_id {
        Some(id) => {
            let _ = writeln!(s, "fault: existing experiment template {id}");
        }
        None => {
            let _ = writeln!(s, "fault: experiment template created for the run");
        }
    }
    for a in &plan.actions {
        let after = if a.start_after.is_empty() {
            String::new()
        } else {
            format!(" after {}", a.start_after.join(", "))
        };
        let params: Vec<String> = a.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "  action {} ({}){after} {}", a.name, a.action_id, params.join(" "));
        if let Some(t) = &a.target {
            let mode = a.selection.as_deref().unwrap_or("ALL");
            let picked = if !a.previewed || mode == "ALL" {
                String::new()
            } else if a.selected == 0 && !a.resources.is_empty() {
                format!(
                    " (selects 0 of {}: FIS would find no target and the experiment would fail)",
                    a.resources.len()
                )
            } else {
                format!(" ({} of {} chosen at random)", a.selected, a.resources.len())
            };
            let _ = writeln!(
                s,
                "    hits {mode} {} of {t}{picked}: {}",
                a.resource_type.as_deref().unwrap_or("?"),
                if a.hits.is_empty() {
                    "nothing".to_string()
                } else {
                    a.hits.join(", ")
                }
            );
        }
    }
    if !plan.aws_rejections.is_empty() {
        let _ = writeln!(s, "AWS would reject ({}):", plan.aws_rejections.len());
        for r in &plan.aws_rejections {
            let _ = writeln!(s, "  {r}");
        }
    }
    s
}
