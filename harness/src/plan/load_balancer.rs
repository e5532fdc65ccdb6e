//! The load balancer side of the plan: the listener probes go through, the target group
//! it forwards to, its health-check settings, and its targets placed in their zones.

use std::collections::BTreeMap;

use super::aws_limits;
use super::{aws_err, AwsRejection, ListenerInfo, LoadBalancerInfo, PlanError, TargetInfo};
use crate::aws::Clients;

/// The load balancer's part of a plan.
pub(super) struct LoadBalancerSide {
    /// The load balancer and where probes are sent.
    pub load_balancer: LoadBalancerInfo,
    /// The listener probes go through.
    pub listener: ListenerInfo,
    /// The target group it forwards to.
    pub target_group_arn: String,
    /// Its targets, placed in their zones.
    pub targets: Vec<TargetInfo>,
    /// Health-check settings of the target group that AWS would reject.
    pub aws_rejections: Vec<AwsRejection>,
}

/// Resolves the load balancer `lb_name`, the listener probes go through (preferring
/// `scheme`), its target group's health-check settings and its targets.
pub(super) async fn resolve(clients: &Clients, lb_name: &str, scheme: &str) -> Result<LoadBalancerSide, PlanError> {
    let out = clients.elb.describe_load_balancers().names(lb_name).send().await;
    let out = out.map_err(aws_err(format!("DescribeLoadBalancers({lb_name})")))?;
    let lb = out
        .load_balancers()
        .first()
        .ok_or_else(|| PlanError::Missing(format!("load balancer {lb_name} not found")))?;
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let dns_name = lb.dns_name().unwrap_or_default().to_string();
    let listeners = clients.elb.describe_listeners().load_balancer_arn(&arn);
    let listeners = listeners.into_paginator().items().send().try_collect().await;
    let listeners = listeners.map_err(aws_err(format!("DescribeListeners({lb_name})")))?;
    let (listener, tg_arn) = forwarding_listener(lb_name, &listeners, scheme)?;
    let port = listener.port;
    let aws_rejections = health_check_rejections(clients, &tg_arn).await?;
    let targets = with_placement(clients, target_health(clients, &tg_arn).await?).await?;
    Ok(LoadBalancerSide {
        load_balancer: LoadBalancerInfo {
            name: lb_name.to_string(),
            arn,
            base_url: format!("{scheme}://{dns_name}:{port}"),
            dns_name,
            port,
        },
        listener,
        target_group_arn: tg_arn,
        targets,
        aws_rejections,
    })
}

/// The target group's health-check settings that AWS would reject.
async fn health_check_rejections(clients: &Clients, tg_arn: &str) -> Result<Vec<AwsRejection>, PlanError> {
    let tgs = clients.elb.describe_target_groups().target_group_arns(tg_arn).send();
    let tgs = tgs.await.map_err(aws_err(format!("DescribeTargetGroups({tg_arn})")))?;
    let Some(tg) = tgs.target_groups().first() else {
        return Ok(Vec::new());
    };
    let hc = aws_limits::HealthCheckSettings {
        interval_s: tg.health_check_interval_seconds(),
        timeout_s: tg.health_check_timeout_seconds(),
        healthy_threshold: tg.healthy_threshold_count(),
        unhealthy_threshold: tg.unhealthy_threshold_count(),
    };
    Ok(aws_limits::check_health_check(
        tg.target_group_name().unwrap_or(tg_arn),
        &hc,
    ))
}

/// The target group's registered targets and their health, as ELB gives them (zones only
/// for IP targets).
async fn target_health(clients: &Clients, tg_arn: &str) -> Result<Vec<TargetInfo>, PlanError> {
    let health = clients.elb.describe_target_health().target_group_arn(tg_arn).send();
    let health = health.await.map_err(aws_err("DescribeTargetHealth"))?;
    Ok(health
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
        .collect())
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
    let instances = clients.ec2.describe_instances().set_instance_ids(Some(ids));
    let reservations = instances.into_paginator().items().send().try_collect().await;
    let reservations = reservations.map_err(aws_err("DescribeInstances(targets)"))?;
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
