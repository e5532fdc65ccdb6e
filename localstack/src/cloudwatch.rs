//! CloudWatch for the local stack: the datapoints PutMetricData stores, and metric alarms
//! (PutMetricAlarm, DescribeAlarms, DeleteAlarms) evaluated once per period as CloudWatch
//! documents it ("Using Amazon CloudWatch alarms",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html>):
//! the alarm looks at its last `EvaluationPeriods` periods, turns each into one value by
//! its statistic, and goes to `ALARM` when at least `DatapointsToAlarm` of them breach the
//! threshold; a period without datapoints counts as `TreatMissingData` says (`breaching`,
//! `notBreaching`, `ignore`: keep the state, `missing`: `INSUFFICIENT_DATA` when all are
//! missing). FIS stop conditions watch these alarms' states.
//!
//! Pure state and its ticker; the wire protocol is in [`crate::api::cloudwatch`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::truth::now_unix_ms;

/// Datapoints older than this are dropped (no alarm here looks further back).
const KEEP_DATA: Duration = Duration::from_secs(3 * 3600);
/// At most this many datapoints are kept per metric (the oldest go first).
const MAX_POINTS: usize = 100_000;
/// The longest evaluation range CloudWatch allows: `Period × EvaluationPeriods` ≤ 1 day.
const MAX_RANGE_S: u64 = 86_400;

/// One metric: namespace, name and dimensions (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    /// Namespace, e.g. `drdrill`.
    pub namespace: String,
    /// Metric name, e.g. `Heartbeat`.
    pub name: String,
    /// Dimensions `(name, value)`, sorted.
    pub dimensions: Vec<(String, String)>,
}

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    /// The metric is within the threshold.
    Ok,
    /// The metric breached the threshold.
    Alarm,
    /// Not enough data to decide (also every new alarm's state).
    InsufficientData,
}

impl AlarmState {
    /// The state as CloudWatch names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    /// The state CloudWatch names so.
    pub fn parse(s: &str) -> Option<AlarmState> {
        [AlarmState::Ok, AlarmState::Alarm, AlarmState::InsufficientData]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// How a period's datapoints become one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// How many datapoints.
    SampleCount,
    /// Their mean.
    Average,
    /// Their sum.
    Sum,
    /// The smallest.
    Minimum,
    /// The largest.
    Maximum,
}

impl Statistic {
    const ALL: [(Statistic, &'static str); 5] = [
        (Statistic::SampleCount, "SampleCount"),
        (Statistic::Average, "Average"),
        (Statistic::Sum, "Sum"),
        (Statistic::Minimum, "Minimum"),
        (Statistic::Maximum, "Maximum"),
    ];

    /// The statistic CloudWatch names so.
    pub fn parse(s: &str) -> Option<Statistic> {
        Statistic::ALL.iter().find(|(_, n)| *n == s).map(|(st, _)| *st)
    }

    /// Its CloudWatch name.
    pub fn as_str(self) -> &'static str {
        Statistic::ALL.iter().find(|(st, _)| *st == self).map_or("", |(_, n)| n)
    }

    /// The value of `points` (`None` for none).
    fn of(self, points: &[f64]) -> Option<f64> {
        if points.is_empty() {
            return None;
        }
        let sum: f64 = points.iter().sum();
        Some(match self {
            Statistic::SampleCount => points.len() as f64,
            Statistic::Average => sum / points.len() as f64,
            Statistic::Sum => sum,
            Statistic::Minimum => points.iter().copied().fold(f64::INFINITY, f64::min),
            Statistic::Maximum => points.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// How a value is compared with the threshold (breaching when true).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `value >= threshold`.
    GreaterThanOrEqualToThreshold,
    /// `value > threshold`.
    GreaterThanThreshold,
    /// `value < threshold`.
    LessThanThreshold,
    /// `value <= threshold`.
    LessThanOrEqualToThreshold,
}

impl Comparison {
    const ALL: [(Comparison, &'static str); 4] = [
        (
            Comparison::GreaterThanOrEqualToThreshold,
            "GreaterThanOrEqualToThreshold",
        ),
        (Comparison::GreaterThanThreshold, "GreaterThanThreshold"),
        (Comparison::LessThanThreshold, "LessThanThreshold"),
        (Comparison::LessThanOrEqualToThreshold, "LessThanOrEqualToThreshold"),
    ];

    /// The operator CloudWatch names so.
    pub fn parse(s: &str) -> Option<Comparison> {
        Comparison::ALL.iter().find(|(_, n)| *n == s).map(|(c, _)| *c)
    }

    /// Its CloudWatch name.
    pub fn as_str(self) -> &'static str {
        Comparison::ALL.iter().find(|(c, _)| *c == self).map_or("", |(_, n)| n)
    }

    fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// How a period without datapoints counts (`TreatMissingData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// As breaching the threshold.
    Breaching,
    /// As within the threshold.
    NotBreaching,
    /// Not at all: with nothing else to go by, the state stays.
    Ignore,
    /// Not at all: with nothing else to go by, `INSUFFICIENT_DATA` (the default).
    Missing,
}

impl Missing {
    const ALL: [(Missing, &'static str); 4] = [
        (Missing::Breaching, "breaching"),
        (Missing::NotBreaching, "notBreaching"),
        (Missing::Ignore, "ignore"),
        (Missing::Missing, "missing"),
    ];

    /// The treatment CloudWatch names so.
    pub fn parse(s: &str) -> Option<Missing> {
        Missing::ALL.iter().find(|(_, n)| *n == s).map(|(m, _)| *m)
    }

    /// Its CloudWatch name.
    pub fn as_str(self) -> &'static str {
        Missing::ALL.iter().find(|(m, _)| *m == self).map_or("", |(_, n)| n)
    }
}

/// A metric alarm as PutMetricAlarm defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    /// Alarm name (unique in the region).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The metric it watches.
    pub metric: MetricKey,
    /// How each period's datapoints become one value.
    pub statistic: Statistic,
    /// Period, seconds.
    pub period_s: u64,
    /// How many periods it looks at.
    pub evaluation_periods: u64,
    /// How many of them must breach (≤ `evaluation_periods`).
    pub datapoints_to_alarm: u64,
    /// The threshold.
    pub threshold: f64,
    /// The comparison with it.
    pub comparison: Comparison,
    /// How periods without data count.
    pub treat_missing: Missing,
    /// Tags given at creation.
    pub tags: Vec<(String, String)>,
}

/// An alarm and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// Its definition.
    pub spec: AlarmSpec,
    /// Its ARN.
    pub arn: String,
    /// Its state.
    pub state: AlarmState,
    /// Why it is in that state.
    pub reason: String,
    /// When the state last changed, unix ms.
    pub state_updated_ms: i64,
    /// When the definition last changed, unix ms.
    pub configuration_updated_ms: i64,
    /// When it is next evaluated, unix ms (once per period from its creation).
    next_evaluation_ms: i64,
}

/// Why a CloudWatch call is refused, with CloudWatch's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudWatchError {
    /// A value is malformed or out of range (`InvalidParameterValue`).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A required parameter is missing (`MissingParameter`).
    #[error("{0}")]
    MissingParameter(String),
    /// The parameters do not fit together (`InvalidParameterCombination`).
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// A named alarm does not exist (`ResourceNotFound`).
    #[error("{0}")]
    ResourceNotFound(String),
}

impl CloudWatchError {
    /// CloudWatch's error code.
    pub fn code(&self) -> &'static str {
        match self {
            CloudWatchError::InvalidParameterValue(_) => "InvalidParameterValue",
            CloudWatchError::MissingParameter(_) => "MissingParameter",
            CloudWatchError::InvalidParameterCombination(_) => "InvalidParameterCombination",
            CloudWatchError::ResourceNotFound(_) => "ResourceNotFound",
        }
    }
}

#[derive(Default)]
struct State {
    metrics: HashMap<MetricKey, VecDeque<(i64, f64)>>,
    alarms: BTreeMap<String, Alarm>,
}

/// One region's CloudWatch.
pub struct CloudWatch {
    region: String,
    account: String,
    /// Whether alarm periods under CloudWatch's 10 s minimum are accepted (a documented
    /// speed-up of fast stacks, `speedups.short_alarm_periods`).
    short_periods: bool,
    state: Mutex<State>,
}

impl CloudWatch {
    /// An empty CloudWatch for `region` of `account`.
    pub fn new(region: &str, account: &str, short_periods: bool) -> CloudWatch {
        CloudWatch {
            region: region.to_string(),
            account: account.to_string(),
            short_periods,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// PutMetricData: stores datapoints `(metric, unix ms, values)`.
    pub fn put_metric_data(&self, data: Vec<(MetricKey, i64, Vec<f64>)>) {
        let now = now_unix_ms();
        let mut st = self.lock();
        for (key, t, values) in data {
            let series = st.metrics.entry(key).or_default();
            series.extend(values.into_iter().map(|v| (t, v)));
            while series.len() > MAX_POINTS
                || series
                    .front()
                    .is_some_and(|(t, _)| *t < now - KEEP_DATA.as_millis() as i64)
            {
                series.pop_front();
            }
        }
    }

    /// Checks an alarm definition as PutMetricAlarm does.
    fn validate(&self, spec: &AlarmSpec) -> Result<(), CloudWatchError> {
        let invalid = |m: String| Err(CloudWatchError::InvalidParameterValue(m));
        if spec.name.is_empty() || spec.name.chars().count() > 255 {
            return invalid(format!("AlarmName must be 1 to 255 characters, not {:?}", spec.name));
        }
        let p = spec.period_s;
        let allowed = matches!(p, 10 | 20 | 30) || (p >= 60 && p.is_multiple_of(60)) || (self.short_periods && p >= 1);
        if !allowed {
            return invalid(format!(
                "The parameter Period must be 10, 20, 30 or a multiple of 60, not {p}{}",
                if p > 0 && p < 10 {
                    " (a stack may allow shorter periods with speedups.short_alarm_periods)"
                } else {
                    ""
                }
            ));
        }
        if spec.evaluation_periods == 0 {
            return invalid("The parameter EvaluationPeriods must be at least 1".into());
        }
        if p.saturating_mul(spec.evaluation_periods) > MAX_RANGE_S {
            return invalid(format!(
                "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400, not {})",
                p.saturating_mul(spec.evaluation_periods)
            ));
        }
        if spec.datapoints_to_alarm == 0 || spec.datapoints_to_alarm > spec.evaluation_periods {
            return Err(CloudWatchError::InvalidParameterCombination(format!(
                "DatapointsToAlarm must be between 1 and EvaluationPeriods ({}), not {}",
                spec.evaluation_periods, spec.datapoints_to_alarm
            )));
        }
        Ok(())
    }

    /// The ARN of the alarm named `name` in this region.
    pub fn alarm_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.region, self.account)
    }

    /// PutMetricAlarm: creates the alarm (`INSUFFICIENT_DATA`, first evaluated one period
    /// later) or replaces its definition (keeping its state).
    pub fn put_metric_alarm(&self, spec: AlarmSpec) -> Result<(), CloudWatchError> {
        self.validate(&spec)?;
        let now = now_unix_ms();
        let arn = self.alarm_arn(&spec.name);
        let mut st = self.lock();
        let period_ms = (spec.period_s * 1000) as i64;
        match st.alarms.get_mut(&spec.name) {
            Some(a) => {
                a.spec = spec;
                a.configuration_updated_ms = now;
                a.next_evaluation_ms = now + period_ms;
            }
            None => {
                st.alarms.insert(
                    spec.name.clone(),
                    Alarm {
                        spec,
                        arn,
                        state: AlarmState::InsufficientData,
                        reason: "Unchecked: Initial alarm creation".into(),
                        state_updated_ms: now,
                        configuration_updated_ms: now,
                        next_evaluation_ms: now + period_ms,
                    },
                );
            }
        }
        Ok(())
    }

    /// DescribeAlarms: the alarms named (all when `names` is empty), starting with
    /// `prefix`, in `state`; by name.
    pub fn describe_alarms(&self, names: &[String], prefix: Option<&str>, state: Option<AlarmState>) -> Vec<Alarm> {
        self.lock()
            .alarms
            .values()
            .filter(|a| names.is_empty() || names.contains(&a.spec.name))
            .filter(|a| prefix.is_none_or(|p| a.spec.name.starts_with(p)))
            .filter(|a| state.is_none_or(|s| a.state == s))
            .cloned()
            .collect()
    }

    /// DeleteAlarms: all of them, or — when one does not exist — none (as CloudWatch
    /// does: "If you specify an incorrect alarm name ... no alarms are deleted").
    pub fn delete_alarms(&self, names: &[String]) -> Result<(), CloudWatchError> {
        let mut st = self.lock();
        if let Some(missing) = names.iter().find(|n| !st.alarms.contains_key(*n)) {
            return Err(CloudWatchError::ResourceNotFound(format!(
                "Alarm {missing} does not exist; no alarms were deleted"
            )));
        }
        for n in names {
            st.alarms.remove(n);
        }
        Ok(())
    }

    /// The state of the alarm with this ARN, if it exists.
    pub fn alarm_state(&self, arn: &str) -> Option<(AlarmState, String)> {
        self.lock()
            .alarms
            .values()
            .find(|a| a.arn == arn)
            .map(|a| (a.state, a.reason.clone()))
    }

    /// Evaluates every alarm that is due at `now_ms`.
    pub fn evaluate_due(&self, now_ms: i64) {
        let mut st = self.lock();
        let State { metrics, alarms } = &mut *st;
        for alarm in alarms.values_mut() {
            if alarm.next_evaluation_ms > now_ms {
                continue;
            }
            let period_ms = (alarm.spec.period_s * 1000) as i64;
            // Catch up without evaluating twice for the same instant.
            while alarm.next_evaluation_ms <= now_ms {
                alarm.next_evaluation_ms += period_ms;
            }
            let points = metrics.get(&alarm.spec.metric);
            if let Some((state, reason)) = evaluate(&alarm.spec, points, now_ms) {
                if state != alarm.state {
                    tracing::info!(alarm = %alarm.spec.name, from = alarm.state.as_str(), to = state.as_str(), %reason, "alarm state");
                    alarm.state = state;
                    alarm.reason = reason;
                    alarm.state_updated_ms = now_ms;
                }
            }
        }
    }

    /// Evaluates alarms as they fall due until `cancel` (every 100 ms, so an alarm is
    /// evaluated within 100 ms of each of its periods).
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = every.tick() => self.evaluate_due(now_unix_ms()),
            }
        }
    }
}

/// The state an alarm's definition gives its datapoints at `now_ms`, with the reason;
/// `None` to keep the current state (`ignore` with nothing to go by). The periods looked
/// at are the last `evaluation_periods` whole periods ending at `now_ms`.
fn evaluate(spec: &AlarmSpec, points: Option<&VecDeque<(i64, f64)>>, now_ms: i64) -> Option<(AlarmState, String)> {
    let period_ms = (spec.period_s * 1000) as i64;
    let n = spec.evaluation_periods as i64;
    let values: Vec<Option<f64>> = (0..n)
        .map(|k| {
            let (from, to) = (now_ms - (k + 1) * period_ms, now_ms - k * period_ms);
            let in_period: Vec<f64> = points
                .into_iter()
                .flatten()
                .filter(|(t, _)| *t >= from && *t < to)
                .map(|(_, v)| *v)
                .collect();
            spec.statistic.of(&in_period)
        })
        .collect();
    let missing = values.iter().filter(|v| v.is_none()).count();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let breaching_present = present
        .iter()
        .filter(|v| spec.comparison.breaches(**v, spec.threshold))
        .count();
    let breaching = match spec.treat_missing {
        Missing::Breaching => breaching_present + missing,
        Missing::NotBreaching => breaching_present,
        Missing::Ignore | Missing::Missing if present.is_empty() => {
            return (spec.treat_missing == Missing::Missing).then(|| {
                (
                    AlarmState::InsufficientData,
                    format!("Insufficient Data: {n} datapoints were unknown."),
                )
            });
        }
        Missing::Ignore | Missing::Missing => breaching_present,
    };
    let state = if breaching as u64 >= spec.datapoints_to_alarm {
        AlarmState::Alarm
    } else {
        AlarmState::Ok
    };
    let treated = match spec.treat_missing {
        Missing::Breaching if missing > 0 => format!(" ({missing} missing, treated as breaching)"),
        Missing::NotBreaching if missing > 0 => format!(" ({missing} missing, treated as not breaching)"),
        _ => String::new(),
    };
    let verb = if state == AlarmState::Alarm {
        "Threshold Crossed"
    } else {
        "Threshold not crossed"
    };
    Some((
        state,
        format!(
            "{verb}: {breaching} of the last {n} datapoints breached the threshold ({} {}){treated}.",
            spec.comparison.as_str(),
            spec.threshold
        ),
    ))
}

#[cfg(test)]
mod tests;
