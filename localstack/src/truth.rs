//! Ground truth: what really happened in the stack, with millisecond timestamps.
//!
//! Served at `GET /_drdrill/events`. The harness never reads it; tests and benchmarks
//! compare the harness's measured numbers with it.

use std::sync::Mutex;

use serde::Serialize;

/// Current unix time in milliseconds.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One thing that happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Truth {
    /// An FIS action applied its effect to these resources.
    FaultApplied {
        /// Experiment id.
        experiment: String,
        /// Action name in the template.
        action: String,
        /// FIS action id, e.g. `aws:ec2:stop-instances`.
        action_id: String,
        /// Resource ids hit.
        targets: Vec<String>,
    },
    /// An FIS action's effect was undone.
    FaultReverted {
        /// Experiment id.
        experiment: String,
        /// Action name in the template.
        action: String,
        /// FIS action id.
        action_id: String,
        /// Resource ids restored.
        targets: Vec<String>,
    },
    /// An instance changed state (`pending`, `running`, `stopped`, `terminated`, ...).
    InstanceState {
        /// Instance id.
        instance: String,
        /// New state name.
        state: String,
    },
    /// The load balancer's view of a target changed.
    TargetHealth {
        /// Instance id.
        target: String,
        /// Previous state.
        from: String,
        /// New state.
        to: String,
        /// ELB reason code, if any.
        reason: Option<String>,
    },
    /// The database writer moved to another node.
    DbFailover {
        /// Cluster id.
        cluster: String,
        /// Old writer node.
        from: String,
        /// New writer node.
        to: String,
        /// Acknowledged writes the new writer does not have.
        lost_write_ids: Vec<String>,
    },
    /// The database stopped or resumed accepting writes.
    DbAvailability {
        /// Cluster id.
        cluster: String,
        /// Whether writes are accepted now.
        available: bool,
        /// Why (failover, reboot, writer unreachable, ...).
        reason: String,
    },
    /// Whether a request sent now through the load balancer would succeed changed.
    Serving {
        /// The new value.
        serving: bool,
    },
    /// The share of the load balancer's routable targets that would answer a request sent
    /// now changed (also recorded when the stack starts). With round robin over those
    /// targets it is the share of requests that succeed, so a partial outage (one target
    /// of n dead until health checks take it out) is dated by it: it is `1.0` exactly
    /// when [`Truth::Serving`] is `true`, and `0.0` while the database does not accept
    /// writes or no target would answer.
    ServingFraction {
        /// `answering / routable` (0.0 when nothing is routable).
        serving_fraction: f64,
        /// Routable targets that would answer: running, not black-holed, with a writable
        /// database (0 when it is not).
        answering: usize,
        /// Targets the load balancer routes to now: the healthy ones, or every unhealthy
        /// one when none is healthy (fail-open); `initial`, `unused` (instance not
        /// running) and `draining` targets are never routable, so with none healthy or
        /// unhealthy this is 0 and the load balancer answers 503 (not serving).
        routable: usize,
    },
    /// A Route 53 health check changed status after its failure threshold.
    HealthCheckStatus {
        /// Health check id.
        health_check: String,
        /// Previous status (`healthy` or `unhealthy`).
        from: String,
        /// New status.
        to: String,
        /// The status report of the probe that decided it (`Failure: …`, `Success: …`).
        status: String,
    },
    /// A database was promoted or restored in another region: what the old writer had
    /// and the new one lacks is lost.
    RegionFailover {
        /// Region whose database wrote before.
        from_region: String,
        /// Region whose database writes now.
        to_region: String,
        /// `promote` (a replica) or `restore` (from a backup).
        how: String,
        /// Acknowledged writes the new writer does not have.
        lost_write_ids: Vec<String>,
        /// The snapshot restored, for `restore`.
        #[serde(skip_serializing_if = "Option::is_none")]
        snapshot: Option<String>,
        /// Age of the restored data (now minus the snapshot's time), ms, for `restore`.
        #[serde(skip_serializing_if = "Option::is_none")]
        data_age_ms: Option<i64>,
    },
    /// An AWS Backup recovery point was completed, or its copy arrived in another region.
    Backup {
        /// The recovery point's ARN.
        snapshot: String,
        /// `taken` or `copied`.
        phase: String,
        /// Region it is in now.
        in_region: String,
        /// Writes it holds.
        writes: usize,
        /// When it was taken, unix ms.
        taken_unix_ms: i64,
    },
    /// An AWS Backup restore job started or completed (the region is the recovery
    /// point's). Data age and lost writes are what a restore drill measures.
    RestoreJob {
        /// The restore job's id (as DescribeRestoreJob names it).
        restore_job_id: String,
        /// `started` or `completed`.
        phase: String,
        /// The recovery point restored.
        recovery_point_arn: String,
        /// When the recovery point's data was taken (its CreationDate), unix ms.
        recovery_point_created_unix_ms: i64,
        /// The database the recovery point was taken of.
        source_resource_arn: String,
        /// The database restored into (CreatedResourceArn).
        created_resource_arn: String,
        /// The restore job's CreationDate, unix ms.
        created_unix_ms: i64,
        /// Its CompletionDate, unix ms (once completed).
        #[serde(skip_serializing_if = "Option::is_none")]
        completed_unix_ms: Option<i64>,
        /// Completion minus the recovery point's creation, ms (once completed).
        #[serde(skip_serializing_if = "Option::is_none")]
        data_age_ms: Option<i64>,
        /// Writes the recovery point holds.
        writes: usize,
        /// Acknowledged writes the source database held when the restore started that the
        /// recovery point lacks (or holds with another body), sorted.
        lost_write_ids: Vec<String>,
    },
    /// What this region's database holds: the ids of its committed writes, sorted (none
    /// when it holds no data). Recorded on demand by
    /// [`crate::LocalStack::record_database_contents`] (the harness calls it once a
    /// drill's probes stopped): after a restore, the writes lost are those the old writer
    /// holds that the restored one lacks, however long clients kept writing to the old one.
    DatabaseContents {
        /// The database cluster.
        cluster: String,
        /// The ids of the writes it holds, sorted.
        write_ids: Vec<String>,
    },
    /// Cross-region connectivity from this region was cut or restored.
    CrossRegion {
        /// The other region (`*` for every other region).
        other: String,
        /// Whether it is cut now.
        cut: bool,
    },
    /// A runbook step started or finished.
    RunbookStep {
        /// Step number, from 1.
        step: usize,
        /// What it does, e.g. `promote_replica us-west-2`.
        action: String,
        /// `started`, `finished` or `failed`.
        phase: String,
        /// Details (what failed, how long it took).
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// Whether a request sent now to the stack's entry name would succeed changed: the DNS
    /// server answers it with load balancers whose regions all serve.
    EntryServing {
        /// The entry name (lower case, trailing dot).
        name: String,
        /// The new value.
        serving: bool,
        /// The regions the name is answered with now.
        regions: Vec<String>,
    },
    /// What the DNS server answers for a name and type changed (also recorded when the
    /// stack starts, with no previous answers). For weighted records, every value the
    /// server may answer with.
    DnsAnswer {
        /// Owner name (lower case, trailing dot).
        name: String,
        /// Record type, e.g. `A`.
        record_type: String,
        /// The values answered now, sorted (empty: nothing answered).
        answers: Vec<String>,
        /// The values answered before.
        previous: Vec<String>,
    },
}

/// A timestamped ground-truth event.
#[derive(Debug, Clone, Serialize)]
pub struct TruthEvent {
    /// Unix time in milliseconds.
    pub t_unix_ms: i64,
    /// The region it happened in (none for global services such as Route 53).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub what: Truth,
}

/// One region's view of the shared ground-truth log: events it records carry its name.
#[derive(Debug, Clone)]
pub struct RegionTruth {
    region: String,
    log: std::sync::Arc<GroundTruth>,
}

impl RegionTruth {
    /// Records into `log` as `region`.
    pub fn new(region: &str, log: std::sync::Arc<GroundTruth>) -> RegionTruth {
        RegionTruth {
            region: region.to_string(),
            log,
        }
    }

    /// Appends an event of this region, stamped now.
    pub fn record(&self, what: Truth) {
        self.log.record_in(Some(&self.region), what);
    }

    /// Appends an event of this region stamped `t_unix_ms` (a moment already past, e.g.
    /// when a fault began to be applied), in time order among the events already logged.
    pub fn record_at(&self, t_unix_ms: i64, what: Truth) {
        self.log.record_in_at(t_unix_ms, Some(&self.region), what);
    }

    /// A copy of every event of the shared log (every region), oldest first.
    pub fn snapshot(&self) -> Vec<TruthEvent> {
        self.log.snapshot()
    }

    /// The shared log.
    pub fn log(&self) -> &std::sync::Arc<GroundTruth> {
        &self.log
    }
}

/// The append-only log of ground-truth events.
#[derive(Debug, Default)]
pub struct GroundTruth {
    events: Mutex<Vec<TruthEvent>>,
}

impl GroundTruth {
    /// Appends an event stamped now, of no region.
    pub fn record(&self, what: Truth) {
        self.record_in(None, what);
    }

    /// Appends an event stamped now, in `region`.
    pub fn record_in(&self, region: Option<&str>, what: Truth) {
        self.record_in_at(now_unix_ms(), region, what);
    }

    /// Appends an event stamped `t_unix_ms`, in `region`, after every event stamped at or
    /// before it, so the log stays in time order when the stamp lies in the past.
    pub fn record_in_at(&self, t_unix_ms: i64, region: Option<&str>, what: Truth) {
        tracing::info!(?region, ?what, "truth");
        let ev = TruthEvent {
            t_unix_ms,
            region: region.map(str::to_string),
            what,
        };
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let at = events
            .iter()
            .rposition(|e| e.t_unix_ms <= t_unix_ms)
            .map_or(0, |i| i + 1);
        events.insert(at, ev);
    }

    /// A copy of every event so far, oldest first.
    pub fn snapshot(&self) -> Vec<TruthEvent> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(serving: bool) -> Truth {
        Truth::Serving { serving }
    }

    /// An event stamped in the past goes before every later-stamped event already logged,
    /// and after those stamped at the same moment or earlier: the log stays in time order.
    #[test]
    fn events_stamped_in_the_past_keep_the_log_in_time_order() {
        let log = GroundTruth::default();
        log.record_in_at(10, None, serving(true));
        log.record_in_at(20, None, serving(false));
        log.record_in_at(30, None, serving(true));
        log.record_in_at(20, Some("r"), serving(true));
        log.record_in_at(5, None, serving(false));
        let got: Vec<(i64, Option<String>)> = log.snapshot().into_iter().map(|e| (e.t_unix_ms, e.region)).collect();
        assert_eq!(
            got,
            vec![
                (5, None),
                (10, None),
                (20, None),
                (20, Some("r".to_string())),
                (30, None)
            ]
        );
    }
}
