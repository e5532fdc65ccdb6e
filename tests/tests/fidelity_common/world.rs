//! The fidelity world, built twice: in moto through the SDK's create calls, and in the
//! local stack from `tests/stacks/fidelity.yaml`. Both have the same VPC layout, tags,
//! load balancer, target group settings, Aurora cluster and Route 53 records.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use drdrill::status::TargetHealthState;
use drdrill_localstack::{LocalStack, Options, Stack};

use super::side::Side;

/// The local half's stack file.
pub fn stack_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stacks/fidelity.yaml")
}

/// Zones and, per zone, the subnet CIDR (as the local stack numbers them).
const ZONES: [(&str, &str); 3] = [
    ("us-east-1a", "10.0.0.0/24"),
    ("us-east-1b", "10.0.1.0/24"),
    ("us-east-1c", "10.0.2.0/24"),
];

fn ec2_tags(rt: aws_sdk_ec2::types::ResourceType, tags: &[(&str, &str)]) -> aws_sdk_ec2::types::TagSpecification {
    let mut b = aws_sdk_ec2::types::TagSpecification::builder().resource_type(rt);
    for (k, v) in tags {
        b = b.tags(aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
    }
    b.build()
}

/// Builds the world in moto with the SDK's create calls.
pub async fn build_in_moto(m: &Side) {
    use aws_sdk_ec2::types::{InstanceType, ResourceType};
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum, TargetDescription,
        TargetTypeEnum,
    };
    use aws_sdk_route53::types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
        ResourceRecordSet, ResourceRecordSetFailover, RrType,
    };

    let vpc = m
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_string();
    let mut subnets = Vec::new();
    let mut instances = Vec::new();
    for (zone, cidr) in ZONES {
        let s = m
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .tag_specifications(ec2_tags(
                ResourceType::Subnet,
                &[("Tier", "app"), ("AzImpairmentPower", "DisruptSubnet")],
            ))
            .send()
            .await
            .expect("CreateSubnet");
        let subnet = s.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_string();
        // One RunInstances per instance: a reservation per instance, as the local stack has.
        for n in 1..=2 {
            let name = format!("app-1{}-{n}", &zone[zone.len() - 1..]);
            let r = m
                .ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::T3Micro)
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .tag_specifications(ec2_tags(
                    ResourceType::Instance,
                    &[("Name", &name), ("Tier", "app"), ("AzImpairmentPower", "StopInstances")],
                ))
                .send()
                .await
                .expect("RunInstances");
            instances.push(r.instances()[0].instance_id().expect("instance id").to_string());
        }
        subnets.push(subnet);
    }

    let lb = m
        .elb
        .create_load_balancer()
        .name("drill-alb")
        .set_subnets(Some(subnets))
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .send()
        .await
        .expect("CreateLoadBalancer");
    let lb = &lb.load_balancers()[0];
    let lb_arn = lb.load_balancer_arn().expect("lb arn").to_string();
    let lb_dns = lb.dns_name().expect("lb dns").to_string();
    let lb_zone = lb.canonical_hosted_zone_id().expect("lb zone").to_string();
    let tg = m
        .elb
        .create_target_group()
        .name("drill-app")
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
        .target_type(TargetTypeEnum::Instance)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_path("/health")
        .health_check_interval_seconds(5)
        .health_check_timeout_seconds(2)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .matcher(Matcher::builder().http_code("200").build())
        .send()
        .await
        .expect("CreateTargetGroup");
    let tg_arn = tg.target_groups()[0].target_group_arn().expect("tg arn").to_string();
    m.elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg_arn)
                .build(),
        )
        .send()
        .await
        .expect("CreateListener");
    let mut reg = m.elb.register_targets().target_group_arn(&tg_arn);
    for i in &instances {
        reg = reg.targets(TargetDescription::builder().id(i).build());
    }
    reg.send().await.expect("RegisterTargets");

    m.rds
        .create_db_cluster()
        .db_cluster_identifier("drill-db")
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .master_username("drill")
        .master_user_password("drill-fidelity-1")
        .port(5432)
        .tags(aws_sdk_rds::types::Tag::builder().key("Tier").value("db").build())
        .send()
        .await
        .expect("CreateDBCluster");
    for (id, zone) in [("drill-db-1", "us-east-1a"), ("drill-db-2", "us-east-1b")] {
        m.rds
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class("db.r6g.large")
            .engine("aurora-postgresql")
            .db_cluster_identifier("drill-db")
            .availability_zone(zone)
            .send()
            .await
            .expect("CreateDBInstance");
    }

    let zone = m
        .route53
        .create_hosted_zone()
        .name("drill.test")
        .caller_reference("fidelity-zone")
        .send()
        .await
        .expect("CreateHostedZone");
    let zone_id = zone.hosted_zone().expect("zone").id().to_string();
    let hc = m
        .route53
        .create_health_check()
        .caller_reference("fidelity-hc")
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Http)
                .fully_qualified_domain_name(&lb_dns)
                .port(80)
                .resource_path("/health")
                .request_interval(10)
                .failure_threshold(2)
                .build()
                .expect("health check config"),
        )
        .send()
        .await
        .expect("CreateHealthCheck");
    let hc_id = hc.health_check().expect("health check").id().to_string();
    let alias = || {
        AliasTarget::builder()
            .hosted_zone_id(&lb_zone)
            .dns_name(&lb_dns)
            .evaluate_target_health(true)
            .build()
            .expect("alias")
    };
    let set = |name: &str| ResourceRecordSet::builder().name(name).r#type(RrType::A);
    let change = |s: ResourceRecordSet| {
        Change::builder()
            .action(ChangeAction::Create)
            .resource_record_set(s)
            .build()
            .expect("change")
    };
    let batch = ChangeBatch::builder()
        .changes(change(set("lb.drill.test").alias_target(alias()).build().expect("set")))
        .changes(change(
            set("app.drill.test")
                .set_identifier("primary")
                .failover(ResourceRecordSetFailover::Primary)
                .health_check_id(&hc_id)
                .alias_target(alias())
                .build()
                .expect("set"),
        ))
        .changes(change(
            set("app.drill.test")
                .set_identifier("secondary")
                .failover(ResourceRecordSetFailover::Secondary)
                .ttl(60)
                .resource_records(ResourceRecord::builder().value("192.0.2.10").build().expect("rr"))
                .build()
                .expect("set"),
        ))
        .build()
        .expect("batch");
    m.route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch)
        .send()
        .await
        .expect("ChangeResourceRecordSets");
}

/// Starts the local half on an ephemeral endpoint port.
pub async fn start_local() -> LocalStack {
    let stack = Stack::load(&stack_file()).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        endpoint: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
    };
    LocalStack::start(stack, opts).await.expect("local stack starts")
}

/// Waits until every target of the side's target group is `healthy` (moto's are at
/// once; the local stack's after their health checks pass), at most `bound`.
pub async fn wait_healthy(side: &Side, bound: Duration) {
    let deadline = Instant::now() + bound;
    loop {
        let out = side
            .elb
            .describe_target_health()
            .target_group_arn(&side.ids.tg_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: DescribeTargetHealth: {e:?}", side.name));
        let states: Vec<String> = out
            .target_health_descriptions()
            .iter()
            .map(|d| TargetHealthState::of_elb(d).map_or("?".to_string(), String::from))
            .collect();
        if !states.is_empty() && states.iter().all(|s| s == "healthy") {
            let _ = side.take();
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: targets not all healthy within {bound:?}: {states:?}",
            side.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (at most `bound`) until the health check of `side` has an observation from more
/// than one checker region. The local stack answers one observation per checker that has
/// probed, so right after start-up it may show only us-east-1's, as moto always does;
/// the comparison is about the settled answer.
pub async fn wait_checkers_reported(side: &Side, bound: Duration) {
    let deadline = Instant::now() + bound;
    loop {
        let out = side
            .route53
            .get_health_check_status()
            .health_check_id(&side.ids.health_check_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: GetHealthCheckStatus: {e:?}", side.name));
        let n = out.health_check_observations().len();
        if n > 1 {
            let _ = side.take();
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {n} health checker(s) reported within {bound:?}",
            side.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
