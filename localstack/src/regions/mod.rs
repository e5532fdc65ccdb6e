//! Several regions as one stack: cross-region replication of the databases, the recovery
//! runbook (its `restore_backup` step a restore job of [`crate::backup`]) triggered by a Route 53 health
//! check, and the ground truth of whether the stack's entry name serves.
//!
//! Each region is its own [`World`]; this module only moves data and runs automation
//! between them, through the worlds' methods, so every effect is recorded where it happens.

mod automation;

pub use automation::{DocumentParameters, SWITCH_TO_RESTORED_DATABASE};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::backup::Backup;
use crate::config::Stack;
use crate::config::Step;
use crate::route53::model::{self, Action, AliasTarget, Change, RecordSet, RecordType, Routing};
use crate::route53::Route53;
use crate::truth::{GroundTruth, Truth};
use crate::world::{Health, InstanceState, World};

/// Longest a runbook waits for started instances to become healthy targets.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The running cross-region machinery of a stack.
pub struct Regions {
    stack: Stack,
    worlds: Vec<Arc<World>>,
    route53: Arc<Route53>,
    log: Arc<GroundTruth>,
    /// Replication links (index into `stack.replication`) broken by a promotion.
    broken: Mutex<HashSet<usize>>,
    /// AWS Backup, whose plans replace the old snapshot loop and whose restore jobs the
    /// `restore_backup` step starts.
    backup: Arc<Backup>,
}

impl Regions {
    /// Joins the worlds (in stack order) and Route 53; nothing runs until [`Regions::start`].
    pub fn new(
        stack: Stack,
        worlds: Vec<Arc<World>>,
        route53: Arc<Route53>,
        log: Arc<GroundTruth>,
        backup: Arc<Backup>,
    ) -> Arc<Regions> {
        Arc::new(Regions {
            stack,
            worlds,
            route53,
            log,
            broken: Mutex::new(HashSet::new()),
            backup,
        })
    }

    fn world(&self, region: &str) -> Option<&Arc<World>> {
        self.worlds.iter().find(|w| w.stack.region == region)
    }

    /// Starts replication, the runbook watcher and the entry evaluator (backups are
    /// [`Backup::run`]'s).
    pub fn start(self: &Arc<Self>, cancel: CancellationToken) {
        for link in &self.stack.replication {
            if let Some(w) = self.world(&link.from) {
                w.db_set_shipping(true);
            }
        }
        if !self.stack.replication.is_empty() {
            tokio::spawn(self.clone().replicate(cancel.child_token()));
        }
        if self.stack.runbook.is_some() {
            tokio::spawn(self.clone().watch_trigger(cancel.child_token()));
        }
        if self.stack.strategy.is_some() {
            tokio::spawn(self.clone().evaluate_entry(cancel.child_token()));
        }
    }

    /// Whether traffic between two regions flows: neither side cut it, and both
    /// databases' writers are reachable in their regions.
    fn linked(&self, from: &World, to: &World) -> bool {
        !from.cross_region_cut(&to.stack.region)
            && !to.cross_region_cut(&from.stack.region)
            && from.db_reachable()
            && to.db_reachable()
    }

    /// Ships acknowledged writes along every unbroken link once they are `lag` old.
    async fn replicate(self: Arc<Self>, cancel: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_millis(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = every.tick() => {}
            }
            let broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
            for (i, link) in self.stack.replication.iter().enumerate() {
                if broken.contains(&i) {
                    continue;
                }
                let (Some(from), Some(to)) = (self.world(&link.from), self.world(&link.to)) else {
                    continue;
                };
                if !self.linked(from, to) {
                    continue;
                }
                let Some(cutoff) = Instant::now().checked_sub(link.lag.0) else {
                    continue;
                };
                let batch = from.db_take_shippable(cutoff);
                to.db_apply_remote(&batch);
            }
        }
    }

    /// Runs the runbook once, when its trigger health check first reports unhealthy.
    async fn watch_trigger(self: Arc<Self>, cancel: CancellationToken) {
        let Some(rb) = self.stack.runbook.clone() else { return };
        let mut rx = self.route53.subscribe();
        loop {
            rx.borrow_and_update();
            let healthy = self
                .route53
                .get_health_check(&rb.trigger_health_check)
                .map(|h| h.healthy)
                .unwrap_or(true);
            if !healthy {
                break;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = rx.changed() => if r.is_err() { return },
            }
        }
        for (i, step) in rb.steps.iter().enumerate() {
            let record = |phase: &str, detail: Option<String>| {
                self.log.record(Truth::RunbookStep {
                    step: i + 1,
                    action: step.describe(),
                    phase: phase.into(),
                    detail,
                })
            };
            record("started", None);
            let started = Instant::now();
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.run_step(step) => r,
            };
            match outcome {
                Ok(()) => record("finished", Some(format!("took {} ms", started.elapsed().as_millis()))),
                Err(e) => {
                    tracing::error!(step = %step.describe(), error = %e, "runbook step failed");
                    record("failed", Some(e));
                    return;
                }
            }
        }
    }

    /// Runs one runbook step.
    async fn run_step(&self, step: &Step) -> Result<(), String> {
        match step {
            Step::PromoteReplica { region, duration } => self.promote_replica(region, duration.0).await,
            Step::RestoreBackup { region } => self.restore_backup(region).await,
            Step::StartInstances { region } => self.start_instances(region).await,
            Step::SwitchDns { name, load_balancer } => self.switch_dns(name, load_balancer),
        }
    }

    /// The world of region `r`, as a step needs it.
    fn step_world(&self, r: &str) -> Result<Arc<World>, String> {
        self.world(r).cloned().ok_or_else(|| format!("unknown region {r}"))
    }

    /// Promotes `region`'s replica (writable after `duration`): replication into it
    /// breaks, and the writes its sources never shipped are lost.
    async fn promote_replica(&self, region: &str, duration: Duration) -> Result<(), String> {
        let to = self.step_world(region)?;
        let mut lost = Vec::new();
        let mut from_region = String::new();
        for (i, link) in self.stack.replication.iter().enumerate() {
            if link.to != *region {
                continue;
            }
            self.broken.lock().unwrap_or_else(|p| p.into_inner()).insert(i);
            if let Some(from) = self.world(&link.from) {
                lost.extend(from.db_discard_outbox());
                from_region = link.from.clone();
            }
        }
        lost.sort();
        lost.dedup();
        self.log.record(Truth::RegionFailover {
            from_region,
            to_region: region.to_string(),
            how: "promote".into(),
            lost_write_ids: lost,
            snapshot: None,
            data_age_ms: None,
        });
        to.db_promote(duration);
        wait_db_writable(&to).await;
        Ok(())
    }

    /// Restores `region`'s database through AWS Backup: a restore job of the newest
    /// recovery point in the region's vaults, waited for; what the source had that the
    /// recovery point lacks is lost.
    async fn restore_backup(&self, region: &str) -> Result<(), String> {
        let to = self.step_world(region)?;
        let rp = self
            .backup
            .list_vaults(region)
            .into_iter()
            .flat_map(|(v, _)| self.backup.recovery_points_in(region, &v.name).unwrap_or_default())
            .max_by_key(|r| r.created_ms)
            .ok_or_else(|| format!("no backup has been copied to {region} yet"))?;
        let metadata = [("DBInstanceIdentifier".to_string(), to.stack.database.primary.id.clone())].into();
        let job = self
            .backup
            .start_restore_job(region, &rp.arn, &metadata, None)
            .map_err(|e| e.to_string())?;
        self.log.record(Truth::RegionFailover {
            from_region: crate::backup::arn_region(&rp.resource_arn)
                .unwrap_or_default()
                .to_string(),
            to_region: region.to_string(),
            how: "restore".into(),
            lost_write_ids: job.lost_write_ids.clone(),
            snapshot: Some(rp.arn.clone()),
            data_age_ms: Some(job.created_ms - rp.created_ms),
        });
        let done = self
            .backup
            .wait_restore(region, &job.id)
            .await
            .map_err(|e| e.to_string())?;
        if done.status != "COMPLETED" {
            return Err(format!("restore job {} ended {}", done.id, done.status));
        }
        wait_db_writable(&to).await;
        Ok(())
    }

    /// Starts `region`'s stopped instances and waits until each one's target is healthy.
    async fn start_instances(&self, region: &str) -> Result<(), String> {
        let w = self.step_world(region)?;
        let stopped: Vec<String> = w
            .instances()
            .into_iter()
            .filter(|i| i.state == InstanceState::Stopped)
            .map(|i| i.id)
            .collect();
        w.start_instances(&stopped).map_err(|id| format!("no instance {id}"))?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let mut rx = w.subscribe();
        loop {
            rx.borrow_and_update();
            let targets = w.targets();
            let all_healthy = stopped
                .iter()
                .all(|id| targets.iter().any(|t| &t.id == id && t.health == Health::Healthy));
            if all_healthy {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                return Err(format!("instances of {region} not healthy within {START_TIMEOUT:?}"));
            }
        }
    }

    /// Replaces every A record set of `name` with an alias to `load_balancer`.
    fn switch_dns(&self, name: &str, load_balancer: &str) -> Result<(), String> {
        let fqdn = model::normalize_name(name)?;
        let zone = self
            .route53
            .list_hosted_zones()
            .into_iter()
            .filter(|z| model::in_zone(&fqdn, &z.name))
            .max_by_key(|z| z.name.len())
            .ok_or_else(|| format!("no hosted zone holds {fqdn}"))?;
        let lb = self
            .route53
            .lookup()
            .load_balancer(load_balancer)
            .ok_or_else(|| format!("no load balancer {load_balancer}"))?;
        let mut changes: Vec<Change> = zone
            .records
            .iter()
            .filter(|r| r.name == fqdn && r.rtype == RecordType::A)
            .map(|r| Change {
                action: Action::Delete,
                set: r.clone(),
            })
            .collect();
        changes.push(Change {
            action: Action::Create,
            set: RecordSet {
                name: fqdn.clone(),
                rtype: RecordType::A,
                set_identifier: None,
                routing: Routing::Simple,
                ttl: None,
                values: Vec::new(),
                alias: Some(AliasTarget {
                    hosted_zone_id: model::ELB_ZONE_ID.to_string(),
                    dns_name: format!("{}.", lb.dns_name),
                    evaluate_target_health: false,
                }),
                health_check_id: None,
            },
        });
        self.route53
            .change_resource_record_sets(&zone.id, &changes, Some("drdrill runbook".into()))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Records [`Truth::EntryServing`] whenever it changes.
    async fn evaluate_entry(self: Arc<Self>, cancel: CancellationToken) {
        let Some(st) = &self.stack.strategy else { return };
        let Ok(name) = model::normalize_name(&st.entry) else {
            return;
        };
        let mut own = self.route53.subscribe();
        let mut worlds: Vec<_> = self.worlds.iter().map(|w| w.subscribe()).collect();
        let mut last: Option<bool> = None;
        loop {
            own.borrow_and_update();
            for rx in &mut worlds {
                rx.borrow_and_update();
            }
            let answers = self
                .route53
                .answer_snapshot()
                .get(&(name.clone(), "A".to_string()))
                .cloned()
                .unwrap_or_default();
            let regions: Vec<Option<&Arc<World>>> = answers
                .iter()
                .map(|ip| {
                    self.worlds
                        .iter()
                        .find(|w| w.lb_addr().is_some_and(|a| a.ip().to_string() == *ip))
                })
                .collect();
            let serving = !regions.is_empty() && regions.iter().all(|w| w.is_some_and(|w| w.serving()));
            if last != Some(serving) {
                last = Some(serving);
                let mut names: Vec<String> = regions.iter().flatten().map(|w| w.stack.region.clone()).collect();
                names.sort();
                self.log.record(Truth::EntryServing {
                    name: name.clone(),
                    serving,
                    regions: names,
                });
            }
            let changed = async {
                let mut all: Vec<_> = worlds.iter_mut().map(|rx| Box::pin(rx.changed())).collect();
                all.push(Box::pin(own.changed()));
                futures::future::select_all(all).await.0.is_ok()
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                alive = changed => if !alive { return },
            }
        }
    }
}

/// Waits until the world's database accepts writes again.
async fn wait_db_writable(w: &World) {
    let mut rx = w.subscribe();
    loop {
        rx.borrow_and_update();
        if w.db_writable() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}
