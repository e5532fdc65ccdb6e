//! The run's report, assembled live from what the phases gathered (the traffic, the
//! experiment, the lost writes, the journal) and the verdict.

use super::{ratio, t_inject, Record, Stop};
use crate::analysis::{self, Series};
use crate::journal::{now_unix_ms, EventKind, Phase};
use crate::report::{self, ProbeStats, Report, ScenarioInfo, TimelinePoint};
use crate::scenario::Target;
use crate::traffic::{self, TrafficOutcome};
use crate::verdict::{self, Measured, Verdict};

fn series(outcome: &TrafficOutcome) -> Series {
    Series::from_buckets(&outcome.buckets, traffic::BUCKET_MS)
}

fn hist_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

pub(super) fn build_report(ctx: &mut Record, stopped: Option<Stop>) -> Report {
    ctx.journal.record(EventKind::PhaseStarted { phase: Phase::Report });
    // What became of the credentials during the run (renewed, or not renewable).
    if let Some(credentials) = ctx.clients.as_ref().and_then(|c| c.credentials.clone()) {
        for (at, message) in credentials.take_notes() {
            ctx.progress.line(&message);
            ctx.journal.record_at(at, EventKind::Note { message });
        }
    }
    let sc = &ctx.loaded.scenario;
    let inject = t_inject(ctx);
    let t_inject = inject.map(|t| t.unix_ms);
    let threshold = sc.steady_state.success_ratio;
    let stable = sc.timings.stable_for.get().as_millis() as i64;
    let mut rep = Report {
        schema_version: report::SCHEMA_VERSION,
        run_id: ctx.run_id.clone(),
        scenario: ScenarioInfo {
            name: sc.name.clone(),
            path: ctx.loaded.path.clone(),
            description: sc.description.clone(),
        },
        target: match &sc.target {
            Target::Local { stack } => format!("local:{}", stack.display()),
            Target::Aws(a) => format!("aws:{}", a.region),
        },
        verdict: Verdict::Error,
        exit_code: verdict::EXIT_ERROR,
        reason: None,
        complete: false,
        t0_unix_ms: ctx.t0_unix_ms,
        finished_unix_ms: now_unix_ms(),
        t_inject_unix_ms: t_inject,
        experiment: ctx.experiment.clone(),
        rto_ms: None,
        rto_uncertainty_ms: None,
        rpo_uncertainty_ms: None,
        uncertainty: None,
        t_inject_source: None,
        outage_ms: None,
        recovery: None,
        rto_breakdown: None,
        data_loss: None,
        availability_during_fault: None,
        p99_during_fault_ms: None,
        objectives: Vec::new(),
        probes: ProbeStats::default(),
        timeline: Vec::new(),
        events: Vec::new(),
        plan: ctx.plan.as_ref().and_then(|p| serde_json::to_value(p).ok()),
        measurement_degraded: None,
        observer_blind: Vec::new(),
        strategy: report::StrategyInfo::of_target(&sc.target),
    };
    if let Some(t) = &ctx.traffic {
        rep.probes = ProbeStats {
            sent: t.sent,
            ok: t.ok,
            failed: t.failed,
            missing_reads: t.buckets.iter().map(|b| u64::from(b.missing)).sum(),
            p50_ms: hist_ms(&t.latency, 0.5),
            p99_ms: hist_ms(&t.latency, 0.99),
            max_ms: if t.latency.is_empty() {
                0.0
            } else {
                t.latency.max() as f64 / 1000.0
            },
            schedule_lag_p99_ms: hist_ms(&t.schedule_lag, 0.99),
            schedule_lag_max_ms: if t.schedule_lag.is_empty() {
                0.0
            } else {
                t.schedule_lag.max() as f64 / 1000.0
            },
            late_sends: t.late_sends,
            late_threshold_ms: t.late_threshold.as_secs_f64() * 1000.0,
            dropped_sends: t.dropped_sends,
            saturated: t.saturated_count,
            failures: failure_totals(t),
            by_served_by: t.by_served_by.clone(),
        };
        rep.measurement_degraded = t.degraded();
        rep.timeline = timeline(t, ctx.t0_unix_ms);
        let s = series(t);
        if let Some(ti) = t_inject {
            let rec = analysis::recovery(&s, ti, threshold, stable);
            if let Some(f) = rec.first_failure_unix_ms {
                ctx.journal.record_at(f, EventKind::FirstFailure);
            }
            if let Some(r) = rec.recovered_unix_ms {
                ctx.journal.record_at(r, EventKind::Recovered);
            }
            rep.rto_ms = rec.rto_ms;
            rep.outage_ms = Some(rec.outage_ms);
            if let Some(inject) = inject {
                let u = analysis::Uncertainty {
                    probe_interval_ms: s.mean_interval_ms(),
                    t_inject_ms: inject.precision_ms,
                    clock_offset_ms: inject.clock_offset_ms,
                };
                rep.uncertainty = Some(u);
                rep.t_inject_source = Some(inject.source);
                rep.rto_uncertainty_ms = rep.rto_ms.map(|_| u.rto_ms().ceil() as i64);
                rep.rpo_uncertainty_ms = ctx.lost.as_ref().map(|_| u.rpo_ms().ceil() as i64);
            }
            let events = ctx.journal.events();
            let health: Vec<analysis::HealthChange<'_>> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::TargetHealth { target, state, .. } => {
                        Some((e.t_unix_ms, target.as_str(), state.as_str()))
                    }
                    _ => None,
                })
                .collect();
            let route53 = analysis::Route53Changes::from_events(&events);
            rep.rto_breakdown =
                Some(analysis::rto_breakdown(ti, &health, ctx.fault_end_unix_ms, &rec).with_route53(ti, &route53));
            rep.recovery = Some(rec);
            let end = ctx.fault_end_unix_ms.unwrap_or(rep.finished_unix_ms);
            let (ok, failed) = s.counts(ti, end);
            rep.availability_during_fault = ratio(ok, ok + failed).or(Some(1.0));
            rep.p99_during_fault_ms = t
                .latency_intervals
                .iter()
                .filter(|l| l.start_unix_ms >= ti - 100 && l.start_unix_ms < end && l.count > 0)
                .map(|l| l.p99_us as f64 / 1000.0)
                .reduce(f64::max);
            if let Some(lost) = &ctx.lost {
                rep.data_loss = Some(analysis::data_loss(t.acks.len(), lost, ti));
            }
        }
    }
    rep.observer_blind = report::blind::intervals(
        &ctx.journal.events(),
        rep.t_inject_unix_ms,
        rep.finished_unix_ms,
        rep.rto_breakdown.as_ref(),
        rep.t_inject_source,
    );
    let measured = Measured {
        rto_ms: rep.rto_ms,
        rpo_ms: rep.data_loss.as_ref().map(|d| d.rpo_ms),
        lost_writes: rep.data_loss.as_ref().map(|d| d.lost_writes as u64),
        availability_during_fault: rep.availability_during_fault,
        p99_during_fault_ms: rep.p99_during_fault_ms,
    };
    rep.objectives = verdict::check(&sc.objectives, &measured);
    match stopped {
        Some(s) => {
            rep.verdict = s.verdict;
            rep.reason = Some(s.reason);
        }
        None => {
            rep.complete = true;
            let (v, reason) = verdict::of_checked(&rep.objectives, rep.measurement_degraded.as_deref());
            rep.verdict = v;
            rep.reason = reason;
        }
    }
    rep.exit_code = rep.verdict.exit_code();
    rep
}

fn failure_totals(t: &TrafficOutcome) -> std::collections::BTreeMap<String, u64> {
    let mut totals = std::collections::BTreeMap::new();
    for b in &t.buckets {
        for (kind, n) in b.failures.by_name() {
            if n > 0 {
                *totals.entry(kind.to_string()).or_insert(0) += u64::from(n);
            }
        }
    }
    totals
}

fn timeline(t: &TrafficOutcome, t0: i64) -> Vec<TimelinePoint> {
    let mut points: std::collections::BTreeMap<i64, TimelinePoint> = std::collections::BTreeMap::new();
    for b in &t.buckets {
        let slot = b.start_unix_ms.div_euclid(100) * 100;
        let p = points.entry(slot).or_insert(TimelinePoint {
            t_ms: slot - t0,
            ok: 0,
            failed: 0,
            p99_ms: None,
            served_by: Default::default(),
        });
        p.ok += u64::from(b.ok);
        p.failed += u64::from(b.failed);
    }
    for (start, counts) in t.served_by.intervals() {
        if let Some(p) = points.get_mut(&(start.div_euclid(100) * 100)) {
            for (by, n) in counts {
                *p.served_by.entry(by.to_string()).or_default() += n;
            }
        }
    }
    for l in &t.latency_intervals {
        if let Some(p) = points.get_mut(&(l.start_unix_ms.div_euclid(100) * 100)) {
            if l.count > 0 {
                p.p99_ms = Some(l.p99_us as f64 / 1000.0);
            }
        }
    }
    points.into_values().collect()
}
