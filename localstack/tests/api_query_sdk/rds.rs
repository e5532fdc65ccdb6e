//! RDS through its SDK: clusters, instances and failover.

use super::*;

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
    let by_id = the_cluster(&rds, "by id").await;
    assert_eq!(by_id.db_clusters().len(), 1);
    let err = expect_code(
        rds.describe_db_clusters()
            .db_cluster_identifier("no-such-db")
            .send()
            .await,
        "unknown cluster",
        "DBClusterNotFoundFault",
    );
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
    expect_code(
        rds.describe_db_instances().db_instance_identifier("nope").send().await,
        "unknown instance",
        "DBInstanceNotFound",
    );

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
    expect_code(
        rds.failover_db_cluster().db_cluster_identifier("drill-db").send().await,
        "already failing over",
        "InvalidDBClusterStateFault",
    );
    let out = the_cluster(&rds, "after failover").await;
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
    let err = expect_code(
        rds.failover_db_cluster()
            .db_cluster_identifier("no-such-db")
            .send()
            .await,
        "unknown cluster",
        "DBClusterNotFoundFault",
    );
    assert!(err.into_service_error().is_db_cluster_not_found_fault());
    ls.shutdown().await;
}

/// DescribeDBClusters of the stack's cluster by its id (`what` names the call).
async fn the_cluster(
    rds: &aws_sdk_rds::Client,
    what: &str,
) -> aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput {
    rds.describe_db_clusters()
        .db_cluster_identifier("drill-db")
        .send()
        .await
        .expect(what)
}
