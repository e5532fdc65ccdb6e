//! Blind intervals: when an observer's AWS calls were throttled or failing, so that what
//! it watches may have changed unseen; and which of the report's figures were measured
//! while it was blind (they are marked so, never reported as clean).

use serde::{Deserialize, Serialize};

use crate::analysis::{InjectSource, RtoBreakdown};
use crate::journal::{Event, EventKind};

/// One stretch in which every call of an observer failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindInterval {
    /// The observer: `fis`, `elbv2` or `route53`.
    pub observer: String,
    /// The AWS service (SigV4 signing name).
    pub service: String,
    /// The operation, e.g. `DescribeTargetHealth`.
    pub operation: String,
    /// When the first failed call was sent, unix ms.
    pub from_unix_ms: i64,
    /// When the observer saw again (or stopped), unix ms.
    pub to_unix_ms: i64,
    /// Failed calls in the stretch.
    pub failed_calls: u32,
    /// Of those, throttled.
    pub throttled_calls: u32,
    /// The last AWS error code, if an answer carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The report's figures this observer gives that were measured (or missed) while it
    /// was blind, by their report.json key, e.g. `rto_breakdown.targets_unhealthy_ms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measured_while_blind: Vec<String>,
}

/// The figures each observer gives, with their values (ms after injection) in `b`.
fn figures(observer: &str, b: Option<&RtoBreakdown>, source: Option<InjectSource>) -> Vec<(&'static str, Option<i64>)> {
    let v = |f: fn(&RtoBreakdown) -> Option<i64>| b.and_then(f);
    match observer {
        "elbv2" => vec![
            ("rto_breakdown.targets_unhealthy_ms", v(|b| b.targets_unhealthy_ms)),
            (
                "rto_breakdown.targets_healthy_again_ms",
                v(|b| b.targets_healthy_again_ms),
            ),
        ],
        "route53" => vec![("rto_breakdown.health_check_failed_ms", v(|b| b.health_check_failed_ms))],
        "fis" => {
            let mut f = vec![("rto_breakdown.experiment_ended_ms", v(|b| b.experiment_ended_ms))];
            if source == Some(InjectSource::ObservedRunning) {
                f.push(("t_inject_unix_ms", Some(0)));
            }
            f
        }
        _ => Vec::new(),
    }
}

/// The journal's blind intervals, each with the figures it taints: a figure seen at
/// `t_inject + v` is tainted by a blind stretch overlapping `[t_inject, t_inject + v]`
/// (the change may have happened unseen before it); a figure never seen by one
/// overlapping `[t_inject, end]`.
pub fn intervals(
    events: &[Event],
    t_inject: Option<i64>,
    end_unix_ms: i64,
    breakdown: Option<&RtoBreakdown>,
    source: Option<InjectSource>,
) -> Vec<BlindInterval> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ObserverBlind {
                observer,
                service,
                operation,
                from_unix_ms,
                to_unix_ms,
                failed_calls,
                throttled_calls,
                error_code,
            } => {
                let measured_while_blind = match t_inject {
                    Some(ti) => figures(observer, breakdown, source)
                        .into_iter()
                        .filter(|(key, value)| {
                            let seen = match value {
                                Some(v) => ti + v,
                                None => end_unix_ms,
                            };
                            // t_inject itself: a stretch before it (while waiting for `running`).
                            if *key == "t_inject_unix_ms" {
                                return *from_unix_ms <= ti;
                            }
                            *from_unix_ms <= seen && *to_unix_ms >= ti
                        })
                        .map(|(key, _)| key.to_string())
                        .collect(),
                    None => Vec::new(),
                };
                Some(BlindInterval {
                    observer: observer.clone(),
                    service: service.clone(),
                    operation: operation.clone(),
                    from_unix_ms: *from_unix_ms,
                    to_unix_ms: *to_unix_ms,
                    failed_calls: *failed_calls,
                    throttled_calls: *throttled_calls,
                    error_code: error_code.clone(),
                    measured_while_blind,
                })
            }
            _ => None,
        })
        .collect()
}

/// One line per blind interval for `summary.md`, times relative to `origin_unix_ms`.
pub fn lines(intervals: &[BlindInterval], origin_unix_ms: i64) -> Vec<String> {
    let rel = |t: i64| {
        let s = (t - origin_unix_ms) as f64 / 1000.0;
        if s < 0.0 {
            format!("−{:.2} s", -s)
        } else {
            format!("+{s:.2} s")
        }
    };
    intervals
        .iter()
        .map(|b| {
            let mut line = format!(
                "{} {} blind {} → {} ({} failed calls, {} throttled{})",
                b.observer,
                b.operation,
                rel(b.from_unix_ms),
                rel(b.to_unix_ms),
                b.failed_calls,
                b.throttled_calls,
                b.error_code
                    .as_deref()
                    .map(|c| format!(", last {c}"))
                    .unwrap_or_default()
            );
            if !b.measured_while_blind.is_empty() {
                line.push_str(&format!(
                    "; measured while blind: {}",
                    b.measured_while_blind.join(", ")
                ));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blind(observer: &str, from: i64, to: i64) -> Event {
        Event {
            t_unix_ms: to,
            kind: EventKind::ObserverBlind {
                observer: observer.into(),
                service: "elasticloadbalancing".into(),
                operation: "DescribeTargetHealth".into(),
                from_unix_ms: from,
                to_unix_ms: to,
                failed_calls: 3,
                throttled_calls: 3,
                error_code: Some("Throttling".into()),
            },
        }
    }

    /// A blind stretch before a figure was seen marks it; one after it, or another
    /// observer's, does not; a figure never seen is marked by a stretch in the fault window.
    #[test]
    fn figures_seen_after_blindness_are_marked() {
        let b = RtoBreakdown {
            targets_unhealthy_ms: Some(2_000),
            ..Default::default()
        };
        let events = vec![blind("elbv2", 10_500, 11_500), blind("elbv2", 20_000, 21_000)];
        let got = intervals(
            &events,
            Some(10_000),
            30_000,
            Some(&b),
            Some(InjectSource::FisActionStart),
        );
        assert_eq!(
            got[0].measured_while_blind,
            vec![
                "rto_breakdown.targets_unhealthy_ms".to_string(),
                "rto_breakdown.targets_healthy_again_ms".to_string()
            ]
        );
        assert_eq!(
            got[1].measured_while_blind,
            vec!["rto_breakdown.targets_healthy_again_ms".to_string()]
        );
        let early = intervals(&[blind("elbv2", 1_000, 2_000)], Some(10_000), 30_000, Some(&b), None);
        assert!(early[0].measured_while_blind.is_empty());
        let line = lines(&got[..1], 10_000).remove(0);
        assert!(
            line.starts_with(
                "elbv2 DescribeTargetHealth blind +0.50 s → +1.50 s (3 failed calls, 3 throttled, last Throttling)"
            ),
            "{line}"
        );
    }
}
