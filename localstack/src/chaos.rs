//! Faults in the stand-in's own API, controlled at run time in the shape LocalStack
//! documents for its Chaos API
//! (<https://docs.localstack.cloud/user-guide/chaos-engineering/chaos-api/>), so that a
//! test can make FIS, ELBv2, EC2, RDS, Route 53 or CloudWatch throttle, fail with 5xx or
//! answer slowly while a drill runs.
//!
//! - **Service faults**, `/_localstack/chaos/faults`: a list of rules, each matching by
//!   `service`, `region` and `operation` (an omitted key matches everything) and firing
//!   with `probability` (default 1); on every request the rules are tried in order and
//!   the first that matches and fires answers it with its `error` (`statusCode`, `code`;
//!   default 503 `ServiceUnavailable`) in the service's own error shape. `GET` lists the
//!   rules, `POST` replaces them, `PATCH` appends, `DELETE` removes the rules given.
//! - **Network effects**, `/_localstack/chaos/effects`: `{"latency": ms}` delays every
//!   AWS API answer by that long. `GET` shows it, `POST` sets it.
//!
//! Services are named as LocalStack names them (botocore's names: `elbv2`, `cloudwatch`)
//! or by their SigV4 signing name (`elasticloadbalancing`, `monitoring`).
//!
//! Pure state apart from the random draw: the endpoint ([`crate::api`]) asks
//! [`Chaos::fault_for`] before quotas and services see a request.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The names a rule may give a service, with the SigV4 signing name each stands for.
pub const SERVICE_NAMES: &[(&str, &str)] = &[
    ("fis", "fis"),
    ("elbv2", "elasticloadbalancing"),
    ("elasticloadbalancing", "elasticloadbalancing"),
    ("ec2", "ec2"),
    ("rds", "rds"),
    ("route53", "route53"),
    ("cloudwatch", "monitoring"),
    ("monitoring", "monitoring"),
    ("sts", "sts"),
    ("backup", "backup"),
    ("resourcegroupstaggingapi", "tagging"),
    ("tagging", "tagging"),
];

/// One service-fault rule, as the Chaos API's JSON carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The service (see [`SERVICE_NAMES`]); every service when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The region; every region when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The operation as AWS names it (`DescribeTargetHealth`); every operation when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The chance that a matching request is failed, 0 to 1; 1 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The error answered; 503 `ServiceUnavailable` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FaultError>,
}

/// The error a rule answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultError {
    /// The HTTP status; 503 when omitted.
    #[serde(rename = "statusCode", default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The AWS error code; `ServiceUnavailable` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Network effects on every AWS API answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Effects {
    /// Delay before every answer, in milliseconds.
    #[serde(default)]
    pub latency: u64,
}

/// A request's failure chosen by a rule: HTTP status and AWS error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// The HTTP status.
    pub status: u16,
    /// The AWS error code.
    pub code: String,
}

/// Why a Chaos API document was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ChaosError {
    /// The body is not the JSON the endpoint takes.
    #[error("chaos: the body is not a valid {what}: {reason}")]
    Malformed {
        /// `list of fault rules` or `effects object`.
        what: &'static str,
        /// serde's words, with the position.
        reason: String,
    },
    /// A rule names a service the stand-in does not serve.
    #[error("chaos: rule {index}: unknown service {service:?}; expected one of {known}")]
    UnknownService {
        /// The rule's position in the list, from 0.
        index: usize,
        /// The name given.
        service: String,
        /// The names accepted.
        known: String,
    },
    /// A probability outside 0..=1.
    #[error("chaos: rule {index}: probability {probability} must be between 0 and 1")]
    Probability {
        /// The rule's position in the list, from 0.
        index: usize,
        /// The value given.
        probability: f64,
    },
    /// An error status that is not an HTTP error (4xx or 5xx).
    #[error("chaos: rule {index}: error.statusCode {status} must be an HTTP error status (400 to 599)")]
    Status {
        /// The rule's position in the list, from 0.
        index: usize,
        /// The value given.
        status: u16,
    },
}

/// The Chaos API's state: the rules and effects in force.
#[derive(Debug, Default)]
pub struct Chaos {
    rules: Mutex<Vec<FaultRule>>,
    effects: Mutex<Effects>,
}

impl Chaos {
    /// No rules, no effects.
    pub fn new() -> Chaos {
        Chaos::default()
    }

    /// The rules in force, in order.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the rules (`POST`).
    pub fn set_rules(&self, rules: Vec<FaultRule>) {
        *self.rules.lock().unwrap_or_else(|p| p.into_inner()) = rules;
    }

    /// Appends rules (`PATCH`).
    pub fn add_rules(&self, rules: Vec<FaultRule>) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).extend(rules);
    }

    /// Removes every rule equal to one of `rules` (`DELETE`).
    pub fn remove_rules(&self, rules: &[FaultRule]) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| !rules.contains(r));
    }

    /// The effects in force.
    pub fn effects(&self) -> Effects {
        self.effects.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets the effects (`POST`).
    pub fn set_effects(&self, effects: Effects) {
        *self.effects.lock().unwrap_or_else(|p| p.into_inner()) = effects;
    }

    /// How long to hold every answer now.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.effects.lock().unwrap_or_else(|p| p.into_inner()).latency)
    }

    /// The failure for a request to `service` (signing name) in `region` calling
    /// `operation`, if the first matching rule fires.
    pub fn fault_for(&self, service: &str, region: &str, operation: Option<&str>) -> Option<Injected> {
        let rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let rule = rules.iter().find(|r| r.matches(service, region, operation))?;
        let p = rule.probability.unwrap_or(1.0);
        if p < 1.0 && rand::rng().random::<f64>() >= p {
            return None;
        }
        let e = rule.error.as_ref();
        Some(Injected {
            status: e.and_then(|e| e.status_code).unwrap_or(503),
            code: e
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| "ServiceUnavailable".to_string()),
        })
    }
}

impl FaultRule {
    /// Whether the rule names this request (an omitted key names everything).
    fn matches(&self, service: &str, region: &str, operation: Option<&str>) -> bool {
        let service_ok = self.service.as_deref().is_none_or(|s| signing_name(s) == Some(service));
        let region_ok = self.region.as_deref().is_none_or(|r| r == region);
        let operation_ok = self.operation.as_deref().is_none_or(|o| Some(o) == operation);
        service_ok && region_ok && operation_ok
    }
}

/// The SigV4 signing name a rule's service name stands for.
pub fn signing_name(name: &str) -> Option<&'static str> {
    SERVICE_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| *s)
}

/// Parses and checks a list of rules (the body of `POST`, `PATCH`, `DELETE`).
pub fn parse_rules(body: &[u8]) -> Result<Vec<FaultRule>, ChaosError> {
    let rules: Vec<FaultRule> = serde_json::from_slice(body).map_err(|e| ChaosError::Malformed {
        what: "list of fault rules",
        reason: e.to_string(),
    })?;
    for (index, r) in rules.iter().enumerate() {
        if let Some(s) = &r.service {
            if signing_name(s).is_none() {
                let mut known: Vec<&str> = SERVICE_NAMES.iter().map(|(n, _)| *n).collect();
                known.dedup();
                return Err(ChaosError::UnknownService {
                    index,
                    service: s.clone(),
                    known: known.join(", "),
                });
            }
        }
        if let Some(p) = r.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(ChaosError::Probability { index, probability: p });
            }
        }
        if let Some(status) = r.error.as_ref().and_then(|e| e.status_code) {
            if !(400..=599).contains(&status) {
                return Err(ChaosError::Status { index, status });
            }
        }
    }
    Ok(rules)
}

/// Parses an effects object (the body of `POST /_localstack/chaos/effects`).
pub fn parse_effects(body: &[u8]) -> Result<Effects, ChaosError> {
    serde_json::from_slice(body).map_err(|e| ChaosError::Malformed {
        what: "effects object",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<FaultRule> {
        parse_rules(json.as_bytes()).unwrap()
    }

    /// The first matching rule answers; omitted keys match everything; botocore's names
    /// and signing names both work; defaults are 503 ServiceUnavailable.
    #[test]
    fn first_matching_rule_answers() {
        let c = Chaos::new();
        c.set_rules(rules(
            r#"[{"service":"elbv2","operation":"DescribeTargetHealth","error":{"statusCode":400,"code":"Throttling"}},
                {"service":"fis","region":"eu-west-1"},
                {"service":"cloudwatch"}]"#,
        ));
        let t = c.fault_for("elasticloadbalancing", "us-east-1", Some("DescribeTargetHealth"));
        assert_eq!(
            t,
            Some(Injected {
                status: 400,
                code: "Throttling".into()
            })
        );
        assert_eq!(
            c.fault_for("elasticloadbalancing", "us-east-1", Some("DescribeTargetGroups")),
            None
        );
        assert_eq!(c.fault_for("fis", "us-east-1", Some("GetExperiment")), None);
        let f = c.fault_for("fis", "eu-west-1", Some("GetExperiment")).unwrap();
        assert_eq!((f.status, f.code.as_str()), (503, "ServiceUnavailable"));
        assert!(c.fault_for("monitoring", "us-east-1", Some("PutMetricData")).is_some());
        assert_eq!(c.fault_for("ec2", "us-east-1", Some("DescribeInstances")), None);
        c.set_rules(rules("[{}]"));
        assert!(c.fault_for("route53", "us-east-1", None).is_some());
        c.set_rules(vec![]);
        assert_eq!(c.fault_for("route53", "us-east-1", None), None);
    }

    /// PATCH appends, DELETE removes exactly the rules given.
    #[test]
    fn patch_appends_and_delete_removes() {
        let c = Chaos::new();
        c.set_rules(rules(r#"[{"service":"ec2"}]"#));
        c.add_rules(rules(r#"[{"service":"rds","probability":0.5}]"#));
        assert_eq!(c.rules().len(), 2);
        c.remove_rules(&rules(r#"[{"service":"ec2"}]"#));
        assert_eq!(c.rules(), rules(r#"[{"service":"rds","probability":0.5}]"#));
    }

    /// A probability fires about that share of requests (10,000 draws at 0.3: the share is
    /// within 5 standard deviations, ±0.023, of 0.3); 0 never fires.
    #[test]
    fn probability_is_honoured() {
        let c = Chaos::new();
        c.set_rules(rules(r#"[{"service":"fis","probability":0.3}]"#));
        let n = 10_000;
        let fired = (0..n).filter(|_| c.fault_for("fis", "r", None).is_some()).count();
        let share = fired as f64 / n as f64;
        assert!((share - 0.3).abs() < 0.023, "fired {share}");
        c.set_rules(rules(r#"[{"service":"fis","probability":0}]"#));
        assert!((0..1000).all(|_| c.fault_for("fis", "r", None).is_none()));
    }

    /// Bad documents are refused naming the rule and the key.
    #[test]
    fn bad_rules_are_refused() {
        let e = parse_rules(br#"[{}, {"service":"s3"}]"#).unwrap_err();
        assert!(e.to_string().contains("rule 1: unknown service \"s3\""), "{e}");
        let e = parse_rules(br#"[{"probability":1.5}]"#).unwrap_err();
        assert!(e.to_string().contains("rule 0: probability 1.5"), "{e}");
        let e = parse_rules(br#"[{"error":{"statusCode":200}}]"#).unwrap_err();
        assert!(e.to_string().contains("error.statusCode 200"), "{e}");
        let e = parse_rules(br#"[{"servce":"ec2"}]"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `servce`"), "{e}");
        let e = parse_effects(br#"{"latency":-1}"#).unwrap_err();
        assert!(matches!(e, ChaosError::Malformed { .. }), "{e}");
    }
}
