//! ELBv2 (Elastic Load Balancing, API version 2015-12-01) over awsQuery: the stack's one
//! application load balancer, its HTTP listener and its target group, answered from the
//! world (target health is what the real health checkers decided).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::errors::{shorten, QueryError};
use super::ids::{created_unix_ms, stable_hex, vpc_id};
use super::params::{Params, QueryCall};
use super::xml::{iso8601, Xml};
use super::Services;
use crate::world::{Health, InstanceRec, InstanceState, TargetRec, World};

/// The ELBv2 API namespace.
pub const NS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// The API version this module serves.
const VERSION: &str = "2015-12-01";

/// The stack's ELBv2 names and ARNs, derived deterministically from the names.
struct Names {
    lb_name: String,
    lb_arn: String,
    tg_name: String,
    tg_arn: String,
    listener_arn: String,
}

fn names(world: &World) -> Names {
    let (region, acct) = (&world.stack.region, &world.stack.account_id);
    let lb = &world.stack.load_balancer;
    let lb_hex = stable_hex(&format!("loadbalancer/{}", lb.name), 16);
    let tg_hex = stable_hex(&format!("targetgroup/{}", lb.target_group.name), 16);
    let listener_hex = stable_hex(&format!("listener/{}", lb.name), 16);
    let prefix = format!("arn:aws:elasticloadbalancing:{region}:{acct}");
    Names {
        lb_name: lb.name.clone(),
        lb_arn: format!("{prefix}:loadbalancer/app/{}/{lb_hex}", lb.name),
        tg_name: lb.target_group.name.clone(),
        tg_arn: format!("{prefix}:targetgroup/{}/{tg_hex}", lb.target_group.name),
        listener_arn: format!("{prefix}:listener/app/{}/{lb_hex}/{listener_hex}", lb.name),
    }
}

/// Answers one ELBv2 action.
pub fn handle(s: &Services, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    if let Some(v) = p.get("Version").filter(|v| *v != VERSION) {
        return Err(QueryError::bad(
            "InvalidAction",
            format!(
                "API version {} of elasticloadbalancing is not served; only ELBv2 ({VERSION})",
                shorten(v)
            ),
        ));
    }
    let c = Call {
        w: &s.world,
        n: names(&s.world),
        q: QueryCall { action, p, rid, ns: NS },
    };
    match action {
        "DescribeLoadBalancers" => describe_load_balancers(&c),
        "DescribeTargetGroups" => describe_target_groups(&c),
        "DescribeTargetHealth" => describe_target_health(&c),
        "DescribeListeners" => describe_listeners(&c),
        "RegisterTargets" | "DeregisterTargets" => register_or_deregister_targets(&c),
        other => Err(QueryError::invalid_action("elasticloadbalancing", other)),
    }
}

/// One ELBv2 call: the world it is answered from, the stack's names, and the request.
struct Call<'a> {
    w: &'a Arc<World>,
    n: Names,
    q: QueryCall<'a>,
}

/// DescribeLoadBalancers: the stack's one load balancer, unless other names or ARNs are asked for.
fn describe_load_balancers(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, n, p) = (c.w, &c.n, c.q.p);
    check_known(&p.list("Names.member"), &n.lb_name, |x| lb_not_found(&format!("'{x}'")))?;
    check_known(&p.list("LoadBalancerArns.member"), &n.lb_arn, |x| {
        lb_not_found(&format!("'{x}'"))
    })?;
    c.q.ok(&|x| {
        x.elem("LoadBalancers", |x| {
            x.elem("member", |x| load_balancer(x, w, n));
        });
    })
}

/// DescribeTargetGroups: the load balancer's one target group.
fn describe_target_groups(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, n, p) = (c.w, &c.n, c.q.p);
    if let Some(arn) = p.get("LoadBalancerArn").filter(|a| *a != n.lb_arn) {
        return Err(lb_not_found(&format!("'{}'", shorten(arn))));
    }
    check_known(&p.list("Names.member"), &n.tg_name, |x| tg_not_found(&format!("'{x}'")))?;
    check_known(&p.list("TargetGroupArns.member"), &n.tg_arn, |x| {
        tg_not_found(&format!("'{x}'"))
    })?;
    c.q.ok(&|x| {
        x.elem("TargetGroups", |x| {
            x.elem("member", |x| target_group(x, w, n));
        });
    })
}

/// DescribeTargetHealth: every registered target's health, or the asked-for targets' (`unused` when not registered).
fn describe_target_health(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, n, p) = (c.w, &c.n, c.q.p);
    let tg = required(p, "TargetGroupArn")?;
    if tg != n.tg_arn {
        return Err(tg_not_found(&format!("'{}'", shorten(tg))));
    }
    let wanted = target_ids(p, false)?;
    let instances: BTreeMap<String, InstanceRec> = w.instances().into_iter().map(|i| (i.id.clone(), i)).collect();
    if let Some(bad) = wanted.iter().find(|id| !instances.contains_key(*id)) {
        return Err(invalid_target(bad));
    }
    let targets = w.targets();
    let rows: Vec<Row> = if wanted.is_empty() {
        targets.iter().map(Row::registered).collect()
    } else {
        wanted
            .iter()
            .map(|id| match targets.iter().find(|t| &t.id == id) {
                Some(t) => Row::registered(t),
                None => Row {
                    id: id.clone(),
                    state: "unused",
                    reason: Some("Target.NotRegistered"),
                    description: Some("Target is not registered to the target group".into()),
                },
            })
            .collect()
    };
    c.q.ok(&|x| {
        x.elem("TargetHealthDescriptions", |x| {
            x.items("member", &rows, |x, r| health_description(x, r, instances.get(&r.id)));
        });
    })
}

/// DescribeListeners: the load balancer's one HTTP listener, forwarding to the target group.
fn describe_listeners(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, n, p) = (c.w, &c.n, c.q.p);
    let arns = p.list("ListenerArns.member");
    match p.get("LoadBalancerArn") {
        Some(arn) if arn != n.lb_arn => return Err(lb_not_found(&format!("'{}'", shorten(arn)))),
        None if arns.is_empty() => {
            return Err(validation(
                "You must specify either listener ARNs or a load balancer ARN",
            ));
        }
        _ => {}
    }
    check_known(&arns, &n.listener_arn, |x| {
        QueryError::bad("ListenerNotFound", format!("One or more listeners not found: {x}"))
    })?;
    let (_, port) = advertised(w);
    c.q.ok(&|x| {
        x.elem("Listeners", |x| {
            x.elem("member", |x| {
                x.text("ListenerArn", &n.listener_arn);
                x.text("LoadBalancerArn", &n.lb_arn);
                x.text("Port", port);
                x.text("Protocol", "HTTP");
                x.elem("DefaultActions", |x| {
                    x.elem("member", |x| {
                        x.text("Type", "forward");
                        x.text("TargetGroupArn", &n.tg_arn);
                        x.text("Order", 1);
                        x.elem("ForwardConfig", |x| {
                            x.elem("TargetGroups", |x| {
                                x.elem("member", |x| {
                                    x.text("TargetGroupArn", &n.tg_arn);
                                    x.text("Weight", 1);
                                });
                            });
                        });
                    });
                });
            });
        });
    })
}

/// RegisterTargets or DeregisterTargets (the call's action) of known, not terminated instances.
fn register_or_deregister_targets(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, n, p) = (c.w, &c.n, c.q.p);
    let tg = required(p, "TargetGroupArn")?;
    if tg != n.tg_arn {
        return Err(tg_not_found(&format!("'{}'", shorten(tg))));
    }
    let ids = target_ids(p, true)?;
    let instances = w.instances();
    let state = |id: &str| instances.iter().find(|i| i.id == id).map(|i| i.state);
    if let Some(bad) = ids.iter().find(|id| state(id).is_none()) {
        return Err(invalid_target(bad));
    }
    if c.q.action == "RegisterTargets" {
        if let Some(bad) = ids.iter().find(|id| state(id) == Some(InstanceState::Terminated)) {
            return Err(QueryError::bad(
                "InvalidTarget",
                format!(
                    "The following targets are not in a running state and cannot be registered: '{}'",
                    shorten(bad)
                ),
            ));
        }
        w.register_targets(&ids).map_err(|bad| invalid_target(&bad))?;
    } else {
        w.deregister_targets(&ids);
    }
    c.q.ok(&|_| {})
}

/// One row of DescribeTargetHealth: state, reason code and description as the
/// `TargetHealth` data type has them
/// (<https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html>):
/// no reason or description while `healthy`; `initial` with `Elb.InitialHealthChecking`;
/// `unhealthy` with `Target.ResponseCodeMismatch`, `Target.Timeout` or
/// `Target.FailedHealthChecks`; `unused` with `Target.NotRegistered` or
/// `Target.InvalidState` (instance stopped, pending or terminated); `draining` with
/// `Target.DeregistrationInProgress`.
struct Row {
    id: String,
    state: &'static str,
    reason: Option<&'static str>,
    description: Option<String>,
}

impl Row {
    fn registered(t: &TargetRec) -> Row {
        let healthy = t.health == Health::Healthy;
        Row {
            id: t.id.clone(),
            state: t.health.name(),
            reason: t.reason.filter(|_| !healthy),
            description: t.description.clone().filter(|_| !healthy),
        }
    }
}

fn health_description(x: &mut Xml, r: &Row, inst: Option<&InstanceRec>) {
    let port = inst.map(|i| i.addr.port());
    x.elem("Target", |x| {
        x.text("Id", &r.id);
        x.opt_text("Port", port);
        // No `AvailabilityZone`: the target group's type is `instance`, for which ELB
        // does not return it ("This parameter is not supported if the target type of
        // the target group is instance or alb", TargetDescription, ELBv2 API Reference,
        // https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetDescription.html).
        // A target's zone is its instance's placement (DescribeInstances).
    });
    x.opt_text("HealthCheckPort", port);
    x.elem("TargetHealth", |x| {
        x.text("State", r.state);
        x.opt_text("Reason", r.reason);
        x.opt_text("Description", r.description.as_deref());
    });
}

/// Where clients reach the listener: the stack's `advertise` (`HOST[:PORT]`) when set,
/// else the bound address (127.0.0.1 for a wildcard bind, as in a container).
fn advertised(w: &World) -> (String, u16) {
    let bound = w.lb_addr();
    let port = bound.map(|a| a.port()).unwrap_or(w.stack.load_balancer.listener_port);
    if let Some(adv) = &w.stack.load_balancer.advertise {
        return match adv.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(p))) => (host.to_string(), p),
            _ => (adv.clone(), port),
        };
    }
    let ip = match bound.map(|a| a.ip()) {
        Some(ip) if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        Some(ip) => ip,
        None => crate::world::lb_ip(w.region_index),
    };
    (ip.to_string(), port)
}

fn load_balancer(x: &mut Xml, w: &World, n: &Names) {
    x.text("LoadBalancerArn", &n.lb_arn);
    x.text("DNSName", advertised(w).0);
    x.text("CanonicalHostedZoneId", "Z35SXDOTRQ7X7K");
    x.text("CreatedTime", iso8601(created_unix_ms()));
    x.text("LoadBalancerName", &n.lb_name);
    x.text("Scheme", "internet-facing");
    x.text("VpcId", vpc_id(w));
    x.elem("State", |x| {
        x.text(
            "Code",
            if w.lb_addr().is_some() {
                "active"
            } else {
                "provisioning"
            },
        );
    });
    x.text("Type", "application");
    x.elem("AvailabilityZones", |x| {
        for zone in &w.stack.zones {
            if let Some(subnet) = w.stack.subnets.iter().find(|s| &s.zone == zone) {
                x.elem("member", |x| {
                    x.text("ZoneName", zone);
                    x.text("SubnetId", &subnet.id);
                });
            }
        }
    });
    x.text("IpAddressType", "ipv4");
}

/// Whole seconds for the SDK's integer fields, rounded up, at least 1.
fn secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

fn target_group(x: &mut Xml, w: &World, n: &Names) {
    let hc = &w.stack.load_balancer.target_group.health_check;
    x.text("TargetGroupArn", &n.tg_arn);
    x.text("TargetGroupName", &n.tg_name);
    x.text("Protocol", "HTTP");
    x.text("Port", 80);
    x.text("VpcId", vpc_id(w));
    x.text("HealthCheckProtocol", "HTTP");
    x.text("HealthCheckPort", "traffic-port");
    x.text("HealthCheckEnabled", true);
    x.text("HealthCheckIntervalSeconds", secs(hc.interval.0));
    x.text("HealthCheckTimeoutSeconds", secs(hc.timeout.0));
    x.text("HealthyThresholdCount", hc.healthy_threshold);
    x.text("UnhealthyThresholdCount", hc.unhealthy_threshold);
    x.text("HealthCheckPath", &hc.path);
    x.elem("Matcher", |x| {
        x.text("HttpCode", "200");
    });
    x.elem("LoadBalancerArns", |x| {
        x.text("member", &n.lb_arn);
    });
    x.text("TargetType", "instance");
    x.text("ProtocolVersion", "HTTP1");
    x.text("IpAddressType", "ipv4");
}

/// Every name in `given` must be `known`; otherwise the error for the unknown ones.
fn check_known(given: &[String], known: &str, err: impl Fn(&str) -> QueryError) -> Result<(), QueryError> {
    let mut unknown: Vec<String> = given.iter().filter(|g| *g != known).map(|g| shorten(g)).collect();
    unknown.sort();
    unknown.dedup();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(err(&unknown.join("', '")))
    }
}

fn required<'a>(p: &'a Params, key: &str) -> Result<&'a str, QueryError> {
    p.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
        validation(&format!(
            "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// The ids of `Targets.member.N.Id`; `required` makes an empty list an error.
fn target_ids(p: &Params, required: bool) -> Result<Vec<String>, QueryError> {
    let items = p.items("Targets.member");
    if required && items.is_empty() {
        return Err(validation("1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.get("Id").filter(|v| !v.is_empty()).map(str::to_string).ok_or_else(|| {
                validation(&format!("1 validation error detected: Value null at 'targets.{}.member.id' failed to satisfy constraint: Member must not be null", i + 1))
            })
        })
        .collect()
}

fn validation(message: &str) -> QueryError {
    QueryError::bad("ValidationError", message)
}

fn lb_not_found(what: &str) -> QueryError {
    QueryError::bad("LoadBalancerNotFound", format!("Load balancers {what} not found"))
}

fn tg_not_found(what: &str) -> QueryError {
    QueryError::bad("TargetGroupNotFound", format!("Target groups {what} not found"))
}

fn invalid_target(id: &str) -> QueryError {
    QueryError::bad(
        "InvalidTarget",
        format!("The following targets are not valid instances: '{}'", shorten(id)),
    )
}
