//! End to end: partial outages on the embedded local stack — one app instance of 3, 9 or
//! 30 stopped (FIS `aws:ec2:stop-instances`, by ARN or by tag) and one AZ's app subnet
//! black-holed (`aws:network:disrupt-connectivity`, 3 targets of 9) — each at 50/s and
//! 200/s, with keep-alive and with fresh connections. The measured RTO, availability and
//! lost writes are compared with the stack's ground truth (`serving_fraction`).
//!
//! The drills run once, three at a time, for all the tests of this file (the first test to
//! ask runs them; the others wait for the same results); the table of signed errors is
//! printed to stderr (`cargo test -p drdrill-tests --test partial_outage -- --nocapture`).

mod common;

use common::outage;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use drdrill::scenario::{ConnectionPolicy, Rate, RateUnit};
use outage::TruthOutage;

/// Drills run at the same time (each on its own 2-worker runtime): 16 drills of about 7 s
/// take about 40 s; more at once on 2 cores makes the prober late.
const PARALLEL: usize = 3;
/// Standard deviations the measured availability may be off the truth's.
const SIGMAS: f64 = 4.0;

/// The scenario files (under `tests/scenarios/`), with how many of how many targets
/// their fault takes out.
const SCENARIOS: [(&str, usize, usize); 4] = [
    ("partial-1-of-3.yaml", 1, 3),
    ("partial-1-of-9.yaml", 1, 9),
    ("partial-1-of-30.yaml", 1, 30),
    ("partial-az-partition.yaml", 3, 9),
];
const RATES: [f64; 2] = [50.0, 200.0];
const CONNECTIONS: [&str; 2] = ["keep-alive", "fresh"];

/// One drill: a scenario at a rate with a connection policy.
#[derive(Debug, Clone)]
struct Case {
    scenario: &'static str,
    /// Targets the fault takes out.
    lost: usize,
    /// Targets behind the load balancer.
    of: usize,
    rate: f64,
    connection: &'static str,
}

impl Case {
    fn name(&self) -> String {
        format!(
            "{} {}/s {}",
            self.scenario.trim_end_matches(".yaml"),
            self.rate,
            self.connection
        )
    }
}

/// What one drill measured, next to its ground truth.
#[derive(Debug)]
struct Drill {
    case: Case,
    t_inject: i64,
    measured_rto_ms: Option<i64>,
    truth: Option<TruthOutage>,
    /// End of the fault (the experiment's end).
    fault_end_unix_ms: Option<i64>,
    measured_availability: Option<f64>,
    /// The truth's mean serving fraction over `[t_inject, fault end)`.
    truth_availability: Option<f64>,
    measured_lost: Option<Vec<String>>,
    truth_lost: Vec<String>,
    failed_probes: u64,
    /// Why the measurement is marked degraded (the prober fell behind), if it is.
    degraded: Option<String>,
    /// The report's recovery figures, for failure messages.
    recovery: String,
    wall: Duration,
}

impl Drill {
    /// measured RTO − true RTO, ms.
    fn signed_error_ms(&self) -> Option<i64> {
        Some(self.measured_rto_ms? - self.truth?.rto_ms(self.t_inject))
    }

    fn failing_share(&self) -> f64 {
        self.truth.map_or(0.0, |t| t.failing_share)
    }

    fn tolerance_ms(&self) -> f64 {
        outage::rto_tolerance_ms(self.case.rate, self.failing_share())
    }

    /// The probes sent during the fault (scheduled), for the availability bound.
    fn fault_probes(&self) -> f64 {
        self.fault_end_unix_ms
            .map_or(0.0, |end| (end - self.t_inject) as f64 * self.case.rate / 1000.0)
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (scenario, lost, of) in SCENARIOS {
        for rate in RATES {
            for connection in CONNECTIONS {
                out.push(Case {
                    scenario,
                    lost,
                    of,
                    rate,
                    connection,
                });
            }
        }
    }
    out
}

/// Every drill's result (or why it could not run), in [`cases`] order; run once.
fn drills() -> &'static [Result<Drill, String>] {
    static DRILLS: OnceLock<Vec<Result<Drill, String>>> = OnceLock::new();
    DRILLS.get_or_init(run_all)
}

fn run_all() -> Vec<Result<Drill, String>> {
    let started = Instant::now();
    let cases = cases();
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Result<Drill, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a Tokio runtime");
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { return };
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        runtime.block_on(run_case(case.clone()))
                    }))
                    .unwrap_or_else(|_| Err(format!("{}: the drill panicked", case.name())));
                    done.lock().unwrap_or_else(|p| p.into_inner()).push((i, result));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    let drills: Vec<Result<Drill, String>> = done.into_iter().map(|(_, r)| r).collect();
    print_table(&drills, started.elapsed());
    drills
}

async fn run_case(case: Case) -> Result<Drill, String> {
    let started = Instant::now();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(case.scenario);
    let mut loaded = drdrill::scenario::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    loaded.scenario.traffic.rate = Rate::new(case.rate, RateUnit::Second);
    loaded.scenario.traffic.connection = match case.connection {
        "fresh" => ConnectionPolicy::Fresh,
        _ => ConnectionPolicy::KeepAlive {
            max_age: Duration::from_secs(2),
        },
    };
    let (outcome, _out) = common::run_loaded(loaded, false)
        .await
        .map_err(|e| format!("{}: {e}", case.name()))?;
    let r = &outcome.report;
    let truth = outcome.ground_truth.clone().unwrap_or_default();
    let t_inject = r
        .t_inject_unix_ms
        .ok_or_else(|| format!("{}: no t_inject ({:?})", case.name(), r.reason))?;
    let fault_end_unix_ms = r.experiment.as_ref().and_then(|e| e.end_unix_ms);
    let steps = outage::fraction_steps(&truth);
    Ok(Drill {
        t_inject,
        measured_rto_ms: r.rto_ms,
        truth: outage::truth_outage(&truth, t_inject),
        fault_end_unix_ms,
        measured_availability: r.availability_during_fault,
        truth_availability: fault_end_unix_ms.map(|end| outage::mean_fraction(&steps, t_inject, end)),
        measured_lost: r.data_loss.as_ref().map(|d| {
            let mut ids = d.lost_ids.clone();
            ids.sort();
            ids
        }),
        truth_lost: outage::truth_lost_ids(&truth),
        failed_probes: r.probes.failed,
        degraded: r.measurement_degraded.clone(),
        recovery: format!("{:?}", r.recovery),
        wall: started.elapsed(),
        case,
    })
}

fn print_table(drills: &[Result<Drill, String>], wall: Duration) {
    eprintln!(
        "partial outages vs ground truth ({} drills, {PARALLEL} at a time, {wall:.1?})",
        drills.len()
    );
    eprintln!(
        "{:<40} {:>6} {:>6} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>5}",
        "case",
        "f",
        "failed",
        "rto_true",
        "rto_meas",
        "error",
        "allowed",
        "avail_m",
        "avail_t",
        "±bound",
        "lost",
        "wall"
    );
    for d in drills {
        let d = match d {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        let show = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        let avail = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
        let bound = d
            .truth_availability
            .map(|p| outage::availability_bound(p, d.fault_probes(), SIGMAS));
        eprintln!(
            "{:<40} {:>6.4} {:>6} {:>9} {:>9} {:>8} {:>8.0} {:>7} {:>7} {:>7} {:>6} {:>4.1}s{}",
            d.case.name(),
            d.failing_share(),
            d.failed_probes,
            show(d.truth.map(|t| t.rto_ms(d.t_inject))),
            show(d.measured_rto_ms),
            show(d.signed_error_ms()),
            d.tolerance_ms(),
            avail(d.measured_availability),
            avail(d.truth_availability),
            avail(bound),
            format!(
                "{}/{}",
                d.measured_lost.as_ref().map_or("-".to_owned(), |l| l.len().to_string()),
                d.truth_lost.len()
            ),
            d.wall.as_secs_f64(),
            d.degraded
                .as_ref()
                .map_or(String::new(), |why| format!(" (degraded: {why})")),
        );
    }
    let ok: Vec<&Drill> = drills.iter().filter_map(|d| d.as_ref().ok()).collect();
    if let Some((mean, allowed)) = bias(&ok) {
        eprintln!("mean signed error {mean:+.1} ms (allowed ±{allowed:.1} ms)");
    }
}

/// The mean signed error over the drills that measured and recovered, and the bias they
/// allow together: the mean of 1 interval + 1 / (2 f × rate).
fn bias(drills: &[&Drill]) -> Option<(f64, f64)> {
    let errors: Vec<(f64, f64)> = drills
        .iter()
        .filter_map(|d| {
            let e = d.signed_error_ms()? as f64;
            Some((e, outage::bias_allowance_ms(d.case.rate, d.failing_share())))
        })
        .collect();
    if errors.is_empty() {
        return None;
    }
    let n = errors.len() as f64;
    Some((
        errors.iter().map(|(e, _)| e).sum::<f64>() / n,
        errors.iter().map(|(_, a)| a).sum::<f64>() / n,
    ))
}

/// The drills that ran; panics naming those that could not.
fn ran() -> Vec<&'static Drill> {
    let failed: Vec<&String> = drills().iter().filter_map(|d| d.as_ref().err()).collect();
    assert!(failed.is_empty(), "drills that could not run: {failed:#?}");
    drills().iter().filter_map(|d| d.as_ref().ok()).collect()
}

/// The ground truth dates every drill's partial outage: the serving fraction fell to
/// exactly 1 − k/n (k targets of n lost: one stopped, or an AZ's three black-holed) and
/// came back to 1.0 for good after injection; where it ended, between 1/(n − k + 1) (the
/// last lost target still routed to, the others already out) and k/n of the probes
/// failed; and the prober saw failures.
#[test]
fn truth_records_each_partial_outage_with_its_failing_share() {
    for d in ran() {
        let name = d.case.name();
        let t = d
            .truth
            .unwrap_or_else(|| panic!("{name}: the serving fraction never came back to 1.0"));
        assert!(
            t.start_unix_ms.is_some(),
            "{name}: the serving fraction never fell: {t:?}"
        );
        let (k, n) = (d.case.lost as f64, d.case.of as f64);
        assert!(
            (t.lowest_fraction - (1.0 - k / n)).abs() < 1e-9,
            "{name}: {k} of {n} lost, the truth says {t:?}"
        );
        assert!(
            t.failing_share >= 1.0 / (n - k + 1.0) - 1e-9 && t.failing_share <= k / n + 1e-9,
            "{name}: {k} of {n} lost, the truth says {t:?}"
        );
        assert!(t.end_unix_ms > d.t_inject, "{name}: {t:?}");
        assert!(d.failed_probes > 0, "{name}: the prober saw no failure");
    }
}

/// Every partial outage's measured RTO is within 2 probe intervals + 50 ms + 1/(f × rate)
/// of the truth's (T − t_inject, T = when the serving fraction is back to 1.0 for good).
#[test]
fn each_partial_outage_rto_is_within_its_tolerance_of_the_truth() {
    let mut misses = Vec::new();
    for d in ran() {
        let allowed = d.tolerance_ms();
        match d.signed_error_ms() {
            Some(e) if (e as f64).abs() <= allowed => {}
            e => misses.push(format!(
                "{}: measured {:?} ms, truth {:?} ms, error {e:?} ms, allowed ±{allowed:.0} ms; \
                 degraded: {:?}; t_inject {}, truth {:?}; recovery {}",
                d.case.name(),
                d.measured_rto_ms,
                d.truth.map(|t| t.rto_ms(d.t_inject)),
                d.degraded,
                d.t_inject,
                d.truth,
                d.recovery,
            )),
        }
    }
    assert!(misses.is_empty(), "RTO outside its tolerance:\n{}", misses.join("\n"));
}

/// The measured RTO has no bias beyond the definition's own. `t_recover` is the first
/// probe after the outage's last failure, and with round robin the last failure precedes
/// the true end by a uniformly spread share of the gap between failures, `1/(f × rate)`:
/// the expected error is −gap/2 (+ up to one interval). Corrected by that, the mean signed
/// error over every case is within ±(the mean interval + 50 ms). (The issue asked for the
/// uncorrected mean within ±(1 interval + gap/2): that is the definition's expected value
/// itself, so a test of it would fail about as often as it passed.)
#[test]
fn partial_outage_rto_errors_have_no_bias() {
    let drills = ran();
    let (mean, _) = bias(&drills).expect("some drill measured an RTO");
    let measured: Vec<&&Drill> = drills.iter().filter(|d| d.signed_error_ms().is_some()).collect();
    let n = measured.len() as f64;
    let expected = measured
        .iter()
        .map(|d| -outage::gap_ms(d.case.rate, d.failing_share()) / 2.0)
        .sum::<f64>()
        / n;
    let allowed = measured.iter().map(|d| 1000.0 / d.case.rate).sum::<f64>() / n + 50.0;
    let errors: Vec<String> = drills
        .iter()
        .map(|d| format!("{}: {:?} ms", d.case.name(), d.signed_error_ms()))
        .collect();
    assert!(
        (mean - expected).abs() <= allowed,
        "mean signed error {mean:+.1} ms over {} cases, expected {expected:+.1} ms ± {allowed:.1} ms:\n{}",
        drills.len(),
        errors.join("\n")
    );
}

/// Every drill lost exactly the writes the ground truth says it lost (none: no database
/// failover), and verification ran.
#[test]
fn partial_outages_lose_exactly_the_writes_the_truth_lost() {
    for d in ran() {
        let measured = d
            .measured_lost
            .as_ref()
            .unwrap_or_else(|| panic!("{}: not verified", d.case.name()));
        assert_eq!(measured, &d.truth_lost, "{}", d.case.name());
    }
}

/// The availability measured during the fault is the truth's mean serving fraction over
/// the same span, within 4 binomial standard deviations (and one probe for the edges).
#[test]
fn availability_during_the_fault_matches_the_serving_fraction() {
    let mut misses = Vec::new();
    for d in ran() {
        let name = d.case.name();
        let measured = d
            .measured_availability
            .unwrap_or_else(|| panic!("{name}: no availability"));
        let truth = d
            .truth_availability
            .unwrap_or_else(|| panic!("{name}: the experiment has no end"));
        let bound = outage::availability_bound(truth, d.fault_probes(), SIGMAS);
        if (measured - truth).abs() > bound {
            misses.push(format!(
                "{name}: measured {measured:.4}, truth {truth:.4} ± {bound:.4} over {:.0} probes",
                d.fault_probes()
            ));
        }
    }
    assert!(misses.is_empty(), "availability off the truth:\n{}", misses.join("\n"));
}
