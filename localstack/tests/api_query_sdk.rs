//! The query-protocol services (ELBv2, EC2, RDS) of the local stack, called with the
//! official AWS SDK crates: every operation's output is parsed by the SDK's own
//! deserializer and checked against the running stack, and error codes come back as the
//! SDK's modelled errors.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_elasticloadbalancingv2::types::{
    ActionTypeEnum, ProtocolEnum, TargetDescription, TargetHealthStateEnum, TargetTypeEnum,
};
use aws_sdk_rds::error::ProvideErrorMetadata;
use drdrill_localstack::{LocalStack, Options, Stack};

/// Starts the shipped multi-AZ stack on an ephemeral endpoint port with an SDK config
/// pointed at it.
async fn start() -> (LocalStack, SdkConfig) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stacks/multi-az.yaml");
    let stack = Stack::load(&path).expect("shipped stack loads");
    let endpoint: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let ls = LocalStack::start(stack, Options { endpoint })
        .await
        .expect("local stack starts");
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(ls.endpoint_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    (ls, conf)
}

/// Polls `check` every 50 ms until it is true; panics naming `what` after `limit`.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn addr_of(ls: &LocalStack, id: &str) -> SocketAddr {
    ls.world
        .instances()
        .into_iter()
        .find(|i| i.id == id)
        .map(|i| i.addr)
        .expect("instance exists")
}

/// ELBv2: the load balancer, target group and listener describe the running stack
/// (DNS name is the proxy's IP, listener port is the proxy's port); target health
/// starts `initial` and turns `healthy` from the real health checks; deregistering (after
/// draining) and registering a target really changes the group; unknown names and ids are
/// LoadBalancerNotFound, TargetGroupNotFound and InvalidTarget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elbv2_operations_through_the_sdk() {
    let (ls, conf) = start().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let lb_addr = ls.world.lb_addr().expect("load balancer listens");

    // Target health right after start: every target still in its initial checks.
    let first = elb.describe_target_groups().send().await.expect("DescribeTargetGroups");
    let tg_arn = first.target_groups()[0].target_group_arn().expect("tg arn").to_string();
    let th = elb
        .describe_target_health()
        .target_group_arn(&tg_arn)
        .send()
        .await
        .expect("DescribeTargetHealth");
    assert_eq!(th.target_health_descriptions().len(), 6);
    // One passing check makes a new target healthy, so some may already be: every target
    // is `initial` (with its reason) or `healthy`.
    for d in th.target_health_descriptions() {
        let h = d.target_health().expect("health");
        match h.state() {
            Some(TargetHealthStateEnum::Initial) => {
                assert_eq!(h.reason().map(|r| r.as_str()), Some("Elb.InitialHealthChecking"));
                assert_eq!(h.description(), Some("Initial health checks in progress"));
            }
            Some(TargetHealthStateEnum::Healthy) => assert_eq!(h.reason(), None),
            other => panic!("a new target is initial or healthy, not {other:?}"),
        }
    }

    // DescribeLoadBalancers.
    let out = elb
        .describe_load_balancers()
        .names("drill-alb")
        .send()
        .await
        .expect("DescribeLoadBalancers");
    assert_eq!(out.load_balancers().len(), 1);
    let lb = &out.load_balancers()[0];
    let lb_arn = lb.load_balancer_arn().expect("lb arn").to_string();
    assert!(
        lb_arn.starts_with("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/drill-alb/"),
        "{lb_arn}"
    );
    assert_eq!(lb_arn.rsplit('/').next().map(str::len), Some(16));
    assert_eq!(lb.load_balancer_name(), Some("drill-alb"));
    assert_eq!(lb.dns_name(), Some(lb_addr.ip().to_string().as_str()));
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    assert_eq!(lb.r#type().map(|s| s.as_str()), Some("application"));
    assert_eq!(lb.state().and_then(|s| s.code()).map(|c| c.as_str()), Some("active"));
    assert_eq!(lb.ip_address_type().map(|s| s.as_str()), Some("ipv4"));
    assert!(lb.vpc_id().is_some_and(|v| v.starts_with("vpc-")));
    assert!(lb.created_time().is_some());
    let zones: Vec<(String, String)> = lb
        .availability_zones()
        .iter()
        .map(|z| {
            (
                z.zone_name().unwrap_or_default().to_string(),
                z.subnet_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        zones,
        [
            ("us-east-1a", "subnet-app-1a"),
            ("us-east-1b", "subnet-app-1b"),
            ("us-east-1c", "subnet-app-1c")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The same ARN again, by ARN, and with no filter at all.
    let again = elb
        .describe_load_balancers()
        .load_balancer_arns(&lb_arn)
        .send()
        .await
        .expect("by arn");
    assert_eq!(again.load_balancers()[0].load_balancer_arn(), Some(lb_arn.as_str()));
    assert_eq!(
        elb.describe_load_balancers()
            .send()
            .await
            .expect("all")
            .load_balancers()
            .len(),
        1
    );
    let err = elb
        .describe_load_balancers()
        .names("no-such-lb")
        .send()
        .await
        .expect_err("unknown name");
    assert_eq!(err.code(), Some("LoadBalancerNotFound"));
    assert!(err.into_service_error().is_load_balancer_not_found_exception());

    // DescribeTargetGroups by load balancer, with the stack's health-check settings.
    let out = elb
        .describe_target_groups()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .expect("DescribeTargetGroups by lb");
    assert_eq!(out.target_groups().len(), 1);
    let tg = &out.target_groups()[0];
    assert_eq!(tg.target_group_arn(), Some(tg_arn.as_str()));
    assert!(
        tg_arn.starts_with("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/drill-app/"),
        "{tg_arn}"
    );
    assert_eq!(tg.target_group_name(), Some("drill-app"));
    assert_eq!(tg.health_check_path(), Some("/health"));
    assert_eq!(
        tg.health_check_interval_seconds(),
        Some(1),
        "500ms rounds up to whole seconds"
    );
    assert_eq!(tg.health_check_timeout_seconds(), Some(1));
    assert_eq!(tg.healthy_threshold_count(), Some(2));
    assert_eq!(tg.unhealthy_threshold_count(), Some(2));
    assert_eq!(tg.protocol(), Some(&ProtocolEnum::Http));
    assert_eq!(tg.target_type(), Some(&TargetTypeEnum::Instance));
    assert!(tg.port().is_some());
    assert_eq!(tg.load_balancer_arns(), std::slice::from_ref(&lb_arn));
    let by_name = elb
        .describe_target_groups()
        .names("drill-app")
        .send()
        .await
        .expect("by name");
    assert_eq!(by_name.target_groups().len(), 1);
    let by_arn = elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .expect("by arn");
    assert_eq!(by_arn.target_groups().len(), 1);
    let err = elb
        .describe_target_groups()
        .names("no-such-tg")
        .send()
        .await
        .expect_err("unknown tg");
    assert_eq!(err.code(), Some("TargetGroupNotFound"));
    assert!(err.into_service_error().is_target_group_not_found_exception());

    // DescribeListeners: the proxy's real port, forwarding to the target group.
    let out = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .expect("DescribeListeners");
    assert_eq!(out.listeners().len(), 1);
    let l = &out.listeners()[0];
    assert_eq!(l.port(), Some(i32::from(lb_addr.port())));
    assert_eq!(l.protocol(), Some(&ProtocolEnum::Http));
    assert_eq!(l.load_balancer_arn(), Some(lb_arn.as_str()));
    let action = &l.default_actions()[0];
    assert_eq!(action.r#type(), Some(&ActionTypeEnum::Forward));
    assert_eq!(action.target_group_arn(), Some(tg_arn.as_str()));

    // Target health becomes healthy through real health checks.
    wait_until(
        Duration::from_secs(10),
        "every target is healthy per DescribeTargetHealth",
        || async {
            let th = elb
                .describe_target_health()
                .target_group_arn(&tg_arn)
                .send()
                .await
                .expect("DescribeTargetHealth");
            th.target_health_descriptions().len() == 6
                && th
                    .target_health_descriptions()
                    .iter()
                    .all(|d| d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy))
        },
    )
    .await;

    // The Targets filter: one target, with its port.
    let one = TargetDescription::builder().id("i-app1a1").build();
    let th = elb
        .describe_target_health()
        .target_group_arn(&tg_arn)
        .targets(one.clone())
        .send()
        .await
        .expect("filtered");
    assert_eq!(th.target_health_descriptions().len(), 1);
    let d = &th.target_health_descriptions()[0];
    let t = d.target().expect("target");
    assert_eq!(t.id(), Some("i-app1a1"));
    assert_eq!(t.port(), Some(i32::from(addr_of(&ls, "i-app1a1").port())));
    // ELB gives no zone for `instance` targets (TargetDescription, ELBv2 API Reference).
    assert_eq!(t.availability_zone(), None);
    assert_eq!(
        d.target_health().and_then(|h| h.reason()),
        None,
        "healthy targets have no reason"
    );

    // DeregisterTargets drains the target (the shipped stack's deregistration delay is
    // 1 s), then removes it from the group.
    elb.deregister_targets()
        .target_group_arn(&tg_arn)
        .targets(one.clone())
        .send()
        .await
        .expect("DeregisterTargets");
    let th = elb
        .describe_target_health()
        .target_group_arn(&tg_arn)
        .targets(one.clone())
        .send()
        .await
        .expect("draining");
    let h = th.target_health_descriptions()[0].target_health().expect("health");
    assert_eq!(h.state(), Some(&TargetHealthStateEnum::Draining));
    assert_eq!(h.reason().map(|r| r.as_str()), Some("Target.DeregistrationInProgress"));
    wait_until(
        Duration::from_secs(5),
        "the deregistered target left the group",
        || async {
            let th = elb
                .describe_target_health()
                .target_group_arn(&tg_arn)
                .send()
                .await
                .expect("after deregister");
            let ids: Vec<&str> = th
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target()?.id())
                .collect();
            ids.len() == 5 && !ids.contains(&"i-app1a1")
        },
    )
    .await;
    let th = elb
        .describe_target_health()
        .target_group_arn(&tg_arn)
        .targets(one.clone())
        .send()
        .await
        .expect("unregistered");
    let h = th.target_health_descriptions()[0].target_health().expect("health");
    assert_eq!(h.state(), Some(&TargetHealthStateEnum::Unused));
    assert_eq!(h.reason().map(|r| r.as_str()), Some("Target.NotRegistered"));
    assert!(!ls.world.targets().iter().any(|t| t.id == "i-app1a1"));

    // RegisterTargets brings it back: initial, then healthy.
    elb.register_targets()
        .target_group_arn(&tg_arn)
        .targets(one.clone())
        .send()
        .await
        .expect("RegisterTargets");
    assert!(ls.world.targets().iter().any(|t| t.id == "i-app1a1"));
    wait_until(
        Duration::from_secs(10),
        "the re-registered target is healthy",
        || async {
            let th = elb
                .describe_target_health()
                .target_group_arn(&tg_arn)
                .targets(one.clone())
                .send()
                .await
                .expect("health");
            th.target_health_descriptions()[0]
                .target_health()
                .and_then(|h| h.state())
                == Some(&TargetHealthStateEnum::Healthy)
        },
    )
    .await;

    // Unknown instance and unknown target group.
    let nope = TargetDescription::builder().id("i-nope").build();
    let err = elb
        .register_targets()
        .target_group_arn(&tg_arn)
        .targets(nope.clone())
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(err.code(), Some("InvalidTarget"));
    assert!(err.into_service_error().is_invalid_target_exception());
    let err = elb
        .deregister_targets()
        .target_group_arn(&tg_arn)
        .targets(nope)
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(err.code(), Some("InvalidTarget"));
    let bad_tg = tg_arn.replace("drill-app", "other-tg");
    let err = elb
        .register_targets()
        .target_group_arn(&bad_tg)
        .targets(one)
        .send()
        .await
        .expect_err("unknown tg");
    assert_eq!(err.code(), Some("TargetGroupNotFound"));
    let err = elb
        .describe_target_health()
        .target_group_arn(&bad_tg)
        .send()
        .await
        .expect_err("unknown tg");
    assert_eq!(err.code(), Some("TargetGroupNotFound"));
    ls.shutdown().await;
}

/// EC2: DescribeInstances with the filters a drill uses returns exactly the matching
/// instances with their real addresses; subnets and zones describe the stack; StopInstances
/// really stops the server (connections refused) and StartInstances brings it back;
/// unknown ids are InvalidInstanceID.NotFound and unknown filters InvalidParameterValue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_operations_through_the_sdk() {
    let (ls, conf) = start().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let filter = |name: &str, values: &[&str]| {
        Filter::builder()
            .name(name)
            .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
            .build()
    };
    let ids_of = |out: &aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput| {
        sorted(
            out.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect(),
        )
    };

    // Zone filter: exactly the two instances of us-east-1a, with their real data.
    let out = ec2
        .describe_instances()
        .filters(filter("availability-zone", &["us-east-1a"]))
        .send()
        .await
        .expect("DescribeInstances");
    assert_eq!(ids_of(&out), ["i-app1a1", "i-app1a2"]);
    let inst = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some("i-app1a1"))
        .expect("i-app1a1");
    assert_eq!(
        inst.private_ip_address(),
        Some(addr_of(&ls, "i-app1a1").ip().to_string().as_str())
    );
    assert_eq!(inst.subnet_id(), Some("subnet-app-1a"));
    assert_eq!(inst.placement().and_then(|p| p.availability_zone()), Some("us-east-1a"));
    assert_eq!(inst.state().and_then(|s| s.name()), Some(&InstanceStateName::Running));
    assert_eq!(inst.state().and_then(|s| s.code()), Some(16));
    assert!(inst.launch_time().is_some());
    assert!(inst.image_id().is_some() && inst.instance_type().is_some());
    let vpc = inst.vpc_id().expect("vpc id").to_string();
    let name_tag = inst
        .tags()
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value());
    assert_eq!(name_tag, Some("app-1a-1"));

    // The other filters.
    let all = ec2.describe_instances().send().await.expect("all instances");
    assert_eq!(ids_of(&all).len(), 6);
    assert_eq!(all.next_token(), None, "without MaxResults, one page");

    // Pages (MaxResults 5, the least EC2 accepts): 5 then 1, the last with no token;
    // the SDK's paginator walks them to the same six instances in the same order.
    let first = ec2.describe_instances().max_results(5).send().await.expect("page 1");
    assert_eq!(ids_of(&first), ids_of(&all)[..5]);
    let token = first.next_token().expect("a token to the second page").to_string();
    let second = ec2
        .describe_instances()
        .max_results(5)
        .next_token(&token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(ids_of(&second), ids_of(&all)[5..]);
    assert_eq!(second.next_token(), None, "the last page has no token");
    let walked: Vec<String> = ec2
        .describe_instances()
        .max_results(5)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginator")
        .iter()
        .flat_map(|r| r.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)))
        .collect();
    assert_eq!(walked, ids_of(&all));
    let err = ec2
        .describe_instances()
        .max_results(5)
        .instance_ids("i-app1a1")
        .send()
        .await
        .expect_err("MaxResults with InstanceIds");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("InvalidParameterCombination")
    );
    let out = ec2
        .describe_instances()
        .filters(filter("tag:Name", &["app-1b-*"]))
        .send()
        .await
        .expect("tag filter");
    assert_eq!(ids_of(&out), ["i-app1b1", "i-app1b2"]);
    let out = ec2
        .describe_instances()
        .filters(filter("tag-key", &["AzImpairmentPower"]))
        .filters(filter("instance-state-name", &["running"]))
        .filters(filter("subnet-id", &["subnet-app-1c"]))
        .send()
        .await
        .expect("combined filters");
    assert_eq!(ids_of(&out), ["i-app1c1", "i-app1c2"]);
    let out = ec2
        .describe_instances()
        .filters(filter("instance-id", &["i-app1a2", "i-app1b1"]))
        .send()
        .await
        .expect("id filter");
    assert_eq!(ids_of(&out), ["i-app1a2", "i-app1b1"]);
    let out = ec2
        .describe_instances()
        .instance_ids("i-app1c2")
        .send()
        .await
        .expect("by id");
    assert_eq!(ids_of(&out), ["i-app1c2"]);
    let out = ec2
        .describe_instances()
        .filters(filter("availability-zone", &["us-east-1z"]))
        .send()
        .await
        .expect("no match");
    assert!(out.reservations().is_empty());
    let err = ec2
        .describe_instances()
        .filters(filter("shoe-size", &["42"]))
        .send()
        .await
        .expect_err("unknown filter");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("InvalidParameterValue")
    );
    let err = ec2
        .describe_instances()
        .instance_ids("i-nope")
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("InvalidInstanceID.NotFound")
    );
    assert!(aws_sdk_ec2::error::ProvideErrorMetadata::message(&err).is_some_and(|m| m.contains("i-nope")));

    // Subnets.
    let out = ec2.describe_subnets().send().await.expect("DescribeSubnets");
    assert_eq!(out.subnets().len(), 6);
    for s in out.subnets() {
        let cidr = s.cidr_block().expect("cidr");
        assert!(cidr.starts_with("10.0.") && cidr.ends_with(".0/24"), "{cidr}");
        assert_eq!(s.vpc_id(), Some(vpc.as_str()));
        assert_eq!(s.state().map(|s| s.as_str()), Some("available"));
    }
    let out = ec2
        .describe_subnets()
        .filters(filter("availability-zone", &["us-east-1b"]))
        .send()
        .await
        .expect("zone filter");
    let ids = sorted(
        out.subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect(),
    );
    assert_eq!(ids, ["subnet-app-1b", "subnet-db-1b"]);
    let out = ec2
        .describe_subnets()
        .filters(filter("tag:Tier", &["db"]))
        .send()
        .await
        .expect("tag filter");
    let ids = sorted(
        out.subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect(),
    );
    assert_eq!(ids, ["subnet-db-1a", "subnet-db-1b", "subnet-db-1c"]);
    let out = ec2
        .describe_subnets()
        .subnet_ids("subnet-app-1c")
        .send()
        .await
        .expect("by id");
    let s = &out.subnets()[0];
    assert_eq!(s.availability_zone(), Some("us-east-1c"));
    assert!(s
        .tags()
        .iter()
        .any(|t| t.key() == Some("Tier") && t.value() == Some("app")));

    // Availability zones.
    let out = ec2
        .describe_availability_zones()
        .send()
        .await
        .expect("DescribeAvailabilityZones");
    let zones: Vec<(&str, &str, &str)> = out
        .availability_zones()
        .iter()
        .map(|z| {
            (
                z.zone_name().unwrap_or_default(),
                z.zone_id().unwrap_or_default(),
                z.region_name().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        zones,
        [
            ("us-east-1a", "use1-az1", "us-east-1"),
            ("us-east-1b", "use1-az2", "us-east-1"),
            ("us-east-1c", "use1-az3", "us-east-1")
        ]
    );
    assert!(out
        .availability_zones()
        .iter()
        .all(|z| z.state().map(|s| s.as_str()) == Some("available")));

    // StopInstances: the state changes and the server refuses connections.
    let addr = addr_of(&ls, "i-app1a1");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_ok(),
        "running instance accepts connections"
    );
    let out = ec2
        .stop_instances()
        .instance_ids("i-app1a1")
        .send()
        .await
        .expect("StopInstances");
    let change = &out.stopping_instances()[0];
    assert_eq!(change.instance_id(), Some("i-app1a1"));
    assert_eq!(
        change.previous_state().and_then(|s| s.name()),
        Some(&InstanceStateName::Running)
    );
    // AWS answers StopInstances with the instance `stopping` (API reference example:
    // CurrentState stopping, code 64); it is `stopped` once it has shut down.
    assert_eq!(
        change.current_state().and_then(|s| s.name()),
        Some(&InstanceStateName::Stopping)
    );
    assert_eq!(change.current_state().and_then(|s| s.code()), Some(64));
    // The instance's state name, as DescribeInstances gives it.
    let state_of = |id: &'static str| {
        let ec2 = ec2.clone();
        async move {
            let out = ec2
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .expect("describe");
            out.reservations()[0].instances()[0]
                .state()
                .and_then(|s| s.name())
                .cloned()
        }
    };
    wait_until(Duration::from_secs(10), "the stopping instance is stopped", || async {
        state_of("i-app1a1").await == Some(InstanceStateName::Stopped)
    })
    .await;
    let out = ec2
        .describe_instances()
        .filters(filter("instance-state-name", &["stopped"]))
        .send()
        .await
        .expect("stopped filter");
    assert_eq!(ids_of(&out), ["i-app1a1"]);
    wait_until(Duration::from_secs(5), "the stopped instance refuses connections", || async {
        matches!(tokio::net::TcpStream::connect(addr).await, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
    })
    .await;

    // StartInstances: pending, then running and accepting connections again.
    let out = ec2
        .start_instances()
        .instance_ids("i-app1a1")
        .send()
        .await
        .expect("StartInstances");
    let change = &out.starting_instances()[0];
    assert_eq!(
        change.previous_state().and_then(|s| s.name()),
        Some(&InstanceStateName::Stopped)
    );
    assert_eq!(
        change.current_state().and_then(|s| s.name()),
        Some(&InstanceStateName::Pending)
    );
    wait_until(Duration::from_secs(10), "the started instance is running", || async {
        state_of("i-app1a1").await == Some(InstanceStateName::Running)
    })
    .await;
    wait_until(
        Duration::from_secs(5),
        "the started instance accepts connections",
        || async { tokio::net::TcpStream::connect(addr).await.is_ok() },
    )
    .await;

    let err = ec2
        .stop_instances()
        .instance_ids("i-nope")
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("InvalidInstanceID.NotFound")
    );
    let err = ec2
        .start_instances()
        .instance_ids("i-nope")
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("InvalidInstanceID.NotFound")
    );
    ls.shutdown().await;
}

/// RDS: the cluster and its DB instances describe the stack's database; FailoverDBCluster
/// really promotes the standby (IsClusterWriter flips, status failing-over, then
/// available); unknown clusters and instances are DBClusterNotFoundFault and
/// DBInstanceNotFound; a failover during a failover is InvalidDBClusterStateFault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_operations_through_the_sdk() {
    let (ls, conf) = start().await;
    let rds = aws_sdk_rds::Client::new(&conf);
    let writer_of = |c: &aws_sdk_rds::types::DbCluster| {
        c.db_cluster_members()
            .iter()
            .filter(|m| m.is_cluster_writer() == Some(true))
            .filter_map(|m| m.db_instance_identifier().map(str::to_string))
            .collect::<Vec<_>>()
    };

    let out = rds.describe_db_clusters().send().await.expect("DescribeDBClusters");
    assert_eq!(out.db_clusters().len(), 1);
    let c = &out.db_clusters()[0];
    assert_eq!(c.db_cluster_identifier(), Some("drill-db"));
    assert_eq!(
        c.db_cluster_arn(),
        Some("arn:aws:rds:us-east-1:000000000000:cluster:drill-db")
    );
    assert_eq!(c.status(), Some("available"));
    assert_eq!(c.multi_az(), Some(true));
    assert!(c.engine().is_some());
    assert_eq!(
        c.availability_zones(),
        ["us-east-1a".to_string(), "us-east-1b".to_string()]
    );
    let members = sorted(
        c.db_cluster_members()
            .iter()
            .filter_map(|m| m.db_instance_identifier().map(str::to_string))
            .collect(),
    );
    assert_eq!(members, ["drill-db-1", "drill-db-2"]);
    assert_eq!(writer_of(c), ["drill-db-1"]);
    let by_id = rds
        .describe_db_clusters()
        .db_cluster_identifier("drill-db")
        .send()
        .await
        .expect("by id");
    assert_eq!(by_id.db_clusters().len(), 1);
    let err = rds
        .describe_db_clusters()
        .db_cluster_identifier("no-such-db")
        .send()
        .await
        .expect_err("unknown cluster");
    assert_eq!(err.code(), Some("DBClusterNotFoundFault"));
    assert!(err.into_service_error().is_db_cluster_not_found_fault());

    // DB instances.
    let out = rds.describe_db_instances().send().await.expect("DescribeDBInstances");
    let nodes: Vec<(&str, &str, &str)> = out
        .db_instances()
        .iter()
        .map(|i| {
            (
                i.db_instance_identifier().unwrap_or_default(),
                i.availability_zone().unwrap_or_default(),
                i.db_instance_status().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("drill-db-1", "us-east-1a", "available"),
            ("drill-db-2", "us-east-1b", "available")
        ]
    );
    assert!(out
        .db_instances()
        .iter()
        .all(|i| i.db_cluster_identifier() == Some("drill-db")));
    let one = rds
        .describe_db_instances()
        .db_instance_identifier("drill-db-2")
        .send()
        .await
        .expect("by id");
    assert_eq!(one.db_instances().len(), 1);
    let err = rds
        .describe_db_instances()
        .db_instance_identifier("nope")
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(err.code(), Some("DBInstanceNotFound"));

    // FailoverDBCluster promotes the standby.
    let out = rds
        .failover_db_cluster()
        .db_cluster_identifier("drill-db")
        .send()
        .await
        .expect("FailoverDBCluster");
    let c = out.db_cluster().expect("cluster");
    assert_eq!(writer_of(c), ["drill-db-2"]);
    assert_eq!(c.status(), Some("failing-over"));
    assert_eq!(ls.world.with_db(|db| db.writer().id.clone()), "drill-db-2");
    let err = rds
        .failover_db_cluster()
        .db_cluster_identifier("drill-db")
        .send()
        .await
        .expect_err("already failing over");
    assert_eq!(err.code(), Some("InvalidDBClusterStateFault"));
    let out = rds
        .describe_db_clusters()
        .db_cluster_identifier("drill-db")
        .send()
        .await
        .expect("after failover");
    assert_eq!(writer_of(&out.db_clusters()[0]), ["drill-db-2"]);
    wait_until(Duration::from_secs(10), "the cluster is available again", || async {
        let out = rds.describe_db_clusters().send().await.expect("describe");
        out.db_clusters()[0].status() == Some("available")
    })
    .await;
    // And back again, naming the target.
    let out = rds
        .failover_db_cluster()
        .db_cluster_identifier("drill-db")
        .target_db_instance_identifier("drill-db-1")
        .send()
        .await
        .expect("failover back");
    assert_eq!(writer_of(out.db_cluster().expect("cluster")), ["drill-db-1"]);
    let err = rds
        .failover_db_cluster()
        .db_cluster_identifier("no-such-db")
        .send()
        .await
        .expect_err("unknown cluster");
    assert_eq!(err.code(), Some("DBClusterNotFoundFault"));
    assert!(err.into_service_error().is_db_cluster_not_found_fault());
    ls.shutdown().await;
}
