//! The preflight phase: waits until every target is healthy, starts the observers and
//! the probes, then checks that the steady state holds over the baseline.

use std::time::Duration;

use super::{cadence, error, ratio, traffic, Connected, Probing, Record, Stop};
use crate::aws::Clients;
use crate::journal::now_unix_ms;
use crate::observe;
use crate::plan::Plan;
use crate::status::TargetHealthState;
use crate::traffic::{DnsResolver, LiveStats, Nameserver, Prober, RunClock};

/// Waits for healthy targets, then starts the target observer, the Route 53 observers
/// and the probes (observers run until cleanup stops them).
pub(super) async fn start(rec: &mut Record, connected: &Connected) -> Result<Probing, Stop> {
    let Connected { clients, plan } = connected;
    wait_healthy(rec, clients, plan).await?;
    let zones = plan
        .targets
        .iter()
        .filter_map(|t| Some((t.id.clone(), t.zone.clone()?)))
        .collect();
    let target_observer = observe::watch_targets(
        clients,
        &rec.journal,
        plan.target_group_arn.clone(),
        zones,
        &cadence(rec),
    );
    rec.held.observers.push(target_observer);
    let dns = watch_route53(rec, clients, plan)?;
    let cfg = traffic::config(&rec.loaded, plan.base_url());
    // The prober's lookups run on its own thread: it gets a resolver of its own, the
    // verify phase (after the prober stopped) keeps `dns`.
    let prober_dns = plan
        .dns
        .as_ref()
        .map(|entry| resolver(entry.nameserver()))
        .transpose()?;
    let prober = Prober::start_resolving(cfg, prober_dns, RunClock::start(), &rec.run_dir)
        .map_err(|e| error(format!("traffic: {e}")))?;
    let live = prober.live();
    Ok(Probing { prober, live, dns })
}

/// Waits until DescribeTargetHealth says every target is healthy (backing off while it
/// is throttled), within `timings.recovery_timeout` (at least 5 s).
async fn wait_healthy(rec: &mut Record, clients: &Clients, plan: &Plan) -> Result<(), Stop> {
    let sc = &rec.loaded.scenario;
    let deadline = tokio::time::Instant::now() + sc.timings.recovery_timeout.get().max(Duration::from_secs(5));
    rec.interrupted()?;
    loop {
        let out = match clients
            .elb
            .describe_target_health()
            .target_group_arn(&plan.target_group_arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let call = crate::aws::AwsCallError::from_sdk(&e);
                if observe::Failure::of(&call) != observe::Failure::Throttled || tokio::time::Instant::now() >= deadline
                {
                    return Err(error(format!("DescribeTargetHealth failed: {call}")));
                }
                // Throttled: wait a refill and ask again (the deadline still holds).
                rec.progress
                    .status("preflight", None, "DescribeTargetHealth throttled; backing off");
                rec.pause(cadence(rec).max_backoff.min(Duration::from_secs(2))).await?;
                continue;
            }
        };
        let states: Vec<Option<TargetHealthState>> = out
            .target_health_descriptions()
            .iter()
            .map(TargetHealthState::of_elb)
            .collect();
        let healthy = states
            .iter()
            .filter(|s| **s == Some(TargetHealthState::Healthy))
            .count();
        if !states.is_empty() && healthy == states.len() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(error(format!(
                "preflight: only {healthy} of {} targets are healthy",
                states.len()
            )));
        }
        rec.progress.status(
            "preflight",
            None,
            &format!("waiting for targets: {healthy}/{} healthy", states.len()),
        );
        rec.pause(observe::POLL).await?;
    }
}

/// Starts the observers of the app's Route 53 name (its DNS answers, the health checks of
/// its records) and returns the prober's resolver; nothing when it is reached by the load
/// balancer's own name.
fn watch_route53(rec: &mut Record, clients: &Clients, plan: &Plan) -> Result<Option<DnsResolver>, Stop> {
    let Some(dns) = &plan.dns else {
        return Ok(None);
    };
    let nameserver = dns.nameserver();
    let uncached = DnsResolver::uncached(nameserver).map_err(|e| error(format!("DNS observer: {e}")))?;
    rec.held
        .observers
        .push(observe::watch_dns(uncached, dns.name.clone(), &rec.journal));
    if !dns.route53.health_check_ids.is_empty() {
        rec.held.observers.push(observe::watch_health_checks(
            &clients.route53,
            dns.route53.health_check_ids.clone(),
            &rec.journal,
            &cadence(rec),
        ));
    }
    Ok(Some(resolver(nameserver)?))
}

/// A caching resolver for the traffic, asking `nameserver`.
fn resolver(nameserver: Nameserver) -> Result<DnsResolver, Stop> {
    DnsResolver::new(nameserver).map_err(|e| error(format!("traffic: {e}")))
}

/// Probes for `timings.baseline`, then checks the steady state over it: the success
/// ratio and, when the scenario sets one, the p99 latency.
pub(super) async fn baseline(rec: &mut Record, live: &LiveStats) -> Result<(), Stop> {
    let sc = rec.loaded.scenario.clone();
    let baseline_start = now_unix_ms();
    let baseline = sc.timings.baseline.get();
    let baseline_end = baseline_start + baseline.as_millis() as i64;
    rec.interrupted()?;
    while now_unix_ms() < baseline_end {
        let now = live.settled_until_unix_ms();
        let w = live.window(now - 1000, now);
        rec.progress.status("baseline", ratio(w.ok, w.completed), "");
        rec.pause(Duration::from_millis(50)).await?;
    }
    let settle_deadline = tokio::time::Instant::now() + sc.traffic.timeout.get() + Duration::from_secs(2);
    while live.settled_until_unix_ms() < baseline_end && tokio::time::Instant::now() < settle_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let w = live.window(baseline_start, baseline_end);
    let threshold = sc.steady_state.success_ratio;
    match ratio(w.ok, w.completed) {
        None if baseline.is_zero() => {}
        None => return Err(error("preflight: no probe completed during the baseline")),
        Some(r) if r < threshold => {
            return Err(error(format!(
                "preflight: steady state does not hold before the fault: success {:.2}% < {:.2}% over the baseline",
                r * 100.0,
                threshold * 100.0
            )))
        }
        Some(_) => {}
    }
    if let Some(p99) = &sc.steady_state.p99 {
        let worst = live
            .latency_intervals_since(baseline_start)
            .iter()
            .filter(|l| l.start_unix_ms < baseline_end && l.count > 0)
            .map(|l| l.p99_us)
            .max();
        if let Some(worst) = worst {
            if worst as u128 > p99.get().as_micros() {
                return Err(error(format!(
                    "preflight: steady state does not hold: p99 {:.1} ms > {} over the baseline",
                    worst as f64 / 1000.0,
                    p99
                )));
            }
        }
    }
    rec.progress.line(&format!(
        "preflight ok: steady state holds ({} probes in the baseline)",
        w.completed
    ));
    Ok(())
}
