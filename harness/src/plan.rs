//! Plan: resolve everything a run needs before anything is injected — the load
//! balancer and its address, the target group and its targets per zone, the FIS template
//! and the resources each action would hit — and show it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::aws::{describe_error, Clients};
use crate::scenario::{LoadedScenario, ResolvedFault};

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

/// A registered target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// Instance id.
    pub id: String,
    /// Availability zone.
    pub zone: Option<String>,
    /// Health state at plan time.
    pub health: String,
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
    /// Resources that match the target now (before selection).
    pub hits: Vec<String>,
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

/// Resolves the plan of a loaded scenario with these clients.
pub async fn resolve(loaded: &LoadedScenario, clients: &Clients) -> Result<Plan, PlanError> {
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
        })
        .collect();
    let (template, existing_template_id) = match &loaded.fault {
        ResolvedFault::Template(t) => (t.clone(), None),
        ResolvedFault::TemplateId(id) => (fetch_template(clients, id).await?, Some(id.clone())),
    };
    let actions = plan_actions(&template, clients).await?;
    Ok(Plan {
        scenario: sc.name.clone(),
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
        let hits = match &spec {
            Some(spec) => resolve_target(spec, clients).await?,
            None => Vec::new(),
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
            parameters: string_map(action.get("parameters").unwrap_or(&Value::Null)),
            start_after: strings(action.get("startAfter").unwrap_or(&Value::Null)),
        });
    }
    Ok(out)
}

/// Lists the resources a template target matches now, with the describe calls.
async fn resolve_target(spec: &Value, clients: &Clients) -> Result<Vec<String>, PlanError> {
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
            Ok(out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| {
                    let zone = i.placement().and_then(|p| p.availability_zone()).unwrap_or("?");
                    format!("{} ({zone})", i.instance_id().unwrap_or_default())
                })
                .collect())
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
            Ok(out
                .subnets()
                .iter()
                .map(|s| {
                    format!(
                        "{} ({})",
                        s.subnet_id().unwrap_or_default(),
                        s.availability_zone().unwrap_or("?")
                    )
                })
                .collect())
        }
        "aws:rds:cluster" => {
            let out = clients
                .rds
                .describe_db_clusters()
                .send()
                .await
                .map_err(aws_err("DescribeDBClusters"))?;
            Ok(out
                .db_clusters()
                .iter()
                .filter(|c| arns.is_empty() || c.db_cluster_arn().is_some_and(|a| arns.iter().any(|x| x == a)))
                .map(|c| {
                    let writer = c
                        .db_cluster_members()
                        .iter()
                        .find(|m| m.is_cluster_writer() == Some(true))
                        .and_then(|m| m.db_instance_identifier())
                        .unwrap_or("?");
                    format!("{} (writer {writer})", c.db_cluster_identifier().unwrap_or_default())
                })
                .collect())
        }
        other => Ok(vec![format!("(resources of type {other} are not previewed)")]),
    }
}

/// The plan as text for `drdrill plan` and the start of `drdrill run`.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let lb = &plan.load_balancer;
    let _ = writeln!(s, "scenario {}", plan.scenario);
    let _ = writeln!(s, "load balancer {} → {} ({})", lb.name, lb.base_url, lb.arn);
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
pub async fn preview(loaded: &LoadedScenario) -> Result<String, PreviewError> {
    let connected = crate::target::connect(&loaded.scenario.target).await?;
    let plan = resolve(loaded, &connected.clients).await;
    connected.close().await;
    Ok(render(&plan?))
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
}
