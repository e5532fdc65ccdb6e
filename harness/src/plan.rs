//! Plan: resolve everything a run needs before anything is injected — the load
//! balancer and its address, the app's Route 53 name (its resolver, answer, zone and
//! health checks) when it is reached by one, the target group and its targets per zone,
//! the FIS template and the resources each action would hit — and show it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;

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

fn aws_err<E, R>(call: impl Into<String>) -> impl FnOnce(aws_sdk_fis::error::SdkError<E, R>) -> PlanError
where
    E: aws_sdk_fis::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
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
    /// Availability zone.
    pub zone: Option<String>,
    /// Health state at plan time.
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
        .send()
        .await
        .map_err(aws_err(format!("DescribeListeners({lb_name})")))?;
    let port = listeners
        .listeners()
        .first()
        .and_then(|l| l.port())
        .ok_or_else(|| PlanError::Missing(format!("load balancer {lb_name} has no listener")))?;
    let tgs = clients
        .elb
        .describe_target_groups()
        .load_balancer_arn(&arn)
        .send()
        .await
        .map_err(aws_err(format!("DescribeTargetGroups({lb_name})")))?;
    let tg_arn = tgs
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .ok_or_else(|| PlanError::Missing(format!("load balancer {lb_name} has no target group")))?
        .to_string();
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
    let targets = with_subnets(clients, targets).await;
    let (template, existing_template_id) = match &loaded.fault {
        ResolvedFault::Template(t) => (t.clone(), None),
        ResolvedFault::TemplateId(id) => (fetch_template(clients, id).await?, Some(id.clone())),
    };
    let actions = plan_actions(&template, clients).await?;
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
    })
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

/// Fills in each target's subnet (best effort: IP targets and failed calls keep `None`,
/// and blast-radius checks then fall back to the target's zone).
async fn with_subnets(clients: &Clients, mut targets: Vec<TargetInfo>) -> Vec<TargetInfo> {
    let ids: Vec<String> = targets
        .iter()
        .filter(|t| t.id.starts_with("i-"))
        .map(|t| t.id.clone())
        .collect();
    if ids.is_empty() {
        return targets;
    }
    let Ok(out) = clients
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
    else {
        return targets;
    };
    let subnets: BTreeMap<String, String> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| Some((i.instance_id()?.to_string(), i.subnet_id()?.to_string())))
        .collect();
    for t in &mut targets {
        t.subnet = subnets.get(&t.id).cloned();
    }
    targets
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
            Some(spec) => match resolve_target(spec, clients).await? {
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
        out.push(PlannedAction {
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
            selection: spec
                .as_ref()
                .and_then(|s| s.get("selectionMode"))
                .and_then(Value::as_str)
                .map(str::to_string),
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

/// Lists the resources a template target matches now, with the describe calls; `None`
/// when resources of its type cannot be previewed.
async fn resolve_target(spec: &Value, clients: &Clients) -> Result<Option<Vec<PlannedResource>>, PlanError> {
    use aws_sdk_ec2::types::Filter;
    let rtype = spec.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let arns = strings(spec.get("resourceArns").unwrap_or(&Value::Null));
    let tags = string_map(spec.get("resourceTags").unwrap_or(&Value::Null));
    let filters: Vec<(String, Vec<String>)> = spec
        .get("filters")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|f| {
                    let path = f.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
                    (path, strings(f.get("values").unwrap_or(&Value::Null)))
                })
                .collect()
        })
        .unwrap_or_default();
    let ec2_filters = |names: &[(&str, &str)]| -> Vec<Filter> {
        let mut out: Vec<Filter> = tags
            .iter()
            .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
            .collect();
        for (path, values) in &filters {
            if let Some((_, name)) = names.iter().find(|(p, _)| p == path) {
                out.push(Filter::builder().name(*name).set_values(Some(values.clone())).build());
            }
        }
        out
    };
    let suffix = |arn: &str, sep: char| arn.rsplit(sep).next().unwrap_or(arn).to_string();
    match rtype {
        "aws:ec2:instance" => {
            let mut req = clients.ec2.describe_instances().set_filters(Some(ec2_filters(&[
                ("Placement.AvailabilityZone", "availability-zone"),
                ("State.Name", "instance-state-name"),
                ("SubnetId", "subnet-id"),
            ])));
            if !arns.is_empty() {
                req = req.set_instance_ids(Some(arns.iter().map(|a| suffix(a, '/')).collect()));
            }
            let out = req.send().await.map_err(aws_err("DescribeInstances"))?;
            Ok(Some(
                out.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .map(|i| PlannedResource {
                        id: i.instance_id().unwrap_or_default().to_string(),
                        zone: i.placement().and_then(|p| p.availability_zone()).map(str::to_string),
                        subnet: i.subnet_id().map(str::to_string),
                        detail: None,
                    })
                    .collect(),
            ))
        }
        "aws:ec2:subnet" => {
            let mut req = clients.ec2.describe_subnets().set_filters(Some(ec2_filters(&[
                ("AvailabilityZone", "availability-zone"),
                ("SubnetId", "subnet-id"),
            ])));
            if !arns.is_empty() {
                req = req.set_subnet_ids(Some(arns.iter().map(|a| suffix(a, '/')).collect()));
            }
            let out = req.send().await.map_err(aws_err("DescribeSubnets"))?;
            Ok(Some(
                out.subnets()
                    .iter()
                    .map(|s| PlannedResource {
                        id: s.subnet_id().unwrap_or_default().to_string(),
                        zone: s.availability_zone().map(str::to_string),
                        subnet: s.subnet_id().map(str::to_string),
                        detail: None,
                    })
                    .collect(),
            ))
        }
        "aws:rds:cluster" => {
            let out = clients
                .rds
                .describe_db_clusters()
                .send()
                .await
                .map_err(aws_err("DescribeDBClusters"))?;
            Ok(Some(
                out.db_clusters()
                    .iter()
                    .filter(|c| arns.is_empty() || c.db_cluster_arn().is_some_and(|a| arns.iter().any(|x| x == a)))
                    .map(|c| {
                        let writer = c
                            .db_cluster_members()
                            .iter()
                            .find(|m| m.is_cluster_writer() == Some(true))
                            .and_then(|m| m.db_instance_identifier())
                            .unwrap_or("?");
                        PlannedResource {
                            id: c.db_cluster_identifier().unwrap_or_default().to_string(),
                            zone: None,
                            subnet: None,
                            detail: Some(format!("writer {writer}")),
                        }
                    })
                    .collect(),
            ))
        }
        _ => Ok(None),
    }
}

/// The plan as text for `drdrill plan` and the start of `drdrill run`.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let lb = &plan.load_balancer;
    let _ = writeln!(s, "scenario {}", plan.scenario);
    let _ = writeln!(s, "load balancer {} → {} ({})", lb.name, lb.base_url, lb.arn);
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
            let _ = writeln!(
                s,
                "    hits {} {} of {}: {}",
                a.selection.as_deref().unwrap_or("ALL"),
                a.resource_type.as_deref().unwrap_or("?"),
                t,
                if a.hits.is_empty() {
                    "nothing".to_string()
                } else {
                    a.hits.join(", ")
                }
            );
        }
    }
    s
}

/// `drdrill plan`: connects to the scenario's target, resolves the plan and renders it.
/// Injects nothing.
///
/// With a `blast_radius` section, the caps and each action's check are shown too, and a
/// cap exceeded is a [`PreviewError::BlastRadius`] carrying the rendered plan.
pub async fn preview(loaded: &LoadedScenario) -> Result<String, PreviewError> {
    check_machine(&loaded.scenario)?;
    let connected = crate::target::connect(&loaded.scenario.target).await?;
    let local_dns = connected.local.as_ref().map(|l| l.dns_addr());
    let plan = resolve(loaded, &connected.clients, local_dns).await;
    connected.close().await;
    let plan = plan?;
    let mut text = render(&plan);
    if let Some(caps) = &loaded.scenario.blast_radius {
        text.push_str(&crate::blast::render(&plan, caps));
        if let Err(error) = crate::blast::check(&plan, caps) {
            return Err(PreviewError::BlastRadius { plan: text, error });
        }
    }
    Ok(text)
}

/// `drdrill plan` failed.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The target could not be reached.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// The plan could not be resolved.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The plan exceeds a blast-radius cap.
    #[error("{error}")]
    BlastRadius {
        /// The rendered plan, to show before the error.
        plan: String,
        /// The cap exceeded.
        #[source]
        error: crate::blast::BlastError,
    },
}
