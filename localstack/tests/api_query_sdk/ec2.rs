//! EC2 through its SDK: instances, subnets, filters and state changes.

use super::*;

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
    expect_code(
        ec2.describe_instances()
            .max_results(5)
            .instance_ids("i-app1a1")
            .send()
            .await,
        "MaxResults with InstanceIds",
        "InvalidParameterCombination",
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
    expect_code(
        ec2.describe_instances()
            .filters(filter("shoe-size", &["42"]))
            .send()
            .await,
        "unknown filter",
        "InvalidParameterValue",
    );
    let err = expect_code(
        ec2.describe_instances().instance_ids("i-nope").send().await,
        "unknown instance",
        "InvalidInstanceID.NotFound",
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

    expect_code(
        ec2.stop_instances().instance_ids("i-nope").send().await,
        "unknown instance",
        "InvalidInstanceID.NotFound",
    );
    expect_code(
        ec2.start_instances().instance_ids("i-nope").send().await,
        "unknown instance",
        "InvalidInstanceID.NotFound",
    );
    ls.shutdown().await;
}
