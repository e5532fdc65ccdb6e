//! The dead man's switch: a fault that ends itself when the harness stops being alive.
//!
//! Before the experiment starts, drdrill publishes a heartbeat (CloudWatch
//! `PutMetricData`, metric `drdrill/Heartbeat` with the run's id as its `RunId`
//! dimension), creates an alarm on it — `SampleCount < 1` in each of the last
//! `fires_after / heartbeat_every` periods, missing data treated as breaching — and makes
//! that alarm a stop condition of the template it creates. A task then publishes a
//! heartbeat every `heartbeat_every`. If the harness is killed, hangs or loses its
//! network, the heartbeats stop, the alarm fires after `fires_after` of silence (CloudWatch
//! evaluates it once per period), and FIS stops the experiment by itself
//! (<https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html>). After the
//! run the alarm is deleted, and `drdrill cleanup` deletes any a killed run left.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StandardUnit, Statistic, Tag};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::aws::{describe_error, Clients};
use crate::journal::{EventKind, Journal};
use crate::scenario::DeadManSwitch;

/// The heartbeat's namespace.
pub const NAMESPACE: &str = "drdrill";
/// The heartbeat's metric name.
pub const METRIC: &str = "Heartbeat";
/// The dimension naming the run.
pub const DIMENSION: &str = "RunId";
/// Every switch alarm's name starts so (then the run id).
pub const ALARM_PREFIX: &str = "drdrill-heartbeat-";

/// Longest time one CloudWatch call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A CloudWatch call of the switch failed.
#[derive(Debug, thiserror::Error)]
#[error("dead man's switch: {call}: {message}")]
pub struct SwitchError {
    /// The call.
    pub call: &'static str,
    /// Why.
    pub message: String,
}

fn err(call: &'static str, message: impl Into<String>) -> SwitchError {
    SwitchError {
        call,
        message: message.into(),
    }
}

/// The alarm name of run `run_id`.
pub fn alarm_name(run_id: &str) -> String {
    format!("{ALARM_PREFIX}{run_id}")
}

/// An armed switch: the alarm exists and the heartbeat is being published.
pub struct Switch {
    /// The alarm's name.
    pub alarm_name: String,
    /// The alarm's ARN, the template's stop condition.
    pub alarm_arn: String,
    /// How long a silence fires it.
    pub fires_after: Duration,
    /// Its period.
    pub period: Duration,
    stop: CancellationToken,
    publisher: JoinHandle<()>,
}

/// Publishes one heartbeat.
async fn beat(clients: &Clients, run_id: &str, period: Duration) -> Result<(), SwitchError> {
    const CALL: &str = "PutMetricData";
    let dimension = Dimension::builder().name(DIMENSION).value(run_id).build();
    let mut datum = MetricDatum::builder()
        .metric_name(METRIC)
        .dimensions(dimension)
        .value(1.0)
        .unit(StandardUnit::Count);
    if period < Duration::from_secs(60) {
        // Periods under a minute need a high-resolution metric.
        datum = datum.storage_resolution(1);
    }
    let call = clients
        .cloudwatch
        .put_metric_data()
        .namespace(NAMESPACE)
        .metric_data(datum.build())
        .send();
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Err(_) => Err(err(CALL, format!("no answer within {} s", CALL_TIMEOUT.as_secs()))),
        Ok(Err(e)) => Err(err(CALL, describe_error(&e))),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Arms the switch for run `run_id`: publishes the first heartbeat, creates the alarm
/// (tagged with the run), reads its ARN back, and starts publishing every period.
/// Heartbeats that fail are journaled (the alarm may then fire: that is the point).
pub async fn arm(
    clients: &Clients,
    run_id: &str,
    settings: &DeadManSwitch,
    journal: &Journal,
) -> Result<Switch, SwitchError> {
    let period = settings.heartbeat_every.get();
    let fires_after = settings.fires_after.get();
    let periods = (fires_after.as_secs() / period.as_secs().max(1)).max(1) as i32;
    beat(clients, run_id, period).await?;
    let name = alarm_name(run_id);
    let put = clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&name)
        .alarm_description(format!(
            "drdrill dead man's switch of run {run_id}: fires after {} s without a heartbeat, and stops the run's FIS experiment",
            fires_after.as_secs()
        ))
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .dimensions(Dimension::builder().name(DIMENSION).value(run_id).build())
        .statistic(Statistic::SampleCount)
        .period(period.as_secs() as i32)
        .evaluation_periods(periods)
        .datapoints_to_alarm(periods)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .treat_missing_data("breaching")
        .tags(Tag::builder().key(crate::fault::RUN_TAG).value(run_id).build())
        .send();
    match tokio::time::timeout(CALL_TIMEOUT, put).await {
        Err(_) => return Err(err("PutMetricAlarm", "no answer within 10 s")),
        Ok(Err(e)) => return Err(err("PutMetricAlarm", describe_error(&e))),
        Ok(Ok(_)) => {}
    }
    let described = clients.cloudwatch.describe_alarms().alarm_names(&name).send();
    let arn = match tokio::time::timeout(CALL_TIMEOUT, described).await {
        Err(_) => return Err(err("DescribeAlarms", "no answer within 10 s")),
        Ok(Err(e)) => return Err(err("DescribeAlarms", describe_error(&e))),
        Ok(Ok(out)) => out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name.as_str()))
            .and_then(|a| a.alarm_arn())
            .map(str::to_string)
            .ok_or_else(|| err("DescribeAlarms", format!("alarm {name} was created but is not listed")))?,
    };
    journal.record(EventKind::Note {
        message: format!(
            "dead man's switch armed: heartbeat every {} s; alarm {arn} stops the experiment after {} s of silence",
            period.as_secs(),
            fires_after.as_secs()
        ),
    });
    let stop = CancellationToken::new();
    let publisher = tokio::spawn(publish(
        clients.clone(),
        run_id.to_string(),
        period,
        journal.clone(),
        stop.clone(),
    ));
    Ok(Switch {
        alarm_name: name,
        alarm_arn: arn,
        fires_after,
        period,
        stop,
        publisher,
    })
}

/// Publishes a heartbeat every `period` until `stop`; journals the first failure of a
/// stretch and the recovery.
async fn publish(clients: Clients, run_id: String, period: Duration, journal: Journal, stop: CancellationToken) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the first beat went out with arming
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match beat(&clients, &run_id, period).await {
            Ok(()) if failing => {
                failing = false;
                journal.record(EventKind::Note {
                    message: "dead man's switch: heartbeats are published again".into(),
                });
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                journal.record(EventKind::Note {
                    message: format!("{e}; the alarm fires if this lasts"),
                });
            }
            Err(_) => {}
        }
    }
}

impl Switch {
    /// The stop condition to add to the run's template.
    pub fn stop_condition(&self) -> Value {
        json!({"source": "aws:cloudwatch:alarm", "value": self.alarm_arn})
    }

    /// Stops the heartbeat and deletes the alarm (after the experiment has ended).
    pub async fn disarm(self, clients: &Clients, journal: &Journal) {
        self.stop.cancel();
        let _ = self.publisher.await;
        let call = clients.cloudwatch.delete_alarms().alarm_names(&self.alarm_name).send();
        let message = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(_)) => format!("dead man's switch disarmed: alarm {} deleted", self.alarm_name),
            Ok(Err(e)) => format!(
                "dead man's switch: could not delete alarm {}: {}; `drdrill cleanup` deletes it",
                self.alarm_name,
                describe_error(&e)
            ),
            Err(_) => format!(
                "dead man's switch: DeleteAlarms for {} got no answer; `drdrill cleanup` deletes it",
                self.alarm_name
            ),
        };
        journal.record(EventKind::Note { message });
    }
}

/// Adds `switch`'s stop condition to a template (replacing a `none` stop condition, which
/// FIS accepts only alone).
pub fn with_stop_condition(template: &Value, switch: &Switch) -> Value {
    let mut t = template.clone();
    let mut conditions: Vec<Value> = t
        .get("stopConditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.get("source").and_then(Value::as_str) != Some("none"))
        .collect();
    conditions.push(switch.stop_condition());
    if let Some(obj) = t.as_object_mut() {
        obj.insert("stopConditions".into(), Value::Array(conditions));
    }
    t
}

/// The switch alarms that exist (`drdrill cleanup` deletes those of runs that are over).
pub async fn list_alarms(clients: &Clients) -> Result<Vec<String>, SwitchError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let call = clients
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(ALARM_PREFIX)
            .set_next_token(token.clone())
            .send();
        let out = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => return Err(err("DescribeAlarms", "no answer within 10 s")),
            Ok(Err(e)) => return Err(err("DescribeAlarms", describe_error(&e))),
            Ok(Ok(out)) => out,
        };
        names.extend(
            out.metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name().map(str::to_string)),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// Deletes these switch alarms.
pub async fn delete_alarms(clients: &Clients, names: &[String]) -> Result<(), SwitchError> {
    for chunk in names.chunks(100) {
        let call = clients
            .cloudwatch
            .delete_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .send();
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => return Err(err("DeleteAlarms", "no answer within 10 s")),
            Ok(Err(e)) => return Err(err("DeleteAlarms", describe_error(&e))),
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch(arn: &str) -> Switch {
        Switch {
            alarm_name: "a".into(),
            alarm_arn: arn.into(),
            fires_after: Duration::from_secs(30),
            period: Duration::from_secs(10),
            stop: CancellationToken::new(),
            publisher: tokio::spawn(async {}),
        }
    }

    /// The switch's stop condition joins the template's own and replaces `none` (FIS
    /// accepts `none` only alone).
    #[tokio::test]
    async fn stop_condition_joins_or_replaces_none() {
        let s = switch("arn:aws:cloudwatch:us-east-1:1:alarm:a");
        let t = with_stop_condition(&json!({"stopConditions": [{"source": "none"}]}), &s);
        assert_eq!(
            t["stopConditions"],
            json!([{"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:us-east-1:1:alarm:a"}])
        );
        let own = json!({"source": "aws:cloudwatch:alarm", "value": "arn:x"});
        let t = with_stop_condition(&json!({"stopConditions": [own.clone()]}), &s);
        assert_eq!(t["stopConditions"].as_array().map(Vec::len), Some(2));
        assert_eq!(t["stopConditions"][0], own);
        let t = with_stop_condition(&json!({"actions": {}}), &s);
        assert_eq!(t["stopConditions"].as_array().map(Vec::len), Some(1));
    }
}
