//! Regressions: each run of a scenario judged against the median of the complete runs
//! before it (see the module doc of [`super`]).

use super::HistoryEntry;
use crate::report::chart::TrendPoint;
use crate::report::view::{opt_secs, with_uncertainty, Sign};

/// When a run counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionPolicy {
    /// Allowed relative increase over the median (0.25 = 25%).
    pub margin: f64,
    /// Allowed absolute increase, ms, whatever the median (so noise around a small
    /// median is not flagged).
    pub min_delta_ms: i64,
    /// How many previous runs form the baseline (the most recent ones).
    pub window: usize,
}

impl Default for RegressionPolicy {
    /// 25%, at least 500 ms, over the last 10 runs.
    fn default() -> RegressionPolicy {
        RegressionPolicy {
            margin: 0.25,
            min_delta_ms: 500,
            window: 10,
        }
    }
}

/// One metric of one run that is worse than its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// `rto` or `rpo`.
    pub metric: &'static str,
    /// The run's value, ms (`None`: never recovered).
    pub value_ms: Option<i64>,
    /// The ± bound of the run's value, ms, when it was recorded.
    pub value_uncertainty_ms: Option<i64>,
    /// Median of the baseline, ms.
    pub median_ms: i64,
    /// The largest value that would not have been flagged, ms.
    pub limit_ms: i64,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.metric.to_uppercase();
        match self.value_ms {
            Some(v) => write!(
                f,
                "{name} {} > {} (median {} + margin)",
                with_uncertainty(v, self.value_uncertainty_ms, Sign::Unsigned),
                opt_secs(Some(self.limit_ms)),
                opt_secs(Some(self.median_ms))
            ),
            None => write!(f, "{name} never recovered (median {})", opt_secs(Some(self.median_ms))),
        }
    }
}

/// One run with its verdict against the history before it.
#[derive(Debug, Clone)]
pub struct TrendRow {
    /// The run.
    pub entry: HistoryEntry,
    /// What regressed (empty: nothing).
    pub regressions: Vec<Regression>,
    /// How many previous runs formed the baseline.
    pub baseline_runs: usize,
}

/// One scenario's runs, oldest first.
#[derive(Debug, Clone)]
pub struct ScenarioTrend {
    /// Scenario name.
    pub scenario: String,
    /// Its runs.
    pub rows: Vec<TrendRow>,
}

impl ScenarioTrend {
    /// Whether the most recent run regressed.
    pub fn latest_regressed(&self) -> bool {
        self.rows.last().is_some_and(|r| !r.regressions.is_empty())
    }

    /// The chart's points.
    pub fn points(&self) -> Vec<TrendPoint> {
        self.rows
            .iter()
            .map(|r| TrendPoint {
                rto_ms: r.entry.rto_ms,
                rpo_ms: r.entry.rpo_ms,
                regression: !r.regressions.is_empty(),
            })
            .collect()
    }
}

/// The median of a non-empty list.
fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

fn judge(
    metric: &'static str,
    (value, value_uncertainty_ms): (Option<i64>, Option<i64>),
    baseline: &[&HistoryEntry],
    get: fn(&HistoryEntry) -> Option<i64>,
    policy: &RegressionPolicy,
    none_is_worse: bool,
) -> Option<Regression> {
    let mut values: Vec<i64> = baseline.iter().filter_map(|e| get(e)).collect();
    if values.is_empty() {
        return None;
    }
    let median_ms = median(&mut values);
    let limit_ms = median_ms + ((median_ms as f64 * policy.margin).round() as i64).max(policy.min_delta_ms);
    match value {
        Some(v) if v > limit_ms => Some(Regression {
            metric,
            value_ms: Some(v),
            value_uncertainty_ms,
            median_ms,
            limit_ms,
        }),
        None if none_is_worse => Some(Regression {
            metric,
            value_ms: None,
            value_uncertainty_ms: None,
            median_ms,
            limit_ms,
        }),
        _ => None,
    }
}

/// Groups the entries by scenario (sorted by name; runs by start time) and judges each
/// run against the runs before it.
pub fn analyse(entries: &[HistoryEntry], policy: &RegressionPolicy) -> Vec<ScenarioTrend> {
    let mut names: Vec<&str> = entries.iter().map(|e| e.scenario.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let mut runs: Vec<&HistoryEntry> = entries.iter().filter(|e| e.scenario == name).collect();
            runs.sort_by_key(|e| e.started_unix_ms);
            let rows = runs
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let previous: Vec<&HistoryEntry> = runs[..i].iter().copied().filter(|p| p.judged()).collect();
                    let baseline = &previous[previous.len().saturating_sub(policy.window)..];
                    let regressions = if e.judged() {
                        [
                            judge(
                                "rto",
                                (e.rto_ms, e.rto_uncertainty_ms),
                                baseline,
                                |p| p.rto_ms,
                                policy,
                                true,
                            ),
                            judge(
                                "rpo",
                                (e.rpo_ms, e.rpo_uncertainty_ms),
                                baseline,
                                |p| p.rpo_ms,
                                policy,
                                false,
                            ),
                        ]
                        .into_iter()
                        .flatten()
                        .collect()
                    } else {
                        Vec::new()
                    };
                    TrendRow {
                        entry: (*e).clone(),
                        regressions,
                        baseline_runs: baseline.len(),
                    }
                })
                .collect();
            ScenarioTrend {
                scenario: name.to_string(),
                rows,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median of an even count is the mean of the middle two.
    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3, 1, 2]), 2);
        assert_eq!(median(&mut [4, 1, 2, 3]), 2);
    }
}
