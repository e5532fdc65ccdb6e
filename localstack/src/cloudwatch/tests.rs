use super::*;

fn key() -> MetricKey {
    MetricKey {
        namespace: "drdrill".into(),
        name: "Heartbeat".into(),
        dimensions: vec![("RunId".into(), "r1".into())],
    }
}

/// The dead man's switch: SampleCount < 1 over 3 periods of 10 s, missing data
/// breaching, all 3 needed.
fn heartbeat_alarm() -> AlarmSpec {
    AlarmSpec {
        name: "hb".into(),
        description: None,
        metric: key(),
        statistic: Statistic::SampleCount,
        period_s: 10,
        evaluation_periods: 3,
        datapoints_to_alarm: 3,
        threshold: 1.0,
        comparison: Comparison::LessThanThreshold,
        treat_missing: Missing::Breaching,
        tags: Vec::new(),
    }
}

fn series(ts: &[i64]) -> VecDeque<(i64, f64)> {
    ts.iter().map(|t| (*t, 1.0)).collect()
}

/// With missing data breaching, the alarm stays OK while any of the last 3 periods
/// had a heartbeat, and goes to ALARM once all 3 were silent.
#[test]
fn silence_over_every_period_alarms_when_missing_is_breaching() {
    let spec = heartbeat_alarm();
    let beats = series(&[1_000, 11_000, 21_000]);
    assert_eq!(evaluate(&spec, Some(&beats), 30_000).map(|s| s.0), Some(AlarmState::Ok));
    // Last beat at 21 s: the periods [30,40), [40,50) are empty, [20,30) is not.
    assert_eq!(evaluate(&spec, Some(&beats), 50_000).map(|s| s.0), Some(AlarmState::Ok));
    // At 51 s the three periods [21,31), [31,41), [41,51) hold the beat at 21 s.
    assert_eq!(evaluate(&spec, Some(&beats), 51_000).map(|s| s.0), Some(AlarmState::Ok));
    let (state, reason) = evaluate(&spec, Some(&beats), 51_001).expect("a state");
    assert_eq!(state, AlarmState::Alarm, "{reason}");
    assert!(reason.contains("3 missing, treated as breaching"), "{reason}");
    assert_eq!(evaluate(&spec, None, 0).map(|s| s.0), Some(AlarmState::Alarm));
}

/// `missing` gives INSUFFICIENT_DATA when every period is empty; `ignore` keeps the
/// state; `notBreaching` is OK.
#[test]
fn missing_data_treatments() {
    let mut spec = heartbeat_alarm();
    spec.treat_missing = Missing::Missing;
    assert_eq!(
        evaluate(&spec, None, 0).map(|s| s.0),
        Some(AlarmState::InsufficientData)
    );
    spec.treat_missing = Missing::Ignore;
    assert_eq!(evaluate(&spec, None, 0), None);
    spec.treat_missing = Missing::NotBreaching;
    assert_eq!(evaluate(&spec, None, 0).map(|s| s.0), Some(AlarmState::Ok));
}

/// M of N: with DatapointsToAlarm 2 of 3, two breaching periods alarm, one does not.
#[test]
fn datapoints_to_alarm_counts_breaching_periods() {
    let mut spec = heartbeat_alarm();
    spec.statistic = Statistic::Maximum;
    spec.comparison = Comparison::GreaterThanThreshold;
    spec.threshold = 5.0;
    spec.datapoints_to_alarm = 2;
    spec.treat_missing = Missing::NotBreaching;
    let pts: VecDeque<(i64, f64)> = [(1_000, 9.0), (11_000, 1.0), (21_000, 9.0)].into_iter().collect();
    assert_eq!(
        evaluate(&spec, Some(&pts), 30_000).map(|s| s.0),
        Some(AlarmState::Alarm)
    );
    let pts: VecDeque<(i64, f64)> = [(1_000, 9.0), (11_000, 1.0), (21_000, 2.0)].into_iter().collect();
    assert_eq!(evaluate(&spec, Some(&pts), 30_000).map(|s| s.0), Some(AlarmState::Ok));
}

/// PutMetricAlarm's documented limits: periods of 10, 20, 30 s or multiples of 60 (a
/// fast stack may allow shorter ones), at most a day of evaluation range, and
/// DatapointsToAlarm within EvaluationPeriods; DeleteAlarms deletes nothing when one
/// name is unknown.
#[test]
fn put_metric_alarm_limits_and_delete_all_or_nothing() {
    let cw = CloudWatch::new("us-east-1", "000000000000", false);
    let mut spec = heartbeat_alarm();
    spec.period_s = 5;
    assert!(
        matches!(cw.put_metric_alarm(spec.clone()), Err(CloudWatchError::InvalidParameterValue(m)) if m.contains("Period"))
    );
    spec.period_s = 90;
    assert!(cw.put_metric_alarm(spec.clone()).is_err());
    spec.period_s = 60;
    spec.evaluation_periods = 1441;
    spec.datapoints_to_alarm = 1;
    assert!(
        matches!(cw.put_metric_alarm(spec.clone()), Err(CloudWatchError::InvalidParameterValue(m)) if m.contains("86400"))
    );
    spec.evaluation_periods = 2;
    spec.datapoints_to_alarm = 3;
    assert!(matches!(
        cw.put_metric_alarm(spec.clone()),
        Err(CloudWatchError::InvalidParameterCombination(_))
    ));
    spec.datapoints_to_alarm = 2;
    cw.put_metric_alarm(spec.clone()).expect("valid");
    let fast = CloudWatch::new("us-east-1", "000000000000", true);
    spec.period_s = 1;
    fast.put_metric_alarm(spec.clone()).expect("short periods allowed");
    assert_eq!(
        cw.describe_alarms(&[], Some("h"), None)[0].state,
        AlarmState::InsufficientData
    );
    assert!(cw.delete_alarms(&["hb".into(), "nope".into()]).is_err());
    assert_eq!(cw.describe_alarms(&[], None, None).len(), 1, "nothing deleted");
    cw.delete_alarms(&["hb".into()]).expect("deleted");
    assert!(cw.describe_alarms(&[], None, None).is_empty());
}
