//! The ground truth of a partial outage, from the local stack's `serving_fraction`
//! events: when the outage really ended, the share of probes it failed, the availability
//! a prober should have seen, the writes it lost, and the tolerances a measured RTO is held
//! to. Shared by `tests/tests/partial_outage.rs` and `tests/examples/bench_drills.rs`.

#![allow(dead_code)]

use drdrill_localstack::truth::{Truth, TruthEvent};

/// Events stamped this long before `t_inject` still belong to the fault (the stack stamps
/// a fault's effect when it began, FIS's action start may be read a little later).
pub const INJECT_SLACK_MS: i64 = 50;

/// The serving fraction over time: `(t_unix_ms, fraction)` of every `serving_fraction`
/// event of the top-level region (the first to record one, at start-up), oldest first.
pub fn fraction_steps(truth: &[TruthEvent]) -> Vec<(i64, f64)> {
    let mut region = None;
    truth
        .iter()
        .filter_map(|e| match e.what {
            Truth::ServingFraction { serving_fraction, .. } => {
                let first = region.get_or_insert(&e.region);
                (**first == e.region).then_some((e.t_unix_ms, serving_fraction))
            }
            _ => None,
        })
        .collect()
}

/// What the ground truth says about the outage a fault injected at `t_inject` caused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthOutage {
    /// When the serving fraction first fell below 1.0 (none: it never did).
    pub start_unix_ms: Option<i64>,
    /// T: the first moment after injection at which the serving fraction is back to 1.0
    /// and stays there (`t_inject` when it never fell).
    pub end_unix_ms: i64,
    /// f: the share of probes the outage fails where it ends, `1 − fraction` of the last
    /// level before T (1.0 for a whole outage, 1/n for one target of n lost; 0 when
    /// there was no outage).
    pub failing_share: f64,
    /// The lowest serving fraction during the outage (1.0 when there was none).
    pub lowest_fraction: f64,
}

impl TruthOutage {
    /// The true RTO, ms: T − `t_inject`.
    pub fn rto_ms(&self, t_inject: i64) -> i64 {
        (self.end_unix_ms - t_inject).max(0)
    }

    /// Whether only part of the probes failed where the outage ended (0 < f < 1).
    pub fn is_partial(&self) -> bool {
        self.failing_share > 0.0 && self.failing_share < 1.0
    }
}

/// The outage after `t_inject` from the serving-fraction steps; `None` when the fraction
/// never came back to 1.0.
pub fn truth_outage(truth: &[TruthEvent], t_inject: i64) -> Option<TruthOutage> {
    let steps: Vec<(i64, f64)> = fraction_steps(truth)
        .into_iter()
        .filter(|(t, _)| *t >= t_inject - INJECT_SLACK_MS)
        .collect();
    let Some(last_below) = steps.iter().rposition(|(_, f)| *f < 1.0) else {
        return Some(TruthOutage {
            start_unix_ms: None,
            end_unix_ms: t_inject,
            failing_share: 0.0,
            lowest_fraction: 1.0,
        });
    };
    let end_unix_ms = steps.get(last_below + 1)?.0;
    let start_unix_ms = steps.iter().find(|(_, f)| *f < 1.0).map(|(t, _)| *t);
    let lowest_fraction = steps[..=last_below].iter().map(|(_, f)| *f).fold(1.0, f64::min);
    Some(TruthOutage {
        start_unix_ms,
        end_unix_ms,
        failing_share: 1.0 - steps[last_below].1,
        lowest_fraction,
    })
}

/// The time-weighted mean serving fraction over `[from, to)`: the availability an
/// open-loop prober sending through the load balancer should see there (1.0 for an empty
/// span or before the first step).
pub fn mean_fraction(steps: &[(i64, f64)], from: i64, to: i64) -> f64 {
    if to <= from {
        return 1.0;
    }
    let mut level = steps
        .iter()
        .take_while(|(t, _)| *t <= from)
        .last()
        .map_or(1.0, |(_, f)| *f);
    let mut at = from;
    let mut area = 0.0;
    for &(t, f) in steps.iter().filter(|(t, _)| *t > from && *t < to) {
        area += level * (t - at) as f64;
        at = t;
        level = f;
    }
    area += level * (to - at) as f64;
    area / (to - from) as f64
}

/// The ids of the acknowledged writes the stack's failovers lost, sorted, unique.
pub fn truth_lost_ids(truth: &[TruthEvent]) -> Vec<String> {
    let mut ids: Vec<String> = truth
        .iter()
        .filter_map(|e| match &e.what {
            Truth::DbFailover { lost_write_ids, .. } | Truth::RegionFailover { lost_write_ids, .. } => {
                Some(lost_write_ids.clone())
            }
            _ => None,
        })
        .flatten()
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The tolerance of one measured RTO, ms: 2 probe intervals + 50 ms + the mean gap
/// between failed probes at the end of the outage, 1 / (f × rate).
pub fn rto_tolerance_ms(rate_per_sec: f64, failing_share: f64) -> f64 {
    2.0 * 1000.0 / rate_per_sec + 50.0 + gap_ms(rate_per_sec, failing_share)
}

/// The bias one case allows in the mean signed error, ms: 1 probe interval + half the
/// mean gap between failed probes, 1 / (2 f × rate).
pub fn bias_allowance_ms(rate_per_sec: f64, failing_share: f64) -> f64 {
    1000.0 / rate_per_sec + gap_ms(rate_per_sec, failing_share) / 2.0
}

/// The mean time between failed probes when a share f of them fail, ms (0 without an
/// outage: nothing to wait for).
pub fn gap_ms(rate_per_sec: f64, failing_share: f64) -> f64 {
    if failing_share > 0.0 {
        1000.0 / (failing_share * rate_per_sec)
    } else {
        0.0
    }
}

/// The binomial bound on a measured availability over `n` probes whose expected value is
/// `p`: `sigmas` standard deviations, plus one probe either way for where the window's
/// edges fall.
pub fn availability_bound(p: f64, n: f64, sigmas: f64) -> f64 {
    let n = n.max(1.0);
    sigmas * (p * (1.0 - p) / n).max(0.0).sqrt() + 1.0 / n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: i64, f: f64) -> TruthEvent {
        TruthEvent {
            t_unix_ms: t,
            region: None,
            what: Truth::ServingFraction {
                serving_fraction: f,
                answering: 0,
                routable: 0,
            },
        }
    }

    /// T is the return to 1.0 after the last relapse, not the first return; f is the
    /// failing share of the last level before T; no drop after injection is no outage.
    #[test]
    fn truth_outage_ends_at_the_last_return_to_whole() {
        let truth = [
            at(0, 1.0),
            at(1000, 2.0 / 3.0),
            at(1500, 1.0),
            at(1600, 0.5),
            at(2000, 0.75),
            at(2400, 1.0),
        ];
        let o = truth_outage(&truth, 990).unwrap();
        assert_eq!(o.start_unix_ms, Some(1000));
        assert_eq!(o.end_unix_ms, 2400);
        assert_eq!(o.failing_share, 0.25);
        assert_eq!(o.lowest_fraction, 0.5);
        assert_eq!(o.rto_ms(990), 1410);
        assert!(o.is_partial());
        let none = truth_outage(&truth, 3000).unwrap();
        assert_eq!(
            (none.start_unix_ms, none.end_unix_ms, none.failing_share),
            (None, 3000, 0.0)
        );
        assert_eq!(truth_outage(&truth[..5], 990), None, "never whole again");
    }

    /// The mean fraction weighs each level by how long it held inside the window.
    #[test]
    fn mean_fraction_is_time_weighted() {
        let steps = [(0, 1.0), (1000, 0.5), (2000, 1.0)];
        assert_eq!(mean_fraction(&steps, 500, 2500), (500.0 + 500.0 + 500.0) / 2000.0);
        assert_eq!(mean_fraction(&steps, 1200, 1800), 0.5);
        assert_eq!(mean_fraction(&steps, 3000, 3000), 1.0);
    }
}
