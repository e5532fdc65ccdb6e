//! `t_recover` and the outage numbers, from per-bucket probe counts.
//!
//! The definition (docs/design.md, "When recovery happened"), with ε = 1 − threshold:
//!
//! 1. **Background.** The failure share of the probes scheduled before injection (the
//!    baseline) is the background rate `b` — taken as 0 when the baseline failed fewer
//!    than [`MIN_BACKGROUND_FAILURES`] probes (a stray failure is no rate).
//! 2. **Is there an outage?** With a clean baseline (`b = 0`) or a threshold of 1, the
//!    first failure after injection starts one. Otherwise failures must stand out of the
//!    background: a CUSUM of the excess over ε (`S ← max(0, S + failed·(1−ε) − ok·ε)`)
//!    must reach [`DETECT_EXCESS`] failed probes; the outage starts at the failure where
//!    that run of excess began. No outage: RTO 0.
//! 3. **When did it end?** The outage ends at its last failure, found as the most likely
//!    change point from the outage's failure share `f` to the background `b`: the
//!    argmax, over the failures, of the running log-likelihood ratio (a failure adds
//!    `ln(f/b)`, a success `ln((1−f)/(1−b))`); a later failure extends the outage only
//!    when the ratio rose by [`EXTEND_MARGIN`] above its last peak. With `b = 0` every failure is the
//!    outage's, so the argmax is simply the latest failure. `t_recover` is the scheduled
//!    time of the next probe after it (the last failure + one mean probe interval).
//! 4. **Confirmation.** The first `stable_for` window that starts after that failure
//!    and holds a success ratio ≥ the threshold confirms it. A relapse before then — the
//!    failures after the end stand out of the background again, by the test of step 2 —
//!    moves the end past it. The window never dates recovery.
//!
//! Why not "the first stable window": a window at 99 % may hold 1 % failures, so for a
//! partial outage it can begin while the outage's last failures still arrive, and the
//! more partial the outage the earlier it is declared (issue 14).

use serde::{Deserialize, Serialize};

use crate::traffic::Bucket;

/// Excess failed probes (beyond what the threshold allows) that make an outage when the
/// baseline showed background failures. Chosen so that background failures at half the
/// allowed share raise a false outage in under 0.3 % of 20,000-probe runs for thresholds
/// from 0.8 to 0.999 (a simulation of the CUSUM; the property tests check the same).
pub const DETECT_EXCESS: f64 = 10.0;

/// Failed probes the baseline must show before its failure share counts as a background
/// rate (fewer: the background is taken as clean).
pub const MIN_BACKGROUND_FAILURES: u64 = 3;

/// How much likelier (as a log-likelihood ratio: ln 10) the outage must be than the
/// background to have produced the probes since the outage's last dated failure, for a
/// later failure to extend it. Without a margin, a background failure two probes after a
/// whole outage would extend it whenever the outage's estimated share and the background
/// mirror each other (f ≈ 1 − b), a coin toss.
pub const EXTEND_MARGIN: f64 = std::f64::consts::LN_10;

/// Probe counts per fixed bucket of scheduled send time, with the failures' own
/// scheduled times inside each bucket.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Start of bucket 0, unix ms.
    pub start_unix_ms: i64,
    /// Bucket width, ms.
    pub bucket_ms: i64,
    /// Probes that succeeded, per bucket.
    pub ok: Vec<u64>,
    /// Probes that failed, per bucket.
    pub failed: Vec<u64>,
    /// Scheduled time of the bucket's earliest failure, µs after the bucket's start.
    pub first_failure_us: Vec<u32>,
    /// Scheduled time of the bucket's latest failure, µs after the bucket's start.
    pub last_failure_us: Vec<u32>,
    /// Scheduled time of the bucket's earliest success, µs after the bucket's start.
    pub first_ok_us: Vec<u32>,
}

impl Series {
    /// The series of the prober's buckets (which are regular and in time order).
    pub fn from_buckets(buckets: &[Bucket], bucket_ms: i64) -> Series {
        let start = buckets.first().map_or(0, |b| b.start_unix_ms);
        let mut s = Series {
            start_unix_ms: start,
            bucket_ms,
            ..Series::default()
        };
        for b in buckets {
            let i = usize::try_from((b.start_unix_ms - start) / bucket_ms.max(1)).unwrap_or(0);
            s.grow(i + 1);
            if b.ok > 0 {
                s.add_oks(i, u64::from(b.ok), b.first_ok_us.into());
            }
            if b.failed > 0 {
                s.add_failures(
                    i,
                    u64::from(b.failed),
                    b.first_failure_us.into(),
                    b.last_failure_us.into(),
                );
            }
        }
        s
    }

    /// The series of single probes: `(scheduled unix µs, succeeded)`, in any order.
    pub fn from_probes(probes: impl IntoIterator<Item = (i64, bool)>, bucket_ms: i64) -> Series {
        let probes: Vec<(i64, bool)> = probes.into_iter().collect();
        let first_ms = probes.iter().map(|p| p.0.div_euclid(1000)).min().unwrap_or(0);
        let mut s = Series {
            start_unix_ms: first_ms.div_euclid(bucket_ms) * bucket_ms,
            bucket_ms,
            ..Series::default()
        };
        for (t_us, ok) in probes {
            let i = usize::try_from((t_us.div_euclid(1000) - s.start_unix_ms) / bucket_ms).unwrap_or(0);
            s.grow(i + 1);
            let offset = u32::try_from(t_us - s.time(i) * 1000).unwrap_or(0);
            if ok {
                s.add_oks(i, 1, offset);
            } else {
                s.add_failures(i, 1, offset, offset);
            }
        }
        s
    }

    fn grow(&mut self, len: usize) {
        if self.ok.len() < len {
            self.ok.resize(len, 0);
            self.failed.resize(len, 0);
            self.first_failure_us.resize(len, 0);
            self.last_failure_us.resize(len, 0);
            self.first_ok_us.resize(len, 0);
        }
    }

    fn add_oks(&mut self, i: usize, n: u64, first_us: u32) {
        self.first_ok_us[i] = if self.ok[i] == 0 {
            first_us
        } else {
            self.first_ok_us[i].min(first_us)
        };
        self.ok[i] += n;
    }

    fn add_failures(&mut self, i: usize, n: u64, first_us: u32, last_us: u32) {
        if self.failed[i] == 0 {
            (self.first_failure_us[i], self.last_failure_us[i]) = (first_us, last_us);
        } else {
            self.first_failure_us[i] = self.first_failure_us[i].min(first_us);
            self.last_failure_us[i] = self.last_failure_us[i].max(last_us);
        }
        self.failed[i] += n;
    }

    fn index(&self, t_unix_ms: i64) -> usize {
        ((t_unix_ms - self.start_unix_ms).max(0) / self.bucket_ms.max(1)) as usize
    }

    fn time(&self, i: usize) -> i64 {
        self.start_unix_ms + i as i64 * self.bucket_ms
    }

    /// (ok, failed) of the buckets starting in `[from, to)`.
    pub fn counts(&self, from_unix_ms: i64, to_unix_ms: i64) -> (u64, u64) {
        let (a, b) = (self.index(from_unix_ms), self.index(to_unix_ms).min(self.ok.len()));
        (a..b).fold((0, 0), |(o, f), i| (o + self.ok[i], f + self.failed[i]))
    }

    /// End of the last bucket, unix ms.
    pub fn end_unix_ms(&self) -> i64 {
        self.time(self.ok.len())
    }

    /// Mean interval between probes over the whole series, ms (0 without probes).
    pub fn mean_interval_ms(&self) -> f64 {
        let n: u64 = self.ok.iter().chain(&self.failed).sum();
        if n == 0 {
            return 0.0;
        }
        (self.end_unix_ms() - self.start_unix_ms) as f64 / n as f64
    }

    /// Scheduled time of bucket `i`'s latest failure, unix µs.
    fn last_failure_unix_us(&self, i: usize) -> i64 {
        self.time(i) * 1000 + i64::from(self.last_failure_us[i])
    }

    /// Scheduled time of bucket `i`'s earliest success, unix µs.
    fn first_ok_unix_us(&self, i: usize) -> i64 {
        self.time(i) * 1000 + i64::from(self.first_ok_us[i])
    }

    /// Scheduled time of bucket `i`'s earliest failure, unix µs.
    fn first_failure_unix_us(&self, i: usize) -> i64 {
        self.time(i) * 1000 + i64::from(self.first_failure_us[i])
    }
}

/// Recovery numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Scheduled time of the outage's first failed probe (`None`: no outage).
    pub first_failure_unix_ms: Option<i64>,
    /// `t_recover`: the scheduled time of the first probe after the outage's last failure.
    pub recovered_unix_ms: Option<i64>,
    /// `t_recover` in µs (what `recovered_unix_ms` rounds down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_unix_us: Option<i64>,
    /// Measured RTO; `None` when it never recovered within the data.
    pub rto_ms: Option<i64>,
    /// Time spent below the threshold between the outage's start and `t_recover`, in
    /// 100 ms intervals.
    pub outage_ms: i64,
    /// Failed probes at or after injection.
    pub failed_probes: u64,
    /// The 1 s window with the lowest success ratio: (start unix ms, ratio).
    pub worst_window: Option<(i64, f64)>,
    /// Background failure share of the baseline (probes before injection).
    #[serde(default)]
    pub background_failure_share: f64,
    /// Scheduled time of the outage's last failed probe, unix µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_unix_us: Option<i64>,
}

/// Computes `t_recover`, the RTO, the outage and the worst window (see the module doc).
pub fn recovery(series: &Series, t_inject_unix_ms: i64, threshold: f64, stable_for_ms: i64) -> Recovery {
    let start = series.index(t_inject_unix_ms).min(series.ok.len());
    let baseline = series.counts(series.start_unix_ms, series.time(start));
    recovery_after_baseline(series, t_inject_unix_ms, baseline, threshold, stable_for_ms)
}

/// [`recovery`] on a series that may begin later than the run's first probe (the live
/// counters keep a bounded span): `baseline` is the `(ok, failed)` count of every probe
/// scheduled before the bucket holding `t_inject_unix_ms`, which [`recovery`] takes from
/// the series itself. Only the series from that bucket on is read.
pub fn recovery_after_baseline(
    series: &Series,
    t_inject_unix_ms: i64,
    baseline: (u64, u64),
    threshold: f64,
    stable_for_ms: i64,
) -> Recovery {
    let start = series.index(t_inject_unix_ms).min(series.ok.len());
    let eps = (1.0 - threshold).clamp(0.0, 1.0);
    let (base_ok, base_failed) = baseline;
    // A background rate needs evidence: one or two stray failures in the baseline are not
    // one, and counting them would let a small partial outage pass as background.
    let background = if base_failed < MIN_BACKGROUND_FAILURES {
        0.0
    } else {
        share(base_failed, base_ok + base_failed)
    };
    let failed_probes = series.failed.iter().skip(start).sum();
    let worst_window = worst_window(series, start);
    let mut rec = Recovery {
        first_failure_unix_ms: None,
        recovered_unix_ms: None,
        recovered_unix_us: None,
        rto_ms: Some(0),
        outage_ms: 0,
        failed_probes,
        worst_window,
        background_failure_share: background,
        last_failure_unix_us: None,
    };
    let strict = background == 0.0 || eps == 0.0;
    let Some((begin, detected)) = detect(series, start, eps, strict) else {
        return rec;
    };
    let outage_share = |to: usize| {
        let (o, f) = (begin..=to).fold((0, 0), |(o, f), i| (o + series.ok[i], f + series.failed[i]));
        // Half a probe each way keeps the share inside (0, 1) for the log-likelihoods.
        (f as f64 + 0.5) / ((o + f) as f64 + 1.0)
    };
    let weights = |f_share: f64| {
        (!strict).then(|| {
            let f_share = f_share.clamp((2.0 * background).min(0.999_999), 0.999_999);
            ((f_share / background).ln(), ((1.0 - f_share) / (1.0 - background)).ln())
        })
    };
    // Two passes: the outage's failure share from its detection, then from its dated end.
    let mut end = find_end(series, begin, weights(outage_share(detected)), threshold, stable_for_ms);
    if let Some(last_us) = end.filter(|_| !strict) {
        let last = series.index(last_us.div_euclid(1000));
        end = find_end(series, begin, weights(outage_share(last)), threshold, stable_for_ms);
    }
    rec.first_failure_unix_ms = Some(series.first_failure_unix_us(begin).div_euclid(1000));
    rec.rto_ms = None;
    let interval_us = (series.mean_interval_ms() * 1000.0).round() as i64;
    let outage_to = match end {
        Some(last_us) => {
            let recovered = (last_us + interval_us).div_euclid(1000);
            rec.recovered_unix_us = Some(last_us + interval_us);
            rec.last_failure_unix_us = Some(last_us);
            rec.recovered_unix_ms = Some(recovered);
            rec.rto_ms = Some((recovered - t_inject_unix_ms).max(0));
            recovered
        }
        None => series.end_unix_ms(),
    };
    rec.outage_ms = below_threshold_ms(series, series.time(begin), outage_to, threshold);
    rec
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The outage's first bucket and the bucket where it was detected, from bucket `start` on.
fn detect(series: &Series, start: usize, eps: f64, strict: bool) -> Option<(usize, usize)> {
    if strict {
        let first = (start..series.failed.len()).find(|&i| series.failed[i] > 0)?;
        return Some((first, first));
    }
    let mut excess = 0.0;
    let mut begin = start;
    for i in start..series.ok.len() {
        let (o, f) = (series.ok[i] as f64, series.failed[i] as f64);
        if excess == 0.0 && f > 0.0 {
            begin = i;
        }
        excess = (excess + f * (1.0 - eps) - o * eps).max(0.0);
        if excess >= DETECT_EXCESS {
            return Some((begin, i));
        }
    }
    None
}

/// The scheduled time (unix µs) of the outage's last failure, or `None` when the outage
/// never ended within the data. `weights` are the log-likelihood ratios of a failure and
/// a success (outage vs background); `None` when the background is clean, which makes
/// every failure the outage's. The end is confirmed by the first `stable_for` window that
/// starts after it and holds the threshold; a relapse before that (a new outage detected
/// as in [`detect`]) moves the end past it.
///
/// Inside a bucket two instants are known exactly: the end of the run of failures that
/// opens it (the probe before its first success) and its last failure; with a regular
/// schedule, how many probes precede each follows from the mean interval. Both are
/// candidate ends.
fn find_end(
    series: &Series,
    begin: usize,
    weights: Option<(f64, f64)>,
    threshold: f64,
    stable_for_ms: i64,
) -> Option<i64> {
    let eps = (1.0 - threshold).clamp(0.0, 1.0);
    let interval_us = (series.mean_interval_ms() * 1000.0).max(1.0);
    let totals = Prefix::of(series);
    let (mut best, mut cum) = (f64::NEG_INFINITY, 0.0);
    let mut end_us = series.last_failure_unix_us(begin);
    let mut relapse = 0.0;
    for i in begin..series.ok.len() {
        let (o, f) = (series.ok[i] as f64, series.failed[i] as f64);
        if f > 0.0 {
            let (first_fail, last_fail) = (series.first_failure_unix_us(i), series.last_failure_unix_us(i));
            let first_ok = (o > 0.0).then(|| series.first_ok_unix_us(i));
            let first_probe = first_ok.map_or(first_fail, |ok| ok.min(first_fail));
            // Probes of this bucket scheduled at or before `t`.
            let upto = |t: i64| (((t - first_probe) as f64 / interval_us).round() + 1.0).clamp(0.0, o + f);
            let mut candidates = Vec::with_capacity(2);
            if let Some(ok) = first_ok.filter(|&ok| ok > first_fail) {
                let run = (upto(ok) - 1.0).clamp(1.0, f);
                candidates.push((ok - interval_us.round() as i64, run, 0.0));
            }
            candidates.push((last_fail, f, (upto(last_fail) - f).max(0.0)));
            for (at_us, fails, oks) in candidates {
                let value = weights.map_or(0.0, |(wf, ws)| cum + fails * wf + oks * ws);
                let moved = match weights {
                    None => true,
                    Some(_) if value >= best + EXTEND_MARGIN || best == f64::NEG_INFINITY => true,
                    Some(_) => false,
                };
                if moved {
                    (best, end_us, relapse) = (value, at_us.max(end_us), 0.0);
                }
            }
            if weights.is_some() && end_us < last_fail {
                // A relapse: the failures after the end stand out of the background again.
                relapse = (relapse + f * (1.0 - eps) - o * eps).max(0.0);
                if relapse >= DETECT_EXCESS {
                    let value = weights.map_or(0.0, |(wf, ws)| cum + f * wf + (upto(last_fail) - f).max(0.0) * ws);
                    (best, end_us, relapse) = (value, last_fail, 0.0);
                }
            }
        } else {
            relapse = (relapse - o * eps).max(0.0);
        }
        cum += weights.map_or(0.0, |(wf, ws)| f * wf + o * ws);
        // The window of `stable_for` ending with this bucket, if it starts after the end.
        let to = series.time(i + 1);
        let from = to - stable_for_ms;
        if from * 1000 > end_us {
            let end_bucket = series.index(end_us.div_euclid(1000));
            let (ok, failed) = totals.between(series.index(from).max(end_bucket + 1), i + 1);
            if ok + failed > 0 && share(ok, ok + failed) >= threshold {
                return Some(end_us);
            }
        }
    }
    None
}

/// Running totals of a series, for window counts in constant time.
struct Prefix {
    ok: Vec<u64>,
    failed: Vec<u64>,
}

impl Prefix {
    fn of(series: &Series) -> Prefix {
        let run = |v: &[u64]| {
            std::iter::once(0)
                .chain(v.iter().scan(0, |acc, x| {
                    *acc += x;
                    Some(*acc)
                }))
                .collect()
        };
        Prefix {
            ok: run(&series.ok),
            failed: run(&series.failed),
        }
    }

    /// (ok, failed) of buckets `a..b`.
    fn between(&self, a: usize, b: usize) -> (u64, u64) {
        let a = a.min(b);
        (self.ok[b] - self.ok[a], self.failed[b] - self.failed[a])
    }
}

/// The 1 s window (stepping by 100 ms from bucket `start`) with the lowest success ratio.
fn worst_window(series: &Series, start: usize) -> Option<(i64, f64)> {
    let step = (100 / series.bucket_ms.max(1)).max(1) as usize;
    let mut worst: Option<(i64, f64)> = None;
    for i in (start..series.ok.len()).step_by(step) {
        let t = series.time(i);
        let (o, f) = series.counts(t, t + 1000);
        if o + f > 0 && t + 1000 <= series.end_unix_ms() {
            let r = share(o, o + f);
            if worst.is_none_or(|(_, w)| r < w) {
                worst = Some((t, r));
            }
        }
    }
    worst
}

/// Time in `[from, to)`, in 100 ms intervals, whose success ratio is below `threshold`.
fn below_threshold_ms(series: &Series, from_unix_ms: i64, to_unix_ms: i64, threshold: f64) -> i64 {
    let mut total = 0;
    let mut t = from_unix_ms;
    while t < to_unix_ms {
        let (o, f) = series.counts(t, (t + 100).min(to_unix_ms.max(t + series.bucket_ms)));
        if o + f > 0 && share(o, o + f) < threshold {
            total += 100;
        }
        t += 100;
    }
    total
}

#[cfg(test)]
mod properties;
