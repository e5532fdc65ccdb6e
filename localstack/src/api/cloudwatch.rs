//! CloudWatch over Smithy RPC v2 CBOR, the protocol the AWS SDKs speak to it: `POST
//! /service/GraniteServiceVersion20100801/operation/{Operation}` with a CBOR map body,
//! answered with a CBOR map (`smithy-protocol: rpc-v2-cbor`); timestamps are tag 1 (epoch
//! seconds). Errors carry `__type` and `message` in the body and, because CloudWatch is
//! awsQuery-compatible, `x-amzn-query-error: Code;Sender`
//! (<https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html>).
//!
//! Operations: PutMetricData, PutMetricAlarm, DescribeAlarms, DeleteAlarms.

use ciborium::Value;
use http::StatusCode;

use super::{ApiRequest, ApiResponse, Services};
use crate::cloudwatch::{AlarmSpec, AlarmState, CloudWatchError, Comparison, MetricKey, Missing, Statistic};
use crate::truth::now_unix_ms;

/// The path prefix of every CloudWatch operation.
pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
/// The content type of requests and answers.
pub const CONTENT_TYPE: &str = "application/cbor";

/// Answers one CloudWatch request.
pub fn handle(services: &Services, req: &ApiRequest) -> ApiResponse {
    let Some(op) = req.path.strip_prefix(PATH_PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "not a CloudWatch operation path",
        );
    };
    let input = match decode(&req.body) {
        Ok(v) => v,
        Err(m) => return error(StatusCode::BAD_REQUEST, "SerializationException", &m),
    };
    let cw = &services.cloudwatch;
    let result = match op {
        "PutMetricData" => put_metric_data(&input).map(|data| {
            cw.put_metric_data(data);
            Vec::new()
        }),
        "PutMetricAlarm" => alarm_spec(&input).and_then(|spec| cw.put_metric_alarm(spec).map(|()| Vec::new())),
        "DescribeAlarms" => describe_alarms(cw, &input),
        "DeleteAlarms" => strings(&input, "AlarmNames").and_then(|names| cw.delete_alarms(&names).map(|()| Vec::new())),
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                &format!("operation {other} is not served by the local stack's CloudWatch"),
            )
        }
    };
    match result {
        Ok(fields) => ok(Value::Map(fields)),
        Err(e) => {
            let status = match e {
                CloudWatchError::ResourceNotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            error(status, e.code(), &e.to_string())
        }
    }
}

fn ok(v: Value) -> ApiResponse {
    let mut body = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(&v, &mut body);
    ApiResponse {
        status: StatusCode::OK,
        content_type: CONTENT_TYPE,
        error_type: None,
        body,
    }
}

/// An error answer: `__type` and `message` in the body, `code;Sender` for the
/// `x-amzn-query-error` header (carried in `error_type`, see [`super::ApiResponse`]).
pub fn error(status: StatusCode, code: &str, message: &str) -> ApiResponse {
    let v = Value::Map(vec![
        (text("__type"), text(&format!("com.amazonaws.cloudwatch#{code}"))),
        (text("message"), text(message)),
    ]);
    let mut body = Vec::new();
    let _ = ciborium::into_writer(&v, &mut body);
    ApiResponse {
        status,
        content_type: CONTENT_TYPE,
        error_type: Some(format!("{code};Sender")),
        body,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// A timestamp: tag 1 around epoch seconds.
fn timestamp(unix_ms: i64) -> Value {
    Value::Tag(1, Box::new(Value::Float(unix_ms as f64 / 1000.0)))
}

/// The request body as a CBOR map (an empty body is an empty input).
fn decode(body: &[u8]) -> Result<Vec<(Value, Value)>, String> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    match ciborium::from_reader::<Value, _>(body) {
        Ok(Value::Map(m)) => Ok(m),
        Ok(other) => Err(format!("the request body must be a CBOR map, not {other:?}")),
        Err(e) => Err(format!("the request body is not CBOR: {e}")),
    }
}

fn field<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn missing(key: &str) -> CloudWatchError {
    CloudWatchError::MissingParameter(format!("The parameter {key} is required."))
}

fn invalid(key: &str, what: &str) -> CloudWatchError {
    CloudWatchError::InvalidParameterValue(format!("The parameter {key} must be {what}."))
}

fn req_str(map: &[(Value, Value)], key: &str) -> Result<String, CloudWatchError> {
    opt_str(map, key)?.ok_or_else(|| missing(key))
}

fn opt_str(map: &[(Value, Value)], key: &str) -> Result<Option<String>, CloudWatchError> {
    field(map, key)
        .map(|v| v.as_text().map(str::to_string).ok_or_else(|| invalid(key, "a string")))
        .transpose()
}

fn opt_uint(map: &[(Value, Value)], key: &str) -> Result<Option<u64>, CloudWatchError> {
    field(map, key)
        .map(|v| {
            v.as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| invalid(key, "a whole number of 0 or more"))
        })
        .transpose()
}

fn opt_f64(map: &[(Value, Value)], key: &str) -> Result<Option<f64>, CloudWatchError> {
    field(map, key)
        .map(|v| {
            v.as_float()
                .or_else(|| v.as_integer().and_then(|i| i64::try_from(i).ok()).map(|i| i as f64))
                .filter(|f| f.is_finite())
                .ok_or_else(|| invalid(key, "a finite number"))
        })
        .transpose()
}

fn list<'a>(map: &'a [(Value, Value)], key: &str) -> Result<&'a [Value], CloudWatchError> {
    match field(map, key) {
        None => Ok(&[]),
        Some(v) => v.as_array().map(Vec::as_slice).ok_or_else(|| invalid(key, "a list")),
    }
}

fn strings(map: &[(Value, Value)], key: &str) -> Result<Vec<String>, CloudWatchError> {
    list(map, key)?
        .iter()
        .map(|v| {
            v.as_text()
                .map(str::to_string)
                .ok_or_else(|| invalid(key, "a list of strings"))
        })
        .collect()
}

fn as_map<'a>(v: &'a Value, key: &str) -> Result<&'a [(Value, Value)], CloudWatchError> {
    v.as_map()
        .map(Vec::as_slice)
        .ok_or_else(|| invalid(key, "a list of structures"))
}

/// Dimensions `[{Name, Value}]`, sorted by name.
fn dimensions(map: &[(Value, Value)]) -> Result<Vec<(String, String)>, CloudWatchError> {
    let mut dims = list(map, "Dimensions")?
        .iter()
        .map(|d| {
            let d = as_map(d, "Dimensions")?;
            Ok((req_str(d, "Name")?, req_str(d, "Value")?))
        })
        .collect::<Result<Vec<_>, CloudWatchError>>()?;
    dims.sort();
    Ok(dims)
}

/// PutMetricData's datapoints: `(metric, unix ms, values)` — `Value`, or `Values` with
/// `Counts` (each value repeated its count).
fn put_metric_data(input: &[(Value, Value)]) -> Result<Vec<(MetricKey, i64, Vec<f64>)>, CloudWatchError> {
    let namespace = req_str(input, "Namespace")?;
    let data = list(input, "MetricData")?;
    if data.is_empty() {
        return Err(missing("MetricData"));
    }
    data.iter()
        .map(|d| {
            let d = as_map(d, "MetricData")?;
            let key = MetricKey {
                namespace: namespace.clone(),
                name: req_str(d, "MetricName")?,
                dimensions: dimensions(d)?,
            };
            let t = match field(d, "Timestamp") {
                None => now_unix_ms(),
                Some(Value::Tag(1, inner)) => {
                    let secs = inner
                        .as_float()
                        .or_else(|| inner.as_integer().and_then(|i| i64::try_from(i).ok()).map(|i| i as f64))
                        .ok_or_else(|| invalid("Timestamp", "a timestamp"))?;
                    (secs * 1000.0) as i64
                }
                Some(_) => return Err(invalid("Timestamp", "a timestamp")),
            };
            let values =
                match (opt_f64(d, "Value")?, field(d, "Values")) {
                    (Some(v), None) => vec![v],
                    (None, Some(_)) => {
                        let values = list(d, "Values")?;
                        let counts = list(d, "Counts")?;
                        let mut out = Vec::new();
                        for (i, v) in values.iter().enumerate() {
                            let v = v.as_float().ok_or_else(|| invalid("Values", "a list of numbers"))?;
                            let n = counts.get(i).and_then(Value::as_float).unwrap_or(1.0).max(0.0) as usize;
                            out.extend(std::iter::repeat_n(v, n));
                        }
                        out
                    }
                    (Some(_), Some(_)) => return Err(CloudWatchError::InvalidParameterCombination(
                        "The parameters MetricData.member.Value and MetricData.member.Values are mutually exclusive"
                            .into(),
                    )),
                    (None, None) => return Err(missing("MetricData.member.Value")),
                };
            Ok((key, t, values))
        })
        .collect()
}

/// PutMetricAlarm's definition of a single-metric alarm.
fn alarm_spec(input: &[(Value, Value)]) -> Result<AlarmSpec, CloudWatchError> {
    let statistic_name = req_str(input, "Statistic")?;
    let statistic = Statistic::parse(&statistic_name)
        .ok_or_else(|| invalid("Statistic", "one of SampleCount, Average, Sum, Minimum, Maximum"))?;
    let comparison_name = req_str(input, "ComparisonOperator")?;
    let comparison = Comparison::parse(&comparison_name).ok_or_else(|| {
        invalid(
            "ComparisonOperator",
            "one of GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold",
        )
    })?;
    let treat_missing = match opt_str(input, "TreatMissingData")? {
        None => Missing::Missing,
        Some(m) => Missing::parse(&m)
            .ok_or_else(|| invalid("TreatMissingData", "one of breaching, notBreaching, ignore, missing"))?,
    };
    let evaluation_periods = opt_uint(input, "EvaluationPeriods")?.ok_or_else(|| missing("EvaluationPeriods"))?;
    let tags = list(input, "Tags")?
        .iter()
        .map(|t| {
            let t = as_map(t, "Tags")?;
            Ok((req_str(t, "Key")?, req_str(t, "Value")?))
        })
        .collect::<Result<Vec<_>, CloudWatchError>>()?;
    Ok(AlarmSpec {
        name: req_str(input, "AlarmName")?,
        description: opt_str(input, "AlarmDescription")?,
        metric: MetricKey {
            namespace: req_str(input, "Namespace")?,
            name: req_str(input, "MetricName")?,
            dimensions: dimensions(input)?,
        },
        statistic,
        period_s: opt_uint(input, "Period")?.ok_or_else(|| missing("Period"))?,
        evaluation_periods,
        datapoints_to_alarm: opt_uint(input, "DatapointsToAlarm")?.unwrap_or(evaluation_periods),
        threshold: opt_f64(input, "Threshold")?.ok_or_else(|| missing("Threshold"))?,
        comparison,
        treat_missing,
        tags,
    })
}

/// DescribeAlarms: `MetricAlarms` (and an empty `CompositeAlarms`).
fn describe_alarms(
    cw: &crate::cloudwatch::CloudWatch,
    input: &[(Value, Value)],
) -> Result<Vec<(Value, Value)>, CloudWatchError> {
    let names = strings(input, "AlarmNames")?;
    let prefix = opt_str(input, "AlarmNamePrefix")?;
    if !names.is_empty() && prefix.is_some() {
        return Err(CloudWatchError::InvalidParameterCombination(
            "AlarmNames and AlarmNamePrefix cannot be used together".into(),
        ));
    }
    let state = match opt_str(input, "StateValue")? {
        None => None,
        Some(s) => {
            Some(AlarmState::parse(&s).ok_or_else(|| invalid("StateValue", "one of OK, ALARM, INSUFFICIENT_DATA"))?)
        }
    };
    let alarms = cw
        .describe_alarms(&names, prefix.as_deref(), state)
        .into_iter()
        .map(|a| {
            let dims = a
                .spec
                .metric
                .dimensions
                .iter()
                .map(|(n, v)| Value::Map(vec![(text("Name"), text(n)), (text("Value"), text(v))]))
                .collect();
            let mut m = vec![
                (text("AlarmName"), text(&a.spec.name)),
                (text("AlarmArn"), text(&a.arn)),
                (
                    text("AlarmConfigurationUpdatedTimestamp"),
                    timestamp(a.configuration_updated_ms),
                ),
                (text("ActionsEnabled"), Value::Bool(true)),
                (text("OKActions"), Value::Array(Vec::new())),
                (text("AlarmActions"), Value::Array(Vec::new())),
                (text("InsufficientDataActions"), Value::Array(Vec::new())),
                (text("StateValue"), text(a.state.as_str())),
                (text("StateReason"), text(&a.reason)),
                (text("StateUpdatedTimestamp"), timestamp(a.state_updated_ms)),
                (text("StateTransitionedTimestamp"), timestamp(a.state_updated_ms)),
                (text("MetricName"), text(&a.spec.metric.name)),
                (text("Namespace"), text(&a.spec.metric.namespace)),
                (text("Statistic"), text(a.spec.statistic.as_str())),
                (text("Dimensions"), Value::Array(dims)),
                (text("Period"), Value::Integer(a.spec.period_s.into())),
                (
                    text("EvaluationPeriods"),
                    Value::Integer(a.spec.evaluation_periods.into()),
                ),
                (
                    text("DatapointsToAlarm"),
                    Value::Integer(a.spec.datapoints_to_alarm.into()),
                ),
                (text("Threshold"), Value::Float(a.spec.threshold)),
                (text("ComparisonOperator"), text(a.spec.comparison.as_str())),
                (text("TreatMissingData"), text(a.spec.treat_missing.as_str())),
            ];
            if let Some(d) = &a.spec.description {
                m.push((text("AlarmDescription"), text(d)));
            }
            Value::Map(m)
        })
        .collect();
    Ok(vec![
        (text("MetricAlarms"), Value::Array(alarms)),
        (text("CompositeAlarms"), Value::Array(Vec::new())),
    ])
}
