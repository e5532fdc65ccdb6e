//! ELBv2 through its SDK: load balancer, target group, listener, target health and
//! (de)registration.

use super::*;

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
    let th = target_health(&elb, &tg_arn, None, "DescribeTargetHealth").await;
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
    let err = expect_code(
        elb.describe_load_balancers().names("no-such-lb").send().await,
        "unknown name",
        "LoadBalancerNotFound",
    );
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
    let err = expect_code(
        elb.describe_target_groups().names("no-such-tg").send().await,
        "unknown tg",
        "TargetGroupNotFound",
    );
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
            let th = target_health(&elb, &tg_arn, None, "DescribeTargetHealth").await;
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
    let th = target_health(&elb, &tg_arn, Some(&one), "filtered").await;
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
    let th = target_health(&elb, &tg_arn, Some(&one), "draining").await;
    let h = th.target_health_descriptions()[0].target_health().expect("health");
    assert_eq!(h.state(), Some(&TargetHealthStateEnum::Draining));
    assert_eq!(h.reason().map(|r| r.as_str()), Some("Target.DeregistrationInProgress"));
    wait_until(
        Duration::from_secs(5),
        "the deregistered target left the group",
        || async {
            let th = target_health(&elb, &tg_arn, None, "after deregister").await;
            let ids: Vec<&str> = th
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target()?.id())
                .collect();
            ids.len() == 5 && !ids.contains(&"i-app1a1")
        },
    )
    .await;
    let th = target_health(&elb, &tg_arn, Some(&one), "unregistered").await;
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
            let th = target_health(&elb, &tg_arn, Some(&one), "health").await;
            th.target_health_descriptions()[0]
                .target_health()
                .and_then(|h| h.state())
                == Some(&TargetHealthStateEnum::Healthy)
        },
    )
    .await;

    // Unknown instance and unknown target group.
    let nope = TargetDescription::builder().id("i-nope").build();
    let err = expect_code(
        elb.register_targets()
            .target_group_arn(&tg_arn)
            .targets(nope.clone())
            .send()
            .await,
        "unknown instance",
        "InvalidTarget",
    );
    assert!(err.into_service_error().is_invalid_target_exception());
    expect_code(
        elb.deregister_targets()
            .target_group_arn(&tg_arn)
            .targets(nope)
            .send()
            .await,
        "unknown instance",
        "InvalidTarget",
    );
    let bad_tg = tg_arn.replace("drill-app", "other-tg");
    expect_code(
        elb.register_targets()
            .target_group_arn(&bad_tg)
            .targets(one)
            .send()
            .await,
        "unknown tg",
        "TargetGroupNotFound",
    );
    expect_code(
        elb.describe_target_health().target_group_arn(&bad_tg).send().await,
        "unknown tg",
        "TargetGroupNotFound",
    );
    ls.shutdown().await;
}

/// DescribeTargetHealth of the target group `tg_arn`, for one target when given (`what`
/// names the call).
async fn target_health(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    tg_arn: &str,
    target: Option<&TargetDescription>,
    what: &str,
) -> aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput {
    elb.describe_target_health()
        .target_group_arn(tg_arn)
        .set_targets(target.map(|t| vec![t.clone()]))
        .send()
        .await
        .expect(what)
}
