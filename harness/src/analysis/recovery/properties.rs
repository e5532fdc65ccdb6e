//! Property tests of `t_recover` (docs/design.md, "When recovery happened") on synthetic
//! probe series whose true outage end `T` is known by construction: P1 whole outage,
//! P2 partial outage, P3 background noise, P4 gradual recovery, P5 flapping; P6 and P7:
//! what the live counters see (a prefix; a span kept from before the fault) dates
//! recovery as the whole run does.

use proptest::prelude::*;

use super::{recovery, recovery_after_baseline, Recovery, Series};
use crate::traffic::BUCKET_MS;

/// A small deterministic generator (splitmix64), so every case is replayable by its seed.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

const T0_US: i64 = 1_700_000_000_000_000;

/// A drill's timeline, µs: probes at a fixed rate from `T0_US` (plus a phase) to `end`.
struct Drill {
    interval_us: f64,
    phase_us: f64,
    inject_us: i64,
    end_us: i64,
}

impl Drill {
    fn new(rate: f64, phase: f64, baseline_s: f64, rest_s: f64) -> Drill {
        let interval_us = 1e6 / rate;
        Drill {
            interval_us,
            phase_us: phase * interval_us,
            inject_us: T0_US + (baseline_s * 1e6) as i64,
            end_us: T0_US + ((baseline_s + rest_s) * 1e6) as i64,
        }
    }

    fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..)
            .map(|k| T0_US + (self.phase_us + k as f64 * self.interval_us) as i64)
            .take_while(|&t| t < self.end_us)
    }

    /// The probes, failing where `fails(t)` says so, and the analysis of them.
    fn run(&self, threshold: f64, stable_for_ms: i64, mut fails: impl FnMut(i64) -> bool) -> (Recovery, Vec<i64>) {
        let probes: Vec<(i64, bool)> = self.times().map(|t| (t, !fails(t))).collect();
        let failures = probes.iter().filter(|p| !p.1).map(|p| p.0).collect();
        let series = Series::from_probes(probes, BUCKET_MS);
        (
            recovery(&series, self.inject_us / 1000, threshold, stable_for_ms),
            failures,
        )
    }

    /// The interval `t_recover` is dated to: the schedule's, or the mean the analysis
    /// measures from the buckets (which may differ from it by a bucket's share).
    fn dating_interval_us(&self) -> f64 {
        let n = self.times().count() as f64;
        let first_ms = self.times().next().unwrap_or(T0_US) / 1000 / BUCKET_MS * BUCKET_MS;
        let last_bucket_end_ms = ((self.times().last().unwrap_or(T0_US) / 1000) / BUCKET_MS + 1) * BUCKET_MS;
        let measured_us = (last_bucket_end_ms - first_ms) as f64 * 1000.0 / n;
        self.interval_us.max(measured_us)
    }
}

/// A `stable_for` (at least 2 s) holding `k / ε` probes at `rate`. A window of `n`
/// probes cannot tell a failure share of ε from zero unless `n ≫ 1/ε`: at 10 req/s a
/// 2 s window holds 20 probes, and a partial outage failing 2 % of them shows whole
/// failure-free windows while it lasts.
fn resolving_window_ms(k: f64, eps: f64, rate: f64) -> i64 {
    ((k / eps / rate * 1000.0).ceil() as i64).max(2_000)
}

/// The rates the properties hold at: 10/s to 10k/s, spread on a log scale.
fn rate() -> impl Strategy<Value = f64> {
    (1.0f64..4.0).prop_map(|e| 10f64.powf(e))
}

fn threshold() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.99), Just(0.95), Just(0.9), 0.8f64..0.999]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// P6: the run's live decision ("recovered, stop probing") applies the analysis to the
    /// probes settled so far. For every prefix of a run with a partial outage (cut at a
    /// bucket boundary), a recovery the prefix confirms is the whole run's (to within one
    /// 10 ms bucket: the mean probe interval it is dated with is measured on the data);
    /// and the prefix ending `stable_for` + a probe interval after the last failure
    /// confirms one. So probing never stops before the report can date recovery (the
    /// failure of `drill_route53` under load: the live rule stopped the probes with a
    /// failure inside its window, and the report found the RTO unmeasured).
    #[test]
    fn p6_a_confirmed_prefix_dates_recovery_as_the_whole_run_does(
        rate in rate(), phase in 0.0f64..1.0, threshold in threshold(),
        f_scale in 0.0f64..1.0, seed in any::<u64>(), cuts in 8usize..24,
    ) {
        let eps = 1.0 - threshold;
        let f = 2.0 * eps + f_scale * (1.0 - 2.0 * eps);
        let len_s = (40.0 / (f * rate)).max(1.0);
        let stable_ms = 2_000;
        let d = Drill::new(rate, phase, 3.0, len_s + 6.0);
        let a = d.inject_us + 100_000;
        let t = a + (len_s * 1e6) as i64;
        let mut rng = Rng(seed);
        let probes: Vec<(i64, bool)> = d.times().map(|p| (p, !((a..t).contains(&p) && rng.chance(f)))).collect();
        let inject_ms = d.inject_us / 1000;
        let whole = recovery(&Series::from_probes(probes.clone(), BUCKET_MS), inject_ms, threshold, stable_ms);
        let first_ms = probes[0].0 / 1000 / BUCKET_MS * BUCKET_MS;
        let last_failure = probes.iter().filter(|p| !p.1).map(|p| p.0).max();
        let span_ms = d.end_us / 1000 - first_ms;
        let mut cut_points: Vec<i64> = (1..=cuts as i64).map(|k| first_ms + span_ms * k / cuts as i64).collect();
        // The series ends with the bucket of its last probe: a whole `stable_for` after
        // the last failure needs one more probe interval of data.
        let enough_ms = stable_ms + (d.interval_us / 1000.0).ceil() as i64 + 2 * BUCKET_MS;
        if let Some(last) = last_failure {
            cut_points.push(last / 1000 + enough_ms);
        }
        for cut_ms in cut_points {
            let cut_ms = cut_ms / BUCKET_MS * BUCKET_MS;
            let prefix = probes.iter().copied().filter(|p| p.0 / 1000 < cut_ms);
            let part = recovery(&Series::from_probes(prefix, BUCKET_MS), inject_ms, threshold, stable_ms);
            if let Some(at) = part.recovered_unix_us {
                // The same end: where a bucket's run of failures ends is dated with the
                // mean probe interval, measured over the data so far, so both instants
                // may move, by less than one bucket.
                let (last, whole_last) = (part.last_failure_unix_us.unwrap(), whole.last_failure_unix_us.unwrap());
                prop_assert!((last - whole_last).abs() < BUCKET_MS * 1000, "cut at {}: last failure {} vs {}", cut_ms, last, whole_last);
                let whole_at = whole.recovered_unix_us.expect("the whole run recovers too");
                prop_assert!((at - whole_at).abs() < BUCKET_MS * 1000, "cut at {}: t_recover {} vs {}", cut_ms, at, whole_at);
            }
            if last_failure.is_some_and(|l| cut_ms >= l / 1000 + enough_ms) && whole.recovered_unix_us.is_some() {
                prop_assert!(part.recovered_unix_us.is_some(), "cut at {} ms after the last failure + stable_for: not confirmed", cut_ms);
            }
        }
    }

    /// P7: the live counters keep only a span that starts at or before the fault (the
    /// rest forgotten, its counts kept): the analysis of that span with the counts of
    /// everything before the fault finds the same outage, background and recovery as the
    /// analysis of the whole run, noisy baseline or not.
    #[test]
    fn p7_a_span_kept_from_before_the_fault_dates_recovery_as_the_whole_run_does(
        rate in rate(), phase in 0.0f64..1.0, threshold in threshold(),
        f_scale in 0.0f64..1.0, seed in any::<u64>(), keep_s in 0.0f64..3.0, noisy in any::<bool>(),
    ) {
        let eps = 1.0 - threshold;
        let f = 2.0 * eps + f_scale * (1.0 - 2.0 * eps);
        let len_s = (40.0 / (f * rate)).max(1.0);
        let d = Drill::new(rate, phase, 3.0, len_s + 6.0);
        let a = d.inject_us + 100_000;
        let t = a + (len_s * 1e6) as i64;
        let background = if noisy { eps / 4.0 } else { 0.0 };
        let mut rng = Rng(seed);
        let probes: Vec<(i64, bool)> = d
            .times()
            .map(|p| (p, !rng.chance(if (a..t).contains(&p) { f } else { background })))
            .collect();
        let inject_ms = d.inject_us / 1000;
        let whole = recovery(&Series::from_probes(probes.clone(), BUCKET_MS), inject_ms, threshold, 2_000);
        let keep_ms = (inject_ms - (keep_s * 1000.0) as i64).div_euclid(BUCKET_MS) * BUCKET_MS;
        let inject_bucket_ms = inject_ms.div_euclid(BUCKET_MS) * BUCKET_MS;
        let baseline = probes
            .iter()
            .filter(|p| p.0 / 1000 < inject_bucket_ms)
            .fold((0, 0), |(ok, failed), p| if p.1 { (ok + 1, failed) } else { (ok, failed + 1) });
        let kept = probes.iter().copied().filter(|p| p.0 / 1000 >= keep_ms);
        let part = recovery_after_baseline(&Series::from_probes(kept, BUCKET_MS), inject_ms, baseline, threshold, 2_000);
        prop_assert_eq!(part.background_failure_share, whole.background_failure_share);
        prop_assert_eq!(part.first_failure_unix_ms, whole.first_failure_unix_ms);
        prop_assert_eq!(part.failed_probes, whole.failed_probes);
        prop_assert_eq!(part.recovered_unix_us.is_some(), whole.recovered_unix_us.is_some());
        if let (Some(p), Some(w)) = (part.last_failure_unix_us, whole.last_failure_unix_us) {
            // Dated with the mean probe interval of the data read: may move by less than a bucket.
            prop_assert!((p - w).abs() < BUCKET_MS * 1000, "last failure {} vs {}", p, w);
        }
    }

    /// P1: every probe fails until `T`, then every probe succeeds: `t_recover` is within
    /// one probe interval of `T`, and the outage's length agrees with it.
    #[test]
    fn p1_whole_outage_is_dated_within_one_interval(
        rate in rate(), phase in 0.0f64..1.0, threshold in threshold(),
        delay_ms in 0i64..500, len_ms in 200i64..5_000,
    ) {
        let d = Drill::new(rate, phase, 3.0, 12.0);
        let a = d.inject_us + delay_ms * 1000;
        let t = a + len_ms * 1000;
        let (r, _) = d.run(threshold, 2_000, |p| (a..t).contains(&p));
        let at = r.recovered_unix_us.expect("recovered");
        let interval = d.dating_interval_us();
        prop_assert!((at - t).abs() as f64 <= interval + 1.0, "t_recover {at} vs T {t}, interval {interval}");
        prop_assert_eq!(r.rto_ms, Some((at / 1000 - d.inject_us / 1000).max(0)));
        let len = t - a;
        prop_assert!((r.outage_ms - len / 1000).abs() <= 200 + 2 * (d.interval_us as i64 / 1000), "outage {} ms vs {} µs", r.outage_ms, len);
    }

    /// P2: a share `f` of probes fail until `T` (f from 2·(1 − threshold) to 1), none
    /// after: `t_recover` is after the outage's last failed probe and at most two probe
    /// intervals after `T`.
    #[test]
    fn p2_partial_outage_is_never_early_nor_late(
        rate in rate(), phase in 0.0f64..1.0, threshold in threshold(),
        f_scale in 0.0f64..1.0, seed in any::<u64>(),
    ) {
        let eps = 1.0 - threshold;
        let f = 2.0 * eps + f_scale * (1.0 - 2.0 * eps);
        // Long enough for a few dozen of the outage's failures, at least 1 s.
        let len_s = (40.0 / (f * rate)).max(1.0);
        let stable_ms = resolving_window_ms(20.0, eps, rate);
        let d = Drill::new(rate, phase, 3.0, len_s + 2.0 * stable_ms as f64 / 1000.0 + 2.0);
        let a = d.inject_us + 100_000;
        let t = a + (len_s * 1e6) as i64;
        let mut rng = Rng(seed);
        let (r, failures) = d.run(threshold, stable_ms, |p| (a..t).contains(&p) && rng.chance(f));
        prop_assume!(!failures.is_empty());
        let last = *failures.last().unwrap();
        let at = r.recovered_unix_us.expect("recovered");
        prop_assert!(at > last, "t_recover {at} before the last failure {last}");
        prop_assert!((at - t) as f64 <= 2.0 * d.interval_us, "t_recover {at} more than 2 intervals after T {t}");
        prop_assert!(r.outage_ms <= (at / 1000 - r.first_failure_unix_ms.unwrap()) + 100);
    }

    /// P4: the failure share falls linearly from 100 % to 0 over `D`: `t_recover` lies
    /// between the moment the share crosses (1 − threshold) and the end of `D`. The
    /// failures are placed by error diffusion (a failure whenever the accumulated share
    /// passes a whole probe, from a random start), and `D` is long enough that the share
    /// left after the crossing adds up to at least one failure.
    #[test]
    fn p4_gradual_recovery_ends_between_the_crossing_and_the_end(
        rate in rate(), phase in 0.0f64..1.0, threshold in 0.8f64..0.99, carry in 0.0f64..1.0,
    ) {
        let eps = 1.0 - threshold;
        let len_s = (2.4 / (rate * eps * eps)).max(2.0);
        let stable_ms = resolving_window_ms(2.0, eps, rate);
        let d = Drill::new(rate, phase, 3.0, len_s + 2.0 * stable_ms as f64 / 1000.0 + 2.0);
        let a = d.inject_us;
        let len_us = (len_s * 1e6) as i64;
        let mut acc = carry;
        let (r, _) = d.run(threshold, stable_ms, |p| {
            if !(a..a + len_us).contains(&p) {
                return false;
            }
            acc += 1.0 - (p - a) as f64 / len_us as f64;
            let fail = acc >= 1.0;
            if fail {
                acc -= 1.0;
            }
            fail
        });
        let crossing = a + (len_us as f64 * (1.0 - eps)) as i64;
        let at = r.recovered_unix_us.expect("recovered");
        prop_assert!(at >= crossing, "t_recover {at} before the crossing {crossing}");
        prop_assert!(at as f64 <= (a + len_us) as f64 + d.interval_us, "t_recover {at} after the end {}", a + len_us);
    }

    /// P5: an outage, success for less than `stable_for`, then the outage again:
    /// `t_recover` is after the second outage (and within a probe interval of its end).
    #[test]
    fn p5_flapping_recovers_after_the_relapse(
        rate in 10f64..2_000.0, phase in 0.0f64..1.0, threshold in threshold(),
        first_ms in 200i64..2_000, gap_ms in 50i64..1_900, second_ms in 100i64..2_000,
        partial in any::<bool>(), seed in any::<u64>(),
    ) {
        let d = Drill::new(rate, phase, 3.0, 12.0);
        let a = d.inject_us;
        let b = a + first_ms * 1000;
        let c = b + gap_ms * 1000;
        let e = c + second_ms * 1000;
        let f = if partial { 0.5 } else { 1.0 };
        let mut rng = Rng(seed);
        let (r, failures) = d.run(threshold, 2_000, |p| (a..b).contains(&p) || ((c..e).contains(&p) && rng.chance(f)));
        let last = *failures.last().unwrap();
        prop_assume!(last >= c);
        // Flapping means the success between the outages lasted less than `stable_for`;
        // with a partial relapse its first failure may come later than `c`.
        let longest_success_us = failures.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        prop_assume!(longest_success_us < 2_000_000);
        let at = r.recovered_unix_us.expect("recovered");
        prop_assert!(at > last, "t_recover {at} before the relapse's last failure {last}");
        prop_assert!((at - e) as f64 <= 2.0 * d.interval_us);
    }
}

/// The share of `seeds` for which `holds` is true.
fn share_of_seeds(seeds: u64, mut holds: impl FnMut(u64) -> bool) -> f64 {
    (0..seeds).filter(|&s| holds(s)).count() as f64 / seeds as f64
}

/// P3 (no outage): background failures at (1 − threshold)/2 before and after injection
/// make no outage (RTO 0, no recovery time) in at least 99 % of seeds.
#[test]
fn p3_noise_alone_is_no_outage() {
    for (rate, threshold) in [(100.0, 0.99), (1_000.0, 0.99), (200.0, 0.95), (50.0, 0.9)] {
        let eps: f64 = 1.0 - threshold;
        let held = share_of_seeds(200, |seed| {
            let mut rng = Rng(seed);
            // A baseline of 40/ε probes, then 60 s.
            let d = Drill::new(rate, 0.3, 40.0 / eps / rate, 60.0);
            let (r, _) = d.run(threshold, 2_000, |_| rng.chance(eps / 2.0));
            r.rto_ms == Some(0) && r.recovered_unix_ms.is_none() && r.first_failure_unix_ms.is_none()
        });
        assert!(
            held >= 0.99,
            "rate {rate}, threshold {threshold}: only {held} of seeds showed no outage"
        );
    }
}

/// P3 (with an outage): with background failures at (1 − threshold)/2 before, during and
/// after, P1 holds in at least 99 % of seeds (at thresholds ≥ 0.98), and P2 — for outages failing at least 60 %
/// of the probes — too, within the gap at which a failure is as likely the outage's as the
/// background's (`ln(f/b) / −ln((1−f)/(1−b))` probes: no rule can tell them apart
/// closer; docs/design.md says why).
#[test]
fn p3_noise_moves_neither_whole_nor_partial_recovery() {
    // At thresholds below 0.98 the background (ε/2 > 1 %) alone fails the first probe
    // after `T` in more than 1 % of runs, which no definition can tell from the outage.
    let cases = [
        (100.0, 0.99, 1.0),
        (1_000.0, 0.99, 1.0),
        (2_000.0, 0.98, 1.0),
        (100.0, 0.99, 0.6),
        (100.0, 0.98, 0.75),
    ];
    for (rate, threshold, f) in cases {
        let eps: f64 = 1.0 - threshold;
        let b = eps / 2.0;
        let reach = if f >= 1.0 {
            1.0
        } else {
            (f / b).ln() / -((1.0 - f) / (1.0 - b)).ln()
        };
        let held = share_of_seeds(500, |seed| {
            let mut rng = Rng(seed ^ 0xA5A5);
            let d = Drill::new(rate, 0.7, 40.0 / eps / rate, 20.0);
            let a = d.inject_us + 200_000;
            let t = a + 3_000_000;
            let (r, failures) = d.run(threshold, 2_000, |p| {
                let noise = rng.chance(b);
                let outage = (a..t).contains(&p) && rng.chance(f);
                noise || outage
            });
            let Some(at) = r.recovered_unix_us else { return false };
            let last_in_outage = failures.iter().copied().filter(|&p| p < t).max().unwrap_or(a);
            // P1's bound for a whole outage; P2's, widened by the reach, for a partial one.
            let (early, late) = if f >= 1.0 { (0.0, 1.0) } else { (reach, 2.0 + reach) };
            let early_ok = at as f64 > last_in_outage as f64 - early * d.interval_us;
            early_ok && ((at - t) as f64) <= late * d.interval_us + 1.0
        });
        assert!(
            held >= 0.99,
            "rate {rate}, threshold {threshold}, f {f}: P1/P2 held in only {held} of seeds"
        );
    }
}
