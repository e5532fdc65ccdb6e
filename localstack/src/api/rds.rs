//! RDS (API version 2014-10-31) over awsQuery: the stack's one database cluster and its
//! nodes as DB instances, and a real failover that promotes the standby.

use super::errors::{shorten, QueryError};
use super::ids::{created_unix_ms, stable_hex};
use super::params::{Params, QueryCall};
use super::xml::{iso8601, Xml};
use super::Services;
use crate::config::Topology;
use crate::database::{DbCluster, Outage};
use crate::fis::resolve::arn;
use crate::world::World;

/// The RDS API namespace.
pub const NS: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

const ENGINE: &str = "aurora-postgresql";
const ENGINE_VERSION: &str = "16.4";
const PORT: u16 = 5432;

/// Answers one RDS action.
pub fn handle(s: &Services, action: &str, p: &Params, rid: &str) -> Result<Vec<u8>, QueryError> {
    let w = &s.world;
    let cluster_id = w.stack.database.cluster.clone();
    let c = Call {
        cluster_arn: arn(w, "aws:rds:cluster", &cluster_id),
        cluster_id,
        w,
        q: QueryCall { action, p, rid, ns: NS },
    };
    match action {
        "DescribeDBClusters" => describe_db_clusters(&c),
        "DescribeDBInstances" => describe_db_instances(&c),
        "FailoverDBCluster" => failover_db_cluster(&c),
        other => Err(QueryError::invalid_action("rds", other)),
    }
}

/// One RDS call: the world it is answered from, the cluster's id and ARN, the request.
struct Call<'a> {
    w: &'a World,
    cluster_id: String,
    cluster_arn: String,
    q: QueryCall<'a>,
}

impl Call<'_> {
    /// Whether `v` names the stack's cluster (by id or ARN).
    fn is_cluster(&self, v: &str) -> bool {
        v == self.cluster_id || v == self.cluster_arn
    }
}

/// DescribeDBClusters: the stack's one cluster, unless another is asked for or filtered.
fn describe_db_clusters(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, p) = (c.w, c.q.p);
    if let Some(id) = p.get("DBClusterIdentifier").filter(|v| !v.is_empty()) {
        if !c.is_cluster(id) {
            return Err(cluster_not_found(id));
        }
    }
    let filters = filters(p, &["db-cluster-id"])?;
    let show = filters.iter().all(|(_, values)| values.iter().any(|v| c.is_cluster(v)));
    c.q.ok(&|x| {
        x.elem("DBClusters", |x| {
            if show {
                x.elem("DBCluster", |x| w.with_db(|db| cluster(x, w, db)));
            }
        });
    })
}

/// DescribeDBInstances: the cluster's nodes asked for (by id or ARN) that pass the filters.
fn describe_db_instances(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, p) = (c.w, c.q.p);
    let nodes: Vec<String> = w.with_db(|db| db.nodes().iter().map(|n| n.id.clone()).collect());
    let node_of = |v: &str| {
        nodes
            .iter()
            .find(|n| v == n.as_str() || v == arn(w, "aws:rds:db", n))
            .cloned()
    };
    let wanted = match p.get("DBInstanceIdentifier").filter(|v| !v.is_empty()) {
        Some(id) => Some(node_of(id).ok_or_else(|| {
            QueryError::not_found("DBInstanceNotFound", format!("DBInstance {} not found.", shorten(id)))
        })?),
        None => None,
    };
    let filters = filters(p, &["db-instance-id", "db-cluster-id"])?;
    let chosen: Vec<String> = nodes
        .iter()
        .filter(|n| wanted.as_ref().is_none_or(|w| w == *n))
        .filter(|n| {
            filters.iter().all(|(name, values)| {
                values.iter().any(|v| {
                    if name == "db-cluster-id" {
                        c.is_cluster(v)
                    } else {
                        node_of(v).as_ref() == Some(*n)
                    }
                })
            })
        })
        .cloned()
        .collect();
    c.q.ok(&|x| {
        x.elem("DBInstances", |x| {
            w.with_db(|db| {
                for node in db.nodes().iter().filter(|n| chosen.contains(&n.id)) {
                    x.elem("DBInstance", |x| instance(x, w, db, &node.id, &node.zone));
                }
            });
        });
    })
}

/// FailoverDBCluster: a real failover to the standby (or the named reader), refused during an outage.
fn failover_db_cluster(c: &Call) -> Result<Vec<u8>, QueryError> {
    let (w, p) = (c.w, c.q.p);
    let id = p.required("DBClusterIdentifier")?;
    if !c.is_cluster(id) {
        return Err(cluster_not_found(id));
    }
    let (outage, writer, nodes) = w.with_db(|db| {
        (
            db.outage(),
            db.writer().id.clone(),
            db.nodes().iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        )
    });
    if outage.is_some() {
        return Err(QueryError::bad(
            "InvalidDBClusterStateFault",
            format!(
                "DbCluster {} is not in a valid state ({}).",
                c.cluster_id,
                cluster_status(outage)
            ),
        ));
    }
    if let Some(target) = p.get("TargetDBInstanceIdentifier").filter(|v| !v.is_empty()) {
        if !nodes.iter().any(|n| n == target) {
            return Err(QueryError::not_found(
                "DBInstanceNotFound",
                format!("DBInstance {} not found.", shorten(target)),
            ));
        }
        if target == writer && nodes.len() > 1 {
            return Err(QueryError::bad(
                "InvalidParameterValue",
                format!(
                    "{target} is already the writer of {}; name a reader to fail over to.",
                    c.cluster_id
                ),
            ));
        }
    }
    w.db_failover();
    c.q.ok(&|x| {
        x.elem("DBCluster", |x| w.with_db(|db| cluster(x, w, db)));
    })
}

fn cluster_not_found(id: &str) -> QueryError {
    QueryError::not_found(
        "DBClusterNotFoundFault",
        format!("DBCluster {} not found.", shorten(id)),
    )
}

/// `Filters.Filter.N.Name` / `Filters.Filter.N.Values.Value.M`; unknown names are errors.
fn filters(p: &Params, known: &[&str]) -> Result<Vec<(String, Vec<String>)>, QueryError> {
    p.items("Filters.Filter")
        .into_iter()
        .map(|f| {
            let name = f.get("Name").unwrap_or_default();
            if !known.contains(&name) {
                return Err(QueryError::bad(
                    "InvalidParameterValue",
                    format!("Unrecognized filter name: {}", shorten(name)),
                ));
            }
            Ok((name.to_string(), f.list("Values.Value")))
        })
        .collect()
}

fn cluster_status(outage: Option<Outage>) -> &'static str {
    match outage {
        Some(Outage::FailingOver) => "failing-over",
        Some(Outage::Rebooting) => "rebooting",
        Some(Outage::Promoting) => "promoting",
        Some(Outage::Restoring) => "creating",
        Some(Outage::ReadOnly) | None => "available",
        Some(Outage::Absent) => "deleted",
    }
}

fn endpoint_host(w: &World, name: &str, kind: &str) -> String {
    let hex = stable_hex(&format!("rds/{}", w.stack.account_id), 12);
    format!("{name}.{kind}{hex}.{}.rds.amazonaws.com", w.stack.region)
}

fn cluster(x: &mut Xml, w: &World, db: &DbCluster) {
    let writer = db.writer().id.clone();
    let mut zones: Vec<&str> = db.nodes().iter().map(|n| n.zone.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    x.text("AllocatedStorage", 1);
    x.elem("AvailabilityZones", |x| {
        for z in &zones {
            x.text("AvailabilityZone", z);
        }
    });
    x.text("BackupRetentionPeriod", 1);
    x.text("DBClusterIdentifier", &db.cluster);
    x.text("DBClusterParameterGroup", "default.aurora-postgresql16");
    x.text("Status", cluster_status(db.outage()));
    x.text("EarliestRestorableTime", iso8601(created_unix_ms()));
    x.text("Endpoint", endpoint_host(w, &db.cluster, "cluster-"));
    x.text("ReaderEndpoint", endpoint_host(w, &db.cluster, "cluster-ro-"));
    x.text("MultiAZ", db.topology != Topology::Single);
    x.text("Engine", ENGINE);
    x.text("EngineVersion", ENGINE_VERSION);
    x.text("Port", PORT);
    x.text("MasterUsername", "drill");
    x.elem("DBClusterMembers", |x| {
        for n in db.nodes() {
            x.elem("DBClusterMember", |x| {
                x.text("DBInstanceIdentifier", &n.id);
                x.text("IsClusterWriter", n.id == writer);
                x.text("DBClusterParameterGroupStatus", "in-sync");
                x.text("PromotionTier", 1);
            });
        }
    });
    x.text("StorageEncrypted", false);
    x.text(
        "DbClusterResourceId",
        format!(
            "cluster-{}",
            stable_hex(&format!("cluster/{}", db.cluster), 26).to_uppercase()
        ),
    );
    x.text("DBClusterArn", arn(w, "aws:rds:cluster", &db.cluster));
    x.text("ClusterCreateTime", iso8601(created_unix_ms()));
    x.text("EngineMode", "provisioned");
    x.text("DeletionProtection", false);
    x.text("HttpEndpointEnabled", false);
}

fn instance(x: &mut Xml, w: &World, db: &DbCluster, id: &str, zone: &str) {
    let is_writer = db.writer().id == id;
    let status = match db.outage() {
        Some(Outage::Rebooting) if is_writer => "rebooting",
        _ => "available",
    };
    x.text("DBInstanceIdentifier", id);
    x.text("DBInstanceClass", "db.r6g.large");
    x.text("Engine", ENGINE);
    x.text("DBInstanceStatus", status);
    x.text("MasterUsername", "drill");
    x.elem("Endpoint", |x| {
        x.text("Address", endpoint_host(w, id, ""));
        x.text("Port", PORT);
    });
    x.text("AllocatedStorage", 1);
    x.text("InstanceCreateTime", iso8601(created_unix_ms()));
    x.text("AvailabilityZone", zone);
    x.text("MultiAZ", false);
    x.text("EngineVersion", ENGINE_VERSION);
    x.text("PubliclyAccessible", false);
    x.text("StorageEncrypted", false);
    x.text(
        "DbiResourceId",
        format!("db-{}", stable_hex(&format!("db/{id}"), 26).to_uppercase()),
    );
    x.text("DBClusterIdentifier", &db.cluster);
    x.text("DBInstanceArn", arn(w, "aws:rds:db", id));
    x.text("PromotionTier", 1);
}
